//! Every metric vigil exports, named and described in one place.
//!
//! Prometheus conventions: `vigil_` prefix, base units in the name
//! (`_seconds`), `_total` on counters, and only bounded labels (event type,
//! reject reason, alert kind, band, topic and partition of our own
//! configuration). Never a player id.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use vigil_domain::offer::Skip;
use vigil_domain::{AlertKind, Band, Channel, EventType, OfferStatus, Reject, Suppression};

pub const EVENTS_CONSUMED: &str = "vigil_events_consumed_total";
pub const EVENTS_REJECTED: &str = "vigil_events_rejected_total";
pub const EVENTS_DUPLICATE: &str = "vigil_events_duplicate_total";
pub const EVENTS_LATE: &str = "vigil_events_late_total";
pub const DEAD_LETTERED: &str = "vigil_dead_letter_messages_total";
pub const ALERTS_PUBLISHED: &str = "vigil_alerts_published_total";
pub const SCORES_PUBLISHED: &str = "vigil_scores_published_total";
pub const PLAYERS_TRACKED: &str = "vigil_players_tracked";
pub const PLAYERS_BY_BAND: &str = "vigil_players_by_band";
pub const EVENT_TO_PUBLISH: &str = "vigil_event_to_publish_seconds";
pub const RECEIVE_TO_PUBLISH: &str = "vigil_receive_to_publish_seconds";
pub const CONSUMER_LAG: &str = "vigil_consumer_lag_messages";
pub const PARTITIONS_ASSIGNED: &str = "vigil_partitions_assigned";
pub const PARTITIONS_CATCHING_UP: &str = "vigil_partitions_catching_up";
pub const REBALANCES: &str = "vigil_rebalances_total";
pub const PRODUCER_ERRORS: &str = "vigil_producer_errors_total";
pub const KAFKA_ERRORS: &str = "vigil_kafka_errors_total";
pub const COMMITS: &str = "vigil_offset_commits_total";
pub const BATCHES: &str = "vigil_batches_total";
pub const BATCH_SECONDS: &str = "vigil_batch_duration_seconds";
pub const PENDING_EVENTS: &str = "vigil_reorder_buffer_events";
pub const CHANGELOG_RECORDS: &str = "vigil_changelog_records_total";
pub const CHANGELOG_BYTES: &str = "vigil_changelog_bytes_total";
pub const CHANGELOG_REJECTED: &str = "vigil_changelog_records_rejected_total";
pub const RESTORE_SECONDS: &str = "vigil_state_restore_duration_seconds";
pub const RESTORED_PLAYERS: &str = "vigil_state_restored_players_total";
pub const RESTORE_READ_BYTES: &str = "vigil_state_restore_read_bytes_total";
pub const PARTITIONS_RESTORING: &str = "vigil_partitions_restoring";
pub const OFFERS_PUBLISHED: &str = "vigil_offers_published_total";
pub const OFFERS_SUPPRESSED: &str = "vigil_offers_suppressed_total";
pub const OFFERS_SKIPPED: &str = "vigil_offers_skipped_total";
pub const OUTCOMES_PUBLISHED: &str = "vigil_outcomes_published_total";
pub const OFFER_UPLIFT: &str = "vigil_offer_uplift_ratio";
pub const PROFILES_LOADED: &str = "vigil_profiles_loaded";
pub const PROFILE_UPDATES: &str = "vigil_profile_updates_total";
pub const CONFIG_RELOADS: &str = "vigil_config_reloads_total";
pub const CONFIG_GENERATION: &str = "vigil_config_generation";
pub const CONFIG_LAST_RELOAD: &str = "vigil_config_last_reload_timestamp_seconds";

/// Outcomes of a configuration reload: `applied` (new engine settings in
/// force), `invalid` (refused, the old set stays), `unchanged` (nothing to
/// apply live).
pub const RELOAD_RESULTS: [&str; 3] = ["applied", "invalid", "unchanged"];
pub const TRANSACTIONS: &str = "vigil_transactions_total";
pub const BUILD_INFO: &str = "vigil_build_info";

/// Histogram buckets for latencies, in seconds: 1 ms to 5 min. Without
/// them the exporter would publish summaries, which cannot be aggregated
/// across instances.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Registers descriptions with the installed recorder.
pub fn describe() {
    describe_counter!(
        EVENTS_CONSUMED,
        Unit::Count,
        "Input messages decoded into events, by event type."
    );
    describe_counter!(
        EVENTS_REJECTED,
        Unit::Count,
        "Input messages refused, by reason code."
    );
    describe_counter!(
        EVENTS_DUPLICATE,
        Unit::Count,
        "Events dropped as repeats of an applied event id."
    );
    describe_counter!(
        EVENTS_LATE,
        Unit::Count,
        "Events that arrived after the watermark passed them."
    );
    describe_counter!(
        DEAD_LETTERED,
        Unit::Count,
        "Messages written to the dead-letter topic, by reason code."
    );
    describe_counter!(
        ALERTS_PUBLISHED,
        Unit::Count,
        "Alerts acknowledged by the broker, by kind and band."
    );
    describe_counter!(
        SCORES_PUBLISHED,
        Unit::Count,
        "Score records acknowledged by the broker, by band."
    );
    describe_gauge!(PLAYERS_TRACKED, Unit::Count, "Players held in memory.");
    describe_gauge!(
        PLAYERS_BY_BAND,
        Unit::Count,
        "Players held in memory, by current band."
    );
    describe_histogram!(
        EVENT_TO_PUBLISH,
        Unit::Seconds,
        "From the event time of an output to its acknowledgement."
    );
    describe_histogram!(
        RECEIVE_TO_PUBLISH,
        Unit::Seconds,
        "From receiving a batch to the acknowledgement of its outputs."
    );
    describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Messages behind the partition's high watermark (0 once revoked)."
    );
    describe_gauge!(
        PARTITIONS_ASSIGNED,
        Unit::Count,
        "Input partitions assigned to this instance."
    );
    describe_gauge!(
        PARTITIONS_CATCHING_UP,
        Unit::Count,
        "Assigned partitions still rebuilding state."
    );
    describe_counter!(
        REBALANCES,
        Unit::Count,
        "Consumer group rebalances, by kind (assign, revoke)."
    );
    describe_counter!(
        PRODUCER_ERRORS,
        Unit::Count,
        "Output deliveries that failed, by topic."
    );
    describe_counter!(
        KAFKA_ERRORS,
        Unit::Count,
        "Client errors reported by librdkafka, by code."
    );
    describe_counter!(COMMITS, Unit::Count, "Offset commits, by result.");
    describe_counter!(BATCHES, Unit::Count, "Batches processed.");
    describe_histogram!(
        BATCH_SECONDS,
        Unit::Seconds,
        "Time to process a batch and get its outputs acknowledged."
    );
    describe_gauge!(
        PENDING_EVENTS,
        Unit::Count,
        "Events held in reorder buffers, waiting for the watermark."
    );
    describe_counter!(
        CHANGELOG_RECORDS,
        Unit::Count,
        "Player and clock records written to the changelog and acknowledged."
    );
    describe_counter!(
        CHANGELOG_BYTES,
        Unit::Bytes,
        "Key and value bytes of acknowledged changelog records."
    );
    describe_counter!(
        CHANGELOG_REJECTED,
        Unit::Count,
        "Changelog records that could not be read back during a restore (their players restart from later events)."
    );
    describe_histogram!(
        RESTORE_SECONDS,
        Unit::Seconds,
        "Time to restore newly assigned partitions from the changelog."
    );
    describe_counter!(
        RESTORED_PLAYERS,
        Unit::Count,
        "Players restored from the changelog."
    );
    describe_counter!(
        RESTORE_READ_BYTES,
        Unit::Bytes,
        "Changelog bytes read while restoring."
    );
    describe_gauge!(
        PARTITIONS_RESTORING,
        Unit::Count,
        "Assigned partitions whose state is being restored."
    );
    describe_counter!(
        OFFERS_PUBLISHED,
        Unit::Count,
        "Offer records acknowledged by the broker, by status (sent, held_out, suppressed) and channel."
    );
    describe_counter!(
        OFFERS_SUPPRESSED,
        Unit::Count,
        "Offers a rule matched but a safeguard or opt-out forbade, by reason."
    );
    describe_counter!(
        OFFERS_SKIPPED,
        Unit::Count,
        "Offers a rule matched but a cooldown or frequency cap held back, by reason."
    );
    describe_counter!(
        OUTCOMES_PUBLISHED,
        Unit::Count,
        "Outcome records acknowledged, by group (alert, treated, held_out) and whether the player recovered."
    );
    describe_gauge!(
        OFFER_UPLIFT,
        Unit::Count,
        "Recovery rate of treated players minus that of held-out players, over this instance's outcomes (0 until both groups have one)."
    );
    describe_gauge!(
        PROFILES_LOADED,
        Unit::Count,
        "Player profiles in the joined table."
    );
    describe_counter!(
        PROFILE_UPDATES,
        Unit::Count,
        "Profile records read, by result (applied, removed, rejected)."
    );
    describe_counter!(
        CONFIG_RELOADS,
        Unit::Count,
        "Configuration reloads (SIGHUP or file change), by result: applied, invalid (old set kept), unchanged."
    );
    describe_gauge!(
        CONFIG_GENERATION,
        Unit::Count,
        "Engine settings applied live since start (0: the set the process started with)."
    );
    describe_gauge!(
        CONFIG_LAST_RELOAD,
        Unit::Seconds,
        "Unix time the engine settings in force were swapped in (0: none since start)."
    );
    describe_counter!(
        TRANSACTIONS,
        Unit::Count,
        "Kafka transactions (exactly_once mode), by result: committed, or aborted (the batch is redone from the last committed state)."
    );
    describe_gauge!(
        BUILD_INFO,
        Unit::Count,
        "Always 1. Labels: the release (version) and the changelog record version it writes and reads (changelog_version); a rollback across a change of the latter needs pipeline.state_rebuild = \"earliest\" once."
    );
}

/// Creates, at zero, every series whose labels are known before the first
/// event, so `/metrics` lists them from the start: dashboards and alert
/// rules see 0 rather than no data, and `rate()` has a starting point.
/// Series labelled by partition appear on assignment. Adds nothing to
/// values already counted, so calling it again is harmless.
pub fn register_known_series(output_topics: &[&str]) {
    use metrics::{counter, gauge, histogram};
    for ty in EventType::ALL {
        counter!(EVENTS_CONSUMED, "type" => ty.as_str()).increment(0);
    }
    for reason in Reject::CODES {
        counter!(EVENTS_REJECTED, "reason" => reason).increment(0);
        counter!(DEAD_LETTERED, "reason" => reason).increment(0);
    }
    counter!(EVENTS_DUPLICATE).increment(0);
    counter!(EVENTS_LATE).increment(0);
    for band in Band::ALL {
        for kind in AlertKind::ALL {
            counter!(ALERTS_PUBLISHED, "kind" => kind.as_str(), "band" => band.as_str())
                .increment(0);
        }
        counter!(SCORES_PUBLISHED, "band" => band.as_str()).increment(0);
        gauge!(PLAYERS_BY_BAND, "band" => band.as_str()).increment(0.0);
    }
    gauge!(PLAYERS_TRACKED).increment(0.0);
    for output in ["alert", "score"] {
        let _ = histogram!(EVENT_TO_PUBLISH, "output" => output);
        let _ = histogram!(RECEIVE_TO_PUBLISH, "output" => output);
    }
    gauge!(PARTITIONS_ASSIGNED).increment(0.0);
    gauge!(PARTITIONS_CATCHING_UP).increment(0.0);
    for kind in ["assign", "revoke"] {
        counter!(REBALANCES, "kind" => kind).increment(0);
    }
    for topic in output_topics {
        counter!(PRODUCER_ERRORS, "topic" => topic.to_string()).increment(0);
    }
    counter!(KAFKA_ERRORS, "code" => "consume").increment(0);
    for result in ["ok", "error"] {
        counter!(COMMITS, "result" => result).increment(0);
    }
    counter!(BATCHES).increment(0);
    let _ = histogram!(BATCH_SECONDS);
    gauge!(PENDING_EVENTS).increment(0.0);
    counter!(CHANGELOG_RECORDS).increment(0);
    counter!(CHANGELOG_BYTES).increment(0);
    counter!(CHANGELOG_REJECTED).increment(0);
    let _ = histogram!(RESTORE_SECONDS);
    counter!(RESTORED_PLAYERS).increment(0);
    counter!(RESTORE_READ_BYTES).increment(0);
    gauge!(PARTITIONS_RESTORING).increment(0.0);
    for status in OfferStatus::ALL {
        for channel in Channel::ALL {
            counter!(OFFERS_PUBLISHED, "status" => status.as_str(), "channel" => channel.as_str())
                .increment(0);
        }
    }
    for reason in Suppression::ALL {
        counter!(OFFERS_SUPPRESSED, "reason" => reason.as_str()).increment(0);
    }
    for reason in Skip::ALL {
        counter!(OFFERS_SKIPPED, "reason" => reason.as_str()).increment(0);
    }
    for group in ["alert", "treated", "held_out"] {
        for recovered in ["true", "false"] {
            counter!(OUTCOMES_PUBLISHED, "group" => group, "recovered" => recovered).increment(0);
        }
    }
    gauge!(OFFER_UPLIFT).increment(0.0);
    gauge!(PROFILES_LOADED).increment(0.0);
    for result in ["applied", "removed", "rejected"] {
        counter!(PROFILE_UPDATES, "result" => result).increment(0);
    }
    for output in ["offer", "outcome"] {
        let _ = histogram!(EVENT_TO_PUBLISH, "output" => output);
        let _ = histogram!(RECEIVE_TO_PUBLISH, "output" => output);
    }
    for result in RELOAD_RESULTS {
        counter!(CONFIG_RELOADS, "result" => result).increment(0);
    }
    gauge!(CONFIG_GENERATION).increment(0.0);
    gauge!(CONFIG_LAST_RELOAD).increment(0.0);
    for result in ["committed", "aborted"] {
        counter!(TRANSACTIONS, "result" => result).increment(0);
    }
    // What a rolling upgrade or a rollback needs to see per instance:
    // which release runs, and which changelog records it can read.
    gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "changelog_version" => vigil_codec::changelog::VERSION.to_string()
    )
    .set(1.0);
}

/// Outcomes of offers seen by this instance: treated and held out, each
/// `[recovered, all]`.
static OFFER_OUTCOMES: [[std::sync::atomic::AtomicU64; 2]; 2] = [
    [
        std::sync::atomic::AtomicU64::new(0),
        std::sync::atomic::AtomicU64::new(0),
    ],
    [
        std::sync::atomic::AtomicU64::new(0),
        std::sync::atomic::AtomicU64::new(0),
    ],
];

/// Counts an acknowledged outcome and updates the uplift gauge: recovery
/// rate of treated players minus that of held-out ones.
pub(crate) fn record_outcome(group: &str, recovered: bool) {
    use std::sync::atomic::Ordering::Relaxed;
    let g = match group {
        "treated" => 0,
        "held_out" => 1,
        _ => return,
    };
    if recovered {
        OFFER_OUTCOMES[g][0].fetch_add(1, Relaxed);
    }
    OFFER_OUTCOMES[g][1].fetch_add(1, Relaxed);
    let rate = |g: usize| {
        let all = OFFER_OUTCOMES[g][1].load(Relaxed);
        (all > 0).then(|| OFFER_OUTCOMES[g][0].load(Relaxed) as f64 / all as f64)
    };
    if let (Some(t), Some(h)) = (rate(0), rate(1)) {
        metrics::gauge!(OFFER_UPLIFT).set(t - h);
    }
}
