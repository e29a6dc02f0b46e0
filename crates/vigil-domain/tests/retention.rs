//! Retention actions on scripted players: profiles on alerts, value and
//! priority, offers and their caps, the control group, safeguards, service
//! levels and outcomes.

use vigil_domain::event::{DepositStatus, Game, RgAction, TicketAction};
use vigil_domain::offer::held_out;
use vigil_domain::time::{DAY_MS, HOUR_MS};
use vigil_domain::*;

mod common;
use common::{T0, alerts, eur, ev, offers, outcomes};

fn bet(stake: f64, win: Option<f64>) -> Payload {
    Payload::Bet {
        stake: eur(stake),
        game: Game::Slots,
        win: win.map(eur),
    }
}

/// A daily evening visit with ten bets of `stake` and a deposit, from day
/// `days.start`; then silence.
fn regular(player: &str, days: std::ops::Range<i64>, stake: f64) -> Vec<PlayerEvent> {
    let mut out = Vec::new();
    for d in days {
        let start = T0 + d * DAY_MS + 19 * HOUR_MS;
        out.push(ev(
            format!("{player}-{d}-login"),
            player,
            start,
            Payload::Login { channel: None },
        ));
        out.push(ev(
            format!("{player}-{d}-dep"),
            player,
            start + 1000,
            Payload::Deposit {
                amount: eur(stake * 10.0),
                status: DepositStatus::Ok,
            },
        ));
        for b in 0..10 {
            out.push(ev(
                format!("{player}-{d}-bet{b}"),
                player,
                start + (b + 1) * 60_000,
                bet(stake, None),
            ));
        }
    }
    out
}

fn profile(tier: Tier, manager: Option<&str>) -> Profile {
    Profile {
        tier,
        manager_id: manager.map(str::to_owned),
        ..Profile::default()
    }
}

/// Feeds events in time order, then moves the clock in 6-hour steps to
/// `until_day`.
fn run(e: &mut Engine, mut events: Vec<PlayerEvent>, until_day: i64) -> Vec<Output> {
    events.sort_by_key(|e| e.ts);
    let mut out = Vec::new();
    for ev in events {
        e.ingest(ev, &mut out).unwrap();
    }
    e.flush(&mut out);
    let mut t = e.clock().as_millis();
    while t < T0 + until_day * DAY_MS {
        t += 6 * HOUR_MS;
        e.advance_to(Timestamp::from_millis(t), &mut out);
    }
    out
}

/// The first `n` player ids in (or out of) the control group.
fn players(n: usize, in_control: bool) -> Vec<String> {
    let cfg = EngineConfig::default().offers;
    (0..)
        .map(|i| format!("p{i}"))
        .filter(|p| held_out("casino-a", p, &cfg) == in_control)
        .take(n)
        .collect()
}

fn engine() -> Engine {
    Engine::new(EngineConfig::default()).unwrap()
}

#[test]
fn alerts_carry_the_profile_value_and_priority_and_vips_get_a_manager_call() {
    let p = &players(1, false)[0];
    let mut e = engine();
    e.set_profile("casino-a", p, Some(profile(Tier::Vip, Some("m7"))));
    let out = run(&mut e, regular(p, 0..35, 5.0), 60);
    let o = offers(&out);
    let call = o
        .iter()
        .find(|o| o.rule == "vip_manager_call")
        .expect("a VIP who leaves gets a manager call");
    assert_eq!(call.channel, Channel::Manager);
    assert_eq!(call.status, OfferStatus::Sent);
    assert_eq!(call.manager_id.as_deref(), Some("m7"));
    let a = alerts(&out);
    let trigger = a.iter().find(|a| a.alert_id == call.alert_id).unwrap();
    assert!(trigger.kind.is_risk());
    for a in &a {
        assert_eq!(a.tier, Tier::Vip);
        assert_eq!(a.manager_id.as_deref(), Some("m7"));
        assert!(a.priority > 0.0, "{a:?}");
    }
    assert!(trigger.value > 0.0, "{trigger:?}");
    assert!(!call.offer_id.is_empty() && call.offer_id != call.alert_id);
}

#[test]
fn the_more_valuable_of_two_equally_risky_players_ranks_first() {
    let ids = players(2, false);
    let mut e = engine();
    let mut events = regular(&ids[0], 0..35, 1.0);
    events.extend(regular(&ids[1], 0..35, 20.0));
    let out = run(&mut e, events, 60);
    let first = |p: &str| {
        alerts(&out)
            .into_iter()
            .find(|a| a.player_id == p && a.kind == AlertKind::BandChange)
            .cloned()
            .unwrap()
    };
    let (small, big) = (first(&ids[0]), first(&ids[1]));
    assert!(
        (small.score - big.score).abs() < 0.01,
        "same behaviour, same risk"
    );
    assert!(big.value > 10.0 * small.value, "{big:?} {small:?}");
    assert!(big.priority > small.priority);
}

#[test]
fn a_self_excluded_player_never_gets_an_offer_even_when_rules_fire() {
    let ids = players(3, false);
    let mut e = engine();
    let mut events = Vec::new();
    for p in &ids {
        events.extend(regular(p, 0..35, 5.0));
    }
    events.push(ev(
        "rg1",
        &ids[0],
        T0 + 20 * DAY_MS,
        Payload::Rg {
            action: RgAction::SelfExclusion,
        },
    ));
    let out = run(&mut e, events, 70);
    let o = offers(&out);
    let mine: Vec<_> = o.iter().filter(|o| o.player_id == ids[0]).collect();
    assert!(!mine.is_empty(), "the rules matched and were recorded");
    for offer in &mine {
        assert_eq!(offer.status, OfferStatus::Suppressed, "{offer:?}");
        assert_eq!(offer.suppressed_by, Some(Suppression::SelfExclusion));
    }
    // The others, identical but for the exclusion, got theirs.
    assert!(
        o.iter()
            .any(|o| o.player_id == ids[1] && o.status == OfferStatus::Sent)
    );
    assert!(e.stats().suppressed[0] >= mine.len() as u64);
}

#[test]
fn opted_out_players_are_not_marketed_to() {
    let p = &players(1, false)[0];
    let mut e = engine();
    let mut prof = profile(Tier::Regular, None);
    prof.opt_outs = OptOuts::parse(["marketing"]).unwrap();
    e.set_profile("casino-a", p, Some(prof));
    let out = run(&mut e, regular(p, 0..35, 5.0), 70);
    let o = offers(&out);
    assert!(!o.is_empty());
    assert!(o.iter().all(
        |o| o.status == OfferStatus::Suppressed && o.suppressed_by == Some(Suppression::OptOut)
    ));
}

#[test]
fn offers_respect_the_gap_between_offers_and_the_control_group_is_held_out() {
    let treated = players(12, false);
    let control = players(4, true);
    let mut e = engine();
    let mut events = Vec::new();
    for (i, p) in treated.iter().chain(&control).enumerate() {
        // Fade in steps, so several alerts fire per player.
        events.extend(regular(p, 0..30, 5.0));
        events.extend(
            regular(p, 30..45, 1.0 + i as f64 * 0.1)
                .into_iter()
                .step_by(3),
        );
    }
    let out = run(&mut e, events, 80);
    let o = offers(&out);
    let gap = EngineConfig::default().offers.min_gap.as_millis() as i64;
    for p in treated.iter().chain(&control) {
        let made: Vec<_> = o
            .iter()
            .filter(|o| &o.player_id == p && o.status != OfferStatus::Suppressed)
            .collect();
        for w in made.windows(2) {
            assert!(
                w[1].ts.as_millis() - w[0].ts.as_millis() >= gap,
                "two offers within the minimum gap: {w:?}"
            );
        }
    }
    for o in &o {
        let in_control = control.contains(&o.player_id);
        assert_eq!(o.status == OfferStatus::HeldOut, in_control, "{o:?}");
    }
    assert!(o.iter().any(|o| o.status == OfferStatus::HeldOut));
    assert!(
        e.stats().offers_skipped.iter().sum::<u64>() > 0,
        "caps held offers back"
    );
}

#[test]
fn loss_chasing_raises_rg_risk_at_once_and_stops_marketing() {
    let p = &players(1, false)[0];
    let mut e = engine();
    let mut events = regular(p, 0..30, 5.0);
    let day = T0 + 30 * DAY_MS + 12 * HOUR_MS;
    for (i, stake) in [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
        .iter()
        .enumerate()
    {
        events.push(ev(
            format!("chase{i}"),
            p,
            day + i as i64 * 60_000,
            bet(*stake, None),
        ));
    }
    let out = run(&mut e, events, 70);
    let rg: Vec<_> = alerts(&out)
        .into_iter()
        .filter(|a| a.kind == AlertKind::RgRisk)
        .collect();
    assert_eq!(rg.len(), 1, "one alert per cooldown: {rg:?}");
    assert_eq!(rg[0].reasons[0].signal, Signal::LossChasing);
    // Raised on the bet that made the fifth rise in a row.
    assert_eq!(rg[0].ts.as_millis(), day + 5 * 60_000);
    assert!(rg[0].priority >= 1.0);
    // The player then drifts away: every offer is suppressed for harm.
    let o = offers(&out);
    assert!(!o.is_empty());
    for offer in o {
        assert!(offer.ts.as_millis() > day);
        assert_eq!(
            offer.suppressed_by,
            Some(Suppression::HarmRisk),
            "{offer:?}"
        );
    }
}

#[test]
fn deposit_velocity_long_sessions_and_failed_deposits_while_losing_are_signs_of_harm() {
    let ids = players(3, false);
    let mut events = Vec::new();
    for p in &ids {
        events.extend(regular(p, 0..20, 2.0));
    }
    let day = T0 + 20 * DAY_MS + 10 * HOUR_MS;
    events.push(ev(
        "big",
        &ids[0],
        day,
        Payload::Deposit {
            amount: eur(3_000.0),
            status: DepositStatus::Ok,
        },
    ));
    events.push(ev(
        "long",
        &ids[1],
        day,
        Payload::SessionEnd {
            duration_s: 7 * 3600,
        },
    ));
    events.push(ev("loss", &ids[2], day, bet(100.0, None)));
    for i in 0..3 {
        events.push(ev(
            format!("fail{i}"),
            &ids[2],
            day + (i + 1) * 60_000,
            Payload::Deposit {
                amount: eur(100.0),
                status: DepositStatus::Failed,
            },
        ));
    }
    let mut e = engine();
    let out = run(&mut e, events, 21);
    let sign = |p: &str| {
        alerts(&out)
            .into_iter()
            .find(|a| a.player_id == p && a.kind == AlertKind::RgRisk)
            .map(|a| a.reasons[0].signal)
    };
    assert_eq!(sign(&ids[0]), Some(Signal::DepositVelocity));
    assert_eq!(sign(&ids[1]), Some(Signal::SessionLength));
    assert_eq!(sign(&ids[2]), Some(Signal::FailedDeposits));
}

#[test]
fn vip_tickets_breach_their_service_levels_on_time() {
    let ids = players(3, false);
    let mut e = engine();
    e.set_profile("casino-a", &ids[0], Some(profile(Tier::Vip, Some("m1"))));
    e.set_profile("casino-a", &ids[1], Some(profile(Tier::HighRoller, None)));
    let t = T0 + DAY_MS;
    let ticket = |id: &str, p: &str, at: i64, action| {
        ev(
            id,
            p,
            at,
            Payload::Ticket {
                ticket_id: "t1".into(),
                action,
            },
        )
    };
    let events = vec![
        // A VIP waits: both levels breached.
        ticket("a", &ids[0], t, TicketAction::Opened),
        // A high roller is answered in 10 s and helped in 5 minutes.
        ticket("b", &ids[1], t, TicketAction::Opened),
        ticket("c", &ids[1], t + 10_000, TicketAction::Replied),
        ticket("d", &ids[1], t + 300_000, TicketAction::Resolved),
        // A regular player has no service level.
        ticket("e", &ids[2], t, TicketAction::Opened),
    ];
    let out = run(&mut e, events, 2);
    let sla: Vec<_> = alerts(&out)
        .into_iter()
        .filter(|a| a.kind == AlertKind::SlaBreach)
        .collect();
    assert_eq!(sla.len(), 2, "{sla:#?}");
    assert!(sla.iter().all(|a| a.player_id == ids[0]));
    assert_eq!(sla[0].reasons[0].signal, Signal::FirstResponse);
    assert_eq!(sla[0].ts.as_millis(), t + 15_000);
    assert_eq!(sla[1].reasons[0].signal, Signal::Resolution);
    assert_eq!(sla[1].ts.as_millis(), t + 15 * 60_000);
    assert_eq!(sla[0].manager_id.as_deref(), Some("m1"));
    // Breaches count as support friction.
    let v = e.player("casino-a", &ids[0]).unwrap();
    assert!(
        v.state
            .decayed
            .values(
                vigil_domain::decay::Counter::SlowTickets,
                v.state.last_event
            )
            .0
            > 1.9
    );
}

#[test]
fn outcomes_follow_alerts_and_offers_up_after_the_horizon() {
    let ids = players(2, false);
    let mut e = engine();
    let mut events = regular(&ids[0], 0..35, 5.0);
    // The second player leaves too (for longer than an absence), then
    // comes back for good.
    events.extend(regular(&ids[1], 0..35, 5.0));
    events.extend(regular(&ids[1], 52..80, 5.0));
    let out = run(&mut e, events, 80);
    let alerts = alerts(&out);
    let oc = outcomes(&out);
    let horizon = EngineConfig::default().outcomes.horizon.as_millis() as i64;
    for p in &ids {
        let first = alerts
            .iter()
            .find(|a| &a.player_id == p && a.kind.is_risk() && a.band >= a.prev_band)
            .unwrap();
        let o = oc
            .iter()
            .find(|o| o.source_id == first.alert_id)
            .expect("every risk alert is followed up");
        assert_eq!(o.source, OutcomeSource::Alert(first.kind));
        assert!(o.ts.as_millis() - first.ts.as_millis() >= horizon);
        assert!(o.ts.as_millis() - first.ts.as_millis() < horizon + DAY_MS);
        assert_eq!(o.score_before, (first.score * 100.0).round() / 100.0);
    }
    let recovered = |p: &str| {
        oc.iter()
            .filter(|o| o.player_id == p && matches!(o.source, OutcomeSource::Alert(_)))
            .any(|o| o.recovered)
    };
    assert!(!recovered(&ids[0]), "the leaver did not come back");
    assert!(recovered(&ids[1]), "the returner did");
    // Offers are followed up with their group.
    assert!(
        oc.iter()
            .any(|o| o.source == OutcomeSource::Offer { treated: true })
    );
}
