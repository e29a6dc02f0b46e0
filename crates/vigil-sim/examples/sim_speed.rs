//! One-shot generation speed at any size, where the criterion bench would
//! take too long: `cargo run --release -p vigil-sim --example sim_speed --
//! [players] [days]`. Prints events/s and events per player per day on
//! stderr. Events are dropped as they come, as `vigil gen` and the demo do.

use std::time::Instant;

/// The allocator the `vigil` binary and the benches use: events own three
/// or four small strings, so the allocator is part of the figure.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let n = pop.events().count();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{players} players x {days} days: setup {setup:.2?}, {n} events in {secs:.2}s = \
         {:.2} M events/s, {:.2} events/player/day",
        n as f64 / secs / 1e6,
        n as f64 / players as f64 / days as f64
    );
}
