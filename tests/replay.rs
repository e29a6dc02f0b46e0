//! `vigil replay` and `vigil gen` as a user runs them: the shipped sample in,
//! alerts out, the same every time, in either input encoding.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use vigil_domain::AlertKind;

fn vigil(args: &[&str]) -> Output {
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

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/events.jsonl")
        .display()
        .to_string()
}

#[test]
fn replaying_the_sample_gives_explained_deterministic_alerts() {
    let dir = std::env::temp_dir().join(format!("vigil-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scores = dir.join("scores.jsonl").display().to_string();
    let sample = sample();
    let first = vigil(&[
        "replay",
        &sample,
        "--scores",
        &scores,
        "--advance-to",
        "2026-10-30T00:00:00Z",
    ]);
    let second = vigil(&["replay", &sample, "--advance-to", "2026-10-30T00:00:00Z"]);
    assert_eq!(first.stdout, second.stdout, "same input, same alerts");

    let alerts: Vec<_> = String::from_utf8(first.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            vigil_codec::output::decode_alert_json(l.as_bytes()).expect("each line is an alert")
        })
        .collect();
    assert!(!alerts.is_empty());
    for kind in AlertKind::ALL {
        assert!(
            alerts.iter().any(|a| a.kind == kind),
            "no {kind:?} alert in the sample"
        );
    }
    let mut ids: Vec<&str> = alerts.iter().map(|a| a.alert_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), alerts.len(), "alert ids are unique");
    assert!(
        alerts.iter().all(|a| !a.reasons.is_empty()),
        "every alert says why"
    );

    let stderr = String::from_utf8(first.stderr).unwrap();
    let lines = std::fs::read_to_string(&sample).unwrap().lines().count();
    assert!(
        stderr.contains(&format!(
            "events.jsonl:{}: rejected (invalid_timestamp)",
            lines
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "events.jsonl:{}: rejected (unknown_type)",
            lines - 1
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("events read:    {lines}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("alerts:         {}", alerts.len())),
        "{stderr}"
    );

    let scores = std::fs::read_to_string(&scores).unwrap();
    let players = scores.lines().count();
    assert_eq!(players, 10);
    assert!(stderr.contains("players:        10"), "{stderr}");
    for line in scores.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = v["score"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&s));
        assert!(["green", "yellow", "red"].contains(&v["band"].as_str().unwrap()));
    }
}

#[test]
fn protobuf_input_gives_the_same_alerts_as_json() {
    let dir = std::env::temp_dir().join(format!("vigil-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("events.jsonl");
    let proto = dir.join("events.pb");
    std::fs::write(
        &json,
        vigil(&["gen", "--players", "40", "--days", "40", "--seed", "3"]).stdout,
    )
    .unwrap();
    std::fs::write(
        &proto,
        vigil(&[
            "gen",
            "--players",
            "40",
            "--days",
            "40",
            "--seed",
            "3",
            "--format",
            "proto",
        ])
        .stdout,
    )
    .unwrap();
    let a = vigil(&["replay", json.to_str().unwrap()]);
    let b = vigil(&["replay", "--format", "proto", proto.to_str().unwrap()]);
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn check_config_names_the_bad_key() {
    let dir = std::env::temp_dir().join(format!("vigil-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vigil.toml");
    std::fs::write(&path, "[engine.weights]\nfrequency = -1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`engine.weights.frequency`") && err.contains(">= 0"),
        "{err}"
    );
    let ok = vigil(&["check-config"]);
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "configuration ok"
    );
}
