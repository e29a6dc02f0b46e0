//! Retention actions of `vigil run` against a real broker (Tansu, started
//! by `scripts/test.sh`): profiles joined from their topic, priority, offers
//! and their conditions, the control group, RG suppression, signs of harm,
//! VIP service levels and outcome records, each checked against what the
//! engines say for the same input and against the rule it proves.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use support::*;
use vigil_codec::output::Encoding;
use vigil_codec::retention::{ProfileRecord, decode_offer, decode_outcome, encode_profile};
use vigil_domain::event::{DepositStatus, Game, RgAction, TicketAction};
use vigil_domain::offer::held_out;
use vigil_domain::time::{DAY_MS, HOUR_MS};
use vigil_domain::{
    Alert, AlertKind, Channel, Currency, EngineConfig, Money, Offer, OfferStatus, OptOuts, Outcome,
    OutcomeSource, Output, Payload, PlayerEvent, Profile, Signal, Suppression, Tier, Timestamp,
};

const T0: i64 = 1_790_000_000_000;
const READY: Duration = Duration::from_secs(90);
const READ: Duration = Duration::from_secs(90);

fn eur(amount: f64) -> Money {
    Money {
        amount,
        currency: Currency::parse("EUR").unwrap(),
    }
}

fn ev(id: String, player: &str, ts: i64, payload: Payload) -> PlayerEvent {
    PlayerEvent {
        event_id: id.into(),
        player_id: player.into(),
        brand: "casino-a".into(),
        ts: Timestamp::from_millis(ts),
        payload,
    }
}

fn bet(stake: f64) -> Payload {
    Payload::Bet {
        stake: eur(stake),
        game: Game::Slots,
        win: None,
    }
}

/// Daily evening visits (a login, a deposit, ten bets) on `days`.
fn visits(player: &str, days: std::ops::Range<i64>, stake: f64) -> Vec<PlayerEvent> {
    let mut out = Vec::new();
    for d in days {
        let start = T0 + d * DAY_MS + 19 * HOUR_MS;
        out.push(ev(
            format!("{player}-{d}-in"),
            player,
            start,
            Payload::Login { channel: None },
        ));
        out.push(ev(
            format!("{player}-{d}-dep"),
            player,
            start + 1_000,
            Payload::Deposit {
                amount: eur(stake * 10.0),
                status: DepositStatus::Ok,
            },
        ));
        for b in 0..10 {
            out.push(ev(
                format!("{player}-{d}-b{b}"),
                player,
                start + (b + 1) * 60_000,
                bet(stake),
            ));
        }
    }
    out
}

/// Player ids, in or out of the default control group.
fn ids(prefix: &str, n: usize, in_control: bool) -> Vec<String> {
    let cfg = EngineConfig::default().offers;
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|p| held_out("casino-a", p, &cfg) == in_control)
        .take(n)
        .collect()
}

struct Scenario {
    events: Vec<(i32, PlayerEvent)>,
    profiles: Vec<ProfileRecord>,
    vip: String,
    excluded: String,
    opted_out: String,
    control: String,
    chaser: String,
    chase_at: i64,
    waiting_vip: String,
    ticket_at: i64,
}

/// Two partitions. Each has a steady player to day 70 (so its clock runs
/// past every outcome's horizon: the leavers, gone from full health, are
/// first read as absent for two weeks); the others play 35 days and leave.
fn scenario() -> Scenario {
    let treated = ids("t", 5, false);
    let control = ids("h", 1, true).remove(0);
    let (vip, excluded, opted_out, chaser, waiting_vip) = (
        treated[0].clone(),
        treated[1].clone(),
        treated[2].clone(),
        treated[3].clone(),
        treated[4].clone(),
    );
    let mut events: Vec<(i32, PlayerEvent)> = Vec::new();
    let mut add = |p: i32, evs: Vec<PlayerEvent>| events.extend(evs.into_iter().map(|e| (p, e)));
    add(0, visits("steady0", 0..70, 2.0));
    add(1, visits("steady1", 0..70, 2.0));
    // vip and opted_out on partition 0, excluded and control on 1.
    for (i, p) in [&vip, &excluded, &opted_out, &control].iter().enumerate() {
        add(i as i32 % 2, visits(p, 0..35, 5.0));
    }
    add(
        1,
        vec![ev(
            "rg-excl".into(),
            &excluded,
            T0 + 20 * DAY_MS,
            Payload::Rg {
                action: RgAction::SelfExclusion,
            },
        )],
    );
    // Chasing losses on day 33, just before leaving: seven bets, each
    // larger than the last.
    let chase_day = T0 + 33 * DAY_MS + 12 * HOUR_MS;
    let mut chase = visits(&chaser, 0..35, 5.0);
    for i in 0..7 {
        chase.push(ev(
            format!("{chaser}-chase{i}"),
            &chaser,
            chase_day + i * 60_000,
            bet(10.0 * (i + 1) as f64),
        ));
    }
    add(1, chase);
    // A VIP's ticket on day 10 that nobody answers.
    let ticket_at = T0 + 10 * DAY_MS + 9 * HOUR_MS;
    let mut waiting = visits(&waiting_vip, 0..60, 2.0);
    waiting.push(ev(
        format!("{waiting_vip}-ticket"),
        &waiting_vip,
        ticket_at,
        Payload::Ticket {
            ticket_id: "T-1".into(),
            action: TicketAction::Opened,
        },
    ));
    add(0, waiting);
    events.sort_by_key(|(_, e)| (e.ts, e.event_id.clone()));
    let profile = |player: &str, tier, manager: Option<&str>, opt_outs: &[&str]| ProfileRecord {
        player_id: player.to_owned(),
        brand: "casino-a".to_owned(),
        profile: Profile {
            tier,
            manager_id: manager.map(str::to_owned),
            segments: vec!["slots".into()],
            opt_outs: OptOuts::parse(opt_outs.iter().copied()).unwrap(),
        },
    };
    let profiles = vec![
        profile(&vip, Tier::Vip, Some("m-1"), &[]),
        profile(&opted_out, Tier::Regular, None, &["marketing"]),
        profile(&waiting_vip, Tier::HighRoller, Some("m-2"), &[]),
    ];
    Scenario {
        events,
        profiles,
        vip,
        excluded,
        opted_out,
        control,
        chaser,
        chase_at: chase_day + 5 * 60_000,
        waiting_vip,
        ticket_at,
    }
}

fn id_set<T>(items: &[T], id: impl Fn(&T) -> &str) -> BTreeSet<String> {
    items.iter().map(|x| id(x).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_actions_end_to_end() {
    let s = scenario();
    let setup = Setup::new(2);
    create_topic(&setup.input, setup.partitions).await;
    create_topic(&setup.profiles, 1).await;
    // The CRM's table, before vigil starts: the first events meet it.
    let profile_records: Vec<(i32, String, Vec<u8>)> = s
        .profiles
        .iter()
        .map(|r| (0, r.player_id.clone(), encode_profile(r, Encoding::Json)))
        .collect();
    produce(&setup.profiles, &profile_records).await;
    produce(&setup.input, &encode_events(&s.events)).await;

    let reference = reference_run(
        &s.events,
        setup.partitions,
        &EngineConfig::default(),
        &s.profiles,
    );
    let want_alerts: Vec<Alert> = reference
        .iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let want_offers: Vec<Offer> = reference
        .iter()
        .filter_map(|o| match o {
            Output::Offer(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let want_outcomes: Vec<Outcome> = reference
        .iter()
        .filter_map(|o| match o {
            Output::Outcome(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    assert!(
        !want_outcomes.is_empty(),
        "the scenario runs past a horizon"
    );

    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    let offer_ids = id_set(&want_offers, |o| &o.offer_id);
    let got = read_until(&setup.offers, setup.partitions, READ, |r| {
        id_set(r, |r| &r.headers["vigil.offer_id"]) == offer_ids
    });
    let offers: Vec<Offer> = got
        .iter()
        .map(|r| decode_offer(&r.payload, Encoding::Json).unwrap())
        .collect();
    assert_eq!(
        id_set(&offers, |o| &o.offer_id),
        offer_ids,
        "{}",
        vigil.log()
    );
    let outcome_ids = id_set(&want_outcomes, |o| &o.outcome_id);
    let got = read_until(&setup.outcomes, setup.partitions, READ, |r| {
        id_set(r, |r| &r.headers["vigil.outcome_id"]) == outcome_ids
    });
    let outcomes: Vec<Outcome> = got
        .iter()
        .map(|r| decode_outcome(&r.payload, Encoding::Json).unwrap())
        .collect();
    assert_eq!(id_set(&outcomes, |o| &o.outcome_id), outcome_ids);
    let alert_ids = id_set(&want_alerts, |a| &a.alert_id);
    let got = read_until(&setup.alerts, setup.partitions, READ, |r| {
        id_set(&alerts_of(r), |a| &a.alert_id) == alert_ids
    });
    let alerts = alerts_of(&got);
    assert_eq!(id_set(&alerts, |a| &a.alert_id), alert_ids);

    // Profile join: the VIP's alerts carry tier and manager; the ranking
    // figures are those of the engines.
    let by_id: HashMap<&str, &Alert> = want_alerts
        .iter()
        .map(|a| (a.alert_id.as_str(), a))
        .collect();
    for a in &alerts {
        let w = by_id[a.alert_id.as_str()];
        assert_eq!((a.tier, &a.manager_id), (w.tier, &w.manager_id));
        assert!((a.priority - w.priority).abs() < 0.01, "{a:?} vs {w:?}");
        if a.player_id == s.vip {
            assert_eq!((a.tier, a.manager_id.as_deref()), (Tier::Vip, Some("m-1")));
        }
    }
    let of = |p: &str| {
        offers
            .iter()
            .filter(|o| o.player_id == p)
            .collect::<Vec<_>>()
    };
    // The VIP gets a manager call, sent.
    assert!(
        of(&s.vip).iter().any(|o| o.rule == "vip_manager_call"
            && o.channel == Channel::Manager
            && o.status == OfferStatus::Sent
            && o.manager_id.as_deref() == Some("m-1")),
        "{:?}",
        of(&s.vip)
    );
    // Self-excluded: the rules fire, nothing goes out.
    assert!(!of(&s.excluded).is_empty());
    for o in of(&s.excluded) {
        assert_eq!(
            (o.status, o.suppressed_by),
            (OfferStatus::Suppressed, Some(Suppression::SelfExclusion))
        );
    }
    // Opted out of marketing: recorded as suppressed.
    assert!(!of(&s.opted_out).is_empty());
    for o in of(&s.opted_out) {
        assert_eq!(o.suppressed_by, Some(Suppression::OptOut));
    }
    // The control group: recorded, held out; and no one else is.
    assert!(!of(&s.control).is_empty());
    for o in &offers {
        let in_control = held_out(&o.brand, &o.player_id, &EngineConfig::default().offers);
        assert_eq!(
            o.status == OfferStatus::HeldOut,
            in_control && o.suppressed_by.is_none(),
            "{o:?}"
        );
    }
    // Caps: no two offers made to a player within the minimum gap.
    let gap = EngineConfig::default().offers.min_gap.as_millis() as i64;
    let mut made: Vec<&Offer> = offers
        .iter()
        .filter(|o| o.status != OfferStatus::Suppressed)
        .collect();
    made.sort_by_key(|o| (o.player_id.clone(), o.ts));
    for w in made.windows(2) {
        if w[0].player_id == w[1].player_id {
            assert!(w[1].ts.as_millis() - w[0].ts.as_millis() >= gap, "{w:?}");
        }
    }
    // Offers are ranked like their alerts and capped by the player's value.
    for o in &offers {
        let a = alerts.iter().find(|a| a.alert_id == o.alert_id).unwrap();
        assert!((o.priority - a.priority).abs() < 0.01);
        assert!(o.value_cap <= o.value + 0.01, "{o:?}");
    }
    // Loss chasing: rg_risk at the bet that made the fifth rise, and no
    // marketing after it.
    let rg: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::RgRisk)
        .collect();
    assert_eq!(rg.len(), 1, "{rg:?}");
    assert_eq!(rg[0].player_id, s.chaser);
    assert_eq!(rg[0].ts.as_millis(), s.chase_at);
    assert_eq!(rg[0].reasons[0].signal, Signal::LossChasing);
    let suppress_for = EngineConfig::default()
        .safeguards
        .harm
        .suppress_marketing_for
        .as_millis() as i64;
    let within: Vec<_> = of(&s.chaser)
        .into_iter()
        .filter(|o| o.ts.as_millis() < s.chase_at + suppress_for)
        .collect();
    assert!(!within.is_empty(), "the chaser drifts within the window");
    for o in within {
        assert_eq!(o.suppressed_by, Some(Suppression::HarmRisk), "{o:?}");
    }
    // The unanswered VIP ticket breaches at 15 s and at 15 min exactly.
    let sla: Vec<(i64, Signal)> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::SlaBreach)
        .map(|a| {
            assert_eq!(a.player_id, s.waiting_vip);
            assert_eq!(a.manager_id.as_deref(), Some("m-2"));
            (a.ts.as_millis() - s.ticket_at, a.reasons[0].signal)
        })
        .collect();
    assert_eq!(
        sla,
        vec![
            (15_000, Signal::FirstResponse),
            (900_000, Signal::Resolution)
        ]
    );
    // Outcomes follow the leavers' alerts and offers a horizon later; no
    // leaver recovered, and offers carry their group.
    let horizon = EngineConfig::default().outcomes.horizon.as_millis() as i64;
    for o in &outcomes {
        assert!(o.ts.as_millis() - o.started.as_millis() >= horizon, "{o:?}");
        assert!(!o.recovered, "nobody came back: {o:?}");
        assert!(
            alert_ids.contains(&o.source_id) || offer_ids.contains(&o.source_id),
            "{o:?}"
        );
    }
    assert!(
        outcomes
            .iter()
            .any(|o| o.source == OutcomeSource::Offer { treated: true })
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.source == OutcomeSource::Offer { treated: false })
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o.source, OutcomeSource::Alert(_)))
    );

    // Metrics: offers by status, suppression reasons and outcome groups.
    vigil
        .wait_metric_at_least(
            r#"vigil_offers_suppressed_total{reason="self_exclusion"}"#,
            of(&s.excluded).len() as f64,
            READ,
        )
        .await;
    vigil
        .wait_metric_at_least(r#"vigil_profiles_loaded"#, s.profiles.len() as f64, READ)
        .await;
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
    for p in [&s.vip, &s.excluded, &s.chaser] {
        assert!(!log.contains(p.as_str()), "player id in the log");
    }
}

/// Many players who all leave: the control group's share of their offers
/// is the configured 10 %, within what chance allows, and membership is the
/// documented hash.
#[tokio::test(flavor = "multi_thread")]
async fn the_control_group_holds_out_its_share_of_many_players() {
    const PLAYERS: usize = 300;
    let setup = Setup::new(2);
    create_topic(&setup.input, setup.partitions).await;
    let mut events: Vec<(i32, PlayerEvent)> = Vec::new();
    for i in 0..PLAYERS {
        let p = format!("m{i}");
        for d in 0..30 {
            let start = T0 + d * DAY_MS + 19 * HOUR_MS;
            events.push((
                (i % 2) as i32,
                ev(
                    format!("{p}-{d}-in"),
                    &p,
                    start,
                    Payload::Login { channel: None },
                ),
            ));
            for b in 0..3 {
                events.push((
                    (i % 2) as i32,
                    ev(
                        format!("{p}-{d}-b{b}"),
                        &p,
                        start + (b + 1) * 60_000,
                        bet(20.0),
                    ),
                ));
            }
        }
    }
    // Two steady players run both clocks on for three weeks.
    for (i, p) in ["steady0", "steady1"].iter().enumerate() {
        events.extend(visits(p, 0..51, 1.0).into_iter().map(|e| (i as i32, e)));
    }
    events.sort_by_key(|(_, e)| (e.ts, e.event_id.clone()));
    let reference = reference_run(&events, setup.partitions, &EngineConfig::default(), &[]);
    let want: BTreeSet<String> = reference
        .iter()
        .filter_map(|o| match o {
            Output::Offer(o) => Some(o.offer_id.clone()),
            _ => None,
        })
        .collect();
    produce(&setup.input, &encode_events(&events)).await;
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    let got = read_until(&setup.offers, setup.partitions, READ, |r| {
        id_set(r, |r| &r.headers["vigil.offer_id"]) == want
    });
    let offers: Vec<Offer> = got
        .iter()
        .map(|r| decode_offer(&r.payload, Encoding::Json).unwrap())
        .collect();
    assert_eq!(id_set(&offers, |o| &o.offer_id), want, "{}", vigil.log());
    // One decision per player: the first offer each got.
    let mut first: HashMap<&str, &Offer> = HashMap::new();
    for o in &offers {
        first
            .entry(o.player_id.as_str())
            .and_modify(|f| {
                if o.ts < f.ts {
                    *f = o;
                }
            })
            .or_insert(o);
    }
    first.retain(|p, _| p.starts_with('m'));
    assert!(
        first.len() >= PLAYERS * 9 / 10,
        "most leavers get an offer: {}",
        first.len()
    );
    let cfg = EngineConfig::default().offers;
    let held = first
        .values()
        .filter(|o| o.status == OfferStatus::HeldOut)
        .count();
    for o in first.values() {
        assert_eq!(
            o.status == OfferStatus::HeldOut,
            held_out(&o.brand, &o.player_id, &cfg),
            "{o:?}"
        );
    }
    let share = held as f64 / first.len() as f64;
    // 10 % of ~300: the standard deviation is 1.7 points; allow 4.
    assert!((share - 0.10).abs() < 0.07, "held-out share {share}");
    // Every offer read back was acknowledged, so counted: by status, the
    // counters add up to what the topic holds.
    let (_, text) = vigil.get("/metrics").await.unwrap();
    let counted = |status: &str| -> f64 {
        text.lines()
            .filter(|l| {
                l.starts_with("vigil_offers_published_total{")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    for status in OfferStatus::ALL {
        let n = offers.iter().filter(|o| o.status == status).count();
        assert_eq!(counted(status.as_str()), n as f64, "{}", status.as_str());
    }
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
}

/// A profile that arrives while the service runs applies from then on: a
/// regular player's alerts after the update carry the new tier and
/// manager.
#[tokio::test(flavor = "multi_thread")]
async fn a_profile_update_applies_to_later_alerts() {
    let setup = Setup::new(1);
    create_topic(&setup.input, 1).await;
    create_topic(&setup.profiles, 1).await;
    let leaver = ids("u", 1, false).remove(0);
    // Until day 31 the leaver plays daily: scored, not alerted yet.
    let mut first: Vec<PlayerEvent> = visits(&leaver, 0..30, 5.0);
    first.extend(visits("steady", 0..31, 2.0));
    let mut later = visits("steady", 31..60, 2.0);
    first.sort_by_key(|e| (e.ts, e.event_id.clone()));
    later.sort_by_key(|e| (e.ts, e.event_id.clone()));
    let part = |evs: &[PlayerEvent]| evs.iter().map(|e| (0, e.clone())).collect::<Vec<_>>();
    produce(&setup.input, &encode_events(&part(&first))).await;
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(READY).await;
    vigil.wait_consumed(first.len(), READ).await;
    let vip = ProfileRecord {
        player_id: leaver.clone(),
        brand: "casino-a".into(),
        profile: Profile {
            tier: Tier::HighRoller,
            manager_id: Some("m-7".into()),
            ..Profile::default()
        },
    };
    produce(
        &setup.profiles,
        &[(0, leaver.clone(), encode_profile(&vip, Encoding::Json))],
    )
    .await;
    // Applied (the signal), then the events during which the leaver's
    // silence raises alerts.
    vigil
        .wait_metric_at_least(
            r#"vigil_profile_updates_total{result="applied"}"#,
            1.0,
            READ,
        )
        .await;
    produce(&setup.input, &encode_events(&part(&later))).await;
    let records = read_until(&setup.alerts, 1, READ, |r| {
        alerts_of(r)
            .iter()
            .filter(|a| a.player_id == leaver && a.kind == AlertKind::BandChange)
            .count()
            >= 2
    });
    let mine: Vec<Alert> = alerts_of(&records)
        .into_iter()
        .filter(|a| a.player_id == leaver)
        .collect();
    assert!(mine.len() >= 2, "the leaver alerts: {mine:?}");
    for a in &mine {
        assert_eq!(
            (a.tier, a.manager_id.as_deref()),
            (Tier::HighRoller, Some("m-7")),
            "{a:?}"
        );
    }
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
}
