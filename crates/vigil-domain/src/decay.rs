//! Exponentially decayed counters at a short and a long horizon.
//!
//! A counter with mean lifetime `tau` that receives `r` per day settles at
//! `r * tau`, so `rate_per(7d)` turns it back into "per week" and the short
//! and long rates compare directly: short above long means "more than usual
//! lately". Adding an event at an older time adds its already-decayed value,
//! so the result does not depend on arrival order.

/// Mean lifetime of the short horizon, in days.
pub const SHORT_TAU_DAYS: f64 = 7.0;
/// Mean lifetime of the long horizon, in days.
pub const LONG_TAU_DAYS: f64 = 28.0;

/// The quantities kept as decayed counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// Successful deposits, in reporting-currency units.
    Deposits = 0,
    /// Failed deposits, declined and slow withdrawals.
    PaymentFailures = 1,
    /// Support tickets opened.
    TicketsOpened = 2,
    /// Support tickets resolved slowly.
    SlowTickets = 3,
    /// Marketing messages sent.
    MessagesSent = 4,
    /// Marketing messages opened or clicked.
    MessagesEngaged = 5,
    /// Paid withdrawals, in reporting-currency units (net deposits for the
    /// customer value).
    Withdrawals = 6,
}

/// Number of [`Counter`]s.
pub const COUNTERS: usize = 7;

/// All decayed counters of a player, decayed together to `at`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decayed {
    /// Compact time (seconds since the epoch) the values are decayed to.
    pub at: u32,
    pub short: [f32; COUNTERS],
    pub long: [f32; COUNTERS],
}

fn factors(dt_secs: f64) -> (f64, f64) {
    let days = dt_secs / 86_400.0;
    (
        (-days / SHORT_TAU_DAYS).exp(),
        (-days / LONG_TAU_DAYS).exp(),
    )
}

impl Decayed {
    /// Decays every counter forward to `t` (no-op for earlier times).
    pub fn decay_to(&mut self, t: u32) {
        if t <= self.at {
            return;
        }
        let (fs, fl) = factors((t - self.at) as f64);
        for v in &mut self.short {
            *v = (*v as f64 * fs) as f32;
        }
        for v in &mut self.long {
            *v = (*v as f64 * fl) as f32;
        }
        self.at = t;
    }

    /// Adds `amount` that happened at `t`: decays forward if `t` is newer,
    /// or adds the decayed value if `t` is older.
    pub fn add(&mut self, c: Counter, t: u32, amount: f64) {
        if t >= self.at {
            self.decay_to(t);
            self.short[c as usize] += amount as f32;
            self.long[c as usize] += amount as f32;
        } else {
            let (fs, fl) = factors((self.at - t) as f64);
            self.short[c as usize] += (amount * fs) as f32;
            self.long[c as usize] += (amount * fl) as f32;
        }
    }

    /// (short, long) rates per 7 days as seen at `t` (at or after `self.at`).
    pub fn weekly_rates(&self, c: Counter, t: u32) -> (f64, f64) {
        self.seen_at(t).weekly_rates(c)
    }

    /// (short, long) raw counter values as seen at `t`.
    pub fn values(&self, c: Counter, t: u32) -> (f64, f64) {
        self.seen_at(t).values(c)
    }

    /// Every counter as seen at `t`, for reading several: the two decay
    /// factors (two `exp` calls) are computed once instead of per counter.
    pub fn seen_at(&self, t: u32) -> SeenAt<'_> {
        let (fs, fl) = factors(t.saturating_sub(self.at) as f64);
        SeenAt {
            decayed: self,
            fs,
            fl,
        }
    }
}

/// [`Decayed`] read at one time; see [`Decayed::seen_at`].
#[derive(Debug, Clone, Copy)]
pub struct SeenAt<'a> {
    decayed: &'a Decayed,
    fs: f64,
    fl: f64,
}

impl SeenAt<'_> {
    /// (short, long) rates per 7 days.
    pub fn weekly_rates(&self, c: Counter) -> (f64, f64) {
        let (s, l) = self.values(c);
        (s * 7.0 / SHORT_TAU_DAYS, l * 7.0 / LONG_TAU_DAYS)
    }

    /// (short, long) raw counter values.
    pub fn values(&self, c: Counter) -> (f64, f64) {
        (
            self.decayed.short[c as usize] as f64 * self.fs,
            self.decayed.long[c as usize] as f64 * self.fl,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Order does not matter: adding the same events in any order gives
        /// (up to float rounding) the closed-form sum of decayed amounts.
        #[test]
        fn matches_closed_form(events in prop::collection::vec((0u32..5_000_000, 0.0f64..100.0), 1..40), seed in any::<u64>()) {
            let mut shuffled = events.clone();
            // A cheap deterministic shuffle.
            let n = shuffled.len();
            for i in 0..n {
                let j = (seed.wrapping_mul(i as u64 + 1).rotate_left(17) % n as u64) as usize;
                shuffled.swap(i, j);
            }
            let mut d = Decayed::default();
            for &(t, a) in &shuffled {
                d.add(Counter::Deposits, t, a);
            }
            let end = 5_000_000u32;
            let (s, l) = d.values(Counter::Deposits, end);
            let (mut es, mut el) = (0.0, 0.0);
            for &(t, a) in &events {
                let (fs, fl) = factors((end - t) as f64);
                es += a * fs;
                el += a * fl;
            }
            prop_assert!((s - es).abs() <= 1e-3 * (1.0 + es), "{s} vs {es}");
            prop_assert!((l - el).abs() <= 1e-3 * (1.0 + el), "{l} vs {el}");
        }
    }

    #[test]
    fn steady_rate_reads_back_per_week() {
        let mut d = Decayed::default();
        for day in 0..200u32 {
            d.add(Counter::TicketsOpened, day * 86_400, 1.0);
        }
        let (s, l) = d.weekly_rates(Counter::TicketsOpened, 199 * 86_400);
        assert!((s - 7.0).abs() < 0.7, "{s}");
        assert!((l - 7.0).abs() < 0.7, "{l}");
    }
}
