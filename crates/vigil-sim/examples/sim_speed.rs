//! Measures generation speed: `cargo run --release -p vigil-sim --example
//! sim_speed -- [players] [days]`. Prints events/s and events per player
//! per day on stderr, so benchmark setup cost can be judged.

use std::time::Instant;

use vigil_sim::{Population, SimConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let players: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let days: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(14);
    let start = Instant::now();
    let pop = Population::new(SimConfig {
        seed: 11,
        players,
        days,
        ..SimConfig::default()
    });
    let setup = start.elapsed();
    let start = Instant::now();
    let mut n = 0u64;
    let mut bytes = 0usize;
    for e in pop.events() {
        n += 1;
        bytes += e.event_id.len();
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{players} players x {days} days: setup {setup:?}, {n} events in {secs:.2}s = {:.2} M events/s, {:.2} events/player/day (id bytes {bytes})",
        n as f64 / secs / 1e6,
        n as f64 / players as f64 / days as f64
    );
}
