//! One player's day: the events a player (and the operator, on their
//! behalf) produce between two midnights, as compact [`Draft`]s.
//!
//! A day is generated from the player's profile, a little state carried
//! over from earlier days, and a random stream of its own: the stream for
//! (player, day) is fixed by the seed, so a day never depends on how many
//! random draws earlier days made. Events may fall after the day ends (a
//! payout the next morning, a ticket resolved days later); the caller
//! holds those back until their time comes.
//!
//! Drafts carry no strings. Ids, names and amounts become a
//! [`PlayerEvent`](vigil_domain::PlayerEvent) only when the event is handed
//! out, so a whole day of a large population stays cheap to hold and sort.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::Exp1;
use vigil_domain::event::{
    BonusAction, Game, MessageAction, MessageChannel, RgAction, TicketAction, WithdrawalStatus,
};
use vigil_domain::time::{DAY_MS, HOUR_MS};

use crate::calendar::Calendar;
use crate::label::{Archetype, Fate};
use crate::profile::{BrandKind, Profile, game_style, normal};

const MINUTE_MS: i64 = 60_000;
const SECOND_MS: i64 = 1_000;
/// `Bet::win` of a lost bet.
pub(crate) const NO_WIN: u32 = u32::MAX;

/// An event without its strings. Amounts are in cents of the player's
/// currency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum What {
    Login {
        mobile: bool,
    },
    SessionEnd {
        secs: u32,
    },
    Bet {
        game: Game,
        stake: u32,
        win: u32,
    },
    Deposit {
        ok: bool,
        amount: u32,
    },
    Withdrawal {
        status: WithdrawalStatus,
        amount: u32,
    },
    Ticket {
        action: TicketAction,
        no: u16,
    },
    /// `draw_day` is the draw's day number since the epoch.
    LotteryTicket {
        draw_day: u32,
        amount: u32,
    },
    /// In whole units of the reporting currency.
    Bonus {
        action: BonusAction,
        eur: u16,
    },
    Message {
        channel: MessageChannel,
        action: MessageAction,
    },
    Nps {
        score: u8,
    },
    Rg {
        action: RgAction,
    },
}

impl What {
    /// Whether the player (rather than the operator) does this: nothing the
    /// player does happens after they have gone.
    fn by_player(&self) -> bool {
        match *self {
            What::Message { action, .. } => action != MessageAction::Sent,
            What::Bonus { action, .. } => action == BonusAction::Claimed,
            What::Ticket { action, .. } => action == TicketAction::Opened,
            What::Withdrawal { status, .. } => status == WithdrawalStatus::Requested,
            What::Rg { action } => action != RgAction::RealityCheck,
            What::Login { .. }
            | What::SessionEnd { .. }
            | What::Bet { .. }
            | What::Deposit { .. }
            | What::LotteryTicket { .. }
            | What::Nps { .. } => true,
        }
    }
}

/// One event of one player, due at `ts` (milliseconds since the epoch).
/// Carries all it needs to become a [`PlayerEvent`](vigil_domain::PlayerEvent),
/// so handing events out touches no per-player data: in a large population
/// that would be a cache miss per event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Draft {
    pub ts: i64,
    pub player: u32,
    /// The number in the event id: the player's events are numbered in time
    /// order as each day is made.
    pub n: u32,
    pub what: What,
    /// Index into the configured brands.
    pub brand: u16,
    /// Index into [`CURRENCIES`](crate::profile::CURRENCIES).
    pub currency: u8,
}

/// What a player carries from one day to the next.
#[derive(Debug, Clone)]
pub(crate) struct PlayerState {
    /// Day of the last successful deposit (negative before the start).
    last_deposit: i32,
    /// Tickets opened so far; the next ticket's number is this plus one.
    tickets: u16,
    /// An unclaimed bonus: when it was granted and its amount.
    bonus: Option<(i64, u16)>,
    /// Set a deposit limit: the operator stops granting bonuses.
    rg_limited: bool,
    /// A bonus hunter's last day of playing a claimed bonus through
    /// (negative before the first claim).
    hunt_until: i32,
    /// Events numbered so far.
    pub numbered: u32,
    /// End of the last session, which may run past midnight: the next one
    /// starts after it.
    busy_until: i64,
}

impl PlayerState {
    pub(crate) fn new(p: &Profile) -> Self {
        PlayerState {
            last_deposit: -i32::from(p.deposit_phase),
            tickets: 0,
            bonus: None,
            rg_limited: false,
            hunt_until: -1,
            numbered: 0,
            busy_until: i64::MIN,
        }
    }
}

/// Width of the time slots a day's drafts are filed in: small enough to
/// sort in cache, large enough to be few.
pub(crate) const SLOT_MS: i64 = 5 * MINUTE_MS;
/// Slots per day.
pub(crate) const SLOTS: usize = (DAY_MS / SLOT_MS) as usize;

/// Where drafts go: the time slots of the day being made, or held back
/// for a later day.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    /// Drafts due within the day by slot, each in the order filed.
    pub slots: &'a mut [Vec<Draft>],
    pub later: &'a mut Vec<Draft>,
    /// Midnight starting the day being made.
    pub day_start: i64,
    /// End of the simulation: later events are dropped.
    pub end: i64,
}

impl Sink<'_> {
    /// Starts a new day with the held-back drafts now due, first and in the
    /// order they were made.
    pub(crate) fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            s.clear();
        }
        let (slots, day_start) = (&mut *self.slots, self.day_start);
        self.later.retain(|d| {
            let offset = d.ts - day_start;
            debug_assert!(offset >= 0, "held-back draft missed its day");
            let due = offset < DAY_MS;
            if due {
                slots[(offset / SLOT_MS) as usize].push(*d);
            }
            !due
        });
    }

    /// Takes one player's day: puts it in time order (ties in the order
    /// made), numbers it and files each draft by when it is due.
    pub(crate) fn take(&mut self, day: &mut Vec<Draft>, st: &mut PlayerState) {
        day.sort_by_key(|d| d.ts);
        for mut d in day.drain(..) {
            if d.ts >= self.end {
                continue;
            }
            st.numbered += 1;
            d.n = st.numbered;
            let offset = d.ts - self.day_start;
            debug_assert!(offset >= 0, "a day made a draft before it began");
            if offset < DAY_MS {
                self.slots[(offset / SLOT_MS) as usize].push(d);
            } else {
                self.later.push(d);
            }
        }
    }
}

/// Where a player is in their story on a given day.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Normal,
    /// Away for a few days; still reads some messages.
    Holiday,
    /// A slow fader's remaining engagement, 1 at the onset down to 0.
    Fading(f64),
    /// The abrupt leaver's bad experience.
    BadDay,
    /// The abrupt leaver's last few days: rare, short, angry visits.
    Shaken,
    /// Left: only the operator still sends things.
    Gone,
    /// A returner back after weeks away: engagement from 0.6 on the return
    /// day up to 1 two weeks later.
    Back(f64),
}

/// How a player plays on an active day.
#[derive(Debug, Clone, Copy)]
struct Mood {
    /// Engagement, 1 = the player's normal self.
    v: f64,
    /// Whether the player will put money in.
    deposits: bool,
    /// An abrupt leaver coming back after the bad experience.
    shaken: bool,
    /// How unhappy the player is, for NPS answers (0 = content).
    unhappy: f64,
}

/// Chance of playing on each weekday (Monday first), by archetype in
/// [`Archetype::ALL`] order; lottery players follow the draw calendar,
/// seasonal bettors the fixture calendar (their Tuesday and Wednesday
/// chances hold in weeks with a midweek round, and nothing holds in the
/// break), bonus hunters the bonuses they are granted (these are their
/// chances without one).
const DAY_CHANCE: [[f64; 7]; 7] = [
    [0.78, 0.80, 0.80, 0.82, 0.88, 0.92, 0.88],
    [0.05, 0.05, 0.06, 0.08, 0.50, 0.85, 0.75],
    [0.45, 0.45, 0.47, 0.50, 0.60, 0.65, 0.55],
    [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
    [0.18, 0.18, 0.19, 0.20, 0.26, 0.30, 0.25],
    [0.12, 0.55, 0.55, 0.06, 0.12, 0.88, 0.78],
    [0.03, 0.03, 0.03, 0.03, 0.04, 0.05, 0.04],
];
/// A seasonal bettor's chance of a look in on a day without fixtures (a
/// Tuesday without a midweek round, a day of the break).
const NO_FIXTURE_CHANCE: f64 = 0.03;
/// A bonus hunter's chance of playing on the day a bonus is granted, and
/// on each further day of playing it through.
const HUNT_CHANCE: [f64; 2] = [0.92, 0.6];
/// Weekdays of the two lottery draws (Wednesday, Saturday), drawn at 20:00.
const DRAW_DAYS: [usize; 2] = [2, 5];

/// NPS answers of a content player, weights for 0 to 10 (mean about 8).
const NPS_WEIGHTS: [u32; 11] = [1, 1, 1, 1, 2, 3, 5, 12, 20, 25, 29];

/// Rounds an amount (major units) to cents with the precision people use:
/// `per` steps per power of ten (10 keeps two significant digits, 2 gives
/// deposits like 20, 25, 30, 150). At least 10 cents.
fn round_cents(amount: f64, per: u64) -> u32 {
    let cents = (amount * 100.0).clamp(10.0, 4e9) as u64;
    let mut mag = 1u64;
    while mag * 10 <= cents {
        mag *= 10;
    }
    let step = (mag / per).max(1);
    (((cents + step / 2) / step) * step).min(u64::from(u32::MAX - 1)) as u32
}

/// Generates one player's day.
#[derive(Debug)]
pub(crate) struct Day<'a> {
    pub p: &'a Profile,
    /// The fixture calendar of the player's brand.
    pub cal: &'a Calendar,
    pub st: &'a mut PlayerState,
    pub r: &'a mut ChaCha8Rng,
    /// The day's drafts, in the order made.
    pub out: &'a mut Vec<Draft>,
    pub player: u32,
    pub day: u32,
    pub midnight: i64,
    /// Midnight starting the player's churn day (far in the future if
    /// none): the player's own actions stop there, even mid-session.
    pub churn: i64,
    /// Midnight starting a returner's first day back (far in the future if
    /// none): the player's own actions resume there.
    pub back: i64,
}

impl Day<'_> {
    fn emit(&mut self, ts: i64, what: What) {
        if ts >= self.churn && ts < self.back && what.by_player() {
            return;
        }
        self.out.push(Draft {
            ts,
            player: self.player,
            n: 0,
            what,
            brand: self.p.brand,
            currency: self.p.currency,
        });
    }

    fn weekday(&self) -> usize {
        // Day 0 of the epoch was a Thursday.
        (self.midnight.div_euclid(DAY_MS) + 3).rem_euclid(7) as usize
    }

    fn phase(&self) -> Phase {
        let (p, day) = (self.p, self.day);
        let back = p.return_day();
        if day >= back {
            return Phase::Back(0.6 + 0.4 * (f64::from(day - back) / 14.0).min(1.0));
        }
        if day >= p.churn_day {
            return Phase::Gone;
        }
        let abrupt = p.fate == Fate::AbruptLeave || (p.fate == Fate::Returns && p.abrupt);
        match p.fate {
            Fate::Stable if (p.holiday.0..p.holiday.1).contains(&day) => Phase::Holiday,
            Fate::Stable => Phase::Normal,
            _ if day < p.onset_day => Phase::Normal,
            _ if abrupt && day == p.onset_day => Phase::BadDay,
            _ if abrupt => Phase::Shaken,
            Fate::SlowFade | Fate::AbruptLeave | Fate::Returns => Phase::Fading(
                1.0 - (f64::from(day - p.onset_day) + 0.5) / f64::from(p.churn_day - p.onset_day),
            ),
        }
    }

    /// A random delay: log-normal around `median_ms`, at most three days.
    fn delay(&mut self, median_ms: f64, sigma: f64) -> i64 {
        let d = median_ms * (sigma * normal(self.r)).exp();
        (d as i64).clamp(SECOND_MS, 3 * DAY_MS)
    }

    fn uniform_ms(&mut self, lo: i64, hi: i64) -> i64 {
        self.r.random_range(lo..hi)
    }

    /// Generates the whole day.
    pub(crate) fn run(mut self) {
        let phase = self.phase();
        self.campaign(phase);
        let mood = match phase {
            Phase::Normal => Some(Mood {
                v: 1.0,
                deposits: true,
                shaken: false,
                unhappy: 0.0,
            }),
            Phase::Fading(v) => Some(Mood {
                v,
                deposits: true,
                shaken: false,
                unhappy: 1.0 - v,
            }),
            Phase::Back(v) => Some(Mood {
                v,
                deposits: true,
                shaken: false,
                unhappy: 0.0,
            }),
            Phase::Shaken => Some(Mood {
                v: 0.35,
                deposits: false,
                shaken: true,
                unhappy: 1.4,
            }),
            Phase::BadDay => {
                self.bad_day();
                None
            }
            Phase::Holiday | Phase::Gone => None,
        };
        if let Some(m) = mood {
            let first = if self.p.archetype == Archetype::Lottery {
                self.lottery_day(m)
            } else {
                self.casino_day(m)
            };
            if let Some((start, end)) = first {
                self.extras(m, matches!(phase, Phase::Fading(_)), start, end);
            }
        }
        self.expire_bonus();
    }

    /// The weekly marketing message, perhaps with a bonus, and whether the
    /// player opens it. The operator keeps sending after a player has gone.
    fn campaign(&mut self, phase: Phase) {
        if self.weekday() != usize::from(self.p.message_weekday) {
            return;
        }
        let p = self.p;
        let sent =
            self.midnight + i64::from(p.message_minute) * MINUTE_MS + self.uniform_ms(0, MINUTE_MS);
        let channel = p.channel;
        self.emit(
            sent,
            What::Message {
                channel,
                action: MessageAction::Sent,
            },
        );
        // Bonus hunters are on every promotion list they can find.
        let bonus_chance = if p.archetype == Archetype::BonusHunter {
            0.5
        } else {
            0.3
        };
        if !self.st.rg_limited && self.st.bonus.is_none() && self.r.random_bool(bonus_chance) {
            let choices: &[u16] = if p.vip() {
                &[50, 100, 200, 500]
            } else {
                &[5, 10, 10, 20, 25]
            };
            let eur = choices[self.r.random_range(0..choices.len())];
            self.emit(
                sent + SECOND_MS,
                What::Bonus {
                    action: BonusAction::Granted,
                    eur,
                },
            );
            self.st.bonus = Some((sent + SECOND_MS, eur));
        }
        let opens = match phase {
            Phase::Normal => 1.0,
            Phase::Holiday => 0.4,
            Phase::Fading(v) | Phase::Back(v) => v,
            Phase::BadDay => 0.5,
            Phase::Shaken => 0.05,
            Phase::Gone => 0.0,
        };
        if self.r.random_bool(f64::from(p.open_rate) * opens) {
            // Push and SMS are seen within minutes, email within hours.
            let median = match channel {
                MessageChannel::Email => 3.0 * HOUR_MS as f64,
                MessageChannel::Push => 15.0 * MINUTE_MS as f64,
                MessageChannel::Sms => 8.0 * MINUTE_MS as f64,
            };
            let opened = sent + self.delay(median, 1.0);
            self.emit(
                opened,
                What::Message {
                    channel,
                    action: MessageAction::Opened,
                },
            );
            if self.r.random_bool(0.25) {
                let clicked = opened + self.uniform_ms(20 * SECOND_MS, 5 * MINUTE_MS);
                self.emit(
                    clicked,
                    What::Message {
                        channel,
                        action: MessageAction::Clicked,
                    },
                );
            }
        }
    }

    /// An unclaimed bonus expires seven days after it was granted.
    fn expire_bonus(&mut self) {
        if let Some((granted, eur)) = self.st.bonus {
            let expires = granted + 7 * DAY_MS;
            if expires < self.midnight + DAY_MS {
                self.emit(
                    expires,
                    What::Bonus {
                        action: BonusAction::Expired,
                        eur,
                    },
                );
                self.st.bonus = None;
            }
        }
    }

    /// A casino or sportsbook player's day: whether they play, and the
    /// sessions. Returns the first session's (start, end).
    fn casino_day(&mut self, m: Mood) -> Option<(i64, i64)> {
        let p = self.p;
        let weekday = self.weekday();
        let archetype = p.archetype as usize;
        let mut base = DAY_CHANCE[archetype][weekday];
        // A seasonal bettor's midweek evening fixtures, and the time a bonus
        // granted today reached a bonus hunter.
        let mut midweek = false;
        let mut granted_today = None;
        let hunting = self.day as i32 <= self.st.hunt_until;
        match p.archetype {
            Archetype::Seasonal => {
                let round = self.cal.midweek_round(self.midnight.div_euclid(DAY_MS));
                midweek = matches!(weekday, 1 | 2) && round;
                if self.cal.in_break(self.day) || (matches!(weekday, 1 | 2) && !round) {
                    base = NO_FIXTURE_CHANCE;
                    midweek = false;
                }
            }
            Archetype::BonusHunter => match self.st.bonus {
                Some((granted, _)) if granted >= self.midnight => {
                    base = HUNT_CHANCE[0];
                    granted_today = Some(granted);
                }
                Some(_) => base = HUNT_CHANCE[1],
                None if hunting => base = HUNT_CHANCE[1],
                None => {}
            },
            _ => {}
        }
        let mut chance = base * f64::from(p.activity);
        chance *= if m.shaken { 0.35 } else { 0.15 + 0.85 * m.v };
        if !self.r.random_bool(chance.min(0.97)) {
            return None;
        }
        let weekend = weekday >= 5;
        let extra = match p.archetype {
            Archetype::Regular => u32::from(self.r.random_bool(0.3)),
            Archetype::Weekend => u32::from(weekend && self.r.random_bool(0.3)),
            Archetype::Seasonal => u32::from(weekend && self.r.random_bool(0.35)),
            Archetype::HighRoller => self.r.random_range(0..=2),
            Archetype::BonusHunter => u32::from(hunting && self.r.random_bool(0.3)),
            Archetype::Lottery | Archetype::Casual => u32::from(self.r.random_bool(0.08)),
        };
        let mut starts = [0i64; 3];
        starts[0] = if let Some(granted) = granted_today {
            // The hunter is in within the hour of the grant.
            granted - self.midnight + self.delay(40.0 * MINUTE_MS as f64, 0.7)
        } else {
            let h = if p.favourite == Game::Sports && weekend {
                // Football is on weekend afternoons...
                15.5 + 1.5 * normal(self.r)
            } else if midweek {
                // ...and midweek rounds in the evening.
                19.75 + 0.6 * normal(self.r)
            } else {
                f64::from(p.peak_hour) + 1.2 * normal(self.r)
            };
            self.hour_ms(h)
        };
        for s in starts.iter_mut().take(1 + extra as usize).skip(1) {
            let h = f64::from(p.alt_hour) + normal(self.r);
            *s = self.hour_ms(h);
        }
        let starts = &mut starts[..1 + extra as usize];
        starts.sort_unstable();
        let mut first = None;
        for &start in starts.iter() {
            let start = self.not_before_last_session(self.midnight + start);
            if start >= self.midnight + DAY_MS {
                break;
            }
            let end = self.session(start, m);
            first.get_or_insert((start, end));
        }
        first
    }

    /// `start`, or shortly after the last session if that ran past midnight
    /// and is still going.
    fn not_before_last_session(&mut self, start: i64) -> i64 {
        if start < self.st.busy_until {
            self.st.busy_until + self.uniform_ms(10 * MINUTE_MS, HOUR_MS)
        } else {
            start
        }
    }

    /// Milliseconds after midnight of an hour of day, wrapped into the day.
    fn hour_ms(&self, hour: f64) -> i64 {
        (hour.rem_euclid(24.0) * HOUR_MS as f64) as i64
    }

    /// A session of betting from `start`; returns when it ended.
    fn session(&mut self, start: i64, m: Mood) -> i64 {
        let p = self.p;
        let mut t = self.open_session(start, m);
        // Depth fades before frequency: a fader still logs in, but more and
        // more often without playing.
        let idle = if m.shaken {
            0.4
        } else {
            0.05 + 0.3 * (1.0 - m.v)
        };
        // A bonus hunter without a bonus to play through only looks in.
        let looking = p.archetype == Archetype::BonusHunter && self.day as i32 > self.st.hunt_until;
        let mut net: i64 = 0;
        let mut reality_check = start + HOUR_MS;
        if !self.r.random_bool(idle) {
            let depth = if m.shaken || looking {
                0.4
            } else {
                0.3 + 0.7 * m.v
            };
            let spread = (0.45 * normal(self.r)).exp();
            let fav = game_style(p.favourite).0;
            let n = (f64::from(p.bets_mean * fav) * depth * spread)
                .round()
                .max(1.0) as u32;
            for _ in 0..n {
                let game = if self.r.random_bool(0.8) {
                    p.favourite
                } else {
                    p.second
                };
                let (bet_t, bet_net) = self.bet(t, game, m.v);
                t = bet_t;
                net += bet_net;
                if p.reality_checks && t > reality_check {
                    self.emit(
                        reality_check,
                        What::Rg {
                            action: RgAction::RealityCheck,
                        },
                    );
                    reality_check += HOUR_MS;
                }
            }
        }
        let end = self.close_session(start, t);
        if m.shaken {
            // Tries once more to get the money out; declined again.
            if self.r.random_bool(0.3) {
                self.declined_withdrawal(end);
            }
            return end;
        }
        self.cash_out(end, net);
        end
    }

    /// Login, then perhaps a bonus claim and a deposit; returns the time
    /// play can start.
    fn open_session(&mut self, start: i64, m: Mood) -> i64 {
        let mobile = self.r.random_bool(f64::from(self.p.mobile));
        self.emit(start, What::Login { mobile });
        let mut t = start;
        let claim = self
            .st
            .bonus
            .filter(|&(granted, _)| granted < t && !m.shaken);
        let hunter = self.p.archetype == Archetype::BonusHunter;
        let mut claimed = false;
        if let Some((_, eur)) = claim {
            let chance = if hunter {
                0.97 * (0.3 + 0.7 * m.v)
            } else {
                0.7 * m.v
            };
            if self.r.random_bool(chance) {
                t += self.uniform_ms(5 * SECOND_MS, 40 * SECOND_MS);
                self.emit(
                    t,
                    What::Bonus {
                        action: BonusAction::Claimed,
                        eur,
                    },
                );
                self.st.bonus = None;
                if hunter {
                    // Wagering it through takes a day or three.
                    self.st.hunt_until = self.day as i32 + self.r.random_range(0..=2);
                    claimed = true;
                }
            }
        }
        if m.deposits {
            t = self.deposit(t, m.v, claimed);
        }
        t
    }

    /// Session end after the last action at `t`.
    fn close_session(&mut self, start: i64, t: i64) -> i64 {
        let tail: f64 = self.r.sample(Exp1);
        let end = t + 10 * SECOND_MS + (tail * 60_000.0) as i64;
        self.st.busy_until = end;
        self.emit(
            end,
            What::SessionEnd {
                secs: ((end - start) / SECOND_MS) as u32,
            },
        );
        end
    }

    /// One bet after a pause from `t`; returns its time and the player's
    /// net result in cents.
    fn bet(&mut self, t: i64, game: Game, v: f64) -> (i64, i64) {
        let p = self.p;
        let (_, stake_scale, gap_s) = game_style(game);
        let gap: f64 = self.r.sample(Exp1);
        let t = t + 2 * SECOND_MS + (gap * f64::from(gap_s) * 1000.0) as i64;
        let median = f64::from(p.stake_median * stake_scale) * (0.4 + 0.6 * v);
        let stake = round_cents(median * (0.8 * normal(self.r)).exp(), 10);
        let u: f64 = self.r.random();
        // About 95% returned to player; rare big wins make the tail.
        let p_win = 0.36;
        let win = if u < p_win {
            let x = u / p_win;
            let mult = if game == Game::Sports {
                if x < 0.02 {
                    self.r.random_range(5.0..30.0)
                } else {
                    self.r.random_range(1.3..3.2)
                }
            } else if x < 0.001 {
                self.r.random_range(50.0..500.0)
            } else if x < 0.021 {
                self.r.random_range(5.0..25.0)
            } else {
                self.r.random_range(1.2..3.0)
            };
            ((f64::from(stake) * mult) as u32).min(NO_WIN - 1)
        } else {
            NO_WIN
        };
        self.emit(t, What::Bet { game, stake, win });
        let won = if win == NO_WIN { 0 } else { i64::from(win) };
        (t, won - i64::from(stake))
    }

    /// A routine deposit when one is due (high rollers: often, big and
    /// irregular), or to unlock a bonus just claimed, sometimes failing
    /// first. Returns when play can start.
    fn deposit(&mut self, t: i64, v: f64, unlock: bool) -> i64 {
        let p = self.p;
        let due = self.day as i32 - self.st.last_deposit >= i32::from(p.deposit_every);
        let chance = if p.vip() {
            0.4
        } else if unlock {
            0.8
        } else if due {
            0.85
        } else {
            0.05
        };
        if !self.r.random_bool(chance * v) {
            return t;
        }
        let sigma = if p.vip() { 0.9 } else { 0.35 };
        let amount = f64::from(p.deposit_median) * (0.5 + 0.5 * v) * (sigma * normal(self.r)).exp();
        let amount = round_cents(amount.max(10.0 * f64::from(p.fx)), 2);
        let mut t = t + self.uniform_ms(20 * SECOND_MS, 90 * SECOND_MS);
        // Cards get declined more often as a fading player's money runs out.
        let mut ok = !self.r.random_bool(0.04 + 0.2 * (1.0 - v));
        self.emit(t, What::Deposit { ok, amount });
        if !ok && self.r.random_bool(0.7) {
            t += self.uniform_ms(30 * SECOND_MS, 2 * MINUTE_MS);
            ok = self.r.random_bool(0.75);
            self.emit(t, What::Deposit { ok, amount });
            if !ok && self.r.random_bool(0.2) {
                self.ticket(t + 5 * MINUTE_MS, 1.0, 1.0, true, 0.0);
            }
        }
        if ok {
            self.st.last_deposit = self.day as i32;
        }
        t
    }

    /// After a good session the player may cash out; now and then a
    /// routine withdrawal regardless.
    fn cash_out(&mut self, end: i64, net: i64) {
        let p = self.p;
        let threshold =
            (f64::from(p.deposit_median) * 300.0).max(10_000.0 * f64::from(p.fx)) as i64;
        let hunt_ends =
            p.archetype == Archetype::BonusHunter && self.day as i32 == self.st.hunt_until;
        let amount = if net > threshold && self.r.random_bool(0.6) {
            net as f64 / 100.0 * self.r.random_range(0.5..0.95)
        } else if hunt_ends && self.r.random_bool(0.6) {
            // Bonus played through: out with the balance, and done.
            self.st.hunt_until = self.day as i32 - 1;
            f64::from(p.deposit_median) * self.r.random_range(1.0..4.0)
        } else if self.r.random_bool(if p.vip() { 0.05 } else { 0.005 }) {
            f64::from(p.deposit_median) * self.r.random_range(1.0..3.0)
        } else {
            return;
        };
        let amount = round_cents(amount, 2);
        let requested = end + self.uniform_ms(MINUTE_MS, 10 * MINUTE_MS);
        self.emit(
            requested,
            What::Withdrawal {
                status: WithdrawalStatus::Requested,
                amount,
            },
        );
        // VIP withdrawals are expected to be paid almost at once.
        let wait = if p.vip() {
            self.uniform_ms(3 * MINUTE_MS, 40 * MINUTE_MS)
        } else {
            self.delay(6.0 * HOUR_MS as f64, 0.8)
        };
        self.emit(
            requested + wait,
            What::Withdrawal {
                status: WithdrawalStatus::Paid,
                amount,
            },
        );
    }

    /// A withdrawal request at `t`, declined hours later. Returns when it
    /// was declined.
    fn declined_withdrawal(&mut self, t: i64) -> i64 {
        let amount = f64::from(self.p.deposit_median) * self.r.random_range(2.0..6.0);
        let amount = round_cents(amount, 2);
        self.emit(
            t,
            What::Withdrawal {
                status: WithdrawalStatus::Requested,
                amount,
            },
        );
        let declined = t + self.uniform_ms(2 * HOUR_MS, 20 * HOUR_MS);
        self.emit(
            declined,
            What::Withdrawal {
                status: WithdrawalStatus::Declined,
                amount,
            },
        );
        declined
    }

    /// A support ticket opened at `opened`: replied with chance `reply`,
    /// then resolved if `resolve`; `slow` stretches the desk's times. An
    /// NPS survey may follow a resolution.
    fn ticket(&mut self, opened: i64, reply: f64, slow: f64, resolve: bool, unhappy: f64) {
        self.st.tickets = self.st.tickets.wrapping_add(1);
        let no = self.st.tickets;
        self.emit(
            opened,
            What::Ticket {
                action: TicketAction::Opened,
                no,
            },
        );
        if !self.r.random_bool(reply) {
            return;
        }
        let vip = self.p.vip();
        let median = if vip { 2 * MINUTE_MS } else { 40 * MINUTE_MS } as f64;
        let replied = opened + self.delay(median * slow, 1.0);
        self.emit(
            replied,
            What::Ticket {
                action: TicketAction::Replied,
                no,
            },
        );
        if !resolve {
            return;
        }
        let median = if vip { 20 * MINUTE_MS } else { 5 * HOUR_MS } as f64;
        let resolved = replied + self.delay(median * slow, 1.0);
        self.emit(
            resolved,
            What::Ticket {
                action: TicketAction::Resolved,
                no,
            },
        );
        if self.r.random_bool(0.25) {
            let at = resolved + self.uniform_ms(HOUR_MS, DAY_MS);
            // A slow desk costs goodwill.
            let unhappy = unhappy + 0.3 * (slow - 1.0);
            self.nps(at, unhappy);
        }
    }

    /// An NPS answer at `t`: content players mostly promote, unhappy ones
    /// detract.
    fn nps(&mut self, t: i64, unhappy: f64) {
        let total: u32 = NPS_WEIGHTS.iter().sum();
        let mut x = self.r.random_range(0..total);
        let mut score = 10u8;
        for (s, &w) in NPS_WEIGHTS.iter().enumerate() {
            if x < w {
                score = s as u8;
                break;
            }
            x -= w;
        }
        let drop = (unhappy * 6.0 * self.r.random_range(0.6..1.4)).round();
        let score = (f64::from(score) - drop).clamp(0.0, 10.0) as u8;
        self.emit(t, What::Nps { score });
    }

    /// Rarer things on an active day: support tickets (more and slower for
    /// faders), surveys and deposit limits.
    fn extras(&mut self, m: Mood, fading: bool, start: i64, end: i64) {
        if m.shaken {
            // Said all they had to say on the bad day.
            return;
        }
        let p = self.p;
        let mut ticket = if p.vip() { 0.015 } else { 0.006 };
        if fading {
            ticket *= 3.0;
        }
        if self.r.random_bool(ticket) {
            let at = self.uniform_ms(start, end + 1);
            let slow = if fading { 2.5 } else { 1.0 };
            self.ticket(at, 0.97, slow, true, m.unhappy);
        }
        if self.r.random_bool(0.006) {
            let at = end + self.uniform_ms(MINUTE_MS, 3 * HOUR_MS);
            self.nps(at, m.unhappy);
        }
        if self.r.random_bool(if p.vip() { 0.002 } else { 0.0004 }) {
            let at = self.uniform_ms(start, end + 1);
            self.emit(
                at,
                What::Rg {
                    action: RgAction::DepositLimit,
                },
            );
            self.st.rg_limited = true;
        }
    }

    /// A lottery regular's day: a ticket for each draw, bought on draw day
    /// before 20:00; results checked the day after; rarely an instant game
    /// in between. Returns the session's (start, end).
    fn lottery_day(&mut self, m: Mood) -> Option<(i64, i64)> {
        let p = self.p;
        let weekday = self.weekday();
        let draw = DRAW_DAYS.contains(&weekday);
        let after = DRAW_DAYS.iter().any(|&d| d + 1 == weekday);
        let base = if draw {
            0.9
        } else if after {
            0.35
        } else {
            DAY_CHANCE[Archetype::Lottery as usize][weekday]
        };
        let chance = base * if m.shaken { 0.35 } else { 0.15 + 0.85 * m.v };
        if !self
            .r
            .random_bool((chance * f64::from(p.activity)).min(0.97))
        {
            return None;
        }
        let mut hour = f64::from(p.peak_hour) + 1.2 * normal(self.r);
        if draw && hour.rem_euclid(24.0) > 19.5 {
            hour = 19.5 - self.r.random_range(0.0..3.0);
        }
        let start = self.not_before_last_session(self.midnight + self.hour_ms(hour));
        let mut t = self.open_session(start, m);
        let mut net = 0;
        if draw {
            let lines = match self.r.random_range(0..100) {
                0..70 => 1,
                70..92 => 2,
                _ => self.r.random_range(3..=4),
            };
            let draw_day = self.midnight.div_euclid(DAY_MS) as u32;
            for _ in 0..lines {
                t += self.uniform_ms(20 * SECOND_MS, 90 * SECOND_MS);
                let amount = round_cents(2.5 * f64::from(p.fx), 10);
                self.emit(t, What::LotteryTicket { draw_day, amount });
            }
        }
        if !after && (!draw || self.r.random_bool(0.2)) {
            let game = if p.kind == BrandKind::Lottery {
                Game::Lottery
            } else {
                p.second
            };
            for _ in 0..self.r.random_range(1..=5) {
                let (bet_t, bet_net) = self.bet(t, game, m.v);
                t = bet_t;
                net += bet_net;
            }
        }
        if after {
            t += self.uniform_ms(30 * SECOND_MS, 3 * MINUTE_MS);
        }
        let end = self.close_session(start, t);
        if !m.shaken {
            self.cash_out(end, net);
        }
        Some((start, end))
    }

    /// The abrupt leaver's bad experience: a withdrawal declined, or
    /// deposits that keep failing; a ticket nobody resolves; an angry
    /// survey answer.
    fn bad_day(&mut self) {
        let p = self.p;
        let hour = f64::from(p.peak_hour) + normal(self.r);
        let start = self.not_before_last_session(self.midnight + self.hour_ms(hour));
        let mobile = self.r.random_bool(f64::from(p.mobile));
        self.emit(start, What::Login { mobile });
        let mut t = start;
        let complaint = if self.r.random_bool(if p.vip() { 0.7 } else { 0.5 }) {
            for _ in 0..self.r.random_range(1..=6) {
                t = self.bet(t, p.favourite, 1.0).0;
            }
            let requested = t + self.uniform_ms(MINUTE_MS, 5 * MINUTE_MS);
            let declined = self.declined_withdrawal(requested);
            t = requested;
            declined + self.uniform_ms(10 * MINUTE_MS, 90 * MINUTE_MS)
        } else {
            let amount = round_cents(f64::from(p.deposit_median), 2);
            for _ in 0..self.r.random_range(3..=5) {
                t += self.uniform_ms(30 * SECOND_MS, 2 * MINUTE_MS);
                self.emit(t, What::Deposit { ok: false, amount });
            }
            t + self.uniform_ms(5 * MINUTE_MS, 20 * MINUTE_MS)
        };
        self.close_session(start, t);
        self.ticket(complaint, 0.6, 4.0, false, 0.0);
        if self.r.random_bool(0.6) {
            let at = complaint + self.uniform_ms(HOUR_MS, 2 * DAY_MS);
            self.nps(at, 1.4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_stays_small() {
        // A large population holds a whole day of these.
        assert_eq!(std::mem::size_of::<Draft>(), 32);
    }

    #[test]
    fn amounts_round_like_people_choose_them() {
        assert_eq!(round_cents(1.234, 10), 120);
        assert_eq!(round_cents(0.0, 10), 10);
        assert_eq!(round_cents(23.7, 10), 2400);
        assert_eq!(round_cents(37.0, 2), 3500);
        assert_eq!(round_cents(2_480.0, 2), 250_000);
        assert_eq!(round_cents(1e12, 2), 4_000_000_000);
    }
}
