//! What the engine produces: alerts and score records.

use crate::band::Band;
use crate::signal::Reason;
use crate::time::Timestamp;

/// The kinds of risk alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// The band changed (down: drifting or leaving; up: recovering).
    BandChange,
    /// Activity fell by the configured share against the window before.
    UsageDrop,
    /// Silent for longer than the player's own rhythm allows.
    Inactivity,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 3] = [
        AlertKind::BandChange,
        AlertKind::UsageDrop,
        AlertKind::Inactivity,
    ];

    /// The wire name (snake_case).
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertKind::BandChange => "band_change",
            AlertKind::UsageDrop => "usage_drop",
            AlertKind::Inactivity => "inactivity",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A risk alert for a player's manager or the CRM.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Deterministic: the same input always yields the same id, so
    /// consumers can drop repeats after a redelivery.
    pub alert_id: String,
    pub player_id: String,
    pub brand: String,
    pub kind: AlertKind,
    /// Event time at which it fired.
    pub ts: Timestamp,
    pub score: f64,
    pub prev_score: f64,
    pub band: Band,
    pub prev_band: Band,
    /// Which signals moved and how much each weighed; the rule's own
    /// trigger first.
    pub reasons: Vec<Reason>,
}

/// A player's latest score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRecord {
    pub player_id: String,
    pub brand: String,
    pub ts: Timestamp,
    pub score: f64,
    pub band: Band,
    /// False while the player lacks the history to be judged.
    pub baseline_ready: bool,
    pub reasons: Vec<Reason>,
}

/// One output of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Alert(Alert),
    Score(ScoreRecord),
}

/// Builds the deterministic id of an alert from what identifies it.
pub(crate) fn alert_id(
    player_id: &str,
    brand: &str,
    kind: AlertKind,
    ts: Timestamp,
    band: Band,
) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [
        brand.as_bytes(),
        player_id.as_bytes(),
        kind.as_str().as_bytes(),
        band.as_str().as_bytes(),
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(&ts.as_millis().to_le_bytes());
    format!("{:032x}", h.digest128())
}
