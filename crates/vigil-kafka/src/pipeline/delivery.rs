//! Acknowledgements counted per group of records (a batch's outputs, or its
//! changelog records) instead of one future per record.
//!
//! A `FutureProducer` gives every record a oneshot channel and a future, and
//! the loop polled each future of every outstanding batch on every turn:
//! about a third of what publishing a score record cost. Here the producer's
//! delivery callback (on its own thread) counts a group's records down and
//! notes the failed ones; the loop only reads the count, and waits on a
//! condition variable when it must block.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;

/// The acknowledgements still to come for one group of records, and the
/// records that failed (index in the group, error).
#[derive(Debug, Default)]
pub(crate) struct Acks {
    outstanding: AtomicUsize,
    failed: Mutex<Vec<(u32, String)>>,
}

impl Acks {
    /// `n` more records of the group about to be handed to the producer.
    pub(super) fn expect(&self, n: usize) {
        self.outstanding.fetch_add(n, Ordering::AcqRel);
    }

    /// `n` records expected that the producer refused at once or that
    /// were never handed over: no callback will come for them.
    pub(super) fn refused(&self, n: usize) {
        self.outstanding.fetch_sub(n, Ordering::AcqRel);
    }

    /// Failures reported since the last call. A failure is noted before its
    /// record is counted down, so once [`Acks::settled`] holds, every
    /// failure of the group has been reported.
    pub(super) fn take_failed(&self) -> Vec<(u32, String)> {
        std::mem::take(&mut *self.failed.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every record handed over has had its callback.
    pub(super) fn settled(&self) -> bool {
        self.outstanding.load(Ordering::Acquire) == 0
    }

    fn has_failed(&self) -> bool {
        !self
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

/// What a record carries through the producer to its callback.
#[derive(Debug)]
pub(crate) struct Ticket {
    pub(super) acks: Arc<Acks>,
    pub(super) index: u32,
}

/// The producer's context: counts acknowledgements down and wakes a loop
/// waiting for a group when the group is settled or a record of it failed.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    wake: Mutex<()>,
    woken: Condvar,
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = Box<Ticket>;

    fn delivery(&self, result: &DeliveryResult<'_>, ticket: Box<Ticket>) {
        let failed = match result {
            Ok(_) => false,
            Err((e, _)) => {
                ticket
                    .acks
                    .failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((ticket.index, e.to_string()));
                true
            }
        };
        let last = ticket.acks.outstanding.fetch_sub(1, Ordering::AcqRel) == 1;
        if last || failed {
            // Under the lock, so a waiter between its check and its wait
            // cannot miss this.
            let _guard = self.wake.lock().unwrap_or_else(|e| e.into_inner());
            self.woken.notify_all();
        }
    }
}

impl Delivery {
    /// Waits until `acks` is settled or has a failure, or `at_most` passed.
    pub(super) fn wait(&self, acks: &Acks, at_most: Duration) {
        let guard = self.wake.lock().unwrap_or_else(|e| e.into_inner());
        if acks.settled() || acks.has_failed() {
            return;
        }
        let _ = self.woken.wait_timeout(guard, at_most);
    }

    /// Waits a little for any acknowledgement (room in a full queue).
    pub(super) fn pause(&self, at_most: Duration) {
        let guard = self.wake.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.woken.wait_timeout(guard, at_most);
    }
}
