//! Handling a polled chunk of messages on every core.
//!
//! Two stages, each spread over the available threads while the loop
//! waits: decoding, which needs nothing but the bytes, in contiguous
//! slices of the chunk; then scoring, per partition (partitions are
//! independent: one engine each, a player's events all in one partition),
//! each partition's events in offset order, with its outputs turned into
//! records on the same thread. Consumers hand out messages in runs of one
//! partition (a fetched record batch at a time), so a chunk may hold one
//! partition only, and then only decoding is shared out. Nothing else runs
//! meanwhile: the chunk is handled between two `poll`s exactly as the
//! messages one by one would be, so commits, the changelog and rebalances
//! see the same state. On one core, or for a small chunk, everything runs
//! on the loop's thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rdkafka::message::{BorrowedMessage, Message};
use vigil_codec::output::Encoding;
use vigil_domain::{EventType, Output, PlayerEvent, Reject, Timestamp};

use super::outputs::Sinks;
use super::{OutRecord, Part, dead_letter};

/// Below this many messages a chunk is handled on the loop's thread:
/// starting a worker costs tens of microseconds.
const PARALLEL_MIN: usize = 512;

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
    /// Their decoded events, in the same order.
    events: Vec<Result<PlayerEvent, Reject>>,
    pub(super) records: Vec<OutRecord>,
    pub(super) tally: Tally,
    outputs: Vec<Output>,
}

impl<'a> Work<'a> {
    pub(super) fn new(topic: Arc<str>, part: &'a mut Part) -> Self {
        Work {
            topic,
            part,
            messages: Vec::new(),
            events: Vec::new(),
            records: Vec::new(),
            tally: Tally::default(),
            outputs: Vec::new(),
        }
    }

    /// Applies this partition's decoded messages, in order.
    fn run(&mut self, chunk: &[BorrowedMessage<'_>], sinks: &Sinks, use_changelog: bool) {
        if self.messages.is_empty() {
            return;
        }
        let now = Instant::now();
        for (&i, decoded) in self.messages.iter().zip(self.events.drain(..)) {
            handle(
                &self.topic,
                self.part,
                &chunk[i],
                decoded,
                sinks,
                use_changelog,
                &mut self.outputs,
                &mut self.records,
                &mut self.tally,
            );
        }
        self.part.last_message = now;
    }
}

fn decode(msg: &BorrowedMessage<'_>, encoding: Encoding) -> Result<PlayerEvent, Reject> {
    let payload = msg.payload().unwrap_or_default();
    match encoding {
        Encoding::Json => vigil_codec::json::decode_event(payload),
        Encoding::Protobuf => vigil_codec::proto::decode_event(payload),
    }
}

/// Messages one thread decodes at a time.
const DECODE_BLOCK: usize = 256;

/// Runs `f` on every unit on up to `threads` threads (this one included),
/// each thread taking the next unit nobody has claimed yet, so a thread
/// that starts late (the machine busy with other work) simply takes fewer
/// and nobody waits on it for long.
pub(super) fn spread<T: Send>(units: &mut [T], threads: usize, f: impl Fn(&mut T) + Sync) {
    let threads = threads.min(units.len());
    if threads <= 1 {
        units.iter_mut().for_each(f);
        return;
    }
    let cells: Vec<Mutex<&mut T>> = units.iter_mut().map(Mutex::new).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        while let Some(cell) = cells.get(next.fetch_add(1, Ordering::Relaxed)) {
            // Each cell is claimed once: the lock is never contended.
            f(&mut cell.lock().unwrap_or_else(|e| e.into_inner()));
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            let spawned = std::thread::Builder::new()
                .name("vigil-worker".into())
                .spawn_scoped(s, work);
            if let Err(e) = spawned {
                // The threads that did start (this one at least) take
                // every unit.
                tracing::warn!(error = %e, "cannot start a pipeline worker thread");
            }
        }
        work();
    });
}

/// A block of consecutive messages and their decoded events (`None` for
/// a message of a partition not owned).
struct Block {
    start: usize,
    events: Vec<Option<Result<PlayerEvent, Reject>>>,
}

/// Decodes the chunk's messages (`owner[i]` is the share message `i`
/// belongs to) and hands each share its events, in order.
fn decode_all(
    work: &mut [Work<'_>],
    chunk: &[BorrowedMessage<'_>],
    owner: &[usize],
    threads: usize,
) {
    let encodings: Vec<Encoding> = work.iter().map(|w| w.part.encoding).collect();
    let threads = if chunk.len() < PARALLEL_MIN {
        1
    } else {
        threads
    };
    let mut blocks: Vec<Block> = (0..chunk.len())
        .step_by(DECODE_BLOCK)
        .map(|start| Block {
            start,
            events: Vec::new(),
        })
        .collect();
    spread(&mut blocks, threads, |block| {
        let end = (block.start + DECODE_BLOCK).min(chunk.len());
        block.events = (block.start..end)
            .map(|i| {
                let enc = encodings.get(owner[i])?;
                Some(decode(&chunk[i], *enc))
            })
            .collect();
    });
    for block in blocks {
        for (i, event) in (block.start..).zip(block.events) {
            if let Some(event) = event {
                work[owner[i]].events.push(event);
            }
        }
    }
}

/// Decodes the chunk, then runs every partition's work, spread over up to
/// `threads` threads (the loop's own included), largest share first.
/// `owner[i]` is the index in `work` of the share message `i` belongs to
/// (`work.len()` or more if none: its partition is not owned).
pub(super) fn run_all(
    work: &mut [Work<'_>],
    chunk: &[BorrowedMessage<'_>],
    owner: &[usize],
    sinks: &Sinks,
    use_changelog: bool,
    threads: usize,
) {
    decode_all(work, chunk, owner, threads);
    let mut shares: Vec<&mut Work<'_>> =
        work.iter_mut().filter(|w| !w.messages.is_empty()).collect();
    shares.sort_by_key(|w| std::cmp::Reverse(w.messages.len()));
    let threads = if chunk.len() < PARALLEL_MIN {
        1
    } else {
        threads
    };
    spread(&mut shares, threads, |w| w.run(chunk, sinks, use_changelog));
}

/// Adds every share's counts into `total` and its records, partition by
/// partition, to `outbox`.
pub(super) fn collect(work: &mut [Work<'_>], total: &mut Tally, outbox: &mut Vec<OutRecord>) {
    for w in work {
        total.add(&w.tally);
        outbox.append(&mut w.records);
    }
}

/// One decoded message: apply it (or pass over what the restored state
/// holds), track the commit position, and turn outputs or the rejection
/// into records.
#[allow(clippy::too_many_arguments)]
fn handle(
    topic: &Arc<str>,
    part: &mut Part,
    msg: &BorrowedMessage<'_>,
    decoded: Result<PlayerEvent, Reject>,
    sinks: &Sinks,
    use_changelog: bool,
    outputs: &mut Vec<Output>,
    records: &mut Vec<OutRecord>,
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
                records.push(dead_letter(&sinks.dead_letter, msg, &reason));
            }
        }
    }
    sinks.records(outputs, suppressed, records);
}
