//! Engine throughput on decoded events: a synthetic population replayed
//! through one engine on one core, reported as events per second
//! (`Throughput::Elements`). Decoding is excluded; the events are
//! generated up front.
//!
//! Run: `cargo bench -p vigil --bench engine`.

/// The allocator the `vigil` binary uses, so the figure is the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vigil_domain::{Engine, EngineConfig, PlayerEvent};
use vigil_sim::{Population, SimConfig};

fn population(players: u32, days: u32) -> Vec<PlayerEvent> {
    Population::new(SimConfig {
        seed: 11,
        players,
        days,
        ..SimConfig::default()
    })
    .events()
    .collect()
}

fn bench(c: &mut Criterion) {
    // `cargo test --benches` runs each bench once: keep that small.
    let full = std::env::args().any(|a| a == "--bench");
    let (players, days) = if full { (100_000, 6) } else { (2_000, 5) };
    let events = population(players, days);
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.bench_function(
        format!("ingest {} events, {players} players", events.len()),
        |b| {
            b.iter_batched(
                || {
                    (
                        Engine::new(EngineConfig::default()).expect("defaults are valid"),
                        events.clone(),
                    )
                },
                |(mut engine, events)| {
                    let mut out = Vec::with_capacity(1024);
                    for e in events {
                        let _ = engine.ingest(e, &mut out);
                        out.clear();
                    }
                    engine.flush(&mut out);
                    engine
                },
                BatchSize::PerIteration,
            )
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
