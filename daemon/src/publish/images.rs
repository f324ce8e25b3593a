//! Images on posts: what each account takes, and the uploads of one
//! attempt. Every upload the server answers is kept at once
//! (`publication_media`), so an attempt cut off after its uploads reuses them
//! and only the post is sent again, with its own key.

use super::Failure;
use crate::Core;
use crate::media::{self, Image};
use crate::model::publication::{Claim, Upload};
use crate::model::{Account, Invalid, Network};

/// The largest image an account takes, in bytes.
pub fn image_limit(a: &Account) -> u64 {
    match a.network {
        Network::Bluesky => media::BLUESKY_IMAGE_BYTES,
        Network::Mastodon if a.image_size_limit > 0 => a.image_size_limit,
        Network::Mastodon => media::MASTODON_IMAGE_BYTES,
    }
}

/// Whether an account takes images of this type.
pub fn takes_type(a: &Account, mime: &str) -> bool {
    match a.network {
        Network::Mastodon if !a.image_types.is_empty() => a.image_types.iter().any(|t| t == mime),
        _ => media::IMAGE_TYPES.contains(&mime),
    }
}

/// The image types an account takes, of those cloutd knows.
pub fn known_types(a: &Account) -> Vec<&'static str> {
    media::IMAGE_TYPES.iter().copied().filter(|t| takes_type(a, t)).collect()
}

/// "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks every image against an account: its type and its size. The error
/// names the image and says what to do.
pub fn check_images_fit(a: &Account, images: &[Image]) -> Result<(), Invalid> {
    let net = match a.network {
        Network::Mastodon => "Mastodon",
        Network::Bluesky => "Bluesky",
    };
    for (n, img) in images.iter().enumerate() {
        let which = format!("image {} ({} on part {})", n + 1, img.mime, img.part + 1);
        if !takes_type(a, &img.mime) {
            return Err(Invalid::new(
                "images",
                format!(
                    "{which}: {net} account `{}` does not take {} images (it takes {}): convert it",
                    a.name,
                    img.mime,
                    known_types(a).join(", ")
                ),
            ));
        }
        let limit = image_limit(a);
        if img.bytes > limit {
            return Err(Invalid::new(
                "images",
                format!(
                    "{which} is {} bytes; {net} account `{}` takes images of at most {} bytes: make it smaller",
                    thousands(img.bytes),
                    a.name,
                    thousands(limit)
                ),
            ));
        }
    }
    Ok(())
}

/// A permanent failure about an image (nothing was sent for it).
fn image_failure(position: u32, idx: u32, why: impl std::fmt::Display) -> Failure {
    Failure::Permanent {
        http_status: 0,
        message: format!("image {} of part {} cannot be posted: {why}", idx + 1, position + 1),
    }
}

/// The uploads of one attempt at one publication.
pub struct Uploads<'a> {
    core: &'a Core,
    claim: &'a Claim,
}

impl<'a> Uploads<'a> {
    pub fn new(core: &'a Core, claim: &'a Claim) -> Uploads<'a> {
        Uploads { core, claim }
    }

    /// The images of part `position`, in order.
    pub fn of(&self, position: u32) -> Vec<&'a Image> {
        self.claim.images_of(position)
    }

    /// The bytes of an image, from cloutd's media directory (copied there
    /// first from the fleet's database when another daemon took it).
    pub async fn bytes(&self, position: u32, idx: u32, img: &Image) -> Result<Vec<u8>, Failure> {
        if let Err(e) = media::fetch(self.core, &img.sha256).await {
            return Err(Failure::Temporary {
                http_status: 0,
                message: format!("cannot read image {} of part {}: {e}", idx + 1, position + 1),
                after: None,
            });
        }
        let (m, sha, mime) = (self.core.media.clone(), img.sha256.clone(), img.mime.clone());
        tokio::task::spawn_blocking(move || m.read(&sha, &mime))
            .await
            .map_err(|e| image_failure(position, idx, e))?
            .map_err(|e| image_failure(position, idx, e))
    }

    /// What the server answered for this image in an earlier attempt.
    pub fn earlier(&self, position: u32, idx: u32, img: &Image) -> Option<String> {
        self.claim.upload(position, idx, &img.sha256).map(str::to_string)
    }

    /// Keeps what the server answered for an image, at once.
    pub async fn keep(&self, position: u32, idx: u32, img: &Image, remote: &str) -> Result<(), Failure> {
        let u = Upload { position, idx, sha256: img.sha256.clone(), remote: remote.to_string() };
        self.core.store.record_upload(self.claim.publication.id, &u, crate::clock::now()).await.map_err(|e| {
            Failure::Temporary {
                http_status: 0,
                message: format!("cannot record image {} of part {} as uploaded: {e}", idx + 1, position + 1),
                after: None,
            }
        })
    }

    /// Forgets an upload the server no longer has.
    pub async fn forget(&self, position: u32, idx: u32) {
        if let Err(e) = self.core.store.forget_upload(self.claim.publication.id, position, idx).await {
            tracing::warn!(error = %e, "cannot forget an image upload");
        }
    }
}

/// One field of a `multipart/form-data` body: its name, its file name and
/// type when it is a file, and its value.
pub type Field<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

/// A `multipart/form-data` body: its content type and bytes.
pub fn multipart(fields: &[Field<'_>]) -> (String, Vec<u8>) {
    let boundary = loop {
        let b = format!("clout-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let clash = fields.iter().any(|(_, _, v)| v.windows(b.len()).any(|w| w == b.as_bytes()));
        if !clash {
            break b;
        }
    };
    let mut body = Vec::new();
    for (name, file, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, kind)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {kind}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_bodies() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(16_777_216), "16,777,216");
        let (kind, body) =
            multipart(&[("file", Some(("a.png", "image/png")), b"PNG"), ("description", None, b"x")]);
        let boundary = kind.strip_prefix("multipart/form-data; boundary=").expect("boundary");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n")), "{text}");
        assert!(text.ends_with(&format!("name=\"description\"\r\n\r\nx\r\n--{boundary}--\r\n")), "{text}");
    }
}
