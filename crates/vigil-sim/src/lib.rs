//! A deterministic synthetic player population.
//!
//! Players follow one of a few archetypes (near-daily regulars, weekend
//! players, high rollers, lottery regulars, casual players) with daily and
//! weekly rhythms and heavy-tailed stakes. A share of them drift away: slow
//! faders play less, smaller and open fewer messages over two to three
//! weeks, then stop; abrupt leavers have a bad experience (a declined
//! withdrawal or failed deposits, and an unanswered support ticket) and are
//! gone within days. Each player's [`Label`] records the truth.
//!
//! Every player draws from its own ChaCha8 stream seeded from (seed, index),
//! so the same seed always gives the same events, and players are
//! independent of each other. Events come out merged across players in
//! time order, generated a day at a time, so memory stays proportional to
//! the number of players, not of events.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use vigil_domain::event::{
    BonusAction, DepositStatus, Game, MessageAction, MessageChannel, RgAction, TicketAction,
    WithdrawalStatus,
};
use vigil_domain::time::{DAY_MS, HOUR_MS};
use vigil_domain::{Currency, Money, Payload, PlayerEvent, Timestamp};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub players: u32,
    /// Midnight UTC of the first simulated day.
    pub start: Timestamp,
    pub days: u32,
    pub brands: Vec<String>,
    /// Share of players who drift away (split between faders and leavers).
    pub drift_share: f64,
    /// Probability that an event is delivered twice (same id).
    pub duplicate_rate: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            players: 1000,
            // 2026-09-01T00:00:00Z
            start: Timestamp::from_secs(1_788_220_800),
            days: 60,
            brands: vec!["casino-a".into(), "sportsbook-b".into(), "lottery-c".into()],
            drift_share: 0.25,
            duplicate_rate: 0.0,
        }
    }
}

/// How a player plays when all is well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archetype {
    Regular,
    Weekend,
    HighRoller,
    Lottery,
    Casual,
}

impl Archetype {
    pub const fn as_str(self) -> &'static str {
        match self {
            Archetype::Regular => "regular",
            Archetype::Weekend => "weekend",
            Archetype::HighRoller => "high_roller",
            Archetype::Lottery => "lottery",
            Archetype::Casual => "casual",
        }
    }
}

/// What happens to a player over the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Stable,
    SlowFade,
    AbruptLeave,
}

impl Fate {
    pub const fn as_str(self) -> &'static str {
        match self {
            Fate::Stable => "stable",
            Fate::SlowFade => "slow_fade",
            Fate::AbruptLeave => "abrupt_leave",
        }
    }
}

/// Ground truth for one player.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub player_id: String,
    pub brand: String,
    pub archetype: Archetype,
    pub fate: Fate,
    /// When the drift starts.
    pub onset: Option<Timestamp>,
    /// When the player is effectively gone.
    pub churn_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct Profile {
    index: u32,
    archetype: Archetype,
    fate: Fate,
    onset_day: u32,
    churn_day: u32,
    currency: Currency,
    /// Median stake in the player's currency.
    stake_median: f64,
    bets_per_session: f64,
    deposit_median: f64,
    open_rate: f64,
    favourite: Game,
    message_weekday: u32,
    evening_hour: f64,
}

fn rng_for(seed: u64, index: u32) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Profile {
    fn draw(cfg: &SimConfig, index: u32) -> Profile {
        let mut r = rng_for(cfg.seed, index);
        let archetype = match r.random_range(0..100) {
            0..35 => Archetype::Regular,
            35..55 => Archetype::Weekend,
            55..63 => Archetype::HighRoller,
            63..78 => Archetype::Lottery,
            _ => Archetype::Casual,
        };
        let u: f64 = r.random();
        let fate = if u < cfg.drift_share / 2.0 {
            Fate::SlowFade
        } else if u < cfg.drift_share {
            Fate::AbruptLeave
        } else {
            Fate::Stable
        };
        let days = cfg.days.max(2);
        let onset_day = r.random_range((days * 2 / 5).max(1)..(days * 3 / 4).max(2));
        let churn_day = match fate {
            Fate::SlowFade => onset_day + r.random_range(14..22),
            Fate::AbruptLeave => onset_day + r.random_range(1..4),
            Fate::Stable => u32::MAX,
        };
        let currency = match r.random_range(0..10) {
            0 => "USD",
            1 => "GBP",
            2 => "SEK",
            _ => "EUR",
        };
        let (stake_median, bets_per_session, deposit_median) = match archetype {
            Archetype::Regular => (2.0, 14.0, 50.0),
            Archetype::Weekend => (4.0, 20.0, 80.0),
            Archetype::HighRoller => (60.0, 25.0, 2500.0),
            Archetype::Lottery => (2.5, 1.5, 20.0),
            Archetype::Casual => (1.0, 6.0, 20.0),
        };
        let scale = LogNormal::new(0.0, 0.4)
            .map(|d| d.sample(&mut r))
            .unwrap_or(1.0);
        let favourite = [Game::Slots, Game::Live, Game::Sports, Game::Table][r.random_range(0..4)];
        Profile {
            index,
            archetype,
            fate,
            onset_day,
            churn_day,
            currency: Currency::parse(currency)
                .unwrap_or(Currency::parse("EUR").expect("EUR parses")),
            stake_median: stake_median * scale,
            bets_per_session: bets_per_session * scale.sqrt(),
            deposit_median: deposit_median * scale,
            open_rate: r.random_range(0.2..0.7),
            favourite: if archetype == Archetype::Lottery {
                Game::Lottery
            } else {
                favourite
            },
            message_weekday: r.random_range(0..7),
            evening_hour: r.random_range(17.0..22.0),
        }
    }

    /// How much of their usual self the player is on `day`: 1 when well,
    /// falling to 0 as they drift.
    fn vigour(&self, day: u32) -> f64 {
        match self.fate {
            Fate::Stable => 1.0,
            _ if day < self.onset_day => 1.0,
            _ if day >= self.churn_day => 0.0,
            Fate::SlowFade => {
                1.0 - (day - self.onset_day) as f64 / (self.churn_day - self.onset_day) as f64
            }
            Fate::AbruptLeave => 0.3,
        }
    }

    /// Chance of playing on `day` (0 = Monday of the simulation start week
    /// offset by `weekday0`).
    fn p_active(&self, weekday: u32) -> f64 {
        let weekend = weekday >= 4; // Friday to Sunday
        match self.archetype {
            Archetype::Regular => 0.85,
            Archetype::Weekend => {
                if weekend {
                    0.8
                } else {
                    0.08
                }
            }
            Archetype::HighRoller => 0.6,
            Archetype::Lottery => {
                if weekday == 1 || weekday == 4 {
                    0.9
                } else {
                    0.05
                }
            }
            Archetype::Casual => 0.35,
        }
    }
}

/// The population: profiles, labels and the event stream.
#[derive(Debug, Clone)]
pub struct Population {
    cfg: SimConfig,
    profiles: Vec<Profile>,
    labels: Vec<Label>,
}

fn money(p: &Profile, amount: f64) -> Money {
    Money {
        amount: (amount * 100.0).round() / 100.0,
        currency: p.currency,
    }
}

fn player_id(i: u32) -> String {
    format!("p{i:06}")
}

impl Population {
    pub fn new(cfg: SimConfig) -> Population {
        let profiles: Vec<Profile> = (0..cfg.players).map(|i| Profile::draw(&cfg, i)).collect();
        let day_ts = |d: u32| Timestamp::from_millis(cfg.start.as_millis() + d as i64 * DAY_MS);
        let labels = profiles
            .iter()
            .map(|p| Label {
                player_id: player_id(p.index),
                brand: cfg.brands[p.index as usize % cfg.brands.len().max(1)].clone(),
                archetype: p.archetype,
                fate: p.fate,
                onset: (p.fate != Fate::Stable).then(|| day_ts(p.onset_day)),
                churn_at: (p.fate != Fate::Stable).then(|| day_ts(p.churn_day)),
            })
            .collect();
        Population {
            cfg,
            profiles,
            labels,
        }
    }

    /// Ground truth, one label per player, in player order.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// Every event of every player, in nondecreasing time order.
    pub fn events(&self) -> Events<'_> {
        let mut gens: Vec<PlayerGen> = self
            .profiles
            .iter()
            .map(|p| PlayerGen {
                rng: rng_for(self.cfg.seed.wrapping_add(1), p.index),
                player_id: player_id(p.index),
                brand: self.labels[p.index as usize].brand.clone(),
                day: 0,
                buf: Vec::new(),
                next: 0,
                n: 0,
                open_tickets: 0,
            })
            .collect();
        let mut heap = BinaryHeap::with_capacity(gens.len());
        for (i, g) in gens.iter_mut().enumerate() {
            if g.fill(&self.profiles[i], &self.cfg) {
                heap.push(Reverse((g.buf[0].ts, i as u32)));
            }
        }
        Events {
            pop: self,
            gens,
            heap,
        }
    }
}

struct PlayerGen {
    rng: ChaCha8Rng,
    player_id: String,
    brand: String,
    day: u32,
    /// The current day's events, sorted; `next` is the next to hand out.
    buf: Vec<PlayerEvent>,
    next: usize,
    n: u64,
    open_tickets: u32,
}

impl PlayerGen {
    /// Generates days until one has events; `false` when the simulation ends.
    fn fill(&mut self, p: &Profile, cfg: &SimConfig) -> bool {
        self.buf.clear();
        self.next = 0;
        while self.buf.is_empty() && self.day < cfg.days {
            self.generate_day(p, cfg);
            self.day += 1;
        }
        !self.buf.is_empty()
    }

    fn push(&mut self, ts: i64, payload: Payload) {
        self.n += 1;
        self.buf.push(PlayerEvent {
            event_id: format!("{}-{}", self.player_id, self.n),
            player_id: self.player_id.clone(),
            brand: self.brand.clone(),
            ts: Timestamp::from_millis(ts),
            payload,
        });
    }

    fn generate_day(&mut self, p: &Profile, cfg: &SimConfig) {
        let day = self.day;
        let midnight = cfg.start.as_millis() + day as i64 * DAY_MS;
        let weekday = day % 7;
        let vigour = p.vigour(day);
        let end_of_day = midnight + DAY_MS - 1;

        // Marketing keeps arriving whether or not the player does.
        if weekday == p.message_weekday {
            let t = midnight + 10 * HOUR_MS;
            let channel = [
                MessageChannel::Email,
                MessageChannel::Push,
                MessageChannel::Sms,
            ][self.rng.random_range(0..3)];
            self.push(
                t,
                Payload::Message {
                    channel,
                    action: MessageAction::Sent,
                },
            );
            if self
                .rng
                .random_bool((p.open_rate * vigour.max(0.05)).clamp(0.0, 1.0))
            {
                let t = t + self.rng.random_range(HOUR_MS..8 * HOUR_MS);
                self.push(
                    t,
                    Payload::Message {
                        channel,
                        action: MessageAction::Opened,
                    },
                );
                if self.rng.random_bool(0.3) {
                    self.push(
                        t + 60_000,
                        Payload::Message {
                            channel,
                            action: MessageAction::Clicked,
                        },
                    );
                }
            }
        }

        // The abrupt leaver's bad day.
        if p.fate == Fate::AbruptLeave && day == p.onset_day {
            let t = midnight + 12 * HOUR_MS;
            if self.rng.random_bool(0.5) {
                self.push(
                    t,
                    Payload::Withdrawal {
                        amount: money(p, p.deposit_median * 3.0),
                        status: WithdrawalStatus::Requested,
                    },
                );
                self.push(
                    t + 2 * HOUR_MS,
                    Payload::Withdrawal {
                        amount: money(p, p.deposit_median * 3.0),
                        status: WithdrawalStatus::Declined,
                    },
                );
            } else {
                for k in 0..3 {
                    self.push(
                        t + k * 120_000,
                        Payload::Deposit {
                            amount: money(p, p.deposit_median),
                            status: DepositStatus::Failed,
                        },
                    );
                }
            }
            self.open_tickets += 1;
            self.push(
                t + 3 * HOUR_MS,
                Payload::Ticket {
                    ticket_id: format!("{}-t{}", self.player_id, self.open_tickets),
                    action: TicketAction::Opened,
                },
            );
            let score = self.rng.random_range(0..4);
            self.push(t + 4 * HOUR_MS, Payload::Nps { score });
        }

        if vigour > 0.0
            && self
                .rng
                .random_bool((p.p_active(weekday) * vigour.sqrt()).clamp(0.0, 1.0))
        {
            let sessions = if p.archetype == Archetype::HighRoller {
                self.rng.random_range(1..4)
            } else {
                self.rng.random_range(1..3)
            };
            let stake = LogNormal::new((p.stake_median * vigour.max(0.2)).ln(), 0.8).ok();
            for s in 0..sessions {
                let hour = (p.evening_hour - 4.0 * s as f64 + self.rng.random_range(-1.5..1.5))
                    .clamp(6.0, 23.4);
                let mut t = midnight + (hour * HOUR_MS as f64) as i64;
                let channel = if self.rng.random_bool(0.6) {
                    "mobile"
                } else {
                    "web"
                };
                self.push(
                    t,
                    Payload::Login {
                        channel: Some(channel.to_owned()),
                    },
                );
                if self.rng.random_bool(0.3) {
                    t += 60_000;
                    let amount = money(p, p.deposit_median * self.rng.random_range(0.5..2.0));
                    let status = if self.rng.random_bool(0.03) {
                        DepositStatus::Failed
                    } else {
                        DepositStatus::Ok
                    };
                    self.push(t, Payload::Deposit { amount, status });
                }
                let mean = p.bets_per_session * vigour.max(0.15);
                let bets = (mean * self.rng.random_range(0.5..1.5)).round().max(1.0) as i64;
                for _ in 0..bets {
                    t += self.rng.random_range(20_000..120_000);
                    let amount = stake
                        .as_ref()
                        .map_or(p.stake_median, |d| d.sample(&mut self.rng))
                        .max(0.1);
                    if p.archetype == Archetype::Lottery {
                        self.push(
                            t,
                            Payload::LotteryTicket {
                                draw_id: format!("draw-{}", day / 3),
                                amount: money(p, amount),
                            },
                        );
                    } else {
                        let game = if self.rng.random_bool(0.8) {
                            p.favourite
                        } else {
                            Game::Slots
                        };
                        let payout = self.rng.random_range(0.0..3.0);
                        let win = self
                            .rng
                            .random_bool(0.45)
                            .then(|| money(p, amount * payout));
                        self.push(
                            t,
                            Payload::Bet {
                                stake: money(p, amount),
                                game,
                                win,
                            },
                        );
                    }
                }
                if self.rng.random_bool(0.05) {
                    self.push(
                        t + 30_000,
                        Payload::Bonus {
                            action: BonusAction::Granted,
                            amount: Some(10.0),
                        },
                    );
                    if self.rng.random_bool(0.6) {
                        self.push(
                            t + 60_000,
                            Payload::Bonus {
                                action: BonusAction::Claimed,
                                amount: Some(10.0),
                            },
                        );
                    }
                }
                t += 90_000;
                self.push(
                    t.min(end_of_day),
                    Payload::SessionEnd {
                        duration_s: ((t - midnight) / 1000 - (hour * 3600.0) as i64).max(60) as u32,
                    },
                );
            }
            if self.rng.random_bool(0.03) {
                let t = midnight + 9 * HOUR_MS;
                self.push(
                    t,
                    Payload::Withdrawal {
                        amount: money(p, p.deposit_median * 2.0),
                        status: WithdrawalStatus::Requested,
                    },
                );
                let paid = t + self.rng.random_range(HOUR_MS..12 * HOUR_MS);
                self.push(
                    paid,
                    Payload::Withdrawal {
                        amount: money(p, p.deposit_median * 2.0),
                        status: WithdrawalStatus::Paid,
                    },
                );
            }
            if self.rng.random_bool(0.01) {
                self.open_tickets += 1;
                let id = format!("{}-t{}", self.player_id, self.open_tickets);
                let t = midnight + 8 * HOUR_MS;
                self.push(
                    t,
                    Payload::Ticket {
                        ticket_id: id.clone(),
                        action: TicketAction::Opened,
                    },
                );
                self.push(
                    t + HOUR_MS,
                    Payload::Ticket {
                        ticket_id: id.clone(),
                        action: TicketAction::Replied,
                    },
                );
                self.push(
                    t + 5 * HOUR_MS,
                    Payload::Ticket {
                        ticket_id: id,
                        action: TicketAction::Resolved,
                    },
                );
            }
        }
        if self.rng.random_bool(0.01) {
            let score = match p.fate {
                Fate::Stable => self.rng.random_range(7..11),
                _ if day >= p.onset_day => self.rng.random_range(2..7),
                _ => self.rng.random_range(6..10),
            };
            self.push(midnight + 11 * HOUR_MS, Payload::Nps { score });
        }
        if self.rng.random_bool(0.0005) {
            self.push(
                midnight + 13 * HOUR_MS,
                Payload::Rg {
                    action: RgAction::DepositLimit,
                },
            );
        }
        self.buf.sort_by_key(|e| e.ts);
        if cfg.duplicate_rate > 0.0 {
            let mut i = 0;
            while i < self.buf.len() {
                if self.rng.random_bool(cfg.duplicate_rate.clamp(0.0, 1.0)) {
                    let copy = self.buf[i].clone();
                    self.buf.insert(i + 1, copy);
                    i += 1;
                }
                i += 1;
            }
        }
    }
}

/// The merged event stream of a [`Population`].
pub struct Events<'a> {
    pop: &'a Population,
    gens: Vec<PlayerGen>,
    heap: BinaryHeap<Reverse<(Timestamp, u32)>>,
}

impl std::fmt::Debug for Events<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("players", &self.gens.len())
            .finish_non_exhaustive()
    }
}

impl Iterator for Events<'_> {
    type Item = PlayerEvent;

    fn next(&mut self) -> Option<PlayerEvent> {
        let Reverse((_, i)) = self.heap.pop()?;
        let g = &mut self.gens[i as usize];
        let event = std::mem::replace(
            &mut g.buf[g.next],
            PlayerEvent {
                event_id: String::new(),
                player_id: String::new(),
                brand: String::new(),
                ts: Timestamp::MIN,
                payload: Payload::Login { channel: None },
            },
        );
        g.next += 1;
        if g.next < g.buf.len() || g.fill(&self.pop.profiles[i as usize], &self.pop.cfg) {
            self.heap.push(Reverse((g.buf[g.next].ts, i)));
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            players: 200,
            days: 60,
            ..SimConfig::default()
        }
    }

    #[test]
    fn same_seed_same_stream_and_in_time_order() {
        let (a, b, c) = (
            Population::new(cfg(3)),
            Population::new(cfg(3)),
            Population::new(cfg(4)),
        );
        let ea: Vec<_> = a.events().take(10_000).collect();
        let eb: Vec<_> = b.events().take(10_000).collect();
        let ec: Vec<_> = c.events().take(10_000).collect();
        assert_eq!(ea, eb);
        assert_ne!(ea, ec);
        let all: Vec<_> = a.events().collect();
        assert!(all.windows(2).all(|w| w[0].ts <= w[1].ts));
        let mut ids: Vec<&str> = all.iter().map(|e| e.event_id.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "ids unique without duplicate_rate");
    }

    #[test]
    fn drifters_decline_and_stable_players_do_not() {
        let pop = Population::new(SimConfig {
            players: 600,
            days: 70,
            ..cfg(9)
        });
        let mut counts = vec![[0u32; 70]; 600];
        for e in pop.events() {
            if matches!(e.payload, Payload::Login { .. }) {
                let i: usize = e.player_id[1..].parse().unwrap();
                counts[i][((e.ts.as_millis() - pop.cfg.start.as_millis()) / DAY_MS) as usize] += 1;
            }
        }
        let (mut before, mut after, mut s_before, mut s_after) = (0, 0, 0, 0);
        for (l, c) in pop.labels().iter().zip(&counts) {
            let i: usize = l.player_id[1..].parse().unwrap();
            let p = &pop.profiles[i];
            match l.fate {
                Fate::SlowFade => {
                    let on = p.onset_day as usize;
                    before += c[on.saturating_sub(14)..on].iter().sum::<u32>();
                    after += c[(on + 14).min(70)..(on + 28).min(70)].iter().sum::<u32>();
                }
                Fate::Stable => {
                    s_before += c[14..28].iter().sum::<u32>();
                    s_after += c[42..56].iter().sum::<u32>();
                }
                Fate::AbruptLeave => {
                    let gone = p.churn_day as usize;
                    assert_eq!(c[gone.min(70)..].iter().sum::<u32>(), 0, "leavers leave");
                }
            }
        }
        assert!(
            (after as f64) < 0.5 * before as f64,
            "faders decline: {before} -> {after}"
        );
        let ratio = s_after as f64 / s_before as f64;
        assert!(
            (0.85..1.15).contains(&ratio),
            "stable players steady: {ratio}"
        );
        let drifting = pop
            .labels()
            .iter()
            .filter(|l| l.fate != Fate::Stable)
            .count() as f64
            / 600.0;
        assert!((0.18..0.32).contains(&drifting), "{drifting}");
    }

    #[test]
    fn duplicates_repeat_ids_when_asked() {
        let pop = Population::new(SimConfig {
            duplicate_rate: 0.05,
            ..cfg(5)
        });
        let all: Vec<_> = pop.events().collect();
        let dups = all
            .windows(2)
            .filter(|w| w[0].event_id == w[1].event_id)
            .count();
        assert!(
            dups as f64 > 0.02 * all.len() as f64 && (dups as f64) < 0.08 * all.len() as f64,
            "{dups}"
        );
    }
}
