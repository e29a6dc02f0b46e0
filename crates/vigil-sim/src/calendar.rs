//! A brand's fixture calendar, which seasonal bettors follow: league
//! matches every weekend, a midweek round (Tuesday and Wednesday evenings)
//! in some weeks, and one break of twelve days (an international break:
//! Monday to the Friday of the week after) with no fixtures at all.
//!
//! One calendar per brand, drawn from a random stream of its own (see
//! [`Population`](crate::Population)), so every seasonal bettor of a brand
//! sees the same match days and the same break, and the players' own
//! streams are untouched.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use vigil_domain::time::DAY_MS;

/// Days of a break: Monday to the Friday of the following week.
const BREAK_DAYS: u32 = 12;
/// Share of weeks with a midweek round.
const MIDWEEK_SHARE: f64 = 0.55;

/// Match days of one brand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Calendar {
    /// Simulation days `[from, to)` without fixtures; empty when the run
    /// is too short to hold one (under four weeks).
    pub break_days: (u32, u32),
    /// Bit `w % 64` set: the week `w` (Monday-based, counted from the
    /// epoch) has a midweek round.
    midweek: u64,
}

/// Monday-based week number of an epoch day (day 0 was a Thursday).
pub(crate) fn week_of(epoch_day: i64) -> i64 {
    (epoch_day + 3).div_euclid(7)
}

impl Calendar {
    /// Draws a calendar for a run of `days` days from midnight `start_ms`.
    /// The break starts on a Monday in the middle half of the run.
    pub(crate) fn draw(start_ms: i64, days: u32, r: &mut ChaCha8Rng) -> Self {
        let mut midweek = 0u64;
        for w in 0..64 {
            if r.random_bool(MIDWEEK_SHARE) {
                midweek |= 1 << w;
            }
        }
        let break_days = if days >= 28 {
            let start_weekday = (start_ms.div_euclid(DAY_MS) + 3).rem_euclid(7) as u32;
            // Sim days that are Mondays: first, first + 7, ...
            let first_monday = (7 - start_weekday) % 7;
            let lo = days / 4;
            let hi = (days * 3 / 4).saturating_sub(BREAK_DAYS);
            let mondays: Vec<u32> = (0..days / 7 + 1)
                .map(|k| first_monday + 7 * k)
                .filter(|d| (lo..=hi.max(lo)).contains(d))
                .collect();
            match mondays.len() {
                0 => (0, 0),
                n => {
                    let from = mondays[r.random_range(0..n)];
                    (from, (from + BREAK_DAYS).min(days))
                }
            }
        } else {
            (0, 0)
        };
        Calendar {
            break_days,
            midweek,
        }
    }

    /// Whether simulation day `day` falls in the break.
    pub(crate) fn in_break(&self, day: u32) -> bool {
        (self.break_days.0..self.break_days.1).contains(&day)
    }

    /// Whether the week holding epoch day `epoch_day` has a midweek round.
    pub(crate) fn midweek_round(&self, epoch_day: i64) -> bool {
        self.midweek >> week_of(epoch_day).rem_euclid(64) & 1 == 1
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_break_starts_on_a_monday_mid_run() {
        // 2026-09-01, a Tuesday.
        let start = 1_788_220_800_000;
        for seed in 0..50 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let c = Calendar::draw(start, 60, &mut r);
            let (from, to) = c.break_days;
            assert_eq!(to - from, BREAK_DAYS);
            assert!((15..=45).contains(&from), "{from}");
            let epoch_day = start / DAY_MS + i64::from(from);
            assert_eq!((epoch_day + 3).rem_euclid(7), 0, "a Monday");
            assert!(c.in_break(from) && !c.in_break(to) && !c.in_break(from - 1));
        }
        let mut r = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(Calendar::draw(start, 20, &mut r).break_days, (0, 0));
    }
}
