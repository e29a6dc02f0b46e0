//! What to simulate.

use vigil_domain::Timestamp;

/// The parameters of a simulated population. Everything else (habits,
/// fates, timings) is drawn from `seed`, so two equal configurations give
/// identical populations and identical event streams.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seeds every random choice.
    pub seed: u64,
    /// Number of players, with ids `p000000`, `p000001`, ... At most
    /// 2^31 - 1; larger values are capped.
    pub players: u32,
    /// Start of the first simulated day. Midnight UTC reads best: hours of
    /// the day (evening peaks, 10:00 campaigns) count from it, and the day
    /// of the week comes from the calendar date.
    pub start: Timestamp,
    /// Simulated days. No event falls at or after `start + days`: work still
    /// in flight at the horizon (a pending payout, say) is cut off, as in a
    /// real extract.
    pub days: u32,
    /// Brands; players are spread evenly over them. The name sets the kind
    /// of platform: a name containing `lott` gets mostly lottery players,
    /// one containing `sport` or `bet` sports bettors (seasonal ones among
    /// them, who follow the brand's fixture calendar) and weekend players,
    /// anything else casino players (bonus hunters among them). An empty list means the default one.
    pub brands: Vec<String>,
    /// Share of players who drift away during the simulation, 0 to 1.
    pub drift_share: f64,
    /// Of the drifting players, the share who come back two to four weeks
    /// after leaving ([`Fate::Returns`](crate::Fate::Returns)). 0 to 1.
    pub returner_share: f64,
    /// Of the drifting players who do not come back, the share who leave
    /// abruptly after a bad experience; the others fade slowly. 0 to 1.
    pub leaver_share: f64,
    /// How long a slow fader takes, from the onset to the first day without
    /// activity: between these many days (inclusive), drawn per player.
    /// Two to three weeks by default; `vigil gen --fade-days 28-56` gives
    /// the drift of a month or two that the usage-drop rule ("30 % down
    /// within two weeks") implies. A fade that would end after the
    /// simulated period is labelled with its `churn_at` all the same.
    pub fade_days: (u32, u32),
    /// Probability that an event is delivered twice: the copy, with the
    /// same `event_id`, comes right after the original, as a producer retry
    /// would deliver it. 0 to 1.
    pub duplicate_rate: f64,
    /// Probability that an event never arrives (a tracking pixel blocked, a
    /// client that crashed before sending). The player still did it: the
    /// labels do not change. 0 to 1.
    pub missing_rate: f64,
    /// Probability that an event is delivered late, after the next one of
    /// the stream (a mobile client sending its buffer on reconnect); such
    /// delays are seconds to minutes in a busy stream. 0 to 1.
    pub reorder_rate: f64,
}

impl SimConfig {
    /// The brands used when none are given.
    pub const DEFAULT_BRANDS: [&'static str; 3] = ["casino-a", "sportsbook-b", "lottery-c"];
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            players: 1000,
            // 2026-09-01T00:00:00Z, a Tuesday.
            start: Timestamp::from_secs(1_788_220_800),
            days: 60,
            brands: Self::DEFAULT_BRANDS.map(String::from).to_vec(),
            drift_share: 0.25,
            returner_share: 0.2,
            leaver_share: 0.4,
            fade_days: (14, 21),
            duplicate_rate: 0.0,
            missing_rate: 0.0,
            reorder_rate: 0.0,
        }
    }
}
