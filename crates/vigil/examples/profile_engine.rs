//! Feeds a synthetic population through one engine and prints events/s: a
//! quick target for `perf record` when the engine bench moves.

#![allow(clippy::print_stdout)]

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use vigil_domain::{Engine, EngineConfig};
use vigil_sim::{Population, SimConfig};

fn main() {
    let players: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let events: Vec<_> = Population::new(SimConfig {
        seed: 11,
        players,
        days: 14,
        ..SimConfig::default()
    })
    .events()
    .collect();
    let mut cfg = EngineConfig::default();
    if std::env::var_os("NO_SCORES").is_some() {
        cfg.scores.min_delta = 100.0;
        cfg.scores.heartbeat = std::time::Duration::from_secs(365 * 86_400);
    }
    let mut engine = Engine::new(cfg).expect("defaults are valid");
    let mut out = Vec::new();
    let n = events.len();
    let start = Instant::now();
    for e in events {
        let _ = engine.ingest(e, &mut out);
        out.clear();
    }
    engine.flush(&mut out);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} events, {players} players: {:.0} events/s; {:?}",
        n as f64 / secs,
        engine.stats()
    );
}
