//! Replay throughput from a file: what `vigil replay` (and `vigil eval`)
//! sustain reading JSON lines and length-delimited protobuf, decode plus
//! engine on one core, and decode alone. The file is a simulated
//! population encoded up front and read from memory, so the figure is the
//! CPU cost, not the disk's.
//!
//! Run: `cargo bench -p vigil --bench replay` (add `-- PLAYERS DAYS` to
//! change the default 20000 players x 14 days).

// A bench binary reports its figures on stdout.
#![allow(clippy::print_stdout)]

/// The allocator the `vigil` binary uses, so the figure is the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::BufRead;
use std::time::Instant;

use vigil_domain::{Engine, EngineConfig, PlayerEvent, Reject};
use vigil_sim::{Population, SimConfig};

/// Feeds every decoded event to `engine` if there is one; returns events.
fn run_json(bytes: &[u8], mut engine: Option<&mut Engine>) -> u64 {
    let mut out = Vec::new();
    let mut n = 0;
    let mut line = Vec::with_capacity(512);
    let mut r = bytes;
    while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
        feed(
            vigil_codec::json::decode_event(&line),
            &mut engine,
            &mut out,
        );
        line.clear();
        n += 1;
    }
    n
}

fn run_proto(bytes: &[u8], mut engine: Option<&mut Engine>) -> u64 {
    let mut out = Vec::new();
    let mut n = 0;
    for frame in vigil_codec::proto::DelimitedReader::new(bytes) {
        let frame = frame.expect("well-formed frames");
        feed(
            vigil_codec::proto::decode_event(&frame),
            &mut engine,
            &mut out,
        );
        n += 1;
    }
    n
}

fn feed(
    e: Result<PlayerEvent, Reject>,
    engine: &mut Option<&mut Engine>,
    out: &mut Vec<vigil_domain::Output>,
) {
    let e = e.expect("simulated events are valid");
    match engine {
        Some(engine) => {
            let _ = engine.ingest(e, out);
            out.clear();
        }
        None => drop(std::hint::black_box(e)),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let nums: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    // `cargo test --benches` runs this once without `--bench`: keep it small.
    let (players, days) = match nums[..] {
        [p, d, ..] => (p, d),
        [p] => (p, 14),
        [] if full => (20_000, 14),
        [] => (500, 3),
    };
    let pop = Population::new(SimConfig {
        seed: 5,
        players,
        days,
        ..SimConfig::default()
    });
    let (mut json, mut proto) = (Vec::new(), Vec::new());
    for e in pop.events() {
        json.extend_from_slice(vigil_codec::json::encode_event(&e).as_bytes());
        json.push(b'\n');
        vigil_codec::proto::write_delimited(&mut proto, &vigil_codec::proto::encode_event(&e))
            .expect("writing to memory");
    }
    println!("{players} players x {days} days");
    println!(
        "{:<8} {:<16} {:>10} {:>10} {:>14} {:>8}",
        "format", "work", "events", "MB", "events/s", "MB/s"
    );
    for (name, bytes) in [("json", &json), ("protobuf", &proto)] {
        for with_engine in [false, true] {
            let mut engine = Engine::new(EngineConfig::default()).expect("default config");
            let start = Instant::now();
            let n = match (name, with_engine) {
                ("json", false) => run_json(bytes, None),
                ("json", true) => run_json(bytes, Some(&mut engine)),
                (_, false) => run_proto(bytes, None),
                (_, true) => run_proto(bytes, Some(&mut engine)),
            };
            let secs = start.elapsed().as_secs_f64();
            let mb = bytes.len() as f64 / 1e6;
            println!(
                "{name:<8} {:<16} {n:>10} {mb:>10.1} {:>14.0} {:>8.1}",
                if with_engine {
                    "decode + engine"
                } else {
                    "decode"
                },
                n as f64 / secs,
                mb / secs
            );
        }
    }
}
