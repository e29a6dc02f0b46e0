//! The player lookup API of `vigil run` against a real broker (Tansu,
//! started by `scripts/test.sh`): what `/v1/players` says matches what the
//! service published on the scores topic, in the documented order.

mod support;

use std::time::Duration;

use support::*;

const READY: Duration = Duration::from_secs(90);
const READ: Duration = Duration::from_secs(60);

fn players_of(body: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    v["players"].as_array().expect("a players list").clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_and_riskiest_list_match_the_published_scores() {
    const PLAYERS: u32 = 9;
    let mut setup = Setup::new(2);
    let (cfg, toml) = settled_config();
    setup.extra = toml;
    create_topic(&setup.input, setup.partitions).await;
    let events = settled_population(PLAYERS, 45, setup.partitions);
    produce(&setup.input, &encode_events(&events)).await;

    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    // Published: the last score record of every player, as the reference
    // engines say (the signal that the service has scored everything).
    let want = expected_final_scores(&events, setup.partitions, &cfg);
    assert_eq!(want.len(), PLAYERS as usize);
    let records = read_until(&setup.scores, setup.partitions, READ, |r| {
        final_scores(r) == want
    });
    let published = final_scores(&records);
    assert_eq!(published, want, "{}", vigil.log());
    assert!(
        published
            .values()
            .any(|s| s.band != vigil_domain::Band::Green),
        "the scenario has players at risk"
    );

    for (id, s) in &published {
        let (status, body) = vigil.get(&format!("/v1/players/{id}")).await.unwrap();
        assert_eq!(status, 200, "{id}: {body}");
        let found = players_of(&body);
        assert_eq!(found.len(), 1, "one brand: {body}");
        let p = &found[0];
        assert_eq!(p["player_id"], id.as_str());
        assert_eq!(p["brand"], "casino-a");
        assert_eq!(p["score"].as_f64(), Some(s.score), "{id}: {body}");
        assert_eq!(p["band"], s.band.as_str(), "{id}");
        assert_eq!(p["baseline_ready"], s.baseline_ready, "{id}");
        assert_eq!(p["as_of"], s.ts.to_string(), "{id}: scored at the clock");
        assert!(
            p["recent"]["active_days"].as_f64().unwrap() >= 1.0,
            "{body}"
        );
        assert_eq!(p["last_activity"], s.ts.to_string(), "{id}");
        let signals: Vec<&str> = p["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["signal"].as_str().unwrap())
            .collect();
        let want_signals: Vec<&str> = s.reasons.iter().map(|r| r.signal.as_str()).collect();
        assert_eq!(signals, want_signals, "{id}");
    }
    let (status, _) = vigil.get("/v1/players/p9999").await.unwrap();
    assert_eq!(status, 404);
    let (status, _) = vigil.get("/v1/players/p0001?brand=sports-b").await.unwrap();
    assert_eq!(status, 404, "another brand's player of the same id");

    // The list: riskiest first by priority (risk times value, each figure
    // as the API states it for the player), then id.
    let (status, body) = vigil.get("/v1/players?limit=1000").await.unwrap();
    assert_eq!(status, 200, "{body}");
    let listed = players_of(&body);
    let mut order: Vec<(String, f64)> = Vec::new();
    for p in &listed {
        let id = p["player_id"].as_str().unwrap().to_owned();
        let score = published[&id].score;
        let value = p["value"].as_f64().unwrap();
        let want = vigil_domain::value::priority(vigil_domain::value::score_risk(score), value);
        let got = p["priority"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 0.01 + want * 1e-3,
            "{id}: {got} vs {want}"
        );
        order.push((id, got));
    }
    for w in order.windows(2) {
        assert!(w[0].1 >= w[1].1, "not riskiest first: {order:?}");
    }
    let ids: Vec<&str> = order.iter().map(|(id, _)| id.as_str()).collect();
    let mut all: Vec<&str> = published.keys().map(String::as_str).collect();
    let mut listed_ids = ids.clone();
    all.sort_unstable();
    listed_ids.sort_unstable();
    assert_eq!(listed_ids, all, "every player is listed once");
    let (_, body) = vigil.get("/v1/players?limit=3").await.unwrap();
    assert_eq!(players_of(&body).len(), 3);

    let red: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| published[*id].band == vigil_domain::Band::Red)
        .collect();
    let (_, body) = vigil.get("/v1/players?band=red").await.unwrap();
    let got: Vec<String> = players_of(&body)
        .iter()
        .map(|p| p["player_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, red);
    let (status, _) = vigil.get("/v1/players?band=blue").await.unwrap();
    assert_eq!(status, 400);

    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    for id in published.keys() {
        assert!(!log.contains(id.as_str()), "player id {id} in the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_token_guards_the_api_but_not_the_probes() {
    let setup = Setup::new(1);
    create_topic(&setup.input, setup.partitions).await;
    let events = settled_population(2, 3, setup.partitions);
    produce(&setup.input, &encode_events(&events)).await;
    let vigil = Vigil::start_with(|port| {
        setup
            .config(port)
            .replace("[http]\n", "[http]\nauth_token = \"t0ken-x\"\n")
    });
    vigil.wait_ready(READY).await;
    vigil.wait_consumed(events.len(), READ).await;
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = client.get(format!("{}{path}", vigil.http));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("/v1/players/p0000", None).await, 401);
    assert_eq!(get("/v1/players/p0000", Some("wrong")).await, 401);
    assert_eq!(get("/v1/players/p0000", Some("t0ken-x")).await, 200);
    assert_eq!(get("/v1/players", Some("t0ken-x")).await, 200);
    assert_eq!(get("/metrics", None).await, 200);
    assert_eq!(get("/readyz", None).await, 200);
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains("t0ken-x"), "the token is never logged");
}
