//! `processing_guarantee = "exactly_once"` on librdkafka's mock cluster,
//! the only local broker with transactions (Tansu 0.6 does not route
//! EndTxn). `vigil run` processes connect to the mock over loopback.
//!
//! What this can prove and what it cannot: the mock writes no commit or
//! abort markers and ignores `isolation.level`, so a read_committed
//! consumer sees aborted records too, and it does not store offsets sent
//! with a transaction (TxnOffsetCommit), so a restarted instance reads its
//! input from the start. No local broker can show read_committed hiding an
//! aborted batch. What is shown: the transactional path runs end to end;
//! injected request errors abort transactions, the batch is redone from
//! the last committed state (state restored from the changelog, the
//! consumer sought back) and then commits; a fenced producer stops; and a
//! checker that recomputes the expected alerts and final scores from the
//! input finds no alert lost, none unexpected after deduplication by
//! alert id (aborted copies are visible on the mock), and every final
//! score as one uninterrupted run has it (so nothing counted twice in the
//! rebuilt state).

mod support;

use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use support::*;

const WAIT: Duration = Duration::from_secs(120);
const ABORTED: &str = "vigil_transactions_total{result=\"aborted\"}";
const COMMITTED: &str = "vigil_transactions_total{result=\"committed\"}";

/// A scoring setup in exactly_once mode on `cluster`, its topics created
/// (the mock has no CreateTopics).
fn mock_setup(cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>) -> Setup {
    let mut s = scoring_setup(2);
    s.bootstrap = Some(cluster.bootstrap_servers());
    s.create_missing = false;
    s.pipeline_extra = "processing_guarantee = \"exactly_once\"\n".to_owned();
    for t in [
        &s.input,
        &s.alerts,
        &s.scores,
        &s.offers,
        &s.dlq,
        &s.changelog,
    ] {
        cluster.create_topic(t, s.partitions, 1).unwrap();
    }
    s
}

/// The instance's lag on `partition` of the input, from `/metrics` (in
/// exactly_once mode: the input's end minus the offset the last committed
/// transaction carried).
async fn lag(v: &Vigil, setup: &Setup, partition: i32) -> Option<f64> {
    let body = v.get("/metrics").await?.1;
    body.lines()
        .find(|l| {
            l.starts_with("vigil_consumer_lag_messages{")
                && l.contains(&format!("topic=\"{}\"", setup.input))
                && l.contains(&format!("partition=\"{partition}\""))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Waits until transactions have committed every input message. All input
/// is produced before the instance starts, so every fetch reports the
/// true end.
async fn wait_all_committed(v: &Vigil, setup: &Setup) {
    let start = std::time::Instant::now();
    for p in 0..setup.partitions {
        while lag(v, setup, p).await != Some(0.0) {
            assert!(
                start.elapsed() < WAIT,
                "partition {p} not committed to the end (lag {:?}); log:\n{}",
                lag(v, setup, p).await,
                v.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn add_offsets_errors(
    cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
    n: usize,
    e: RDKafkaRespErr,
) {
    cluster.request_errors(RDKafkaApiKey::AddOffsetsToTxn, &vec![e; n]);
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_errors_abort_transactions_and_the_redone_batches_match_an_uninterrupted_run() {
    let cluster = MockCluster::new(1).unwrap();
    let setup = mock_setup(&cluster);
    let events = population(12, 60, setup.partitions);
    let records = encode_events(&events);
    produce_on(&setup.broker(), &setup.input, &records).await;
    // The offsets of the first two transactions are refused: each must
    // abort, and the batch be redone from the last committed state. (A
    // produce refused with TOPIC_AUTHORIZATION_FAILED, tried too, makes
    // librdkafka drop the topic's metadata until its next refresh, so the
    // redone batches wait minutes for it: a real ACL failure, not a
    // transient one, and no test of the abort path.)
    add_offsets_errors(
        &cluster,
        2,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
    );

    let v = Vigil::start(&setup);
    v.wait_metric(ABORTED, WAIT, |n| n >= 2.0).await;
    wait_all_committed(&v, &setup).await;
    let committed = v.metric(COMMITTED).await.unwrap_or(0.0);
    let (status, log) = v.terminate();
    assert!(status.success(), "{log}");
    assert!(committed >= 1.0, "{log}");
    assert!(
        log.contains("rebuilding state from the last committed transaction"),
        "{log}"
    );
    // Read as a read_committed consumer would: without what the aborted
    // transactions wrote (the mock shows it; its label is in the log).
    let aborted = aborted_transactions(&log);
    assert!(aborted.len() >= 2, "{log}");
    let in_aborted = |r: &Record| {
        r.headers
            .get(vigil_kafka::TXN_HEADER)
            .is_some_and(|t| aborted.contains(t))
    };
    let dropped = read_until_on(
        &setup.broker(),
        &setup.alerts,
        setup.partitions,
        Duration::from_secs(5),
        |_| false,
    )
    .iter()
    .chain(&read_until_on(
        &setup.broker(),
        &setup.scores,
        setup.partitions,
        Duration::from_secs(5),
        |_| false,
    ))
    .filter(|r| in_aborted(r))
    .count();
    eprintln!("records of aborted transactions left out: {dropped}");
    assert_as_uninterrupted_reading(&setup, &events, &log, |r| {
        assert!(
            r.headers.contains_key(vigil_kafka::TXN_HEADER),
            "every record names its transaction"
        );
        !in_aborted(r)
    });
}

/// Labels of the transactions the log says were aborted.
fn aborted_transactions(log: &str) -> std::collections::BTreeSet<String> {
    log.lines()
        .filter(|l| l.contains("aborting it"))
        .filter_map(|l| {
            let at = l.find("transaction=")? + "transaction=".len();
            Some(l[at..].split_whitespace().next()?.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_transactions_loses_nothing_and_adds_nothing() {
    let cluster = MockCluster::new(1).unwrap();
    let setup = mock_setup(&cluster);
    let events = population(12, 60, setup.partitions);
    let records = encode_events(&events);
    let (first, second) = records.split_at(records.len() / 2);
    produce_on(&setup.broker(), &setup.input, first).await;
    add_offsets_errors(
        &cluster,
        1,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
    );
    let a = Vigil::start(&setup);
    a.wait_metric(ABORTED, WAIT, |n| n >= 1.0).await;
    a.wait_metric(COMMITTED, WAIT, |n| n >= 2.0).await;
    // A crash: whatever transaction is open stays uncommitted.
    a.kill();

    produce_on(&setup.broker(), &setup.input, second).await;
    add_offsets_errors(
        &cluster,
        1,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
    );
    let b = Vigil::start(&setup);
    b.wait_metric(ABORTED, WAIT, |n| n >= 1.0).await;
    wait_all_committed(&b, &setup).await;
    let (status, log) = b.terminate();
    assert!(status.success(), "{log}");
    assert_as_uninterrupted(&setup, &events, &log);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fenced_producer_stops_instead_of_writing_on() {
    let cluster = MockCluster::new(1).unwrap();
    let setup = mock_setup(&cluster);
    let records = encode_events(&population(6, 40, setup.partitions));
    produce_on(&setup.broker(), &setup.input, &records).await;
    // What the coordinator answers a producer whose epoch a newer one with
    // the same transactional id has bumped.
    add_offsets_errors(
        &cluster,
        1,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH,
    );
    let v = Vigil::start(&setup);
    let (status, log) = v.wait_exit(WAIT).await;
    assert!(!status.success(), "{log}");
    assert!(log.contains("transactional producer failed"), "{log}");
}
