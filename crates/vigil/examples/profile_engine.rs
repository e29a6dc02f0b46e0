//! Feeds a synthetic population through one engine and prints events/s: a
//! quick target for `perf record` when the engine bench moves.
//!
//! `profile_engine [PLAYERS] [DAYS]`. Environment: `REPEAT=n` runs the
//! engine n times over the same events (so a profile is mostly engine, not
//! simulator); `UNTIDY=1` delivers with duplicates, gaps and reordering;
//! `DIGEST=1` also prints a hash of every output's `Debug` form, so an
//! optimisation can be checked to change no output at all; `DUMP=FILE`
//! (with `DIGEST`) writes those forms to FILE, one per line, to see what
//! changed when the hash did; `NO_SCORES=1` silences score records.

#![allow(clippy::print_stdout)]

use std::hash::{DefaultHasher, Hasher};
use std::io::Write;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use vigil_domain::{Engine, EngineConfig, Timestamp};
use vigil_sim::{Population, SimConfig};

/// CPU time of this thread so far, in seconds (Linux `schedstat`): on a
/// shared machine the wall clock counts other processes' turns too.
fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let players: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let days: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(14);
    let untidy = std::env::var_os("UNTIDY").is_some();
    let digest = std::env::var_os("DIGEST").is_some();
    let repeat: u32 = std::env::var("REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let events: Vec<_> = Population::new(SimConfig {
        seed: 11,
        players,
        days,
        duplicate_rate: if untidy { 0.02 } else { 0.0 },
        missing_rate: if untidy { 0.01 } else { 0.0 },
        reorder_rate: if untidy { 0.03 } else { 0.0 },
        ..SimConfig::default()
    })
    .events()
    .collect();
    let mut cfg = EngineConfig::default();
    if std::env::var_os("NO_SCORES").is_some() {
        cfg.scores.min_delta = 100.0;
        cfg.scores.heartbeat = std::time::Duration::from_secs(365 * 86_400);
    }
    let n = events.len();
    let mut dump = std::env::var_os("DUMP").map(|p| {
        std::io::BufWriter::new(std::fs::File::create(p).expect("DUMP names a writable file"))
    });
    // Hashes one output's or player's form, and writes it to the dump.
    let mut record = |hash: &mut DefaultHasher, form: String| {
        hash.write(form.as_bytes());
        if let Some(d) = dump.as_mut() {
            writeln!(d, "{form}").expect("DUMP file writable");
        }
    };
    for _ in 0..repeat {
        let mut engine = Engine::new(cfg.clone()).expect("defaults are valid");
        let mut out = Vec::new();
        let mut hash = DefaultHasher::new();
        let mut outputs = 0u64;
        let events = events.clone();
        let end = events.last().map(|e| e.ts);
        let start = Instant::now();
        let cpu_start = cpu_secs();
        for e in events {
            let _ = engine.ingest(e, &mut out);
            if digest {
                for o in &out {
                    record(&mut hash, format!("{o:?}"));
                }
                outputs += out.len() as u64;
            }
            out.clear();
        }
        engine.flush(&mut out);
        if digest {
            // Let a week of silence pass too, so timers and inactivity count.
            if let Some(end) = end {
                engine.advance_to(
                    Timestamp::from_millis(end.as_millis() + 7 * 86_400_000),
                    &mut out,
                );
            }
            for o in &out {
                record(&mut hash, format!("{o:?}"));
            }
            outputs += out.len() as u64;
            for v in engine.players() {
                record(&mut hash, format!("{:?}", v.state));
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_secs().zip(cpu_start).map(|(b, a)| b - a);
        println!(
            "{n} events, {players} players: {:.0} events/s, {:.0} per CPU second; {:?}",
            n as f64 / secs,
            cpu.map_or(f64::NAN, |c| n as f64 / c),
            engine.stats()
        );
        if digest {
            println!("outputs {outputs}, digest {:016x}", hash.finish());
        }
    }
}
