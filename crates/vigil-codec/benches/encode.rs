//! Output encoder throughput, as records per second on one core: every
//! score record the engine publishes is encoded on the pipeline's hot
//! path (about one for every seven input events in the pipeline bench).
//!
//! Run: `cargo bench -p vigil-codec --bench encode`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use vigil_codec::output::{Encoding, encode_score};
use vigil_domain::signal::{Reason, Signal};
use vigil_domain::{Band, ScoreRecord, Timestamp};

/// Score records shaped like the engine's: one to three reasons, values
/// of the sizes the signals take (rates, counts, amounts, percentages).
fn records(n: usize) -> Vec<ScoreRecord> {
    let signals = [
        Signal::Frequency,
        Signal::Monetary,
        Signal::Support,
        Signal::Communication,
        Signal::Depth,
    ];
    // A fixed linear congruential sequence: the same records every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let reasons = (0..1 + i % 3)
                .map(|k| {
                    let baseline = next() * 10f64.powi((i + k) as i32 % 4);
                    let value = baseline * (0.2 + next());
                    Reason {
                        signal: signals[(i + k) % signals.len()],
                        value,
                        baseline,
                        change_pct: (baseline > 0.0).then(|| (value - baseline) / baseline * 100.0),
                        contribution: -20.0 * next(),
                    }
                })
                .collect();
            ScoreRecord {
                player_id: format!("p{:06}", i * 7919 % 100_000),
                brand: "sportsbook-b".into(),
                ts: Timestamp::from_millis(1_793_534_400_000 + i as i64 * 137),
                score: 100.0 * next(),
                band: [Band::Green, Band::Yellow, Band::Red][i % 3],
                baseline_ready: i % 5 != 0,
                reasons,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = records(10_000);
    let mut g = c.benchmark_group("encode_score");
    g.throughput(Throughput::Elements(records.len() as u64));
    for (name, encoding) in [("json", Encoding::Json), ("protobuf", Encoding::Protobuf)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for r in &records {
                    black_box(encode_score(black_box(r), encoding));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
