//! Generation throughput of the merged stream, in events per second
//! (`Throughput::Elements`): the engine benchmark generates millions of
//! events up front, so this must stay far faster than the engine.
//!
//! Run: `cargo bench -p vigil-sim --bench generate`.

/// The allocator the `vigil` binary and the engine benches use: every
/// event owns three or four small strings, so the allocator is part of
/// the figure.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_sim::{Population, SimConfig};

fn bench(c: &mut Criterion) {
    // `cargo test --benches` runs each bench once: keep that small.
    let full = std::env::args().any(|a| a == "--bench");
    let (players, days) = if full { (100_000, 3) } else { (500, 3) };
    let pop = Population::new(SimConfig {
        seed: 11,
        players,
        days,
        ..SimConfig::default()
    });
    let n = pop.events().count();
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function(format!("generate {n} events, {players} players"), |b| {
        b.iter(|| pop.events().count())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
