//! Loading player events into a topic (`vigil gen --kafka-bootstrap`), as
//! a platform's tracking would: every record keyed by its player id, so a
//! player's events stay on one partition, in the order they were sent,
//! which is what `vigil run` needs (one engine per partition holds each
//! player's state).
//!
//! The producer is idempotent with `acks=all`: a retried batch is neither
//! duplicated nor reordered. Keys are partitioned with `murmur2_random`,
//! the Java client's partitioner, so events a platform's Java producers
//! write for the same player land on the same partition as these.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::topics::{TopicsError, ensure_topic};

/// Where and how to load.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// `host:port` list of brokers.
    pub bootstrap_servers: String,
    pub topic: String,
    /// Partitions of the topic if it has to be created.
    pub partitions: i32,
    /// Replicas of the topic if it has to be created.
    pub replication_factor: i32,
    /// librdkafka producer properties, passed through (security settings,
    /// say); they may override the loader's own.
    pub properties: BTreeMap<String, String>,
}

/// Why loading failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot create the producer")]
    Client(#[source] KafkaError),
    #[error(transparent)]
    Topic(#[from] TopicsError),
    #[error("record {record} could not be queued")]
    Queue {
        record: u64,
        #[source]
        error: KafkaError,
    },
    #[error("{failed} of {sent} records were not delivered; the first failure: {first}")]
    Delivery {
        failed: u64,
        sent: u64,
        first: String,
    },
    #[error("records still undelivered after {0:?}")]
    Flush(Duration, #[source] KafkaError),
}

/// What was loaded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loaded {
    /// Records delivered (acknowledged by the broker).
    pub records: u64,
    /// Partitions of the topic.
    pub partitions: usize,
    pub elapsed: Duration,
}

impl Loaded {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Counts failed deliveries and keeps the first reason.
#[derive(Debug, Default)]
struct Deliveries {
    failed: AtomicU64,
    first: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first.lock() {
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// How long `finish` waits for the last acknowledgements.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);
/// How often progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A producer loading one topic. Send records with [`Loader::send`], then
/// call [`Loader::finish`], which waits for every acknowledgement.
pub struct Loader {
    producer: ThreadedProducer<Deliveries>,
    topic: String,
    partitions: usize,
    sent: u64,
    started: Instant,
    logged: Instant,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("topic", &self.topic)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl Loader {
    /// Creates the topic if it is missing and connects the producer.
    pub fn connect(s: &LoadSettings) -> Result<Loader, LoadError> {
        let mut admin = ClientConfig::new();
        admin.set("bootstrap.servers", &s.bootstrap_servers);
        for (k, v) in &s.properties {
            admin.set(k, v);
        }
        let partitions = ensure_topic(&admin, &s.topic, s.partitions, s.replication_factor)?;
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &s.bootstrap_servers)
            .set("client.id", "vigil-gen")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "20")
            .set("message.timeout.ms", "60000");
        for (k, v) in &s.properties {
            c.set(k, v);
        }
        let producer = c
            .create_with_context(Deliveries::default())
            .map_err(LoadError::Client)?;
        tracing::info!(topic = %s.topic, partitions, "loading events");
        let now = Instant::now();
        Ok(Loader {
            producer,
            topic: s.topic.clone(),
            partitions,
            sent: 0,
            started: now,
            logged: now,
        })
    }

    /// Queues one record, waiting while the producer's queue is full.
    pub fn send(&mut self, key: &[u8], payload: &[u8]) -> Result<(), LoadError> {
        let mut record = BaseRecord::to(&self.topic).key(key).payload(payload);
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    // The background thread drains the queue meanwhile.
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => {
                    return Err(LoadError::Queue {
                        record: self.sent + 1,
                        error,
                    });
                }
            }
        }
        self.sent += 1;
        if self.sent % 4096 == 0 && self.logged.elapsed() >= PROGRESS_EVERY {
            self.logged = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            tracing::info!(
                records = self.sent,
                rate = (self.sent as f64 / secs) as u64,
                "loading"
            );
        }
        Ok(())
    }

    /// Waits for every record's acknowledgement; fails if any was refused.
    pub fn finish(self) -> Result<Loaded, LoadError> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(|e| LoadError::Flush(FLUSH_TIMEOUT, e))?;
        let ctx = self.producer.context();
        let failed = ctx.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first = ctx
                .first
                .lock()
                .ok()
                .and_then(|f| f.clone())
                .unwrap_or_default();
            return Err(LoadError::Delivery {
                failed,
                sent: self.sent,
                first,
            });
        }
        let loaded = Loaded {
            records: self.sent,
            partitions: self.partitions,
            elapsed: self.started.elapsed(),
        };
        tracing::info!(
            topic = %self.topic,
            records = loaded.records,
            secs = loaded.elapsed.as_secs_f64(),
            rate = loaded.rate() as u64,
            "loaded events"
        );
        Ok(loaded)
    }
}
