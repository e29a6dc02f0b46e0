//! The CRM's player profiles, joined like a table.
//!
//! Every instance reads the whole profiles topic (compacted, keyed by
//! player id): first to its end before it consumes any event, so alerts
//! and offers carry the latest profile from the start, then on every turn
//! for updates. Profiles go into one [`SharedProfiles`] that all partition
//! engines read, so the CRM may partition its topic as it likes. The
//! reader has no consumer group and commits nothing: the topic itself is
//! the table, re-read on every start.
//!
//! A record that cannot be read is counted and logged (by offset, never by
//! player) and skipped; it stays in the topic for the CRM to fix. A
//! tombstone (no value) removes the player's profile.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vigil_codec::output::Encoding;
use vigil_codec::retention::decode_profile;
use vigil_domain::SharedProfiles;

use crate::metrics as m;
use crate::restore::ReaderContext;

/// Why the profile table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesError {
    #[error("cannot create the profiles reader")]
    Client(#[source] KafkaError),
    #[error("cannot read the profiles topic `{topic}`")]
    Read {
        topic: String,
        #[source]
        error: KafkaError,
    },
}

/// The profiles topic, read into a shared table.
pub(crate) struct ProfileTable {
    consumer: BaseConsumer<ReaderContext>,
    encoding: Encoding,
    book: SharedProfiles,
}

impl std::fmt::Debug for ProfileTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileTable")
            .field("profiles", &self.book.read().len())
            .finish_non_exhaustive()
    }
}

impl ProfileTable {
    /// Reads every partition of `topic` to its end into `book`. Returns
    /// `None` if `shutdown` fired first.
    pub(crate) fn load(
        client: &ClientConfig,
        topic: &str,
        encoding: Encoding,
        book: SharedProfiles,
        shutdown: &CancellationToken,
    ) -> Result<Option<Self>, ProfilesError> {
        let started = Instant::now();
        let read_err = |error| ProfilesError::Read {
            topic: topic.to_owned(),
            error,
        };
        let mut config = client.clone();
        config
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("fetch.wait.max.ms", "100")
            .set(
                "fetch.queue.backoff.ms",
                crate::pipeline::FETCH_QUEUE_BACKOFF_MS,
            );
        let consumer: BaseConsumer<ReaderContext> = config
            .create_with_context(ReaderContext("profiles"))
            .map_err(ProfilesError::Client)?;
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(read_err)?;
        let partitions: Vec<i32> = md
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(read_err)?;
        }
        consumer.assign(&tpl).map_err(read_err)?;
        let table = ProfileTable {
            consumer,
            encoding,
            book,
        };
        let mut reading = partitions;
        let mut read = 0u64;
        while !reading.is_empty() {
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            match table.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(msg)) => {
                    read += 1;
                    table.apply(&msg);
                }
                Some(Err(KafkaError::PartitionEOF(p))) => reading.retain(|&r| r != p),
                Some(Err(e)) => tracing::warn!(error = %e, "profiles read error; retrying"),
            }
        }
        let profiles = table.book.read().len();
        metrics::gauge!(m::PROFILES_LOADED).set(profiles as f64);
        tracing::info!(
            records = read,
            profiles,
            seconds = started.elapsed().as_secs_f64(),
            "profiles loaded"
        );
        Ok(Some(table))
    }

    /// Applies the updates that arrived since the last call (at most
    /// `max`), without waiting.
    pub(crate) fn poll_updates(&self, max: usize) {
        let mut n = 0;
        while n < max {
            match self.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Ok(msg)) => {
                    n += 1;
                    self.apply(&msg);
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "profiles read error");
                    break;
                }
            }
        }
        if n > 0 {
            metrics::gauge!(m::PROFILES_LOADED).set(self.book.read().len() as f64);
        }
    }

    fn apply(&self, msg: &BorrowedMessage<'_>) {
        let Some(payload) = msg.payload() else {
            // A tombstone: the key is the player id.
            if let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) {
                self.book.write().remove_player(key);
                metrics::counter!(m::PROFILE_UPDATES, "result" => "removed").increment(1);
            }
            return;
        };
        match decode_profile(payload, self.encoding) {
            Ok(r) => {
                self.book
                    .write()
                    .set(&r.brand, &r.player_id, Some(r.profile));
                metrics::counter!(m::PROFILE_UPDATES, "result" => "applied").increment(1);
            }
            Err(e) => {
                metrics::counter!(m::PROFILE_UPDATES, "result" => "rejected").increment(1);
                tracing::warn!(
                    code = e.code(),
                    error = %e,
                    partition = msg.partition(),
                    offset = msg.offset(),
                    "unreadable profile record skipped"
                );
            }
        }
    }
}
