//! Encoding of what vigil publishes (alerts, score records) as JSON or
//! protobuf, and decoding them back (for consumers' tests and tools).
//!
//! JSON numbers are rounded to two decimals: stable, readable output that
//! diffs cleanly between replays.

use std::fmt;
use std::str::FromStr;

use prost::Message;
use serde::{Deserialize, Serialize};
use vigil_domain::{Alert, AlertKind, Band, Reason, ScoreRecord, Signal, Tier};
use vigil_proto::v1 as pb;

use crate::proto::{from_timestamp, timestamp};

mod score_json;

/// How a topic's values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Json,
    Protobuf,
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Encoding::Json),
            "protobuf" | "proto" => Ok(Encoding::Protobuf),
            other => Err(format!(
                "unknown encoding `{other}` (expected json or protobuf)"
            )),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Json => "json",
            Encoding::Protobuf => "protobuf",
        })
    }
}

/// Why an output record could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum OutputDecodeError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("invalid field `{0}`")]
    Field(&'static str),
}

/// Rounds to two decimals for JSON. Adding 0.0 turns a rounded -0.0 into
/// 0.0, so a tiny negative contribution does not print as `-0.0`.
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ReasonJson {
    signal: String,
    value: f64,
    baseline: f64,
    change_pct: Option<f64>,
    contribution: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct AlertJson {
    alert_id: String,
    player_id: String,
    brand: String,
    kind: String,
    ts: String,
    score: f64,
    prev_score: f64,
    band: String,
    prev_band: String,
    reasons: Vec<ReasonJson>,
    #[serde(default = "regular")]
    tier: String,
    #[serde(default)]
    manager_id: Option<String>,
    #[serde(default)]
    value: f64,
    #[serde(default)]
    priority: f64,
}

fn regular() -> String {
    Tier::Regular.as_str().to_owned()
}

#[derive(Debug, Serialize, Deserialize)]
struct ScoreJson {
    player_id: String,
    brand: String,
    ts: String,
    score: f64,
    band: String,
    baseline_ready: bool,
    reasons: Vec<ReasonJson>,
}

pub(crate) fn reasons_json(r: &[Reason]) -> Vec<ReasonJson> {
    r.iter()
        .map(|r| ReasonJson {
            signal: r.signal.as_str().to_owned(),
            value: round2(r.value),
            baseline: round2(r.baseline),
            change_pct: r.change_pct.map(round2),
            contribution: round2(r.contribution),
        })
        .collect()
}

/// A reason read back from either encoding.
fn reason(
    signal: &str,
    value: f64,
    baseline: f64,
    change_pct: Option<f64>,
    contribution: f64,
) -> Result<Reason, OutputDecodeError> {
    let signal = Signal::parse(signal).ok_or(OutputDecodeError::Field("reasons.signal"))?;
    Ok(Reason {
        signal,
        value,
        baseline,
        change_pct,
        contribution,
    })
}

pub(crate) fn reasons_from_json(r: Vec<ReasonJson>) -> Result<Vec<Reason>, OutputDecodeError> {
    r.into_iter()
        .map(|r| reason(&r.signal, r.value, r.baseline, r.change_pct, r.contribution))
        .collect()
}

/// An alert as one JSON object (no trailing newline).
pub fn alert_to_json(a: &Alert) -> String {
    serde_json::to_string(&AlertJson {
        alert_id: a.alert_id.clone(),
        player_id: a.player_id.clone(),
        brand: a.brand.clone(),
        kind: a.kind.as_str().to_owned(),
        ts: a.ts.to_string(),
        score: round2(a.score),
        prev_score: round2(a.prev_score),
        band: a.band.as_str().to_owned(),
        prev_band: a.prev_band.as_str().to_owned(),
        reasons: reasons_json(&a.reasons),
        tier: a.tier.as_str().to_owned(),
        manager_id: a.manager_id.clone(),
        value: round2(a.value),
        priority: round2(a.priority),
    })
    .unwrap_or_default()
}

/// A score record as one JSON object (no trailing newline).
pub fn score_to_json(s: &ScoreRecord) -> String {
    // serde_json writes valid UTF-8.
    String::from_utf8(score_json::write(s)).unwrap_or_default()
}

/// Reads an alert back from its JSON form.
pub fn decode_alert_json(bytes: &[u8]) -> Result<Alert, OutputDecodeError> {
    let a: AlertJson = serde_json::from_slice(bytes)?;
    Ok(Alert {
        kind: AlertKind::parse(&a.kind).ok_or(OutputDecodeError::Field("kind"))?,
        ts: crate::rfc3339::parse(&a.ts).ok_or(OutputDecodeError::Field("ts"))?,
        band: Band::parse(&a.band).ok_or(OutputDecodeError::Field("band"))?,
        prev_band: Band::parse(&a.prev_band).ok_or(OutputDecodeError::Field("prev_band"))?,
        reasons: reasons_from_json(a.reasons)?,
        tier: Tier::parse(&a.tier).ok_or(OutputDecodeError::Field("tier"))?,
        manager_id: a.manager_id,
        value: a.value,
        priority: a.priority,
        alert_id: a.alert_id,
        player_id: a.player_id,
        brand: a.brand,
        score: a.score,
        prev_score: a.prev_score,
    })
}

/// Reads a score record back from its JSON form.
pub fn decode_score_json(bytes: &[u8]) -> Result<ScoreRecord, OutputDecodeError> {
    let s: ScoreJson = serde_json::from_slice(bytes)?;
    Ok(ScoreRecord {
        ts: crate::rfc3339::parse(&s.ts).ok_or(OutputDecodeError::Field("ts"))?,
        band: Band::parse(&s.band).ok_or(OutputDecodeError::Field("band"))?,
        reasons: reasons_from_json(s.reasons)?,
        player_id: s.player_id,
        brand: s.brand,
        score: s.score,
        baseline_ready: s.baseline_ready,
    })
}

pub(crate) fn band_pb(b: Band) -> i32 {
    match b {
        Band::Green => pb::Band::Green as i32,
        Band::Yellow => pb::Band::Yellow as i32,
        Band::Red => pb::Band::Red as i32,
    }
}

pub(crate) fn band_from_pb(n: i32, field: &'static str) -> Result<Band, OutputDecodeError> {
    match pb::Band::try_from(n) {
        Ok(pb::Band::Green) => Ok(Band::Green),
        Ok(pb::Band::Yellow) => Ok(Band::Yellow),
        Ok(pb::Band::Red) => Ok(Band::Red),
        Ok(pb::Band::Unspecified) | Err(_) => Err(OutputDecodeError::Field(field)),
    }
}

pub(crate) fn kind_pb(k: AlertKind) -> i32 {
    (match k {
        AlertKind::BandChange => pb::AlertKind::BandChange,
        AlertKind::UsageDrop => pb::AlertKind::UsageDrop,
        AlertKind::Inactivity => pb::AlertKind::Inactivity,
        AlertKind::RgRisk => pb::AlertKind::RgRisk,
        AlertKind::SlaBreach => pb::AlertKind::SlaBreach,
    }) as i32
}

pub(crate) fn kind_from_pb(n: i32) -> Option<AlertKind> {
    Some(match pb::AlertKind::try_from(n).ok()? {
        pb::AlertKind::BandChange => AlertKind::BandChange,
        pb::AlertKind::UsageDrop => AlertKind::UsageDrop,
        pb::AlertKind::Inactivity => AlertKind::Inactivity,
        pb::AlertKind::RgRisk => AlertKind::RgRisk,
        pb::AlertKind::SlaBreach => AlertKind::SlaBreach,
        pb::AlertKind::Unspecified => return None,
    })
}

pub(crate) fn reasons_pb(r: &[Reason]) -> Vec<pb::Reason> {
    r.iter()
        .map(|r| pb::Reason {
            signal: r.signal.as_str().to_owned(),
            value: r.value,
            baseline: r.baseline,
            change_pct: r.change_pct,
            contribution: r.contribution,
        })
        .collect()
}

pub(crate) fn reasons_from_pb(r: Vec<pb::Reason>) -> Result<Vec<Reason>, OutputDecodeError> {
    r.into_iter()
        .map(|r| reason(&r.signal, r.value, r.baseline, r.change_pct, r.contribution))
        .collect()
}

/// An alert as a protobuf `vigil.v1.Alert` (full precision).
pub fn alert_to_proto(a: &Alert) -> Vec<u8> {
    pb::Alert {
        alert_id: a.alert_id.clone(),
        player_id: a.player_id.clone(),
        brand: a.brand.clone(),
        kind: kind_pb(a.kind),
        ts: Some(timestamp(a.ts)),
        score: a.score,
        prev_score: a.prev_score,
        band: band_pb(a.band),
        prev_band: band_pb(a.prev_band),
        reasons: reasons_pb(&a.reasons),
        tier: a.tier.as_str().to_owned(),
        manager_id: a.manager_id.clone(),
        value: a.value,
        priority: a.priority,
    }
    .encode_to_vec()
}

/// A score record as a protobuf `vigil.v1.ScoreRecord`.
pub fn score_to_proto(s: &ScoreRecord) -> Vec<u8> {
    pb::ScoreRecord {
        player_id: s.player_id.clone(),
        brand: s.brand.clone(),
        ts: Some(timestamp(s.ts)),
        score: s.score,
        band: band_pb(s.band),
        baseline_ready: s.baseline_ready,
        reasons: reasons_pb(&s.reasons),
    }
    .encode_to_vec()
}

/// Reads an alert back from protobuf.
pub fn decode_alert_proto(bytes: &[u8]) -> Result<Alert, OutputDecodeError> {
    let a = pb::Alert::decode(bytes)?;
    let kind = kind_from_pb(a.kind).ok_or(OutputDecodeError::Field("kind"))?;
    let tier = if a.tier.is_empty() {
        Tier::Regular
    } else {
        Tier::parse(&a.tier).ok_or(OutputDecodeError::Field("tier"))?
    };
    Ok(Alert {
        kind,
        ts: a
            .ts
            .as_ref()
            .map(from_timestamp)
            .ok_or(OutputDecodeError::Field("ts"))?,
        band: band_from_pb(a.band, "band")?,
        prev_band: band_from_pb(a.prev_band, "prev_band")?,
        reasons: reasons_from_pb(a.reasons)?,
        tier,
        manager_id: a.manager_id,
        value: a.value,
        priority: a.priority,
        alert_id: a.alert_id,
        player_id: a.player_id,
        brand: a.brand,
        score: a.score,
        prev_score: a.prev_score,
    })
}

/// Reads a score record back from protobuf.
pub fn decode_score_proto(bytes: &[u8]) -> Result<ScoreRecord, OutputDecodeError> {
    let s = pb::ScoreRecord::decode(bytes)?;
    Ok(ScoreRecord {
        ts: s
            .ts
            .as_ref()
            .map(from_timestamp)
            .ok_or(OutputDecodeError::Field("ts"))?,
        band: band_from_pb(s.band, "band")?,
        reasons: reasons_from_pb(s.reasons)?,
        player_id: s.player_id,
        brand: s.brand,
        score: s.score,
        baseline_ready: s.baseline_ready,
    })
}

/// Reads an alert back from the given encoding.
pub fn decode_alert(bytes: &[u8], e: Encoding) -> Result<Alert, OutputDecodeError> {
    match e {
        Encoding::Json => decode_alert_json(bytes),
        Encoding::Protobuf => decode_alert_proto(bytes),
    }
}

/// Reads a score record back from the given encoding.
pub fn decode_score(bytes: &[u8], e: Encoding) -> Result<ScoreRecord, OutputDecodeError> {
    match e {
        Encoding::Json => decode_score_json(bytes),
        Encoding::Protobuf => decode_score_proto(bytes),
    }
}

/// An alert in the given encoding.
pub fn encode_alert(a: &Alert, e: Encoding) -> Vec<u8> {
    match e {
        Encoding::Json => alert_to_json(a).into_bytes(),
        Encoding::Protobuf => alert_to_proto(a),
    }
}

/// A score record in the given encoding.
pub fn encode_score(s: &ScoreRecord, e: Encoding) -> Vec<u8> {
    match e {
        Encoding::Json => score_json::write(s),
        Encoding::Protobuf => score_to_proto(s),
    }
}
