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

/// The demo serves the player lookup API over its engines.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_serves_the_player_lookup_api() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "demo",
            "--players",
            "300",
            "--days",
            "40",
            "--rate",
            "60000",
            "--duration",
            "40s",
            "--http",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("riskiest players at ").nth(1) {
                let _ = tx.send(rest.to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the demo prints the API address");
    let base = url.split("/v1/").next().unwrap().to_owned();
    let start = Instant::now();
    let listed = loop {
        let body = match reqwest::get(format!("{base}/v1/players?limit=5")).await {
            Ok(r) if r.status() == 200 => r.text().await.unwrap(),
            _ => String::new(),
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if v["players"].as_array().is_some_and(|p| p.len() == 5) {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no players listed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first = &listed["players"][0];
    let priorities: Vec<f64> = listed["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["priority"].as_f64().unwrap())
        .collect();
    assert!(priorities.windows(2).all(|w| w[0] >= w[1]), "{listed}");
    let id = first["player_id"].as_str().unwrap();
    let r = reqwest::get(format!("{base}/v1/players/{id}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}
