//! Engine settings: weights, thresholds, windows and rules. Everything an
//! analyst tunes lives here, so replaying history with new settings is a
//! matter of a different file. Defaults are in one place: the `Default`
//! impls below, which are also what `vigil replay` uses with no `--config`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::money::{Currency, RateTable};

/// A setting that cannot work, with the dotted key that holds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{key}`: {problem}")]
pub struct ConfigError {
    /// Dotted path of the offending key, e.g. `engine.bands.green_min`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(key: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// All engine settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// How long after the newest event an older event may still arrive and be
    /// scored exactly as if it had come in order. Outputs wait this long.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
    /// How often a silent player is re-scored at the latest, so silence decays
    /// the score and fires alerts without any new event. Twelve hours by
    /// default: at six, these re-scores of silent players were four in five
    /// of the engine's evaluations on the bench population, and twelve does
    /// 28 % fewer evaluations in all; a score that falls over days loses
    /// little by it (on the simulator's three seeds: recall within 0.01,
    /// the same median lead, 5-10 % fewer false alerts). Inactivity has its
    /// own deadline and does not wait for this.
    #[serde(with = "humantime_serde")]
    pub rescore_interval: Duration,
    /// At most one evaluation per player in this much event time: a burst
    /// of bets is applied at once but scored once, when the interval has
    /// passed. Alerts may come this much later; `0s` scores every event.
    #[serde(with = "humantime_serde")]
    pub evaluation_interval: Duration,
    /// Reporting currency and exchange rates.
    pub currency: CurrencyConfig,
    /// Weight of each signal in the health score.
    pub weights: Weights,
    /// Band thresholds and hysteresis.
    pub bands: BandConfig,
    /// When a player has enough history to be judged against it.
    pub baseline: BaselineConfig,
    /// What counts as friction in support and payments.
    pub friction: FrictionConfig,
    /// When score records are emitted.
    pub scores: ScoreEmitConfig,
    /// Alert rules.
    pub rules: RulesConfig,
    /// How the customer value is estimated.
    pub value: crate::value::ValueConfig,
    /// Offer rules, caps and the control group.
    pub offers: crate::offer::OffersConfig,
    /// Responsible-gambling safeguards and signs of harm.
    pub safeguards: crate::safeguard::SafeguardConfig,
    /// Support service levels for VIPs.
    pub sla: SlaConfig,
    /// Follow-up of alerts and offers.
    pub outcomes: crate::outcome::OutcomeConfig,
}

/// Support service levels: tickets of these tiers must get a first reply
/// and a resolution in time, or an `sla_breach` alert fires (and counts as
/// support friction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    pub enabled: bool,
    /// Tiers the service levels apply to.
    pub tiers: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub first_response: Duration,
    #[serde(with = "humantime_serde")]
    pub resolution: Duration,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            enabled: true,
            tiers: vec!["vip".to_owned(), "high_roller".to_owned()],
            first_response: Duration::from_secs(15),
            resolution: Duration::from_secs(15 * 60),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            allowed_lateness: Duration::from_secs(10),
            rescore_interval: Duration::from_secs(12 * 3600),
            evaluation_interval: Duration::from_secs(300),
            currency: CurrencyConfig::default(),
            weights: Weights::default(),
            bands: BandConfig::default(),
            baseline: BaselineConfig::default(),
            friction: FrictionConfig::default(),
            scores: ScoreEmitConfig::default(),
            rules: RulesConfig::default(),
            value: crate::value::ValueConfig::default(),
            offers: crate::offer::OffersConfig::default(),
            safeguards: crate::safeguard::SafeguardConfig::default(),
            sla: SlaConfig::default(),
            outcomes: crate::outcome::OutcomeConfig::default(),
        }
    }
}

/// Reporting currency and rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CurrencyConfig {
    /// The currency all amounts are converted to (three letters).
    pub reporting: String,
    /// Value of one unit of each currency in the reporting currency.
    pub rates: BTreeMap<String, f64>,
}

impl Default for CurrencyConfig {
    fn default() -> Self {
        // Indicative rates to EUR; operators replace them with their treasury's.
        let rates = [
            ("USD", 0.92),
            ("GBP", 1.17),
            ("SEK", 0.087),
            ("NOK", 0.085),
            ("DKK", 0.134),
            ("CHF", 1.05),
            ("PLN", 0.23),
            ("CAD", 0.67),
            ("AUD", 0.60),
            ("NZD", 0.55),
            ("BRL", 0.17),
            ("JPY", 0.0061),
        ]
        .into_iter()
        .map(|(c, r)| (c.to_owned(), r))
        .collect();
        CurrencyConfig {
            reporting: "EUR".to_owned(),
            rates,
        }
    }
}

impl CurrencyConfig {
    /// Builds the conversion table, checking every code and rate.
    pub fn rate_table(&self) -> Result<RateTable, ConfigError> {
        let reporting = Currency::parse(&self.reporting).ok_or_else(|| {
            ConfigError::new(
                "currency.reporting",
                "must be a three-letter currency code such as \"EUR\"",
            )
        })?;
        let mut rates = Vec::with_capacity(self.rates.len());
        for (code, rate) in &self.rates {
            let key = format!("currency.rates.{code}");
            let c = Currency::parse(code).ok_or_else(|| {
                ConfigError::new(&key, "the key must be a three-letter currency code")
            })?;
            if !(rate.is_finite() && *rate > 0.0) {
                return Err(ConfigError::new(
                    &key,
                    format!("rate must be a positive number, got {rate}"),
                ));
            }
            rates.push((c, *rate));
        }
        Ok(RateTable::new(reporting, rates))
    }
}

/// Weights of the health-score signals. They need not sum to one: the score
/// normalises by the weights of the signals that apply to a player.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    pub frequency: f64,
    pub depth: f64,
    pub monetary: f64,
    pub recency: f64,
    pub support: f64,
    pub payment: f64,
    pub communication: f64,
    pub satisfaction: f64,
}

impl Default for Weights {
    fn default() -> Self {
        // Depth weighs as much as frequency: a daily login that never plays
        // is not a healthy player.
        Weights {
            frequency: 0.20,
            depth: 0.20,
            monetary: 0.15,
            recency: 0.15,
            // Friction weighs heavily because it is rare and loud: a declined
            // withdrawal, an unresolved complaint and a detractor's answer
            // are how an abrupt leaver's last days begin. At 0.15 each
            // `vigil eval` caught 43 % of abrupt leavers, at 0.5 about 90 %,
            // with fewer false alerts overall. They count only for players
            // with any friction history (see `signal`).
            support: 0.50,
            payment: 0.50,
            communication: 0.05,
            satisfaction: 0.15,
        }
    }
}

impl Weights {
    /// The weights in [`crate::Signal::ALL`] order.
    pub fn as_array(&self) -> [f64; 8] {
        [
            self.frequency,
            self.depth,
            self.monetary,
            self.recency,
            self.support,
            self.payment,
            self.communication,
            self.satisfaction,
        ]
    }
}

/// Band thresholds on the 0-100 score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandConfig {
    /// Scores at or above this are green.
    pub green_min: f64,
    /// Scores at or above this (and below `green_min`) are yellow; below is red.
    pub yellow_min: f64,
    /// A player must climb this many points past a threshold to move up a
    /// band (and fall past it to move down), so scores near a threshold do
    /// not flap.
    pub hysteresis: f64,
}

impl Default for BandConfig {
    fn default() -> Self {
        BandConfig {
            green_min: 70.0,
            yellow_min: 40.0,
            hysteresis: 5.0,
        }
    }
}

/// When a player's own history is enough to judge them against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// Time since the first event before a player can raise drift alerts.
    #[serde(with = "humantime_serde")]
    pub min_history: Duration,
    /// Active days needed in the 28-day window before drift alerts.
    pub min_active_days: u32,
    /// How long a silence from full health, with nothing gone wrong, is
    /// read as an absence (a holiday, a break in the fixtures) rather than
    /// drift: the silence alone takes the score at most to the green
    /// threshold. `0s` reads every silence in full. See `signal::is_absence`.
    #[serde(with = "humantime_serde")]
    pub absence_grace: Duration,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            min_history: Duration::from_secs(14 * 86_400),
            min_active_days: 4,
            absence_grace: Duration::from_secs(14 * 86_400),
        }
    }
}

/// Thresholds that turn support and payment events into friction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrictionConfig {
    /// A support ticket open longer than this counts as slow.
    #[serde(with = "humantime_serde")]
    pub slow_ticket_resolution: Duration,
    /// A withdrawal not paid within this counts as slow.
    #[serde(with = "humantime_serde")]
    pub slow_withdrawal: Duration,
}

impl Default for FrictionConfig {
    fn default() -> Self {
        FrictionConfig {
            slow_ticket_resolution: Duration::from_secs(24 * 3600),
            slow_withdrawal: Duration::from_secs(24 * 3600),
        }
    }
}

/// When a player's score is published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreEmitConfig {
    /// Publish when the score moved at least this many points since the last
    /// published one (band changes are always published).
    pub min_delta: f64,
    /// A moved score is published at most this often per player; band
    /// changes and readiness are published at once. Keeps the compacted
    /// scores topic to what a CRM can use rather than a tick per bet.
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    /// Publish at least this often per player while it is being scored.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
}

impl Default for ScoreEmitConfig {
    fn default() -> Self {
        ScoreEmitConfig {
            min_delta: 2.0,
            min_interval: Duration::from_secs(3600),
            heartbeat: Duration::from_secs(24 * 3600),
        }
    }
}

/// Alert rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    pub band_change: BandChangeRule,
    pub usage_drop: UsageDropRule,
    pub inactivity: InactivityRule,
}

/// Alert when the band changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandChangeRule {
    pub enabled: bool,
    /// Minimum time between two band alerts for a player, unless the new band
    /// is worse than the last one alerted (an escalation is never held back).
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
}

impl Default for BandChangeRule {
    fn default() -> Self {
        BandChangeRule {
            enabled: true,
            cooldown: Duration::from_secs(48 * 3600),
        }
    }
}

/// Alert when activity over a window fell against the window before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageDropRule {
    pub enabled: bool,
    /// Length of each of the two compared windows.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Minimum fall, in percent, that fires.
    pub drop_pct: f64,
    /// Activity (visits plus bets) the earlier window needs before a fall in
    /// it means anything.
    pub min_baseline_activity: f64,
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    /// Fire only while the player's score is below this. A fall the score
    /// (which reads the same activity against the player's own spread)
    /// does not mark down is the player's ordinary swing; `100` fires
    /// regardless.
    pub max_score: f64,
}

impl Default for UsageDropRule {
    fn default() -> Self {
        UsageDropRule {
            enabled: true,
            window: Duration::from_secs(14 * 86_400),
            drop_pct: 30.0,
            min_baseline_activity: 10.0,
            cooldown: Duration::from_secs(7 * 86_400),
            max_score: 70.0,
        }
    }
}

/// Alert when a player has been silent for longer than their own rhythm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InactivityRule {
    pub enabled: bool,
    /// Silence longer than this multiple of the player's typical gap fires.
    pub gap_factor: f64,
    /// Never fire before this much silence, however regular the player.
    #[serde(with = "humantime_serde")]
    pub min_silence: Duration,
    /// Always fire after this much silence, however irregular the player.
    #[serde(with = "humantime_serde")]
    pub max_silence: Duration,
    /// Fire only while the player's score is below this (checked again at
    /// each evaluation of the silent spell): a silence the score does not
    /// yet mark down is within the player's rhythm. `100` fires regardless.
    pub max_score: f64,
}

impl Default for InactivityRule {
    fn default() -> Self {
        InactivityRule {
            enabled: true,
            gap_factor: 3.0,
            min_silence: Duration::from_secs(2 * 86_400),
            max_silence: Duration::from_secs(21 * 86_400),
            max_score: 70.0,
        }
    }
}

/// The largest weight a signal may have. Only the weights' ratios count,
/// so no setting needs more; a bound keeps the weighted sum of the score
/// finite (a weight near `f64::MAX` made it infinite, and the score NaN).
pub const MAX_WEIGHT: f64 = 1e6;

/// The longest window the engine keeps, in days.
pub const WINDOW_DAYS: usize = 28;

impl EngineConfig {
    /// Checks every setting; the first problem found is returned with its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.currency.rate_table()?;
        let w = &self.weights;
        for (name, v) in crate::Signal::ALL.iter().zip(w.as_array()) {
            if !(v.is_finite() && (0.0..=MAX_WEIGHT).contains(&v)) {
                return Err(ConfigError::new(
                    &format!("weights.{}", name.as_str()),
                    format!(
                        "must be a number from 0 to {MAX_WEIGHT} (only the weights' ratios count), got {v}"
                    ),
                ));
            }
        }
        if w.as_array().iter().sum::<f64>() <= 0.0 {
            return Err(ConfigError::new(
                "weights",
                "at least one weight must be above 0",
            ));
        }
        let b = &self.bands;
        if !(0.0..=100.0).contains(&b.green_min) {
            return Err(ConfigError::new(
                "bands.green_min",
                "must be between 0 and 100",
            ));
        }
        if !(0.0..=100.0).contains(&b.yellow_min) || b.yellow_min >= b.green_min {
            return Err(ConfigError::new(
                "bands.yellow_min",
                "must be between 0 and 100 and below bands.green_min",
            ));
        }
        if !(b.hysteresis.is_finite()
            && b.hysteresis >= 0.0
            && b.hysteresis * 2.0 < b.green_min - b.yellow_min)
        {
            return Err(ConfigError::new(
                "bands.hysteresis",
                "must be >= 0 and less than half the width of the yellow band",
            ));
        }
        if self.evaluation_interval > self.rescore_interval {
            return Err(ConfigError::new(
                "evaluation_interval",
                "must not exceed rescore_interval",
            ));
        }
        if self.rescore_interval < Duration::from_secs(60) {
            return Err(ConfigError::new("rescore_interval", "must be at least 1m"));
        }
        if self.allowed_lateness > Duration::from_secs(86_400) {
            return Err(ConfigError::new(
                "allowed_lateness",
                "must be at most 1d (events wait this long before scoring)",
            ));
        }
        let u = &self.rules.usage_drop;
        let window_days = u.window.as_secs_f64() / 86_400.0;
        if !(1.0..=(WINDOW_DAYS / 2) as f64).contains(&window_days) {
            return Err(ConfigError::new(
                "rules.usage_drop.window",
                format!(
                    "must be between 1d and {}d (two windows must fit in the {WINDOW_DAYS}-day history)",
                    WINDOW_DAYS / 2
                ),
            ));
        }
        if !(u.drop_pct > 0.0 && u.drop_pct <= 100.0) {
            return Err(ConfigError::new(
                "rules.usage_drop.drop_pct",
                "must be a percentage in (0, 100]",
            ));
        }
        if !(u.min_baseline_activity.is_finite() && u.min_baseline_activity >= 0.0) {
            return Err(ConfigError::new(
                "rules.usage_drop.min_baseline_activity",
                "must be >= 0",
            ));
        }
        let i = &self.rules.inactivity;
        for (key, v) in [
            ("rules.usage_drop.max_score", u.max_score),
            ("rules.inactivity.max_score", i.max_score),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(ConfigError::new(
                    key,
                    "must be a score in [0, 100] (100: fire whatever the score)",
                ));
            }
        }
        if !(i.gap_factor.is_finite() && i.gap_factor >= 1.0) {
            return Err(ConfigError::new(
                "rules.inactivity.gap_factor",
                "must be >= 1",
            ));
        }
        if i.min_silence > i.max_silence {
            return Err(ConfigError::new(
                "rules.inactivity.min_silence",
                "must not exceed rules.inactivity.max_silence",
            ));
        }
        if !(self.scores.min_delta.is_finite() && self.scores.min_delta >= 0.0) {
            return Err(ConfigError::new("scores.min_delta", "must be >= 0"));
        }
        self.offers.compile()?;
        let v = &self.value;
        if !(v.stake_margin.is_finite() && (0.0..=1.0).contains(&v.stake_margin)) {
            return Err(ConfigError::new(
                "value.stake_margin",
                "must be a share between 0 and 1 (e.g. 0.05 for 5 %)",
            ));
        }
        if v.recency_half_life.is_zero() {
            return Err(ConfigError::new(
                "value.recency_half_life",
                "must be above 0s",
            ));
        }
        for (i, t) in self.sla.tiers.iter().enumerate() {
            if crate::profile::Tier::parse(t).is_none() {
                return Err(ConfigError::new(
                    &format!("sla.tiers[{i}]"),
                    format!("unknown tier `{t}` (expected regular, vip or high_roller)"),
                ));
            }
        }
        if self.sla.first_response.is_zero() || self.sla.first_response > self.sla.resolution {
            return Err(ConfigError::new(
                "sla.first_response",
                "must be above 0s and not above sla.resolution",
            ));
        }
        let h = &self.safeguards.harm;
        if !(h.deposit_velocity_factor.is_finite() && h.deposit_velocity_factor >= 1.0) {
            return Err(ConfigError::new(
                "safeguards.harm.deposit_velocity_factor",
                "must be >= 1",
            ));
        }
        if !(h.deposit_velocity_min.is_finite() && h.deposit_velocity_min >= 0.0) {
            return Err(ConfigError::new(
                "safeguards.harm.deposit_velocity_min",
                "must be >= 0",
            ));
        }
        if h.failed_deposits_while_losing == 0 || h.rising_stakes_while_losing == 0 {
            return Err(ConfigError::new(
                "safeguards.harm",
                "failed_deposits_while_losing and rising_stakes_while_losing must be at least 1",
            ));
        }
        if self.outcomes.horizon < Duration::from_secs(3600) {
            return Err(ConfigError::new("outcomes.horizon", "must be at least 1h"));
        }
        if self.baseline.absence_grace > Duration::from_secs(21 * 86_400) {
            return Err(ConfigError::new(
                "baseline.absence_grace",
                "must be at most 21d (the window must still hold the weeks before the silence)",
            ));
        }
        if self.baseline.min_active_days as usize > WINDOW_DAYS {
            return Err(ConfigError::new(
                "baseline.min_active_days",
                format!("must be at most {WINDOW_DAYS}"),
            ));
        }
        Ok(())
    }
}

/// Keys a running engine cannot take live: the state it holds was built
/// under them. `allowed_lateness`: events in the reorder buffer (and in
/// changelog records) were accepted and are released against it.
/// `currency.reporting`: player state holds amounts in that currency.
pub const RESTART_KEYS: [&str; 2] = ["allowed_lateness", "currency.reporting"];

impl EngineConfig {
    /// Whether a running engine with these settings can switch to `new`;
    /// if not, the key that differs and that a restart is needed.
    pub fn check_live_change(&self, new: &EngineConfig) -> Result<(), ConfigError> {
        let restart = |key: &str| {
            ConfigError::new(
                key,
                "cannot change while running (the state held was built under it): restart vigil to apply it",
            )
        };
        if self.allowed_lateness != new.allowed_lateness {
            return Err(restart(RESTART_KEYS[0]));
        }
        if self.currency.reporting != new.currency.reporting {
            return Err(restart(RESTART_KEYS[1]));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        EngineConfig::default().validate().unwrap();
    }

    /// Found by fuzzing: `weights.payment = 1.7976931348623157e308` passed
    /// the checks, and the engine's scores became NaN (which the changelog
    /// then refused to restore).
    #[test]
    fn a_weight_too_large_to_sum_is_refused() {
        let mut cfg = EngineConfig::default();
        cfg.weights.payment = f64::MAX;
        let e = cfg.validate().unwrap_err();
        assert_eq!(e.key, "weights.payment");
        assert!(e.problem.contains("from 0 to 1000000"), "{e}");
        cfg.weights.payment = MAX_WEIGHT;
        cfg.weights.depth = MAX_WEIGHT;
        cfg.validate().unwrap();
    }

    #[test]
    fn partial_toml_keeps_other_defaults() {
        let c: EngineConfig =
            toml::from_str("[bands]\ngreen_min = 80\n[rules.usage_drop]\nwindow = \"7d\"\n")
                .unwrap();
        assert_eq!(c.bands.green_min, 80.0);
        assert_eq!(c.bands.yellow_min, 40.0);
        assert_eq!(c.rules.usage_drop.window, Duration::from_secs(7 * 86_400));
        c.validate().unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let mut c = EngineConfig::default();
        c.bands.yellow_min = 75.0;
        assert_eq!(c.validate().unwrap_err().key, "bands.yellow_min");
        let mut c = EngineConfig::default();
        c.currency.rates.insert("USD".into(), -1.0);
        assert_eq!(c.validate().unwrap_err().key, "currency.rates.USD");
        let err = toml::from_str::<EngineConfig>("[bands]\ngreen = 1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `green`"), "{err}");
    }
}
