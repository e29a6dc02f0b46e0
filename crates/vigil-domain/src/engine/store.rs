//! The engine's players, in fixed-size chunks.
//!
//! One `Vec` of millions of players doubles its capacity as it grows: at
//! 10M players it had reserved 16.8M slots, 287 bytes a player that were
//! never touched, and each doubling copied gigabytes. Chunks of
//! [`CHUNK`] players never move once full and a new one is reserved only
//! when the last is full, so what is reserved beyond use is less than one
//! chunk (about 1.7 MB), whatever the population. The first chunk grows
//! like a `Vec` up to [`CHUNK`], so an engine with a handful of players
//! does not reserve a whole chunk.

use std::ops::{Index, IndexMut};

/// Players per chunk: a power of two, so finding a player is a shift and a
/// mask. Small enough that the spare part of the last chunk is negligible
/// at 100k players, large enough that the table of chunks stays in cache
/// (2,442 chunk pointers at 10M players).
pub(super) const CHUNK: usize = 1 << 12;
const SHIFT: u32 = CHUNK.trailing_zeros();

/// Indexed by the engine's `u32` player index, in first-seen order.
#[derive(Debug)]
pub(super) struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ChunkedVec<T> {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value`; returns its index.
    pub(super) fn push(&mut self, value: T) -> usize {
        let idx = self.len;
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    // Only the first chunk starts small: double it, but
                    // never past a chunk.
                    let want = (last.capacity() * 2).clamp(4, CHUNK);
                    last.reserve_exact(want - last.len());
                }
                last.push(value);
            }
            _ => {
                let mut chunk = if self.chunks.is_empty() {
                    Vec::with_capacity(4)
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        idx
    }
}

impl<T> Index<usize> for ChunkedVec<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> SHIFT][i & (CHUNK - 1)]
    }
}

impl<T> IndexMut<usize> for ChunkedVec<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> SHIFT][i & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_and_reserves_at_most_one_chunk_ahead() {
        let mut v = ChunkedVec::default();
        let n = 3 * CHUNK + 5;
        for i in 0..n {
            assert_eq!(v.push(i as u64), i);
        }
        assert_eq!(v.len(), n);
        for i in (0..n).step_by(97) {
            assert_eq!(v[i], i as u64);
        }
        v[CHUNK] = 7;
        assert_eq!(v[CHUNK], 7);
        let reserved: usize = v.chunks.iter().map(Vec::capacity).sum();
        assert!(reserved - n < CHUNK, "{reserved} slots for {n}");
        // A small engine reserves little.
        let mut small = ChunkedVec::default();
        for i in 0..10u64 {
            small.push(i);
        }
        assert!(small.chunks[0].capacity() <= 16);
    }
}
