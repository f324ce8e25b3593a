//! The `clout.v1` gRPC API shared by `cloutd` and `clout`.
//!
//! Holds the generated messages and services, the encoded descriptor set for
//! server reflection, the default socket path and one `connect` helper.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

#[allow(clippy::all, clippy::unwrap_used)]
pub mod v1 {
    tonic::include_proto!("clout.v1");
}

/// Encoded `FileDescriptorSet` of `clout.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/clout_descriptor.bin"));

/// Bumped on every incompatible change of the API.
pub const PROTOCOL: u32 = 1;

/// The largest message either side accepts (requests are capped well below).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The default socket: `$XDG_RUNTIME_DIR/clout/cloutd.sock`, else a private
/// per-user directory under the system's temporary directory.
pub fn default_socket_path() -> PathBuf {
    runtime_dir().join("cloutd.sock")
}

/// The private directory that holds the socket by default.
pub fn runtime_dir() -> PathBuf {
    match dirs::runtime_dir() {
        Some(dir) => dir.join("clout"),
        None => std::env::temp_dir().join(format!("clout-{}", current_uid())),
    }
}

/// The real user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY-free: getuid cannot fail and has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::getuid()
    }
}

/// Converts a chrono instant into a protobuf timestamp.
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// Converts a protobuf timestamp into a chrono instant; `None` when out of range.
pub fn from_ts(t: &prost_types::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return None;
    }
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32)
}

/// Opens a channel to `cloutd` on a Unix socket. Fails fast (within
/// `timeout`) when nothing listens there.
pub async fn connect_unix(path: &Path, timeout: Duration) -> Result<Channel, tonic::transport::Error> {
    let path = path.to_path_buf();
    // The URI is never used for routing: the connector below opens the socket.
    // Its authority becomes the HTTP/2 `:authority`, which must be a host name.
    Endpoint::from_static("http://localhost")
        .connect_timeout(timeout)
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}
