//! Offers and outcomes as JSON or protobuf, and player profiles from the
//! CRM's profiles topic.

use prost::Message;
use serde::{Deserialize, Serialize};
use vigil_domain::offer::OfferStatus;
use vigil_domain::outcome::Source;
use vigil_domain::{Band, Channel, Offer, OptOuts, Outcome, Profile, Suppression, Tier};
use vigil_proto::v1 as pb;

use crate::output::{
    Encoding, OutputDecodeError, ReasonJson, band_from_pb, band_pb, kind_from_pb, kind_pb,
    reasons_from_json, reasons_from_pb, reasons_json, reasons_pb, round2,
};
use crate::proto::{from_timestamp, timestamp};

#[derive(Debug, Serialize, Deserialize)]
struct OfferJson {
    offer_id: String,
    alert_id: String,
    player_id: String,
    brand: String,
    ts: String,
    rule: String,
    offer: String,
    channel: String,
    value_cap: f64,
    value: f64,
    priority: f64,
    tier: String,
    manager_id: Option<String>,
    status: String,
    suppressed_by: Option<String>,
    reasons: Vec<ReasonJson>,
}

#[derive(Debug, Serialize, Deserialize)]
struct OutcomeJson {
    outcome_id: String,
    source_id: String,
    /// `alert`, `treated` or `held_out`.
    group: String,
    /// The alert kind, for alerts.
    alert_kind: Option<String>,
    player_id: String,
    brand: String,
    started: String,
    ts: String,
    score_before: f64,
    score_after: f64,
    band_before: String,
    band_after: String,
    recovered: bool,
}

fn field<T>(v: Option<T>, name: &'static str) -> Result<T, OutputDecodeError> {
    v.ok_or(OutputDecodeError::Field(name))
}

fn ts(s: &str, name: &'static str) -> Result<vigil_domain::Timestamp, OutputDecodeError> {
    field(crate::rfc3339::parse(s), name)
}

fn pb_ts(
    t: Option<&prost_types::Timestamp>,
    name: &'static str,
) -> Result<vigil_domain::Timestamp, OutputDecodeError> {
    field(t.map(from_timestamp), name)
}

fn suppression(s: Option<&str>) -> Result<Option<Suppression>, OutputDecodeError> {
    s.map(|s| field(Suppression::parse(s), "suppressed_by"))
        .transpose()
}

/// An offer as one JSON object.
pub fn offer_to_json(o: &Offer) -> String {
    serde_json::to_string(&OfferJson {
        offer_id: o.offer_id.clone(),
        alert_id: o.alert_id.clone(),
        player_id: o.player_id.clone(),
        brand: o.brand.clone(),
        ts: o.ts.to_string(),
        rule: o.rule.clone(),
        offer: o.offer.clone(),
        channel: o.channel.as_str().to_owned(),
        value_cap: round2(o.value_cap),
        value: round2(o.value),
        priority: round2(o.priority),
        tier: o.tier.as_str().to_owned(),
        manager_id: o.manager_id.clone(),
        status: o.status.as_str().to_owned(),
        suppressed_by: o.suppressed_by.map(|s| s.as_str().to_owned()),
        reasons: reasons_json(&o.reasons),
    })
    .unwrap_or_default()
}

/// An offer as a protobuf `vigil.v1.Offer`.
pub fn offer_to_proto(o: &Offer) -> Vec<u8> {
    pb::Offer {
        offer_id: o.offer_id.clone(),
        player_id: o.player_id.clone(),
        brand: o.brand.clone(),
        ts: Some(timestamp(o.ts)),
        offer: o.offer.clone(),
        channel: o.channel.as_str().to_owned(),
        value_cap: o.value_cap,
        reasons: reasons_pb(&o.reasons),
        status: o.status.as_str().to_owned(),
        alert_id: o.alert_id.clone(),
        rule: o.rule.clone(),
        value: o.value,
        priority: o.priority,
        tier: o.tier.as_str().to_owned(),
        manager_id: o.manager_id.clone(),
        suppressed_by: o.suppressed_by.map(|s| s.as_str().to_owned()),
    }
    .encode_to_vec()
}

/// An offer in the given encoding.
pub fn encode_offer(o: &Offer, e: Encoding) -> Vec<u8> {
    match e {
        Encoding::Json => offer_to_json(o).into_bytes(),
        Encoding::Protobuf => offer_to_proto(o),
    }
}

/// Reads an offer back from the given encoding.
pub fn decode_offer(bytes: &[u8], e: Encoding) -> Result<Offer, OutputDecodeError> {
    let j = match e {
        Encoding::Json => serde_json::from_slice::<OfferJson>(bytes)?,
        Encoding::Protobuf => {
            let o = pb::Offer::decode(bytes)?;
            let when = pb_ts(o.ts.as_ref(), "ts")?;
            return Ok(Offer {
                ts: when,
                channel: field(Channel::parse(&o.channel), "channel")?,
                tier: field(Tier::parse(&o.tier), "tier")?,
                status: field(OfferStatus::parse(&o.status), "status")?,
                suppressed_by: suppression(o.suppressed_by.as_deref())?,
                reasons: reasons_from_pb(o.reasons)?,
                offer_id: o.offer_id,
                alert_id: o.alert_id,
                player_id: o.player_id,
                brand: o.brand,
                rule: o.rule,
                offer: o.offer,
                value_cap: o.value_cap,
                value: o.value,
                priority: o.priority,
                manager_id: o.manager_id,
            });
        }
    };
    Ok(Offer {
        ts: ts(&j.ts, "ts")?,
        channel: field(Channel::parse(&j.channel), "channel")?,
        tier: field(Tier::parse(&j.tier), "tier")?,
        status: field(OfferStatus::parse(&j.status), "status")?,
        suppressed_by: suppression(j.suppressed_by.as_deref())?,
        reasons: reasons_from_json(j.reasons)?,
        offer_id: j.offer_id,
        alert_id: j.alert_id,
        player_id: j.player_id,
        brand: j.brand,
        rule: j.rule,
        offer: j.offer,
        value_cap: j.value_cap,
        value: j.value,
        priority: j.priority,
        manager_id: j.manager_id,
    })
}

fn source_of(group: &str, alert_kind: Option<vigil_domain::AlertKind>) -> Option<Source> {
    match group {
        "alert" => alert_kind.map(Source::Alert),
        "treated" => Some(Source::Offer { treated: true }),
        "held_out" => Some(Source::Offer { treated: false }),
        _ => None,
    }
}

/// An outcome as one JSON object.
pub fn outcome_to_json(o: &Outcome) -> String {
    serde_json::to_string(&OutcomeJson {
        outcome_id: o.outcome_id.clone(),
        source_id: o.source_id.clone(),
        group: o.source.group().to_owned(),
        alert_kind: match o.source {
            Source::Alert(k) => Some(k.as_str().to_owned()),
            Source::Offer { .. } => None,
        },
        player_id: o.player_id.clone(),
        brand: o.brand.clone(),
        started: o.started.to_string(),
        ts: o.ts.to_string(),
        score_before: round2(o.score_before),
        score_after: round2(o.score_after),
        band_before: o.band_before.as_str().to_owned(),
        band_after: o.band_after.as_str().to_owned(),
        recovered: o.recovered,
    })
    .unwrap_or_default()
}

/// An outcome as a protobuf `vigil.v1.Outcome`.
pub fn outcome_to_proto(o: &Outcome) -> Vec<u8> {
    pb::Outcome {
        outcome_id: o.outcome_id.clone(),
        source_id: o.source_id.clone(),
        group: o.source.group().to_owned(),
        alert_kind: match o.source {
            Source::Alert(k) => kind_pb(k),
            Source::Offer { .. } => 0,
        },
        player_id: o.player_id.clone(),
        brand: o.brand.clone(),
        started: Some(timestamp(o.started)),
        ts: Some(timestamp(o.ts)),
        score_before: o.score_before,
        score_after: o.score_after,
        band_before: band_pb(o.band_before),
        band_after: band_pb(o.band_after),
        recovered: o.recovered,
    }
    .encode_to_vec()
}

/// An outcome in the given encoding.
pub fn encode_outcome(o: &Outcome, e: Encoding) -> Vec<u8> {
    match e {
        Encoding::Json => outcome_to_json(o).into_bytes(),
        Encoding::Protobuf => outcome_to_proto(o),
    }
}

/// Reads an outcome back from the given encoding.
pub fn decode_outcome(bytes: &[u8], e: Encoding) -> Result<Outcome, OutputDecodeError> {
    match e {
        Encoding::Json => {
            let j: OutcomeJson = serde_json::from_slice(bytes)?;
            let kind = j
                .alert_kind
                .as_deref()
                .map(|k| field(vigil_domain::AlertKind::parse(k), "alert_kind"))
                .transpose()?;
            Ok(Outcome {
                source: field(source_of(&j.group, kind), "group")?,
                started: ts(&j.started, "started")?,
                ts: ts(&j.ts, "ts")?,
                band_before: field(Band::parse(&j.band_before), "band_before")?,
                band_after: field(Band::parse(&j.band_after), "band_after")?,
                outcome_id: j.outcome_id,
                source_id: j.source_id,
                player_id: j.player_id,
                brand: j.brand,
                score_before: j.score_before,
                score_after: j.score_after,
                recovered: j.recovered,
            })
        }
        Encoding::Protobuf => {
            let o = pb::Outcome::decode(bytes)?;
            Ok(Outcome {
                source: field(source_of(&o.group, kind_from_pb(o.alert_kind)), "group")?,
                started: pb_ts(o.started.as_ref(), "started")?,
                ts: pb_ts(o.ts.as_ref(), "ts")?,
                band_before: band_from_pb(o.band_before, "band_before")?,
                band_after: band_from_pb(o.band_after, "band_after")?,
                outcome_id: o.outcome_id,
                source_id: o.source_id,
                player_id: o.player_id,
                brand: o.brand,
                score_before: o.score_before,
                score_after: o.score_after,
                recovered: o.recovered,
            })
        }
    }
}

/// A profile record: whose, and the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRecord {
    pub player_id: String,
    pub brand: String,
    pub profile: Profile,
}

/// Why a profile record cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("invalid field `{field}`: {problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
}

impl ProfileError {
    /// A short, fixed code for metrics and dead-letter headers.
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::Json(_) => "invalid_json",
            ProfileError::Protobuf(_) => "invalid_protobuf",
            ProfileError::Field { .. } => "invalid_field",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ProfileJson {
    player_id: String,
    brand: String,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    manager_id: Option<String>,
    #[serde(default)]
    segments: Vec<String>,
    #[serde(default)]
    opt_outs: Vec<String>,
}

fn profile_from_parts(
    player_id: String,
    brand: String,
    tier: Option<&str>,
    manager_id: Option<String>,
    segments: Vec<String>,
    opt_outs: &[String],
) -> Result<ProfileRecord, ProfileError> {
    let bad = |field: &'static str, problem: String| ProfileError::Field { field, problem };
    if player_id.is_empty() {
        return Err(bad("player_id", "must not be empty".into()));
    }
    if brand.is_empty() {
        return Err(bad("brand", "must not be empty".into()));
    }
    let tier = match tier.filter(|t| !t.is_empty()) {
        None => Tier::Regular,
        Some(t) => Tier::parse(t).ok_or_else(|| {
            bad(
                "tier",
                format!("unknown tier `{t}` (expected regular, vip or high_roller)"),
            )
        })?,
    };
    let opt_outs =
        OptOuts::parse(opt_outs.iter().map(String::as_str)).map_err(|p| bad("opt_outs", p))?;
    Ok(ProfileRecord {
        player_id,
        brand,
        profile: Profile {
            tier,
            manager_id: manager_id.filter(|m| !m.is_empty()),
            segments,
            opt_outs,
        },
    })
}

/// Decodes a profile record (`vigil.v1.PlayerProfile` or its JSON form).
pub fn decode_profile(bytes: &[u8], e: Encoding) -> Result<ProfileRecord, ProfileError> {
    match e {
        Encoding::Json => {
            let j: ProfileJson = serde_json::from_slice(bytes)?;
            profile_from_parts(
                j.player_id,
                j.brand,
                j.tier.as_deref(),
                j.manager_id,
                j.segments,
                &j.opt_outs,
            )
        }
        Encoding::Protobuf => {
            let p = pb::PlayerProfile::decode(bytes)?;
            profile_from_parts(
                p.player_id,
                p.brand,
                Some(&p.tier),
                p.manager_id,
                p.segments,
                &p.opt_outs,
            )
        }
    }
}

/// Encodes a profile record (for tools and tests that play the CRM).
pub fn encode_profile(r: &ProfileRecord, e: Encoding) -> Vec<u8> {
    let opt_outs: Vec<String> = r
        .profile
        .opt_outs
        .names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    match e {
        Encoding::Json => serde_json::to_vec(&ProfileJson {
            player_id: r.player_id.clone(),
            brand: r.brand.clone(),
            tier: Some(r.profile.tier.as_str().to_owned()),
            manager_id: r.profile.manager_id.clone(),
            segments: r.profile.segments.clone(),
            opt_outs,
        })
        .unwrap_or_default(),
        Encoding::Protobuf => pb::PlayerProfile {
            player_id: r.player_id.clone(),
            brand: r.brand.clone(),
            tier: r.profile.tier.as_str().to_owned(),
            manager_id: r.profile.manager_id.clone(),
            segments: r.profile.segments.clone(),
            opt_outs,
        }
        .encode_to_vec(),
    }
}
