//! The engine's minute timers: a timing wheel for the next [`SLOTS`]
//! minutes, a tree for the rest.
//!
//! Nearly every timer set is due within hours (the evaluation interval, the
//! rescore interval), and setting one was a walk down a tree of a thousand
//! minutes (3-4 % of engine time in a profile), firing one a removal from
//! it. Here a minute near enough is a slot of a ring, found by a mask; only
//! minutes beyond the ring (inactivity deadlines days ahead) or already
//! behind it go to the tree. Minutes fire in order and each minute's
//! players as one bucket, whichever part holds them, so what fires, and
//! when, is exactly what the tree alone gave.

use std::collections::BTreeMap;

/// Minutes the ring covers: a power of two, over the default rescore
/// interval (6 hours) so that most timers land in it.
const SLOTS: u32 = 1 << 10;

/// Player indexes by due minute.
#[derive(Debug)]
pub(super) struct TimerWheel {
    /// The ring's first minute: slot `m % SLOTS` holds minute `m` for
    /// `base <= m < base + SLOTS`, and nothing else.
    base: u32,
    ring: Vec<Vec<u32>>,
    /// Entries in the ring.
    in_ring: usize,
    /// Minutes outside the ring.
    far: BTreeMap<u32, Vec<u32>>,
    /// Emptied buckets of the tree, reused so firing does not allocate.
    spare: Vec<Vec<u32>>,
    /// No minute before this holds anything: lets the (nearly every)
    /// event that finds no timer due skip the wheel altogether.
    first: u32,
}

impl Default for TimerWheel {
    fn default() -> Self {
        TimerWheel {
            base: 0,
            ring: (0..SLOTS).map(|_| Vec::new()).collect(),
            in_ring: 0,
            far: BTreeMap::new(),
            spare: Vec::new(),
            first: u32::MAX,
        }
    }
}

impl TimerWheel {
    fn slot(minute: u32) -> usize {
        (minute % SLOTS) as usize
    }

    fn in_window(&self, minute: u32) -> bool {
        minute >= self.base && minute - self.base < SLOTS
    }

    /// Adds `idx` to the bucket of `minute`.
    pub(super) fn push(&mut self, minute: u32, idx: u32) {
        if self.in_ring == 0 && !self.in_window(minute) {
            // An empty ring can start anywhere: minutes before it go to
            // the tree and fire in order all the same.
            self.base = minute;
        }
        self.first = self.first.min(minute);
        if self.in_window(minute) {
            let slot = &mut self.ring[Self::slot(minute)];
            if slot.capacity() == 0 {
                *slot = self.spare.pop().unwrap_or_default();
            }
            slot.push(idx);
            self.in_ring += 1;
        } else {
            let spare = &mut self.spare;
            self.far
                .entry(minute)
                .or_insert_with(|| spare.pop().unwrap_or_default())
                .push(idx);
        }
    }

    /// Whether nothing is due at or before `last` (a quick answer, exact
    /// only in the "nothing" direction).
    pub(super) fn none_by(&self, last: u32) -> bool {
        self.first > last
    }

    /// Takes the bucket of the earliest minute at or before `last` holding
    /// anything: the minute and its players (in no particular order; a
    /// player may be listed more than once). Hand the bucket back with
    /// [`TimerWheel::recycle`].
    pub(super) fn pop_due(&mut self, last: u32) -> Option<(u32, Vec<u32>)> {
        if self.in_ring > 0 {
            // A slot within `SLOTS` of the base holds something, so this
            // stops there at the latest.
            while self.base <= last && self.ring[Self::slot(self.base)].is_empty() {
                self.base += 1;
            }
        }
        let ring = (self.in_ring > 0 && self.base <= last).then_some(self.base);
        let far = self.far.keys().next().copied().filter(|&m| m <= last);
        let minute = match (ring, far) {
            (None, None) => {
                self.first = self.far.keys().next().copied().unwrap_or(u32::MAX);
                if self.in_ring > 0 {
                    self.first = self.first.min(self.base);
                }
                return None;
            }
            (Some(r), None) => r,
            (None, Some(f)) => f,
            (Some(r), Some(f)) => r.min(f),
        };
        let mut bucket = if ring == Some(minute) {
            let b = std::mem::take(&mut self.ring[Self::slot(minute)]);
            self.in_ring -= b.len();
            b
        } else {
            self.spare.pop().unwrap_or_default()
        };
        if far == Some(minute)
            && let Some(mut f) = self.far.remove(&minute)
        {
            if bucket.is_empty() {
                std::mem::swap(&mut bucket, &mut f);
            } else {
                bucket.extend_from_slice(&f);
            }
            self.give_back(f);
        }
        Some((minute, bucket))
    }

    /// Returns a bucket taken by [`TimerWheel::pop_due`], its contents
    /// dealt with: kept for reuse by whichever minute next needs one, as
    /// the tree's buckets were (a bucket kept in its slot would hold its
    /// capacity there while other slots grew their own).
    pub(super) fn recycle(&mut self, bucket: Vec<u32>) {
        self.give_back(bucket);
    }

    fn give_back(&mut self, mut bucket: Vec<u32>) {
        if bucket.capacity() > 0 && self.spare.len() < 1024 {
            bucket.clear();
            self.spare.push(bucket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the tree alone: the same minutes fire in the same order with
    /// the same players, while buckets are pushed to during firing, into
    /// the past, near and far ahead.
    #[test]
    fn fires_what_a_tree_fires() {
        let mut wheel = TimerWheel::default();
        let mut tree: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut now = 1_000_000u32;
        let mut fired = 0u32;
        for step in 0..20_000u32 {
            let r = rand();
            let minute = match r % 10 {
                0 => now.saturating_sub((r >> 8) as u32 % 50),
                1..=6 => now + (r >> 8) as u32 % 400,
                7 | 8 => now + (r >> 8) as u32 % 3 * SLOTS,
                _ => now + (r >> 8) as u32 % 20_000,
            };
            wheel.push(minute, step);
            tree.entry(minute).or_default().push(step);
            now += (rand() % 3) as u32;
            if step % 7 == 0 {
                let last = now;
                if !wheel.none_by(last) {
                    while let Some((m, mut b)) = wheel.pop_due(last) {
                        b.sort_unstable();
                        let e = tree.first_entry().expect("the tree has it too");
                        assert_eq!(*e.key(), m);
                        let mut t = e.remove();
                        t.sort_unstable();
                        assert_eq!(b, t, "minute {m}");
                        fired += 1;
                        wheel.recycle(b);
                        if fired % 5 == 0 {
                            // A timer set while firing, for this minute or
                            // one already behind.
                            let m = m - (fired / 5) % 2;
                            wheel.push(m, u32::MAX - step);
                            tree.entry(m).or_default().push(u32::MAX - step);
                        }
                    }
                }
                assert!(tree.keys().next().is_none_or(|&m| m > last), "{step}");
            }
        }
    }
}
