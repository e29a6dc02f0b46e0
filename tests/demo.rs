//! `vigil demo`, the README's first command: it needs nothing installed and
//! shows the pipeline working end to end (events in, players banded, alerts
//! read back from the alerts topic).

use std::process::Command;

#[test]
fn the_demo_runs_end_to_end_with_nothing_installed() {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "demo",
            "--players",
            "400",
            "--days",
            "40",
            "--rate",
            "60000",
            "--duration",
            "25s",
            "--http",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{err}");
    assert!(err.contains("mock Kafka at"), "{err}");
    let summary = err
        .lines()
        .find(|l| l.starts_with("vigil demo: fed "))
        .expect("summary line");
    let numbers: Vec<u64> = summary
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (fed, alerts) = (numbers[0], numbers[1]);
    assert!(fed > 100_000, "{summary}");
    assert!(
        alerts > 0,
        "alerts came back from the alerts topic: {summary}"
    );
    assert!(err.contains("ALERT "), "alerts shown as they fire");
    assert!(
        err.lines()
            .any(|l| l.contains("events/s] players") && !l.contains("players      0")),
        "{err}"
    );
}
