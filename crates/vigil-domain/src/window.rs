//! Daily buckets over the last [`WINDOW_DAYS`] days, and sums over any
//! sliding interval of them.
//!
//! A bucket only knows its day, not when in the day things happened, so a
//! sum over an interval that cuts a day takes that day's share in proportion
//! to the overlap (events are assumed spread evenly over the day, and over
//! the elapsed part of the current day). Intervals that tile time sum to the
//! same total as the buckets they cover, whatever `now` is.
//!
//! A day that leaves the window is not forgotten at once: it folds into a
//! [`Memory`] that fades over [`MEMORY_TAU_DAYS`]. A baseline read from the
//! window alone follows a slow fade down (after three weeks of decline the
//! "usual" is the decline), so a player who drifts away over a month or two
//! would never look unusual; the memory keeps the level they had before.

use crate::config::WINDOW_DAYS;
use crate::time::Timestamp;

/// Mean lifetime, in days, of a day in [`Memory`] after it has left the
/// window: the memory holds about a month of the days before the window.
pub const MEMORY_TAU_DAYS: f64 = 28.0;

/// What a remembered day keeps of its weight after one more day:
/// `exp(-1 / MEMORY_TAU_DAYS)` (a test holds the two together).
const MEMORY_FADE: f64 = 0.964_915_944_372_37;

/// The days that have left the window, each weighted by how long ago it
/// left (`exp(-age / MEMORY_TAU_DAYS)`), summed as at the window's oldest
/// edge. `days` is the sum of the weights, so `x / days` is a remembered
/// daily mean. Days before the player's first activity are not days of
/// their history and are not remembered: a new player's memory stays empty
/// until their first active day leaves the window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Memory {
    pub active_days: f32,
    pub bets: f32,
    pub stake_cents: f32,
    pub days: f32,
}

impl Memory {
    /// Folds in the day that leaves the window next: its visits, bets and
    /// stake.
    fn fold(&mut self, (v, b, st): (u8, u16, u32)) {
        let active = v > 0 || b > 0;
        if self.days <= 0.0 && !active && st == 0 {
            return;
        }
        let keep = |x: f32, add: f64| (f64::from(x) * MEMORY_FADE + add) as f32;
        self.active_days = keep(self.active_days, f64::from(u8::from(active)));
        self.bets = keep(self.bets, f64::from(b));
        self.stake_cents = keep(self.stake_cents, f64::from(st));
        self.days = keep(self.days, 1.0);
    }

    /// Folds in `n` days without activity at once.
    fn fold_quiet(&mut self, n: u64) {
        if self.days <= 0.0 || n == 0 {
            return;
        }
        let f = MEMORY_FADE;
        let fade = f.powf(n as f64);
        self.active_days = (f64::from(self.active_days) * fade) as f32;
        self.bets = (f64::from(self.bets) * fade) as f32;
        self.stake_cents = (f64::from(self.stake_cents) * fade) as f32;
        self.days = (f64::from(self.days) * fade + (1.0 - fade) / (1.0 - f)) as f32;
    }

    /// The memory as sums, to add to a baseline's (`visits` are not kept).
    pub fn sums(&self) -> Sums {
        Sums {
            visits: 0.0,
            bets: f64::from(self.bets),
            stake_cents: f64::from(self.stake_cents),
            active_days: f64::from(self.active_days),
        }
    }
}

/// Per-day activity counters, a ring indexed by day number.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DayWindow {
    /// Day number (days since the epoch) of the newest bucket.
    pub head_day: u32,
    /// Logins per day (saturating).
    pub visits: [u8; WINDOW_DAYS],
    /// Bets and lottery tickets per day (saturating).
    pub bets: [u16; WINDOW_DAYS],
    /// Stake per day in reporting-currency cents (saturating).
    pub stake_cents: [u32; WINDOW_DAYS],
    /// The days older than the window.
    pub memory: Memory,
}

/// What one event adds to its day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayDelta {
    pub visits: u8,
    pub bets: u16,
    pub stake_cents: u64,
}

/// Sums over one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub visits: f64,
    pub bets: f64,
    pub stake_cents: f64,
    /// Days with any visit or bet.
    pub active_days: f64,
}

impl Sums {
    /// Both sums together.
    pub fn plus(&self, o: &Sums) -> Sums {
        Sums {
            visits: self.visits + o.visits,
            bets: self.bets + o.bets,
            stake_cents: self.stake_cents + o.stake_cents,
            active_days: self.active_days + o.active_days,
        }
    }

    /// Visits plus bets: what the usage-drop rule counts.
    pub fn usage(&self) -> f64 {
        self.visits + self.bets
    }
}

/// Standard deviations of a player's weekly figures; see
/// [`DayWindow::weekly_spread`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spread {
    pub active_days: f64,
    pub bets: f64,
    pub stake_cents: f64,
    /// Of the bets on a single active day.
    pub bets_per_active_day: f64,
}

/// An interval of event time, in days before `now`: `[now - ago - len, now - ago)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub ago_days: f64,
    pub len_days: f64,
}

impl DayWindow {
    fn slot(day: u32) -> usize {
        day as usize % WINDOW_DAYS
    }

    fn bucket(&self, day: u32) -> (u8, u16, u32) {
        let s = Self::slot(day);
        (self.visits[s], self.bets[s], self.stake_cents[s])
    }

    /// Moves the head to `day`, folding the buckets that fall out into the
    /// memory and clearing them.
    fn roll_to(&mut self, day: u32) {
        if day <= self.head_day {
            return;
        }
        let gap = day - self.head_day;
        let memory = self.memory_at_day(day);
        if gap as usize >= WINDOW_DAYS {
            *self = DayWindow {
                head_day: day,
                memory,
                ..DayWindow::default()
            };
            return;
        }
        for d in self.head_day + 1..=day {
            let s = Self::slot(d);
            self.visits[s] = 0;
            self.bets[s] = 0;
            self.stake_cents[s] = 0;
        }
        self.head_day = day;
        self.memory = memory;
    }

    /// The memory once the window's newest day is `day`: every day up to
    /// `day - WINDOW_DAYS` folded in, oldest first.
    fn memory_at_day(&self, day: u32) -> Memory {
        let mut m = self.memory;
        if day <= self.head_day {
            return m;
        }
        let window = WINDOW_DAYS as u32;
        // The ring holds `head - window + 1 ..= head`; the days leaving are
        // those up to `day - window`, the ring's first and then, past its
        // newest, days nobody saw.
        let oldest = i64::from(self.head_day) - i64::from(window) + 1;
        let last_leaving = i64::from(day) - i64::from(window);
        let held_until = last_leaving.min(i64::from(self.head_day));
        for d in oldest.max(0)..=held_until {
            m.fold(self.bucket(d as u32));
        }
        if last_leaving > i64::from(self.head_day) {
            m.fold_quiet((last_leaving - i64::from(self.head_day)) as u64);
        }
        m
    }

    /// The memory as seen at `now`: what [`DayWindow::sums`] no longer
    /// counts, give or take the fraction of the one day that is at once the
    /// window's oldest at `now` and a day the ring has left behind.
    pub fn memory_at(&self, now: Timestamp) -> Memory {
        let day = now.day().clamp(0, u32::MAX as i64) as u32;
        self.memory_at_day(day)
    }

    /// Adds `delta` to the bucket of `ts`. Returns `false` (and changes
    /// nothing) when the day is already older than the window.
    pub fn add(&mut self, ts: Timestamp, delta: DayDelta) -> bool {
        let day = ts.day().clamp(0, u32::MAX as i64) as u32;
        if day > self.head_day {
            self.roll_to(day);
        } else if self.head_day - day >= WINDOW_DAYS as u32 {
            return false;
        }
        let s = Self::slot(day);
        self.visits[s] = self.visits[s].saturating_add(delta.visits);
        self.bets[s] = self.bets[s].saturating_add(delta.bets);
        let stake = u32::try_from(delta.stake_cents).unwrap_or(u32::MAX);
        self.stake_cents[s] = self.stake_cents[s].saturating_add(stake);
        true
    }

    /// Whether no bucket holds anything (the memory aside).
    pub fn is_empty(&self) -> bool {
        self.visits.iter().all(|&v| v == 0)
            && self.bets.iter().all(|&b| b == 0)
            && self.stake_cents.iter().all(|&s| s == 0)
    }

    /// Sums over each span, in one pass over the buckets.
    pub fn sums<const N: usize>(&self, now: Timestamp, spans: [Span; N]) -> [Sums; N] {
        // Visits, bets, stake and active days per span, as one array so the
        // four sums can share vector adds (each still sums in day order).
        let mut out = [[0.0f64; 4]; N];
        let now_days = now.days_f64();
        let now_day = now.day();
        let head = self.head_day as i64;
        // Buckets newer than `now` (possible only for events beyond the clock)
        // are counted from their start; older than the window are gone.
        let intervals = spans.map(|s| (now_days - s.ago_days - s.len_days, now_days - s.ago_days));
        // Where the earliest span starts: a day that ends by then overlaps
        // no span, nor does any older one, so the scan stops there instead
        // of testing every empty bucket of a young player's window (the
        // test was half of this function's time in a profile).
        let earliest = intervals
            .iter()
            .map(|&(a, _)| a)
            .fold(f64::INFINITY, f64::min);
        // A day ends at most a day after its start (the current day at
        // `now`), so it overlaps nothing when `start + 1 <= earliest`: the
        // days read are those after `earliest - 1` (subtracting 1 is exact
        // at these magnitudes), the window's and not before day 0. Found
        // once rather than tested per day in floating point.
        let after = (earliest - 1.0).floor();
        let oldest = head
            .saturating_sub(WINDOW_DAYS as i64 - 1)
            .max(0)
            .max((after as i64).saturating_add(1));
        for back in 0..head + 1 - oldest.min(head + 1) {
            let day = head - back;
            let s = Self::slot(day as u32);
            let (v, b, st) = (self.visits[s], self.bets[s], self.stake_cents[s]);
            if v == 0 && b == 0 && st == 0 {
                continue;
            }
            let start = day as f64;
            // The current day's events all happened before `now`.
            let end = if day == now_day {
                now_days.max(start + 1e-9)
            } else {
                start + 1.0
            };
            let extent = end - start;
            let day_sums = [
                f64::from(v),
                f64::from(b),
                f64::from(st),
                f64::from(u8::from(v > 0 || b > 0)),
            ];
            for (o, &(a, z)) in out.iter_mut().zip(&intervals) {
                // A day wholly inside the span, as most are, counts whole:
                // the general case below gives exactly 1 for it too (its
                // overlap is its extent), but only after a division per day
                // and span.
                let f = if a <= start && end <= z {
                    1.0
                } else {
                    let overlap = (z.min(end) - a.max(start)).max(0.0);
                    if overlap <= 0.0 {
                        continue;
                    }
                    (overlap / extent).min(1.0)
                };
                // An inactive day adds +0.0 to its active days, which
                // leaves them as they were (they start at +0.0).
                for (o, x) in o.iter_mut().zip(day_sums) {
                    *o += x * f;
                }
            }
        }
        out.map(|[visits, bets, stake_cents, active_days]| Sums {
            visits,
            bets,
            stake_cents,
            active_days,
        })
    }

    /// How much a week of this player varies, measured on the whole days
    /// inside `span` (days without activity count as zeros): the standard
    /// deviation of a 7-day sum of active days, bets and stake if days were
    /// independent, around the span's linear trend, and of the bets on one
    /// active day. A casual player's week swings far more than a regular's;
    /// the score reads a shortfall against this rather than against the
    /// baseline alone. Days are not independent for a weekend player, so
    /// this overstates their weekly spread: on the side of fewer false
    /// alarms. `None` with fewer than nine whole days.
    pub fn weekly_spread(&self, now: Timestamp, span: Span) -> Option<Spread> {
        let now_days = now.days_f64();
        let (a, z) = (
            now_days - span.ago_days - span.len_days,
            now_days - span.ago_days,
        );
        let head = self.head_day as i64;
        let first = (a.ceil() as i64).max(head - WINDOW_DAYS as i64 + 1).max(0);
        let last = (z.floor() as i64 - 1).min(head);
        let days = (last - first + 1).max(0) as usize;
        if days < 9 {
            return None;
        }
        // Per day: active, bets, stake.
        let mut daily = [[0.0f64; 3]; WINDOW_DAYS];
        let mut total = [0.0f64; 3];
        let mut depth = [0.0f64; 3];
        for (k, day) in (first..=last).enumerate() {
            let s = Self::slot(day as u32);
            let (v, b) = (self.visits[s], self.bets[s] as f64);
            let on = v > 0 || b > 0.0;
            let d = [f64::from(u8::from(on)), b, self.stake_cents[s] as f64];
            daily[k] = d;
            for (t, x) in total.iter_mut().zip(d) {
                *t += x;
            }
            if on {
                depth[0] += 1.0;
                depth[1] += b;
                depth[2] += b * b;
            }
        }
        let sd = |n: f64, sum: f64, squares: f64| {
            if n < 2.0 {
                return 0.0;
            }
            let mean = sum / n;
            ((squares - n * mean * mean).max(0.0) / (n - 1.0)).sqrt()
        };
        // Each figure's daily spread around a straight line through the
        // days (a baseline that holds the start of a decline is a trend,
        // not chance, and must not make a real fall look ordinary), scaled
        // to a week of independent days.
        // The three figures in one pass over the days, each summed in the
        // same order as it would be alone (so to the same bits).
        let nf = days as f64;
        let mk = (nf - 1.0) / 2.0;
        let mx = total.map(|t| t / nf);
        let mut skk = 0.0;
        let (mut skx, mut sxx) = ([0.0f64; 3], [0.0f64; 3]);
        for (k, d) in daily[..days].iter().enumerate() {
            let dk = k as f64 - mk;
            skk += dk * dk;
            for f in 0..3 {
                let dx = d[f] - mx[f];
                skx[f] += dk * dx;
                sxx[f] += dx * dx;
            }
        }
        let detrended = |f: usize| {
            let residual = if skk > 0.0 {
                sxx[f] - skx[f] * skx[f] / skk
            } else {
                sxx[f]
            };
            (residual.max(0.0) / (nf - 2.0) * 7.0).sqrt()
        };
        Some(Spread {
            active_days: detrended(0),
            bets: detrended(1),
            stake_cents: detrended(2),
            bets_per_active_day: sd(depth[0], depth[1], depth[2]),
        })
    }

    /// Bets on the day of `now` if the player was active that day: a day
    /// still under way.
    pub fn today_bets(&self, now: Timestamp) -> Option<f64> {
        if now.day() != i64::from(self.head_day) {
            return None;
        }
        let s = Self::slot(self.head_day);
        (self.visits[s] > 0 || self.bets[s] > 0).then(|| f64::from(self.bets[s]))
    }

    /// The longest run of days without a visit or a bet among the `days`
    /// days before the day of `now` (today counts as quiet until its first
    /// visit): its length and how many days before `now`'s day it began.
    pub fn longest_quiet_run(&self, now: Timestamp, days: u32) -> (u32, u32) {
        let today = now.day();
        let head = self.head_day as i64;
        let (mut best, mut run) = ((0, 0), 0);
        for back in (1..=i64::from(days)).rev() {
            let day = today - back;
            let empty = day < 0 || day > head || head - day >= WINDOW_DAYS as i64 || {
                let s = Self::slot(day as u32);
                self.visits[s] == 0 && self.bets[s] == 0
            };
            if empty {
                run += 1;
                if run > best.0 {
                    best = (run, back as u32 + run - 1);
                }
            } else {
                run = 0;
            }
        }
        best
    }

    /// Whole days with any visit or bet among the last `WINDOW_DAYS` days before `now`.
    pub fn active_days(&self, now: Timestamp) -> u32 {
        let now_day = now.day();
        (0..WINDOW_DAYS as i64)
            .filter(|back| {
                let day = self.head_day as i64 - back;
                day >= 0
                    && now_day - day < WINDOW_DAYS as i64
                    && day <= now_day
                    && (self.visits[Self::slot(day as u32)] > 0
                        || self.bets[Self::slot(day as u32)] > 0)
            })
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::DAY_MS;
    use proptest::prelude::*;

    fn at(day: i64, ms: i64) -> Timestamp {
        Timestamp::from_millis(day * DAY_MS + ms)
    }

    fn window_of(days: impl Iterator<Item = (i64, u16)>) -> DayWindow {
        let mut w = DayWindow::default();
        for (day, bets) in days {
            let delta = DayDelta {
                visits: 1,
                bets,
                stake_cents: u64::from(bets) * 100,
            };
            assert!(w.add(at(day, 3_600_000), delta));
        }
        w
    }

    #[test]
    fn the_longest_quiet_run_is_found_and_dated() {
        // Active on days 100..=102 and 107, judged during day 108.
        let w = window_of([100, 101, 102, 107].into_iter().map(|d| (d, 5)));
        let now = at(108, 3_600_000);
        // Days 101..=107: quiet 103..=106, four days, from five days back.
        assert_eq!(w.longest_quiet_run(now, 7), (4, 5));
        // Today is not looked at; a window that ends in the run counts it.
        assert_eq!(w.longest_quiet_run(at(107, 0), 3), (3, 3));
        assert_eq!(
            window_of([107].into_iter().map(|d| (d, 1))).longest_quiet_run(now, 1),
            (0, 0)
        );
    }

    #[test]
    fn todays_bets_are_known_only_for_an_active_today() {
        let w = window_of([100, 101].into_iter().map(|d| (d, 3)));
        assert_eq!(w.today_bets(at(101, 7_200_000)), Some(3.0));
        assert_eq!(w.today_bets(at(102, 0)), None);
        let mut idle = w.clone();
        assert!(idle.add(
            at(102, 0),
            DayDelta {
                visits: 1,
                bets: 0,
                stake_cents: 0,
            }
        ));
        assert_eq!(idle.today_bets(at(102, 60_000)), Some(0.0));
    }

    #[test]
    fn weekly_spread_reads_scatter_not_level_or_trend() {
        // Baseline: days 100..121, judged at day 128.
        let span = Span {
            ago_days: 7.0,
            len_days: 21.0,
        };
        let now = at(128, 0);
        // The same every day: no spread.
        let w = window_of((100..128).map(|d| (d, 10)));
        let s = w.weekly_spread(now, span).unwrap();
        assert!(s.active_days < 1e-9 && s.stake_cents < 1e-6, "{s:?}");
        // A steady decline is a trend, not scatter.
        let w = window_of((100..128).map(|d| (d, (130 - d) as u16)));
        let s = w.weekly_spread(now, span).unwrap();
        assert!(s.bets < 1e-6, "{s:?}");
        // Every other day: active 0/1 with sd ~0.5 a day, ~1.3 a week.
        let w = window_of((100..128).filter(|d| d % 2 == 0).map(|d| (d, 10)));
        let s = w.weekly_spread(now, span).unwrap();
        assert!((1.2..1.45).contains(&s.active_days), "{s:?}");
        // Same bets on each active day: depth does not scatter.
        assert!(s.bets_per_active_day < 1e-9, "{s:?}");
        // Too few whole days to say.
        let short = Span {
            ago_days: 7.0,
            len_days: 5.0,
        };
        assert_eq!(w.weekly_spread(now, short), None);
    }

    #[test]
    fn old_days_roll_out() {
        let mut w = DayWindow::default();
        assert!(w.add(
            at(100, 0),
            DayDelta {
                visits: 1,
                bets: 2,
                stake_cents: 300
            }
        ));
        assert!(w.add(
            at(100 + WINDOW_DAYS as i64, 0),
            DayDelta {
                visits: 1,
                ..Default::default()
            }
        ));
        let [all] = w.sums(
            at(100 + WINDOW_DAYS as i64, 1000),
            [Span {
                ago_days: 0.0,
                len_days: 60.0,
            }],
        );
        assert_eq!(all.visits, 1.0);
        assert_eq!(all.bets, 0.0);
        assert!(
            !w.add(
                at(100, 0),
                DayDelta {
                    visits: 1,
                    ..Default::default()
                }
            ),
            "too old"
        );
    }

    proptest! {
        /// Against a naive model: the sum over the whole window equals the
        /// sum of every event still inside it, and two adjacent spans add up
        /// to the span covering both.
        #[test]
        fn sums_match_a_naive_model(
            events in prop::collection::vec((0i64..40, 0i64..DAY_MS, 0u8..3, 0u16..5, 0u64..10_000), 1..80),
            now_ms in 0i64..DAY_MS,
            cut in 0.0f64..27.0,
        ) {
            let mut w = DayWindow::default();
            let mut sorted = events.clone();
            sorted.sort();
            let last_day = sorted.last().unwrap().0;
            let now = at(last_day, now_ms.max(sorted.last().unwrap().1));
            let mut kept: Vec<(i64, u8, u16, u64)> = Vec::new();
            for &(d, ms, v, b, s) in &sorted {
                w.add(at(d, ms), DayDelta { visits: v, bets: b, stake_cents: s });
                kept.push((d, v, b, s));
            }
            let kept: Vec<_> = kept.into_iter().filter(|k| last_day - k.0 < WINDOW_DAYS as i64).collect();
            let [whole, near, far] = w.sums(now, [
                Span { ago_days: 0.0, len_days: WINDOW_DAYS as f64 + 1.0 },
                Span { ago_days: 0.0, len_days: cut },
                Span { ago_days: cut, len_days: WINDOW_DAYS as f64 + 1.0 - cut },
            ]);
            let visits: f64 = kept.iter().map(|k| k.1 as f64).sum();
            let stake: f64 = kept.iter().map(|k| k.3 as f64).sum();
            prop_assert!((whole.visits - visits).abs() < 1e-6);
            prop_assert!((whole.stake_cents - stake).abs() < 1e-3);
            prop_assert!((near.bets + far.bets - whole.bets).abs() < 1e-6);
            prop_assert!((near.active_days + far.active_days - whole.active_days).abs() < 1e-6);
        }

        /// Whole days take a shortcut past the overlap arithmetic; the
        /// sums are the general formula's to the bit (so scores, and the
        /// alerts they raise, are those of the formula), whatever the spans,
        /// including fractional ones and a `now` inside the head day.
        #[test]
        fn sums_are_the_overlap_formula_to_the_bit(
            days in prop::collection::vec((0i64..40, 0u8..3, 0u16..5, 0u64..100_000_000), 1..60),
            now_ms in 0i64..DAY_MS,
            ahead in 0i64..3,
            spans in prop::collection::vec((0.0f64..30.0, 0.0f64..30.0), 3),
        ) {
            let mut w = DayWindow::default();
            let mut sorted = days.clone();
            sorted.sort();
            for &(d, v, b, st) in &sorted {
                w.add(at(d, 3_600_000), DayDelta { visits: v, bets: b, stake_cents: st });
            }
            let now = at(i64::from(w.head_day) - 1 + ahead, now_ms);
            let spans: [Span; 3] = std::array::from_fn(|i| Span { ago_days: spans[i].0, len_days: spans[i].1 });
            let got = w.sums(now, spans);
            // The formula, day by day, newest first, as `sums` adds them.
            let now_days = now.days_f64();
            let mut want = [Sums::default(); 3];
            for (o, s) in want.iter_mut().zip(&spans) {
                let (a, z) = (now_days - s.ago_days - s.len_days, now_days - s.ago_days);
                for back in 0..WINDOW_DAYS as i64 {
                    let day = i64::from(w.head_day) - back;
                    if day < 0 {
                        break;
                    }
                    let k = DayWindow::slot(day as u32);
                    let (v, b, st) = (w.visits[k], w.bets[k], w.stake_cents[k]);
                    if v == 0 && b == 0 && st == 0 {
                        continue;
                    }
                    let start = day as f64;
                    let end = if day == now.day() { now_days.max(start + 1e-9) } else { start + 1.0 };
                    let overlap = (z.min(end) - a.max(start)).max(0.0);
                    if overlap <= 0.0 {
                        continue;
                    }
                    let f = (overlap / (end - start)).min(1.0);
                    o.visits += v as f64 * f;
                    o.bets += b as f64 * f;
                    o.stake_cents += st as f64 * f;
                    if v > 0 || b > 0 {
                        o.active_days += f;
                    }
                }
            }
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(g.visits.to_bits(), w.visits.to_bits());
                prop_assert_eq!(g.bets.to_bits(), w.bets.to_bits());
                prop_assert_eq!(g.stake_cents.to_bits(), w.stake_cents.to_bits());
                prop_assert_eq!(g.active_days.to_bits(), w.active_days.to_bits());
            }
        }

        /// The spread's three figures are read in one pass; each is what
        /// the per-figure formula gives alone, to the bit.
        #[test]
        fn weekly_spreads_are_the_per_figure_formula_to_the_bit(
            days in prop::collection::vec((0i64..40, 0u8..3, 0u16..50, 0u64..100_000_000), 1..60),
            ago in 0.0f64..10.0,
            len in 0.0f64..30.0,
        ) {
            let mut w = DayWindow::default();
            let mut sorted = days.clone();
            sorted.sort();
            for &(d, v, b, st) in &sorted {
                w.add(at(d, 3_600_000), DayDelta { visits: v, bets: b, stake_cents: st });
            }
            let now = at(i64::from(w.head_day), 7_200_000);
            let span = Span { ago_days: ago, len_days: len };
            let got = w.weekly_spread(now, span);
            // The days the spread reads, oldest first, and each figure's
            // detrended spread computed alone.
            let now_days = now.days_f64();
            let head = i64::from(w.head_day);
            let first = ((now_days - ago - len).ceil() as i64).max(head - WINDOW_DAYS as i64 + 1).max(0);
            let last = ((now_days - ago).floor() as i64 - 1).min(head);
            let daily: Vec<[f64; 3]> = (first..=last)
                .map(|day| {
                    let k = DayWindow::slot(day as u32);
                    let on = w.visits[k] > 0 || w.bets[k] > 0;
                    [f64::from(u8::from(on)), f64::from(w.bets[k]), f64::from(w.stake_cents[k])]
                })
                .collect();
            prop_assume!(daily.len() >= 9);
            let alone = |f: usize| {
                let nf = daily.len() as f64;
                let mk = (nf - 1.0) / 2.0;
                let mx = daily.iter().map(|d| d[f]).sum::<f64>() / nf;
                let (mut skk, mut skx, mut sxx) = (0.0, 0.0, 0.0);
                for (k, d) in daily.iter().enumerate() {
                    let (dk, dx) = (k as f64 - mk, d[f] - mx);
                    skk += dk * dk;
                    skx += dk * dx;
                    sxx += dx * dx;
                }
                let residual = if skk > 0.0 { sxx - skx * skx / skk } else { sxx };
                (residual.max(0.0) / (nf - 2.0) * 7.0).sqrt()
            };
            let got = got.expect("nine days or more have a spread");
            prop_assert_eq!(got.active_days.to_bits(), alone(0).to_bits());
            prop_assert_eq!(got.bets.to_bits(), alone(1).to_bits());
            prop_assert_eq!(got.stake_cents.to_bits(), alone(2).to_bits());
        }

        /// Reading the memory ahead of the window's head gives what
        /// rolling the window there would keep, whatever the activity and
        /// however far ahead.
        #[test]
        fn the_memory_read_ahead_is_the_memory_rolled_there(
            days in prop::collection::vec((0i64..120, 0u8..3, 0u16..5, 0u64..10_000), 1..80),
            ahead in 0i64..90,
        ) {
            let mut w = DayWindow::default();
            let mut sorted = days.clone();
            sorted.sort();
            for &(d, v, b, st) in &sorted {
                w.add(at(100 + d, 3_600_000), DayDelta { visits: v, bets: b, stake_cents: st });
            }
            let later = at(i64::from(w.head_day) + ahead, 0);
            let read = w.memory_at(later);
            let mut rolled = w.clone();
            rolled.add(later, DayDelta::default());
            let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * (1.0 + b.abs());
            prop_assert!(close(read.days, rolled.memory.days), "{read:?} {:?}", rolled.memory);
            prop_assert!(close(read.active_days, rolled.memory.active_days));
            prop_assert!(close(read.bets, rolled.memory.bets));
            prop_assert!(close(read.stake_cents, rolled.memory.stake_cents));
        }
    }

    #[test]
    fn the_memory_fade_is_the_mean_lifetime_in_days() {
        assert!((MEMORY_FADE - (-1.0 / MEMORY_TAU_DAYS).exp()).abs() < 1e-14);
    }

    #[test]
    fn days_leaving_the_window_are_remembered_with_fading_weight() {
        // Active every day from day 100 to 140: days 100..=112 have left.
        let w = window_of((100..=140).map(|d| (d, 4)));
        let m = w.memory_at(at(140, 0));
        assert_eq!(m, w.memory);
        let weights: f64 = (0..13).map(|k| MEMORY_FADE.powi(k)).sum();
        assert!((f64::from(m.days) - weights).abs() < 1e-4, "{m:?}");
        assert!((f64::from(m.active_days) - weights).abs() < 1e-4, "{m:?}");
        assert!((f64::from(m.bets) - 4.0 * weights).abs() < 1e-3, "{m:?}");
        // Ten quiet days later, ten more active days have left, and the
        // remembered daily mean is still that of the days remembered.
        let later = w.memory_at(at(150, 0));
        let weights: f64 = (0..23).map(|k| MEMORY_FADE.powi(k)).sum();
        assert!((f64::from(later.days) - weights).abs() < 1e-4, "{later:?}");
        assert!((later.bets / later.days - 4.0).abs() < 1e-4, "{later:?}");
    }

    #[test]
    fn days_before_the_first_activity_are_not_remembered() {
        // One active day, day 100; read at day 200. The days that left
        // are 100..=172: one active, then 72 quiet; nothing before 100.
        let w = window_of([(100, 3)].into_iter());
        assert_eq!(w.memory_at(at(127, 0)), Memory::default());
        let m = w.memory_at(at(200, 0));
        let weights: f64 = (0..73).map(|k| MEMORY_FADE.powi(k)).sum();
        assert!((f64::from(m.days) - weights).abs() < 1e-3, "{m:?}");
        assert!(
            (f64::from(m.active_days) - MEMORY_FADE.powi(72)).abs() < 1e-5,
            "{m:?}"
        );
        assert!(
            (f64::from(m.bets) - 3.0 * MEMORY_FADE.powi(72)).abs() < 1e-5,
            "{m:?}"
        );
    }
}
