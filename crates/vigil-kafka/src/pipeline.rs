//! The consume-score-publish loop.
//!
//! One thread owns the consumer, one [`Engine`] per assigned partition, and
//! the producer. Each turn takes a batch of messages, decodes and scores
//! them, publishes every output, waits until the broker has acknowledged
//! all of them, and only then commits offsets: at-least-once, and outputs
//! carry deterministic ids so repeats after a crash are recognisable. An
//! offset is committed only once its event has left the engine's reorder
//! buffer, so nothing waiting there can be lost either.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::executor::block_on;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vigil_codec::output::Encoding;
use vigil_domain::{Band, Engine, EngineConfig, EventType, Output, PlayerEvent, Reject, Timestamp};

use crate::config::{KafkaConfig, PipelineConfig, TopicsConfig};
use crate::context::{Ownership, StartFrom, VigilContext};
use crate::metrics as m;
use crate::topics;

/// Everything the pipeline needs to run.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub pipeline: PipelineConfig,
    pub engine: EngineConfig,
}

/// What `/readyz` looks at, and a few live figures for the demo's view.
#[derive(Debug, Default)]
pub struct Health {
    assigned: AtomicUsize,
    catching_up: AtomicUsize,
    broker_reachable: AtomicBool,
    stopping: AtomicBool,
    events: AtomicU64,
    players: AtomicU64,
    bands: [AtomicU64; 3],
}

/// Live figures of a running pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// Input messages handled since start.
    pub events: u64,
    /// Players in memory.
    pub players: u64,
    /// Players by band, green first.
    pub bands: [u64; 3],
    /// Partitions owned.
    pub partitions: usize,
}

impl Health {
    /// `Ok` when the instance owns partitions, has rebuilt their state and
    /// reaches the broker; otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        if self.stopping.load(Ordering::Relaxed) {
            return Err("shutting down".into());
        }
        if !self.broker_reachable.load(Ordering::Relaxed) {
            return Err("broker not reachable".into());
        }
        if self.assigned.load(Ordering::Relaxed) == 0 {
            return Err("no partitions assigned yet".into());
        }
        let n = self.catching_up.load(Ordering::Relaxed);
        if n > 0 {
            return Err(format!("{n} partition(s) still rebuilding state"));
        }
        Ok(())
    }

    /// The latest figures.
    pub fn status(&self) -> Status {
        Status {
            events: self.events.load(Ordering::Relaxed),
            players: self.players.load(Ordering::Relaxed),
            bands: [0, 1, 2].map(|i| self.bands[i].load(Ordering::Relaxed)),
            partitions: self.assigned.load(Ordering::Relaxed),
        }
    }
}

/// Why the pipeline stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot create Kafka client: {0}")]
    Client(#[source] KafkaError),
    #[error("cannot subscribe to input topics: {0}")]
    Subscribe(#[source] KafkaError),
    #[error("topic setup failed: {0}")]
    Topics(#[from] topics::TopicsError),
    #[error("outputs of a batch could not be delivered after {attempts} attempts: {last}")]
    Delivery { attempts: u32, last: String },
    #[error("engine settings rejected: {0}")]
    Engine(#[from] vigil_domain::ConfigError),
}

/// What an output record is, for metrics once it is acknowledged.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Alert {
        kind: &'static str,
        band: Band,
        event_ts: Timestamp,
    },
    Score {
        band: Band,
        event_ts: Timestamp,
    },
    DeadLetter {
        reason: &'static str,
    },
}

/// An output waiting for its acknowledgement, kept whole so it can be sent
/// again.
#[derive(Debug)]
struct OutRecord {
    topic: Arc<str>,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
    kind: Kind,
}

/// A record handed to the producer, and its acknowledgement to come.
struct Sent {
    record: OutRecord,
    future: DeliveryFuture,
    attempts: u32,
    done: bool,
}

/// A processed batch whose outputs are not all acknowledged yet, with the
/// offsets to commit once they are.
struct InFlight {
    sent: Vec<Sent>,
    commit: TopicPartitionList,
    received: Instant,
}

/// Batches whose acknowledgements may be outstanding at once; beyond this
/// the loop waits for the oldest (backpressure on the producer).
const MAX_IN_FLIGHT: usize = 4;
/// Sends of one record before the pipeline gives up (and exits, so offsets
/// stay uncommitted and the work is redone after a restart).
const DELIVERY_ATTEMPTS: u32 = 5;

/// One assigned partition: its engine and its commit bookkeeping.
#[derive(Debug)]
struct Part {
    engine: Engine,
    encoding: Encoding,
    /// `(offset, event time)` of messages whose events may still be in the
    /// reorder buffer, in offset order.
    inflight: VecDeque<(i64, Timestamp)>,
    /// Outputs of messages below this offset were published before (by a
    /// previous owner); while rebuilding state they are not repeated.
    resume_at: Option<i64>,
    /// Next offset to commit, and the last one committed.
    commit_at: Option<i64>,
    committed: Option<i64>,
    last_message: Instant,
    newest_ts: Timestamp,
    seen: (u64, u64),
}

impl Part {
    fn catching_up(&self) -> bool {
        match (self.resume_at, self.commit_at) {
            (Some(r), Some(c)) => c < r,
            (Some(r), None) => r > 0,
            _ => false,
        }
    }

    fn suppressed(&self, offset: i64) -> bool {
        self.resume_at.is_some_and(|r| offset < r)
    }
}

/// Builds librdkafka settings: vigil's own first, then the pass-through
/// properties (which cannot override the managed ones; validated earlier).
fn client_config(
    k: &KafkaConfig,
    specific: &std::collections::BTreeMap<String, String>,
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.bootstrap_servers)
        .set("client.id", &k.client_id);
    for (key, v) in k.properties.iter().chain(specific) {
        c.set(key, v);
    }
    c
}

fn consumer_config(s: &PipelineSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.kafka.bootstrap_servers)
        .set("client.id", &s.kafka.client_id)
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        .set("fetch.wait.max.ms", "10")
        .set("fetch.queue.backoff.ms", "0")
        .set("partition.assignment.strategy", "range,roundrobin");
    for (key, v) in s
        .kafka
        .properties
        .iter()
        .chain(&s.kafka.consumer_properties)
    {
        c.set(key, v);
    }
    c.set("group.id", &s.kafka.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    c
}

fn producer_config(s: &PipelineSettings) -> ClientConfig {
    let mut c = client_config(&s.kafka, &std::collections::BTreeMap::new());
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5");
    for (key, v) in &s.kafka.producer_properties {
        c.set(key, v);
    }
    c.set(
        "message.timeout.ms",
        s.pipeline.delivery_timeout.as_millis().to_string(),
    );
    c
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The running pipeline: the consumer, and everything else in [`Core`]
/// (split so a polled message, which borrows the consumer, can be handled
/// while the rest is mutated).
pub struct Pipeline {
    consumer: BaseConsumer<VigilContext>,
    core: Core,
    in_flight: std::collections::VecDeque<InFlight>,
}

/// The pipeline's state apart from the consumer.
struct Core {
    settings: PipelineSettings,
    producer: FutureProducer,
    health: Arc<Health>,
    parts: HashMap<(Arc<str>, i32), Part>,
    topic_names: HashMap<String, Arc<str>>,
    alerts_topic: Arc<str>,
    scores_topic: Arc<str>,
    dlq_topic: Arc<str>,
    outbox: Vec<OutRecord>,
    outputs: Vec<Output>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("partitions", &self.core.parts.len())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Connects (retrying with backoff while the broker is unreachable),
    /// creates missing topics and subscribes.
    pub fn connect(
        settings: PipelineSettings,
        health: Arc<Health>,
        shutdown: &CancellationToken,
    ) -> Result<Option<Self>, PipelineError> {
        Engine::new(settings.engine.clone())?;
        let producer: FutureProducer = producer_config(&settings)
            .create()
            .map_err(PipelineError::Client)?;
        let admin_config = client_config(&settings.kafka, &std::collections::BTreeMap::new());
        if !topics::wait_and_prepare(
            &admin_config,
            &settings.topics,
            shutdown,
            &health.broker_reachable,
        )? {
            return Ok(None);
        }
        let consumer: BaseConsumer<VigilContext> = consumer_config(&settings)
            .create_with_context(VigilContext::new(settings.pipeline.state_rebuild))
            .map_err(PipelineError::Client)?;
        let inputs: Vec<&str> = settings
            .topics
            .inputs
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        consumer
            .subscribe(&inputs)
            .map_err(PipelineError::Subscribe)?;
        m::describe();
        let t = &settings.topics;
        let topic_names = t
            .inputs
            .iter()
            .map(|i| (i.name.clone(), Arc::from(i.name.as_str())))
            .collect();
        let core = Core {
            alerts_topic: t.alerts.name.as_str().into(),
            scores_topic: t.scores.name.as_str().into(),
            dlq_topic: t.dead_letter.as_str().into(),
            settings,
            producer,
            health,
            parts: HashMap::new(),
            topic_names,
            outbox: Vec::new(),
            outputs: Vec::new(),
        };
        Ok(Some(Pipeline {
            consumer,
            core,
            in_flight: VecDeque::new(),
        }))
    }

    /// Runs until `shutdown` is cancelled, then finishes in-flight work,
    /// flushes and commits.
    pub fn run(mut self, shutdown: &CancellationToken) -> Result<(), PipelineError> {
        tracing::info!(
            inputs = self.core.settings.topics.inputs.len(),
            "pipeline running"
        );
        while !shutdown.is_cancelled() {
            self.turn()?;
        }
        self.core.health.stopping.store(true, Ordering::Relaxed);
        tracing::info!("stopping: flushing reorder buffers and committing");
        let keys: Vec<_> = self.core.parts.keys().cloned().collect();
        for key in keys {
            self.core.flush_part(&key);
        }
        self.enqueue_batch(Instant::now())?;
        self.settle(true, CommitMode::Sync)?;
        let _ = self.core.producer.flush(Duration::from_secs(10));
        tracing::info!("pipeline stopped");
        Ok(())
    }

    /// One batch: poll, score, publish, wait for acknowledgements, commit.
    fn turn(&mut self) -> Result<(), PipelineError> {
        let started = Instant::now();
        let mut consumed = [0u64; EventType::ALL.len()];
        let mut rejected: HashMap<&'static str, u64> = HashMap::new();
        let mut n = 0;
        let mut timeout = self.core.settings.pipeline.poll_timeout;
        while n < self.core.settings.pipeline.max_batch {
            let polled = self.consumer.poll(timeout);
            // Rebalance callbacks run inside `poll`: apply them before
            // handling what it returned.
            self.core
                .apply_ownership_changes(self.consumer.context().take_ownership_changes());
            let Some(result) = polled else { break };
            timeout = Duration::ZERO;
            match result {
                Ok(msg) => {
                    n += 1;
                    self.core
                        .health
                        .broker_reachable
                        .store(true, Ordering::Relaxed);
                    self.core.handle(&msg, &mut consumed, &mut rejected);
                }
                Err(KafkaError::PartitionEOF(_)) => {}
                Err(e) => {
                    metrics::counter!(m::KAFKA_ERRORS, "code" => "consume").increment(1);
                    tracing::warn!(error = %e, "consume error");
                    break;
                }
            }
        }
        self.core.advance_idle();
        self.enqueue_batch(started)?;
        self.settle(false, CommitMode::Async)?;
        self.core.report(n, &consumed, &rejected, started);
        Ok(())
    }

    /// Sends the batch's outputs and queues its offsets behind them.
    fn enqueue_batch(&mut self, received: Instant) -> Result<(), PipelineError> {
        let sent = self.core.dispatch()?;
        let commit = self.core.commit_positions();
        if !sent.is_empty() || commit.count() > 0 {
            self.in_flight.push_back(InFlight {
                sent,
                commit,
                received,
            });
        }
        Ok(())
    }

    /// Commits, oldest first, the offsets of batches whose outputs are all
    /// acknowledged. Waits when too many batches are outstanding, or for
    /// all of them when `drain` (shutdown).
    fn settle(&mut self, drain: bool, mode: CommitMode) -> Result<(), PipelineError> {
        loop {
            let block = drain || self.in_flight.len() > MAX_IN_FLIGHT;
            let Some(front) = self.in_flight.front_mut() else {
                break;
            };
            if !self.core.progress(front, block)? {
                if block {
                    continue;
                }
                break;
            }
            if let Some(batch) = self.in_flight.pop_front() {
                self.commit(batch.commit, mode);
            }
        }
        Ok(())
    }

    /// Commits offsets whose outputs are all acknowledged.
    fn commit(&mut self, tpl: TopicPartitionList, mode: CommitMode) {
        if tpl.count() == 0 {
            return;
        }
        match self.consumer.commit(&tpl, mode) {
            Ok(()) => metrics::counter!(m::COMMITS, "result" => "ok").increment(1),
            Err(e) => {
                metrics::counter!(m::COMMITS, "result" => "error").increment(1);
                tracing::warn!(error = %e, "offset commit failed; will retry with the next batch");
                for ((topic, partition), part) in &mut self.core.parts {
                    if tpl.find_partition(topic, *partition).is_some() {
                        part.committed = None;
                    }
                }
            }
        }
    }
}

impl Core {
    fn flush_part(&mut self, key: &(Arc<str>, i32)) {
        let Some(part) = self.parts.get_mut(key) else {
            return;
        };
        part.engine.flush(&mut self.outputs);
        let suppressed = part.catching_up();
        let outputs = std::mem::take(&mut self.outputs);
        self.enqueue_outputs(outputs, suppressed);
    }

    fn apply_ownership_changes(&mut self, changes: Vec<Ownership>) {
        for change in changes {
            match change {
                Ownership::Revoked => {
                    // Eager protocol: everything goes. Work not yet committed
                    // is redone by the next owner (at-least-once).
                    self.parts.clear();
                }
                Ownership::Assigned(list) => {
                    for a in list {
                        let Some(encoding) = self
                            .settings
                            .topics
                            .inputs
                            .iter()
                            .find(|t| t.name == a.topic)
                            .map(|t| t.encoding)
                        else {
                            continue;
                        };
                        let topic = self
                            .topic_names
                            .entry(a.topic.clone())
                            .or_insert_with(|| a.topic.as_str().into());
                        let engine = match Engine::new(self.settings.engine.clone()) {
                            Ok(e) => e,
                            Err(e) => {
                                tracing::error!(error = %e, "engine settings rejected");
                                continue;
                            }
                        };
                        let resume_at = match self.settings.pipeline.state_rebuild {
                            StartFrom::Earliest => a.committed,
                            StartFrom::Committed => None,
                        };
                        self.parts.insert(
                            (topic.clone(), a.partition),
                            Part {
                                engine,
                                encoding,
                                inflight: VecDeque::new(),
                                resume_at,
                                commit_at: None,
                                committed: a.committed,
                                last_message: Instant::now(),
                                newest_ts: Timestamp::MIN,
                                seen: (0, 0),
                            },
                        );
                    }
                }
            }
        }
        self.update_health();
    }

    fn update_health(&self) {
        self.health
            .assigned
            .store(self.parts.len(), Ordering::Relaxed);
        let catching_up = self.parts.values().filter(|p| p.catching_up()).count();
        self.health
            .catching_up
            .store(catching_up, Ordering::Relaxed);
        metrics::gauge!(m::PARTITIONS_ASSIGNED).set(self.parts.len() as f64);
        metrics::gauge!(m::PARTITIONS_CATCHING_UP).set(catching_up as f64);
    }

    fn handle(
        &mut self,
        msg: &rdkafka::message::BorrowedMessage<'_>,
        consumed: &mut [u64; EventType::ALL.len()],
        rejected: &mut HashMap<&'static str, u64>,
    ) {
        let Some(topic) = self.topic_names.get(msg.topic()).cloned() else {
            return;
        };
        let key = (topic, msg.partition());
        let Some(part) = self.parts.get_mut(&key) else {
            return;
        };
        let offset = msg.offset();
        part.last_message = Instant::now();
        let payload = msg.payload().unwrap_or_default();
        let decoded: Result<PlayerEvent, Reject> = match part.encoding {
            Encoding::Json => vigil_codec::json::decode_event(payload),
            Encoding::Protobuf => vigil_codec::proto::decode_event(payload),
        };
        let suppressed = part.suppressed(offset);
        let result = decoded.and_then(|event| {
            let ts = event.ts;
            let ty = event.payload.event_type();
            part.engine
                .ingest(event, &mut self.outputs)
                .map(|()| (ts, ty))
        });
        match result {
            Ok((ts, ty)) => {
                consumed[ty as usize] += 1;
                part.newest_ts = part.newest_ts.max(ts);
                part.inflight.push_back((offset, ts));
            }
            Err(reason) => {
                *rejected.entry(reason.code()).or_default() += 1;
                part.inflight.push_back((offset, Timestamp::MIN));
                if !suppressed {
                    let record = dead_letter(&self.dlq_topic, msg, &reason);
                    self.outbox.push(record);
                }
            }
        }
        let outputs = std::mem::take(&mut self.outputs);
        self.enqueue_outputs(outputs, suppressed);
    }

    /// Moves the clock of partitions that have gone quiet by the wall-clock
    /// time that passed, so silence is noticed on a live stream.
    fn advance_idle(&mut self) {
        let idle = self.settings.pipeline.idle_advance;
        if idle.is_zero() {
            return;
        }
        let mut outputs = Vec::new();
        for part in self.parts.values_mut() {
            let quiet = part.last_message.elapsed();
            if quiet < idle || part.newest_ts == Timestamp::MIN || part.catching_up() {
                continue;
            }
            let t = Timestamp::from_millis(part.newest_ts.as_millis() + quiet.as_millis() as i64)
                .min(Timestamp::from_millis(now_millis()).max(part.newest_ts));
            part.engine.advance_to(t, &mut outputs);
        }
        self.enqueue_outputs(outputs, false);
    }

    fn enqueue_outputs(&mut self, outputs: Vec<Output>, suppressed: bool) {
        if suppressed {
            return;
        }
        let (alerts, scores) = (&self.settings.topics.alerts, &self.settings.topics.scores);
        for o in outputs {
            let record = match o {
                Output::Alert(a) => OutRecord {
                    topic: self.alerts_topic.clone(),
                    key: Some(a.player_id.clone().into_bytes()),
                    payload: vigil_codec::output::encode_alert(&a, alerts.encoding),
                    headers: vec![
                        ("vigil.alert_id", a.alert_id.clone().into_bytes()),
                        ("vigil.kind", a.kind.as_str().as_bytes().to_vec()),
                        (
                            "content-type",
                            content_type(alerts.encoding).as_bytes().to_vec(),
                        ),
                    ],
                    kind: Kind::Alert {
                        kind: a.kind.as_str(),
                        band: a.band,
                        event_ts: a.ts,
                    },
                },
                Output::Score(s) => {
                    if !self.settings.pipeline.publish_scores {
                        continue;
                    }
                    OutRecord {
                        topic: self.scores_topic.clone(),
                        key: Some(s.player_id.clone().into_bytes()),
                        payload: vigil_codec::output::encode_score(&s, scores.encoding),
                        headers: vec![(
                            "content-type",
                            content_type(scores.encoding).as_bytes().to_vec(),
                        )],
                        kind: Kind::Score {
                            band: s.band,
                            event_ts: s.ts,
                        },
                    }
                }
            };
            self.outbox.push(record);
        }
    }

    /// Sends everything in the outbox; acknowledgements are collected
    /// later by [`Core::progress`], so the next batch is read meanwhile.
    fn dispatch(&mut self) -> Result<Vec<Sent>, PipelineError> {
        let outbox = std::mem::take(&mut self.outbox);
        let mut sent = Vec::with_capacity(outbox.len());
        for record in outbox {
            let future = self.send(&record).map_err(|e| PipelineError::Delivery {
                attempts: 1,
                last: e.to_string(),
            })?;
            sent.push(Sent {
                record,
                future,
                attempts: 1,
                done: false,
            });
        }
        Ok(sent)
    }

    /// Collects the acknowledgements of a batch (waiting for them if
    /// `block`), sending failed records again up to [`DELIVERY_ATTEMPTS`]
    /// times. Returns whether every record of the batch is acknowledged.
    fn progress(&mut self, batch: &mut InFlight, block: bool) -> Result<bool, PipelineError> {
        let now_ms = now_millis();
        for s in batch.sent.iter_mut().filter(|s| !s.done) {
            let result = if block {
                Some(block_on(&mut s.future))
            } else {
                (&mut s.future).now_or_never()
            };
            let error = match result {
                None => continue,
                Some(Ok(Ok(_))) => {
                    acknowledge(&s.record, batch.received, now_ms);
                    s.done = true;
                    continue;
                }
                Some(Ok(Err((e, _)))) => e.to_string(),
                Some(Err(_)) => "producer dropped the delivery".to_owned(),
            };
            metrics::counter!(m::PRODUCER_ERRORS, "topic" => s.record.topic.to_string())
                .increment(1);
            if s.attempts >= DELIVERY_ATTEMPTS {
                return Err(PipelineError::Delivery {
                    attempts: s.attempts,
                    last: error,
                });
            }
            tracing::warn!(attempt = s.attempts, %error, "output delivery failed; sending again");
            s.attempts += 1;
            s.future = self.send(&s.record).map_err(|e| PipelineError::Delivery {
                attempts: s.attempts,
                last: e.to_string(),
            })?;
        }
        Ok(batch.sent.iter().all(|s| s.done))
    }

    /// Enqueues one record, waiting for room when the producer queue is full.
    fn send(&self, r: &OutRecord) -> Result<DeliveryFuture, KafkaError> {
        loop {
            let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
            for (k, v) in &r.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&r.topic)
                .payload(&r.payload[..])
                .headers(headers);
            if let Some(k) = &r.key {
                record = record.key(&k[..]);
            }
            match self.producer.send_result(record) {
                Ok(f) => return Ok(f),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Offsets to commit: per partition, up to the first message whose
    /// event is still in the reorder buffer.
    fn commit_positions(&mut self) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), part) in &mut self.parts {
            let clock = part.engine.clock();
            while let Some(&(offset, ts)) = part.inflight.front() {
                if ts > clock {
                    break;
                }
                part.inflight.pop_front();
                part.commit_at = Some(offset + 1);
            }
            if let Some(at) = part.commit_at
                && part.committed.is_none_or(|c| at > c)
                && !part.catching_up()
                && tpl
                    .add_partition_offset(topic, *partition, Offset::Offset(at))
                    .is_ok()
            {
                part.committed = Some(at);
            }
        }
        self.update_health();
        tpl
    }

    fn report(
        &mut self,
        n: usize,
        consumed: &[u64],
        rejected: &HashMap<&'static str, u64>,
        started: Instant,
    ) {
        for (ty, &c) in EventType::ALL.iter().zip(consumed) {
            if c > 0 {
                metrics::counter!(m::EVENTS_CONSUMED, "type" => ty.as_str()).increment(c);
            }
        }
        for (reason, &c) in rejected {
            metrics::counter!(m::EVENTS_REJECTED, "reason" => *reason).increment(c);
        }
        let (mut players, mut pending, mut bands) = (0usize, 0usize, [0u64; 3]);
        let (mut dups, mut late) = (0u64, 0u64);
        for part in self.parts.values_mut() {
            let s = part.engine.stats();
            dups += s.duplicates - part.seen.0;
            late += s.late - part.seen.1;
            part.seen = (s.duplicates, s.late);
            players += part.engine.player_count();
            pending += part.engine.pending_count();
            for (b, c) in bands.iter_mut().zip(s.bands) {
                *b += c;
            }
        }
        metrics::counter!(m::EVENTS_DUPLICATE).increment(dups);
        metrics::counter!(m::EVENTS_LATE).increment(late);
        metrics::gauge!(m::PLAYERS_TRACKED).set(players as f64);
        metrics::gauge!(m::PENDING_EVENTS).set(pending as f64);
        for ((band, c), cell) in Band::ALL.iter().zip(bands).zip(&self.health.bands) {
            metrics::gauge!(m::PLAYERS_BY_BAND, "band" => band.as_str()).set(c as f64);
            cell.store(c, Ordering::Relaxed);
        }
        self.health.events.fetch_add(n as u64, Ordering::Relaxed);
        self.health.players.store(players as u64, Ordering::Relaxed);
        if n > 0 {
            metrics::counter!(m::BATCHES).increment(1);
            metrics::histogram!(m::BATCH_SECONDS).record(started.elapsed().as_secs_f64());
        }
    }
}

fn content_type(e: Encoding) -> &'static str {
    match e {
        Encoding::Json => "application/json",
        Encoding::Protobuf => "application/x-protobuf; messageType=vigil.v1",
    }
}

fn acknowledge(record: &OutRecord, received: Instant, now_ms: i64) {
    let receive_to_publish = received.elapsed().as_secs_f64();
    let event_to_publish = |ts: Timestamp| (now_ms - ts.as_millis()).max(0) as f64 / 1000.0;
    match record.kind {
        Kind::Alert {
            kind,
            band,
            event_ts,
        } => {
            metrics::counter!(m::ALERTS_PUBLISHED, "kind" => kind, "band" => band.as_str())
                .increment(1);
            metrics::histogram!(m::EVENT_TO_PUBLISH, "output" => "alert")
                .record(event_to_publish(event_ts));
            metrics::histogram!(m::RECEIVE_TO_PUBLISH, "output" => "alert")
                .record(receive_to_publish);
        }
        Kind::Score { band, event_ts } => {
            metrics::counter!(m::SCORES_PUBLISHED, "band" => band.as_str()).increment(1);
            metrics::histogram!(m::EVENT_TO_PUBLISH, "output" => "score")
                .record(event_to_publish(event_ts));
            metrics::histogram!(m::RECEIVE_TO_PUBLISH, "output" => "score")
                .record(receive_to_publish);
        }
        Kind::DeadLetter { reason } => {
            metrics::counter!(m::DEAD_LETTERED, "reason" => reason).increment(1);
        }
    }
}

/// Header names on dead-letter records.
pub mod dlq_headers {
    pub const REASON: &str = "vigil.reject.reason";
    pub const DETAIL: &str = "vigil.reject.detail";
    pub const SOURCE_TOPIC: &str = "vigil.source.topic";
    pub const SOURCE_PARTITION: &str = "vigil.source.partition";
    pub const SOURCE_OFFSET: &str = "vigil.source.offset";
}

/// The original message, untouched, with why it was refused and where it
/// came from in headers.
fn dead_letter(
    topic: &Arc<str>,
    msg: &rdkafka::message::BorrowedMessage<'_>,
    reason: &Reject,
) -> OutRecord {
    let mut headers = vec![
        (dlq_headers::REASON, reason.code().as_bytes().to_vec()),
        (dlq_headers::DETAIL, reason.to_string().into_bytes()),
        (dlq_headers::SOURCE_TOPIC, msg.topic().as_bytes().to_vec()),
        (
            dlq_headers::SOURCE_PARTITION,
            msg.partition().to_string().into_bytes(),
        ),
        (
            dlq_headers::SOURCE_OFFSET,
            msg.offset().to_string().into_bytes(),
        ),
    ];
    // Keep the producer's own headers too, so nothing about the event is lost.
    if let Some(h) = msg.headers() {
        for i in 0..h.count() {
            let header = h.get(i);
            if let Some(v) = header.value
                && let Some(name) = ORIGINAL_HEADER_NAMES.iter().find(|n| **n == header.key)
            {
                headers.push((name, v.to_vec()));
            }
        }
    }
    OutRecord {
        topic: topic.clone(),
        key: msg.key().map(<[u8]>::to_vec),
        payload: msg.payload().unwrap_or_default().to_vec(),
        headers,
        kind: Kind::DeadLetter {
            reason: reason.code(),
        },
    }
}

/// Producer headers carried over to dead letters (static names keep the
/// record type simple; these are the ones integrators use for tracing).
const ORIGINAL_HEADER_NAMES: [&str; 3] = ["traceparent", "content-type", "source"];
