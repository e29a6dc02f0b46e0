//! What the fuzz targets share: driving an engine with whatever decoded,
//! and holding a checkpoint's records to what the codec gives back.
//!
//! A target fails on a panic (the service must never panic on data), and
//! on a broken promise between the codec and the engine: a record the
//! engine hands out must encode, decode and restore into the same player.

pub mod settings;

use std::time::Duration;

use vigil_codec::changelog::{self, Entry};
use vigil_codec::snapshot::encode_snapshot;
use vigil_domain::{Engine, EngineConfig, Output, PlayerEvent, PlayerRecord, Timestamp};

/// The input topic the changelog keys name.
pub const TOPIC: &str = "fuzz-events";

/// An engine with the default configuration, as `vigil run` starts one.
pub fn engine() -> Engine {
    Engine::new(EngineConfig::default()).expect("the default configuration is valid")
}

/// Ingests the events, lets eight weeks pass in two-day steps so every
/// timer and silence rule gets its turn, and flushes.
pub fn drive(engine: &mut Engine, events: impl IntoIterator<Item = PlayerEvent>) {
    let mut out = Vec::new();
    for e in events {
        let _ = engine.ingest(e, &mut out);
    }
    pass(engine, Duration::from_secs(56 * 86_400), &mut out);
    engine.flush(&mut out);
}

/// Advances the engine's clock by `span` in two-day steps.
pub fn pass(engine: &mut Engine, span: Duration, out: &mut Vec<Output>) {
    let step = Duration::from_secs(2 * 86_400);
    let end = engine.clock().saturating_add(span).min(Timestamp::MAX);
    let mut t = engine.clock();
    while t < end {
        t = t.saturating_add(step).min(end);
        engine.advance_to(t, out);
    }
}

/// Takes the engine's changes, sends each through the changelog codec and
/// restores them into a fresh engine; every player must come back exactly.
pub fn checkpoint_round_trip(engine: &mut Engine) {
    let cfg = engine.config().clone();
    let mut restored = Engine::new(cfg).expect("a running engine's configuration is valid");
    let mut records: Vec<PlayerRecord> = Vec::new();
    engine.take_changes(&mut records);
    let clock = engine.clock_state();
    let key = changelog::clock_key(TOPIC);
    let value = changelog::encode_clock(clock, 7);
    let (_, entry) = changelog::decode_key(&key)
        .and_then(|k| changelog::decode_value(&k, &value))
        .expect("an engine's clock record decodes");
    match entry {
        Entry::Clock(c) => {
            assert_eq!(c, clock, "the clock record changed on its way");
            restored.restore_clock(c);
        }
        Entry::Player(_) => panic!("a clock key decoded as a player"),
    }
    for rec in &records {
        let key = changelog::player_key(TOPIC, &rec.brand, &rec.player_id);
        let value = changelog::encode_player(rec, 7);
        let (through, entry) = changelog::decode_key(&key)
            .and_then(|k| changelog::decode_value(&k, &value))
            .expect("a record the engine handed out decodes");
        assert_eq!(through, 7);
        let Entry::Player(back) = entry else {
            panic!("a player key decoded as a clock")
        };
        // Compared as the format writes them: a state restored from a
        // hostile record may hold what the format reads as nothing (an
        // offer slot with no time is a free slot), and the brand's index
        // is the engine's own.
        assert_eq!(
            changelog::encode_player(&back, 7),
            value,
            "the record changed on its way"
        );
        restored
            .restore(*back)
            .expect("a record the engine handed out restores");
    }
    for rec in records.iter().filter(|r| r.state.is_some()) {
        let a = engine.export(&rec.brand, &rec.player_id);
        let b = restored.export(&rec.brand, &rec.player_id);
        assert_eq!(
            a.as_ref().map(encode_snapshot),
            b.as_ref().map(encode_snapshot),
            "a restored player differs"
        );
    }
}

/// Splits fuzz input into length-prefixed pieces (a little-endian `u16`
/// length, then that many bytes; the last piece takes what is left).
pub fn pieces(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let n = u16::from_le_bytes([data[0], data[1]]) as usize;
        let rest = &data[2..];
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

/// Joins pieces the way [`pieces`] splits them.
pub fn join(pieces: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        let n = u16::try_from(p.len()).expect("a piece shorter than 64 KiB");
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}
