//! What a takeover costs: changelog bytes, and the time to turn a
//! partition's changelog back into a running engine.
//!
//! Builds an engine of N players (a week of logins and bets each, written
//! to the changelog in batches of 10,000 events as the pipeline does), then
//! decodes the latest record of every player and restores them into a
//! fresh engine, as `vigil-kafka`'s restore does after reading the topic.
//! The broker read itself is not included (see `scripts/bench-pipeline.sh`
//! for broker figures).
//!
//! Run: `cargo bench -p vigil --bench restore` (add `-- 1000000` for sizes).

// A bench binary reports its figures on stdout.
#![allow(clippy::print_stdout)]

mod support;

use std::collections::HashMap;
use std::time::Instant;

use vigil_codec::changelog;
use vigil_domain::{Engine, EngineConfig};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 10_000;
const DAYS: i64 = 7;

fn run(players: u32) {
    let mut engine = Engine::new(EngineConfig::default()).expect("default config is valid");
    let t0 = 1_790_000_000_000i64;
    let (mut out, mut records) = (Vec::new(), Vec::new());
    let mut latest: HashMap<Vec<u8>, Vec<u8>> = HashMap::with_capacity(players as usize);
    let (mut events, mut written, mut bytes) = (0u64, 0u64, 0u64);
    let mut flush = |engine: &mut Engine, through: i64, latest: &mut HashMap<Vec<u8>, Vec<u8>>| {
        engine.take_changes(&mut records);
        for r in records.drain(..) {
            let key = changelog::player_key("events", &r.brand, &r.player_id);
            let value = changelog::encode_player(&r, through);
            written += 1;
            bytes += (key.len() + value.len()) as u64;
            latest.insert(key, value);
        }
    };
    for day in 0..DAYS {
        for p in 0..players {
            let ts = t0 + day * 86_400_000 + (p as i64 % 86_400) * 1000;
            for event in support::visit(p, day, ts, 5.0) {
                engine.ingest(event, &mut out).expect("valid event");
                out.clear();
                events += 1;
                if events % BATCH as u64 == 0 {
                    flush(&mut engine, events as i64, &mut latest);
                }
            }
        }
    }
    flush(&mut engine, events as i64, &mut latest);
    let clock = engine.clock_state();
    drop(engine);
    let live: u64 = latest.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();

    let started = Instant::now();
    let mut restored = Engine::new(EngineConfig::default()).expect("default config is valid");
    restored.restore_clock(clock);
    for (k, v) in &latest {
        let key = changelog::decode_key(k).expect("own key");
        let (_, entry) = changelog::decode_value(&key, v).expect("own record");
        if let changelog::Entry::Player(r) = entry {
            restored.restore(*r).expect("restorable");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(restored.player_count(), players as usize);
    println!(
        "{players:>9} players: {events} events, {written} changelog records, \
         {:.1} B/input event written; latest per player {:.0} B ({:.0} MB); \
         decode+restore {:.2} s ({:.2} M players/s)",
        bytes as f64 / events as f64,
        live as f64 / players as f64,
        live as f64 / 1e6,
        secs,
        players as f64 / secs / 1e6,
    );
}

fn main() {
    let sizes = support::sizes(&[100_000, 1_000_000], 10_000);
    for n in sizes {
        run(n);
    }
}
