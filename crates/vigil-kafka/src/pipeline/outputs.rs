//! How engine outputs become records: one topic per kind of output, each
//! with its encoding, the key that keeps a player's records in order, and
//! the headers integrators route on.

use std::borrow::Cow;
use std::sync::Arc;

use vigil_codec::output::Encoding;
use vigil_domain::Output;

use super::{Kind, OutRecord, content_type};
use crate::config::TopicsConfig;

/// The output topics and their encodings, shared read-only by every worker.
#[derive(Debug, Clone)]
pub(super) struct Sinks {
    pub(super) alerts: Arc<str>,
    alerts_encoding: Encoding,
    pub(super) scores: Arc<str>,
    scores_encoding: Encoding,
    pub(super) offers: Arc<str>,
    offers_encoding: Encoding,
    pub(super) outcomes: Arc<str>,
    outcomes_encoding: Encoding,
    pub(super) dead_letter: Arc<str>,
    publish_scores: bool,
}

impl Sinks {
    pub(super) fn new(t: &TopicsConfig, publish_scores: bool) -> Self {
        Sinks {
            alerts: t.alerts.name.as_str().into(),
            alerts_encoding: t.alerts.encoding,
            scores: t.scores.name.as_str().into(),
            scores_encoding: t.scores.encoding,
            offers: t.offers.name.as_str().into(),
            offers_encoding: t.offers.encoding,
            outcomes: t.outcomes.name.as_str().into(),
            outcomes_encoding: t.outcomes.encoding,
            dead_letter: t.dead_letter.as_str().into(),
            publish_scores,
        }
    }

    /// Turns outputs into records, draining `outputs` (its capacity is
    /// kept for the next message); nothing is published for `suppressed`
    /// outputs (a previous owner published them).
    pub(super) fn records(
        &self,
        outputs: &mut Vec<Output>,
        suppressed: bool,
        out: &mut Vec<OutRecord>,
    ) {
        if suppressed {
            outputs.clear();
            return;
        }
        out.extend(outputs.drain(..).filter_map(|o| self.record(o)));
    }

    /// One output's record (`None` for a score when scores are not
    /// published).
    pub(super) fn record(&self, o: Output) -> Option<OutRecord> {
        Some(match o {
            Output::Alert(a) => OutRecord {
                topic: self.alerts.clone(),
                partition: None,
                key: Some(a.player_id.clone().into_bytes()),
                payload: vigil_codec::output::encode_alert(&a, self.alerts_encoding),
                headers: vec![
                    ("vigil.alert_id", a.alert_id.clone().into_bytes().into()),
                    ("vigil.kind", a.kind.as_str().as_bytes().into()),
                    (
                        "content-type",
                        Cow::Borrowed(content_type(self.alerts_encoding).as_bytes()),
                    ),
                ],
                kind: Kind::Alert {
                    kind: a.kind.as_str(),
                    band: a.band,
                    event_ts: a.ts,
                },
            },
            Output::Score(s) => {
                if !self.publish_scores {
                    return None;
                }
                let payload = vigil_codec::output::encode_score(&s, self.scores_encoding);
                let kind = Kind::Score {
                    band: s.band,
                    event_ts: s.ts,
                };
                OutRecord {
                    topic: self.scores.clone(),
                    partition: None,
                    // The record is the score's last use: its id moves.
                    key: Some(s.player_id.into_bytes()),
                    payload,
                    // No headers: the value's encoding is the topic's
                    // (`topics.scores.encoding`), the same on every record.
                    // A score record is published for about every seven
                    // events, and librdkafka's handling of a header (made,
                    // copied into the batch, freed, one allocation each)
                    // cost 8 % of the pipeline's CPU per event in the
                    // pipeline bench, for a constant.
                    headers: Vec::new(),
                    kind,
                }
            }
            Output::Offer(o) => {
                let enc = self.offers_encoding;
                OutRecord {
                    topic: self.offers.clone(),
                    partition: None,
                    key: Some(o.player_id.clone().into_bytes()),
                    payload: vigil_codec::retention::encode_offer(&o, enc),
                    headers: vec![
                        ("vigil.offer_id", o.offer_id.clone().into_bytes().into()),
                        ("vigil.status", o.status.as_str().as_bytes().into()),
                        ("content-type", Cow::Borrowed(content_type(enc).as_bytes())),
                    ],
                    kind: Kind::Offer {
                        status: o.status,
                        channel: o.channel,
                        event_ts: o.ts,
                    },
                }
            }
            Output::Outcome(o) => {
                let enc = self.outcomes_encoding;
                OutRecord {
                    topic: self.outcomes.clone(),
                    partition: None,
                    key: Some(o.player_id.clone().into_bytes()),
                    payload: vigil_codec::retention::encode_outcome(&o, enc),
                    headers: vec![
                        ("vigil.outcome_id", o.outcome_id.clone().into_bytes().into()),
                        ("content-type", Cow::Borrowed(content_type(enc).as_bytes())),
                    ],
                    kind: Kind::Outcome {
                        group: o.source.group(),
                        recovered: o.recovered,
                        event_ts: o.ts,
                    },
                }
            }
        })
    }
}
