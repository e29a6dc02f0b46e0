//! Generates Rust types from `proto/` with protox, a pure-Rust protobuf
//! compiler, so building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "vigil/v1/events.proto",
        "vigil/v1/outputs.proto",
        "vigil/v1/profiles.proto",
        "vigil/v1/state.proto",
    ];
    let fds = protox::compile(files, [&root])?;
    prost_build::Config::new().compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
