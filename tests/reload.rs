//! Live reload of the rules in `vigil run` against a real broker (Tansu,
//! started by `scripts/test.sh`): new weights and bands apply on SIGHUP or
//! when the file changes, to the live view at once and to every score
//! from then on; an invalid file keeps the old set and the process.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;
use vigil_domain::{Engine, EngineConfig, Output, PlayerEvent, ScoreRecord};

const READY: Duration = Duration::from_secs(90);
const READ: Duration = Duration::from_secs(60);
const APPLIED: &str = "vigil_config_reloads_total{result=\"applied\"}";
const INVALID: &str = "vigil_config_reloads_total{result=\"invalid\"}";
const GENERATION: &str = "vigil_config_generation";

const PLAYERS: u32 = 6;

/// New rules: only frequency counts, and stricter bands.
const NEW_RULES: &str = "[engine.weights]\nfrequency = 1.0\ndepth = 0.0\nmonetary = 0.0\n\
    recency = 0.0\nsupport = 0.0\npayment = 0.0\ncommunication = 0.0\nsatisfaction = 0.0\n\
    [engine.bands]\ngreen_min = 90.0\nyellow_min = 60.0\n";

fn new_rules(mut cfg: EngineConfig) -> EngineConfig {
    let w = &mut cfg.weights;
    (w.frequency, w.depth, w.monetary, w.recency) = (1.0, 0.0, 0.0, 0.0);
    (w.support, w.payment, w.communication, w.satisfaction) = (0.0, 0.0, 0.0, 0.0);
    (cfg.bands.green_min, cfg.bands.yellow_min) = (90.0, 60.0);
    cfg
}

/// The reference: one engine per partition, `first` under `old`, then the
/// engines reconfigured to `new`, then `then`. The last score record per
/// player (as JSON rounds it) and the engines.
fn reference(
    first: &[(i32, PlayerEvent)],
    then: &[(i32, PlayerEvent)],
    partitions: i32,
    old: &EngineConfig,
    new: &EngineConfig,
) -> (HashMap<String, ScoreRecord>, Vec<Engine>) {
    let mut engines: Vec<Engine> = (0..partitions)
        .map(|_| Engine::new(old.clone()).unwrap())
        .collect();
    let mut out = Vec::new();
    for (p, e) in first {
        engines[*p as usize].ingest(e.clone(), &mut out).unwrap();
    }
    for e in &mut engines {
        e.reconfigure(new.clone()).unwrap();
    }
    for (p, e) in then {
        engines[*p as usize].ingest(e.clone(), &mut out).unwrap();
    }
    let last = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Score(s) => {
                let json =
                    vigil_codec::output::encode_score(&s, vigil_codec::output::Encoding::Json);
                let s = vigil_codec::output::decode_score_json(&json).unwrap();
                Some((s.player_id.clone(), s))
            }
            _ => None,
        })
        .collect();
    (last, engines)
}

/// The score `/v1/players/{id}` gives.
async fn live_score(vigil: &Vigil, id: &str) -> f64 {
    let (status, body) = vigil.get(&format!("/v1/players/{id}")).await.unwrap();
    assert_eq!(status, 200, "{id}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["players"][0]["score"].as_f64().unwrap()
}

/// What the reference engines' view of each player scores, as the API
/// rounds it.
fn view_scores(engines: &[Engine], partitions: i32) -> HashMap<String, f64> {
    (0..PLAYERS)
        .map(|p| {
            let id = format!("p{p:04}");
            let e = &engines[(p as i32 % partitions) as usize];
            let view = e.player("casino-a", &id).unwrap();
            let info = vigil_http::PlayerInfo::from_view(&view, e.clock(), "EUR");
            (id, info.score)
        })
        .collect()
}

/// Waits until the log (read by another thread) has a line with `text`.
async fn wait_log(vigil: &Vigil, text: &str) {
    let start = std::time::Instant::now();
    while !vigil.log().contains(text) {
        assert!(
            start.elapsed() < READ,
            "no {text:?} in the log:\n{}",
            vigil.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn reload_scenario(by_signal: bool) {
    let mut setup = Setup::new(2);
    let (old, toml) = settled_config();
    setup.extra = toml.clone();
    create_topic(&setup.input, setup.partitions).await;
    let first = settled_population(PLAYERS, 45, setup.partitions);
    produce(&setup.input, &encode_events(&first)).await;

    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    vigil.wait_consumed(first.len(), READ).await;
    assert_eq!(vigil.metric(GENERATION).await, Some(0.0));
    assert_eq!(vigil.metric(APPLIED).await, Some(0.0));

    let new = new_rules(old.clone());
    let end = first.last().unwrap().1.ts.as_millis();
    let then = closing_logins(PLAYERS, setup.partitions, end + 6 * 3_600_000, "after");
    let (want, _) = reference(&first, &then, setup.partitions, &old, &new);
    let (_, before) = reference(&first, &[], setup.partitions, &old, &old);
    let old_view = view_scores(&before, setup.partitions);
    let (_, swapped) = reference(&first, &[], setup.partitions, &old, &new);
    let new_view = view_scores(&swapped, setup.partitions);
    assert_ne!(old_view, new_view, "the new rules must change some score");
    for (id, s) in &old_view {
        assert_eq!(live_score(&vigil, id).await, *s, "{id} before the reload");
    }

    // The same file with new rules.
    vigil.rewrite_config(&format!("{}{NEW_RULES}", setup.config(vigil.port)));
    if by_signal {
        vigil.hangup();
    }
    vigil.wait_metric_at_least(APPLIED, 1.0, READ).await;
    assert_eq!(vigil.metric(GENERATION).await, Some(1.0));
    assert!(
        vigil
            .metric("vigil_config_last_reload_timestamp_seconds")
            .await
            > Some(0.0)
    );
    wait_log(
        &vigil,
        if by_signal {
            "SIGHUP: reloading the configuration"
        } else {
            "configuration file changed"
        },
    )
    .await;
    // The live view uses the new set at once ...
    for (id, s) in &new_view {
        assert_eq!(live_score(&vigil, id).await, *s, "{id} after the reload");
    }
    // ... and so does every score published from then on.
    produce(&setup.input, &encode_events(&then)).await;
    let records = read_until(&setup.scores, setup.partitions, READ, |r| {
        final_scores(r) == want
    });
    assert_eq!(final_scores(&records), want, "{}", vigil.log());

    // An invalid file: refused with the key named, old (new) set kept,
    // the process keeps running.
    let invalid_before = vigil.metric(INVALID).await.unwrap();
    vigil.rewrite_config(&format!(
        "{}[engine.weights]\nfrequency = -1.0\n",
        setup.config(vigil.port)
    ));
    if by_signal {
        vigil.hangup();
    }
    vigil
        .wait_metric_at_least(INVALID, invalid_before + 1.0, READ)
        .await;
    wait_log(&vigil, "engine.weights.frequency").await;
    assert_eq!(vigil.metric(APPLIED).await, Some(1.0));
    assert_eq!(vigil.metric(GENERATION).await, Some(1.0));
    assert_eq!(vigil.get("/healthz").await.map(|r| r.0), Some(200));
    let after: HashMap<String, f64> = want.iter().map(|(id, s)| (id.clone(), s.score)).collect();
    for (id, s) in &after {
        assert_eq!(live_score(&vigil, id).await, *s, "{id} after the refusal");
    }

    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_swaps_in_new_rules_and_an_invalid_file_keeps_them() {
    reload_scenario(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_file_is_picked_up_without_a_signal() {
    reload_scenario(false).await;
}
