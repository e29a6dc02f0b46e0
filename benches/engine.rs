//! Engine throughput on decoded events: a synthetic population replayed
//! through one engine on one core, reported as events per second
//! (`Throughput::Elements`). Decoding is excluded; the events are
//! generated up front.
//!
//! Two groups: `engine` in wall-clock time (criterion's default) and
//! `engine-cpu` in this thread's CPU time (Linux `schedstat`). On a machine
//! shared with other work the wall clock also counts the turns of other
//! processes; the CPU time is what one core spends on the events.
//!
//! Run: `cargo bench -p vigil --bench engine`.

/// The allocator the `vigil` binary uses, so the figure is the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
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

/// This thread's CPU time, in nanoseconds, from `/proc/thread-self/schedstat`
/// (0 where that cannot be read, which makes the figures obviously wrong
/// rather than quietly wall-clock).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Criterion measurement in thread CPU time.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Seconds of CPU, and elements per CPU second.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for v in values {
            *v /= 1e9;
        }
        "s (CPU)"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let n = match *throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n,
            Throughput::Bits(n) => n,
        } as f64;
        for v in values {
            *v = n * 1e9 / *v / 1e6;
        }
        "M/s (CPU)"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn run<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    // `cargo test --benches` runs each bench once: keep that small.
    let full = std::env::args().any(|a| a == "--bench");
    let (players, days) = if full { (100_000, 6) } else { (2_000, 5) };
    let events = population(players, days);
    let mut group = c.benchmark_group(group);
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

fn bench(c: &mut Criterion<WallTime>) {
    run(c, "engine");
}

fn bench_cpu(c: &mut Criterion<CpuTime>) {
    run(c, "engine-cpu");
}

criterion_group!(benches, bench);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_cpu
}
criterion_main!(benches, cpu);
