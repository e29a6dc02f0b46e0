//! Taking over a partition: its players' state read back from the
//! changelog before any of its new events are handled.
//!
//! The changelog is read from its start to the end offset it had when the
//! restore began; nobody else writes to it then, as the partition is ours.
//! Only the latest record per key counts (as after compaction, which the
//! broker may or may not have done yet).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vigil_codec::changelog::{self, Entry};
use vigil_domain::{Engine, EngineConfig};

use crate::metrics as m;

/// Why a restore did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("cannot create the changelog reader")]
    Client(#[source] KafkaError),
    #[error("cannot read the changelog `{topic}`")]
    Read {
        topic: String,
        #[source]
        error: KafkaError,
    },
    #[error("engine settings rejected")]
    Engine(#[from] vigil_domain::ConfigError),
}

/// Callbacks of a reader that reads topics to their end (the changelog,
/// the profiles): end-of-partition is how it knows it is done, not an
/// error worth a log line. `0` names the reader in the log.
pub(crate) struct ReaderContext(pub &'static str);

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::warn!(%error, reason, reader = self.0, "topic reader error");
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// An input partition to restore, and where its input will be read from.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub topic: Arc<str>,
    pub partition: i32,
    pub committed: Option<i64>,
}

/// Players whose records are exact at an input offset beyond the one the
/// input is read from: their events below it are already in the restored
/// engine and must only move its clock ([`vigil_domain::Engine::skip`]).
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// By changelog key.
    through: HashMap<Vec<u8>, i64>,
    /// No player holds events at or beyond this offset.
    pub until: i64,
}

impl Held {
    /// Whether the event of `(brand, player_id)` at `offset` is already held.
    pub fn holds(&self, topic: &str, brand: &str, player_id: &str, offset: i64) -> bool {
        offset < self.until
            && self
                .through
                .get(&changelog::player_key(topic, brand, player_id))
                .is_some_and(|&t| offset < t)
    }
}

/// A restored partition.
#[derive(Debug)]
pub(crate) struct Restored {
    pub engine: Engine,
    pub held: Held,
}

/// Restored engines by input topic and partition.
pub(crate) type RestoredParts = HashMap<(Arc<str>, i32), Restored>;

/// The latest key and value bytes per key, by changelog partition.
type Latest = HashMap<i32, HashMap<Box<[u8]>, Box<[u8]>>>;

/// What a restore read, for the log and metrics.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Summary {
    pub records: u64,
    pub bytes: u64,
    pub players: u64,
    pub rejected: u64,
    /// Records of transactions that did not commit, passed over.
    pub uncommitted: u64,
}

/// Whether a changelog record is exact at an input offset beyond the
/// committed one of its input partition (see [`restore`]'s `exact`).
/// Unreadable records are left to the normal path, which reports them.
fn beyond_committed(wanted: &[Wanted], p: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> bool {
    let (Some(key), Some(value)) = (key, value) else {
        return false;
    };
    let Ok(k) = changelog::decode_key(key) else {
        return false;
    };
    let Some(w) = wanted
        .iter()
        .find(|w| w.partition == p && *w.topic == *k.input_topic)
    else {
        return false;
    };
    changelog::decode_value(&k, value).is_ok_and(|(through, _)| through > w.committed.unwrap_or(0))
}

/// Reads the changelog partitions of `wanted` and builds one engine per
/// input partition. Returns `None` if `shutdown` fired first.
///
/// `exact` (the `exactly_once` mode): a record's input offset never
/// exceeds the offset committed in the same transaction, so a record exact
/// beyond the committed offset belongs to a transaction that did not
/// commit. Such records are passed over (the key's previous record
/// counts), whether or not the broker hid them: `read_committed` does on a
/// real broker, librdkafka's mock cluster writes no abort markers.
pub(crate) fn restore(
    client: &ClientConfig,
    changelog_topic: &str,
    wanted: &[Wanted],
    engine: &EngineConfig,
    exact: bool,
    shutdown: &CancellationToken,
) -> Result<Option<RestoredParts>, RestoreError> {
    let started = Instant::now();
    let read_err = |error| RestoreError::Read {
        topic: changelog_topic.to_owned(),
        error,
    };
    let mut restored = HashMap::new();
    for w in wanted {
        restored.insert(
            (w.topic.clone(), w.partition),
            Restored {
                engine: Engine::new(engine.clone())?,
                held: Held::default(),
            },
        );
    }
    let mut partitions: Vec<i32> = wanted.iter().map(|w| w.partition).collect();
    partitions.sort_unstable();
    partitions.dedup();

    let mut config = client.clone();
    config
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .set(
            "fetch.queue.backoff.ms",
            crate::pipeline::FETCH_QUEUE_BACKOFF_MS,
        )
        .set("max.partition.fetch.bytes", "8388608");
    let consumer: BaseConsumer<ReaderContext> = config
        .create_with_context(ReaderContext("changelog"))
        .map_err(RestoreError::Client)?;
    // The end of each partition is where the reader reaches end-of-partition
    // (the high watermark of a fetch): brokers' ListOffsets answers can lag
    // (Tansu 0.6 reports the start of the last batch).
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        tpl.add_partition_offset(changelog_topic, p, Offset::Beginning)
            .map_err(read_err)?;
    }
    consumer.assign(&tpl).map_err(read_err)?;
    let mut reading: Vec<i32> = partitions.clone();
    let mut latest = Latest::new();
    let mut summary = Summary::default();
    while !reading.is_empty() {
        if shutdown.is_cancelled() {
            return Ok(None);
        }
        let Some(polled) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let msg = match polled {
            Ok(msg) => msg,
            Err(KafkaError::PartitionEOF(p)) => {
                reading.retain(|&r| r != p);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "changelog read error; retrying");
                continue;
            }
        };
        let p = msg.partition();
        summary.records += 1;
        if exact && beyond_committed(wanted, p, msg.key(), msg.payload()) {
            summary.uncommitted += 1;
            continue;
        }
        if let Some(key) = msg.key() {
            let part = latest.entry(p).or_default();
            match msg.payload() {
                Some(v) => {
                    summary.bytes += (key.len() + v.len()) as u64;
                    part.insert(key.into(), v.into());
                }
                None => {
                    part.remove(key);
                }
            }
        }
    }
    drop(consumer);

    for (p, records) in latest {
        for (key, value) in records {
            let decoded = changelog::decode_key(&key).and_then(|k| {
                let v = changelog::decode_value(&k, &value)?;
                Ok((k.input_topic, v))
            });
            let (topic, (through, entry)) = match decoded {
                Ok(d) => d,
                Err(e) => {
                    summary.rejected += 1;
                    tracing::error!(error = %e, partition = p, "unreadable changelog record skipped");
                    continue;
                }
            };
            let Some(w) = wanted
                .iter()
                .find(|w| w.partition == p && *w.topic == *topic)
            else {
                continue;
            };
            let Some(r) = restored.get_mut(&(w.topic.clone(), p)) else {
                continue;
            };
            match entry {
                Entry::Clock(c) => r.engine.restore_clock(c),
                Entry::Player(rec) => {
                    if through > w.committed.unwrap_or(0) {
                        r.held.through.insert(key.into_vec(), through);
                        r.held.until = r.held.until.max(through);
                    }
                    match r.engine.restore(*rec) {
                        Ok(()) => summary.players += 1,
                        Err(e) => {
                            summary.rejected += 1;
                            tracing::error!(error = %e, partition = p, "changelog record not restorable; skipped");
                        }
                    }
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    metrics::histogram!(m::RESTORE_SECONDS).record(seconds);
    metrics::counter!(m::RESTORED_PLAYERS).increment(summary.players);
    metrics::counter!(m::RESTORE_READ_BYTES).increment(summary.bytes);
    if summary.rejected > 0 {
        metrics::counter!(m::CHANGELOG_REJECTED).increment(summary.rejected);
    }
    tracing::info!(
        partitions = wanted.len(),
        players = summary.players,
        records = summary.records,
        bytes = summary.bytes,
        rejected = summary.rejected,
        uncommitted = summary.uncommitted,
        seconds,
        "state restored from the changelog"
    );
    Ok(Some(restored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_domain::PlayerRecord;

    fn wanted(committed: Option<i64>) -> Vec<Wanted> {
        vec![Wanted {
            topic: "events".into(),
            partition: 3,
            committed,
        }]
    }

    #[test]
    fn records_exact_beyond_the_committed_offset_are_uncommitted() {
        let rec = PlayerRecord {
            player_id: "p1".into(),
            brand: "b".into(),
            state: None,
            pending: Vec::new(),
        };
        let key = changelog::player_key("events", "b", "p1");
        let at = |through| changelog::encode_player(&rec, through);
        let beyond = |committed, through: i64, partition| {
            beyond_committed(
                &wanted(committed),
                partition,
                Some(&key),
                Some(&at(through)),
            )
        };
        assert!(beyond(Some(10), 11, 3));
        assert!(!beyond(Some(10), 10, 3), "exact at the committed offset");
        assert!(!beyond(Some(10), 4, 3));
        assert!(beyond(None, 1, 3), "nothing committed yet");
        assert!(!beyond(Some(10), 11, 2), "another partition's record");
        let clock = changelog::encode_clock(
            vigil_domain::EngineClock {
                max_seen: vigil_domain::Timestamp::from_millis(5),
                clock: vigil_domain::Timestamp::from_millis(5),
            },
            11,
        );
        let clock_key = changelog::clock_key("events");
        assert!(beyond_committed(
            &wanted(Some(10)),
            3,
            Some(&clock_key),
            Some(&clock)
        ));
        // Tombstones and unreadable records are left to the normal path.
        assert!(!beyond_committed(&wanted(Some(10)), 3, Some(&key), None));
        assert!(!beyond_committed(
            &wanted(Some(10)),
            3,
            Some(b"junk"),
            Some(b"junk")
        ));
    }
}
