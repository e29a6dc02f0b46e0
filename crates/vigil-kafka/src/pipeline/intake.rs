//! Reading a batch: every owned partition's messages in fair shares.
//!
//! The consumer's own queue hands out messages in the order fetch
//! responses arrive, and a fetch brings whole record batches of one
//! partition (a busy producer writes thousands of messages per batch), so
//! a batch read from it nearly always holds one partition, whose engine
//! then scores it on one core while the others wait. Each owned input
//! partition's messages are therefore split off into a queue of its own
//! (`split_partition_queue`), and a batch takes from these queues in turn,
//! an equal share from each that has messages, so a batch of several
//! partitions is scored on several cores at once (see `workers`).
//!
//! An assignment makes librdkafka forward a partition's messages to the
//! consumer's own queue again, so the queues are split again after every
//! change of ownership. The assignment hook (`context`) marks each
//! partition's queue as the application's just before it assigns it
//! (`fetched::keep_apart`), so what is fetched before the split waits in
//! the partition's own queue rather than the consumer's. (Pausing new
//! partitions until they are split was tried: on librdkafka's mock cluster a partition resumed that way was
//! never fetched again, its position stuck below the log start.) The
//! consumer's own queue is still read first on every turn: it carries the
//! rebalance callbacks and other events, and anything fetched for a
//! partition before its split (older than everything in that partition's
//! queue), so a partition's messages are still handled in offset order.
//! Nothing is waited for with a timeout that could delay a message: each
//! queue wakes the loop when it stops being empty. The split-off queues
//! are read a block at a time (`fetched`), not one `poll` per message.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;

use super::fetched::{Fetched, ReadAhead, SplitQueue};
use crate::context::VigilContext;
use crate::metrics as m;

/// How a read ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// The batch is full, or nothing more is there.
    Done,
    /// Ownership changed inside a `poll`: the messages read before it
    /// belong to the old assignment.
    OwnershipChanged,
}

/// The consumer and the queues of the partitions split off it.
pub(super) struct Intake {
    consumer: Arc<BaseConsumer<VigilContext>>,
    queues: Vec<SplitQueue>,
    wake: Arc<Wake>,
    /// Ownership changed since the queues were split (set while a read's
    /// messages still borrow the queues, so not `&mut`).
    stale: AtomicBool,
}

impl Intake {
    pub(super) fn new(mut consumer: BaseConsumer<VigilContext>) -> Self {
        let wake = Arc::new(Wake::default());
        let ring = wake.clone();
        consumer.set_nonempty_callback(move || ring.ring());
        Intake {
            consumer: Arc::new(consumer),
            queues: Vec::new(),
            wake,
            stale: AtomicBool::new(false),
        }
    }

    pub(super) fn consumer(&self) -> &BaseConsumer<VigilContext> {
        &self.consumer
    }

    /// The consumer, shared: what messages kept past a turn hold on to
    /// (see `fetched::ReadAhead`).
    pub(super) fn shared_consumer(&self) -> &Arc<BaseConsumer<VigilContext>> {
        &self.consumer
    }

    /// Notes that the queues must be split again before the next read.
    pub(super) fn ownership_changed(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// Splits the owned partitions' queues off again if ownership changed.
    pub(super) fn split_if_stale<'k>(&mut self, owned: impl IntoIterator<Item = (&'k str, i32)>) {
        if !self.stale.swap(false, Ordering::Relaxed) {
            return;
        }
        self.queues.clear();
        for (topic, partition) in owned {
            match SplitQueue::split(&self.consumer, topic, partition, self.wake.clone()) {
                Some(queue) => self.queues.push(queue),
                // Its messages keep coming through the consumer's queue.
                None => tracing::warn!(partition, "cannot split a partition's queue off"),
            }
        }
    }

    /// Reads up to `max` messages into `chunk` (which may hold messages
    /// read ahead already), waiting up to `timeout` for the first. The
    /// consumer's own queue is polled at least once, even when `chunk` is
    /// full: rebalances and errors arrive there, and only a `poll` serves
    /// them (a message that poll returns makes `chunk` one over `max`).
    pub(super) fn read<'a>(
        &'a self,
        chunk: &mut Vec<Fetched<'a>>,
        max: usize,
        timeout: Duration,
    ) -> Read {
        let mut waited = false;
        loop {
            // Armed before looking: a message arriving after this rings.
            self.wake.arm();
            // With no queue split off, every message comes through the
            // consumer's queue, so the wait happens in its `poll`.
            let mut wait = if self.queues.is_empty() && !waited && chunk.is_empty() {
                timeout
            } else {
                Duration::ZERO
            };
            let mut first = true;
            while chunk.len() < max || first {
                first = false;
                let polled = self.consumer.poll(wait);
                if self.consumer.context().ownership_changed() {
                    return Read::OwnershipChanged;
                }
                wait = Duration::ZERO;
                match polled {
                    None => break,
                    Some(Ok(msg)) => chunk.push(Fetched::polled(msg)),
                    Some(Err(e)) => {
                        if !passed_over(e) {
                            return Read::Done;
                        }
                    }
                }
            }
            self.read_queues(chunk, max);
            if !chunk.is_empty() || waited || self.queues.is_empty() {
                return Read::Done;
            }
            self.wake.wait(timeout);
            waited = true;
        }
    }

    /// Reads up to `max` messages of the split-off queues into `chunk`
    /// without polling the consumer, so without serving a rebalance: what
    /// a thread with nothing else to do reads for the next batch while the
    /// current one is handled (see `workers::run_all`). Never waits.
    pub(super) fn read_ahead<'a>(&'a self, chunk: &mut Vec<Fetched<'a>>, max: usize) {
        self.read_queues(chunk, max);
    }

    /// Puts messages read ahead in a turn before at the start of `chunk`.
    pub(super) fn resume<'a>(&'a self, ahead: ReadAhead, chunk: &mut Vec<Fetched<'a>>) {
        ahead.into_chunk(&self.consumer, chunk);
    }

    /// Takes from the partitions' queues in turn (see [`take_in_turn`]).
    fn read_queues<'a>(&'a self, chunk: &mut Vec<Fetched<'a>>, max: usize) {
        let queues = self
            .queues
            .iter()
            .map(|queue| {
                move |room, chunk: &mut Vec<Fetched<'a>>| {
                    queue.read(room, chunk, |e| {
                        passed_over(e);
                    })
                }
            })
            .collect();
        take_in_turn(queues, chunk, max);
    }
}

/// Takes from `sources` in turn, an equal share of the room left from each
/// that still has messages, until `chunk` holds `max` or all are empty; a
/// source's messages keep their order. A source moves up to the room it is
/// given into the chunk and says how much of it it used: less than all
/// means it ran empty.
fn take_in_turn<T>(
    mut open: Vec<impl FnMut(usize, &mut Vec<T>) -> usize>,
    chunk: &mut Vec<T>,
    max: usize,
) {
    while chunk.len() < max && !open.is_empty() {
        let share = ((max - chunk.len()) / open.len()).max(1);
        open.retain_mut(|next| {
            let room = share.min(max - chunk.len());
            room == 0 || next(room, chunk) >= room
        });
    }
}

/// Counts and logs a consume error; true for the end of a partition, which
/// is no error.
fn passed_over(e: KafkaError) -> bool {
    if let KafkaError::PartitionEOF(_) = e {
        return true;
    }
    metrics::counter!(m::KAFKA_ERRORS, "code" => "consume").increment(1);
    tracing::warn!(error = %e, "consume error");
    false
}

/// Rung by librdkafka when a queue stops being empty.
#[derive(Debug, Default)]
pub(super) struct Wake {
    rung: Mutex<bool>,
    cv: Condvar,
}

impl Wake {
    fn arm(&self) {
        *self.rung.lock().unwrap_or_else(|e| e.into_inner()) = false;
    }

    pub(super) fn ring(&self) {
        *self.rung.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_one();
    }

    fn wait(&self, timeout: Duration) {
        let rung = self.rung.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .cv
            .wait_timeout_while(rung, timeout, |rung| !*rung)
            .unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rdkafka::ClientConfig;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::message::Message;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

    use super::*;
    use crate::context::{Ownership, StartFrom};

    const PER_PARTITION: usize = 3_000;
    const MAX: usize = 1_000;

    /// Two partitions' messages, read in batches through their split-off
    /// queues, split after the assignment, every other batch partly read
    /// ahead during the one before (as a worker does): every message
    /// once, each partition's in offset order, no batch over the limit
    /// (but for the one message the consumer's own poll may add). On
    /// the real broker when `VIGIL_TEST_BOOTSTRAP` names one (the test
    /// script's Tansu), else on librdkafka's mock cluster.
    #[test]
    fn batches_take_every_partition_in_turn_and_in_order() {
        let mock;
        let topic = format!("intake-{}", std::process::id());
        let bootstrap = match std::env::var("VIGIL_TEST_BOOTSTRAP") {
            Ok(b) => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", &b)
                    .create()
                    .unwrap();
                let created = futures::executor::block_on(admin.create_topics(
                    &[NewTopic::new(&topic, 2, TopicReplication::Fixed(1))],
                    &AdminOptions::new(),
                ))
                .unwrap();
                assert!(created.iter().all(Result::is_ok), "{created:?}");
                b
            }
            Err(_) => {
                mock = MockCluster::new(1).unwrap();
                mock.create_topic(&topic, 2, 1).unwrap();
                mock.bootstrap_servers()
            }
        };
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .unwrap();
        for i in 0..PER_PARTITION {
            for p in 0..2 {
                let payload = i.to_string();
                producer
                    .send(
                        BaseRecord::<(), _>::to(&topic)
                            .partition(p)
                            .payload(&payload),
                    )
                    .unwrap();
            }
        }
        producer.flush(Duration::from_secs(30)).unwrap();

        let consumer: BaseConsumer<VigilContext> = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", format!("intake-{}", std::process::id()))
            .set("enable.auto.commit", "false")
            .create_with_context(VigilContext::new(
                StartFrom::Committed,
                Box::new(|_| {}),
                false,
            ))
            .unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        let mut intake = Intake::new(consumer);
        let mut next: HashMap<i32, usize> = HashMap::new();
        let (mut total, mut empty, mut turns, mut read_ahead) = (0, 0, 0, 0);
        let mut ahead: Option<ReadAhead> = None;
        while total < 2 * PER_PARTITION {
            // A bound, so a partition never read fails the test.
            assert!(empty < 300, "nothing to read for 30 s, {total} read");
            let mut chunk = Vec::new();
            if let Some(ahead) = ahead.take() {
                intake.resume(ahead, &mut chunk);
            }
            let read = intake.read(&mut chunk, MAX, Duration::from_millis(100));
            if read == Read::OwnershipChanged {
                let owned: Vec<(String, i32)> = intake
                    .consumer()
                    .context()
                    .take_ownership_changes()
                    .into_iter()
                    .flat_map(|o| match o {
                        Ownership::Assigned(list) => {
                            list.into_iter().map(|a| (a.topic, a.partition)).collect()
                        }
                        Ownership::Revoked | Ownership::AssignFailed(_) => Vec::new(),
                    })
                    .collect();
                drop(chunk);
                intake.ownership_changed();
                intake.split_if_stale(owned.iter().map(|(t, p)| (t.as_str(), *p)));
                continue;
            }
            assert!(chunk.len() <= MAX + 1, "a batch of {}", chunk.len());
            empty = if chunk.is_empty() { empty + 1 } else { 0 };
            for msg in &chunk {
                let seq: usize = std::str::from_utf8(msg.payload().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap();
                let expected = next.entry(msg.partition()).or_default();
                assert_eq!(seq, *expected, "partition {}", msg.partition());
                *expected += 1;
            }
            total += chunk.len();
            drop(chunk);
            turns += 1;
            if turns % 2 == 0 {
                let mut next = Vec::new();
                intake.read_ahead(&mut next, MAX / 2);
                assert!(next.len() <= MAX / 2, "{} read ahead", next.len());
                read_ahead += next.len();
                ahead = Some(ReadAhead::new(next, intake.shared_consumer()));
            }
        }
        assert!(read_ahead > 0, "nothing was read ahead");
        assert_eq!(total, 2 * PER_PARTITION);
        assert_eq!(
            next.values().copied().collect::<Vec<_>>(),
            [PER_PARTITION; 2]
        );
    }

    /// What in-memory sources hand out: `(source, sequence)` pairs.
    type Chunk = Vec<(usize, usize)>;

    /// In-memory sources for [`take_in_turn`], handing out `(source,
    /// sequence)` pairs up to the room they are given; `asked` records
    /// every room asked of any source.
    fn sources<'a>(
        lens: &[usize],
        asked: &'a std::cell::RefCell<Vec<(usize, usize)>>,
    ) -> Vec<impl FnMut(usize, &mut Chunk) -> usize + 'a> {
        lens.iter()
            .enumerate()
            .map(|(s, &len)| {
                let mut i = 0;
                move |room: usize, chunk: &mut Chunk| {
                    asked.borrow_mut().push((s, room));
                    let n = room.min(len - i);
                    chunk.extend((i..i + n).map(|seq| (s, seq)));
                    i += n;
                    n
                }
            })
            .collect()
    }

    fn counts(chunk: &[(usize, usize)], n: usize) -> Vec<usize> {
        (0..n)
            .map(|s| chunk.iter().filter(|m| m.0 == s).count())
            .collect()
    }

    #[test]
    fn every_source_with_messages_gets_an_equal_share() {
        let asked = Default::default();
        let mut chunk = Vec::new();
        take_in_turn(sources(&[100, 100], &asked), &mut chunk, 10);
        assert_eq!(counts(&chunk, 2), [5, 5]);
        // Each source's messages in their order, each asked once for its share.
        for s in 0..2 {
            let seq: Vec<usize> = chunk.iter().filter(|m| m.0 == s).map(|m| m.1).collect();
            assert_eq!(seq, (0..5).collect::<Vec<_>>());
        }
        assert_eq!(*asked.borrow(), [(0, 5), (1, 5)]);
    }

    #[test]
    fn room_a_short_source_leaves_goes_to_the_others() {
        let asked = Default::default();
        let mut chunk = Vec::new();
        take_in_turn(sources(&[2, 100, 0], &asked), &mut chunk, 12);
        assert_eq!(counts(&chunk, 3), [2, 10, 0]);
        // The sources that ran empty are not asked again.
        assert_eq!(*asked.borrow(), [(0, 4), (1, 4), (2, 4), (1, 6)]);
        let mut chunk = Vec::new();
        take_in_turn(sources(&[3, 4], &asked), &mut chunk, 100);
        assert_eq!(counts(&chunk, 2), [3, 4], "everything there, when it fits");
    }

    #[test]
    fn never_more_than_the_limit_even_with_more_sources_than_room() {
        let asked = Default::default();
        let mut chunk = Vec::new();
        take_in_turn(sources(&[5, 5, 5, 5], &asked), &mut chunk, 2);
        assert_eq!(chunk.len(), 2);
        assert_eq!(counts(&chunk, 4), [1, 1, 0, 0]);
        assert_eq!(
            *asked.borrow(),
            [(0, 1), (1, 1)],
            "no source asked for nothing"
        );
    }

    #[test]
    fn a_source_that_fills_its_share_is_asked_again() {
        let asked = Default::default();
        let mut chunk = Vec::new();
        take_in_turn(sources(&[100, 1], &asked), &mut chunk, 50);
        assert_eq!(counts(&chunk, 2), [49, 1]);
        let seq: Vec<usize> = chunk.iter().filter(|m| m.0 == 0).map(|m| m.1).collect();
        assert_eq!(seq, (0..49).collect::<Vec<_>>(), "in order across asks");
        assert_eq!(*asked.borrow(), [(0, 25), (1, 25), (0, 24)]);
    }
}
