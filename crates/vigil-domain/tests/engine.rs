//! Behaviour of the engine on scripted players: the scenarios the business
//! cares about, and properties that must hold for any input.

use proptest::prelude::*;
use vigil_domain::event::{DepositStatus, Game, MessageAction, MessageChannel, WithdrawalStatus};
use vigil_domain::state::PlayerState;
use vigil_domain::time::{DAY_MS, HOUR_MS};
use vigil_domain::*;

mod common;
use common::{T0, alerts, eur, ev};

/// One evening visit: a login, `bets` bets of `stake`, a session end.
fn visit(player: &str, day: i64, bets: u32, stake: f64) -> Vec<PlayerEvent> {
    let start = T0 + day * DAY_MS + 19 * HOUR_MS;
    let mut out = vec![ev(
        format!("{player}-{day}-login"),
        player,
        start,
        Payload::Login { channel: None },
    )];
    for b in 0..bets {
        out.push(ev(
            format!("{player}-{day}-bet{b}"),
            player,
            start + (b as i64 + 1) * 60_000,
            Payload::Bet {
                stake: eur(stake),
                game: Game::Slots,
                win: None,
            },
        ));
    }
    out.push(ev(
        format!("{player}-{day}-end"),
        player,
        start + (bets as i64 + 2) * 60_000,
        Payload::SessionEnd {
            duration_s: (bets + 2) * 60,
        },
    ));
    out
}

fn engine() -> Engine {
    Engine::new(EngineConfig::default()).unwrap()
}

/// Feeds events and then advances the clock day by day to `until_day`,
/// collecting every output.
fn run(engine: &mut Engine, events: Vec<PlayerEvent>, until_day: i64) -> Vec<Output> {
    let (out, rejected) = run_counting(engine, events, until_day);
    assert_eq!(rejected, 0);
    out
}

/// Like [`run`], but counts refused events instead of failing on them.
fn run_counting(
    engine: &mut Engine,
    events: Vec<PlayerEvent>,
    until_day: i64,
) -> (Vec<Output>, u64) {
    let mut out = Vec::new();
    let mut rejected = 0;
    for e in events {
        rejected += engine.ingest(e, &mut out).is_err() as u64;
    }
    engine.flush(&mut out);
    let from = engine.clock().as_millis();
    let mut t = from;
    while t < T0 + until_day * DAY_MS {
        t += 6 * HOUR_MS;
        engine.advance_to(Timestamp::from_millis(t), &mut out);
    }
    (out, rejected)
}

/// Merges streams into event-time order, as a partition would carry them.
fn sorted(mut events: Vec<PlayerEvent>) -> Vec<PlayerEvent> {
    events.sort_by_key(|e| e.ts);
    events
}

fn steady(player: &str, days: std::ops::Range<i64>) -> Vec<PlayerEvent> {
    days.flat_map(|d| visit(player, d, 10, 2.0)).collect()
}

#[test]
fn a_steady_player_stays_green_without_alerts() {
    let mut e = engine();
    let out = run(&mut e, steady("p1", 0..60), 60);
    assert!(alerts(&out).is_empty(), "{:#?}", alerts(&out));
    let v = e.player("casino-a", "p1").unwrap();
    assert_eq!(v.state.verdict.band, Band::Green);
    assert!(v.card.score >= 90.0, "score {}", v.card.score);
    assert!(v.state.verdict.ready);
}

#[test]
fn a_player_whose_activity_halves_turns_yellow_then_red_with_reasons() {
    let mut events = steady("p1", 0..35);
    // Then every other day, half the bets at half the stake...
    events.extend(
        (35..49)
            .filter(|d| d % 2 == 0)
            .flat_map(|d| visit("p1", d, 5, 1.0)),
    );
    // ...then twice a week, a few small bets.
    events.extend(
        (49..70)
            .filter(|d| d % 4 == 0)
            .flat_map(|d| visit("p1", d, 2, 0.5)),
    );
    let mut e = engine();
    let out = run(&mut e, events, 70);
    let bands: Vec<(Band, Band)> = alerts(&out)
        .iter()
        .filter(|a| a.kind == AlertKind::BandChange)
        .map(|a| (a.prev_band, a.band))
        .collect();
    assert_eq!(
        bands.first(),
        Some(&(Band::Green, Band::Yellow)),
        "{bands:?}"
    );
    assert!(bands.contains(&(Band::Yellow, Band::Red)), "{bands:?}");
    let to_yellow = alerts(&out)
        .into_iter()
        .find(|a| a.band == Band::Yellow)
        .unwrap();
    let signals: Vec<Signal> = to_yellow.reasons.iter().map(|r| r.signal).collect();
    for s in [Signal::Frequency, Signal::Monetary] {
        assert!(
            signals.contains(&s),
            "{s:?} missing from {:#?}",
            to_yellow.reasons
        );
    }
    let freq = to_yellow
        .reasons
        .iter()
        .find(|r| r.signal == Signal::Frequency)
        .unwrap();
    assert!(
        freq.value < freq.baseline && freq.change_pct.unwrap() < -20.0,
        "{freq:?}"
    );
    assert!(freq.contribution < 0.0);
    assert!(to_yellow.score < to_yellow.prev_score);
    // The usage-drop rule fires too: 14 days against the 14 before.
    let drop = alerts(&out)
        .into_iter()
        .find(|a| a.kind == AlertKind::UsageDrop)
        .expect("usage_drop");
    let usage = &drop.reasons[0];
    assert_eq!(usage.signal, Signal::Usage);
    assert!(usage.change_pct.unwrap() <= -30.0, "{usage:?}");
}

/// A daily regular whose engagement then falls linearly to nothing over
/// twelve weeks: visits thin out and bets shrink, a little each day. Read
/// against the window's three baseline weeks alone, the decline is the
/// baseline after three weeks of it (that engine never alerted this
/// player, not even once they had gone); the memory of the days before
/// the window keeps the level the player had, so the drift is seen while
/// the player still comes, weeks before the last visit.
#[test]
fn a_player_fading_over_three_months_is_alerted_weeks_before_leaving() {
    let mut events = steady("p1", 0..60);
    let (mut acc, mut last) = (0.0f64, 0);
    for d in 60..144 {
        let v = 1.0 - (d - 60) as f64 / 84.0;
        acc += v;
        if acc >= 1.0 {
            acc -= 1.0;
            events.extend(visit("p1", d, (10.0 * v).round().max(1.0) as u32, 2.0));
            last = d;
        }
    }
    let mut e = engine();
    let out = run(&mut e, events, 160);
    let risk: Vec<&Alert> = alerts(&out)
        .into_iter()
        .filter(|a| {
            matches!(a.kind, AlertKind::UsageDrop | AlertKind::Inactivity)
                || (a.kind == AlertKind::BandChange && a.band > a.prev_band)
        })
        .collect();
    let first = risk.first().expect("no risk alert for a two-month fade");
    let lead_days = (T0 + last * DAY_MS - first.ts.as_millis()) as f64 / DAY_MS as f64;
    assert!(
        lead_days >= 28.0,
        "first risk alert {:?} only {lead_days:.1} days before the last visit (day {last})",
        first.kind
    );
    assert!(
        first.reasons.iter().any(|r| matches!(
            r.signal,
            Signal::Frequency | Signal::Depth | Signal::Monetary | Signal::Usage
        )),
        "{:#?}",
        first.reasons
    );
}

/// Advances `e` hour by hour to `until` with no events at all.
fn pass_time(e: &mut Engine, until: i64, out: &mut Vec<Output>) {
    let mut t = e.clock().as_millis();
    while t < until {
        t += HOUR_MS;
        e.advance_to(Timestamp::from_millis(t), out);
    }
}

#[test]
fn a_silent_player_alerts_without_further_events() {
    let mut e = engine();
    let mut out = run(&mut e, steady("p1", 0..30), 30);
    assert!(alerts(&out).is_empty());
    out.clear();
    // No events at all: only time passes.
    pass_time(&mut e, T0 + 50 * DAY_MS, &mut out);
    let got = alerts(&out);
    let inactivity = got
        .iter()
        .find(|a| a.kind == AlertKind::Inactivity)
        .expect("inactivity alert");
    assert_eq!(inactivity.reasons[0].signal, Signal::Recency);
    assert!(
        inactivity.reasons[0].value >= 2.0,
        "silent at least min_silence"
    );
    // Silence from full health with nothing wrong is read as an absence
    // first (a holiday); it alerts once it outlasts the grace.
    let grace = EngineConfig::default().baseline.absence_grace.as_millis() as i64;
    let last = T0 + 29 * DAY_MS + 21 * HOUR_MS;
    assert!(
        inactivity.ts.as_millis() <= last + grace + DAY_MS,
        "fires once the absence is over, at {}",
        inactivity.ts
    );
    assert!(
        got.iter()
            .any(|a| a.kind == AlertKind::BandChange && a.band == Band::Red),
        "{got:#?}"
    );
    assert_eq!(
        got.iter()
            .filter(|a| a.kind == AlertKind::Inactivity)
            .count(),
        1,
        "once per silent spell"
    );
}

/// Found by fuzzing (`fuzz/`, target `changelog`): a player silent long
/// enough to go dormant has no timer, and one handed over to another
/// engine must not get one back, or every failover re-scores every dormant
/// player once more (an output the original never sends, and at a large
/// population's dormant share, a burst of work).
#[test]
fn a_dormant_player_handed_over_stays_dormant() {
    let mut a = engine();
    let mut out = run(&mut a, steady("p1", 0..30), 30);
    pass_time(&mut a, T0 + 100 * DAY_MS, &mut out);
    let dormant = a.player("casino-a", "p1").expect("p1").state.clone();
    assert_eq!(dormant.next_due, 0, "silent for 70 days: no live timer");

    let mut b = engine();
    b.restore_clock(a.clock_state());
    b.import(a.export("casino-a", "p1").expect("p1"))
        .expect("import");
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    pass_time(&mut a, T0 + 130 * DAY_MS, &mut out_a);
    pass_time(&mut b, T0 + 130 * DAY_MS, &mut out_b);
    assert!(out_a.is_empty(), "the original stays quiet: {out_a:?}");
    assert_eq!(out_b, out_a);
    assert_eq!(final_states(&b), final_states(&a));

    // Its next event wakes it in both.
    let back = steady("p1", 130..131);
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    for e in back {
        a.ingest(e.clone(), &mut out_a).unwrap();
        b.ingest(e, &mut out_b).unwrap();
    }
    pass_time(&mut a, T0 + 133 * DAY_MS, &mut out_a);
    pass_time(&mut b, T0 + 133 * DAY_MS, &mut out_b);
    assert!(!out_a.is_empty(), "a returning player is scored");
    assert_eq!(out_b, out_a);
}

/// Found by fuzzing (`fuzz/`): time near the end of the accepted range
/// (2106, the last second player state can hold) overflowed the timer
/// arithmetic. Every rule runs there as anywhere, and nothing panics.
#[test]
fn time_at_the_end_of_the_range_does_not_overflow() {
    let end = Timestamp::MAX.as_millis();
    let start_day = (end - T0) / DAY_MS - 40;
    let mut e = engine();
    let mut out = run(
        &mut e,
        steady("p1", start_day..start_day + 35),
        start_day + 35,
    );
    // Two bets in the range's last minutes: the second is within the
    // evaluation interval of the first, so a timer falls in the last minute.
    for (i, ahead) in [330_000, 100_000].into_iter().enumerate() {
        let bet = Payload::Bet {
            stake: eur(5.0),
            game: Game::Slots,
            win: None,
        };
        e.ingest(ev(format!("late-{i}"), "p1", end - ahead, bet), &mut out)
            .unwrap();
    }
    pass_time(&mut e, end, &mut out);
    assert_eq!(e.clock(), Timestamp::MAX);
    assert!(!out.is_empty());
    e.flush(&mut out);
}

#[test]
fn a_short_absence_from_full_health_does_not_alert_but_the_score_still_decays() {
    let mut e = engine();
    let mut out = run(&mut e, steady("p1", 0..30), 30);
    out.clear();
    // A week away...
    pass_time(&mut e, T0 + 37 * DAY_MS, &mut out);
    assert!(alerts(&out).is_empty(), "{:#?}", alerts(&out));
    let v = e.player("casino-a", "p1").unwrap();
    assert!(
        v.card.score < 95.0,
        "the silence still counts: {}",
        v.card.score
    );
    // ...and back to the old habits.
    out.clear();
    let back = run(&mut e, steady("p1", 37..50), 50);
    let risk: Vec<_> = alerts(&back)
        .into_iter()
        .filter(|a| a.kind.is_risk() && a.band > a.prev_band)
        .collect();
    assert!(risk.is_empty(), "{risk:#?}");
}

#[test]
fn silence_after_a_declined_withdrawal_is_no_absence() {
    let mut e = engine();
    let mut events = steady("p1", 0..30);
    let declined = T0 + 29 * DAY_MS + 22 * HOUR_MS;
    for (i, status) in [WithdrawalStatus::Requested, WithdrawalStatus::Declined]
        .into_iter()
        .enumerate()
    {
        events.push(ev(
            format!("w{i}"),
            "p1",
            declined + i as i64 * HOUR_MS,
            Payload::Withdrawal {
                amount: eur(200.0),
                status,
            },
        ));
    }
    let mut out = run(&mut e, events, 30);
    pass_time(&mut e, T0 + 37 * DAY_MS, &mut out);
    let got = alerts(&out);
    assert!(
        got.iter().any(|a| a.kind.is_risk()
            && a.band > a.prev_band
            && a.ts.as_millis() < T0 + 37 * DAY_MS),
        "a bad experience and then silence alerts within the week: {got:#?}"
    );
}

#[test]
fn new_players_are_scored_but_not_alerted() {
    let mut e = engine();
    // Five days of play, then a week of silence: still too new to judge.
    let out = run(&mut e, steady("p1", 0..5), 13);
    assert!(alerts(&out).is_empty(), "{:#?}", alerts(&out));
    let scores: Vec<&ScoreRecord> = out
        .iter()
        .filter_map(|o| match o {
            Output::Score(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(!scores.is_empty());
    assert!(scores.iter().all(|s| !s.baseline_ready));
}

#[test]
fn alert_ids_are_deterministic_and_unique() {
    let events: Vec<PlayerEvent> = sorted(
        steady("p1", 0..30)
            .into_iter()
            .chain((0..25).flat_map(|d| visit("p2", d, 3, 1.0)))
            .collect(),
    );
    let a = run(&mut engine(), events.clone(), 50);
    let b = run(&mut engine(), events, 50);
    assert_eq!(a, b);
    let ids: Vec<&str> = alerts(&a).iter().map(|a| a.alert_id.as_str()).collect();
    assert!(ids.len() >= 2);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    assert!(
        ids.iter()
            .all(|id| id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()))
    );
}

#[test]
fn unknown_currencies_and_stale_events_are_rejected() {
    let mut e = engine();
    let mut out = Vec::new();
    let bad = ev(
        "x1",
        "p1",
        T0,
        Payload::Deposit {
            amount: Money {
                amount: 5.0,
                currency: Currency::parse("XYZ").unwrap(),
            },
            status: DepositStatus::Ok,
        },
    );
    assert_eq!(
        e.ingest(bad, &mut out).unwrap_err().code(),
        "unknown_currency"
    );
    e.ingest(
        ev(
            "x2",
            "p1",
            T0 + 40 * DAY_MS,
            Payload::Login { channel: None },
        ),
        &mut out,
    )
    .unwrap();
    let old = ev("x3", "p1", T0, Payload::Login { channel: None });
    assert_eq!(e.ingest(old, &mut out).unwrap_err().code(), "too_old");
    e.flush(&mut out);
    assert_eq!(
        e.player_count(),
        1,
        "rejected events create no player state"
    );
}

#[test]
fn communication_fade_and_failed_deposits_pull_the_score_down() {
    let mut events = steady("p1", 0..40);
    for d in 0..40 {
        let t = T0 + d * DAY_MS + 9 * HOUR_MS;
        events.push(ev(
            format!("m{d}"),
            "p1",
            t,
            Payload::Message {
                channel: MessageChannel::Email,
                action: MessageAction::Sent,
            },
        ));
        if d < 30 {
            events.push(ev(
                format!("o{d}"),
                "p1",
                t + HOUR_MS,
                Payload::Message {
                    channel: MessageChannel::Email,
                    action: MessageAction::Opened,
                },
            ));
        }
    }
    for k in 0..4 {
        let t = T0 + 39 * DAY_MS + 20 * HOUR_MS + k * 60_000;
        events.push(ev(
            format!("f{k}"),
            "p1",
            t,
            Payload::Deposit {
                amount: eur(50.0),
                status: DepositStatus::Failed,
            },
        ));
    }
    let mut e = engine();
    run(&mut e, sorted(events), 40);
    let v = e.player("casino-a", "p1").unwrap();
    let reasons = v.card.reasons();
    let names: Vec<Signal> = reasons.iter().map(|r| r.signal).collect();
    assert!(names.contains(&Signal::Communication), "{reasons:#?}");
    assert!(names.contains(&Signal::Payment), "{reasons:#?}");
}

/// A random stream of plausible events for a few players over ~50 days,
/// sorted by time.
fn arb_events() -> impl Strategy<Value = Vec<PlayerEvent>> {
    let payload = prop_oneof![
        Just(Payload::Login { channel: None }),
        (1u32..5000).prop_map(|d| Payload::SessionEnd { duration_s: d }),
        (0.1f64..500.0).prop_map(|s| Payload::Bet {
            stake: eur(s),
            game: Game::Live,
            win: None
        }),
        (1.0f64..1000.0, any::<bool>()).prop_map(|(a, ok)| Payload::Deposit {
            amount: eur(a),
            status: if ok {
                DepositStatus::Ok
            } else {
                DepositStatus::Failed
            },
        }),
        (0u8..=10).prop_map(|score| Payload::Nps { score }),
        Just(Payload::Message {
            channel: MessageChannel::Push,
            action: MessageAction::Sent
        }),
        Just(Payload::Message {
            channel: MessageChannel::Push,
            action: MessageAction::Opened
        }),
    ];
    prop::collection::vec((0u8..4, 0i64..50 * DAY_MS, payload), 1..300).prop_map(|mut v| {
        v.sort_by_key(|(_, t, _)| *t);
        v.into_iter()
            .enumerate()
            .map(|(i, (p, t, payload))| ev(format!("e{i}"), &format!("p{p}"), T0 + t, payload))
            .collect()
    })
}

fn final_states(e: &Engine) -> Vec<(String, PlayerState)> {
    let mut v: Vec<_> = e
        .players()
        .map(|p| (p.player_id.to_owned(), p.state.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn scores_stay_in_range_and_reasons_add_up(events in arb_events()) {
        let mut e = engine();
        let out = run(&mut e, events, 80);
        for o in &out {
            let (score, reasons) = match o {
                Output::Alert(a) => (a.score, &a.reasons),
                Output::Score(s) => (s.score, &s.reasons),
                Output::Offer(o) => (o.priority.min(100.0), &o.reasons),
                Output::Outcome(o) => (o.score_after, &Vec::new()),
            };
            prop_assert!((0.0..=100.0).contains(&score));
            prop_assert!(reasons.iter().all(|r| r.contribution <= 0.0 && r.value.is_finite()));
        }
        for p in e.players() {
            let sum: f64 = p.card.contributions.iter().sum();
            prop_assert!((p.card.score - (100.0 + sum).clamp(0.0, 100.0)).abs() < 1e-9);
        }
    }

    #[test]
    fn duplicates_change_nothing(events in arb_events(), picks in prop::collection::vec((any::<prop::sample::Index>(), 0usize..6), 0..30)) {
        let clean = {
            let mut e = engine();
            let out = run(&mut e, events.clone(), 80);
            (out, final_states(&e))
        };
        // Re-deliver some events a few positions later, as a producer retry
        // or a consumer restart would.
        // The copy arrives up to six events after the original, carrying the
        // original's time (possibly beyond the allowed lateness).
        let mut slots: Vec<Vec<PlayerEvent>> = events.iter().map(|e| vec![e.clone()]).collect();
        for (idx, later) in &picks {
            let i = idx.index(events.len());
            let at = (i + later).min(events.len() - 1);
            slots[at].push(events[i].clone());
        }
        let dup: Vec<PlayerEvent> = slots.into_iter().flatten().collect();
        let mut e = engine();
        let (out, too_old) = run_counting(&mut e, dup, 80);
        prop_assert_eq!(e.stats().duplicates + too_old, picks.len() as u64);
        prop_assert_eq!(out, clean.0);
        prop_assert_eq!(final_states(&e), clean.1);
    }

    #[test]
    fn order_within_allowed_lateness_does_not_matter(events in arb_events(), seed in any::<u64>()) {
        let lateness = EngineConfig::default().allowed_lateness.as_millis() as i64;
        let in_order = {
            let mut e = engine();
            let out = run(&mut e, events.clone(), 80);
            (out, final_states(&e))
        };
        // Perturb arrival: each event is delayed by up to 90% of the
        // allowed lateness, then the stream is delivered in arrival order.
        let mut arrivals: Vec<(i64, usize)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let jitter = (seed.wrapping_mul(i as u64 * 2 + 1).rotate_left(29) % (lateness as u64 * 9 / 10)) as i64;
                (e.ts.as_millis() + jitter, i)
            })
            .collect();
        arrivals.sort();
        let shuffled: Vec<PlayerEvent> = arrivals.into_iter().map(|(_, i)| events[i].clone()).collect();
        let mut e = engine();
        let out = run(&mut e, shuffled, 80);
        prop_assert_eq!(e.stats().late, 0);
        prop_assert_eq!(out, in_order.0);
        prop_assert_eq!(final_states(&e), in_order.1);
    }

    #[test]
    fn export_then_import_continues_exactly(events in arb_events(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(events.len());
        let (first, second) = events.split_at(cut);
        // Reference: one engine, flushed at the cut.
        let mut a = engine();
        let mut out_a = Vec::new();
        for e in first { a.ingest(e.clone(), &mut out_a).unwrap(); }
        a.flush(&mut out_a);
        // Hand over every player to a fresh engine at the cut.
        let mut b = engine();
        for p in a.players() {
            b.import(a.export(p.brand, p.player_id).unwrap()).unwrap();
        }
        b.advance_to(a.clock(), &mut Vec::new());
        let (mut tail_a, mut tail_b) = (Vec::new(), Vec::new());
        for e in second {
            a.ingest(e.clone(), &mut tail_a).unwrap();
            b.ingest(e.clone(), &mut tail_b).unwrap();
        }
        a.flush(&mut tail_a);
        b.flush(&mut tail_b);
        prop_assert_eq!(tail_a, tail_b);
        prop_assert_eq!(final_states(&a), final_states(&b));
    }
}

/// Like [`arb_events`], but in bursts of up to 30 seconds a day, delivered
/// out of order within the allowed lateness: the reorder buffer is rarely
/// empty.
fn arb_bursts() -> impl Strategy<Value = Vec<PlayerEvent>> {
    (arb_events(), any::<u64>()).prop_map(|(events, seed)| {
        let lateness = EngineConfig::default().allowed_lateness.as_millis() as u64;
        let mut arrivals: Vec<(i64, PlayerEvent)> = events
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                let t = e.ts.as_millis() - T0;
                let h = seed.wrapping_mul(i as u64 * 2 + 1).rotate_left(29);
                e.ts = Timestamp::from_millis(
                    T0 + t / DAY_MS * DAY_MS + (t % DAY_MS) % 30_000 + (h % 1000) as i64,
                );
                let jitter = (h >> 20) % (lateness * 9 / 10);
                (e.ts.as_millis() + jitter as i64, e)
            })
            .collect();
        arrivals.sort_by_key(|(at, _)| *at);
        arrivals.into_iter().map(|(_, e)| e).collect()
    })
}

/// What a changelog would hold: per batch, the records taken at its end
/// (with the input position they are exact at) and the engine's clock.
struct Batch {
    end: usize,
    records: Vec<PlayerRecord>,
    clock: EngineClock,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// A crash anywhere: the changelog holds every batch up to some point
    /// and part of the next one's records; the input is re-read from an
    /// older committed position. The restored engine skips what records
    /// hold, applies the rest, and ends exactly where an uninterrupted one
    /// does, with no alert it would not have sent.
    #[test]
    fn restoring_from_changes_after_a_crash_is_exact(
        events in arb_bursts(),
        sizes in prop::collection::vec(1usize..40, 1..40),
        crash in any::<prop::sample::Index>(),
        landed in any::<prop::sample::Index>(),
        committed in any::<prop::sample::Index>(),
    ) {
        // The uninterrupted run, in batches.
        let mut a = engine();
        let mut out_a: Vec<Vec<Output>> = Vec::new();
        let mut batches = Vec::new();
        let (mut at, mut size) = (0, sizes.iter().cycle());
        while at < events.len() {
            let end = (at + size.next().copied().unwrap_or(1)).min(events.len());
            let mut out = Vec::new();
            for e in &events[at..end] {
                let _ = a.ingest(e.clone(), &mut out);
            }
            let mut records = Vec::new();
            a.take_changes(&mut records);
            batches.push(Batch { end, records, clock: a.clock_state() });
            out_a.push(out);
            at = end;
        }
        let mut tail = Vec::new();
        a.flush(&mut tail);

        // The crash: batches before `k` complete in the changelog, batch
        // `k` only partly (its clock not written); offsets committed up to
        // the end of some complete batch.
        let k = crash.index(batches.len());
        let partial = &batches[k].records[..landed.index(batches[k].records.len() + 1)];
        let c = if k == 0 { 0 } else { batches[committed.index(k)].end };
        let mut latest: std::collections::BTreeMap<(String, String), (usize, PlayerRecord)> =
            Default::default();
        let logged = batches[..k]
            .iter()
            .flat_map(|b| b.records.iter().map(move |r| (b.end, r)))
            .chain(partial.iter().map(|r| (batches[k].end, r)));
        for (end, r) in logged {
            latest.insert((r.brand.clone(), r.player_id.clone()), (end, r.clone()));
        }
        let mut b = engine();
        if k > 0 {
            b.restore_clock(batches[k - 1].clock);
        }
        let mut through = std::collections::HashMap::new();
        for ((brand, player), (end, r)) in latest {
            through.insert((brand, player), end);
            b.restore(r).unwrap();
        }
        let mut out_b = Vec::new();
        for (offset, e) in events.iter().enumerate().skip(c) {
            let held = through
                .get(&(e.brand.to_string(), e.player_id.to_string()))
                .is_some_and(|&t| offset < t);
            let _ = if held {
                b.skip(e.clone(), &mut out_b)
            } else {
                b.ingest(e.clone(), &mut out_b)
            };
        }
        b.flush(&mut out_b);

        prop_assert_eq!(final_states(&a), final_states(&b));
        prop_assert_eq!(a.clock_state(), b.clock_state());
        // Nothing the original would not have sent, and everything it sent
        // after the crashed batch.
        let sent: Vec<&Output> = out_a.iter().flatten().chain(&tail).collect();
        for o in &out_b {
            prop_assert!(sent.contains(&o), "unexpected output {o:?}");
        }
        for o in out_a[k + 1..].iter().flatten().chain(&tail) {
            prop_assert!(out_b.contains(o), "lost output {o:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Handovers in a chain: each new owner restores from everything the
    /// changelog holds (records of earlier owners included), works for a
    /// while, writes its own records, and hands on.
    #[test]
    fn chained_handovers_end_as_one_uninterrupted_run(
        events in arb_bursts(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..5),
        batch in 1usize..30,
    ) {
        let mut whole = engine();
        let mut want = Vec::new();
        for e in &events {
            let _ = whole.ingest(e.clone(), &mut want);
        }
        whole.flush(&mut want);

        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        cuts.push(events.len());
        cuts.sort_unstable();
        // The changelog: latest record per player with the offset it is
        // exact at, and the latest clock.
        let mut log: std::collections::BTreeMap<(String, String), (usize, PlayerRecord)> =
            Default::default();
        let mut clock = None;
        let mut got = Vec::new();
        let mut from = 0;
        let mut owner = engine();
        for &cut in &cuts {
            owner = engine();
            if let Some(c) = clock {
                owner.restore_clock(c);
            }
            for (_, r) in log.values() {
                owner.restore(r.clone()).unwrap();
            }
            let mut at = from;
            while at < cut {
                let end = (at + batch).min(cut);
                for (offset, e) in events.iter().enumerate().take(end).skip(at) {
                    let held = log
                        .get(&(e.brand.to_string(), e.player_id.to_string()))
                        .is_some_and(|(t, _)| offset < *t);
                    let _ = if held {
                        owner.skip(e.clone(), &mut got)
                    } else {
                        owner.ingest(e.clone(), &mut got)
                    };
                }
                let mut records = Vec::new();
                owner.take_changes(&mut records);
                for r in records {
                    log.insert((r.brand.clone(), r.player_id.clone()), (end, r));
                }
                clock = Some(owner.clock_state());
                at = end;
            }
            from = cut;
        }
        owner.flush(&mut got);
        prop_assert_eq!(final_states(&whole), final_states(&owner));
        for o in &got {
            prop_assert!(want.contains(o), "unexpected output {o:?}");
        }
        for o in &want {
            prop_assert!(got.contains(o), "lost output {o:?}");
        }
    }
}
