//! What the engine hands out so its state can be rebuilt elsewhere: one
//! record per player that changed, and the engine's clock.
//!
//! A player's record holds everything the engine knows of that player at
//! the moment it is taken: the state, and the accepted events of the player
//! still waiting in the reorder buffer. Together with the input position it
//! was taken at (kept by the caller), a record is an exact cut: every event
//! of the player before that position is either in the state or in
//! `pending`, and none after it is. A restored engine can therefore skip
//! exactly the events a record already holds ([`crate::Engine::skip`]) and
//! apply the rest, and ends where an uninterrupted engine would.

use crate::state::{Fact, PlayerState};
use crate::time::Timestamp;

/// An accepted event still in the reorder buffer, as the engine holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub ts: Timestamp,
    /// Fingerprint of the event id, for duplicate detection.
    pub id_hash: u64,
    pub fact: Fact,
}

/// One player's part of the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerRecord {
    pub player_id: String,
    pub brand: String,
    /// `None` while every event of the player is still pending.
    pub state: Option<PlayerState>,
    /// In `(ts, id_hash)` order.
    pub pending: Vec<Pending>,
}

/// The engine's notion of time, which a restored engine must share for its
/// timers and reorder buffer to behave as the original's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineClock {
    /// The newest event time seen.
    pub max_seen: Timestamp,
    /// The watermark.
    pub clock: Timestamp,
}
