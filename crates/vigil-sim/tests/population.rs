//! The population as its users rely on it: reproducible, in time order,
//! with unique ids, and with drifters that really drift while everyone
//! else keeps their habits.

use std::collections::HashMap;

use vigil_domain::event::{
    BonusAction, DepositStatus, MessageAction, RgAction, TicketAction, WithdrawalStatus,
};
use vigil_domain::time::{DAY_MS, HOUR_MS};
use vigil_domain::{Payload, PlayerEvent};
use vigil_sim::{Archetype, Fate, Population, SimConfig};

fn config(seed: u64, players: u32, days: u32) -> SimConfig {
    SimConfig {
        seed,
        players,
        days,
        ..SimConfig::default()
    }
}

fn index(e: &PlayerEvent) -> usize {
    e.player_id[1..].parse().expect("ids are p<number>")
}

/// Day of the simulation an event falls on.
fn sim_day(pop: &Population, e: &PlayerEvent) -> usize {
    (e.ts.millis_since(pop.config().start) / DAY_MS) as usize
}

/// Day of the week, 0 = Monday.
fn weekday(e: &PlayerEvent) -> i64 {
    (e.ts.day() + 3).rem_euclid(7)
}

/// Whether the player (not the operator) did this.
fn by_player(p: &Payload) -> bool {
    match p {
        Payload::Message { action, .. } => *action != MessageAction::Sent,
        Payload::Bonus { action, .. } => *action == BonusAction::Claimed,
        Payload::Ticket { action, .. } => *action == TicketAction::Opened,
        Payload::Withdrawal { status, .. } => *status == WithdrawalStatus::Requested,
        Payload::Rg { action } => *action != RgAction::RealityCheck,
        _ => true,
    }
}

/// Events per player per simulation day.
fn daily_counts(pop: &Population, events: &[PlayerEvent]) -> Vec<Vec<u32>> {
    let days = pop.config().days as usize;
    let mut counts = vec![vec![0u32; days]; pop.labels().len()];
    for e in events {
        counts[index(e)][sim_day(pop, e)] += 1;
    }
    counts
}

#[test]
fn same_seed_same_stream_other_seed_other_stream() {
    let first = |seed| -> Vec<PlayerEvent> {
        Population::new(config(seed, 300, 30))
            .events()
            .take(10_000)
            .collect()
    };
    let a = first(7);
    assert_eq!(a.len(), 10_000);
    assert_eq!(a, first(7));
    assert_ne!(a, first(8));
    assert_eq!(
        Population::new(config(7, 300, 30)).labels(),
        Population::new(config(7, 300, 30)).labels()
    );
}

#[test]
fn events_come_in_time_order_within_the_simulated_days() {
    let pop = Population::new(config(3, 400, 35));
    let start = pop.config().start;
    let end = start.as_millis() + 35 * DAY_MS;
    let mut last = start;
    let mut n = 0;
    for e in pop.events() {
        assert!(e.ts >= last, "{} before {last}", e.ts);
        assert!(e.ts.as_millis() < end);
        last = e.ts;
        n += 1;
    }
    assert!(n > 50_000, "{n}");
}

#[test]
fn a_group_of_players_gets_exactly_their_share_of_the_stream() {
    let pop = Population::new(config(5, 120, 25));
    let all: Vec<_> = pop.events().collect();
    let some: Vec<_> = pop.events_of(40..55).collect();
    let expected: Vec<_> = all
        .into_iter()
        .filter(|e| (40..55).contains(&index(e)))
        .collect();
    assert!(!some.is_empty());
    assert_eq!(some, expected);
}

#[test]
fn ids_are_unique_and_duplicates_are_verbatim_copies_right_after() {
    let cfg = config(11, 300, 30);
    let clean: Vec<_> = Population::new(cfg.clone()).events().collect();
    let mut ids: Vec<&str> = clean.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), clean.len(), "ids unique without duplicates");
    assert!(
        clean
            .iter()
            .all(|e| e.event_id.starts_with(e.player_id.as_str()))
    );

    let noisy: Vec<_> = Population::new(SimConfig {
        duplicate_rate: 0.05,
        ..cfg
    })
    .events()
    .collect();
    let mut copies = 0;
    let mut originals = Vec::with_capacity(clean.len());
    for (i, e) in noisy.iter().enumerate() {
        if i > 0 && noisy[i - 1].event_id == e.event_id {
            assert_eq!(&noisy[i - 1], e, "a duplicate repeats the event verbatim");
            copies += 1;
        } else {
            originals.push(e.clone());
        }
    }
    // Duplicates only add copies: everything else is unchanged.
    assert_eq!(originals, clean);
    let share = f64::from(copies) / clean.len() as f64;
    assert!((0.04..0.06).contains(&share), "{share}");
}

#[test]
fn missing_events_are_dropped_and_late_ones_come_after_the_next() {
    let cfg = config(11, 300, 30);
    let clean: Vec<_> = Population::new(cfg.clone()).events().collect();
    let lossy: Vec<_> = Population::new(SimConfig {
        missing_rate: 0.1,
        ..cfg.clone()
    })
    .events()
    .collect();
    // A subsequence of the clean stream, about a tenth shorter.
    let mut it = clean.iter();
    assert!(lossy.iter().all(|e| it.any(|c| c == e)), "only drops");
    let share = 1.0 - lossy.len() as f64 / clean.len() as f64;
    assert!((0.09..0.11).contains(&share), "{share}");

    let shuffled: Vec<_> = Population::new(SimConfig {
        reorder_rate: 0.05,
        ..cfg
    })
    .events()
    .collect();
    assert_eq!(shuffled.len(), clean.len(), "nothing lost");
    let mut a: Vec<&str> = shuffled.iter().map(|e| e.event_id.as_str()).collect();
    let mut b: Vec<&str> = clean.iter().map(|e| e.event_id.as_str()).collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "the same events");
    let inversions = shuffled.windows(2).filter(|w| w[1].ts < w[0].ts).count();
    let share = inversions as f64 / clean.len() as f64;
    assert!((0.02..0.06).contains(&share), "{share}");
}

#[test]
fn the_drifting_share_matches_the_configuration() {
    let pop = Population::new(config(13, 4000, 60));
    let count = |f: Fate| pop.labels().iter().filter(|l| l.fate == f).count() as f64 / 4000.0;
    let (fade, leave, back) = (
        count(Fate::SlowFade),
        count(Fate::AbruptLeave),
        count(Fate::Returns),
    );
    let drift = fade + leave + back;
    assert!((0.22..0.28).contains(&drift), "{fade} + {leave} + {back}");
    // A fifth of the drifters come back; of the rest, 40% leave abruptly.
    assert!((0.15..0.25).contains(&(back / drift)), "{back}");
    assert!((0.06..0.10).contains(&leave), "{leave}");
    for l in pop.labels() {
        assert_eq!(l.fate.drifts(), l.onset.is_some());
        assert_eq!(l.fate.drifts(), l.churn_at.is_some());
        assert_eq!(l.fate == Fate::Returns, l.return_at.is_some());
        if let (Some(onset), Some(churn)) = (l.onset, l.churn_at) {
            assert!(onset < churn);
            assert!(onset.millis_since(pop.config().start) < 60 * DAY_MS);
        }
        if let (Some(churn), Some(back)) = (l.churn_at, l.return_at) {
            let away = back.millis_since(churn) / DAY_MS;
            assert!(
                (14..=28).contains(&away),
                "{} away {away} days",
                l.player_id
            );
        }
    }
    let none = Population::new(SimConfig {
        drift_share: 0.0,
        ..config(13, 500, 60)
    });
    assert!(none.labels().iter().all(|l| l.fate == Fate::Stable));
}

#[test]
fn a_fade_lasts_as_configured_and_other_fates_are_untouched() {
    let fade_of = |pop: &Population| -> Vec<u64> {
        pop.labels()
            .iter()
            .filter(|l| l.fate == Fate::SlowFade)
            .map(|l| l.churn_at.unwrap().millis_since(l.onset.unwrap()) as u64 / DAY_MS as u64)
            .collect()
    };
    let usual = Population::new(config(21, 2000, 60));
    let fades = fade_of(&usual);
    assert!(fades.len() > 50, "{}", fades.len());
    assert!(fades.iter().all(|d| (14..=21).contains(d)), "{fades:?}");
    let long = Population::new(SimConfig {
        fade_days: (40, 40),
        ..config(21, 2000, 60)
    });
    let fades = fade_of(&long);
    assert!(fades.iter().all(|&d| d == 40), "{fades:?}");
    // The same players drift, from the same days; only the faders' end
    // moves, some of them past the simulated period.
    for (a, b) in usual.labels().iter().zip(long.labels()) {
        assert_eq!((a.fate, a.onset), (b.fate, b.onset), "{}", a.player_id);
        if a.fate != Fate::SlowFade {
            assert_eq!(a.churn_at, b.churn_at, "{}", a.player_id);
        }
    }
    assert!(long.labels().iter().any(|l| l.fate == Fate::SlowFade
        && l.churn_at.unwrap().millis_since(long.config().start) > 60 * DAY_MS));
}

#[test]
fn faders_fade_and_stable_players_keep_their_pace() {
    let days = 84;
    let pop = Population::new(config(9, 1200, days));
    let events: Vec<_> = pop.events().collect();
    let counts = daily_counts(&pop, &events);
    let sum = |c: &[u32], from: u32, to: u32| -> u32 {
        c[from.min(days) as usize..to.min(days) as usize]
            .iter()
            .sum()
    };

    let (mut before, mut after, mut faders) = (0, 0, 0);
    for (l, c) in pop.labels().iter().zip(&counts) {
        if l.fate != Fate::SlowFade {
            continue;
        }
        let onset = (l.onset.unwrap().millis_since(pop.config().start) / DAY_MS) as u32;
        if onset < 14 || onset + 28 > days {
            continue;
        }
        faders += 1;
        before += sum(c, onset - 14, onset);
        after += sum(c, onset + 14, onset + 28);
    }
    assert!(faders > 50, "{faders}");
    assert!(
        f64::from(after) < 0.5 * f64::from(before),
        "faders: {before} events in the two weeks before onset, {after} in weeks three and four"
    );

    let weeks: Vec<u32> = (0..days / 7)
        .map(|w| {
            pop.labels()
                .iter()
                .zip(&counts)
                .filter(|(l, _)| l.fate == Fate::Stable)
                .map(|(_, c)| sum(c, w * 7, w * 7 + 7))
                .sum()
        })
        .collect();
    let mean = f64::from(weeks.iter().sum::<u32>()) / weeks.len() as f64;
    for (w, &n) in weeks.iter().enumerate() {
        let ratio = f64::from(n) / mean;
        assert!(
            (0.85..1.15).contains(&ratio),
            "stable week {w}: {ratio:.2} of the mean"
        );
    }
}

#[test]
fn faders_open_fewer_messages() {
    let pop = Population::new(config(21, 1500, 70));
    let start = pop.config().start;
    // (sent, opened) before and after onset + 7 days.
    let mut tally = [[0u32; 2]; 2];
    for e in pop.events() {
        let l = &pop.labels()[index(&e)];
        let (Some(onset), Payload::Message { action, .. }) = (l.onset, &e.payload) else {
            continue;
        };
        if l.fate != Fate::SlowFade {
            continue;
        }
        let late = e.ts.millis_since(onset) >= 7 * DAY_MS;
        let k = match action {
            MessageAction::Sent => 0,
            MessageAction::Opened => 1,
            MessageAction::Clicked => continue,
        };
        tally[usize::from(late)][k] += 1;
        assert!(e.ts >= start);
    }
    let rate = |t: [u32; 2]| f64::from(t[1]) / f64::from(t[0].max(1));
    let (early, late) = (rate(tally[0]), rate(tally[1]));
    assert!(
        early > 0.25 && late < 0.5 * early,
        "{early:.2} -> {late:.2}"
    );
}

#[test]
fn leavers_have_a_bad_experience_and_then_do_nothing() {
    let pop = Population::new(config(17, 1500, 60));
    let events: Vec<_> = pop.events().collect();
    let mut bad = HashMap::<usize, (bool, bool, u32)>::new();
    let mut resolved = HashMap::<String, bool>::new();
    for e in &events {
        let l = &pop.labels()[index(e)];
        let (Some(onset), Some(churn)) = (l.onset, l.churn_at) else {
            continue;
        };
        let back = l
            .return_at
            .unwrap_or(vigil_domain::Timestamp::from_millis(i64::MAX));
        assert!(
            e.ts < churn || e.ts >= back || !by_player(&e.payload),
            "{} acts after leaving: {e:?}",
            l.player_id
        );
        if l.fate != Fate::AbruptLeave || e.ts < onset || e.ts.millis_since(onset) >= 2 * DAY_MS {
            continue;
        }
        let entry = bad.entry(index(e)).or_default();
        match &e.payload {
            Payload::Withdrawal {
                status: WithdrawalStatus::Declined,
                ..
            } => entry.0 = true,
            Payload::Deposit {
                status: DepositStatus::Failed,
                ..
            } => entry.2 += 1,
            Payload::Ticket {
                ticket_id,
                action: TicketAction::Opened,
            } => {
                entry.1 = true;
                resolved.entry(ticket_id.clone()).or_insert(false);
            }
            _ => {}
        }
    }
    for e in &events {
        if let Payload::Ticket {
            ticket_id,
            action: TicketAction::Resolved,
        } = &e.payload
        {
            if let Some(r) = resolved.get_mut(ticket_id) {
                *r = true;
            }
        }
    }
    let leavers = pop
        .labels()
        .iter()
        .filter(|l| l.fate == Fate::AbruptLeave && l.onset.unwrap() < events.last().unwrap().ts)
        .count();
    assert!(leavers > 50, "{leavers}");
    assert_eq!(bad.len(), leavers, "every leaver has a bad day");
    for (i, (declined, ticket, failed)) in &bad {
        assert!(*declined || *failed >= 3, "p{i:06}: no bad experience");
        assert!(*ticket, "p{i:06}: no complaint");
    }
    assert!(resolved.values().all(|r| !r), "complaints stay unresolved");
}

#[test]
fn each_login_starts_a_session_that_ends_before_the_next() {
    let pop = Population::new(config(37, 600, 30));
    let mut open = vec![None; 600];
    let mut sessions = 0;
    for e in pop.events() {
        let i = index(&e);
        match e.payload {
            Payload::Login { .. } => {
                assert!(open[i].is_none(), "{}: login inside a session", e.event_id);
                open[i] = Some(e.ts);
            }
            Payload::SessionEnd { duration_s } => {
                let start = open[i].take().expect("a session ends after a login");
                assert_eq!(i64::from(duration_s), e.ts.millis_since(start) / 1000);
                sessions += 1;
            }
            _ => {}
        }
    }
    assert!(sessions > 5_000, "{sessions}");
}

#[test]
fn players_on_holiday_do_nothing_but_read_a_message_or_two() {
    let pop = Population::new(config(31, 1000, 40));
    let mut away = 0;
    for e in pop.events() {
        let Some((from, to)) = pop.labels()[index(&e)].holiday else {
            continue;
        };
        if e.ts >= from && e.ts < to && by_player(&e.payload) {
            assert!(
                matches!(e.payload, Payload::Message { .. }) || e.ts.millis_since(from) < DAY_MS,
                "{e:?}"
            );
        }
        away += 1;
    }
    assert!(away > 0);
    let holidays = pop.labels().iter().filter(|l| l.holiday.is_some()).count();
    assert!((50..150).contains(&holidays), "{holidays}");
    assert!(
        pop.labels()
            .iter()
            .all(|l| l.holiday.is_none() || l.fate == Fate::Stable)
    );
}

#[test]
fn archetypes_keep_their_rhythms() {
    let pop = Population::new(config(23, 1500, 28));
    let events: Vec<_> = pop.events().collect();
    let of = |e: &PlayerEvent| pop.labels()[index(e)].archetype;
    let logins = |a: Archetype| {
        events
            .iter()
            .filter(move |e| of(e) == a && matches!(e.payload, Payload::Login { .. }))
    };

    let weekend = logins(Archetype::Weekend)
        .filter(|e| weekday(e) >= 4)
        .count();
    let weekend_share = weekend as f64 / logins(Archetype::Weekend).count() as f64;
    assert!(
        weekend_share > 0.75,
        "weekend players' weekend share {weekend_share:.2}"
    );

    let tickets: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.payload, Payload::LotteryTicket { .. }))
        .collect();
    let on_draw_day = tickets
        .iter()
        .filter(|e| [2, 5].contains(&weekday(e)))
        .count();
    assert!(on_draw_day as f64 > 0.99 * tickets.len() as f64);
    assert!(tickets.iter().all(|e| {
        let hour = e.ts.as_millis().rem_euclid(DAY_MS) / HOUR_MS;
        hour < 20
    }));

    let hour = |e: &&PlayerEvent| e.ts.as_millis().rem_euclid(DAY_MS) / HOUR_MS;
    let evening = logins(Archetype::Regular)
        .filter(|e| (18..24).contains(&hour(e)))
        .count();
    let morning = logins(Archetype::Regular)
        .filter(|e| (6..12).contains(&hour(e)))
        .count();
    assert!(
        evening > 2 * morning,
        "evening {evening}, morning {morning}"
    );

    let per_day = |a: Archetype| {
        let players = pop.labels().iter().filter(|l| l.archetype == a).count();
        logins(a).count() as f64 / players as f64 / 28.0
    };
    assert!(
        per_day(Archetype::Regular) > 0.8,
        "{}",
        per_day(Archetype::Regular)
    );
    assert!(
        per_day(Archetype::Casual) < 0.4,
        "{}",
        per_day(Archetype::Casual)
    );
}

#[test]
fn money_looks_real() {
    let pop = Population::new(config(29, 1500, 21));
    let mut stakes: HashMap<Archetype, Vec<f64>> = HashMap::new();
    let mut currencies: HashMap<String, usize> = HashMap::new();
    let (mut requested, mut paid) = (0, 0);
    for e in pop.events() {
        match &e.payload {
            Payload::Bet { stake, win, .. } => {
                assert!(stake.amount > 0.0);
                assert!(
                    win.is_none_or(|w| w.amount > stake.amount && w.currency == stake.currency)
                );
                *currencies.entry(stake.currency.to_string()).or_default() += 1;
                if stake.currency.as_str() == "EUR" {
                    let a = pop.labels()[index(&e)].archetype;
                    stakes.entry(a).or_default().push(stake.amount);
                }
            }
            Payload::Deposit { amount, .. } => assert!(amount.amount >= 1.0),
            Payload::Withdrawal { status, .. } => match status {
                WithdrawalStatus::Requested => requested += 1,
                WithdrawalStatus::Paid => paid += 1,
                WithdrawalStatus::Declined => {}
            },
            Payload::Nps { score } => assert!(*score <= 10),
            _ => {}
        }
    }
    let total: usize = currencies.values().sum();
    assert!(currencies["EUR"] as f64 > 0.6 * total as f64);
    for c in ["GBP", "USD", "SEK"] {
        assert!(currencies.get(c).copied().unwrap_or(0) > 0, "{c}");
    }
    let mut median = |a: Archetype| {
        let v = stakes.get_mut(&a).unwrap();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (regular, regular_max) = median(Archetype::Regular);
    let (high, _) = median(Archetype::HighRoller);
    assert!(
        high > 10.0 * regular,
        "high rollers {high}, regulars {regular}"
    );
    assert!(
        regular_max > 50.0 * regular,
        "heavy tail: {regular_max} vs {regular}"
    );
    assert!(requested > 0 && paid > 0 && paid <= requested);
}

#[test]
fn edge_cases_do_not_panic() {
    for cfg in [
        config(1, 0, 10),
        config(1, 10, 0),
        config(1, 10, 1),
        SimConfig {
            brands: Vec::new(),
            drift_share: 1.0,
            returner_share: 0.5,
            leaver_share: 1.0,
            duplicate_rate: 1.0,
            missing_rate: 0.5,
            reorder_rate: 1.0,
            ..config(1, 20, 3)
        },
    ] {
        let pop = Population::new(cfg);
        let n = pop.events().count();
        assert!(pop.labels().is_empty() || pop.config().days == 0 || n > 0);
    }
}

/// Whether the player logged in (the start of any visit).
fn is_login(e: &PlayerEvent) -> bool {
    matches!(e.payload, Payload::Login { .. })
}

#[test]
fn the_new_archetypes_and_returners_come_in_sensible_shares() {
    let pop = Population::new(config(43, 6000, 60));
    let share = |brand: &str, a: Archetype| {
        let of_brand: Vec<_> = pop.labels().iter().filter(|l| l.brand == brand).collect();
        of_brand.iter().filter(|l| l.archetype == a).count() as f64 / of_brand.len() as f64
    };
    let seasonal = share("sportsbook-b", Archetype::Seasonal);
    assert!((0.15..0.25).contains(&seasonal), "seasonal {seasonal}");
    assert_eq!(share("casino-a", Archetype::Seasonal), 0.0);
    let hunters = share("casino-a", Archetype::BonusHunter);
    assert!((0.05..0.10).contains(&hunters), "bonus hunters {hunters}");
    assert!(share("sportsbook-b", Archetype::BonusHunter) < 0.03);
    for l in pop.labels() {
        assert_eq!(
            l.archetype == Archetype::Seasonal,
            l.season_break.is_some(),
            "{l:?}"
        );
    }
}

#[test]
fn seasonal_bettors_are_busy_on_match_days_and_quiet_in_the_break() {
    let days = 60;
    let pop = Population::new(config(41, 3000, days));
    let start = pop.config().start;
    let seasonal: Vec<_> = pop
        .labels()
        .iter()
        .filter(|l| l.archetype == Archetype::Seasonal)
        .collect();
    assert!(seasonal.len() > 100, "{}", seasonal.len());
    // One break for the brand, the same days for everyone: twelve days
    // from a Monday, inside the run.
    let (from, to) = seasonal[0].season_break.unwrap();
    assert!(seasonal.iter().all(|l| l.season_break == Some((from, to))));
    assert_eq!(to.millis_since(from), 12 * DAY_MS);
    assert_eq!((from.day() + 3).rem_euclid(7), 0, "starts on a Monday");
    assert!(from > start && to.millis_since(start) < i64::from(days) * DAY_MS);

    // Stable seasonal bettors without a holiday: login days per player in
    // the break, on weekends outside it, and the hours they log in at
    // weekends.
    let steady = |l: &vigil_sim::Label| {
        l.archetype == Archetype::Seasonal && l.fate == Fate::Stable && l.holiday.is_none()
    };
    let players = pop.labels().iter().filter(|l| steady(l)).count() as f64;
    let weekend_days = (0..days)
        .map(|d| start.as_millis() + i64::from(d) * DAY_MS)
        .filter(|&t| t < from.as_millis() || t >= to.as_millis())
        .filter(|&t| (t / DAY_MS + 3).rem_euclid(7) >= 5)
        .count() as f64;
    let (mut in_break, mut weekend, mut afternoon, mut acts_in_break) = (0, 0, 0, 0);
    let mut seen = std::collections::HashSet::new();
    for e in pop.events() {
        let l = &pop.labels()[index(&e)];
        if !steady(l) {
            continue;
        }
        let during = e.ts >= from && e.ts < to;
        if during && by_player(&e.payload) {
            acts_in_break += 1;
        }
        if !is_login(&e) || !seen.insert((index(&e), sim_day(&pop, &e))) {
            continue;
        }
        if during {
            in_break += 1;
        } else if weekday(&e) >= 5 {
            weekend += 1;
            let hour = e.ts.as_millis().rem_euclid(DAY_MS) / HOUR_MS;
            afternoon += u32::from((12..20).contains(&hour));
        }
    }
    let break_rate = f64::from(in_break) / players / 12.0;
    let weekend_rate = f64::from(weekend) / players / weekend_days;
    assert!(break_rate < 0.06, "login days in the break {break_rate:.3}");
    assert!(
        weekend_rate > 0.65,
        "login days at weekends {weekend_rate:.3}"
    );
    assert!(
        f64::from(afternoon) > 0.6 * f64::from(weekend),
        "weekend logins in the afternoon {afternoon}/{weekend}"
    );
    assert!(acts_in_break > 0, "little play, not none");
}

#[test]
fn bonus_hunters_play_when_granted_a_bonus() {
    let pop = Population::new(config(47, 4000, 60));
    // Per player: grant times, and (bets, bets within three days of a grant).
    let mut grants: HashMap<usize, Vec<i64>> = HashMap::new();
    let events: Vec<_> = pop.events().collect();
    for e in &events {
        if let Payload::Bonus {
            action: BonusAction::Granted,
            ..
        } = e.payload
        {
            grants.entry(index(e)).or_default().push(e.ts.as_millis());
        }
    }
    let after_grant = |i: usize, t: i64, within: i64| {
        grants
            .get(&i)
            .is_some_and(|g| g.iter().any(|&g| t >= g && t - g < within))
    };
    let mut tally: HashMap<Archetype, [u32; 2]> = HashMap::new();
    let (mut claims, mut quick, mut withdrawals, mut after_claim) = (0, 0, 0, 0);
    let mut claimed: HashMap<usize, Vec<i64>> = HashMap::new();
    for e in &events {
        let i = index(e);
        let l = &pop.labels()[i];
        if l.fate != Fate::Stable {
            continue;
        }
        let t = e.ts.as_millis();
        match &e.payload {
            Payload::Bet { .. } => {
                let c = tally.entry(l.archetype).or_default();
                c[0] += 1;
                c[1] += u32::from(after_grant(i, t, 3 * DAY_MS));
            }
            Payload::Bonus {
                action: BonusAction::Claimed,
                ..
            } if l.archetype == Archetype::BonusHunter => {
                claims += 1;
                quick += u32::from(after_grant(i, t, 3 * HOUR_MS));
                claimed.entry(i).or_default().push(t);
            }
            Payload::Withdrawal {
                status: WithdrawalStatus::Requested,
                ..
            } if l.archetype == Archetype::BonusHunter => {
                withdrawals += 1;
                let soon = claimed
                    .get(&i)
                    .is_some_and(|c| c.iter().any(|&c| t - c < 4 * DAY_MS));
                after_claim += u32::from(soon);
            }
            _ => {}
        }
    }
    let share = |a: Archetype| {
        let [all, near] = tally[&a];
        f64::from(near) / f64::from(all.max(1))
    };
    let (hunters, casual) = (share(Archetype::BonusHunter), share(Archetype::Casual));
    assert!(
        hunters > 0.8,
        "hunters' bets within 3 days of a grant {hunters:.2}"
    );
    assert!(casual < 0.5, "casual players' {casual:.2}");
    assert!(claims > 100, "{claims}");
    assert!(
        f64::from(quick) > 0.6 * f64::from(claims),
        "claimed within 3 h of the grant: {quick}/{claims}"
    );
    assert!(withdrawals > 30, "{withdrawals}");
    assert!(
        f64::from(after_claim) > 0.8 * f64::from(withdrawals),
        "withdrawals soon after a claim: {after_claim}/{withdrawals}"
    );
    // Low value: less staked per player than a casual player.
    let staked = |a: Archetype| {
        let players = pop
            .labels()
            .iter()
            .filter(|l| l.archetype == a && l.fate == Fate::Stable)
            .count();
        let total: f64 = events
            .iter()
            .filter(|e| pop.labels()[index(e)].archetype == a)
            .filter(|e| pop.labels()[index(e)].fate == Fate::Stable)
            .filter_map(|e| match &e.payload {
                Payload::Deposit {
                    amount,
                    status: DepositStatus::Ok,
                } if amount.currency.as_str() == "EUR" => Some(amount.amount),
                _ => None,
            })
            .sum();
        total / players as f64
    };
    let (h, r) = (staked(Archetype::BonusHunter), staked(Archetype::Regular));
    assert!(
        h < 0.5 * r,
        "deposits per hunter {h:.0}, per regular {r:.0}"
    );
}

#[test]
fn returners_are_silent_while_away_and_play_again_after() {
    let days = 84;
    let pop = Population::new(config(53, 4000, days));
    let end = pop.config().start.as_millis() + i64::from(days) * DAY_MS;
    let returners: Vec<_> = pop
        .labels()
        .iter()
        .filter(|l| l.fate == Fate::Returns)
        .collect();
    assert!(returners.len() > 150, "{}", returners.len());
    assert!(returners.iter().all(|l| l.fate.drifts()));
    // Events per returner: before onset (two weeks), and in the two weeks
    // after coming back.
    let mut before = HashMap::<usize, u32>::new();
    let mut after = HashMap::<usize, u32>::new();
    for e in pop.events() {
        let i = index(&e);
        let l = &pop.labels()[i];
        let (Some(onset), Some(churn), Some(back)) = (l.onset, l.churn_at, l.return_at) else {
            continue;
        };
        assert!(
            e.ts < churn || e.ts >= back || !by_player(&e.payload),
            "{} acts while away: {e:?}",
            l.player_id
        );
        if !by_player(&e.payload) {
            continue;
        }
        if e.ts < onset && onset.millis_since(e.ts) <= 14 * DAY_MS {
            *before.entry(i).or_default() += 1;
        }
        if e.ts >= back && e.ts.millis_since(back) < 14 * DAY_MS {
            *after.entry(i).or_default() += 1;
        }
    }
    // Returners back early enough to be watched for two weeks.
    let watched: Vec<usize> = returners
        .iter()
        .filter(|l| l.return_at.unwrap().as_millis() + 14 * DAY_MS <= end)
        .filter(|l| l.onset.unwrap().millis_since(pop.config().start) >= 14 * DAY_MS)
        .map(|l| l.player_id[1..].parse().unwrap())
        .collect();
    assert!(watched.len() > 80, "{}", watched.len());
    let active = watched.iter().filter(|i| after.contains_key(i)).count();
    assert!(
        active as f64 > 0.8 * watched.len() as f64,
        "active after coming back: {active}/{}",
        watched.len()
    );
    let sum = |m: &HashMap<usize, u32>| {
        watched
            .iter()
            .map(|i| m.get(i).copied().unwrap_or(0))
            .sum::<u32>()
    };
    let (b, a) = (sum(&before), sum(&after));
    // Back at lower intensity at first, but really playing.
    assert!(
        f64::from(a) > 0.4 * f64::from(b) && a < b,
        "two weeks before onset {b} events, two weeks after return {a}"
    );
}

#[test]
fn the_fixture_calendar_is_the_seeds_and_the_brands() {
    let season_break = |seed: u64| {
        let pop = Population::new(config(seed, 300, 60));
        let breaks: Vec<_> = pop
            .labels()
            .iter()
            .filter_map(|l| l.season_break.map(|b| (l.brand.clone(), b)))
            .collect();
        assert!(!breaks.is_empty(), "seed {seed}: no seasonal bettor");
        assert!(
            breaks.iter().all(|b| b == &breaks[0]),
            "one break per brand"
        );
        breaks[0].1
    };
    let breaks: Vec<_> = (1..=12).map(season_break).collect();
    assert_eq!(breaks, (1..=12).map(season_break).collect::<Vec<_>>());
    let mut starts: Vec<_> = breaks.iter().map(|b| b.0).collect();
    starts.sort_unstable();
    starts.dedup();
    assert!(
        starts.len() > 1,
        "the break moves with the seed: {starts:?}"
    );
}
