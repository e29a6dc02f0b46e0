//! Running the `vigil` binary as a user does, for the tests that drive the
//! command line.

use std::process::{Command, Output, Stdio};

/// Runs `vigil ARGS` with no input and returns its output; fails the test
/// (with the command's stderr) if it did not succeed.
pub fn vigil(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vigil {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
