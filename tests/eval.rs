//! `vigil gen` then `vigil eval`, as a user runs them: the report has the
//! promised shape, is the same every time, and the score earns its keep
//! against the simplest baseline.

mod cli;

use cli::vigil;

use serde_json::Value;

fn metric(system: &Value, name: &str) -> f64 {
    system["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} missing in {system:#}"))
}

#[test]
fn eval_reports_the_score_against_the_baselines() {
    let dir = std::env::temp_dir().join(format!("vigil-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let (events, labels) = (path("events.jsonl"), path("labels.jsonl"));
    let generated = vigil(&[
        "gen",
        "--players",
        "300",
        "--days",
        "50",
        "--seed",
        "7",
        "--labels",
        &labels,
    ]);
    std::fs::write(&events, &generated.stdout).unwrap();

    let args = |json: &str, svg: &str| {
        vec![
            "eval".to_owned(),
            "--events".to_owned(),
            events.clone(),
            "--labels".to_owned(),
            labels.clone(),
            "--json".to_owned(),
            json.to_owned(),
            "--svg".to_owned(),
            svg.to_owned(),
        ]
    };
    let first = args(&path("a.json"), &path("a.svg"));
    let out = vigil(&first.iter().map(String::as_str).collect::<Vec<_>>());
    let second = args(&path("b.json"), &path("b.svg"));
    let again = vigil(&second.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.stdout, again.stdout, "same files, same table");
    let a = std::fs::read_to_string(path("a.json")).unwrap();
    assert_eq!(a, std::fs::read_to_string(path("b.json")).unwrap());

    let table = String::from_utf8(out.stdout).unwrap();
    for word in [
        "precision",
        "recall",
        "lead p50",
        "days_since_login",
        "usage_fell_30pct",
        "band threshold sweep",
        "definitions:",
    ] {
        assert!(table.contains(word), "{word:?} missing from\n{table}");
    }

    let report: Value = serde_json::from_str(&a).unwrap();
    assert_eq!(report["input"]["labelled_players"], 300);
    assert_eq!(report["input"]["rejected"], serde_json::json!({}));
    // Every kind of churner is reported, returners included, and the
    // benign silences of the labels are counted.
    let fates: Vec<&str> = report["by_fate"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fates, ["abrupt_leave", "returns", "slow_fade"]);
    for kind in ["holiday", "season_break"] {
        let s = &report["benign_silence"][kind];
        assert!(s["players"].as_u64().unwrap() > 0, "{kind}: {s}");
        assert!(
            s["alerted"].as_u64() <= s["players"].as_u64(),
            "{kind}: {s}"
        );
    }
    for key in [
        "precision",
        "recall",
        "lead_time",
        "risk_alert",
        "benign_silence",
        "leading_signal",
    ] {
        assert!(report["definitions"][key].is_string(), "{key}");
    }
    let systems = report["systems"].as_array().unwrap();
    let names: Vec<&str> = systems
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["score", "days_since_login", "usage_fell_30pct"]);
    for s in systems {
        let m = &s["metrics"];
        assert!(m["churners"].as_u64().unwrap() > 0, "{s:#}");
        assert!(m["caught"].as_u64() <= m["churners"].as_u64());
        for k in ["precision", "recall"] {
            let v = metric(s, k);
            assert!((0.0..=1.0).contains(&v), "{k} {v}");
        }
    }
    // Every alerted player is put down to exactly one leading signal, and
    // the churners among them are the score's alerted churners.
    let leading = report["by_leading_signal"].as_object().unwrap();
    let sum = |k: &str| -> u64 { leading.values().map(|l| l[k].as_u64().unwrap()).sum() };
    assert_eq!(sum("players"), metric(&systems[0], "alerted") as u64);
    assert_eq!(
        sum("churners"),
        metric(&systems[0], "alerted_churners") as u64
    );
    // The score sees far more than logins: it must beat "no login for a
    // week" on recall or on precision.
    let (score, login) = (&systems[0], &systems[1]);
    assert!(
        metric(score, "recall") > metric(login, "recall")
            || metric(score, "precision") > metric(login, "precision"),
        "score {:#} vs days since login {:#}",
        score["metrics"],
        login["metrics"]
    );
    // Caught churners have a lead time; the sweep covers the configured bands.
    assert!(metric(score, "lead_median_days") > 0.0);
    let sweep = report["sweep"].as_array().unwrap();
    assert!(sweep.len() >= 5, "{sweep:#?}");
    assert!(
        sweep
            .iter()
            .any(|r| r["green_min"] == 70.0 && r["yellow_min"] == 40.0)
    );
    // Lower thresholds alert fewer players.
    let alerted: Vec<u64> = sweep
        .iter()
        .map(|r| r["metrics"]["alerted"].as_u64().unwrap())
        .collect();
    assert!(alerted.first() <= alerted.last(), "{alerted:?}");

    let svg = std::fs::read_to_string(path("a.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
