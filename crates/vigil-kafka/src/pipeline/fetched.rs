//! Reading a partition's messages a block at a time.
//!
//! rdkafka's `PartitionQueue::poll` hands out one message per call, and
//! each call locks the queue, reads the clock (rdkafka's `Instant::now` and
//! librdkafka's own timeout), looks at the event's type, and wraps the
//! event in a new `Arc` that dropping the message frees again. At a few
//! hundred thousand messages a second the clock reads alone were the
//! pipeline thread's largest single symbol. librdkafka's
//! `rd_kafka_consume_batch_queue` takes up to a whole block in one call,
//! with one clock read and no allocation. rdkafka 0.38 keeps both a
//! `PartitionQueue`'s queue pointer and `BorrowedMessage`'s constructor
//! private, so this module splits the partition's queue off itself, as
//! `split_partition_queue` does (the partition's fetch queue, no longer
//! forwarded to the consumer's), and wraps each message in [`Fetched`],
//! which implements rdkafka's `Message`, so the workers take it as they
//! take any other message.
//!
//! This is the crate's one `unsafe`: calls into librdkafka through
//! `rdkafka::bindings`, on pointers whose owners this module keeps alive
//! (a [`SplitQueue`] keeps the consumer, a [`Fetched`] borrows the queue
//! or the consumer it came from).
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_void};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, Timestamp};
use rdkafka::types::RDKafkaErrorCode;

use super::intake::Wake;
use crate::context::VigilContext;

/// Messages asked of librdkafka per call: enough that a call's fixed cost
/// is spread thin, small enough to sit on the stack.
const PER_CALL: usize = 512;

/// One consumed message, however it was read: from the consumer's own
/// queue (rdkafka's message, which owns it) or in a block from a
/// split-off partition queue (owned here, destroyed on drop).
pub(super) struct Fetched<'a>(Source<'a>);

enum Source<'a> {
    Polled(BorrowedMessage<'a>),
    Read(NonNull<rd::rd_kafka_message_t>, PhantomData<&'a SplitQueue>),
}

// SAFETY: a consumed message is immutable until it is destroyed, and
// librdkafka lets any thread read or destroy it (rdkafka's own
// `BorrowedMessage` is `Send` and `Sync` for the same reason).
unsafe impl Send for Fetched<'_> {}
unsafe impl Sync for Fetched<'_> {}

impl<'a> Fetched<'a> {
    /// A message `poll` returned from the consumer's own queue.
    pub(super) fn polled(msg: BorrowedMessage<'a>) -> Self {
        Fetched(Source::Polled(msg))
    }

    fn ptr(&self) -> *mut rd::rd_kafka_message_t {
        match &self.0 {
            Source::Polled(msg) => msg.ptr(),
            Source::Read(ptr, _) => ptr.as_ptr(),
        }
    }

    fn raw(&self) -> &rd::rd_kafka_message_t {
        // SAFETY: non-null, and the message lives until `self` is dropped.
        unsafe { &*self.ptr() }
    }

    /// The message's topic handle and partition: equal for two messages
    /// of one partition, and cheaper to compare than the topic's name
    /// (which is read by its length and checked as UTF-8 each time).
    pub(super) fn source(&self) -> (usize, i32) {
        let m = self.raw();
        (m.rkt as usize, m.partition)
    }
}

/// A message whose record can be asked for ahead of reading it.
///
/// librdkafka's thread wrote each message's record (offset, partition,
/// payload pointer) on another core, and every record is an allocation of
/// its own, so the first read of each one missed the cache: about half of
/// the handling loop's own time, and the read of the payload pointer that
/// the decoder prefetches by.
pub(super) trait Ahead: Message {
    /// Starts loading the message's record; nothing the program observes.
    fn ask_ahead(&self) {}
}

impl Ahead for Fetched<'_> {
    fn ask_ahead(&self) {
        vigil_domain::engine::prefetch(self.raw());
    }
}

impl Ahead for rdkafka::message::OwnedMessage {}

impl Drop for Fetched<'_> {
    fn drop(&mut self) {
        if let Source::Read(ptr, _) = self.0 {
            // SAFETY: read by `rd_kafka_consume_batch_queue`, owned by this
            // value alone, destroyed once.
            unsafe { rd::rd_kafka_message_destroy(ptr.as_ptr()) }
        }
    }
}

/// Messages read ahead for the next turn (see `Intake::read_ahead`),
/// kept past the borrow of the queues they came from: a message needs
/// librdkafka's client alive, which this keeps, not its queue (a queue
/// split again after a rebalance is a new one; the old one's messages
/// stay valid). Destroyed unhandled if dropped before
/// [`ReadAhead::into_chunk`] takes them back.
pub(super) struct ReadAhead {
    messages: Vec<NonNull<rd::rd_kafka_message_t>>,
    _consumer: Arc<BaseConsumer<VigilContext>>,
}

// SAFETY: as for `Fetched`: librdkafka lets any thread read or destroy a
// consumed message.
unsafe impl Send for ReadAhead {}

impl ReadAhead {
    /// Keeps `messages` for the next turn. They come from split-off
    /// queues only (`Intake::read_ahead` never polls the consumer); a
    /// message polled from the consumer's own queue belongs to rdkafka's
    /// event and cannot be kept this way.
    pub(super) fn new(
        messages: Vec<Fetched<'_>>,
        consumer: &Arc<BaseConsumer<VigilContext>>,
    ) -> Self {
        let mut kept = Vec::with_capacity(messages.len());
        for msg in messages {
            debug_assert!(
                matches!(msg.0, Source::Read(..)),
                "a polled message read ahead"
            );
            if let Source::Read(ptr, _) = &msg.0 {
                kept.push(*ptr);
                // Its one destruction is now that of the `Fetched` it
                // becomes again (in a chunk, or in `ReadAhead`'s drop).
                std::mem::forget(msg);
            }
        }
        ReadAhead {
            messages: kept,
            _consumer: consumer.clone(),
        }
    }

    /// Hands the messages back, in order, to a chunk that borrows the
    /// consumer (so the client outlives them again).
    pub(super) fn into_chunk<'a>(
        mut self,
        _consumer: &'a BaseConsumer<VigilContext>,
        chunk: &mut Vec<Fetched<'a>>,
    ) {
        chunk.extend(self.messages.drain(..).map(Fetched::kept));
    }
}

impl Fetched<'_> {
    /// A message kept by [`ReadAhead`], owned again (and destroyed on
    /// drop) by the `Fetched` made here.
    fn kept(ptr: NonNull<rd::rd_kafka_message_t>) -> Self {
        Fetched(Source::Read(ptr, PhantomData))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Destroyed as any message read is, while the client lives.
        self.messages.drain(..).map(Fetched::kept).for_each(drop);
    }
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead")
            .field("messages", &self.messages.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Fetched<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("partition", &self.partition())
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}

/// A slice of `len` bytes at `ptr`, none where `ptr` is null.
///
/// # Safety
/// `ptr` is null or points to `len` bytes that live as long as `'b`.
unsafe fn bytes<'b>(ptr: *const c_void, len: usize) -> Option<&'b [u8]> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: by the caller's promise.
        Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
    }
}

impl Message for Fetched<'_> {
    type Headers = NativeHeaders;

    fn key(&self) -> Option<&[u8]> {
        let m = self.raw();
        // SAFETY: librdkafka's key and its length, alive with the message.
        unsafe { bytes(m.key, m.key_len) }
    }

    fn payload(&self) -> Option<&[u8]> {
        let m = self.raw();
        // SAFETY: librdkafka's payload and its length, alive with the message.
        unsafe { bytes(m.payload, m.len) }
    }

    unsafe fn payload_mut(&mut self) -> Option<&mut [u8]> {
        let m = self.raw();
        if m.payload.is_null() {
            None
        } else {
            // SAFETY: the caller takes librdkafka's risk, as the trait says.
            Some(unsafe { std::slice::from_raw_parts_mut(m.payload.cast::<u8>(), m.len) })
        }
    }

    fn topic(&self) -> &str {
        // SAFETY: a consumed message's topic handle lives with the message,
        // and its name is a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(self.raw().rkt)) };
        // Kafka topic names are ASCII; anything else cannot match an
        // owned partition, so the message is passed over, not a panic.
        name.to_str().unwrap_or_default()
    }

    fn partition(&self) -> i32 {
        self.raw().partition
    }

    fn offset(&self) -> i64 {
        self.raw().offset
    }

    fn timestamp(&self) -> Timestamp {
        let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: a live message and a place for the timestamp's type.
        let ts = unsafe { rd::rd_kafka_message_timestamp(self.ptr(), &mut kind) };
        match kind {
            _ if ts == -1 => Timestamp::NotAvailable,
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_CREATE_TIME => {
                Timestamp::CreateTime(ts)
            }
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME => {
                Timestamp::LogAppendTime(ts)
            }
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE => {
                Timestamp::NotAvailable
            }
        }
    }

    fn headers(&self) -> Option<&NativeHeaders> {
        let mut headers = std::ptr::null_mut();
        // SAFETY: a live message; librdkafka parses its headers once and
        // keeps them with the message.
        let err = unsafe { rd::rd_kafka_message_headers(self.ptr(), &mut headers) };
        if RDKafkaErrorCode::from(err) != RDKafkaErrorCode::NoError || headers.is_null() {
            return None;
        }
        // SAFETY: an opaque, zero-sized stand-in for librdkafka's header
        // list, which lives with the message `&self` borrows.
        Some(unsafe { &*headers.cast::<NativeHeaders>() })
    }
}

/// A message's headers as librdkafka keeps them (a reference to this
/// opaque type is the pointer to librdkafka's list).
#[repr(C)]
pub(super) struct NativeHeaders {
    _opaque: [u8; 0],
}

impl std::fmt::Debug for NativeHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeHeaders")
            .field("count", &self.count())
            .finish()
    }
}

impl NativeHeaders {
    fn native(&self) -> *const rd::rd_kafka_headers_t {
        (self as *const Self).cast()
    }
}

impl Headers for NativeHeaders {
    fn count(&self) -> usize {
        // SAFETY: a live header list (see `Fetched::headers`).
        unsafe { rd::rd_kafka_header_cnt(self.native()) }
    }

    fn try_get(&self, idx: usize) -> Option<Header<'_, &[u8]>> {
        let (mut name, mut value, mut len) = (std::ptr::null(), std::ptr::null(), 0);
        // SAFETY: a live header list and places for one header's parts.
        let err = unsafe {
            rd::rd_kafka_header_get_all(self.native(), idx, &mut name, &mut value, &mut len)
        };
        if RDKafkaErrorCode::from(err) != RDKafkaErrorCode::NoError || name.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated name and `len` value bytes, both alive
        // with the list.
        let key = unsafe { CStr::from_ptr(name) };
        Some(Header {
            // A name that is not UTF-8 (producers may send any bytes) is
            // read as empty, where rdkafka's own headers would panic.
            key: key.to_str().unwrap_or_default(),
            value: unsafe { bytes(value, len) },
        })
    }
}

/// A partition's fetch queue, split off the consumer's queue so that its
/// messages are read here, in blocks.
pub(super) struct SplitQueue {
    queue: NonNull<rd::rd_kafka_queue_t>,
    /// Rung when the queue stops being empty; the callback's opaque
    /// pointer holds one count of it until the callback is disabled.
    wake: *const Wake,
    /// Keeps the client, and so the queue, alive.
    _consumer: Arc<BaseConsumer<VigilContext>>,
}

// SAFETY: librdkafka's queues are locked inside; the wake is shared
// through an `Arc` of a `Sync` type.
unsafe impl Send for SplitQueue {}
unsafe impl Sync for SplitQueue {}

impl std::fmt::Debug for SplitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitQueue").finish_non_exhaustive()
    }
}

/// Called by librdkafka (under the queue's lock) when the queue stops
/// being empty.
unsafe extern "C" fn ring(_: *mut rd::rd_kafka_t, opaque: *mut c_void) {
    // SAFETY: the `Wake` the queue's callback was enabled with, alive until
    // the callback is disabled.
    unsafe { (*opaque.cast::<Wake>()).ring() }
}

/// Keeps a partition about to be assigned apart from the consumer's own
/// queue from the start: librdkafka's fetch start routes a partition's
/// messages to the consumer's queue unless the application has forwarded
/// its queue itself, so everything fetched before the intake splits the
/// queue off (the whole prefetch, while a restore runs) would otherwise
/// be read from there, one `poll` a message and one partition at a time.
/// Its messages wait in its own queue until [`SplitQueue::split`] takes it.
/// False where the partition is unknown to the consumer.
pub(crate) fn keep_apart(
    consumer: &BaseConsumer<VigilContext>,
    topic: &str,
    partition: i32,
) -> bool {
    let Some(queue) = own_queue(consumer, topic, partition) else {
        return false;
    };
    // SAFETY: the reference `own_queue` took, destroyed once; the mark
    // stays with the partition's queue.
    unsafe { rd::rd_kafka_queue_destroy(queue.as_ptr()) }
    true
}

/// A new reference to the partition's fetch queue, forwarded to nowhere,
/// so its messages stay there: none where the partition is unknown.
///
/// An application's forward marks the queue (librdkafka's
/// `RD_KAFKA_Q_F_FWD_APP`), and a later fetch start then leaves it alone,
/// so reading this queue never serves the consumer's own (whose rebalance
/// events only `poll` may take). A new assignment can still route a
/// partition's messages to the consumer's queue again, hence the new split
/// after every one (see `intake`). The caller destroys the reference.
fn own_queue(
    consumer: &BaseConsumer<VigilContext>,
    topic: &str,
    partition: i32,
) -> Option<NonNull<rd::rd_kafka_queue_t>> {
    let topic = CString::new(topic).ok()?;
    // SAFETY: a live client and a NUL-terminated topic name; the queue
    // returned is a new reference, and forwarding it to null is allowed
    // on any queue.
    unsafe {
        let queue = NonNull::new(rd::rd_kafka_queue_get_partition(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
        ))?;
        rd::rd_kafka_queue_forward(queue.as_ptr(), std::ptr::null_mut());
        Some(queue)
    }
}

impl SplitQueue {
    /// Splits the partition's queue off the consumer's (as rdkafka's
    /// `split_partition_queue` does), ringing `wake` whenever it stops
    /// being empty; none where the partition is unknown to the consumer.
    pub(super) fn split(
        consumer: &Arc<BaseConsumer<VigilContext>>,
        topic: &str,
        partition: i32,
        wake: Arc<Wake>,
    ) -> Option<Self> {
        // `Drop` destroys the reference.
        let queue = own_queue(consumer, topic, partition)?;
        let wake = Arc::into_raw(wake);
        // SAFETY: a live queue; the callback's opaque `Wake` lives until
        // `Drop` disables it.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(queue.as_ptr(), Some(ring), wake as *mut c_void);
        }
        Some(SplitQueue {
            queue,
            wake,
            _consumer: consumer.clone(),
        })
    }

    /// Moves up to `room` messages that are there now into `chunk`, in
    /// offset order, and returns how many were read, fewer than `room`
    /// only when the queue ran empty. A consume error (or the end of the
    /// partition) takes the place of a message: it is counted and passed
    /// over through `error`, and the messages behind it are kept, since
    /// librdkafka has handed them out already.
    pub(super) fn read<'a>(
        &'a self,
        room: usize,
        chunk: &mut Vec<Fetched<'a>>,
        mut error: impl FnMut(KafkaError),
    ) -> usize {
        let mut read = 0;
        let mut block = [std::ptr::null_mut::<rd::rd_kafka_message_t>(); PER_CALL];
        while read < room {
            let ask = (room - read).min(PER_CALL);
            // SAFETY: a live queue and room for `ask` message pointers; a
            // zero timeout never blocks.
            let got = unsafe {
                rd::rd_kafka_consume_batch_queue(self.queue.as_ptr(), 0, block.as_mut_ptr(), ask)
            };
            let got = usize::try_from(got).unwrap_or(0).min(ask);
            for &ptr in &block[..got] {
                let Some(ptr) = NonNull::new(ptr) else {
                    continue;
                };
                read += 1;
                let msg = Fetched(Source::Read(ptr, PhantomData));
                let err = msg.raw().err;
                if RDKafkaErrorCode::from(err) == RDKafkaErrorCode::NoError {
                    chunk.push(msg);
                } else if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    // Dropped: the end of the partition is no message.
                } else {
                    error(KafkaError::MessageConsumption(err.into()));
                }
            }
            if got < ask {
                break;
            }
        }
        read
    }
}

impl Drop for SplitQueue {
    fn drop(&mut self) {
        // SAFETY: disabling the callback under the queue's lock means it
        // never runs again, so its `Wake` count can be released; then the
        // reference `split` took is destroyed, once.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(self.queue.as_ptr(), None, std::ptr::null_mut());
            drop(Arc::from_raw(self.wake));
            rd::rd_kafka_queue_destroy(self.queue.as_ptr());
        }
    }
}
