//! Handling a polled chunk of messages on every core.
//!
//! Partitions are independent (one engine each, a player's events all in
//! one partition), so each thread takes a partition's share of the chunk
//! and scores its events in offset order, turning the outputs into
//! records on the same thread. Decoding needs nothing but the bytes: the
//! share's messages are cut into blocks that the scoring thread decodes
//! as it reaches them, unless a thread with no share left has decoded
//! them ahead. A chunk holds an equal share of every partition that had
//! messages ready (see `intake`); when that is one partition, one core
//! decodes while the other scores. Nothing else runs
//! meanwhile: the chunk is handled between two `poll`s exactly as the
//! messages one by one would be, so commits, the changelog and rebalances
//! see the same state. On one core, or for a small chunk, everything runs
//! on the loop's thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use rdkafka::message::Message;
use vigil_codec::output::Encoding;
use vigil_domain::{EventType, Output, PlayerEvent, Reject, Timestamp};

use super::fetched::Ahead;
use super::outputs::Sinks;
use super::{OutRecord, Part, dead_letter};

/// Below this many messages a chunk is handled (and freed) on the loop's
/// thread: waking a worker costs tens of microseconds.
pub(super) const PARALLEL_MIN: usize = 512;

/// What handling a chunk counted, for the batch's metrics.
#[derive(Debug)]
pub(super) struct Tally {
    pub(super) consumed: [u64; EventType::ALL.len()],
    pub(super) rejected: HashMap<&'static str, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            consumed: [0; EventType::ALL.len()],
            rejected: HashMap::new(),
        }
    }
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        for (a, b) in self.consumed.iter_mut().zip(other.consumed) {
            *a += b;
        }
        for (reason, c) in &other.rejected {
            *self.rejected.entry(reason).or_default() += c;
        }
    }
}

/// One partition's share of a chunk.
pub(super) struct Work<'a> {
    pub(super) topic: Arc<str>,
    pub(super) part: &'a mut Part,
    /// Indices into the chunk, in offset order.
    pub(super) messages: Vec<usize>,
    pub(super) tally: Tally,
    outputs: Vec<Output>,
}

impl<'a> Work<'a> {
    pub(super) fn new(topic: Arc<str>, part: &'a mut Part) -> Self {
        Work {
            topic,
            part,
            messages: Vec::new(),
            tally: Tally::default(),
            outputs: Vec::new(),
        }
    }

    /// Applies this partition's decoded messages, in order: its blocks
    /// one after the other, each decoded here unless another thread has
    /// done it or is doing it.
    fn run<M: Ahead>(
        &mut self,
        chunk: &[M],
        blocks: &[Block],
        progress: &Progress,
        sinks: &Sinks,
        use_changelog: bool,
    ) {
        if blocks.is_empty() {
            return;
        }
        let now = Instant::now();
        for block in blocks {
            let events = block.take(chunk, progress);
            let mut pending = Vec::new();
            for (k, (&i, decoded)) in block.messages.iter().zip(events).enumerate() {
                if let Some(&next) = block.messages.get(k + RECORD_AHEAD) {
                    chunk[next].ask_ahead();
                }
                handle(
                    &self.topic,
                    self.part,
                    &chunk[i],
                    decoded,
                    &sinks.dead_letter,
                    use_changelog,
                    &mut self.outputs,
                    &mut pending,
                    &mut self.tally,
                );
            }
            block.scored(pending, progress);
        }
        self.part.last_message = now;
    }
}

/// Decodes a message, refusing an event stamped after `latest` (see
/// `pipeline.max_event_ahead`).
fn decode<M: Message>(
    msg: &M,
    encoding: Encoding,
    latest: Option<Timestamp>,
) -> Result<PlayerEvent, Reject> {
    let payload = msg.payload().unwrap_or_default();
    let event = match encoding {
        Encoding::Json => vigil_codec::json::decode_event(payload),
        Encoding::Protobuf => vigil_codec::proto::decode_event(payload),
    }?;
    match latest {
        Some(limit) if event.ts > limit => Err(Reject::InFuture {
            ts: event.ts.to_string(),
            limit: limit.to_string(),
        }),
        _ => Ok(event),
    }
}

/// How many messages ahead of the one being decoded a payload is
/// prefetched.
const PREFETCH_AHEAD: usize = 2;

/// How many messages ahead of the one read a message's record is asked
/// for (see [`Ahead`]); the decoder asks this much before its payload.
const RECORD_AHEAD: usize = 2;

/// Messages one thread decodes at a time.
const DECODE_BLOCK: usize = 256;

/// The threads a pipeline spreads its work over: the loop's own and, on
/// more than one CPU, a pool of long-lived workers beside it.
///
/// Threads used to be started for every chunk and every large send (two
/// hundred a million events). Each start cost more than it showed: a fresh
/// stack and a fresh allocator heap to fault in, and the records a worker
/// had allocated were freed on the loop's thread after that worker's heap
/// was abandoned. Together that was a twentieth of the pipeline's time.
pub(crate) struct Crew {
    /// `threads - 1` workers; none on one CPU (or if none could start).
    pool: Option<rayon_core::ThreadPool>,
    threads: usize,
}

impl Crew {
    /// A crew of `threads` (the loop's thread included).
    pub(crate) fn new(threads: usize) -> Crew {
        if threads <= 1 {
            return Crew {
                pool: None,
                threads: 1,
            };
        }
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(threads - 1)
            .thread_name(|_| "vigil-worker".into())
            .build();
        match pool {
            Ok(pool) => Crew {
                pool: Some(pool),
                threads,
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the pipeline's worker threads; working on one");
                Crew {
                    pool: None,
                    threads: 1,
                }
            }
        }
    }

    /// Threads work is spread over, the loop's included.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on this thread and on `threads - 1` of the crew's
    /// workers (at most all of them), returning once every run has.
    fn run(&self, threads: usize, work: impl Fn() + Sync) {
        let helpers = threads.min(self.threads).saturating_sub(1);
        match &self.pool {
            Some(pool) if helpers > 0 => pool.in_place_scope(|s| {
                for _ in 0..helpers {
                    s.spawn(|_| work());
                }
                work();
            }),
            _ => work(),
        }
    }

    /// Runs `side` on one of the crew's workers while `main` runs on this
    /// thread, returning `main`'s result once both are done (both here,
    /// one after the other, without workers).
    pub(crate) fn alongside<R>(&self, side: impl FnOnce() + Send, main: impl FnOnce() -> R) -> R {
        match &self.pool {
            Some(pool) => pool.in_place_scope(|s| {
                s.spawn(|_| side());
                main()
            }),
            None => {
                side();
                main()
            }
        }
    }

    /// Runs `f` on every unit on up to `threads` threads (this one
    /// included), each thread taking the next unit nobody has claimed yet,
    /// so a thread that starts late (the machine busy with other work)
    /// simply takes fewer and nobody waits on it for long.
    pub(super) fn spread<T: Send>(
        &self,
        units: &mut [T],
        threads: usize,
        f: impl Fn(&mut T) + Sync,
    ) {
        let threads = threads.min(units.len());
        if threads <= 1 {
            units.iter_mut().for_each(f);
            return;
        }
        let cells: Vec<Mutex<&mut T>> = units.iter_mut().map(Mutex::new).collect();
        let next = AtomicUsize::new(0);
        self.run(threads, || {
            while let Some(cell) = cells.get(next.fetch_add(1, Ordering::Relaxed)) {
                // Each cell is claimed once: the lock is never contended.
                f(&mut cell.lock().unwrap_or_else(|e| e.into_inner()));
            }
        });
    }
}

impl std::fmt::Debug for Crew {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crew")
            .field("threads", &self.threads)
            .finish()
    }
}

/// A block's way through: decoded, then scored, then encoded, each step
/// by whichever thread claims it (the `BUSY` states).
const FREE: u8 = 0;
const BUSY: u8 = 1;
const DONE: u8 = 2;
const SCORED: u8 = 3;
const ENCODING: u8 = 4;
const ENCODED: u8 = 5;

/// What scoring a message left to publish: outputs still to encode, or a
/// dead letter already made.
enum Pending {
    Output(Output),
    Record(OutRecord),
}

/// Up to [`DECODE_BLOCK`] consecutive messages of one partition, decoded
/// by whichever thread claims them first: the thread scoring the partition
/// when it gets there, or earlier a thread with no partition of its own
/// left, reading ahead.
struct Block {
    /// Chunk indices, in offset order.
    messages: Vec<usize>,
    encoding: Encoding,
    /// The latest event time accepted, if any limit is set.
    latest: Option<Timestamp>,
    state: AtomicU8,
    events: Mutex<Vec<Result<PlayerEvent, Reject>>>,
    /// After scoring: what to publish, in order.
    pending: Mutex<Vec<Pending>>,
    /// After encoding: the records, in order.
    records: Mutex<Vec<OutRecord>>,
}

/// Where a thread waits for a block another thread is decoding or
/// scoring.
#[derive(Default)]
struct Progress {
    lock: Mutex<()>,
    decoded: Condvar,
    /// A scoring thread panicked: nobody waits for its blocks any more
    /// (the panic then comes out of the thread scope).
    abandoned: AtomicBool,
}

/// Marks the progress abandoned if the thread scoring a share unwinds.
struct Abandon<'a>(&'a Progress);

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.0.abandoned.store(true, Ordering::Release);
            self.0.decoded.notify_all();
        }
    }
}

impl Block {
    /// Decodes the block if nobody has started on it.
    fn decode_if_free<M: Ahead>(&self, chunk: &[M], progress: &Progress) -> bool {
        if self
            .state
            .compare_exchange(FREE, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        // The payloads are cold (librdkafka's thread wrote them, on
        // another core): the one two messages on is asked for while this
        // one is read.
        let events: Vec<_> = self
            .messages
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                if let Some(&next) = self.messages.get(k + PREFETCH_AHEAD + RECORD_AHEAD) {
                    chunk[next].ask_ahead();
                }
                if let Some(&next) = self.messages.get(k + PREFETCH_AHEAD) {
                    vigil_domain::engine::prefetch_bytes(chunk[next].payload().unwrap_or_default());
                }
                decode(&chunk[i], self.encoding, self.latest)
            })
            .collect();
        *self.events.lock().unwrap_or_else(|e| e.into_inner()) = events;
        // Under the lock: a thread that saw the block busy is either
        // waiting already or has not looked yet.
        let _guard = progress.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.state.store(DONE, Ordering::Release);
        progress.decoded.notify_all();
        true
    }

    /// The decoded events, decoding them here or waiting for the thread
    /// that is.
    fn take<M: Ahead>(&self, chunk: &[M], progress: &Progress) -> Vec<Result<PlayerEvent, Reject>> {
        if !self.decode_if_free(chunk, progress) {
            let mut guard = progress.lock.lock().unwrap_or_else(|e| e.into_inner());
            while self.state.load(Ordering::Acquire) != DONE {
                guard = progress
                    .decoded
                    .wait(guard)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Scoring is done: the block's outputs wait for a thread to encode
    /// them.
    fn scored(&self, pending: Vec<Pending>, progress: &Progress) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = pending;
        let _guard = progress.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.state.store(SCORED, Ordering::Release);
        progress.decoded.notify_all();
    }

    /// Encodes the block's outputs if it is scored and nobody has started.
    fn encode_if_scored(&self, sinks: &Sinks) -> bool {
        if self
            .state
            .compare_exchange(SCORED, ENCODING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let records: Vec<OutRecord> = pending
            .into_iter()
            .filter_map(|p| match p {
                Pending::Output(o) => sinks.record(o),
                Pending::Record(r) => Some(r),
            })
            .collect();
        *self.records.lock().unwrap_or_else(|e| e.into_inner()) = records;
        self.state.store(ENCODED, Ordering::Release);
        true
    }

    /// Waits until the block is scored (or further), or its scoring
    /// thread has panicked.
    fn wait_scored(&self, progress: &Progress) {
        let mut guard = progress.lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.state.load(Ordering::Acquire) < SCORED
            && !progress.abandoned.load(Ordering::Acquire)
        {
            guard = progress
                .decoded
                .wait(guard)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Decodes and scores the chunk on up to `threads` threads (the loop's
/// own included). Each thread takes the largest partition share nobody
/// has claimed and scores it, decoding its blocks in turn; a thread with
/// no share left decodes blocks ahead, in chunk order, for the others. So
/// a chunk of one partition is decoded on one core while it is scored on
/// the other, and a chunk of several is decoded and scored on all.
///
/// On several threads, the first thread left with nothing to decode
/// runs `read_ahead` once (reading the next batch) before it waits to
/// encode behind: the serial read of a turn, the worker idle, was a tenth
/// of the turn, and the thread done first with its share waited about as
/// long for the other's last blocks.
///
/// An event stamped after `latest` is refused (`timestamp_in_future`).
/// The records go to the end of `outbox`.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_all<M: Ahead + Sync>(
    work: &mut [Work<'_>],
    chunk: &[M],
    sinks: &Sinks,
    use_changelog: bool,
    latest: Option<Timestamp>,
    crew: &Crew,
    outbox: &mut Vec<OutRecord>,
    read_ahead: Option<&(dyn Fn() + Sync)>,
) {
    let mut blocks: Vec<Block> = Vec::new();
    let mut spans: Vec<std::ops::Range<usize>> = Vec::with_capacity(work.len());
    for w in work.iter() {
        let start = blocks.len();
        blocks.extend(w.messages.chunks(DECODE_BLOCK).map(|m| Block {
            messages: m.to_vec(),
            encoding: w.part.encoding,
            latest,
            state: AtomicU8::new(FREE),
            events: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
            records: Mutex::new(Vec::new()),
        }));
        spans.push(start..blocks.len());
    }
    // Reading ahead follows the chunk: the blocks scoring needs first.
    let mut ahead: Vec<usize> = (0..blocks.len()).collect();
    ahead.sort_by_key(|&b| blocks[b].messages.first().copied().unwrap_or(0));
    let mut shares: Vec<(&mut Work<'_>, std::ops::Range<usize>)> = work
        .iter_mut()
        .zip(spans.iter().cloned())
        .filter(|(w, _)| !w.messages.is_empty())
        .collect();
    shares.sort_by_key(|(w, _)| std::cmp::Reverse(w.messages.len()));
    let threads = if chunk.len() < PARALLEL_MIN {
        1
    } else {
        crew.threads().min(blocks.len())
    };
    let progress = Progress::default();
    if threads <= 1 {
        for (w, span) in &mut shares {
            w.run(
                chunk,
                &blocks[span.clone()],
                &progress,
                sinks,
                use_changelog,
            );
        }
    } else {
        let cells: Vec<_> = shares.iter_mut().map(Mutex::new).collect();
        let (next_share, next_ahead, next_encode) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let read = AtomicBool::new(false);
        crew.run(threads, || {
            while let Some(cell) = cells.get(next_share.fetch_add(1, Ordering::Relaxed)) {
                // Each cell is claimed once: the lock is never contended.
                let mut share = cell.lock().unwrap_or_else(|e| e.into_inner());
                let _abandon = Abandon(&progress);
                let (w, span) = &mut **share;
                w.run(
                    chunk,
                    &blocks[span.clone()],
                    &progress,
                    sinks,
                    use_changelog,
                );
                // Its blocks nobody has encoded yet.
                for block in &blocks[span.clone()] {
                    block.encode_if_scored(sinks);
                }
            }
            // Every share is being scored by now: help with what the
            // scoring threads leave, decoding ahead, then encoding behind.
            while let Some(&b) = ahead.get(next_ahead.fetch_add(1, Ordering::Relaxed)) {
                blocks[b].decode_if_free(chunk, &progress);
            }
            if let Some(read_ahead) = read_ahead
                && !read.swap(true, Ordering::AcqRel)
            {
                read_ahead();
            }
            while let Some(&b) = ahead.get(next_encode.fetch_add(1, Ordering::Relaxed)) {
                blocks[b].wait_scored(&progress);
                blocks[b].encode_if_scored(sinks);
            }
        });
    }
    drop(shares);
    // Every block is encoded now (on one thread, or by the threads that
    // scored them, which encode what nobody else did). The records go
    // straight to the outbox, room made for all of them at once: growing
    // a list per partition and then the outbox, a few hundred kilobytes
    // of fresh memory a chunk, was a tenth of the loop thread's time in
    // page faults. Partition by partition, each in block order, so a
    // player's records stay in event order.
    for block in blocks.iter_mut() {
        block.encode_if_scored(sinks);
    }
    let records =
        |b: &mut Block| std::mem::take(b.records.get_mut().unwrap_or_else(|e| e.into_inner()));
    let mut blocks: Vec<Vec<OutRecord>> = blocks.iter_mut().map(records).collect();
    outbox.reserve(blocks.iter().map(Vec::len).sum());
    for span in spans {
        for block in &mut blocks[span] {
            outbox.append(block);
        }
    }
}

/// Adds every share's counts into `total`.
pub(super) fn collect(work: &[Work<'_>], total: &mut Tally) {
    for w in work {
        total.add(&w.tally);
    }
}

/// One decoded message: apply it (or pass over what the restored state
/// holds), track the commit position, and turn outputs or the rejection
/// into what to publish.
#[allow(clippy::too_many_arguments)]
fn handle<M: Message>(
    topic: &Arc<str>,
    part: &mut Part,
    msg: &M,
    decoded: Result<PlayerEvent, Reject>,
    dead_letters: &Arc<str>,
    use_changelog: bool,
    outputs: &mut Vec<Output>,
    pending: &mut Vec<Pending>,
    tally: &mut Tally,
) {
    let offset = msg.offset();
    let suppressed = part.suppressed(offset);
    let result = decoded.and_then(|event| {
        let ts = event.ts;
        let ty = event.payload.event_type();
        let held = part
            .held
            .as_ref()
            .is_some_and(|h| h.holds(topic, &event.brand, &event.player_id, offset));
        if held {
            part.engine.skip(event, outputs)
        } else {
            part.engine.ingest(event, outputs)
        }
        .map(|()| (ts, ty))
    });
    part.position = Some(offset + 1);
    if part.held.as_ref().is_some_and(|h| offset + 1 >= h.until) {
        part.held = None;
    }
    // Without a changelog, an offset may be committed only once its
    // event has left the reorder buffer.
    let track = !use_changelog;
    match result {
        Ok((ts, ty)) => {
            tally.consumed[ty as usize] += 1;
            part.newest_ts = part.newest_ts.max(ts);
            if track {
                part.inflight.push_back((offset, ts));
            }
        }
        Err(reason) => {
            *tally.rejected.entry(reason.code()).or_default() += 1;
            if track {
                part.inflight.push_back((offset, Timestamp::MIN));
            }
            if !suppressed {
                pending.push(Pending::Record(dead_letter(dead_letters, msg, &reason)));
            }
        }
    }
    // Nothing is published for suppressed outputs: a previous owner did.
    if suppressed {
        outputs.clear();
    } else {
        pending.extend(outputs.drain(..).map(Pending::Output));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use rdkafka::message::OwnedMessage;
    use vigil_domain::{Engine, EngineConfig};

    use super::*;
    use crate::config::TopicsConfig;

    fn part() -> Part {
        Part {
            engine: Engine::new(EngineConfig::default()).expect("default engine settings"),
            encoding: Encoding::Json,
            inflight: VecDeque::new(),
            resume_at: None,
            position: None,
            held: None,
            clock_written: None,
            commit_at: None,
            committed: None,
            last_message: Instant::now(),
            newest_ts: Timestamp::MIN,
            seen: (0, 0),
            seen_offers: Default::default(),
        }
    }

    /// Two partitions' events over 30 days, in runs of 300 messages of one
    /// partition as consumers hand them out, with a few that do not parse.
    fn chunk(n: usize) -> Vec<OwnedMessage> {
        let mut offsets = [0i64; 2];
        let mut by_partition: [Vec<(usize, String)>; 2] = [Vec::new(), Vec::new()];
        for i in 0..n {
            let player = i % 40;
            let day = i * 30 / n + 1;
            let minute = i % 1440;
            let ts = format!("2026-11-{day:02}T{:02}:{:02}:00Z", minute / 60, minute % 60);
            let line = if i % 997 == 500 {
                "not json".to_owned()
            } else if i % 3 == 0 {
                format!(
                    r#"{{"event_id":"e{i}","player_id":"p{player}","brand":"b","ts":"{ts}","type":"login"}}"#
                )
            } else {
                format!(
                    r#"{{"event_id":"e{i}","player_id":"p{player}","brand":"b","ts":"{ts}","type":"bet","stake":{}.5,"currency":"EUR","game":"slots"}}"#,
                    1 + i % 50
                )
            };
            by_partition[player % 2].push((player, line));
        }
        let mut runs: Vec<Vec<OwnedMessage>> = Vec::new();
        for (p, events) in by_partition.into_iter().enumerate() {
            for (r, run) in events.chunks(300).enumerate() {
                let msgs = run
                    .iter()
                    .map(|(player, line)| {
                        offsets[p] += 1;
                        OwnedMessage::new(
                            Some(line.clone().into_bytes()),
                            Some(format!("p{player}").into_bytes()),
                            "in".to_owned(),
                            rdkafka::Timestamp::NotAvailable,
                            p as i32,
                            offsets[p] - 1,
                            None,
                        )
                    })
                    .collect();
                if runs.len() <= r * 2 + p {
                    runs.resize_with(r * 2 + p + 1, Vec::new);
                }
                runs[r * 2 + p] = msgs;
            }
        }
        runs.into_iter().flatten().collect()
    }

    #[test]
    fn an_event_stamped_after_the_latest_accepted_time_is_refused() {
        let line = br#"{"event_id":"e","player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z","type":"login"}"#;
        let msg = OwnedMessage::new(
            Some(line.to_vec()),
            None,
            "in".to_owned(),
            rdkafka::Timestamp::NotAvailable,
            0,
            0,
            None,
        );
        let ts = Timestamp::from_secs(1_793_534_400);
        assert!(decode(&msg, Encoding::Json, None).is_ok());
        assert!(
            decode(&msg, Encoding::Json, Some(ts)).is_ok(),
            "at the limit"
        );
        let early = Timestamp::from_millis(ts.as_millis() - 1);
        let err = decode(&msg, Encoding::Json, Some(early)).unwrap_err();
        assert_eq!(err.code(), "timestamp_in_future");
        assert!(err.to_string().contains("2026-11-01T12:00:00"), "{err}");
    }

    type Published = Vec<(String, Option<i32>, Option<Vec<u8>>, Vec<u8>)>;

    /// Handles the chunk on `threads` threads: the records, the
    /// partitions' positions and the counts.
    fn handle_on(threads: usize, chunk: &[OwnedMessage]) -> (Published, Vec<Option<i64>>, u64) {
        let mut parts = [part(), part()];
        let topic: Arc<str> = "in".into();
        let sinks = Sinks::new(&TopicsConfig::default(), true);
        let mut work: Vec<Work<'_>> = parts
            .iter_mut()
            .map(|p| Work::new(topic.clone(), p))
            .collect();
        for (i, msg) in chunk.iter().enumerate() {
            work[msg.partition() as usize].messages.push(i);
        }
        let (mut tally, mut out) = (Tally::default(), Vec::new());
        run_all(
            &mut work,
            chunk,
            &sinks,
            true,
            None,
            &Crew::new(threads),
            &mut out,
            None,
        );
        collect(&work, &mut tally);
        drop(work);
        let published = out
            .into_iter()
            .map(|r| (r.topic.to_string(), r.partition, r.key, r.payload))
            .collect();
        let rejected = tally.rejected.values().sum();
        (
            published,
            parts.iter().map(|p| p.position).collect(),
            rejected,
        )
    }

    #[test]
    fn a_chunk_handled_on_several_threads_publishes_what_one_thread_does() {
        let chunk = chunk(6_000);
        assert!(chunk.len() >= PARALLEL_MIN);
        let serial = handle_on(1, &chunk);
        let sinks = Sinks::new(&TopicsConfig::default(), true);
        let scores = serial.0.iter().filter(|r| *r.0 == *sinks.scores).count();
        let dead = serial
            .0
            .iter()
            .filter(|r| *r.0 == *sinks.dead_letter)
            .count();
        assert!(scores > 0, "no score published");
        assert_eq!(dead, 6, "every unreadable message dead-lettered");
        assert_eq!(serial.2, 6);
        assert_eq!(serial.1, vec![Some(3_000), Some(3_000)]);
        for threads in [2, 3] {
            let parallel = handle_on(threads, &chunk);
            assert_eq!(parallel.1, serial.1, "positions on {threads} threads");
            assert_eq!(parallel.2, serial.2, "rejections on {threads} threads");
            assert!(
                parallel.0 == serial.0,
                "records differ on {threads} threads"
            );
        }
    }

    #[test]
    fn alongside_runs_the_side_work_on_a_worker_and_waits_for_it() {
        let here = std::thread::current().id();
        for threads in [1, 2] {
            let crew = Crew::new(threads);
            let side = Mutex::new(None);
            let main = crew.alongside(
                || {
                    // Long enough that returning early would be seen.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    *side.lock().unwrap() = Some(std::thread::current().id());
                },
                || std::thread::current().id(),
            );
            assert_eq!(main, here, "main work on the calling thread");
            let side = side
                .into_inner()
                .unwrap()
                .expect("side work done on return");
            assert_eq!(
                side == here,
                threads == 1,
                "side work's thread with {threads}"
            );
        }
    }
}
