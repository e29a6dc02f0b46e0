//! Closing the loop: what happened after an alert or an offer.
//!
//! When a risk alert fires or an offer is made (sent or held out), the
//! player's score and band at that moment are remembered. Once
//! `engine.outcomes.horizon` has passed, the next evaluation of the player
//! emits an outcome record: the score then, the change, and whether the
//! player recovered (came back since, and gained at least `min_gain`
//! points or is green).
//! Offers carry their group (treated or held out), so the recovery rate of
//! the two groups gives the offers' uplift.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::band::Band;
use crate::output::AlertKind;
use crate::time::Timestamp;

/// Outcome settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomeConfig {
    pub enabled: bool,
    /// How long after an alert or offer the outcome is measured.
    #[serde(with = "humantime_serde")]
    pub horizon: Duration,
    /// Points the score must have gained to count as recovered (a green
    /// player counts as recovered anyway, if active since).
    pub min_gain: f64,
}

impl Default for OutcomeConfig {
    fn default() -> Self {
        OutcomeConfig {
            enabled: true,
            horizon: Duration::from_secs(14 * 86_400),
            min_gain: 10.0,
        }
    }
}

/// What an outcome follows up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Alert(AlertKind),
    /// An offer, delivered (`treated`) or held out.
    Offer {
        treated: bool,
    },
}

impl Source {
    /// The group label: `alert`, `treated` or `held_out`.
    pub const fn group(self) -> &'static str {
        match self {
            Source::Alert(_) => "alert",
            Source::Offer { treated: true } => "treated",
            Source::Offer { treated: false } => "held_out",
        }
    }
}

/// A follow-up record.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Deterministic: derived from the source's id.
    pub outcome_id: String,
    /// The `alert_id` or `offer_id` followed up.
    pub source_id: String,
    pub source: Source,
    pub player_id: String,
    pub brand: String,
    /// When the alert fired or the offer was made.
    pub started: Timestamp,
    /// When the outcome was measured.
    pub ts: Timestamp,
    pub score_before: f64,
    pub score_after: f64,
    pub band_before: Band,
    pub band_after: Band,
    pub recovered: bool,
}

/// An alert or offer awaiting its outcome, as the state remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tracked {
    /// The source id (the hex id as a number).
    pub source_id: u128,
    /// Compact time it started; 0 marks a free slot.
    pub started: u32,
    /// Score then, in hundredths of a point.
    pub score_centi: u16,
    pub band: u8,
    /// [`AlertKind::ALL`] index, or [`Tracked::OFFER_TREATED`] /
    /// [`Tracked::OFFER_HELD_OUT`].
    pub kind: u8,
}

impl Tracked {
    pub const OFFER_TREATED: u8 = 100;
    pub const OFFER_HELD_OUT: u8 = 101;

    /// What the record follows up, if its kind is known.
    pub fn source(&self) -> Option<Source> {
        match self.kind {
            Self::OFFER_TREATED => Some(Source::Offer { treated: true }),
            Self::OFFER_HELD_OUT => Some(Source::Offer { treated: false }),
            k => AlertKind::ALL.get(k as usize).map(|k| Source::Alert(*k)),
        }
    }
}

/// Alerts and offers a player's state follows up at once: bounds the state.
pub const TRACKED: usize = 6;

/// The source id as a number (ids are 32 hex digits).
pub(crate) fn id_number(id: &str) -> u128 {
    u128::from_str_radix(id, 16).unwrap_or_default()
}

/// The outcome id of a source id.
pub(crate) fn outcome_id(source_id: u128) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(b"outcome");
    h.update(&source_id.to_le_bytes());
    format!("{:032x}", h.digest128())
}

/// Whether a player recovered from `before` to `after`. Only a player
/// active since the alert or offer can have: a silent player's score
/// drifts up on its own once the window forgets what they used to do.
pub(crate) fn recovered(
    before: f64,
    after: f64,
    band_after: Band,
    active_since: bool,
    cfg: &OutcomeConfig,
) -> bool {
    active_since && (band_after == Band::Green || after - before >= cfg.min_gain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_outcome_ids_differ_from_sources() {
        let id = format!("{:032x}", 0xdead_beef_u128 << 64 | 7);
        let n = id_number(&id);
        assert_eq!(format!("{n:032x}"), id);
        assert_ne!(outcome_id(n), id);
        assert_eq!(outcome_id(n), outcome_id(n));
    }

    #[test]
    fn recovery_needs_a_gain_or_green() {
        let cfg = OutcomeConfig::default();
        assert!(recovered(30.0, 41.0, Band::Yellow, true, &cfg));
        assert!(!recovered(30.0, 35.0, Band::Red, true, &cfg));
        assert!(recovered(65.0, 71.0, Band::Green, true, &cfg));
        assert!(!recovered(0.0, 34.0, Band::Red, false, &cfg));
        assert!(!recovered(60.0, 71.0, Band::Green, false, &cfg));
    }

    #[test]
    fn tracked_kinds_name_their_source() {
        let t = Tracked {
            kind: Tracked::OFFER_HELD_OUT,
            ..Tracked::default()
        };
        assert_eq!(t.source().unwrap().group(), "held_out");
        let t = Tracked {
            kind: 1,
            ..Tracked::default()
        };
        assert_eq!(t.source(), Some(Source::Alert(AlertKind::UsageDrop)));
    }
}
