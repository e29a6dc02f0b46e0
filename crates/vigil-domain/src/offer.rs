//! Offers: which retention action an alert calls for, for whom, through
//! which channel and up to what value; and whether it may go out.
//!
//! Rules are tried in the configured order and the first that matches an
//! alert makes the offer. A matching offer is then checked, in this order:
//! cooldowns and frequency caps (a blocked offer is not made at all, only
//! counted), safeguards and opt-outs (the offer is recorded as
//! `suppressed`, with why, for the audit trail, and never sent), and the
//! control group (a stable share of players whose offers are recorded as
//! `held_out` instead of sent, so uplift can be measured). Whatever the
//! status, the offer has a deterministic `offer_id`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::band::Band;
use crate::config::ConfigError;
use crate::output::AlertKind;
use crate::profile::{Channel, Profile, Tier};
use crate::safeguard::Suppression;
use crate::signal::Reason;
use crate::time::Timestamp;

/// Offer settings: the rules, caps and the control group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OffersConfig {
    pub enabled: bool,
    /// Share of players, in percent, held out as a control group (chosen by
    /// a stable hash of brand and player id with `holdout_salt`).
    pub holdout_pct: f64,
    /// Changing the salt draws a new control group.
    pub holdout_salt: String,
    /// At most one offer per player in this time, whatever the rule.
    #[serde(with = "humantime_serde")]
    pub min_gap: Duration,
    /// Per-channel frequency caps per player.
    pub channel_caps: ChannelCaps,
    /// Tried in order; the first match makes the offer.
    pub rules: Vec<OfferRule>,
}

/// At most `max` offers per player on a channel within `per`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    pub max: u32,
    #[serde(with = "humantime_serde")]
    pub per: Duration,
}

impl FrequencyCap {
    fn new(max: u32, days: u64) -> Self {
        FrequencyCap {
            max,
            per: Duration::from_secs(days * 86_400),
        }
    }
}

/// Frequency caps by channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelCaps {
    pub email: FrequencyCap,
    pub sms: FrequencyCap,
    pub push: FrequencyCap,
    pub in_app: FrequencyCap,
    pub manager: FrequencyCap,
}

impl Default for ChannelCaps {
    fn default() -> Self {
        ChannelCaps {
            email: FrequencyCap::new(2, 7),
            sms: FrequencyCap::new(1, 7),
            push: FrequencyCap::new(2, 7),
            in_app: FrequencyCap::new(3, 7),
            manager: FrequencyCap::new(1, 7),
        }
    }
}

impl ChannelCaps {
    /// The cap of `c`.
    pub fn of(&self, c: Channel) -> &FrequencyCap {
        match c {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Push => &self.push,
            Channel::InApp => &self.in_app,
            Channel::Manager => &self.manager,
        }
    }
}

/// Which band move a rule wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BandMove {
    /// Whatever the band did.
    #[default]
    Any,
    /// The alert reports a worse band than before.
    Down,
    /// The alert reports a better band than before.
    Up,
}

/// One offer rule: conditions on the alert and the player, and the offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfferRule {
    /// Names the rule in offers and metrics (letters, digits, `_`, `-`).
    pub name: String,
    /// The offer for the campaign engine, e.g. `cashback`, `free_bets`,
    /// `vip_manager_call`, `tournament_invite`.
    pub offer: String,
    /// `email`, `sms`, `push`, `in_app` or `manager`.
    pub channel: String,
    /// A bonus (money or money's worth): never offered to a player with an
    /// active cool-off or deposit limit.
    pub bonus: bool,
    /// Alert kinds that trigger the rule; empty: any risk alert
    /// (`band_change`, `usage_drop`, `inactivity`).
    pub kinds: Vec<String>,
    /// The player's band must be one of these; empty: any.
    pub bands: Vec<String>,
    /// Band move the alert must show.
    pub band_move: BandMove,
    /// The player's tier must be one of these; empty: any.
    pub tiers: Vec<String>,
    /// The player must carry one of these segments; empty: any.
    pub segments: Vec<String>,
    /// Minimum customer value (reporting currency per month).
    pub min_value: f64,
    /// The offer's value cap as a percentage of the player's value.
    pub value_cap_pct: f64,
    /// Absolute ceiling on the value cap (0: none).
    pub max_value_cap: f64,
    /// At most one offer of this rule per player in this time.
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
}

impl Default for OfferRule {
    fn default() -> Self {
        OfferRule {
            name: String::new(),
            offer: String::new(),
            channel: "email".to_owned(),
            bonus: false,
            kinds: Vec::new(),
            bands: Vec::new(),
            band_move: BandMove::Any,
            tiers: Vec::new(),
            segments: Vec::new(),
            min_value: 0.0,
            value_cap_pct: 0.0,
            max_value_cap: 0.0,
            cooldown: Duration::from_secs(7 * 86_400),
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for OffersConfig {
    fn default() -> Self {
        OffersConfig {
            enabled: true,
            holdout_pct: 10.0,
            holdout_salt: "vigil".to_owned(),
            min_gap: Duration::from_secs(72 * 3600),
            channel_caps: ChannelCaps::default(),
            rules: vec![
                OfferRule {
                    name: "vip_manager_call".into(),
                    offer: "vip_manager_call".into(),
                    channel: "manager".into(),
                    bands: strings(&["yellow", "red"]),
                    tiers: strings(&["vip", "high_roller"]),
                    kinds: strings(&["band_change", "usage_drop", "inactivity"]),
                    band_move: BandMove::Any,
                    cooldown: Duration::from_secs(7 * 86_400),
                    ..OfferRule::default()
                },
                OfferRule {
                    name: "cashback_red".into(),
                    offer: "cashback_10pct".into(),
                    channel: "email".into(),
                    bonus: true,
                    kinds: strings(&["band_change"]),
                    bands: strings(&["red"]),
                    band_move: BandMove::Down,
                    min_value: 20.0,
                    value_cap_pct: 10.0,
                    max_value_cap: 500.0,
                    cooldown: Duration::from_secs(14 * 86_400),
                    ..OfferRule::default()
                },
                OfferRule {
                    name: "free_bets_drift".into(),
                    offer: "free_bets".into(),
                    channel: "push".into(),
                    bonus: true,
                    kinds: strings(&["band_change", "usage_drop"]),
                    bands: strings(&["yellow", "red"]),
                    band_move: BandMove::Any,
                    min_value: 5.0,
                    value_cap_pct: 5.0,
                    max_value_cap: 100.0,
                    cooldown: Duration::from_secs(14 * 86_400),
                    ..OfferRule::default()
                },
                OfferRule {
                    name: "tournament_invite".into(),
                    offer: "exclusive_tournament_invite".into(),
                    channel: "email".into(),
                    kinds: strings(&["inactivity"]),
                    min_value: 50.0,
                    cooldown: Duration::from_secs(21 * 86_400),
                    ..OfferRule::default()
                },
            ],
        }
    }
}

/// A rule with its names parsed, ready to match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledRule {
    pub name: String,
    pub offer: String,
    pub channel: Channel,
    pub bonus: bool,
    kinds: Vec<AlertKind>,
    bands: Vec<Band>,
    band_move: BandMove,
    tiers: Vec<Tier>,
    segments: Vec<String>,
    min_value: f64,
    value_cap_pct: f64,
    max_value_cap: f64,
    pub cooldown_secs: u32,
}

/// The most offers a player's history remembers: bounds the state, and so
/// the largest frequency cap.
pub const HISTORY: usize = 4;

fn parse_list<T>(
    key: &str,
    names: &[String],
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Vec<T>, ConfigError> {
    names
        .iter()
        .map(|n| {
            parse(n).ok_or_else(|| {
                ConfigError::new(key, format!("unknown value `{n}` (expected {expected})"))
            })
        })
        .collect()
}

impl OffersConfig {
    /// Checks the settings and parses the rules.
    pub(crate) fn compile(&self) -> Result<Vec<CompiledRule>, ConfigError> {
        if !(0.0..=100.0).contains(&self.holdout_pct) {
            return Err(ConfigError::new(
                "offers.holdout_pct",
                "must be a percentage between 0 and 100",
            ));
        }
        for c in Channel::ALL {
            let cap = self.channel_caps.of(c);
            if cap.max as usize > HISTORY {
                return Err(ConfigError::new(
                    &format!("offers.channel_caps.{}.max", c.as_str()),
                    format!("must be at most {HISTORY} (the offers a player's state remembers)"),
                ));
            }
        }
        let mut out = Vec::with_capacity(self.rules.len());
        for (i, r) in self.rules.iter().enumerate() {
            let key = |f: &str| format!("offers.rules[{i}].{f}");
            if r.name.is_empty()
                || !r
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(ConfigError::new(
                    &key("name"),
                    "must be a non-empty name of letters, digits, `_` or `-`",
                ));
            }
            if self.rules[..i].iter().any(|o| o.name == r.name) {
                return Err(ConfigError::new(
                    &key("name"),
                    format!("`{}` names two rules; names must be unique", r.name),
                ));
            }
            if r.offer.is_empty() {
                return Err(ConfigError::new(&key("offer"), "must name the offer"));
            }
            let channel = Channel::parse(&r.channel).ok_or_else(|| {
                ConfigError::new(
                    &key("channel"),
                    format!(
                        "unknown channel `{}` (expected email, sms, push, in_app or manager)",
                        r.channel
                    ),
                )
            })?;
            let kinds = parse_list(
                &key("kinds"),
                &r.kinds,
                |s| AlertKind::parse(s).filter(|k| k.is_risk()),
                "band_change, usage_drop or inactivity",
            )?;
            let bands = parse_list(&key("bands"), &r.bands, Band::parse, "green, yellow or red")?;
            let tiers = parse_list(
                &key("tiers"),
                &r.tiers,
                Tier::parse,
                "regular, vip or high_roller",
            )?;
            for (f, v) in [
                ("min_value", r.min_value),
                ("value_cap_pct", r.value_cap_pct),
                ("max_value_cap", r.max_value_cap),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(ConfigError::new(&key(f), "must be a number >= 0"));
                }
            }
            out.push(CompiledRule {
                name: r.name.clone(),
                offer: r.offer.clone(),
                channel,
                bonus: r.bonus,
                kinds,
                bands,
                band_move: r.band_move,
                tiers,
                segments: r.segments.clone(),
                min_value: r.min_value,
                value_cap_pct: r.value_cap_pct,
                max_value_cap: r.max_value_cap,
                cooldown_secs: r.cooldown.as_secs().min(u32::MAX as u64) as u32,
            });
        }
        Ok(out)
    }
}

impl CompiledRule {
    /// Whether the rule applies to an alert of `kind` moving `prev -> band`
    /// for a player with `profile` and `value`.
    pub(crate) fn matches(
        &self,
        kind: AlertKind,
        prev: Band,
        band: Band,
        profile: &Profile,
        value: f64,
    ) -> bool {
        let kind_ok = if self.kinds.is_empty() {
            kind.is_risk()
        } else {
            self.kinds.contains(&kind)
        };
        let move_ok = match self.band_move {
            BandMove::Any => true,
            BandMove::Down => band > prev,
            BandMove::Up => band < prev,
        };
        kind_ok
            && move_ok
            && (self.bands.is_empty() || self.bands.contains(&band))
            && (self.tiers.is_empty() || self.tiers.contains(&profile.tier))
            && (self.segments.is_empty() || self.segments.iter().any(|s| profile.in_segment(s)))
            && value >= self.min_value
    }

    /// The most the offer may be worth for a player of `value`.
    pub(crate) fn value_cap(&self, value: f64) -> f64 {
        let cap = value.max(0.0) * self.value_cap_pct / 100.0;
        if self.max_value_cap > 0.0 {
            cap.min(self.max_value_cap)
        } else {
            cap
        }
    }
}

/// What became of an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferStatus {
    /// For the campaign engine to deliver.
    Sent,
    /// The player is in the control group: recorded, not delivered.
    HeldOut,
    /// A safeguard or an opt-out forbids it: recorded, never delivered.
    Suppressed,
}

impl OfferStatus {
    /// Every status.
    pub const ALL: [OfferStatus; 3] = [
        OfferStatus::Sent,
        OfferStatus::HeldOut,
        OfferStatus::Suppressed,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Sent => "sent",
            OfferStatus::HeldOut => "held_out",
            OfferStatus::Suppressed => "suppressed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<OfferStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An offer trigger for the campaign engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// Deterministic: a hash of the triggering alert and the rule.
    pub offer_id: String,
    /// The alert that triggered it.
    pub alert_id: String,
    pub player_id: String,
    pub brand: String,
    pub ts: Timestamp,
    /// The rule that matched.
    pub rule: String,
    /// What to offer.
    pub offer: String,
    pub channel: Channel,
    /// The most the offer may be worth (reporting currency).
    pub value_cap: f64,
    /// The player's customer value and the alert's priority.
    pub value: f64,
    pub priority: f64,
    pub tier: Tier,
    pub manager_id: Option<String>,
    pub status: OfferStatus,
    /// Why it was suppressed, when it was.
    pub suppressed_by: Option<Suppression>,
    /// The triggering alert's reasons.
    pub reasons: Vec<Reason>,
}

/// Why a matching offer was not made at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The rule's own cooldown.
    Cooldown,
    /// The player's minimum gap between offers.
    MinGap,
    /// The channel's frequency cap.
    FrequencyCap,
}

impl Skip {
    /// Every reason.
    pub const ALL: [Skip; 3] = [Skip::Cooldown, Skip::MinGap, Skip::FrequencyCap];

    /// The wire name (a metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            Skip::Cooldown => "cooldown",
            Skip::MinGap => "min_gap",
            Skip::FrequencyCap => "frequency_cap",
        }
    }
}

/// One offer made to a player (sent or held out), as the state remembers it
/// for cooldowns and caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MadeOffer {
    /// Compact time; 0 marks a free slot.
    pub at: u32,
    /// Fingerprint of the rule name (rules may be reordered by a reload).
    pub rule: u16,
    /// Index in [`Channel::ALL`].
    pub channel: u8,
}

/// The fingerprint a [`MadeOffer`] keeps of a rule name.
pub(crate) fn rule_fingerprint(name: &str) -> u16 {
    (xxhash_rust::xxh3::xxh3_64(name.as_bytes()) as u16).max(1)
}

/// Checks the rule's cooldown, the player's minimum gap and the channel's
/// cap against the offers made before `t`.
pub(crate) fn check_caps(
    history: &[MadeOffer; HISTORY],
    rule: &CompiledRule,
    cfg: &OffersConfig,
    t: u32,
) -> Result<(), Skip> {
    let fp = rule_fingerprint(&rule.name);
    let since = |m: &MadeOffer| t.saturating_sub(m.at);
    let made = || history.iter().filter(|m| m.at != 0);
    if made().any(|m| m.rule == fp && since(m) < rule.cooldown_secs) {
        return Err(Skip::Cooldown);
    }
    if made().any(|m| (since(m) as u64) < cfg.min_gap.as_secs()) {
        return Err(Skip::MinGap);
    }
    let cap = cfg.channel_caps.of(rule.channel);
    let on_channel = made()
        .filter(|m| m.channel == rule.channel as u8 && (since(m) as u64) < cap.per.as_secs())
        .count();
    if on_channel >= cap.max as usize {
        return Err(Skip::FrequencyCap);
    }
    Ok(())
}

/// Remembers an offer made at `t`, forgetting the oldest.
pub(crate) fn remember(history: &mut [MadeOffer; HISTORY], rule: &CompiledRule, t: u32) {
    let slot = (0..HISTORY).min_by_key(|&i| history[i].at).unwrap_or(0);
    history[slot] = MadeOffer {
        at: t.max(1),
        rule: rule_fingerprint(&rule.name),
        channel: rule.channel as u8,
    };
}

/// Whether a player is in the control group: a stable hash of who they are
/// and the salt, so the group does not change between runs or instances.
pub fn held_out(brand: &str, player_id: &str, cfg: &OffersConfig) -> bool {
    if cfg.holdout_pct <= 0.0 {
        return false;
    }
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [
        cfg.holdout_salt.as_bytes(),
        brand.as_bytes(),
        player_id.as_bytes(),
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let bucket = h.digest() % 10_000;
    (bucket as f64) < cfg.holdout_pct * 100.0
}

/// The deterministic id of an offer.
pub(crate) fn offer_id(alert_id: &str, rule: &str) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [b"offer".as_slice(), alert_id.as_bytes(), rule.as_bytes()] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    format!("{:032x}", h.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<CompiledRule> {
        OffersConfig::default().compile().unwrap()
    }

    #[test]
    fn default_rules_compile_and_vips_get_a_manager_call() {
        let r = rules();
        let vip = Profile {
            tier: Tier::Vip,
            ..Profile::default()
        };
        let first = r
            .iter()
            .find(|r| r.matches(AlertKind::BandChange, Band::Green, Band::Yellow, &vip, 10.0))
            .unwrap();
        assert_eq!(first.name, "vip_manager_call");
        let regular = Profile::default();
        let first = r
            .iter()
            .find(|r| {
                r.matches(
                    AlertKind::BandChange,
                    Band::Yellow,
                    Band::Red,
                    &regular,
                    100.0,
                )
            })
            .unwrap();
        assert_eq!(first.name, "cashback_red");
        assert_eq!(first.value_cap(100.0), 10.0);
        assert_eq!(first.value_cap(1e6), 500.0);
        // Too little value for a bonus, and recovery alerts make no offer.
        assert!(!r.iter().any(|r| r.matches(
            AlertKind::BandChange,
            Band::Yellow,
            Band::Red,
            &regular,
            1.0
        )));
        assert!(!r.iter().any(|r| r.matches(
            AlertKind::BandChange,
            Band::Red,
            Band::Green,
            &regular,
            1e3
        )));
    }

    #[test]
    fn segments_and_tiers_narrow_a_rule() {
        let cfg = OffersConfig {
            rules: vec![OfferRule {
                name: "sports".into(),
                offer: "free_bets".into(),
                segments: vec!["sports".into()],
                tiers: vec!["high_roller".into()],
                ..OfferRule::default()
            }],
            ..OffersConfig::default()
        };
        let r = &cfg.compile().unwrap()[0];
        let mut p = Profile {
            tier: Tier::HighRoller,
            segments: vec!["casino".into()],
            ..Profile::default()
        };
        assert!(!r.matches(AlertKind::UsageDrop, Band::Green, Band::Yellow, &p, 0.0));
        p.segments.push("sports".into());
        assert!(r.matches(AlertKind::UsageDrop, Band::Green, Band::Yellow, &p, 0.0));
        p.tier = Tier::Vip;
        assert!(!r.matches(AlertKind::UsageDrop, Band::Green, Band::Yellow, &p, 0.0));
    }

    #[test]
    fn bad_rules_name_the_key() {
        let mut cfg = OffersConfig::default();
        cfg.rules[1].channel = "fax".into();
        assert_eq!(cfg.compile().unwrap_err().key, "offers.rules[1].channel");
        let mut cfg = OffersConfig::default();
        cfg.rules[0].kinds = vec!["rg_risk".into()];
        assert_eq!(cfg.compile().unwrap_err().key, "offers.rules[0].kinds");
        let mut cfg = OffersConfig::default();
        cfg.rules[2].name = cfg.rules[0].name.clone();
        assert_eq!(cfg.compile().unwrap_err().key, "offers.rules[2].name");
        let mut cfg = OffersConfig::default();
        cfg.channel_caps.sms.max = 9;
        assert_eq!(
            cfg.compile().unwrap_err().key,
            "offers.channel_caps.sms.max"
        );
    }

    #[test]
    fn caps_cooldowns_and_gaps() {
        let cfg = OffersConfig::default();
        let r = rules();
        let (call, cash, bets) = (&r[0], &r[1], &r[2]);
        let mut h = [MadeOffer::default(); HISTORY];
        let day = 86_400;
        assert_eq!(check_caps(&h, cash, &cfg, 100 * day), Ok(()));
        remember(&mut h, cash, 100 * day);
        // Any offer within 72 h: the gap; the same rule later: its cooldown.
        assert_eq!(check_caps(&h, bets, &cfg, 101 * day), Err(Skip::MinGap));
        assert_eq!(check_caps(&h, cash, &cfg, 104 * day), Err(Skip::Cooldown));
        assert_eq!(check_caps(&h, bets, &cfg, 104 * day), Ok(()));
        assert_eq!(check_caps(&h, cash, &cfg, 114 * day), Ok(()));
        // One manager call a week.
        remember(&mut h, call, 110 * day);
        let other = CompiledRule {
            name: "other_call".into(),
            ..call.clone()
        };
        assert_eq!(
            check_caps(&h, &other, &cfg, 114 * day),
            Err(Skip::FrequencyCap)
        );
        assert_eq!(check_caps(&h, &other, &cfg, 117 * day + 1), Ok(()));
    }

    #[test]
    fn the_control_group_is_stable_and_near_its_share() {
        let cfg = OffersConfig::default();
        let n = 20_000;
        let held = (0..n)
            .filter(|i| held_out("casino-a", &format!("p{i}"), &cfg))
            .count();
        let share = held as f64 / n as f64;
        assert!((share - 0.10).abs() < 0.01, "{share}");
        assert_eq!(
            held_out("casino-a", "p1", &cfg),
            held_out("casino-a", "p1", &cfg)
        );
        let none = OffersConfig {
            holdout_pct: 0.0,
            ..OffersConfig::default()
        };
        assert!(!(0..1000).any(|i| held_out("b", &format!("p{i}"), &none)));
    }
}
