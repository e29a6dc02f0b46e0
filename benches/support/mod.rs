//! What the engine benches share: the sizes they run at, and the visit
//! (a login and a bet) their synthetic players make.

// Each bench binary uses its own part of this module.
#![allow(dead_code)]

use vigil_domain::event::Game;
use vigil_domain::{Currency, Money, Payload, PlayerEvent, Timestamp};

/// Player counts from the command line, else `bench` under `cargo bench`
/// (which passes `--bench`) and `test` under `cargo test --all-targets`
/// (which runs every bench once without it: a small size keeps the suite
/// quick).
pub fn sizes(bench: &[u32], test: u32) -> Vec<u32> {
    let given: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if !given.is_empty() {
        given
    } else if std::env::args().any(|a| a == "--bench") {
        bench.to_vec()
    } else {
        vec![test]
    }
}

/// Player `p`'s visit on `day` at `ts` (epoch ms): a login and a bet of
/// `stake` EUR, with event ids unique per player, day and event.
pub fn visit(p: u32, day: i64, ts: i64, stake: f64) -> [PlayerEvent; 2] {
    let eur = Currency::parse("EUR").expect("EUR");
    let bet = Payload::Bet {
        stake: Money {
            amount: stake,
            currency: eur,
        },
        game: Game::Slots,
        win: None,
    };
    let mut k = 0;
    [Payload::Login { channel: None }, bet].map(|payload| {
        k += 1;
        PlayerEvent {
            event_id: format!("{p}-{day}-{}", k - 1).into(),
            player_id: format!("p{p:08}").into(),
            brand: "casino-a".into(),
            ts: Timestamp::from_millis(ts),
            payload,
        }
    })
}
