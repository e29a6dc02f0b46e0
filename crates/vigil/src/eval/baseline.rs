//! Two simple alerting rules to hold the score against, computed from the
//! same events: what an operator without vigil would do.
//!
//! - **Days since last login**: alert when a player has not logged in for
//!   `days` days (once per silent spell).
//! - **Usage fell by a fixed share**: at each midnight, alert when the
//!   player's login days over the last 14 days are at least 30% fewer than
//!   over the 14 before (and there were at least two before); once per
//!   episode. The "usage fell 30% within two weeks" rule of thumb, with
//!   fixed thresholds and no per-player rhythm, weights or other signals.
//!
//! Both see only logins and, like the engine, alert no one before their
//! baseline is ready.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Alert times of the days-since-last-login rule. `logins` sorted.
pub fn days_since_login(logins: &[i64], ready_at: i64, end: i64, days: f64) -> Vec<i64> {
    let k = (days * DAY_MS as f64) as i64;
    let mut out = Vec::new();
    for (i, &a) in logins.iter().enumerate() {
        let next = logins.get(i + 1).copied().unwrap_or(i64::MAX);
        let t = a.saturating_add(k);
        if next >= t && t >= ready_at && t <= end {
            out.push(t);
        }
    }
    out
}

/// Alert times of the fixed-share usage rule over `window_days` windows.
/// `logins` sorted.
pub fn usage_fell(
    logins: &[i64],
    ready_at: i64,
    end: i64,
    drop_share: f64,
    window_days: i64,
) -> Vec<i64> {
    let mut days: Vec<i64> = logins.iter().map(|t| t.div_euclid(DAY_MS)).collect();
    days.dedup();
    let count = |from: i64, to: i64| {
        (days.partition_point(|&d| d < to) - days.partition_point(|&d| d < from)) as f64
    };
    let mut out = Vec::new();
    let mut was = false;
    let first = ready_at.div_euclid(DAY_MS) + 1;
    let last = end.div_euclid(DAY_MS);
    for d in first..=last {
        let recent = count(d - window_days, d);
        let prior = count(d - 2 * window_days, d - window_days);
        let now = prior >= 2.0 && recent <= prior * (1.0 - drop_share);
        if now && !was {
            out.push(d * DAY_MS);
        }
        was = now;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = DAY_MS;

    #[test]
    fn silence_alerts_once_per_spell_after_the_baseline_is_ready() {
        // Logins on days 0..=9, then 20, then nothing.
        let mut logins: Vec<i64> = (0..10).map(|d| d * D + 3_600_000).collect();
        logins.push(20 * D);
        let a = days_since_login(&logins, 0, 40 * D, 7.0);
        assert_eq!(a, vec![9 * D + 3_600_000 + 7 * D, 27 * D]);
        // Not before readiness, not after the end.
        let a = days_since_login(&logins, 17 * D, 26 * D, 7.0);
        assert!(a.is_empty(), "{a:?}");
    }

    #[test]
    fn usage_rule_fires_when_login_days_fall_by_the_share() {
        // Daily for four weeks, then every third day.
        let mut logins: Vec<i64> = (0..28).map(|d| d * D).collect();
        logins.extend((28..56).step_by(3).map(|d| d * D));
        let a = usage_fell(&logins, 14 * D, 50 * D, 0.3, 14);
        // Day d counts days [d-14, d) against [d-28, d-14): on day 36 the
        // recent window holds 9 login days against 14, at most 9.8; the
        // episode lasts to the end.
        assert_eq!(a, vec![36 * D]);
        // A steady player never trips it.
        let steady: Vec<i64> = (0..56).map(|d| d * D).collect();
        assert!(usage_fell(&steady, 14 * D, 56 * D, 0.3, 14).is_empty());
    }
}
