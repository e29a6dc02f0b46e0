//! Responsible gambling: who must never get a bonus offer, and the signs of
//! harm that call for a human rather than a sale.
//!
//! Two kinds of protection:
//! - **RG actions** of the player (`rg` events): a self-exclusion blocks
//!   every marketing offer for good; a cool-off or a deposit limit blocks
//!   bonus offers for `engine.safeguards.rg_block` after the latest action.
//! - **Signs of harm**, read from the player's own events as they are
//!   applied: deposits far above the player's usual day, repeated failed
//!   deposits on a losing day, stakes rising bet after bet on a losing day
//!   (chasing losses), very long sessions. Each raises an `rg_risk` alert
//!   for a human and blocks all marketing offers to the player at once for
//!   `engine.safeguards.harm.suppress_marketing_for` (regulators require
//!   that the action is automatic and immediate).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::RgAction;
use crate::signal::Signal;
use crate::state::RgState;

/// Safeguard settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafeguardConfig {
    /// How long after a cool-off or deposit-limit action bonus offers stay
    /// blocked (a self-exclusion blocks all marketing for good).
    #[serde(with = "humantime_serde")]
    pub rg_block: Duration,
    /// Signs of harm.
    pub harm: HarmConfig,
}

impl Default for SafeguardConfig {
    fn default() -> Self {
        SafeguardConfig {
            rg_block: Duration::from_secs(180 * 86_400),
            harm: HarmConfig::default(),
        }
    }
}

/// Which behaviour counts as a sign of harm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HarmConfig {
    pub enabled: bool,
    /// Deposits in one day above this multiple of the player's usual
    /// deposits per day...
    pub deposit_velocity_factor: f64,
    /// ...and above the usual day by at least this much (reporting
    /// currency), so small players' noise does not fire.
    pub deposit_velocity_min: f64,
    /// Failed deposits in one day while the player is losing that day.
    pub failed_deposits_while_losing: u32,
    /// Consecutive bets each with a higher stake than the one before, while
    /// the player is losing that day.
    pub rising_stakes_while_losing: u32,
    /// A single session this long.
    #[serde(with = "humantime_serde")]
    pub long_session: Duration,
    /// All marketing offers are suppressed this long after a sign of harm.
    #[serde(with = "humantime_serde")]
    pub suppress_marketing_for: Duration,
    /// At most one `rg_risk` alert per player in this time.
    #[serde(with = "humantime_serde")]
    pub alert_cooldown: Duration,
}

impl Default for HarmConfig {
    fn default() -> Self {
        HarmConfig {
            enabled: true,
            deposit_velocity_factor: 5.0,
            deposit_velocity_min: 500.0,
            failed_deposits_while_losing: 3,
            rising_stakes_while_losing: 5,
            long_session: Duration::from_secs(6 * 3600),
            suppress_marketing_for: Duration::from_secs(30 * 86_400),
            alert_cooldown: Duration::from_secs(86_400),
        }
    }
}

/// What the player did today, for the signs of harm: kept inline and small
/// (16 bytes), reset when a new day starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HarmDay {
    /// Day number (days since the epoch) the figures are for.
    pub day: u16,
    pub failed_deposits: u8,
    /// Consecutive bets with a rising stake while losing.
    pub rising_stakes: u8,
    /// Stake less winnings today, in cents (positive: losing).
    pub net_loss_cents: i32,
    /// Successful deposits today, in cents.
    pub deposits_cents: u32,
    /// The last stake today, in cents (saturating).
    pub last_stake_cents: u32,
}

impl HarmDay {
    fn roll(&mut self, t: u32) {
        let day = (t / 86_400) as u16;
        if day != self.day {
            *self = HarmDay {
                day,
                ..HarmDay::default()
            };
        }
    }

    /// Records a bet at `t`; returns the rising-stakes streak while losing.
    pub(crate) fn bet(&mut self, t: u32, stake_cents: u64, win_cents: Option<u64>) -> u32 {
        self.roll(t);
        let stake = stake_cents.min(u32::MAX as u64) as u32;
        let losing_before = self.net_loss_cents > 0;
        self.net_loss_cents = self
            .net_loss_cents
            .saturating_add(stake as i32)
            .saturating_sub(win_cents.unwrap_or(0).min(i32::MAX as u64) as i32);
        if losing_before && stake > self.last_stake_cents {
            self.rising_stakes = self.rising_stakes.saturating_add(1);
        } else {
            self.rising_stakes = 0;
        }
        self.last_stake_cents = stake;
        self.rising_stakes as u32
    }

    /// Records a successful deposit; returns today's deposits in cents.
    pub(crate) fn deposit(&mut self, t: u32, cents: u64) -> u64 {
        self.roll(t);
        self.deposits_cents = self
            .deposits_cents
            .saturating_add(cents.min(u32::MAX as u64) as u32);
        self.deposits_cents as u64
    }

    /// Records a failed deposit; returns the failures today while losing.
    pub(crate) fn failed_deposit(&mut self, t: u32) -> u32 {
        self.roll(t);
        if self.net_loss_cents > 0 {
            self.failed_deposits = self.failed_deposits.saturating_add(1);
        }
        self.failed_deposits as u32
    }
}

/// A sign of harm: which, the figure that fired and what it was held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HarmSign {
    pub signal: Signal,
    pub value: f64,
    pub threshold: f64,
}

/// Why an offer may not go out although a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suppression {
    /// The player excluded themselves.
    SelfExclusion,
    /// A bonus offer to a player with an active cool-off or deposit limit.
    RgLimit,
    /// A sign of harm was seen recently.
    HarmRisk,
    /// The player opted out of marketing or of the offer's channel.
    OptOut,
}

impl Suppression {
    /// Every reason.
    pub const ALL: [Suppression; 4] = [
        Suppression::SelfExclusion,
        Suppression::RgLimit,
        Suppression::HarmRisk,
        Suppression::OptOut,
    ];

    /// The wire name (also a metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            Suppression::SelfExclusion => "self_exclusion",
            Suppression::RgLimit => "rg_limit",
            Suppression::HarmRisk => "harm_risk",
            Suppression::OptOut => "opt_out",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Suppression> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

fn has(rg: &RgState, a: RgAction) -> bool {
    let bit = RgAction::ALL.iter().position(|x| *x == a).unwrap_or(0);
    rg.flags & (1 << bit) != 0
}

/// Whether the player's own RG actions forbid an offer at `t`: every offer
/// after a self-exclusion, bonus offers within `rg_block` of a cool-off or
/// deposit limit.
pub fn rg_blocks(rg: &RgState, t: u32, bonus: bool, cfg: &SafeguardConfig) -> Option<Suppression> {
    if has(rg, RgAction::SelfExclusion) {
        return Some(Suppression::SelfExclusion);
    }
    let limited = has(rg, RgAction::CoolOff) || has(rg, RgAction::DepositLimit);
    (bonus && limited && (t.saturating_sub(rg.at) as u64) < cfg.rg_block.as_secs())
        .then_some(Suppression::RgLimit)
}

/// Whether the player has an active RG restriction at `t` (for the lookup
/// API and reasons).
pub fn rg_active(rg: &RgState, t: u32, cfg: &SafeguardConfig) -> bool {
    rg_blocks(rg, t, true, cfg).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rg(action: RgAction, at: u32) -> RgState {
        let bit = RgAction::ALL.iter().position(|x| *x == action).unwrap();
        RgState {
            flags: 1 << bit,
            at,
        }
    }

    #[test]
    fn self_exclusion_blocks_every_offer_for_good() {
        let cfg = SafeguardConfig::default();
        let r = rg(RgAction::SelfExclusion, 100);
        assert_eq!(
            rg_blocks(&r, 100 + 1000 * 86_400, false, &cfg),
            Some(Suppression::SelfExclusion)
        );
    }

    #[test]
    fn limits_block_bonus_offers_for_a_while() {
        let cfg = SafeguardConfig::default();
        let r = rg(RgAction::DepositLimit, 100);
        assert_eq!(rg_blocks(&r, 200, true, &cfg), Some(Suppression::RgLimit));
        assert_eq!(rg_blocks(&r, 200, false, &cfg), None);
        assert_eq!(rg_blocks(&r, 100 + 181 * 86_400, true, &cfg), None);
        assert_eq!(
            rg_blocks(&rg(RgAction::RealityCheck, 100), 200, true, &cfg),
            None
        );
    }

    #[test]
    fn rising_stakes_count_only_while_losing() {
        let mut h = HarmDay::default();
        let t = 86_400 * 100;
        assert_eq!(h.bet(t, 100, None), 0);
        assert_eq!(h.bet(t + 1, 200, None), 1);
        assert_eq!(h.bet(t + 2, 300, None), 2);
        // A big win puts the player ahead: the streak ends.
        assert_eq!(h.bet(t + 3, 400, Some(10_000)), 3);
        assert_eq!(h.bet(t + 4, 500, None), 0);
        // A new day starts afresh.
        assert_eq!(h.bet(t + 86_400, 600, None), 0);
        assert_eq!(h.net_loss_cents, 600);
    }

    #[test]
    fn failed_deposits_count_while_losing() {
        let mut h = HarmDay::default();
        let t = 86_400 * 100;
        assert_eq!(h.failed_deposit(t), 0);
        h.bet(t, 1_000, None);
        assert_eq!(h.failed_deposit(t + 1), 1);
        assert_eq!(h.failed_deposit(t + 2), 2);
        assert_eq!(h.deposit(t + 3, 500), 500);
        assert_eq!(h.deposit(t + 4, 700), 1_200);
    }
}
