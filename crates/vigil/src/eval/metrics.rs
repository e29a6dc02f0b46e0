//! The arithmetic of `vigil eval`: given who churned when (the labels) and
//! when each player was alerted, how good were the alerts?
//!
//! Definitions (also printed with every report):
//!
//! - A player is **alerted** if at least one alert fired for them between
//!   the start of the data and its end.
//! - A churner is **caught** if an alert fired in `[onset, churn_at)`: after
//!   the drift began and before the first day with no activity. Alerts
//!   before the onset were about nothing the labels know of; alerts on or
//!   after `churn_at` came too late to act on.
//! - **Precision** (per player): alerted churners with an alert at or after
//!   their onset, over all alerted players. A churner alerted only before
//!   the onset counts against precision.
//! - **Recall** (per player): caught churners over churners whose churn
//!   date lies within the data (a churner due to leave after the data ends
//!   cannot be judged on timeliness and is left out of recall, but counts
//!   for precision).
//! - **Lead time**: `churn_at` minus the first alert in `[onset, churn_at)`,
//!   in days, over caught churners; median and 10th percentile (linear
//!   interpolation between order statistics, as numpy's default).
//! - **False alerts per 1,000 healthy players per week**: alerts on players
//!   labelled stable, per 1,000 player-weeks of the time each could be
//!   alerted (from when their baseline is ready to the end of the data).
//!
//! Pure functions of their inputs, so they are unit-tested on tiny
//! hand-made cases.

use serde::Serialize;

/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;

/// What the labels say about one player, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    /// `(onset, churn_at)` for a drifting player; `None` for a stable one.
    pub churn: Option<(i64, i64)>,
    /// From when the player could be alerted (their baseline is ready);
    /// `None` if never within the data.
    pub ready_at: Option<i64>,
}

/// How one alerting system did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Players judged (with a label).
    pub players: u64,
    /// Players with at least one alert.
    pub alerted: u64,
    /// Alerted players who are churners with an alert at or after onset.
    pub alerted_churners: u64,
    /// Churners whose churn date is within the data.
    pub churners: u64,
    /// Of those, caught in `[onset, churn_at)`.
    pub caught: u64,
    /// Of those, first alerted (after onset) only on or after `churn_at`.
    pub late: u64,
    /// `alerted_churners / alerted`; `None` when nobody was alerted.
    pub precision: Option<f64>,
    /// `caught / churners`; `None` without judged churners.
    pub recall: Option<f64>,
    /// Median lead time in days over caught churners.
    pub lead_median_days: Option<f64>,
    /// 10th percentile of lead time in days over caught churners.
    pub lead_p10_days: Option<f64>,
    /// Alerts fired on stable players.
    pub false_alerts: u64,
    /// Player-weeks during which stable players could be alerted.
    pub healthy_weeks: f64,
    /// `1000 * false_alerts / healthy_weeks`.
    pub false_alerts_per_1000_per_week: Option<f64>,
}

/// The `q` quantile (0..=1) of sorted `xs`, interpolating linearly between
/// order statistics (numpy's default); `None` for no data.
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (xs.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64))
}

/// Judges alert times against the truth. `alerts[i]` are player `i`'s
/// alert times (any order); `end` is the end of the data.
pub fn evaluate(truth: &[Truth], alerts: &[Vec<i64>], end: i64) -> Metrics {
    let mut m = Metrics {
        players: truth.len() as u64,
        alerted: 0,
        alerted_churners: 0,
        churners: 0,
        caught: 0,
        late: 0,
        precision: None,
        recall: None,
        lead_median_days: None,
        lead_p10_days: None,
        false_alerts: 0,
        healthy_weeks: 0.0,
        false_alerts_per_1000_per_week: None,
    };
    let mut leads = Vec::new();
    for (t, a) in truth.iter().zip(alerts) {
        let a: Vec<i64> = a.iter().copied().filter(|&x| x <= end).collect();
        if !a.is_empty() {
            m.alerted += 1;
        }
        match t.churn {
            None => {
                m.false_alerts += a.len() as u64;
                if let Some(ready) = t.ready_at {
                    m.healthy_weeks += (end - ready).max(0) as f64 / (7.0 * DAY_MS);
                }
            }
            Some((onset, churn_at)) => {
                if a.iter().any(|&x| x >= onset) {
                    m.alerted_churners += 1;
                }
                if churn_at > end {
                    continue;
                }
                m.churners += 1;
                let first = a.iter().copied().filter(|&x| x >= onset).min();
                match first {
                    Some(x) if x < churn_at => {
                        m.caught += 1;
                        leads.push((churn_at - x) as f64 / DAY_MS);
                    }
                    Some(_) => m.late += 1,
                    None => {}
                }
            }
        }
    }
    leads.sort_by(f64::total_cmp);
    m.precision = (m.alerted > 0).then(|| m.alerted_churners as f64 / m.alerted as f64);
    m.recall = (m.churners > 0).then(|| m.caught as f64 / m.churners as f64);
    m.lead_median_days = quantile(&leads, 0.5);
    m.lead_p10_days = quantile(&leads, 0.1);
    m.false_alerts_per_1000_per_week =
        (m.healthy_weeks > 0.0).then(|| 1000.0 * m.false_alerts as f64 / m.healthy_weeks);
    m
}

/// The targets on the simulator's default mix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Targets {
    pub recall: f64,
    pub median_lead_days: f64,
    pub precision: f64,
}

impl Targets {
    pub const DEFAULT: Targets = Targets {
        recall: 0.8,
        median_lead_days: 7.0,
        precision: 0.7,
    };

    /// Whether `m` meets every target.
    pub fn met(&self, m: &Metrics) -> bool {
        m.recall.is_some_and(|r| r >= self.recall)
            && m.lead_median_days
                .is_some_and(|l| l >= self.median_lead_days)
            && m.precision.is_some_and(|p| p >= self.precision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = 86_400_000;

    fn stable() -> Truth {
        Truth {
            churn: None,
            ready_at: Some(0),
        }
    }

    fn churner(onset_day: i64, churn_day: i64) -> Truth {
        Truth {
            churn: Some((onset_day * D, churn_day * D)),
            ready_at: Some(0),
        }
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0], 0.1), Some(3.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        let xs: Vec<f64> = (0..=10).map(f64::from).collect();
        assert!((quantile(&xs, 0.1).unwrap() - 1.0).abs() < 1e-12);
        let p10 = quantile(&[2.0, 4.0, 10.0], 0.1).unwrap();
        assert!((p10 - 2.4).abs() < 1e-12, "{p10}");
    }

    #[test]
    fn precision_recall_and_lead_on_a_hand_made_population() {
        let truth = [
            churner(10, 20), // alerted day 12: caught, lead 8
            churner(10, 14), // alerted day 13: caught, lead 1
            churner(10, 20), // alerted day 25 only: late
            churner(10, 20), // never alerted: missed
            churner(10, 20), // alerted day 5 only: before onset
            stable(),        // two false alerts
            stable(),        // quiet
            stable(),        // quiet
        ];
        let alerts = vec![
            vec![12 * D, 15 * D],
            vec![13 * D],
            vec![25 * D],
            vec![],
            vec![5 * D],
            vec![3 * D, 9 * D],
            vec![],
            vec![],
        ];
        let m = evaluate(&truth, &alerts, 28 * D);
        assert_eq!(m.players, 8);
        assert_eq!(m.alerted, 5);
        // The late one was still a churner alerted after onset; the one
        // alerted before onset and the stable one are false.
        assert_eq!(m.alerted_churners, 3);
        assert_eq!(m.precision, Some(3.0 / 5.0));
        assert_eq!(m.churners, 5);
        assert_eq!(m.caught, 2);
        assert_eq!(m.late, 1);
        assert_eq!(m.recall, Some(2.0 / 5.0));
        assert_eq!(m.lead_median_days, Some(4.5));
        assert!((m.lead_p10_days.unwrap() - 1.7).abs() < 1e-9);
        assert_eq!(m.false_alerts, 2);
        // Three stable players, each alertable for four weeks.
        assert!((m.healthy_weeks - 12.0).abs() < 1e-9);
        let f = m.false_alerts_per_1000_per_week.unwrap();
        assert!((f - 1000.0 * 2.0 / 12.0).abs() < 1e-9);
    }

    #[test]
    fn churners_leaving_after_the_data_count_for_precision_only() {
        let truth = [churner(10, 40), churner(10, 40)];
        let alerts = vec![vec![15 * D], vec![]];
        let m = evaluate(&truth, &alerts, 28 * D);
        assert_eq!(m.churners, 0);
        assert_eq!(m.recall, None);
        assert_eq!(m.precision, Some(1.0));
        assert_eq!(m.lead_median_days, None);
    }

    #[test]
    fn alerts_after_the_end_are_ignored() {
        let truth = [stable()];
        let m = evaluate(&truth, &[vec![30 * D]], 28 * D);
        assert_eq!(m.alerted, 0);
        assert_eq!(m.precision, None);
        assert_eq!(m.false_alerts, 0);
    }

    #[test]
    fn targets_need_every_figure() {
        let truth = [churner(0, 10), stable()];
        let m = evaluate(&truth, &[vec![2 * D], vec![]], 28 * D);
        assert!(Targets::DEFAULT.met(&m));
        let m = evaluate(&truth, &[vec![5 * D], vec![]], 28 * D);
        assert!(!Targets::DEFAULT.met(&m), "lead 5 days < 7");
        let m = evaluate(&truth, &[vec![2 * D], vec![D]], 28 * D);
        assert!(!Targets::DEFAULT.met(&m), "precision 0.5");
    }
}
