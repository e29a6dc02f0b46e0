//! `vigil replay` and `vigil gen` as a user runs them: the shipped sample in,
//! alerts out, the same every time, in either input encoding.

mod cli;

use std::path::Path;
use std::process::Command;

use cli::vigil;

use vigil_domain::AlertKind;

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
    // The sample has no profiles or support tickets: the churn-risk kinds.
    for kind in AlertKind::ALL.into_iter().filter(|k| k.is_risk()) {
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
        err.contains("`engine.weights.frequency`") && err.contains("from 0 to 1000000"),
        "{err}"
    );
    let ok = vigil(&["check-config"]);
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "configuration ok"
    );
}

#[test]
fn replay_joins_profiles_and_writes_offers_and_outcomes() {
    let dir = std::env::temp_dir().join(format!("vigil-replay-offers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sample = sample();
    // Every player the sample alerts on, made a VIP with a manager.
    let plain = vigil(&["replay", &sample, "--advance-to", "2026-10-30T00:00:00Z"]);
    let alerted: std::collections::BTreeSet<String> = String::from_utf8(plain.stdout)
        .unwrap()
        .lines()
        .map(|l| vigil_codec::output::decode_alert_json(l.as_bytes()).unwrap())
        .map(|a| a.player_id)
        .collect();
    assert!(!alerted.is_empty());
    let profiles = dir.join("profiles.jsonl");
    let lines: Vec<String> = alerted
        .iter()
        .map(|p| {
            format!(r#"{{"player_id":"{p}","brand":"casino-a","tier":"vip","manager_id":"m-9"}}"#)
        })
        .collect();
    std::fs::write(&profiles, lines.join("\n")).unwrap();
    let (offers, outcomes) = (dir.join("offers.jsonl"), dir.join("outcomes.jsonl"));
    let out = vigil(&[
        "replay",
        &sample,
        "--advance-to",
        "2026-10-30T00:00:00Z",
        "--profiles",
        profiles.to_str().unwrap(),
        "--offers",
        offers.to_str().unwrap(),
        "--outcomes",
        outcomes.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let alerts: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| vigil_codec::output::decode_alert_json(l.as_bytes()).unwrap())
        .collect();
    let brands: std::collections::BTreeSet<&str> =
        alerts.iter().map(|a| a.brand.as_str()).collect();
    for a in &alerts {
        if a.brand == "casino-a" {
            assert_eq!(a.tier, vigil_domain::Tier::Vip, "{a:?}");
            assert_eq!(a.manager_id.as_deref(), Some("m-9"));
        }
    }
    assert!(brands.contains("casino-a"), "{brands:?}");
    let offers: Vec<_> = std::fs::read_to_string(&offers)
        .unwrap()
        .lines()
        .map(|l| {
            vigil_codec::retention::decode_offer(l.as_bytes(), vigil_codec::output::Encoding::Json)
                .unwrap()
        })
        .collect();
    assert!(
        offers.iter().any(|o| o.rule == "vip_manager_call"),
        "VIPs who drift get a manager call"
    );
    for o in &offers {
        assert!(alerts.iter().any(|a| a.alert_id == o.alert_id), "{o:?}");
    }
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("offers:         {}", offers.len())),
        "{stderr}"
    );
    // Outcomes are JSON lines of known sources (the sample may end before
    // a horizon passes for some).
    for l in std::fs::read_to_string(&outcomes).unwrap().lines() {
        let o = vigil_codec::retention::decode_outcome(
            l.as_bytes(),
            vigil_codec::output::Encoding::Json,
        )
        .unwrap();
        assert!(
            alerts.iter().any(|a| a.alert_id == o.source_id)
                || offers.iter().any(|f| f.offer_id == o.source_id)
        );
    }
}
