//! `processing.guarantee = "exactly_once"`: each batch's outputs, the
//! changelog records of the players it changed and its input offsets
//! commit atomically, in one Kafka transaction (consume-transform-produce).
//!
//! Design (KIP-447, Apache Kafka 2.5+): one transactional producer per
//! instance, whatever partitions it owns; the offsets go into the
//! transaction with the consumer's group metadata
//! (`send_offsets_to_transaction`), so the group coordinator refuses them
//! from a member of an older generation: a zombie (an instance the group
//! gave up on, still running) cannot commit, its transaction aborts and
//! read_committed consumers never see its outputs. A producer fenced by
//! another with the same `transactional.id` is a fatal error: the pipeline
//! stops writing at once and exits, and the restart joins the group again
//! with a new producer.
//!
//! A batch is sent and committed before the next is read: no pipelining
//! of acknowledgements as in at-least-once mode, so throughput is lower.
//!
//! After an abort the engines have moved past what is committed: every
//! owned partition's state is dropped and restored from the changelog as
//! the last committed transaction left it (records exact beyond the
//! committed offset are passed over, see `restore`), and the consumer is
//! sought back to the committed offsets, so the batch is redone, in a new
//! transaction, exactly as it would have run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use super::{Core, PipelineError, PipelineSettings, now_millis};
use crate::context::{Assigned, VigilContext};
use crate::metrics as m;

/// An input partition.
type PartKey = (Arc<str>, i32);

/// How long a seek back to the committed offsets may take.
const SEEK_TIMEOUT: Duration = Duration::from_secs(10);

/// The producer's `transactional.id`: the configured one, or one unique to
/// this process (`<group>-<host>-<pid>`). Uniqueness is what correctness
/// needs (two live producers with one id fence each other); a stable id
/// only makes a restart abort its predecessor's open transaction sooner.
pub(super) fn transactional_id(s: &PipelineSettings) -> String {
    if !s.pipeline.transactional_id.is_empty() {
        return s.pipeline.transactional_id.clone();
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "vigil".to_owned());
    format!("{}-{host}-{}", s.kafka.group_id, std::process::id())
}

/// Names the transactions of this instance: every record a transaction
/// writes carries `vigil.txn: <transactional id>/<sequence>`, and an abort
/// is logged with the same label, so what an aborted transaction wrote can
/// be told apart where the broker does not (a read_uncommitted consumer,
/// or a broker without transaction markers such as librdkafka's mock).
#[derive(Debug)]
pub(super) struct Transactions {
    id: String,
    seq: u64,
    /// Aborts since the last commit: a failure that lasts (a missing ACL,
    /// a broker refusing writes) is retried with growing pauses rather
    /// than in a tight abort-and-restore loop.
    aborts_in_a_row: u32,
}

/// Pause before redoing a batch after `n` aborts in a row: 100 ms,
/// doubling, at most 30 s (well inside `max.poll.interval.ms`).
fn abort_backoff(n: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << n.saturating_sub(1).min(9)))
        .min(Duration::from_secs(30))
}

/// The header naming the transaction that wrote a record.
pub const TXN_HEADER: &str = "vigil.txn";

impl Transactions {
    pub(super) fn new(s: &PipelineSettings) -> Self {
        Transactions {
            id: transactional_id(s),
            seq: 0,
            aborts_in_a_row: 0,
        }
    }
}

/// How a transaction failed.
enum Failure {
    /// Abort, rebuild from the last committed state and go on.
    Abortable(String),
    /// The producer cannot go on (fenced, or no transaction support).
    Fatal(String),
}

fn classify(e: KafkaError) -> Failure {
    match &e {
        KafkaError::Transaction(t) if t.is_fatal() => Failure::Fatal(e.to_string()),
        _ => Failure::Abortable(e.to_string()),
    }
}

fn fatal(last: String) -> PipelineError {
    PipelineError::Transaction { last }
}

impl Core {
    /// Sends what was produced since the last call and commits it with the
    /// input offsets, in one transaction. On an abort the work is redone
    /// from the last committed state when `rebuild` (in a rebalance, the
    /// partitions are being given up and the next owner redoes it).
    pub(super) fn transact(
        &mut self,
        consumer: &BaseConsumer<VigilContext>,
        received: Instant,
        rebuild: bool,
    ) -> Result<(), PipelineError> {
        let before: Vec<(PartKey, Option<i64>)> = self
            .parts
            .iter()
            .map(|(k, p)| (k.clone(), p.committed))
            .collect();
        let mut records = std::mem::take(&mut self.outbox);
        if self.use_changelog {
            records.extend(self.changelog_records());
        }
        let offsets = self.commit_positions();
        if records.is_empty() && offsets.count() == 0 {
            return Ok(());
        }
        self.transactions.seq += 1;
        let label = format!("{}/{}", self.transactions.id, self.transactions.seq);
        for r in &mut records {
            r.headers
                .push((TXN_HEADER, label.clone().into_bytes().into()));
        }
        let error = match self.run_transaction(consumer, records, &offsets, received) {
            Ok(()) => {
                self.transactions.aborts_in_a_row = 0;
                metrics::counter!(m::TRANSACTIONS, "result" => "committed").increment(1);
                consumer.context().committed_in_transaction(&offsets);
                return Ok(());
            }
            Err(Failure::Fatal(e)) => return Err(fatal(e)),
            Err(Failure::Abortable(e)) => e,
        };
        tracing::warn!(%error, transaction = %label, "transaction failed; aborting it and redoing the batch from the last committed state");
        self.abort()?;
        metrics::counter!(m::TRANSACTIONS, "result" => "aborted").increment(1);
        self.transactions.aborts_in_a_row += 1;
        let pause = abort_backoff(self.transactions.aborts_in_a_row);
        if self.transactions.aborts_in_a_row > 1 {
            tracing::warn!(
                aborts_in_a_row = self.transactions.aborts_in_a_row,
                pause = ?pause,
                "transactions keep failing; pausing before the next try"
            );
        }
        // Interrupted by shutdown: nothing is lost, the next start redoes it.
        let until = Instant::now() + pause;
        while Instant::now() < until && !self.shutdown.is_cancelled() {
            std::thread::sleep(
                Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())),
            );
        }
        for (key, committed) in before {
            if let Some(p) = self.parts.get_mut(&key) {
                p.committed = committed;
            }
        }
        if rebuild {
            self.rebuild(consumer)?;
        }
        Ok(())
    }

    fn run_transaction(
        &mut self,
        consumer: &BaseConsumer<VigilContext>,
        records: Vec<super::OutRecord>,
        offsets: &TopicPartitionList,
        received: Instant,
    ) -> Result<(), Failure> {
        let timeout = self.settings.pipeline.delivery_timeout;
        self.producer.begin_transaction().map_err(classify)?;
        let acks = Arc::new(super::delivery::Acks::default());
        for (index, record) in records.iter().enumerate() {
            self.send(record, &acks, index as u32).map_err(classify)?;
        }
        if offsets.count() > 0 {
            let group = consumer
                .group_metadata()
                .ok_or_else(|| Failure::Abortable("consumer has no group metadata".into()))?;
            self.producer
                .send_offsets_to_transaction(offsets, &group, timeout)
                .map_err(classify)?;
        }
        // Commit flushes every record first; a retriable failure (a
        // timeout) may be retried with the same call.
        let mut attempts = 0;
        loop {
            match self.producer.commit_transaction(timeout) {
                Ok(()) => break,
                Err(KafkaError::Transaction(t)) if t.is_retriable() && attempts < 3 => {
                    attempts += 1;
                    tracing::warn!(error = %t, attempts, "transaction commit not confirmed yet; retrying");
                }
                Err(e) => return Err(classify(e)),
            }
        }
        // Committed: every record is written (the commit flushed them).
        self.published
            .acknowledged(&records, received.elapsed().as_secs_f64(), now_millis());
        Ok(())
    }

    /// Aborts the open transaction (retrying while the broker is only
    /// slow); a producer that cannot abort cannot go on.
    fn abort(&mut self) -> Result<(), PipelineError> {
        let timeout = self.settings.pipeline.delivery_timeout;
        let mut attempts = 0;
        loop {
            match self.producer.abort_transaction(timeout) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Transaction(t)) if t.is_retriable() && attempts < 3 => {
                    attempts += 1;
                    tracing::warn!(error = %t, attempts, "transaction abort not confirmed yet; retrying");
                }
                Err(e) => return Err(fatal(e.to_string())),
            }
        }
    }

    /// Drops the state of every owned partition, restores it from the
    /// changelog as committed and seeks the consumer back to the committed
    /// offsets. A seek that fails stops the pipeline: going on would skip
    /// the events between the committed offset and the current position.
    fn rebuild(&mut self, consumer: &BaseConsumer<VigilContext>) -> Result<(), PipelineError> {
        let owned: Vec<Assigned> = self
            .parts
            .iter()
            .map(|((topic, partition), p)| Assigned {
                topic: topic.to_string(),
                partition: *partition,
                committed: p.committed,
            })
            .collect();
        self.parts.clear();
        self.outbox.clear();
        self.outputs.clear();
        for a in &owned {
            let to = a.committed.map_or(Offset::Beginning, Offset::Offset);
            consumer
                .seek(&a.topic, a.partition, to, SEEK_TIMEOUT)
                .map_err(|e| PipelineError::Rewind(e.to_string()))?;
        }
        tracing::info!(
            partitions = owned.len(),
            "rebuilding state from the last committed transaction"
        );
        self.take_over(owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_after_aborts_grow_and_are_capped() {
        assert_eq!(abort_backoff(1), Duration::from_millis(100));
        assert_eq!(abort_backoff(2), Duration::from_millis(200));
        assert_eq!(abort_backoff(5), Duration::from_millis(1600));
        assert_eq!(abort_backoff(9), Duration::from_millis(25_600));
        assert_eq!(abort_backoff(10), Duration::from_secs(30));
        assert_eq!(abort_backoff(1000), Duration::from_secs(30));
    }
}
