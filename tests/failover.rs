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
