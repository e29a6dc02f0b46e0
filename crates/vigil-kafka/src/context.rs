//! The consumer's callbacks: rebalances become messages for the pipeline
//! loop, client errors and statistics become logs and metrics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use crate::metrics as m;

/// A partition this instance now owns, and the committed offset below
/// which its outputs were already published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<i64>,
}

/// A change of ownership, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    Assigned(Vec<Assigned>),
    Revoked,
    /// The group handed partitions to this instance but librdkafka refused
    /// to assign them (the reason is librdkafka's). The group counts them as
    /// ours, so nobody else would read them: the pipeline stops rather than
    /// hold partitions it never fetches.
    AssignFailed(String),
}

impl Ownership {
    /// What an eager assignment came to: the partitions, once `assign`
    /// took them, or the reason it did not.
    pub(crate) fn after_assign(result: Result<(), KafkaError>, assigned: Vec<Assigned>) -> Self {
        match result {
            Ok(()) => Self::Assigned(assigned),
            Err(e) => Self::AssignFailed(e.to_string()),
        }
    }
}

/// How an assigned partition gets its players' state, and so where it
/// starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    /// Restored from the changelog; the input is read from the committed
    /// offset.
    #[default]
    Changelog,
    /// From the earliest retained offset, rebuilding player state from the
    /// input and publishing only what comes after the committed offset.
    Earliest,
    /// From the committed offset, with empty state.
    Committed,
}

/// Work to finish, inside the rebalance, before partitions are given up:
/// publish and commit what was done for them while this instance still
/// owns them.
pub(crate) type RevokeHook = Box<dyn Fn(&BaseConsumer<VigilContext>) + Send + Sync>;

/// Consumer callbacks shared with the pipeline loop.
pub struct VigilContext {
    pub(crate) ownership: Mutex<Vec<Ownership>>,
    /// Set with every push, so the loop checks for changes after each
    /// `poll` without taking the lock.
    changed: AtomicBool,
    pub(crate) start_from: StartFrom,
    on_revoke: RevokeHook,
    /// In `exactly_once` mode the producer commits the offsets, so the
    /// consumer's own idea of its committed offsets (which its lag figure
    /// uses) stays at what it read on assignment: the offsets of the last
    /// committed transaction, by topic and partition, take its place.
    pub(crate) txn_committed: Option<Mutex<HashMap<(String, i32), i64>>>,
}

impl std::fmt::Debug for VigilContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VigilContext")
            .field("start_from", &self.start_from)
            .finish_non_exhaustive()
    }
}

impl VigilContext {
    pub(crate) fn new(start_from: StartFrom, on_revoke: RevokeHook, transactional: bool) -> Self {
        VigilContext {
            ownership: Mutex::new(Vec::new()),
            changed: AtomicBool::new(false),
            start_from,
            on_revoke,
            txn_committed: transactional.then(|| Mutex::new(HashMap::new())),
        }
    }

    /// Records offsets a transaction committed (see `txn_committed`).
    pub(crate) fn committed_in_transaction(&self, tpl: &TopicPartitionList) {
        let Some(map) = &self.txn_committed else {
            return;
        };
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        for e in tpl.elements() {
            if let Offset::Offset(o) = e.offset() {
                map.insert((e.topic().to_owned(), e.partition()), o);
            }
        }
    }

    /// Whether ownership changed since the last
    /// [`take_ownership_changes`](Self::take_ownership_changes).
    pub(crate) fn ownership_changed(&self) -> bool {
        self.changed.load(Ordering::Acquire)
    }

    /// Ownership changes since the last call.
    pub(crate) fn take_ownership_changes(&self) -> Vec<Ownership> {
        let mut list = self.ownership.lock().unwrap_or_else(|e| e.into_inner());
        self.changed.store(false, Ordering::Release);
        std::mem::take(&mut *list)
    }

    fn push(&self, o: Ownership) {
        let mut list = self.ownership.lock().unwrap_or_else(|e| e.into_inner());
        list.push(o);
        self.changed.store(true, Ordering::Release);
    }
}

impl ClientContext for VigilContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error
            .rdkafka_error_code()
            .map(|c| format!("{c:?}"))
            .unwrap_or_else(|| "other".to_owned());
        metrics::counter!(m::KAFKA_ERRORS, "code" => code).increment(1);
        tracing::warn!(%error, reason, "kafka client error");
    }

    fn stats(&self, stats: Statistics) {
        for (topic, t) in &stats.topics {
            for (partition, p) in &t.partitions {
                // Partition -1 is librdkafka's internal unassigned queue.
                if *partition < 0 {
                    continue;
                }
                let lag = match &self.txn_committed {
                    None => p.consumer_lag,
                    Some(map) => {
                        let map = map.lock().unwrap_or_else(|e| e.into_inner());
                        let end = if p.ls_offset >= 0 {
                            p.ls_offset
                        } else {
                            p.hi_offset
                        };
                        match map.get(&(topic.clone(), *partition)) {
                            Some(&c) if end >= 0 => (end - c).max(0),
                            _ => -1,
                        }
                    }
                };
                if lag < 0 {
                    continue;
                }
                metrics::gauge!(m::CONSUMER_LAG, "topic" => topic.clone(), "partition" => partition.to_string())
                    .set(lag as f64);
            }
        }
    }
}

impl ConsumerContext for VigilContext {
    /// Eager rebalancing, done by hand so a newly assigned partition can be
    /// started from the earliest offset while we remember its committed one.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                metrics::counter!(m::REBALANCES, "kind" => "assign").increment(1);
                let committed = consumer.committed_offsets(tpl.clone(), Duration::from_secs(10));
                if let Err(e) = &committed {
                    tracing::warn!(error = %e, "cannot read committed offsets; outputs may repeat");
                }
                let mut start = TopicPartitionList::new();
                let mut assigned = Vec::new();
                for e in tpl.elements() {
                    let committed = committed
                        .as_ref()
                        .ok()
                        .and_then(|c| c.find_partition(e.topic(), e.partition()))
                        .and_then(|c| match c.offset() {
                            Offset::Offset(o) if o >= 0 => Some(o),
                            _ => None,
                        });
                    let offset = match (self.start_from, committed) {
                        (StartFrom::Earliest, _) | (_, None) => Offset::Beginning,
                        (_, Some(o)) => Offset::Offset(o),
                    };
                    if let Err(err) = start.add_partition_offset(e.topic(), e.partition(), offset) {
                        tracing::error!(%err, "cannot set start offset");
                    }
                    assigned.push(Assigned {
                        topic: e.topic().to_owned(),
                        partition: e.partition(),
                        committed,
                    });
                }
                tracing::info!(partitions = assigned.len(), "partitions assigned");
                for e in start.elements() {
                    crate::pipeline::fetched::keep_apart(consumer, e.topic(), e.partition());
                }
                let result = consumer.assign(&start);
                if let Err(e) = &result {
                    tracing::error!(error = %e, "assign failed");
                }
                self.push(Ownership::after_assign(result, assigned));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                metrics::counter!(m::REBALANCES, "kind" => "revoke").increment(1);
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                // A lag gauge cannot be removed: zero it, or the last value
                // would stay here while the new owner reports the real one.
                for e in tpl.elements() {
                    metrics::gauge!(m::CONSUMER_LAG, "topic" => e.topic().to_owned(), "partition" => e.partition().to_string())
                        .set(0.0);
                }
                (self.on_revoke)(consumer);
                if let Some(map) = &self.txn_committed {
                    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                    for e in tpl.elements() {
                        map.remove(&(e.topic().to_owned(), e.partition()));
                    }
                }
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
                self.push(Ownership::Revoked);
            }
            other => {
                tracing::error!(error = ?other, "rebalance error");
                let _ = consumer.unassign();
                self.push(Ownership::Revoked);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::error::RDKafkaErrorCode;

    use super::*;

    fn one() -> Vec<Assigned> {
        vec![Assigned {
            topic: "player-events".into(),
            partition: 3,
            committed: Some(41),
        }]
    }

    #[test]
    fn a_refused_assign_is_not_ownership() {
        let refused = KafkaError::Subscription(format!("{:?}", RDKafkaErrorCode::State));
        match Ownership::after_assign(Err(refused), one()) {
            Ownership::AssignFailed(reason) => assert!(reason.contains("State"), "{reason}"),
            other => panic!("a refused assign became {other:?}"),
        }
    }

    #[test]
    fn an_accepted_assign_hands_over_the_partitions() {
        assert_eq!(
            Ownership::after_assign(Ok(()), one()),
            Ownership::Assigned(one())
        );
    }
}
