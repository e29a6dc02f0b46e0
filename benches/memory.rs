//! Bytes per player: how much memory the engine holds per tracked player,
//! measured with a counting allocator (exact heap bytes, not RSS), at
//! several population sizes so growth can be seen to be linear.
//!
//! Also prints the rate at which the population was ingested (one core,
//! counting allocator, events made on the fly: a floor, not the engine
//! bench's figure).
//!
//! Run: `cargo bench -p vigil --bench memory` (100k and 1M players; add
//! `-- 10000000` for 10M, about 5 GB and a few minutes).

// A bench binary reports its figures on stdout.
#![allow(clippy::print_stdout)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use vigil_domain::{Engine, EngineConfig};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes per player held by the engine, and events ingested per second.
fn measure(players: u32) -> (f64, f64) {
    let before = LIVE.load(Ordering::Relaxed);
    let start = std::time::Instant::now();
    let mut events = 0u64;
    let mut engine = Engine::new(EngineConfig::default()).expect("default config is valid");
    let t0 = 1_790_000_000_000i64;
    let mut out = Vec::new();
    // Each player: a login and a bet on each of three days, so every part
    // of the state (windows, decay, dedupe ring, timers) is in use.
    for day in 0..3i64 {
        for p in 0..players {
            let ts = t0 + day * 86_400_000 + (p as i64 % 86_400) * 1000;
            for event in support::visit(p, day, ts, 5.0) {
                engine.ingest(event, &mut out).expect("valid event");
                events += 1;
                out.clear();
            }
        }
    }
    engine.flush(&mut out);
    let rate = events as f64 / start.elapsed().as_secs_f64();
    out.clear();
    out.shrink_to_fit();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    let per_player = bytes as f64 / engine.player_count() as f64;
    drop(engine);
    (per_player, rate)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // too, without it, and then a small size keeps the suite quick.
    let mut sizes: Vec<u32> = if std::env::args().any(|a| a == "--bench") {
        vec![100_000, 1_000_000]
    } else {
        vec![10_000]
    };
    sizes.extend(
        std::env::args()
            .skip(1)
            .filter_map(|a| a.parse::<u32>().ok()),
    );
    println!(
        "{:>12} {:>16} {:>20} {:>16}",
        "players", "bytes/player", "size_of PlayerState", "ingest events/s"
    );
    for n in sizes {
        let (b, rate) = measure(n);
        println!(
            "{n:>12} {b:>16.1} {:>20} {rate:>16.0}",
            std::mem::size_of::<vigil_domain::state::PlayerState>()
        );
    }
}
