//! vigil's protobuf messages, generated from `proto/vigil/v1/*.proto`.

/// Package `vigil.v1`.
#[allow(missing_docs, clippy::all, missing_debug_implementations)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/vigil.v1.rs"));
}
