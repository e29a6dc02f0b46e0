//! What the engine produces: alerts and score records.

use crate::band::Band;
use crate::offer::Offer;
use crate::outcome::Outcome;
use crate::profile::Tier;
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
    /// Signs of gambling harm: for a human, never a sales opportunity.
    RgRisk,
    /// A VIP's support ticket missed its first-response or resolution time.
    SlaBreach,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 5] = [
        AlertKind::BandChange,
        AlertKind::UsageDrop,
        AlertKind::Inactivity,
        AlertKind::RgRisk,
        AlertKind::SlaBreach,
    ];

    /// Whether the kind reports churn risk (the kinds offers answer and
    /// outcomes follow up), rather than harm or a service breach.
    pub const fn is_risk(self) -> bool {
        matches!(
            self,
            AlertKind::BandChange | AlertKind::UsageDrop | AlertKind::Inactivity
        )
    }

    /// The wire name (snake_case).
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertKind::BandChange => "band_change",
            AlertKind::UsageDrop => "usage_drop",
            AlertKind::Inactivity => "inactivity",
            AlertKind::RgRisk => "rg_risk",
            AlertKind::SlaBreach => "sla_breach",
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
    /// From the player's profile (regular without one).
    pub tier: Tier,
    pub manager_id: Option<String>,
    /// Customer value estimate (reporting currency per month, see
    /// [`crate::value`]).
    pub value: f64,
    /// Risk times value: the order a manager should work alerts in.
    pub priority: f64,
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
    Offer(Offer),
    Outcome(Outcome),
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
