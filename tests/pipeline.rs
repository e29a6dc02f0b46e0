//! `vigil run` against a real Kafka-compatible broker (Tansu, started by
//! `scripts/test.sh`): events in, alerts out; both encodings; poison
//! messages to the dead-letter topic; crash and restart; graceful
//! shutdown; the HTTP endpoints.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use support::*;
use vigil_domain::{Alert, AlertKind};

const READY: Duration = Duration::from_secs(90);
const READ: Duration = Duration::from_secs(60);

fn alert_ids(alerts: &[Alert]) -> BTreeSet<String> {
    alerts.iter().map(|a| a.alert_id.clone()).collect()
}

fn decode_alerts(records: &[Record], json: bool) -> Vec<Alert> {
    records
        .iter()
        .map(|r| {
            if json {
                vigil_codec::output::decode_alert_json(&r.payload).expect("alert JSON decodes")
            } else {
                vigil_codec::output::decode_alert_proto(&r.payload).expect("alert protobuf decodes")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_events_in_alerts_out_with_expected_ids_and_reasons() {
    let setup = Setup::new(2);
    create_topic(&setup.input, setup.partitions).await;
    let events = population(12, 60, setup.partitions);
    let expected = expected_alerts(&events, setup.partitions);
    assert!(
        expected.iter().any(|a| a.kind == AlertKind::Inactivity),
        "scenario exercises silence"
    );
    assert!(
        expected.iter().any(|a| a.kind == AlertKind::BandChange),
        "scenario exercises bands"
    );
    produce(&setup.input, &encode_events(&events)).await;

    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    let want = alert_ids(&expected);
    // Alerts flow while it runs, not only at shutdown.
    let live = read_until(&setup.alerts, setup.partitions, READ, |r| {
        r.len() >= want.len().saturating_sub(4)
    });
    assert!(
        live.len() >= want.len().saturating_sub(4),
        "only {} of {} alerts while running",
        live.len(),
        want.len()
    );
    let (status, log) = vigil.terminate();
    assert!(status.success(), "exit {status:?}\n{log}");
    // After shutdown every buffered event has been flushed: all alerts are out.
    let got = read_until(&setup.alerts, setup.partitions, READ, |r| {
        alert_ids(&decode_alerts(r, true)) == want
    });
    let alerts = decode_alerts(&got, true);
    assert_eq!(alert_ids(&alerts), want);
    for a in &alerts {
        let e = expected.iter().find(|e| e.alert_id == a.alert_id).unwrap();
        assert_eq!(
            (a.kind, a.band, a.prev_band, a.ts),
            (e.kind, e.band, e.prev_band, e.ts)
        );
        assert_eq!(a.reasons.len(), e.reasons.len());
        assert_eq!(
            a.reasons.first().map(|r| r.signal),
            e.reasons.first().map(|r| r.signal)
        );
    }
    // Keyed by player, so a compacted or partitioned consumer keeps order per player.
    let by_key = got
        .iter()
        .all(|r| alerts.iter().any(|a| Some(&a.player_id) == r.key.as_ref()));
    assert!(by_key);
}

#[tokio::test(flavor = "multi_thread")]
async fn protobuf_in_protobuf_out() {
    let mut setup = Setup::new(1);
    setup.input_encoding = "protobuf";
    setup.alerts_encoding = "protobuf";
    create_topic(&setup.input, 1).await;
    let events = population(6, 50, 1);
    let expected = expected_alerts(&events, 1);
    assert!(!expected.is_empty());
    let records: Vec<_> = events
        .iter()
        .map(|(p, e)| {
            (
                *p,
                e.player_id.to_string(),
                vigil_codec::proto::encode_event(e),
            )
        })
        .collect();
    produce(&setup.input, &records).await;
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    vigil.wait_consumed(records.len(), READ).await;
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    let want = alert_ids(&expected);
    let got = read_until(&setup.alerts, 1, READ, |r| r.len() >= want.len());
    assert_eq!(alert_ids(&decode_alerts(&got, false)), want);
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_go_to_the_dead_letter_topic_and_the_pipeline_goes_on() {
    let setup = Setup::new(1);
    create_topic(&setup.input, 1).await;
    let events = population(6, 50, 1);
    let expected = expected_alerts(&events, 1);
    let mut records = encode_events(&events);
    let poison: Vec<(&str, &[u8])> = vec![
        ("invalid_json", b"{not json"),
        ("unknown_type", br#"{"event_id":"x1","player_id":"p1","brand":"b","ts":"2026-11-01T12:00:00Z","type":"teleport"}"#),
        ("invalid_timestamp", br#"{"event_id":"x2","player_id":"p1","brand":"b","ts":"yesterday","type":"login"}"#),
        ("unknown_currency", br#"{"event_id":"x3","player_id":"p1","brand":"b","ts":"2026-11-01T12:00:00Z","type":"deposit","amount":5,"currency":"XXX","status":"ok"}"#),
        // Taken in, it would move the partition's clock to 2099: every
        // player silent, every later event too old, and the alerts below
        // would not be the expected ones.
        ("timestamp_in_future", br#"{"event_id":"x4","player_id":"p0000","brand":"casino-a","ts":"2099-01-01T00:00:00Z","type":"login"}"#),
    ];
    // Poison in the middle of the stream, where it could block what follows.
    let mid = records.len() / 2;
    for (i, (_, bytes)) in poison.iter().enumerate() {
        records.insert(mid + i, (0, "p1".into(), bytes.to_vec()));
    }
    produce(&setup.input, &records).await;
    // One more at the end, with the producer's tracing headers, which its
    // dead letter carries over (and an unrelated one, which it does not).
    let traced: &[u8] = b"{still not json";
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    produce_with_headers(
        &setup.input,
        "p1",
        traced,
        &[("traceparent", traceparent), ("x-internal", "no")],
    )
    .await;
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    vigil.wait_consumed(records.len() + 1, READ).await;
    let mut dead = read_until(&setup.dlq, 1, READ, |r| r.len() > poison.len());
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    let last = dead.pop().expect("the traced poison's dead letter");
    assert_eq!(last.payload, traced);
    assert_eq!(last.headers["vigil.reject.reason"], "invalid_json");
    assert_eq!(last.headers["traceparent"], traceparent);
    assert!(
        !last.headers.contains_key("x-internal"),
        "{:?}",
        last.headers
    );
    let reasons: Vec<&str> = dead
        .iter()
        .map(|r| r.headers["vigil.reject.reason"].as_str())
        .collect();
    assert_eq!(reasons, poison.iter().map(|p| p.0).collect::<Vec<_>>());
    for (r, (_, bytes)) in dead.iter().zip(&poison) {
        assert_eq!(&r.payload, bytes, "original payload kept");
        assert_eq!(r.headers["vigil.source.topic"], setup.input);
        assert_eq!(r.headers["vigil.source.partition"], "0");
        let offset: i64 = r.headers["vigil.source.offset"].parse().unwrap();
        assert!(offset >= mid as i64 && offset < (mid + poison.len()) as i64);
        assert!(!r.headers["vigil.reject.detail"].is_empty());
    }
    let want = alert_ids(&expected);
    let got = read_until(&setup.alerts, 1, READ, |r| r.len() >= want.len());
    assert_eq!(
        alert_ids(&decode_alerts(&got, true)),
        want,
        "events after the poison still scored"
    );
    let metrics = log; // the log must not carry payloads or player ids
    assert!(!metrics.contains("p0001"), "player id in logs");
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_after_a_crash_loses_no_alert_and_repeats_are_identifiable() {
    let setup = Setup::new(2);
    create_topic(&setup.input, setup.partitions).await;
    let events = population(12, 60, setup.partitions);
    let expected = expected_alerts(&events, setup.partitions);
    let records = encode_events(&events);
    let (first, second) = records.split_at(records.len() / 2);
    produce(&setup.input, first).await;

    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    // Wait until it has committed part of the first half, then crash.
    let start = std::time::Instant::now();
    while committed(&setup.group, &setup.input, setup.partitions)
        .values()
        .sum::<i64>()
        < (first.len() / 4) as i64
    {
        assert!(
            start.elapsed() < READ,
            "no progress committed:\n{}",
            vigil.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    vigil.kill();

    produce(&setup.input, second).await;
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    // It restores state from the changelog, then carries on from the
    // committed offsets.
    vigil.wait_committed(&setup, records.len(), READ).await;
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");

    let want = alert_ids(&expected);
    let got = read_until(&setup.alerts, setup.partitions, READ, |r| {
        alert_ids(&decode_alerts(r, true)) == want
    });
    let alerts = decode_alerts(&got, true);
    let ids = alert_ids(&alerts);
    assert_eq!(
        ids, want,
        "every expected alert present, nothing unexpected"
    );
    // Repeats after the crash carry the same id and the same content.
    let mut seen: HashMap<&str, &Alert> = HashMap::new();
    for a in &alerts {
        if let Some(prev) = seen.insert(&a.alert_id, a) {
            assert_eq!(prev, a);
        }
    }
}

/// Batches of more than 512 messages are decoded and scored on several
/// threads (the other tests' batches are too small for it): they must
/// publish what one uninterrupted run does.
#[tokio::test(flavor = "multi_thread")]
async fn large_batches_spread_over_threads_publish_what_one_run_does() {
    let mut setup = scoring_setup(2);
    setup.max_batch = 20_000;
    create_topic(&setup.input, setup.partitions).await;
    let events = population(40, 60, setup.partitions);
    let records = encode_events(&events);
    // All in before vigil starts, so its polls find full fetches.
    produce(&setup.input, &records).await;

    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    vigil.wait_committed(&setup, records.len(), READ).await;
    let batches = vigil.metric("vigil_batches_total").await.unwrap_or(0.0);
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    // More than 512 messages a batch on average: some batch took the
    // threaded path.
    assert!(
        batches > 0.0 && records.len() as f64 / batches > 512.0,
        "{} messages in {batches} batches\n{log}",
        records.len()
    );
    assert_as_uninterrupted(&setup, &events, &log);
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_shutdown_commits_everything_and_endpoints_answer() {
    let setup = Setup::new(2);
    create_topic(&setup.input, setup.partitions).await;
    let events = population(6, 40, setup.partitions);
    let records = encode_events(&events);
    produce(&setup.input, &records).await;

    let vigil = Vigil::start(&setup);
    // Before the group is joined the instance is alive but not ready.
    let start = std::time::Instant::now();
    let first = loop {
        if let Some(r) = vigil.get("/readyz").await {
            break r;
        }
        assert!(
            start.elapsed() < READY,
            "http never came up:\n{}",
            vigil.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(vigil.get("/healthz").await.map(|r| r.0), Some(200));
    if first.0 != 200 {
        assert_eq!(first.0, 503);
        assert!(first.1.starts_with("not ready: "), "{}", first.1);
    }
    vigil.wait_ready(READY).await;
    // All input consumed: the counter is exported with the event type label.
    let start = std::time::Instant::now();
    loop {
        let (status, body) = vigil.get("/metrics").await.unwrap();
        assert_eq!(status, 200);
        let consumed: f64 = body
            .lines()
            .filter(|l| l.starts_with("vigil_events_consumed_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if consumed as usize == records.len() {
            assert!(
                body.contains("vigil_events_consumed_total{type=\"login\"}"),
                "{body}"
            );
            assert!(
                body.contains("# TYPE vigil_event_to_publish_seconds histogram"),
                "{body}"
            );
            assert!(
                body.contains("vigil_players_by_band{band=\"green\"}"),
                "{body}"
            );
            assert!(!body.contains("p0001"), "no player ids in metrics");
            break;
        }
        assert!(
            start.elapsed() < READ,
            "consumed {consumed} of {}",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, log) = vigil.terminate();
    assert!(status.success(), "exit {status:?}:\n{log}");
    let offsets = committed(&setup.group, &setup.input, setup.partitions);
    for p in 0..setup.partitions {
        let n = records.iter().filter(|r| r.0 == p).count() as i64;
        assert_eq!(
            offsets.get(&p),
            Some(&n),
            "partition {p} committed to the end"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_player_who_goes_quiet_alerts_on_a_live_stream_without_new_events() {
    use vigil_domain::time::{DAY_MS, HOUR_MS};
    use vigil_domain::{Payload, PlayerEvent, Timestamp};
    let mut setup = Setup::new(1);
    setup.idle_advance = "1s";
    create_topic(&setup.input, 1).await;
    // In whole seconds, as player state keeps time: with a fraction the
    // threshold, counted from the truncated second, could fall up to a
    // second before `last + 3 days` and the check below fail (once in
    // about sixty runs, when that second starts a timer minute).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        * 1000;
    let ev = |id: String, player: &str, ts: i64| PlayerEvent {
        event_id: id.into(),
        player_id: player.into(),
        brand: "casino-a".into(),
        ts: Timestamp::from_millis(ts),
        payload: Payload::Login { channel: None },
    };
    // A daily player whose silence reaches its threshold (3 × a 1-day rhythm)
    // 20 s from now,
    // and another player whose events bring the stream up to the present.
    let last = now - 3 * DAY_MS + 20_000;
    let mut events: Vec<(i32, PlayerEvent)> = (0..30)
        .map(|d| (0, ev(format!("a{d}"), "quiet", last - (29 - d) * DAY_MS)))
        .collect();
    events.extend((0..48).map(|h| {
        (
            0,
            ev(format!("b{h}"), "busy", now - 1000 - (47 - h) * HOUR_MS),
        )
    }));
    events.sort_by_key(|(_, e)| e.ts);
    produce(&setup.input, &encode_events(&events)).await;
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    vigil.wait_consumed(events.len(), READ).await;
    // Nothing more is sent; only the wall clock moves.
    let got = read_until(&setup.alerts, 1, Duration::from_secs(150), |r| {
        decode_alerts(r, true)
            .iter()
            .any(|a| a.kind == AlertKind::Inactivity && a.player_id == "quiet")
    });
    let alerts = decode_alerts(&got, true);
    let quiet = alerts
        .iter()
        .find(|a| a.kind == AlertKind::Inactivity && a.player_id == "quiet");
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    let quiet = quiet
        .unwrap_or_else(|| panic!("no inactivity alert from the idle clock; alerts: {alerts:?}"));
    assert!(
        quiet.ts.as_millis() >= last + 3 * DAY_MS,
        "fired once the threshold passed: {}",
        quiet.ts
    );
}
