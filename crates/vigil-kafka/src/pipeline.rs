//! The consume-score-publish loop.
//!
//! One thread owns the consumer, one [`Engine`] per assigned partition, and
//! the producer. Each turn takes a batch of messages, decodes and scores
//! them (on every core, see `workers`) and publishes every output. Once the broker has acknowledged all of
//! a batch's outputs, the records of the players it changed go to the
//! changelog (in batch order, as their order matters), and once those are
//! acknowledged too its offsets are committed: at-least-once, and outputs
//! carry deterministic ids so repeats after a crash are recognisable.
//!
//! A changelog record holds a player's state and its events still in the
//! reorder buffer, exact at the input offset it names; a new owner restores
//! the records, reads the input from the committed offset and skips the
//! events a record already holds, so it ends exactly where this instance
//! would have (see `vigil_domain::changes`). Without a changelog (the
//! `earliest` and `committed` rebuild modes) an offset is committed only
//! once its event has left the reorder buffer.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vigil_codec::output::Encoding;
use vigil_domain::{
    Band, Channel, Engine, EngineClock, EngineConfig, EventType, OfferStatus, Output, PlayerRecord,
    Reject, SharedProfiles, Timestamp,
};

use crate::config::{Guarantee, KafkaConfig, PipelineConfig, TopicsConfig};
use crate::context::{Ownership, StartFrom, VigilContext};
use crate::live::Live;
use crate::metrics as m;
use crate::profiles::{ProfileTable, ProfilesError};
use crate::restore::{self, Held, RestoreError, Wanted};
use crate::topics;

mod delivery;
pub(crate) mod fetched;
mod intake;
mod outputs;
mod txn;
use delivery::{Acks, Delivery, Ticket};
mod workers;
use intake::Intake;
use outputs::Sinks;
pub use txn::TXN_HEADER;

/// Everything the pipeline needs to run.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub pipeline: PipelineConfig,
    pub engine: EngineConfig,
}

/// What `/readyz` looks at, a few live figures for the demo's view, and
/// the [`Live`] doors to the engines (lookups, settings reloads).
#[derive(Debug, Default)]
pub struct Health {
    assigned: AtomicUsize,
    catching_up: AtomicUsize,
    restoring: AtomicUsize,
    loading_profiles: AtomicBool,
    pub(crate) broker_reachable: AtomicBool,
    stopping: AtomicBool,
    events: AtomicU64,
    players: AtomicU64,
    bands: [AtomicU64; 3],
    live: Live,
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
        if self.loading_profiles.load(Ordering::Relaxed) {
            return Err("loading player profiles".into());
        }
        let restoring = self.restoring.load(Ordering::Relaxed);
        if restoring > 0 {
            return Err(format!(
                "restoring the state of {restoring} partition(s) from the changelog"
            ));
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

    /// Read access to the engines and the slot for new engine settings.
    pub fn live(&self) -> &Live {
        &self.live
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
    #[error("cannot create Kafka client")]
    Client(#[source] KafkaError),
    #[error("cannot subscribe to input topics")]
    Subscribe(#[source] KafkaError),
    #[error("topic setup failed")]
    Topics(#[from] topics::TopicsError),
    #[error("outputs of a batch could not be delivered after {attempts} attempts: {last}")]
    Delivery { attempts: u32, last: String },
    #[error("engine settings rejected")]
    Engine(#[from] vigil_domain::ConfigError),
    #[error(
        "changelog write not acknowledged ({last}); stopping so a restart restores and redoes the work"
    )]
    Changelog { last: String },
    #[error("state restore failed")]
    Restore(#[from] RestoreError),
    #[error("player profiles could not be loaded")]
    Profiles(#[from] ProfilesError),
    #[error(
        "transactional producer failed ({last}); if fenced, another instance uses the same `pipeline.transactional_id` (it must be unique per instance); transactions need Apache Kafka 2.5+ or a compatible broker. Stopping so a restart joins the group again with a new producer"
    )]
    Transaction { last: String },
    #[error("cannot seek back to the committed offsets after an aborted transaction: {0}")]
    Rewind(String),
    #[error(
        "the consumer group handed this instance partitions that librdkafka would not assign ({0}); stopping so a restart joins the group again instead of holding partitions it never reads"
    )]
    Assign(String),
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
    Offer {
        status: OfferStatus,
        channel: Channel,
        event_ts: Timestamp,
    },
    Outcome {
        group: &'static str,
        recovered: bool,
        event_ts: Timestamp,
    },
    DeadLetter {
        reason: &'static str,
    },
    Changelog,
}

/// An output waiting for its acknowledgement, kept whole so it can be sent
/// again.
#[derive(Debug)]
struct OutRecord {
    topic: Arc<str>,
    /// Chosen by the producer's partitioner from the key when `None`.
    partition: Option<i32>,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// Constant values (content types) are borrowed, not copied per record.
    headers: Vec<(&'static str, Cow<'static, [u8]>)>,
    kind: Kind,
}

/// A group of records handed to the producer (a batch's outputs, or its
/// changelog records), and their acknowledgements to come.
struct Sent {
    records: Vec<OutRecord>,
    acks: Arc<Acks>,
    /// Sends so far of the records that failed (one for every other).
    attempts: HashMap<u32, u32>,
    done: bool,
    /// Set when a record of the group is given up on. The group is never
    /// acknowledged after that: its failures have been taken from `acks`,
    /// which then reads as settled with nothing failed, and a later look
    /// (the revocation or shutdown that follows the error) would otherwise
    /// commit offsets whose outputs never arrived.
    given_up: Option<GiveUp>,
}

impl Sent {
    fn empty() -> Self {
        Sent {
            records: Vec::new(),
            acks: Arc::default(),
            attempts: HashMap::new(),
            done: true,
            given_up: None,
        }
    }
}

/// Why a group of records was given up on; see [`Sent::given_up`].
#[derive(Debug, Clone)]
enum GiveUp {
    Delivery { attempts: u32, last: String },
    Changelog { last: String },
}

impl GiveUp {
    fn of(e: &PipelineError) -> Option<Self> {
        match e {
            PipelineError::Delivery { attempts, last } => Some(GiveUp::Delivery {
                attempts: *attempts,
                last: last.clone(),
            }),
            PipelineError::Changelog { last } => Some(GiveUp::Changelog { last: last.clone() }),
            _ => None,
        }
    }

    fn error(&self) -> PipelineError {
        match self.clone() {
            GiveUp::Delivery { attempts, last } => PipelineError::Delivery { attempts, last },
            GiveUp::Changelog { last } => PipelineError::Changelog { last },
        }
    }
}

/// A processed batch whose outputs are not all acknowledged yet, with the
/// changelog records to write once they are, and the offsets to commit
/// after that.
struct InFlight {
    sent: Sent,
    /// Taken when sent, after `sent` is all acknowledged.
    changelog: Option<Vec<OutRecord>>,
    changelog_sent: Sent,
    commit: TopicPartitionList,
    received: Instant,
}

/// Batches whose acknowledgements may be outstanding at once; beyond this
/// the loop waits for the oldest (backpressure on the producer).
const MAX_IN_FLIGHT: usize = 4;
/// Longest emptied list of records kept for reuse (some megabytes):
/// several batches' outputs, far below a checkpoint of every player.
const SPARE_RECORDS_MAX: usize = 65_536;
/// Changelog records one thread encodes at a time.
const CHANGELOG_BLOCK: usize = 64;
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
    /// The offset after the last message handled.
    position: Option<i64>,
    /// Events the restored state already holds.
    held: Option<Held>,
    /// The engine clock last written to the changelog.
    clock_written: Option<EngineClock>,
    /// Next offset to commit, and the last one committed.
    commit_at: Option<i64>,
    committed: Option<i64>,
    last_message: Instant,
    newest_ts: Timestamp,
    seen: (u64, u64),
    /// Offer counters of the engine already reported: suppressed, skipped.
    seen_offers: ([u64; 4], [u64; 3]),
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

/// How long librdkafka waits before fetching again for a partition whose
/// local queue is full (`queued.min.messages`, 100k by default). `0` makes
/// its broker thread spin on that check while the application is the
/// slower side, which on the 2-core bench machine burnt half a core and
/// held the partition lock that every `poll` needs (the pipeline thread
/// spent a third of its waits there). A full queue holds far more than
/// 10 ms of work, so the pause costs no throughput.
pub(crate) const FETCH_QUEUE_BACKOFF_MS: &str = "10";

fn consumer_config(s: &PipelineSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.kafka.bootstrap_servers)
        .set("client.id", &s.kafka.client_id)
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        .set("fetch.wait.max.ms", "10")
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
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
    if s.pipeline.processing_guarantee == Guarantee::ExactlyOnce {
        // Inputs written in transactions: their aborted records are not events.
        c.set("isolation.level", "read_committed");
    }
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
    let timeout = s.pipeline.delivery_timeout.as_millis().to_string();
    c.set("message.timeout.ms", &timeout);
    if s.pipeline.processing_guarantee == Guarantee::ExactlyOnce {
        c.set("transactional.id", txn::transactional_id(s));
        // librdkafka refuses a message timeout beyond the transaction's.
        if !s
            .kafka
            .producer_properties
            .contains_key("transaction.timeout.ms")
            && !s.kafka.properties.contains_key("transaction.timeout.ms")
        {
            c.set("transaction.timeout.ms", &timeout);
        }
    }
    c
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The running pipeline: the consumer, and everything else in [`Core`],
/// which the rebalance callback (run inside the consumer's `poll`) also
/// needs, to finish the work of partitions being revoked.
pub struct Pipeline {
    /// The consumer and its partitions' queues (see `intake`).
    intake: Intake,
    core: Arc<Mutex<Core>>,
    /// Messages read for the next turn while this one's were handled, and
    /// when: receive-to-publish counts from there.
    read_ahead: Option<(fetched::ReadAhead, Instant)>,
}

/// The pipeline's state apart from the consumer.
pub(crate) struct Core {
    settings: PipelineSettings,
    producer: ThreadedProducer<Delivery>,
    /// Handles of the metrics every acknowledged record moves.
    published: Published,
    health: Arc<Health>,
    parts: HashMap<(Arc<str>, i32), Part>,
    topic_names: HashMap<String, Arc<str>>,
    /// Output topics and encodings.
    sinks: Sinks,
    /// The CRM's profiles, read by every engine, and their reader.
    profiles: SharedProfiles,
    profile_table: Option<ProfileTable>,
    changelog_topic: Arc<str>,
    /// State goes to (and comes back from) the changelog.
    use_changelog: bool,
    /// When the changelog was last written (and offsets committed with it).
    last_checkpoint: Instant,
    /// `exactly_once`: every batch is one transaction (see `txn`).
    transactional: bool,
    transactions: txn::Transactions,
    /// Client settings for the changelog reader of a restore.
    restore_client: ClientConfig,
    shutdown: CancellationToken,
    outbox: Vec<OutRecord>,
    /// Emptied record lists of acknowledged batches, for the next outboxes.
    spare_outboxes: Vec<Vec<OutRecord>>,
    outputs: Vec<Output>,
    records: Vec<PlayerRecord>,
    in_flight: VecDeque<InFlight>,
    /// The threads a chunk's partitions, large sends and checkpoints are
    /// spread over (as many as CPUs available).
    crew: Arc<workers::Crew>,
    /// An error met inside a rebalance callback, reported by the next turn.
    fatal: Option<PipelineError>,
}

/// The core, even if a panic elsewhere poisoned its lock: its state stays
/// consistent between calls, and stopping here would lose more.
pub(crate) fn lock(core: &Mutex<Core>) -> MutexGuard<'_, Core> {
    core.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("partitions", &lock(&self.core).parts.len())
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
        let producer: ThreadedProducer<Delivery> = producer_config(&settings)
            .create_with_context(Delivery::default())
            .map_err(PipelineError::Client)?;
        let admin_config = client_config(&settings.kafka, &std::collections::BTreeMap::new());
        let use_changelog = settings.pipeline.state_rebuild == StartFrom::Changelog;
        let transactional = settings.pipeline.processing_guarantee == Guarantee::ExactlyOnce;
        if !topics::wait_and_prepare(
            &admin_config,
            &settings.topics,
            use_changelog,
            shutdown,
            &health.broker_reachable,
        )? {
            return Ok(None);
        }
        m::describe();
        crate::probe::spawn(
            &admin_config,
            settings.topics.inputs[0].name.clone(),
            health.clone(),
            shutdown.child_token(),
        )
        .map_err(PipelineError::Client)?;
        let t = &settings.topics;
        let topic_names = t
            .inputs
            .iter()
            .map(|i| (i.name.clone(), Arc::from(i.name.as_str())))
            .collect();
        let mut restore_client =
            client_config(&settings.kafka, &settings.kafka.consumer_properties);
        restore_client.set("group.id", format!("{}.restore", settings.kafka.group_id));
        // Profiles first: alerts and offers carry them from the first event.
        let profiles = SharedProfiles::default();
        let profile_table = if t.profiles.name.is_empty() {
            None
        } else {
            health.loading_profiles.store(true, Ordering::Relaxed);
            let mut reader = restore_client.clone();
            reader.set("group.id", format!("{}.profiles", settings.kafka.group_id));
            let table = ProfileTable::load(
                &reader,
                &t.profiles.name,
                t.profiles.encoding,
                profiles.clone(),
                shutdown,
            )?;
            health.loading_profiles.store(false, Ordering::Relaxed);
            match table {
                Some(table) => Some(table),
                None => return Ok(None),
            }
        };
        if transactional {
            // Only what committed transactions wrote.
            restore_client.set("isolation.level", "read_committed");
            producer
                .init_transactions(settings.pipeline.delivery_timeout)
                .map_err(|e| PipelineError::Transaction {
                    last: e.to_string(),
                })?;
        }
        let core = Arc::new(Mutex::new(Core {
            sinks: Sinks::new(t, settings.pipeline.publish_scores),
            profiles,
            profile_table,
            changelog_topic: t.changelog.as_str().into(),
            use_changelog,
            last_checkpoint: Instant::now(),
            transactional,
            transactions: txn::Transactions::new(&settings),
            restore_client,
            shutdown: shutdown.clone(),
            producer,
            published: Published::new(),
            health,
            parts: HashMap::new(),
            topic_names,
            outbox: Vec::new(),
            spare_outboxes: Vec::new(),
            outputs: Vec::new(),
            records: Vec::new(),
            in_flight: VecDeque::new(),
            crew: Arc::new(workers::Crew::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
            fatal: None,
            settings,
        }));
        let health = lock(&core).health.clone();
        health.live.attach(&core);
        let hook = core.clone();
        let on_revoke = Box::new(move |consumer: &BaseConsumer<VigilContext>| {
            lock(&hook).finish_revoked(consumer);
        });
        let (consumer_settings, start_from) = {
            let c = lock(&core);
            (
                consumer_config(&c.settings),
                c.settings.pipeline.state_rebuild,
            )
        };
        let consumer: BaseConsumer<VigilContext> = consumer_settings
            .create_with_context(VigilContext::new(start_from, on_revoke, transactional))
            .map_err(PipelineError::Client)?;
        let inputs: Vec<String> = lock(&core)
            .settings
            .topics
            .inputs
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        consumer
            .subscribe(&inputs)
            .map_err(PipelineError::Subscribe)?;
        Ok(Some(Pipeline {
            intake: Intake::new(consumer),
            core,
            read_ahead: None,
        }))
    }

    /// Runs until `shutdown` is cancelled, then finishes in-flight work,
    /// flushes and commits.
    pub fn run(mut self, shutdown: &CancellationToken) -> Result<(), PipelineError> {
        tracing::info!(
            inputs = lock(&self.core).settings.topics.inputs.len(),
            "pipeline running"
        );
        while !shutdown.is_cancelled() {
            self.turn()?;
        }
        // Read, never handled: above every committed position.
        self.read_ahead = None;
        let mut core = lock(&self.core);
        core.health.stopping.store(true, Ordering::Relaxed);
        tracing::info!("stopping: flushing reorder buffers and committing");
        let keys: Vec<_> = core.parts.keys().cloned().collect();
        for key in keys {
            core.flush_part(&key);
        }
        if core.transactional {
            core.transact(self.intake.consumer(), Instant::now(), false)?;
        } else {
            core.enqueue_batch(Instant::now(), true)?;
            core.settle(true, CommitMode::Sync, self.intake.consumer())?;
        }
        let _ = core.producer.flush(Duration::from_secs(10));
        tracing::info!("pipeline stopped");
        Ok(())
    }

    /// One batch: poll, score, publish; commit what earlier batches
    /// finished.
    ///
    /// Messages are polled into a chunk and handled together once the
    /// consumer's queue is empty or the batch is full (see `workers`). A
    /// rebalance can only happen inside `poll`; when one did, the messages
    /// polled before it are dropped unhandled: the revoke hook has already
    /// published, written and committed everything handled for the old
    /// assignment, so these are above the committed offsets and the
    /// partitions' next owner (this instance included) reads them again.
    fn turn(&mut self) -> Result<(), PipelineError> {
        let started = Instant::now();
        let (max_batch, timeout) = {
            let mut c = lock(&self.core);
            // Between batches: every event of a batch is scored under one set.
            if let Some(cfg) = c.health.live.take_engine_config() {
                c.apply_engine_config(cfg);
            }
            self.intake
                .split_if_stale(c.parts.keys().map(|(t, p)| (&**t, *p)));
            (
                c.settings.pipeline.max_batch,
                c.settings.pipeline.poll_timeout,
            )
        };
        let mut chunk = Vec::with_capacity(max_batch.min(65_536) + 1);
        let mut received = started;
        if let Some((ahead, read_at)) = self.read_ahead.take() {
            self.intake.resume(ahead, &mut chunk);
            received = read_at;
        }
        // Not under the lock: a rebalance callback may run in here. When
        // one did, the messages read before it (those read ahead too) are
        // dropped unhandled: the revoke hook committed everything handled,
        // and they lie above it.
        if self.intake.read(&mut chunk, max_batch, timeout) == intake::Read::OwnershipChanged {
            chunk.clear();
            let changes = self.intake.consumer().context().take_ownership_changes();
            lock(&self.core).apply_ownership_changes(changes)?;
            self.intake.ownership_changed();
        }
        let n = chunk.len();
        let mut tally = workers::Tally::default();
        let mut core = lock(&self.core);
        // The next batch, read by a thread the chunk leaves idle (see
        // `workers::run_all`) from the split-off queues only: the consumer
        // itself is polled (and rebalances served) at the next `read`. Not
        // with transactions: an aborted batch seeks the consumer back, and
        // what was read ahead of the seek would be handled out of order.
        let next = Mutex::new((Vec::new(), started));
        let intake = &self.intake;
        let read_ahead = || {
            let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
            next.1 = Instant::now();
            intake.read_ahead(&mut next.0, max_batch);
        };
        if n > 0 {
            core.health.broker_reachable.store(true, Ordering::Relaxed);
            let ahead = (!core.transactional).then_some(&read_ahead as &(dyn Fn() + Sync));
            core.handle_chunk(&chunk, &mut tally, ahead);
        }
        let (next, read_at) = next.into_inner().unwrap_or_else(|e| e.into_inner());
        if !next.is_empty() {
            let next = fetched::ReadAhead::new(next, intake.shared_consumer());
            self.read_ahead = Some((next, read_at));
        }
        // Freeing a chunk's messages (librdkafka's, one call each) took 5-7 %
        // of a turn on the loop's thread while the worker idled; freed on
        // the worker while this thread publishes, a turn is shorter (+9 %
        // events/s and -6 % CPU per event in the pipeline bench). Nothing
        // after handling reads the messages.
        let consumer = self.intake.consumer();
        if n >= workers::PARALLEL_MIN {
            let crew = core.crew.clone();
            crew.alongside(
                move || drop(chunk),
                || core.publish_turn(consumer, received, max_batch),
            )?;
        } else {
            drop(chunk);
            core.publish_turn(consumer, received, max_batch)?;
        }
        core.report(n, &tally, started);
        Ok(())
    }
}

impl Core {
    /// The rest of a turn once its chunk is handled: reports an error from
    /// a rebalance callback, reads profile updates, advances quiet
    /// partitions, then sends the batch's records and moves earlier
    /// batches on (or runs the batch's transaction). `received` is when
    /// the batch's first messages were read.
    fn publish_turn(
        &mut self,
        consumer: &BaseConsumer<VigilContext>,
        received: Instant,
        max_batch: usize,
    ) -> Result<(), PipelineError> {
        if let Some(e) = self.fatal.take() {
            return Err(e);
        }
        // Between batches: every event of a batch meets the same profiles.
        if let Some(table) = &self.profile_table {
            table.poll_updates(max_batch);
        }
        self.advance_idle();
        if self.transactional {
            self.transact(consumer, received, true)
        } else {
            self.enqueue_batch(received, false)?;
            self.settle(false, CommitMode::Async, consumer)
        }
    }

    pub(crate) fn partition_keys(&self) -> Vec<(Arc<str>, i32)> {
        self.parts.keys().cloned().collect()
    }

    pub(crate) fn engine(&self, key: &(Arc<str>, i32)) -> Option<&Engine> {
        self.parts.get(key).map(|p| &p.engine)
    }

    /// Swaps new engine settings into every engine, and into the settings
    /// that engines created later (assignments, restores) start from. The
    /// set was checked before it was offered; should an engine refuse it
    /// anyway, no engine is changed.
    fn apply_engine_config(&mut self, cfg: EngineConfig) {
        let checked = cfg
            .validate()
            .and_then(|()| self.settings.engine.check_live_change(&cfg));
        if let Err(e) = checked {
            metrics::counter!(m::CONFIG_RELOADS, "result" => "invalid").increment(1);
            tracing::warn!(error = %e, "new engine settings refused; the old ones stay");
            return;
        }
        for part in self.parts.values_mut() {
            if let Err(e) = part.engine.reconfigure(cfg.clone()) {
                // Unreachable after the check above (same checks, same set).
                tracing::error!(error = %e, "engine refused checked settings");
            }
        }
        self.settings.engine = cfg;
        metrics::counter!(m::CONFIG_RELOADS, "result" => "applied").increment(1);
        metrics::gauge!(m::CONFIG_GENERATION).increment(1.0);
        metrics::gauge!(m::CONFIG_LAST_RELOAD).set(now_millis() as f64 / 1000.0);
        tracing::info!(
            partitions = self.parts.len(),
            "engine settings reloaded: scores from the next batch on use them"
        );
    }

    /// Sends the batch's outputs and queues its changelog records and
    /// offsets behind them. With a changelog, the records and the offsets
    /// go at most every `pipeline.changelog_interval` unless `checkpoint`
    /// (shutdown, revocation): a player changed by several batches in
    /// between is written once, and the offsets wait for that record (the
    /// batches in between commit nothing, so a crash redoes them).
    fn enqueue_batch(&mut self, received: Instant, checkpoint: bool) -> Result<(), PipelineError> {
        let spare = self.spare_outboxes.pop().unwrap_or_default();
        let outbox = std::mem::replace(&mut self.outbox, spare);
        let sent = self.dispatch(outbox)?;
        let checkpoint = !self.use_changelog
            || checkpoint
            || self.last_checkpoint.elapsed() >= self.settings.pipeline.changelog_interval;
        let changelog = if self.use_changelog && checkpoint {
            self.last_checkpoint = Instant::now();
            self.changelog_records()
        } else {
            Vec::new()
        };
        let commit = if checkpoint {
            self.commit_positions()
        } else {
            TopicPartitionList::new()
        };
        if !sent.records.is_empty() || !changelog.is_empty() || commit.count() > 0 {
            self.in_flight.push_back(InFlight {
                sent,
                changelog: Some(changelog),
                changelog_sent: Sent::empty(),
                commit,
                received,
            });
        }
        Ok(())
    }

    /// Moves batches on, oldest first: a batch's changelog records go out
    /// once its outputs are acknowledged and every older batch's records
    /// are out; its offsets are committed once those are acknowledged too.
    /// Waits when too many batches are outstanding, or for all of them when
    /// `drain`.
    fn settle(
        &mut self,
        drain: bool,
        mode: CommitMode,
        consumer: &BaseConsumer<VigilContext>,
    ) -> Result<(), PipelineError> {
        let mut queue = std::mem::take(&mut self.in_flight);
        let result = self.settle_queue(&mut queue, drain, mode, consumer);
        self.in_flight = queue;
        result
    }

    fn settle_queue(
        &mut self,
        queue: &mut VecDeque<InFlight>,
        drain: bool,
        mode: CommitMode,
        consumer: &BaseConsumer<VigilContext>,
    ) -> Result<(), PipelineError> {
        loop {
            for batch in queue.iter_mut() {
                if batch.changelog.is_none() {
                    continue;
                }
                if !self.progress(&mut batch.sent, batch.received, false, true)? {
                    break;
                }
                let records = batch.changelog.take().unwrap_or_default();
                batch.changelog_sent = self.dispatch(records)?;
            }
            let block = drain || queue.len() > MAX_IN_FLIGHT;
            let Some(front) = queue.front_mut() else {
                break;
            };
            let done = self.progress(&mut front.sent, front.received, block, true)?
                && front.changelog.is_none()
                && self.progress(&mut front.changelog_sent, front.received, block, false)?;
            if !done {
                if block {
                    continue;
                }
                break;
            }
            if let Some(batch) = queue.pop_front() {
                self.commit(consumer, batch.commit, mode);
                self.recycle(batch.sent.records);
                self.recycle(batch.changelog_sent.records);
            }
        }
        Ok(())
    }

    /// Keeps an acknowledged list of records, emptied, for a later batch's
    /// outbox or changelog records. A batch's records take a few hundred
    /// kilobytes; freed and allocated again each batch, their pages were
    /// faulted in afresh (the allocator had returned them), which was a
    /// tenth of the loop thread's time with the per-partition lists that
    /// `workers::run_all` no longer grows.
    /// A list longer than [`SPARE_RECORDS_MAX`] (the checkpoint of a
    /// revocation or of a large restore) is freed instead: kept, its
    /// memory would stay taken for the life of the process.
    fn recycle(&mut self, mut records: Vec<OutRecord>) {
        records.clear();
        if (1..=SPARE_RECORDS_MAX).contains(&records.capacity())
            && self.spare_outboxes.len() <= MAX_IN_FLIGHT
        {
            self.spare_outboxes.push(records);
        }
    }

    /// Commits offsets whose work is all acknowledged.
    fn commit(
        &mut self,
        consumer: &BaseConsumer<VigilContext>,
        tpl: TopicPartitionList,
        mode: CommitMode,
    ) {
        if tpl.count() == 0 {
            return;
        }
        match consumer.commit(&tpl, mode) {
            Ok(()) => metrics::counter!(m::COMMITS, "result" => "ok").increment(1),
            Err(e) => {
                metrics::counter!(m::COMMITS, "result" => "error").increment(1);
                tracing::warn!(error = %e, "offset commit failed; will retry with the next batch");
                for ((topic, partition), part) in &mut self.parts {
                    if tpl.find_partition(topic, *partition).is_some() {
                        part.committed = None;
                    }
                }
            }
        }
    }

    /// Inside the rebalance, before partitions go: everything handled for
    /// them is published, written to the changelog and committed while
    /// this instance still owns them, then their state is dropped. Events
    /// still in reorder buffers travel in the changelog records; without a
    /// changelog they are redone by the next owner.
    fn finish_revoked(&mut self, consumer: &BaseConsumer<VigilContext>) {
        if self.parts.is_empty() && self.in_flight.is_empty() {
            return;
        }
        let finished = if self.transactional {
            self.transact(consumer, Instant::now(), false)
        } else {
            self.enqueue_batch(Instant::now(), true)
                .and_then(|()| self.settle(true, CommitMode::Sync, consumer))
        };
        if let Err(e) = finished {
            tracing::error!(error = ?e, "could not finish the work of revoked partitions");
            self.fatal.get_or_insert(e);
        }
        self.parts.clear();
        self.update_health();
    }

    /// The records of every player changed since the last batch, and each
    /// engine's clock if it moved, exact at the partition's position.
    /// Player records are encoded on every core when there are many (a
    /// state image is a few hundred bytes of protobuf).
    fn changelog_records(&mut self) -> Vec<OutRecord> {
        // Per partition: its players' records, then its clock if it moved.
        let mut jobs: Vec<(i32, i64, Arc<str>)> = Vec::new();
        let mut segments: Vec<(std::ops::Range<usize>, Option<OutRecord>)> = Vec::new();
        for ((topic, partition), part) in &mut self.parts {
            let through = part.position.or(part.committed).unwrap_or(0);
            let start = self.records.len();
            part.engine.take_changes(&mut self.records);
            jobs.extend((start..self.records.len()).map(|_| (*partition, through, topic.clone())));
            let clock = part.engine.clock_state();
            let clock_record = (part.clock_written != Some(clock)).then(|| {
                part.clock_written = Some(clock);
                OutRecord {
                    topic: self.changelog_topic.clone(),
                    partition: Some(*partition),
                    key: Some(vigil_codec::changelog::clock_key(topic)),
                    payload: vigil_codec::changelog::encode_clock(clock, through),
                    headers: Vec::new(),
                    kind: Kind::Changelog,
                }
            });
            segments.push((start..self.records.len(), clock_record));
        }
        let (records, changelog) = (&self.records, &self.changelog_topic);
        let mut blocks: Vec<(usize, Vec<OutRecord>)> = (0..records.len())
            .step_by(CHANGELOG_BLOCK)
            .map(|start| (start, Vec::new()))
            .collect();
        let threads = if records.len() >= 4 * CHANGELOG_BLOCK {
            self.crew.threads()
        } else {
            1
        };
        self.crew.spread(&mut blocks, threads, |(start, out)| {
            let end = (*start + CHANGELOG_BLOCK).min(records.len());
            out.extend((*start..end).map(|i| {
                let (rec, (partition, through, topic)) = (&records[i], &jobs[i]);
                OutRecord {
                    topic: changelog.clone(),
                    partition: Some(*partition),
                    key: Some(vigil_codec::changelog::player_key(
                        topic,
                        &rec.brand,
                        &rec.player_id,
                    )),
                    payload: vigil_codec::changelog::encode_player(rec, *through),
                    headers: Vec::new(),
                    kind: Kind::Changelog,
                }
            }));
        });
        self.records.clear();
        let mut encoded = blocks.into_iter().flat_map(|(_, out)| out);
        let mut out = self.spare_outboxes.pop().unwrap_or_default();
        out.reserve(jobs.len() + segments.len());
        for (range, clock) in segments {
            out.extend(encoded.by_ref().take(range.len()));
            out.extend(clock);
        }
        out
    }

    fn flush_part(&mut self, key: &(Arc<str>, i32)) {
        let Some(part) = self.parts.get_mut(key) else {
            return;
        };
        part.engine.flush(&mut self.outputs);
        let suppressed = part.catching_up();
        let outputs = std::mem::take(&mut self.outputs);
        self.enqueue_outputs(outputs, suppressed);
    }

    fn apply_ownership_changes(&mut self, changes: Vec<Ownership>) -> Result<(), PipelineError> {
        for change in changes {
            match change {
                Ownership::Revoked => {
                    // Finished in the callback already; anything left (a
                    // rebalance error) goes the same way.
                    self.parts.clear();
                }
                Ownership::Assigned(list) => self.take_over(list)?,
                Ownership::AssignFailed(reason) => {
                    self.parts.clear();
                    return Err(PipelineError::Assign(reason));
                }
            }
        }
        self.update_health();
        Ok(())
    }

    /// Sets up newly assigned partitions, restoring their state from the
    /// changelog first when there is one.
    fn take_over(&mut self, list: Vec<crate::context::Assigned>) -> Result<(), PipelineError> {
        let mut wanted = Vec::new();
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
                .or_insert_with(|| a.topic.as_str().into())
                .clone();
            wanted.push((
                Wanted {
                    topic,
                    partition: a.partition,
                    committed: a.committed,
                },
                encoding,
            ));
        }
        let mut restored = if self.use_changelog && !wanted.is_empty() {
            self.health.restoring.store(wanted.len(), Ordering::Relaxed);
            metrics::gauge!(m::PARTITIONS_RESTORING).set(wanted.len() as f64);
            let w: Vec<Wanted> = wanted.iter().map(|(w, _)| w.clone()).collect();
            let result = restore::restore(
                &self.restore_client,
                &self.changelog_topic,
                &w,
                &self.settings.engine,
                self.transactional,
                &self.shutdown,
            );
            self.health.restoring.store(0, Ordering::Relaxed);
            metrics::gauge!(m::PARTITIONS_RESTORING).set(0.0);
            match result? {
                Some(r) => r,
                None => return Ok(()), // shutting down
            }
        } else {
            HashMap::new()
        };
        for (w, encoding) in wanted {
            let key = (w.topic, w.partition);
            let (mut engine, held) = match restored.remove(&key) {
                Some(r) => (r.engine, (r.held.until > 0).then_some(r.held)),
                None => (Engine::new(self.settings.engine.clone())?, None),
            };
            engine.share_profiles(self.profiles.clone());
            let resume_at = match self.settings.pipeline.state_rebuild {
                StartFrom::Earliest => w.committed,
                StartFrom::Committed | StartFrom::Changelog => None,
            };
            let clock = engine.clock_state();
            self.parts.insert(
                key,
                Part {
                    engine,
                    encoding,
                    inflight: VecDeque::new(),
                    resume_at,
                    position: None,
                    held,
                    clock_written: Some(clock),
                    commit_at: None,
                    committed: w.committed,
                    last_message: Instant::now(),
                    newest_ts: Timestamp::MIN,
                    seen: (0, 0),
                    seen_offers: Default::default(),
                },
            );
        }
        Ok(())
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

    /// Handles a polled chunk, each partition's messages in offset order
    /// and the partitions in parallel (see `workers`).
    fn handle_chunk(
        &mut self,
        chunk: &[fetched::Fetched<'_>],
        tally: &mut workers::Tally,
        read_ahead: Option<&(dyn Fn() + Sync)>,
    ) {
        let mut work: Vec<workers::Work<'_>> = Vec::with_capacity(self.parts.len());
        let mut index: HashMap<(&str, i32), usize> = HashMap::with_capacity(self.parts.len());
        for ((topic, partition), part) in self.parts.iter_mut() {
            index.insert((topic, *partition), work.len());
            work.push(workers::Work::new(topic.clone(), part));
        }
        // Messages of partitions not owned (any more) are not handled. A
        // chunk comes in runs of one partition (see `intake`), so the
        // share is looked up once a run, not hashed for every message.
        let mut run: Option<((usize, i32), Option<usize>)> = None;
        for (i, msg) in chunk.iter().enumerate() {
            let source = msg.source();
            let w = match run {
                Some((s, w)) if s == source => w,
                _ => {
                    let w = index.get(&(msg.topic(), msg.partition())).copied();
                    run = Some((source, w));
                    w
                }
            };
            if let Some(w) = w {
                work[w].messages.push(i);
            }
        }
        drop(index);
        let ahead = self.settings.pipeline.max_event_ahead;
        let latest = (!ahead.is_zero()).then(|| {
            Timestamp::from_millis(
                now_millis().saturating_add(vigil_domain::time::duration_ms(ahead)),
            )
        });
        workers::run_all(
            &mut work,
            chunk,
            &self.sinks,
            self.use_changelog,
            latest,
            &self.crew,
            &mut self.outbox,
            read_ahead,
        );
        workers::collect(&work, tally);
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

    fn enqueue_outputs(&mut self, mut outputs: Vec<Output>, suppressed: bool) {
        self.sinks
            .records(&mut outputs, suppressed, &mut self.outbox);
    }

    /// Sends records; acknowledgements are collected later by
    /// [`Core::progress`], so the next batch is read meanwhile.
    fn dispatch(&mut self, records: Vec<OutRecord>) -> Result<Sent, PipelineError> {
        let acks = Arc::new(Acks::default());
        self.send_all(&records, &acks)
            .map_err(|e| PipelineError::Delivery {
                attempts: 1,
                last: e.to_string(),
            })?;
        Ok(Sent {
            done: records.is_empty(),
            records,
            acks,
            attempts: HashMap::new(),
            given_up: None,
        })
    }

    /// Collects acknowledgements (waiting for them if `block`), sending
    /// failed records again up to [`DELIVERY_ATTEMPTS`] times if `retry`
    /// (changelog records are not: a resent record could land after a newer
    /// one of the same player). Returns whether every record is
    /// acknowledged.
    fn progress(
        &mut self,
        sent: &mut Sent,
        received: Instant,
        block: bool,
        retry: bool,
    ) -> Result<bool, PipelineError> {
        if sent.done {
            return Ok(true);
        }
        if let Some(g) = &sent.given_up {
            return Err(g.error());
        }
        let result = self.collect_acks(sent, received, block, retry);
        if let Err(e) = &result {
            sent.given_up = GiveUp::of(e);
        }
        result
    }

    /// [`Core::progress`] of a group not given up on.
    fn collect_acks(
        &mut self,
        sent: &mut Sent,
        received: Instant,
        block: bool,
        retry: bool,
    ) -> Result<bool, PipelineError> {
        loop {
            // Read before the failures: a failure is noted before its
            // record is counted down, so a settled group with no failure
            // left is all acknowledged.
            let settled = sent.acks.settled();
            let failed = sent.acks.take_failed();
            if settled && failed.is_empty() {
                self.published.acknowledged(
                    &sent.records,
                    received.elapsed().as_secs_f64(),
                    now_millis(),
                );
                sent.done = true;
                return Ok(true);
            }
            // One line for all the records refused since the last look: a
            // refused produce request fails every record it carried.
            if let Some((_, error)) = failed.first().filter(|_| retry) {
                let attempt = failed
                    .iter()
                    .map(|(i, _)| sent.attempts.get(i).copied().unwrap_or(1))
                    .max()
                    .unwrap_or(1);
                if attempt < DELIVERY_ATTEMPTS {
                    tracing::warn!(
                        records = failed.len(),
                        attempt,
                        %error,
                        "output delivery failed; sending again"
                    );
                }
            }
            for (index, error) in failed {
                let record = &sent.records[index as usize];
                metrics::counter!(m::PRODUCER_ERRORS, "topic" => record.topic.to_string())
                    .increment(1);
                if !retry {
                    return Err(PipelineError::Changelog { last: error });
                }
                let attempts = sent.attempts.entry(index).or_insert(1);
                if *attempts >= DELIVERY_ATTEMPTS {
                    return Err(PipelineError::Delivery {
                        attempts: *attempts,
                        last: error,
                    });
                }
                *attempts += 1;
                let attempts = *attempts;
                self.send(record, &sent.acks, index)
                    .map_err(|e| PipelineError::Delivery {
                        attempts,
                        last: e.to_string(),
                    })?;
            }
            if !block {
                return Ok(false);
            }
            self.producer
                .context()
                .wait(&sent.acks, Duration::from_millis(100));
        }
    }

    /// Sends every record, in order, from this thread, and stops at the
    /// first one refused.
    ///
    /// Sent on every core instead (each thread the records of its share
    /// of the keys), a record cost more: the senders contend for
    /// librdkafka's partition queues, and the worker, freeing the chunk's
    /// messages meanwhile, joined half-way and left this thread waiting for
    /// its share. From this thread alone, 24 pairs of the pipeline bench
    /// read 3.5 % more events a second, faster in 16, and 0.03 µs less CPU
    /// per event (benches/README.md).
    fn send_all(&self, records: &[OutRecord], acks: &Arc<Acks>) -> Result<(), KafkaError> {
        // Counted up once for the group, not once per record.
        acks.expect(records.len());
        let mut handed = 0;
        let result = records.iter().enumerate().try_for_each(|(index, r)| {
            self.enqueue(r, acks, index as u32)?;
            handed += 1;
            Ok(())
        });
        if result.is_err() {
            // The refused record and those behind it get no callback.
            acks.refused(records.len() - handed);
        }
        result
    }

    /// Enqueues one record of a group, waiting for room when the producer
    /// queue is full.
    fn send(&self, r: &OutRecord, acks: &Arc<Acks>, index: u32) -> Result<(), KafkaError> {
        acks.expect(1);
        self.enqueue(r, acks, index)
            .inspect_err(|_| acks.refused(1))
    }

    /// [`Core::send`] of a record already counted in `acks`.
    fn enqueue(&self, r: &OutRecord, acks: &Arc<Acks>, index: u32) -> Result<(), KafkaError> {
        let mut ticket = Box::new(Ticket {
            acks: acks.clone(),
            index,
        });
        loop {
            let mut record: BaseRecord<'_, [u8], [u8], Box<Ticket>> =
                BaseRecord::with_opaque_to(&r.topic, ticket).payload(&r.payload[..]);
            // No header list for a record without headers (every score
            // record): an empty list is still allocated, handed over and
            // freed by librdkafka, a quarter of the send's cost on the
            // calling thread (0.13 of 0.5 µs, `examples/send_cost.rs`).
            if !r.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
                for (k, v) in &r.headers {
                    headers = headers.insert(Header {
                        key: k,
                        value: Some(&v[..]),
                    });
                }
                record = record.headers(headers);
            }
            if let Some(k) = &r.key {
                record = record.key(&k[..]);
            }
            if let Some(p) = r.partition {
                record = record.partition(p);
            }
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    ticket = back.delivery_opaque;
                    self.producer.context().pause(Duration::from_millis(10));
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
            if self.use_changelog {
                // The changelog records of this batch hold what the reorder
                // buffer holds: everything handled may be committed.
                part.commit_at = part.position;
            }
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

    fn report(&mut self, n: usize, tally: &workers::Tally, started: Instant) {
        for (ty, &c) in EventType::ALL.iter().zip(&tally.consumed) {
            if c > 0 {
                metrics::counter!(m::EVENTS_CONSUMED, "type" => ty.as_str()).increment(c);
            }
        }
        for (reason, &c) in &tally.rejected {
            metrics::counter!(m::EVENTS_REJECTED, "reason" => *reason).increment(c);
        }
        let (mut players, mut pending, mut bands) = (0usize, 0usize, [0u64; 3]);
        let (mut dups, mut late) = (0u64, 0u64);
        let (mut suppressed, mut skipped) = ([0u64; 4], [0u64; 3]);
        for part in self.parts.values_mut() {
            let s = part.engine.stats();
            dups += s.duplicates - part.seen.0;
            late += s.late - part.seen.1;
            part.seen = (s.duplicates, s.late);
            for (i, c) in suppressed.iter_mut().enumerate() {
                *c += s.suppressed[i] - part.seen_offers.0[i];
            }
            for (i, c) in skipped.iter_mut().enumerate() {
                *c += s.offers_skipped[i] - part.seen_offers.1[i];
            }
            part.seen_offers = (s.suppressed, s.offers_skipped);
            players += part.engine.player_count();
            pending += part.engine.pending_count();
            for (b, c) in bands.iter_mut().zip(s.bands) {
                *b += c;
            }
        }
        for (reason, c) in vigil_domain::Suppression::ALL.iter().zip(suppressed) {
            if c > 0 {
                metrics::counter!(m::OFFERS_SUPPRESSED, "reason" => reason.as_str()).increment(c);
            }
        }
        for (reason, c) in vigil_domain::offer::Skip::ALL.iter().zip(skipped) {
            if c > 0 {
                metrics::counter!(m::OFFERS_SKIPPED, "reason" => reason.as_str()).increment(c);
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

/// Handles of the metrics of acknowledged records, created once: a
/// `metrics::counter!` with labels looks its series up on every call, which
/// was a measurable share of publishing a score. The rarer outputs
/// (alerts, offers, outcomes, dead letters) still use the macros.
#[derive(Debug)]
struct Published {
    scores: [metrics::Counter; 3],
    score_event_to_publish: metrics::Histogram,
    score_receive_to_publish: metrics::Histogram,
    changelog_records: metrics::Counter,
    changelog_bytes: metrics::Counter,
}

impl Published {
    fn new() -> Self {
        Published {
            scores: Band::ALL
                .map(|band| metrics::counter!(m::SCORES_PUBLISHED, "band" => band.as_str())),
            score_event_to_publish: metrics::histogram!(m::EVENT_TO_PUBLISH, "output" => "score"),
            score_receive_to_publish: metrics::histogram!(m::RECEIVE_TO_PUBLISH, "output" => "score"),
            changelog_records: metrics::counter!(m::CHANGELOG_RECORDS),
            changelog_bytes: metrics::counter!(m::CHANGELOG_BYTES),
        }
    }

    /// Metrics of a group of records acknowledged together:
    /// `receive_to_publish` is the same for all of them (a clock read per
    /// record was a measurable share of the loop), counters move once.
    fn acknowledged(&self, records: &[OutRecord], receive_to_publish: f64, now_ms: i64) {
        let event_to_publish = |ts: Timestamp| (now_ms - ts.as_millis()).max(0) as f64 / 1000.0;
        let (mut scores, mut changelog, mut bytes) = ([0u64; 3], 0u64, 0u64);
        for record in records {
            match record.kind {
                Kind::Score { band, event_ts } => {
                    scores[band as usize] += 1;
                    self.score_event_to_publish
                        .record(event_to_publish(event_ts));
                }
                Kind::Changelog => {
                    changelog += 1;
                    bytes +=
                        (record.payload.len() + record.key.as_ref().map_or(0, Vec::len)) as u64;
                }
                _ => acknowledge_other(record, receive_to_publish, now_ms),
            }
        }
        for (counter, n) in self.scores.iter().zip(scores) {
            if n > 0 {
                counter.increment(n);
            }
        }
        let n: u64 = scores.iter().sum();
        if n > 0 {
            self.score_receive_to_publish
                .record_many(receive_to_publish, n as usize);
        }
        if changelog > 0 {
            self.changelog_records.increment(changelog);
            self.changelog_bytes.increment(bytes);
        }
    }
}

/// Metrics of an acknowledged alert, offer, outcome or dead letter.
fn acknowledge_other(record: &OutRecord, receive_to_publish: f64, now_ms: i64) {
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
        Kind::Offer {
            status,
            channel,
            event_ts,
        } => {
            metrics::counter!(m::OFFERS_PUBLISHED, "status" => status.as_str(), "channel" => channel.as_str())
                .increment(1);
            metrics::histogram!(m::EVENT_TO_PUBLISH, "output" => "offer")
                .record(event_to_publish(event_ts));
            metrics::histogram!(m::RECEIVE_TO_PUBLISH, "output" => "offer")
                .record(receive_to_publish);
        }
        Kind::Outcome {
            group,
            recovered,
            event_ts,
        } => {
            metrics::counter!(m::OUTCOMES_PUBLISHED, "group" => group, "recovered" => if recovered { "true" } else { "false" })
                .increment(1);
            m::record_outcome(group, recovered);
            metrics::histogram!(m::EVENT_TO_PUBLISH, "output" => "outcome")
                .record(event_to_publish(event_ts));
            metrics::histogram!(m::RECEIVE_TO_PUBLISH, "output" => "outcome")
                .record(receive_to_publish);
        }
        Kind::DeadLetter { reason } => {
            metrics::counter!(m::DEAD_LETTERED, "reason" => reason).increment(1);
        }
        // Counted per group by `Published`.
        Kind::Score { .. } | Kind::Changelog => {}
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
fn dead_letter<M: Message>(topic: &Arc<str>, msg: &M, reason: &Reject) -> OutRecord {
    let mut headers = vec![
        (dlq_headers::REASON, Cow::Borrowed(reason.code().as_bytes())),
        (
            dlq_headers::DETAIL,
            Cow::Owned(reason.to_string().into_bytes()),
        ),
        (
            dlq_headers::SOURCE_TOPIC,
            Cow::Owned(msg.topic().as_bytes().to_vec()),
        ),
        (
            dlq_headers::SOURCE_PARTITION,
            Cow::Owned(msg.partition().to_string().into_bytes()),
        ),
        (
            dlq_headers::SOURCE_OFFSET,
            Cow::Owned(msg.offset().to_string().into_bytes()),
        ),
    ];
    // Keep the producer's own headers too, so nothing about the event is lost.
    if let Some(h) = msg.headers() {
        for header in (0..h.count()).filter_map(|i| h.try_get(i)) {
            if let Some(v) = header.value
                && let Some(name) = ORIGINAL_HEADER_NAMES.iter().find(|n| **n == header.key)
            {
                headers.push((name, Cow::Owned(v.to_vec())));
            }
        }
    }
    OutRecord {
        topic: topic.clone(),
        partition: None,
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
