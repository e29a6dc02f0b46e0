//! Scale-out against a real broker: a second instance joins while events
//! are in flight, takes partitions from the first (which finishes their
//! work first) and restores them, then leaves again. The final scores must
//! equal those of one
//! uninterrupted run on the same input (so nothing was lost or counted
//! twice in the restored state) and every expected alert must be published
//! at least once, with nothing unexpected.

mod support;

use std::time::Duration;

use support::*;

const READY: Duration = Duration::from_secs(90);
const READ: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread")]
async fn a_rebalance_with_events_in_flight_neither_loses_nor_double_counts() {
    let setup = scoring_setup(4);
    create_topic(&setup.input, setup.partitions).await;
    let events = population(24, 60, setup.partitions);
    let records = encode_events(&events);
    let (first, rest) = records.split_at(records.len() / 3);
    let (second, third) = rest.split_at(rest.len() / 2);

    let a = Vigil::start(&setup);
    a.wait_ready(READY).await;
    produce(&setup.input, first).await;
    a.wait_committed(&setup, first.len(), READ).await;
    // A second instance joins while more events arrive: the group takes
    // partitions from the first (which finishes and commits their work
    // first) and gives them to the second (which restores them).
    let b = Vigil::start(&setup);
    produce(&setup.input, second).await;
    b.wait_ready(READY).await;
    produce(&setup.input, third).await;
    a.wait_committed(&setup, records.len(), Duration::from_secs(120))
        .await;
    let (status_b, log_b) = b.terminate();
    // The first takes everything back (restoring what the second did) and
    // is then stopped: its graceful stop applies what waits in the reorder
    // buffers, as the uninterrupted run's end does.
    a.wait_partitions(setup.partitions, READY).await;
    let (status_a, log_a) = a.terminate();
    assert!(status_a.success() && status_b.success(), "{log_a}\n{log_b}");
    assert!(
        log_b.contains("state restored from the changelog"),
        "{log_b}"
    );
    assert_as_uninterrupted(&setup, &events, &format!("{log_a}\n---\n{log_b}"));
}

/// Two instances, one SIGKILLed mid-stream, on librdkafka's mock cluster:
/// Tansu 0.6 does not hand a dead member's partitions to the survivor
/// (after the session timeout it rebalanced, but the survivor got its own
/// partitions again and the dead member kept the rest), so this runs where
/// the group coordinator evicts a member that stops heartbeating. Both are
/// real `vigil run` processes reaching the mock over loopback, and the kill
/// is a real SIGKILL: nothing flushed, published, written or committed
/// after it. The survivor must take the dead member's partitions, restore
/// their state from the changelog (records ahead of the committed offsets
/// included) and end as one uninterrupted run would.
#[tokio::test(flavor = "multi_thread")]
async fn a_sigkilled_instance_s_partitions_move_to_the_survivor_with_their_state() {
    let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
    let mut setup = scoring_setup(4);
    setup.bootstrap = Some(cluster.bootstrap_servers());
    setup.create_missing = false;
    for t in [
        &setup.input,
        &setup.alerts,
        &setup.scores,
        &setup.offers,
        &setup.dlq,
        &setup.changelog,
    ] {
        cluster.create_topic(t, setup.partitions, 1).unwrap();
    }
    let broker = setup.broker();
    let events = population(24, 60, setup.partitions);
    let records = encode_events(&events);
    let (first, rest) = records.split_at(records.len() / 3);
    let (second, third) = rest.split_at(rest.len() / 2);

    produce_on(&broker, &setup.input, first).await;
    let a = Vigil::start(&setup);
    a.wait_ready(READY).await;
    a.wait_committed(&setup, first.len(), READ).await;
    let b = Vigil::start(&setup);
    b.wait_partitions(2, READY).await;
    a.wait_partitions(2, READY).await;
    // B works on its half of the second part, then dies mid-stream.
    produce_on(&broker, &setup.input, second).await;
    b.wait_metric("vigil_events_consumed_total", READ, |n| n > 0.0)
        .await;
    let b_log = b.log();
    b.kill();
    produce_on(&broker, &setup.input, third).await;
    // After the session timeout the group gives A everything.
    a.wait_partitions(setup.partitions, READY).await;
    a.wait_committed(&setup, records.len(), READ).await;
    let (status, log) = a.terminate();
    assert!(status.success(), "{log}");
    // Restored at start, after B joined and after B died.
    assert!(
        log.matches("state restored from the changelog").count() >= 3,
        "{log}"
    );
    assert_as_uninterrupted(&setup, &events, &format!("{log}\n---\n{b_log}"));
}
