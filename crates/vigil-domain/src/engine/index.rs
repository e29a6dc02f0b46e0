//! The player index: a player's hash to its index in the engine's records.
//!
//! An open-addressing table with linear probing, of our own rather than
//! `hashbrown`'s, for one reason: where a hash's entries lie is known from
//! the hash alone ([`PlayerIndex::prefetch`]), so the engine can start
//! loading that line a few events before it looks the player up, and then
//! read the candidates (ids not yet compared, [`PlayerIndex::candidates`])
//! from cache to start loading their records. At 100k players the index
//! (about 1 MB) misses the cache as the records do, and `hashbrown` only
//! finds where to look by reading its control bytes.
//!
//! Each slot holds the upper half of the player's hash as a tag and the
//! player's index. The slot a hash starts at comes from the tag's top bits,
//! so the table grows without reading a single record or hashing again.
//! Players are never removed, so there are no tombstones.

use super::prefetch::prefetch;

/// Grown before more than 13/16 of the slots are taken: linear probing
/// stays short (a hit reads about three slots, a miss about a dozen, all
/// in one or two cache lines).
const MAX_LOAD: (usize, usize) = (13, 16);

#[derive(Debug, Default)]
pub(super) struct PlayerIndex {
    /// `tag << 32 | (index + 1)`; 0 is a free slot. The length is 0 or a
    /// power of two.
    slots: Vec<u64>,
    len: usize,
    /// `32 - log2(slots.len())`: a tag shifted right by this is its home
    /// slot.
    shift: u32,
}

fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

impl PlayerIndex {
    fn home(&self, tag: u32) -> usize {
        // A shift by 32 would overflow a u32: go through u64.
        (u64::from(tag) >> self.shift) as usize
    }

    /// Starts loading the slot where `hash`'s entries begin.
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        if let Some(slot) = self.slots.get(self.home(tag(hash))) {
            prefetch(slot);
        }
    }

    /// Indexes stored under `hash`'s tag: the player's, if known, and now
    /// and then another player's (1 in 4 billion); the caller compares ids.
    pub(super) fn candidates(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        let t = tag(hash);
        let mask = self.slots.len().wrapping_sub(1);
        let start = if self.slots.is_empty() {
            0
        } else {
            self.home(t)
        };
        (0..self.slots.len())
            .map(move |k| self.slots[(start + k) & mask])
            .take_while(|&s| s != 0)
            .filter(move |&s| (s >> 32) as u32 == t)
            .map(|s| (s as u32).wrapping_sub(1))
    }

    /// The candidate `is_it` accepts.
    pub(super) fn find(&self, hash: u64, mut is_it: impl FnMut(u32) -> bool) -> Option<u32> {
        self.candidates(hash).find(|&i| is_it(i))
    }

    /// Adds player `idx` under `hash`; the caller has checked it is new.
    pub(super) fn insert(&mut self, hash: u64, idx: u32) {
        if (self.len + 1) * MAX_LOAD.1 > self.slots.len() * MAX_LOAD.0 {
            self.grow();
        }
        self.place((u64::from(tag(hash)) << 32) | (u64::from(idx) + 1));
        self.len += 1;
    }

    fn place(&mut self, entry: u64) {
        let mask = self.slots.len() - 1;
        let mut at = self.home((entry >> 32) as u32);
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = entry;
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![0; cap]);
        self.shift = 32 - cap.trailing_zeros();
        for entry in old.into_iter().filter(|&e| e != 0) {
            self.place(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())
    }

    #[test]
    fn finds_every_player_across_growth_and_no_stranger() {
        let mut ix = PlayerIndex::default();
        assert_eq!(ix.find(hash(1), |_| true), None);
        let n = 50_000u32;
        for i in 0..n {
            assert_eq!(ix.find(hash(i.into()), |_| true), None, "{i} not yet in");
            ix.insert(hash(i.into()), i);
        }
        for i in 0..n {
            assert_eq!(ix.find(hash(i.into()), |c| c == i), Some(i));
        }
        for i in n..n + 1000 {
            assert_eq!(ix.find(hash(i.into()), |_| true), None);
        }
        assert!(ix.len * MAX_LOAD.1 <= ix.slots.len() * MAX_LOAD.0);
    }

    #[test]
    fn players_sharing_a_hash_are_told_apart_by_the_caller() {
        let mut ix = PlayerIndex::default();
        let h = hash(7);
        ix.insert(h, 3);
        ix.insert(h, 9);
        ix.insert(hash(8), 4);
        let mut c: Vec<u32> = ix.candidates(h).collect();
        c.sort_unstable();
        assert_eq!(c, [3, 9]);
        assert_eq!(ix.find(h, |i| i == 9), Some(9));
        assert_eq!(ix.find(h, |i| i == 4), None);
    }

    #[test]
    fn slots_wrap_around_the_end() {
        let mut ix = PlayerIndex::default();
        // All at the last home slot: the probe wraps to the front.
        let last = u64::MAX;
        for i in 0..5 {
            ix.insert(last, i);
        }
        assert_eq!(ix.slots.len(), 16);
        assert_eq!(ix.candidates(last).count(), 5);
        assert_eq!(ix.find(last, |i| i == 4), Some(4));
    }
}
