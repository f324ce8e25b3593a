use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "clout/v1/drafts.proto",
        "clout/v1/queue.proto",
        "clout/v1/nudges.proto",
        "clout/v1/daemon.proto",
        "clout/v1/program.proto",
        "clout/v1/tasks.proto",
        "clout/v1/review.proto",
        "clout/v1/sinks.proto",
        "clout/v1/accounts.proto",
        "clout/v1/study.proto",
    ];
    println!("cargo:rerun-if-changed=clout");
    let fds = protox::compile(files, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let encoded = prost::Message::encode_to_vec(&fds);
    std::fs::write(out.join("clout_descriptor.bin"), encoded)?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}
