//! The merged event stream.
//!
//! Rather than a heap of per-player cursors (a logarithmic sift, and cache
//! misses, per event), the stream works a day at a time: it generates the
//! day for every player, filing each draft into the five-minute slot of the
//! day it falls in, then sorts one slot at a time (small, so in cache) and
//! hands its events out. Drafts due after the day (a payout tomorrow) wait
//! in a side list until their day comes. Slots fill in a fixed order
//! (held-back drafts first, then by player, each player's in time order)
//! and ties keep that order, so the stream is deterministic and each
//! player's events come out the same however the players are grouped.
//!
//! Memory is the per-player state plus one day of drafts (32 bytes per
//! event), independent of the number of days.

use std::iter::FusedIterator;
use std::ops::Range;

use rand_chacha::ChaCha8Rng;
use vigil_domain::event::DepositStatus;
use vigil_domain::time::DAY_MS;
use vigil_domain::{Currency, Money, Payload, PlayerEvent, Timestamp};

use crate::day::{Day, Draft, NO_WIN, PlayerState, SLOTS, Sink, What};
use crate::population::Population;
use crate::profile::CURRENCIES;

/// The events of (some of) a population's players in nondecreasing time
/// order. Created by [`Population::events`] and [`Population::events_of`].
pub struct Events<'a> {
    pop: &'a Population,
    players: Range<u32>,
    states: Vec<PlayerState>,
    /// Moved to each (player, day)'s random stream in turn.
    rng: ChaCha8Rng,
    /// The currencies of [`CURRENCIES`], parsed.
    currencies: [Currency; CURRENCIES.len()],
    /// The next day to generate, and midnight starting the current one.
    day: u32,
    day_start: i64,
    /// The current day's drafts by five-minute slot, each in filing order.
    slots: Vec<Vec<Draft>>,
    /// The current slot, in time order, and `pos` the next draft to hand
    /// out; `keys` is sorting space.
    slot: usize,
    sorted: Vec<Draft>,
    pos: usize,
    keys: Vec<u64>,
    /// Drafts due after the current day, in generation order.
    later: Vec<Draft>,
    /// One player's day as it is made.
    scratch: Vec<Draft>,
    /// Events to deliver before generating more: a duplicate, or an event
    /// held back behind the one after it.
    queue: std::collections::VecDeque<PlayerEvent>,
    /// An event held back to be delivered late, with its duplicate if any.
    late: Vec<PlayerEvent>,
}

impl std::fmt::Debug for Events<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("players", &self.players)
            .field("day", &self.day)
            .field("slot", &self.slot)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl<'a> Events<'a> {
    pub(crate) fn new(pop: &'a Population, players: Range<u32>) -> Self {
        let profiles = &pop.profiles[players.start as usize..players.end as usize];
        Events {
            pop,
            states: profiles.iter().map(PlayerState::new).collect(),
            rng: pop.rng(),
            currencies: CURRENCIES
                .map(|c| Currency::parse(c.0).unwrap_or_else(|| unreachable!("valid code"))),
            players,
            day: 0,
            day_start: 0,
            slots: vec![Vec::new(); SLOTS],
            // Past the last slot: the first call generates day 0.
            slot: SLOTS,
            sorted: Vec::new(),
            pos: 0,
            keys: Vec::new(),
            later: Vec::new(),
            scratch: Vec::new(),
            queue: std::collections::VecDeque::new(),
            late: Vec::new(),
        }
    }

    /// Generates the next day into the slots; `false` after the last day.
    fn generate_day(&mut self) -> bool {
        let cfg = &self.pop.cfg;
        if self.day >= cfg.days {
            return false;
        }
        let day = self.day;
        self.day += 1;
        let start = cfg.start.as_millis();
        let midnight = start + i64::from(day) * DAY_MS;
        self.day_start = midnight;
        let mut sink = Sink {
            slots: &mut self.slots,
            later: &mut self.later,
            day_start: midnight,
            end: start + i64::from(cfg.days) * DAY_MS,
        };
        sink.clear();
        for (k, st) in self.states.iter_mut().enumerate() {
            let player = self.players.start + k as u32;
            let p = &self.pop.profiles[player as usize];
            Population::position(&mut self.rng, player, day + 1);
            Day {
                p,
                cal: &self.pop.calendars[usize::from(p.brand)],
                st,
                r: &mut self.rng,
                out: &mut self.scratch,
                player,
                day,
                midnight,
                churn: start.saturating_add(i64::from(p.churn_day).saturating_mul(DAY_MS)),
                back: start.saturating_add(i64::from(p.return_day()).saturating_mul(DAY_MS)),
            }
            .run();
            sink.take(&mut self.scratch, st);
        }
        true
    }

    /// The next draft in time order, generating days as needed.
    fn next_draft(&mut self) -> Option<Draft> {
        loop {
            if let Some(d) = self.sorted.get(self.pos) {
                self.pos += 1;
                return Some(*d);
            }
            self.pos = 0;
            self.slot = self.slot.wrapping_add(1);
            if self.slot >= SLOTS {
                if !self.generate_day() {
                    self.slot = SLOTS;
                    self.sorted.clear();
                    return None;
                }
                self.slot = 0;
            }
            self.sort_slot();
        }
    }

    /// Puts the current slot in time order into `sorted`, ties in filing
    /// order. Sorting (time, position) keys and gathering is several times
    /// cheaper than a stable sort of the drafts themselves.
    fn sort_slot(&mut self) {
        let slot = &self.slots[self.slot];
        self.keys.clear();
        self.keys.extend(slot.iter().enumerate().map(|(i, d)| {
            // Offsets within a day fit 27 bits, positions 32.
            let offset = (d.ts - self.day_start) as u64;
            offset << 32 | i as u64
        }));
        self.keys.sort_unstable();
        self.sorted.clear();
        self.sorted.extend(
            self.keys
                .iter()
                .map(|&k| slot[(k & u64::from(u32::MAX)) as usize]),
        );
    }

    /// Turns a draft into the event, with its strings. Ids are written from
    /// the draft's numbers rather than copied from the label, so this reads
    /// no per-player data: in a large population that would be a cache miss
    /// per event.
    fn materialize(&self, d: Draft) -> PlayerEvent {
        // "p000123-45": one buffer, checked once, for both ids.
        let mut buf = [0u8; 24];
        buf[0] = b'p';
        let mut len = 1 + write_decimal(&mut buf[1..], d.player, 6);
        let player_len = len;
        buf[len] = b'-';
        len += 1;
        len += write_decimal(&mut buf[len..], d.n, 1);
        let event_id = std::str::from_utf8(&buf[..len]).unwrap_or_default();
        let player_id = &event_id[..player_len];
        PlayerEvent {
            event_id: event_id.into(),
            player_id: player_id.into(),
            brand: self.pop.cfg.brands[usize::from(d.brand)].as_str().into(),
            ts: Timestamp::from_millis(d.ts),
            payload: payload(d.what, self.currencies[usize::from(d.currency)], player_id),
        }
    }

    /// Whether the event just numbered `n` for `player` is delivered twice.
    /// Decided by a hash of the seed and the event, not by the player's
    /// random stream, so turning duplicates on adds copies to the stream
    /// without changing anything else.
    fn duplicated(&self, player: u32, n: u32) -> bool {
        self.chance(player, n, 0, self.pop.cfg.duplicate_rate)
    }

    /// Whether a delivery accident with probability `rate` befalls event `n`
    /// of `player`; `salt` keeps the kinds of accident independent (0 is
    /// duplicates, as they always were).
    fn chance(&self, player: u32, n: u32, salt: u64, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let h = splitmix64(
            self.pop.cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (u64::from(player) << 32 | u64::from(n))
                ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93),
        );
        ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}

impl Iterator for Events<'_> {
    type Item = PlayerEvent;

    fn next(&mut self) -> Option<PlayerEvent> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(e);
            }
            let Some(d) = self.next_draft() else {
                // The stream ends: whatever was held back arrives now.
                self.queue.extend(self.late.drain(..));
                return self.queue.pop_front();
            };
            let cfg = &self.pop.cfg;
            if self.chance(d.player, d.n, 1, cfg.missing_rate) {
                continue;
            }
            let e = self.materialize(d);
            let mut delivery = vec![e];
            if self.duplicated(d.player, d.n) {
                delivery.push(delivery[0].clone());
            }
            if self.late.is_empty() && self.chance(d.player, d.n, 2, cfg.reorder_rate) {
                self.late = delivery;
                continue;
            }
            self.queue.extend(delivery);
            self.queue.extend(self.late.drain(..));
        }
    }
}

impl FusedIterator for Events<'_> {}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes `n` in decimal, zero-padded to `width` digits, at the start of
/// `out`; returns the number of bytes written.
fn write_decimal(out: &mut [u8], mut n: u32, width: usize) -> usize {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &buf[i.min(buf.len() - width.min(buf.len()))..];
    out[..digits.len()].copy_from_slice(digits);
    digits.len()
}

fn payload(what: What, currency: Currency, player_id: &str) -> Payload {
    let money = |cents: u32| Money {
        amount: f64::from(cents) / 100.0,
        currency,
    };
    match what {
        What::Login { mobile } => Payload::Login {
            channel: Some(if mobile { "mobile" } else { "web" }.to_owned()),
        },
        What::SessionEnd { secs } => Payload::SessionEnd { duration_s: secs },
        What::Bet { game, stake, win } => Payload::Bet {
            stake: money(stake),
            game,
            win: (win != NO_WIN).then(|| money(win)),
        },
        What::Deposit { ok, amount } => Payload::Deposit {
            amount: money(amount),
            status: if ok {
                DepositStatus::Ok
            } else {
                DepositStatus::Failed
            },
        },
        What::Withdrawal { status, amount } => Payload::Withdrawal {
            amount: money(amount),
            status,
        },
        What::Ticket { action, no } => Payload::Ticket {
            ticket_id: format!("{player_id}-t{no}"),
            action,
        },
        What::LotteryTicket { draw_day, amount } => {
            // "draw-2026-09-02": the date part of the draw day's timestamp.
            let mut draw_id = format!(
                "draw-{}",
                Timestamp::from_millis(i64::from(draw_day) * DAY_MS)
            );
            draw_id.truncate("draw-yyyy-mm-dd".len());
            Payload::LotteryTicket {
                draw_id,
                amount: money(amount),
            }
        }
        What::Bonus { action, eur } => Payload::Bonus {
            action,
            amount: Some(f64::from(eur)),
        },
        What::Message { channel, action } => Payload::Message { channel, action },
        What::Nps { score } => Payload::Nps { score },
        What::Rg { action } => Payload::Rg { action },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let mut buf = [0u8; 10];
        for n in [0, 7, 10, 12_345, u32::MAX] {
            let len = write_decimal(&mut buf, n, 1);
            assert_eq!(&buf[..len], format!("{n}").as_bytes());
            let len = write_decimal(&mut buf, n, 6);
            assert_eq!(&buf[..len], format!("{n:06}").as_bytes());
        }
    }
}
