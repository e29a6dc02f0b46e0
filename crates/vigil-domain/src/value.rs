//! Customer value and alert priority.
//!
//! A personal manager looks after a few dozen players and cannot call all
//! of them: alerts are ranked by risk times value. The value is an RFM
//! estimate of what the player brings in a month, read from state the
//! engine already keeps:
//!
//! - **monetary**: over the last ~28 days, the larger of net deposits
//!   (successful deposits less paid withdrawals: what the player left with
//!   the operator) and stake times `engine.value.stake_margin` (the expected
//!   gross gaming revenue of that stake, which counts even for a player who
//!   won and withdrew);
//! - **frequency**: active days in the 28-day window, as a share of 28; a
//!   player active every day keeps the whole monetary figure, one active
//!   once a month about half of it;
//! - **recency**: halves every `engine.value.recency_half_life` of silence.
//!
//! `value = monetary × (0.5 + 0.5 × frequency) × recency`, in the reporting
//! currency. It is an estimate for ranking, not accounting.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::WINDOW_DAYS;
use crate::decay::Counter;
use crate::state::PlayerState;
use crate::time::Timestamp;
use crate::window::Span;

/// How the customer value is estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValueConfig {
    /// Share of stake the operator expects to keep (house edge across the
    /// product mix): stake × margin is the revenue a stake stands for.
    pub stake_margin: f64,
    /// Silence after which the value counts half.
    #[serde(with = "humantime_serde")]
    pub recency_half_life: Duration,
}

impl Default for ValueConfig {
    fn default() -> Self {
        ValueConfig {
            stake_margin: 0.05,
            recency_half_life: Duration::from_secs(14 * 86_400),
        }
    }
}

/// The parts of a value estimate, for the lookup API and reasons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    /// The estimate, in the reporting currency per month.
    pub value: f64,
    /// Larger of net deposits and stake × margin over ~28 days.
    pub monetary: f64,
    /// Active share of the last 28 days, 0-1.
    pub frequency: f64,
    /// 1 when active now, halving per half-life of silence.
    pub recency: f64,
}

/// Estimates the value of a player at `now`.
pub fn estimate(state: &PlayerState, now: Timestamp, cfg: &ValueConfig) -> Value {
    let t = now.compact();
    let [month] = state.window.sums(
        now,
        [Span {
            ago_days: 0.0,
            len_days: WINDOW_DAYS as f64,
        }],
    );
    let (_, deposits) = state.decayed.values(Counter::Deposits, t);
    let (_, withdrawn) = state.decayed.values(Counter::Withdrawals, t);
    let net = (deposits - withdrawn).max(0.0);
    let monetary = net.max(month.stake_cents / 100.0 * cfg.stake_margin);
    let frequency = (month.active_days / WINDOW_DAYS as f64).clamp(0.0, 1.0);
    let recency = if state.last_active == 0 {
        0.0
    } else {
        let silent = t.saturating_sub(state.last_active) as f64;
        let half = cfg.recency_half_life.as_secs_f64().max(1.0);
        0.5f64.powf(silent / half)
    };
    Value {
        value: monetary * (0.5 + 0.5 * frequency) * recency,
        monetary,
        frequency,
        recency,
    }
}

/// Risk times value: how much a manager stands to keep by acting. `risk` is
/// in `0..=1`; one unit is added to the value so that players the estimate
/// knows nothing about still rank by risk among themselves.
pub fn priority(risk: f64, value: f64) -> f64 {
    risk.clamp(0.0, 1.0) * (1.0 + value.max(0.0))
}

/// The risk a score stands for: 0 at 100, 1 at 0.
pub fn score_risk(score: f64) -> f64 {
    ((100.0 - score) / 100.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Fact, FrictionSecs};

    const F: FrictionSecs = FrictionSecs {
        slow_ticket: 86_400,
        slow_withdrawal: 86_400,
        max_gap: 21 * 86_400,
    };

    fn player(days: u32, deposit_cents: u64, stake_cents: u64) -> PlayerState {
        let mut s = PlayerState::new(1_000_000, 0);
        for d in 0..days {
            let ts = Timestamp::from_compact(1_000_000 + d * 86_400);
            s.apply(ts, &Fact::Login, F);
            s.apply(
                ts,
                &Fact::Bet {
                    stake_cents,
                    win_cents: None,
                },
                F,
            );
            s.apply(
                ts,
                &Fact::Deposit {
                    cents: deposit_cents,
                    ok: true,
                },
                F,
            );
        }
        s
    }

    #[test]
    fn a_daily_depositor_is_worth_more_than_an_occasional_one() {
        let now = Timestamp::from_compact(1_000_000 + 27 * 86_400);
        let cfg = ValueConfig::default();
        let daily = estimate(&player(28, 5_000, 1_000), now, &cfg);
        let mut rare = PlayerState::new(1_000_000, 0);
        rare.apply(now, &Fact::Login, F);
        rare.apply(
            now,
            &Fact::Deposit {
                cents: 5_000,
                ok: true,
            },
            F,
        );
        let rare = estimate(&rare, now, &cfg);
        assert!(daily.value > 10.0 * rare.value, "{daily:?} vs {rare:?}");
        assert!((daily.frequency - 1.0).abs() < 0.05, "{daily:?}");
    }

    #[test]
    fn withdrawals_lower_net_deposits_but_stake_keeps_a_floor() {
        let now = Timestamp::from_compact(1_000_000 + 27 * 86_400);
        let cfg = ValueConfig::default();
        let mut s = player(28, 10_000, 100_000);
        let before = estimate(&s, now, &cfg);
        s.apply(
            now,
            &Fact::Withdrawal {
                cents: 1_000_000,
                status: crate::event::WithdrawalStatus::Paid,
            },
            F,
        );
        let after = estimate(&s, now, &cfg);
        assert!(after.monetary < before.monetary);
        // 28 days of 1,000 stake at 5 %: about 1,400 of expected revenue.
        assert!(after.monetary > 1_000.0, "{after:?}");
    }

    #[test]
    fn silence_halves_the_value_per_half_life() {
        let cfg = ValueConfig::default();
        let s = player(28, 5_000, 1_000);
        let last = Timestamp::from_compact(1_000_000 + 27 * 86_400);
        let later = Timestamp::from_compact(1_000_000 + 27 * 86_400 + 14 * 86_400);
        assert!((estimate(&s, last, &cfg).recency - 1.0).abs() < 1e-9);
        assert!((estimate(&s, later, &cfg).recency - 0.5).abs() < 1e-9);
    }

    #[test]
    fn priority_ranks_by_risk_times_value() {
        assert!(priority(0.5, 1_000.0) > priority(0.9, 100.0));
        assert!(priority(0.9, 0.0) > priority(0.1, 0.0));
        assert_eq!(priority(0.0, 1e6), 0.0);
        assert_eq!(score_risk(30.0), 0.7);
    }
}
