//! Helpers the domain's scenario tests share: a start time, amounts in
//! euros and events of one brand.

#![allow(dead_code)]

use vigil_domain::{
    Alert, Currency, Money, Offer, Outcome, Output, Payload, PlayerEvent, Timestamp,
};

/// 2026-09-21, a Monday-ish start.
pub const T0: i64 = 1_790_000_000_000;

pub fn eur(amount: f64) -> Money {
    Money {
        amount,
        currency: Currency::parse("EUR").unwrap(),
    }
}

/// An event of brand `casino-a`.
pub fn ev(id: impl Into<String>, player: &str, ts: i64, payload: Payload) -> PlayerEvent {
    PlayerEvent {
        event_id: id.into().into(),
        player_id: player.into(),
        brand: "casino-a".into(),
        ts: Timestamp::from_millis(ts),
        payload,
    }
}

/// The alerts among `out`.
pub fn alerts(out: &[Output]) -> Vec<&Alert> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// The offers among `out`.
pub fn offers(out: &[Output]) -> Vec<&Offer> {
    out.iter()
        .filter_map(|o| match o {
            Output::Offer(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// The outcomes among `out`.
pub fn outcomes(out: &[Output]) -> Vec<&Outcome> {
    out.iter()
        .filter_map(|o| match o {
            Output::Outcome(a) => Some(a),
            _ => None,
        })
        .collect()
}
