//! Output records the broker refuses, on librdkafka's mock cluster: Tansu
//! cannot be told to refuse a produce request, the mock can
//! (`request_errors`). The errors are permanent ones (a record too
//! large), which librdkafka does not retry itself, so they reach vigil's
//! delivery callback: vigil must send the refused records again, and
//! when a record keeps failing, stop without committing the input it came
//! from, so that a restart delivers it.
//!
//! The instances run without a changelog (`state_rebuild = "earliest"`):
//! a refused changelog record stops vigil at once by design, and the mock
//! refuses requests in arrival order whatever their topic, so only
//! without one is every refused request an output's.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use support::*;

const READY: Duration = Duration::from_secs(60);
const READ: Duration = Duration::from_secs(120);
const REFUSED: RDKafkaRespErr = RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;

/// A setup on `cluster` without a changelog, its topics created (the mock
/// has no CreateTopics), and its input loaded with `events`.
async fn mock_setup(
    cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
    events: &[(i32, vigil_domain::PlayerEvent)],
) -> Setup {
    let mut s = Setup::new(2);
    s.bootstrap = Some(cluster.bootstrap_servers());
    s.create_missing = false;
    s.pipeline_extra = "state_rebuild = \"earliest\"\n".to_owned();
    for t in [
        &s.input,
        &s.alerts,
        &s.scores,
        &s.offers,
        &s.outcomes,
        &s.profiles,
        &s.dlq,
    ] {
        cluster.create_topic(t, s.partitions, 1).unwrap();
    }
    produce_on(&s.broker(), &s.input, &encode_events(events)).await;
    s
}

fn ids(alerts: &[vigil_domain::Alert]) -> BTreeSet<String> {
    alerts.iter().map(|a| a.alert_id.clone()).collect()
}

/// Reads the alerts topic until it holds every id of `want`.
fn published_alerts(setup: &Setup, want: &BTreeSet<String>) -> BTreeSet<String> {
    let got = read_until_on(
        &setup.broker(),
        &setup.alerts,
        setup.partitions,
        READ,
        |r| ids(&alerts_of(r)) == *want,
    );
    ids(&alerts_of(&got))
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_outputs_are_sent_again_and_none_is_lost() {
    let cluster = MockCluster::new(1).unwrap();
    let events = population(12, 60, 2);
    let setup = mock_setup(&cluster, &events).await;
    let want = ids(&expected_alerts(&events, setup.partitions));
    assert!(!want.is_empty());
    // The first three produce requests vigil sends are refused: fewer
    // than the attempts a record gets.
    cluster.request_errors(RDKafkaApiKey::Produce, &[REFUSED; 3]);

    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    let published = published_alerts(&setup, &want);
    let errors = vigil.metric("vigil_producer_errors_total").await;
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(published, want, "{log}");
    assert!(
        errors.is_some_and(|n| n >= 1.0),
        "refusals counted: {errors:?}"
    );
    assert!(
        log.contains("output delivery failed; sending again"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_refused_every_time_stop_vigil_uncommitted_and_a_restart_delivers_them() {
    let cluster = MockCluster::new(1).unwrap();
    let events = population(12, 60, 2);
    let setup = mock_setup(&cluster, &events).await;
    let want = ids(&expected_alerts(&events, setup.partitions));
    cluster.request_errors(RDKafkaApiKey::Produce, &[REFUSED; 10_000]);

    let vigil = Vigil::start(&setup);
    let (status, log) = vigil.wait_exit(READ).await;
    assert!(
        !status.success(),
        "vigil went on past refused outputs:\n{log}"
    );
    assert!(
        log.contains("could not be delivered after 5 attempts"),
        "the error names what failed:\n{log}"
    );
    let committed = setup.committed_total();
    // Every batch carries outputs (a player's first score at least) and
    // batches commit oldest first: the first was never delivered.
    assert_eq!(
        committed, 0,
        "input behind refused outputs committed:\n{log}"
    );

    // The broker takes records again: a new instance starts from the
    // committed offsets and delivers what the first could not.
    cluster.clear_request_errors(RDKafkaApiKey::Produce);
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    let published = published_alerts(&setup, &want);
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(published, want, "{log}");
}
