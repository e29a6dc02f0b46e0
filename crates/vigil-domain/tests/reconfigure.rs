//! Live reconfiguration: an engine given new settings scores with them
//! from then on, keeps its players, and refuses settings that are invalid
//! or that a running engine cannot take, keeping the old ones.

use vigil_domain::event::Game;
use vigil_domain::time::{DAY_MS, HOUR_MS};
use vigil_domain::*;

mod common;
use common::{T0, ev};

/// A player who played daily for three weeks, then only every fourth day:
/// frequency and depth fall, so the weights decide how much it costs.
fn history(player: &str, days: i64) -> Vec<PlayerEvent> {
    let mut out = Vec::new();
    for d in 0..days {
        if d >= 21 && d % 4 != 0 {
            continue;
        }
        let start = T0 + d * DAY_MS + 19 * HOUR_MS;
        out.push(ev(
            format!("{player}-{d}-login"),
            player,
            start,
            Payload::Login { channel: None },
        ));
        for b in 0..6 {
            out.push(ev(
                format!("{player}-{d}-bet{b}"),
                player,
                start + (b + 1) * 60_000,
                Payload::Bet {
                    stake: Money {
                        amount: 5.0,
                        currency: Currency::parse("EUR").unwrap(),
                    },
                    game: Game::Slots,
                    win: None,
                },
            ));
        }
    }
    out
}

fn feed(engine: &mut Engine, events: &[PlayerEvent]) -> Vec<Output> {
    let mut out = Vec::new();
    for e in events {
        engine.ingest(e.clone(), &mut out).unwrap();
    }
    out
}

fn scores(out: &[Output]) -> Vec<f64> {
    out.iter()
        .filter_map(|o| match o {
            Output::Score(s) => Some(s.score),
            _ => None,
        })
        .collect()
}

/// Weights that care only about how often the player comes.
fn frequency_only() -> EngineConfig {
    let mut cfg = EngineConfig {
        weights: config::Weights {
            frequency: 1.0,
            depth: 0.0,
            monetary: 0.0,
            recency: 0.0,
            support: 0.0,
            payment: 0.0,
            communication: 0.0,
            satisfaction: 0.0,
        },
        ..EngineConfig::default()
    };
    cfg.scores.min_delta = 0.0;
    cfg.scores.min_interval = std::time::Duration::ZERO;
    cfg
}

#[test]
fn a_reconfigured_engine_scores_with_the_new_weights_from_then_on() {
    let events = history("p1", 40);
    // Swap on day 30, once the player has faded.
    let cut = events
        .iter()
        .position(|e| e.ts.as_millis() >= T0 + 30 * DAY_MS)
        .unwrap();
    let (before, after) = events.split_at(cut);
    let old = EngineConfig {
        scores: frequency_only().scores,
        ..EngineConfig::default()
    };

    // The engine that is reconfigured half way, and one that always had
    // each set: player state does not depend on the weights, so from the
    // swap on the reconfigured one must score as the new set always would.
    let mut live = Engine::new(old.clone()).unwrap();
    let mut always_old = Engine::new(old.clone()).unwrap();
    let mut always_new = Engine::new(frequency_only()).unwrap();
    feed(&mut live, before);
    feed(&mut always_old, before);
    feed(&mut always_new, before);

    let view = |e: &Engine| e.player("casino-a", "p1").unwrap().card.score;
    assert_eq!(view(&live), view(&always_old));
    assert_ne!(
        view(&always_old),
        view(&always_new),
        "the scenario must make the weights matter"
    );

    live.reconfigure(frequency_only()).unwrap();
    assert_eq!(live.config(), &frequency_only());
    assert_eq!(
        view(&live),
        view(&always_new),
        "the live view uses the new set"
    );
    assert_eq!(live.player_count(), 1, "players are kept");

    let got = scores(&feed(&mut live, after));
    let want = scores(&feed(&mut always_new, after));
    let old_set = scores(&feed(&mut always_old, after));
    assert!(!got.is_empty());
    assert_eq!(got, want, "scores after the swap use the new weights");
    assert_ne!(got, old_set);
}

#[test]
fn invalid_settings_are_refused_and_the_old_ones_stay() {
    let events = history("p1", 30);
    let mut engine = Engine::new(EngineConfig::default()).unwrap();
    feed(&mut engine, &events);
    let before = engine.player("casino-a", "p1").unwrap().card.score;

    let mut bad = frequency_only();
    bad.bands.yellow_min = 90.0; // above green_min
    let e = engine.reconfigure(bad).unwrap_err();
    assert_eq!(e.key, "bands.yellow_min");
    assert_eq!(engine.config(), &EngineConfig::default());
    assert_eq!(engine.player("casino-a", "p1").unwrap().card.score, before);

    let mut later = frequency_only();
    later.allowed_lateness = std::time::Duration::from_secs(60);
    let e = engine.reconfigure(later).unwrap_err();
    assert_eq!(e.key, "allowed_lateness");
    assert!(e.problem.contains("restart"), "{e}");

    let mut other = frequency_only();
    other.currency.reporting = "USD".into();
    other.currency.rates.remove("USD");
    other.currency.rates.insert("EUR".into(), 1.08);
    assert_eq!(
        engine.reconfigure(other).unwrap_err().key,
        "currency.reporting"
    );
    assert_eq!(engine.config(), &EngineConfig::default());

    // The checks are of the keys named, nothing broader: new rates are fine.
    let mut rates = EngineConfig::default();
    rates.currency.rates.insert("USD".into(), 0.95);
    engine.reconfigure(rates.clone()).unwrap();
    assert_eq!(engine.config(), &rates);
}
