//! The health score: seven behaviour signals plus satisfaction, each read
//! against the player's own baseline, weighted into one number 0-100.
//!
//! Every signal yields a *health* in `[0, 1]` (1 = at or above the player's
//! usual). The score is `100 * sum(w * health) / sum(w)` over the signals
//! that apply to the player, so a player who never got a marketing message is
//! not marked down for "communication fade". Each signal's *contribution* is
//! the points it took off (`<= 0`), and the contributions add up exactly to
//! `score - 100`: that is what makes an alert explainable.

use crate::config::EngineConfig;
use crate::decay::Counter;
use crate::state::PlayerState;
use crate::time::{DAY_MS, Timestamp};
use crate::window::{Memory, Span};

/// A named input to the score (or, for [`Signal::Usage`], to a rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Active days per week, recent vs baseline.
    Frequency,
    /// Bets per active day, recent vs baseline.
    Depth,
    /// Stake plus deposits per week, recent vs baseline.
    Monetary,
    /// Days since last activity vs the player's typical gap.
    Recency,
    /// Tickets opened, slow resolutions and overdue tickets vs usual.
    Support,
    /// Failed deposits, declined and slow withdrawals vs usual.
    Payment,
    /// Message open rate, recent vs baseline.
    Communication,
    /// Latest NPS answer.
    Satisfaction,
    /// Visits plus bets over the usage-drop windows (rules only, not scored).
    Usage,
    /// Deposits today against the player's usual day (harm rule).
    DepositVelocity,
    /// Consecutive rising stakes while losing today (harm rule).
    LossChasing,
    /// Failed deposits today while losing (harm rule).
    FailedDeposits,
    /// Length of one session, in hours (harm rule).
    SessionLength,
    /// Minutes a VIP ticket waited for a first reply (SLA rule).
    FirstResponse,
    /// Minutes a VIP ticket stayed unresolved (SLA rule).
    Resolution,
}

impl Signal {
    /// The scored signals, in weight order.
    pub const ALL: [Signal; 8] = [
        Signal::Frequency,
        Signal::Depth,
        Signal::Monetary,
        Signal::Recency,
        Signal::Support,
        Signal::Payment,
        Signal::Communication,
        Signal::Satisfaction,
    ];

    /// The signals that only rules report: they explain an alert but do
    /// not weigh in the score.
    pub const RULE_ONLY: [Signal; 7] = [
        Signal::Usage,
        Signal::DepositVelocity,
        Signal::LossChasing,
        Signal::FailedDeposits,
        Signal::SessionLength,
        Signal::FirstResponse,
        Signal::Resolution,
    ];

    /// Parses a wire name (any signal, rule-only ones included).
    pub fn parse(s: &str) -> Option<Signal> {
        Signal::ALL
            .into_iter()
            .chain(Signal::RULE_ONLY)
            .find(|x| x.as_str() == s)
    }

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Signal::Frequency => "frequency",
            Signal::Depth => "depth",
            Signal::Monetary => "monetary",
            Signal::Recency => "recency",
            Signal::Support => "support",
            Signal::Payment => "payment",
            Signal::Communication => "communication",
            Signal::Satisfaction => "satisfaction",
            Signal::Usage => "usage",
            Signal::DepositVelocity => "deposit_velocity",
            Signal::LossChasing => "loss_chasing",
            Signal::FailedDeposits => "failed_deposits",
            Signal::SessionLength => "session_length",
            Signal::FirstResponse => "first_response",
            Signal::Resolution => "resolution",
        }
    }
}

/// One signal as read at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The recent figure (unit depends on the signal; see [`Signal`]).
    pub value: f64,
    /// The player's own usual figure in the same unit.
    pub baseline: f64,
    /// How healthy this is, `0..=1`.
    pub health: f64,
}

/// Why a score is what it is: one entry per signal that moved.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub signal: Signal,
    pub value: f64,
    pub baseline: f64,
    /// `(value - baseline) / baseline` in percent; `None` without a baseline.
    pub change_pct: Option<f64>,
    /// Points this signal added to the score (negative: it pulled it down).
    pub contribution: f64,
}

impl Reason {
    pub(crate) fn new(signal: Signal, value: f64, baseline: f64, contribution: f64) -> Self {
        let change_pct = (baseline > 0.0).then(|| (value - baseline) / baseline * 100.0);
        Reason {
            signal,
            value,
            baseline,
            change_pct,
            contribution,
        }
    }
}

/// The full reading of a player at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreCard {
    /// Health score, 0 to 100.
    pub score: f64,
    /// Each scored signal's reading, `None` where it does not apply.
    pub readings: [Option<Reading>; 8],
    /// Points each signal took off the score (0 where it does not apply).
    pub contributions: [f64; 8],
}

impl ScoreCard {
    /// Signals that moved the score by at least half a point, the biggest
    /// drag first. Ties keep signal order, so output is deterministic.
    pub fn reasons(&self) -> Vec<Reason> {
        let mut out: Vec<Reason> = Signal::ALL
            .iter()
            .enumerate()
            .filter_map(|(i, &s)| {
                let r = self.readings[i]?;
                (self.contributions[i] <= -0.5)
                    .then(|| Reason::new(s, r.value, r.baseline, self.contributions[i]))
            })
            .collect();
        out.sort_by(|a, b| a.contribution.total_cmp(&b.contribution));
        out
    }
}

/// Maps a recent/baseline ratio to health: at least 90% of usual is fully
/// healthy, 30% or less is not at all, linear in between. The dead zone at
/// the top keeps ordinary week-to-week noise from moving the score.
fn ratio_health(value: f64, baseline: f64) -> f64 {
    shrunk_health(value, baseline, 0.0)
}

/// Like [`ratio_health`], with `prior` added to both sides first: a
/// pseudo-count that keeps small numbers (a casual player's two visits a
/// week) from swinging the ratio on chance alone.
fn shrunk_health(value: f64, baseline: f64, prior: f64) -> f64 {
    if baseline <= 0.0 {
        return if value > 0.0 { 1.0 } else { 0.0 };
    }
    (((value + prior) / (baseline + prior) - 0.3) / 0.6).clamp(0.0, 1.0)
}

/// Health of a friction signal: 1 when no worse than usual, halving at
/// half an extra incident per week. Steep because friction is rare and
/// loud: one declined withdrawal or an unanswered ticket is how an abrupt
/// leaver's last days begin (at the gentler 1.4 incidents, `vigil eval`
/// caught a quarter of them before they left).
fn friction_health(value: f64, baseline: f64) -> f64 {
    1.0 / (1.0 + 2.0 * (value - baseline).max(0.0))
}

/// Length of the recent window, in days.
pub const RECENT_DAYS: f64 = 7.0;

/// A shortfall this many of the player's own weekly standard deviations
/// below their baseline costs nothing...
const Z_FREE: f64 = 1.0;
/// ...and this many costs the signal's full weight.
const Z_FULL: f64 = 2.5;
/// The spread is taken as at least this share of the baseline, so a
/// perfectly regular player is not judged on a zero spread...
const SPREAD_FLOOR: f64 = 0.1;
/// ...and at most the baseline itself: losing all of it is always at least
/// one spread out.
const SPREAD_CAP: f64 = 1.0;

/// Health of a behaviour signal (frequency, depth, monetary): the better
/// of the plain ratio and how far the shortfall lies outside the chance
/// swing of this player's week. A casual player's week holds too few
/// visits, bets and stakes to tell a bad week from a change of habit; their
/// ratios swing on chance alone, and judged on the ratio only most casual,
/// weekend and lottery players turned yellow or red at some point in a
/// replay of the simulated population. A regular's week varies little, so
/// the same ratio weighs in full.
///
/// The swing is the player's measured spread (`measured`), or where the
/// baseline is still too short to measure it (under nine days) `floor`,
/// the swing that chance alone gives a player with this baseline: counts
/// of visits and bets are no steadier than coin flips. Judged on the bare
/// ratio instead, a new player's first ordinary quiet week read as a
/// collapse (a third of the false alerts in `vigil eval` came in the two
/// weeks after the baseline was ready). The swing is then widened by
/// `inflate` for the baseline's own error: a baseline of a few days is an
/// estimate too.
fn behaviour_health(value: f64, baseline: f64, noise: Noise) -> f64 {
    let ratio = ratio_health(value, baseline);
    if baseline <= 0.0 {
        return ratio;
    }
    let sd = noise.measured.unwrap_or(noise.floor) * noise.inflate;
    let z = (baseline - value) / sd.clamp(SPREAD_FLOOR * baseline, SPREAD_CAP * baseline);
    ratio.max(1.0 - ((z - Z_FREE) / (Z_FULL - Z_FREE)).clamp(0.0, 1.0))
}

/// What a behaviour signal's recent figure may differ from its baseline
/// by on chance alone; see [`behaviour_health`].
#[derive(Debug, Clone, Copy)]
struct Noise {
    measured: Option<f64>,
    floor: f64,
    inflate: f64,
}

/// Per-day spread of bets (and of stake) as a share of the day's mean, at
/// the least: sessions vary in length (the simulator draws them
/// log-normal, sigma 0.45) and a few end without a bet.
const DAY_CV: f64 = 0.5;

/// Share of its points a silence keeps while it is an absence (see
/// [`is_absence`]). At 1 (with the cap at the green threshold alone) half
/// of the seasonal bettors' calendar breaks still alerted in `vigil eval`.
const ABSENCE_SHARE: f64 = 0.4;

/// Quiet days in a row, within the recent week, that make an absence the
/// player came back from.
const MIN_ABSENCE_DAYS: u32 = 4;

/// Indices of the signals a silence moves by itself: frequency, monetary
/// and recency all read the same missing visits.
const SILENCE_SIGNALS: [usize; 3] = [0, 2, 3];

/// Whether a silence that began `gap` days ago and lasted `len` days (to
/// now, or until the player came back) is an *absence*: shorter than
/// `baseline.absence_grace`, nothing went wrong (no support, payment or
/// satisfaction signal below full health), and the week before it was as
/// usual (active days and stake at least 70 % and 50 % of the weeks
/// before). A player who leaves fades first or leaves after a bad
/// experience; a player who stops from full health with nothing wrong is
/// as likely on holiday or waiting for the fixtures to resume. In `vigil
/// eval`, half the stable players on holiday and two thirds of the
/// seasonal bettors in their break were alerted while the silence counted
/// in full.
fn is_absence(
    state: &PlayerState,
    now: Timestamp,
    gap: f64,
    len: f64,
    readings: &[Option<Reading>; 8],
    memory: &Memory,
    cfg: &EngineConfig,
) -> bool {
    if len >= cfg.baseline.absence_grace.as_secs_f64() / 86_400.0 {
        return false;
    }
    let troubled = [4, 5, 7]
        .iter()
        .any(|&i| readings[i].is_some_and(|r| r.health < 0.99));
    if troubled {
        return false;
    }
    let base_len = crate::config::WINDOW_DAYS as f64 - RECENT_DAYS - gap;
    if base_len < RECENT_DAYS {
        return false;
    }
    // The usual includes the days before the window, as the score's
    // baseline does: a fader's last week is not "as usual" for having
    // been preceded by weeks of decline (`memory` is the score's, read
    // at `now`).
    let [before, usual] = state.window.sums(
        now,
        [
            Span {
                ago_days: gap,
                len_days: RECENT_DAYS,
            },
            Span {
                ago_days: gap + RECENT_DAYS,
                len_days: base_len,
            },
        ],
    );
    let usual = usual.plus(&memory.sums());
    let per_week = RECENT_DAYS / (base_len + f64::from(memory.days));
    before.active_days >= 0.7 * usual.active_days * per_week
        && before.stake_cents >= 0.5 * usual.stake_cents * per_week
}

/// Reads every signal of `state` at `now` and weighs them.
pub fn score(state: &PlayerState, now: Timestamp, cfg: &EngineConfig) -> ScoreCard {
    let t = now.compact();
    let decayed = state.decayed.seen_at(t);
    let history_days = (now.millis_since(Timestamp::from_compact(state.first_seen)) as f64
        / DAY_MS as f64)
        .max(0.0);
    let recent_len = history_days.clamp(1.0 / 24.0, RECENT_DAYS);
    let base_len =
        (history_days - RECENT_DAYS).clamp(0.0, crate::config::WINDOW_DAYS as f64 - RECENT_DAYS);
    let [recent, base] = state.window.sums(
        now,
        [
            Span {
                ago_days: 0.0,
                len_days: RECENT_DAYS,
            },
            Span {
                ago_days: RECENT_DAYS,
                len_days: base_len,
            },
        ],
    );
    let per_week_recent = RECENT_DAYS / recent_len;
    let has_base = base_len >= 1.0;
    let spread_span = Span {
        ago_days: RECENT_DAYS,
        len_days: base_len,
    };
    // The baseline is the window's days before the recent week and then
    // the fading memory of the days before the window: a player fading
    // over more than the window's three baseline weeks is read against
    // the level they had before, not against their own decline.
    let memory = state.window.memory_at(now);
    let base = base.plus(&memory.sums());
    let window_len = base_len;
    let base_len = base_len + f64::from(memory.days);
    let per_week_base = if has_base {
        RECENT_DAYS / base_len
    } else {
        0.0
    };

    let mut readings: [Option<Reading>; 8] = [None; 8];

    if has_base {
        // Spreads are measured on the window's days, which hold them.
        let spread = state.window.weekly_spread(now, spread_span);
        // The baseline's error adds to the recent week's: a baseline of
        // `window_len` days has `RECENT_DAYS / window_len` of a week's
        // variance. The memory's days are not counted here: they are older
        // and say less about this month's level than their number would
        // suggest (counting them cost precision in `vigil eval`).
        let inflate = (1.0 + RECENT_DAYS / window_len).sqrt();
        // Frequency: active days per week. Chance alone: a week of seven
        // coin flips with the player's daily odds of playing.
        let v = recent.active_days * per_week_recent;
        let b = base.active_days * per_week_base;
        let p = (b / RECENT_DAYS).clamp(0.0, 1.0);
        let noise = Noise {
            measured: spread.map(|s| s.active_days),
            floor: (RECENT_DAYS * p * (1.0 - p)).sqrt(),
            inflate,
        };
        readings[0] = Some(Reading {
            value: v,
            baseline: b,
            health: behaviour_health(v, b, noise),
        });
        // Active days in a usual week (at least one), over which per-day
        // figures average.
        let usual_days = b.max(1.0);

        // Depth: bets per active day. A player who logs in but never plays
        // has no depth, whatever their usual was. A week without a visit
        // says nothing about depth (frequency and recency already read the
        // silence; counting it here too turned every quiet week of a casual
        // player red). Nor does a day still under way: read at its login or
        // mid-session, the first visit after a holiday read as a collapse.
        // Depth is read over the recent week's finished days.
        let mut played = recent;
        if let Some(bets) = state.window.today_bets(now) {
            played.active_days = (played.active_days - 1.0).max(0.0);
            played.bets = (played.bets - bets).max(0.0);
        }
        if played.active_days >= 1.0 {
            let per_day = |s: &crate::window::Sums| {
                if s.active_days > 0.0 {
                    s.bets / s.active_days
                } else {
                    0.0
                }
            };
            let (v, b) = (per_day(&played), per_day(&base));
            let health = if b <= 0.0 {
                if v > 0.0 { 1.0 } else { 0.0 }
            } else {
                ratio_health(v, b)
            };
            // The recent figure is a mean over its active days.
            let days = played.active_days.sqrt();
            let noise = Noise {
                measured: spread.map(|s| s.bets_per_active_day / days),
                floor: DAY_CV * b / days,
                inflate,
            };
            let health = if b <= 0.0 {
                health
            } else {
                behaviour_health(v, b, noise)
            };
            readings[1] = Some(Reading {
                value: v,
                baseline: b,
                health,
            });
        }

        // Monetary: stake and deposits per week, in reporting currency units.
        let (dep_s, dep_l) = decayed.weekly_rates(Counter::Deposits);
        let v = recent.stake_cents / 100.0 * per_week_recent + dep_s;
        let b = base.stake_cents / 100.0 * per_week_base + dep_l;
        if v > 0.0 || b > 0.0 {
            // Deposits come from decayed counters without a daily spread;
            // they are taken to swing by half their usual weekly amount.
            let sd = spread.map(|s| (s.stake_cents / 100.0).hypot(0.5 * dep_l));
            // Chance alone: a week's stake is a sum over a chance number
            // of active days, each of a chance size.
            let stake_b = base.stake_cents / 100.0 * per_week_base;
            let floor = stake_b * ((DAY_CV * DAY_CV + 1.0 - p) / usual_days).sqrt();
            let noise = Noise {
                measured: sd,
                floor: floor.hypot(0.5 * dep_l),
                inflate,
            };
            readings[2] = Some(Reading {
                value: v,
                baseline: b,
                health: behaviour_health(v, b, noise),
            });
        }
    }

    // Recency: silence against the player's own rhythm.
    let mut silence = None;
    if state.last_active > 0 {
        let gap = now
            .millis_since(Timestamp::from_compact(state.last_active))
            .max(0) as f64
            / DAY_MS as f64;
        let typical = if state.gaps > 0 {
            (state.typical_gap_secs as f64 / 86_400.0).max(1.0 / 24.0)
        } else {
            1.0
        };
        let lo = (1.5 * typical).max(1.0);
        let hi = lo + (2.5 * typical).max(2.0);
        let health = 1.0 - ((gap - lo) / (hi - lo)).clamp(0.0, 1.0);
        if gap > lo {
            silence = Some(gap);
        }
        readings[3] = Some(Reading {
            value: gap,
            baseline: typical,
            health,
        });
    }

    // Support friction.
    let (tk_s, tk_l) = decayed.weekly_rates(Counter::TicketsOpened);
    let (sl_s, sl_l) = decayed.weekly_rates(Counter::SlowTickets);
    let overdue = state
        .friction()
        .tickets
        .overdue(t, cfg.friction.slow_ticket_resolution.as_secs()) as f64;
    if tk_l > 1e-3 || overdue > 0.0 {
        let (v, b) = (tk_s + 2.0 * sl_s + overdue, tk_l + 2.0 * sl_l);
        readings[4] = Some(Reading {
            value: v,
            baseline: b,
            health: friction_health(v, b),
        });
    }

    // Payment friction.
    let (pf_s, pf_l) = decayed.weekly_rates(Counter::PaymentFailures);
    let pending = state
        .friction()
        .withdrawals
        .overdue(t, cfg.friction.slow_withdrawal.as_secs()) as f64;
    if pf_l > 1e-3 || pending > 0.0 {
        let v = pf_s + pending;
        readings[5] = Some(Reading {
            value: v,
            baseline: pf_l,
            health: friction_health(v, pf_l),
        });
    }

    // Communication fade: open rate, recent vs usual.
    let (sent_s, sent_l) = decayed.values(Counter::MessagesSent);
    let (eng_s, eng_l) = decayed.values(Counter::MessagesEngaged);
    if sent_s >= 1.0 && sent_l >= 2.0 && eng_l > 0.0 {
        let (v, b) = ((eng_s / sent_s).min(1.0), (eng_l / sent_l).min(1.0));
        readings[6] = Some(Reading {
            value: v,
            baseline: b,
            health: ratio_health(v, b),
        });
    }

    // Satisfaction: the latest NPS answer, if recent enough to mean anything.
    if let Some(nps) = state.friction().nps.latest(t) {
        let health = match nps {
            9..=10 => 1.0,
            7..=8 => 0.7,
            s => 0.4 * s as f64 / 6.0,
        };
        let baseline = state.friction().nps.previous().unwrap_or(nps) as f64;
        readings[7] = Some(Reading {
            value: nps as f64,
            baseline,
            health,
        });
    }

    // An absence now, or one the player came back from within the recent
    // week, whose missing days would otherwise still weigh on frequency
    // and monetary (the first visit back read as a collapse): a run of
    // quiet days after an ordinary week.
    // (The typical gap is no guide here: the absence itself has just
    // stretched it.)
    let came_back = || {
        let (run, began) = state.window.longest_quiet_run(now, RECENT_DAYS as u32);
        let began = f64::from(began) + now.days_f64().fract();
        run >= MIN_ABSENCE_DAYS
            && is_absence(state, now, began, f64::from(run), &readings, &memory, cfg)
    };
    let absence = silence
        .is_some_and(|gap| is_absence(state, now, gap, gap, &readings, &memory, cfg))
        || came_back();
    let weights = cfg.weights.as_array();
    let total: f64 = readings
        .iter()
        .zip(weights)
        .filter(|(r, _)| r.is_some())
        .map(|(_, w)| w)
        .sum();
    let mut contributions = [0.0; 8];
    let mut score = 100.0;
    if total > 0.0 {
        for (i, r) in readings.iter().enumerate() {
            if let Some(r) = r {
                contributions[i] = -100.0 * weights[i] * (1.0 - r.health) / total;
            }
        }
        if absence {
            // The silence counts for `ABSENCE_SHARE` of itself, and alone
            // takes the score at most to the green threshold; what else
            // moved (depth, messages) still counts in full.
            let silence: f64 = SILENCE_SIGNALS.iter().map(|&i| -contributions[i]).sum();
            let cap = 100.0 - cfg.bands.green_min;
            let f = ABSENCE_SHARE.min(cap / silence.max(f64::MIN_POSITIVE));
            for &i in &SILENCE_SIGNALS {
                contributions[i] *= f;
            }
        }
        score += contributions.iter().sum::<f64>();
    }
    ScoreCard {
        score: score.clamp(0.0, 100.0),
        readings,
        contributions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_health_has_a_dead_zone_and_a_floor() {
        assert_eq!(ratio_health(95.0, 100.0), 1.0);
        assert_eq!(ratio_health(20.0, 100.0), 0.0);
        assert!((ratio_health(60.0, 100.0) - 0.5).abs() < 1e-9);
        assert_eq!(ratio_health(0.0, 0.0), 0.0);
    }

    #[test]
    fn friction_is_relative_to_usual() {
        assert_eq!(friction_health(2.0, 3.0), 1.0);
        assert!(friction_health(3.0, 1.0) < 0.5);
    }
}
