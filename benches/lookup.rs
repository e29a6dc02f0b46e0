//! How long `GET /v1/players` (the riskiest-players list) holds a
//! partition's engine: the listing scores every player it considers, and
//! the pipeline waits for that partition meanwhile.
//!
//! Builds one engine of N players (five weeks of play, a fifth of them
//! gone quiet, a fifth fading, so every band is populated), then times the
//! picker the API uses, next to building the API's view of every player
//! (what the listing did before) and scoring alone (the floor). "lock
//! held" is the longest slice of the picker's walk: the longest the
//! partition's pipeline waits for the listing.
//!
//! Run: `cargo bench -p vigil --bench lookup` (100k and 1M players; other
//! sizes as arguments, e.g. `-- 200000`).

// A bench binary reports its figures on stdout.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

mod support;

use vigil_domain::{Band, Engine, EngineConfig, Timestamp};
use vigil_http::{LISTING_SLICE, PlayerInfo, RiskiestPicker, riskier_first};

const DAY_MS: i64 = 86_400_000;

fn population(players: u32) -> Engine {
    let mut engine = Engine::new(EngineConfig::default()).expect("default config is valid");
    let t0 = 1_790_000_000_000i64;
    let mut out = Vec::new();
    let days = 35i64;
    for day in 0..days {
        for p in 0..players {
            // Every player plays every 1st to 4th day. A fifth stop three
            // weeks before the end; another fifth fade over the last two
            // weeks (every third day, a fifth of the stake).
            let fading = p % 5 == 1 && day >= days - 14;
            let every = if fading { 3 } else { 1 + i64::from(p % 4) };
            if day % every != 0 || (p % 5 == 0 && day >= days - 21) {
                continue;
            }
            let ts = t0 + day * DAY_MS + i64::from(p % 86_400) * 1000;
            let stake = (1.0 + f64::from(p % 97)) * if fading { 0.2 } else { 1.0 };
            for event in support::visit(p, day, ts, stake) {
                engine.ingest(event, &mut out).expect("well-formed event");
                out.clear();
            }
        }
    }
    engine.advance_to(Timestamp::from_millis(t0 + days * DAY_MS), &mut out);
    engine
}

/// The median of `runs` timings of `f`.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(std::hint::black_box(f()));
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], last.expect("at least one run"))
}

fn every_view(engine: &Engine, band: Option<Band>, limit: usize) -> Vec<PlayerInfo> {
    let currency = &engine.config().currency.reporting;
    let mut all: Vec<PlayerInfo> = engine
        .players()
        .filter(|v| band.is_none_or(|b| v.state.verdict.band == b))
        .map(|v| PlayerInfo::from_view(&v, engine.clock(), currency))
        .collect();
    all.sort_by(riskier_first);
    all.truncate(limit);
    all
}

/// The picker walking the engine in slices as the API does, and the
/// longest slice (how long the API holds the partition's lock at most).
fn pick(engine: &Engine, band: Option<Band>, limit: usize) -> (Vec<PlayerInfo>, Duration) {
    let mut picker = RiskiestPicker::new(band, limit);
    let mut longest = Duration::ZERO;
    let mut start = 0u32;
    while (start as usize) < engine.player_count() {
        let t = Instant::now();
        picker.scan(engine, start..start + LISTING_SLICE);
        longest = longest.max(t.elapsed());
        start += LISTING_SLICE;
    }
    (picker.finish(), longest)
}

fn main() {
    let sizes = support::sizes(&[100_000, 1_000_000], 5_000);
    println!(
        "{:>9} {:>22} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "players", "green/yellow/red", "list", "picker", "lock held", "every view", "scoring only"
    );
    for n in sizes {
        let engine = population(n);
        let bands = engine.stats().bands;
        let runs = if n > 500_000 { 3 } else { 5 };
        let (score_only, _) = time(runs, || engine.players().map(|v| v.card.score).sum::<f64>());
        for (name, band) in [("all, 50", None), ("red, 50", Some(Band::Red))] {
            let (picked_in, (picked, hold)) = time(runs, || pick(&engine, band, 50));
            let (every_in, every) = time(runs, || every_view(&engine, band, 50));
            // The two must agree, or the figure means nothing.
            assert_eq!(picked, every, "picker and full sort disagree");
            println!(
                "{n:>9} {:>22} {name:>10} {:>10.1}ms {:>10.1}ms {:>10.1}ms {:>10.1}ms",
                format!("{}/{}/{}", bands[0], bands[1], bands[2]),
                picked_in.as_secs_f64() * 1e3,
                hold.as_secs_f64() * 1e3,
                every_in.as_secs_f64() * 1e3,
                score_only.as_secs_f64() * 1e3,
            );
        }
    }
}
