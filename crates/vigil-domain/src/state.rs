//! Per-player state: everything the engine remembers about one player, kept
//! small (fixed-size arrays, compact `u32` times) because there are millions
//! of players. This struct is also the snapshot image: it round-trips
//! through the changelog field by field.

use crate::band::Band;
use crate::decay::{Counter, Decayed};
use crate::event::{BonusAction, MessageAction, RgAction, TicketAction, WithdrawalStatus};
use crate::window::{DayDelta, DayWindow};

/// What an event means to the state, with amounts already converted to
/// reporting-currency cents and ids hashed. Built by the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fact {
    Login,
    SessionEnd {
        duration_s: u32,
    },
    Bet {
        stake_cents: u64,
        win_cents: Option<u64>,
    },
    Deposit {
        cents: u64,
        ok: bool,
    },
    Withdrawal {
        cents: u64,
        status: WithdrawalStatus,
    },
    Ticket {
        id_hash: u32,
        action: TicketAction,
    },
    LotteryTicket {
        cents: u64,
    },
    Bonus {
        action: BonusAction,
    },
    Message {
        action: MessageAction,
    },
    Nps {
        score: u8,
    },
    Rg {
        action: RgAction,
    },
}

impl Fact {
    /// Whether the event shows the player playing (for recency and rhythm).
    pub fn is_activity(&self) -> bool {
        matches!(
            self,
            Fact::Login
                | Fact::SessionEnd { .. }
                | Fact::Bet { .. }
                | Fact::Deposit { .. }
                | Fact::LotteryTicket { .. }
        )
    }
}

/// Support tickets still open: a few slots, oldest evicted when full.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenTickets {
    /// `(id hash, opened at)`; an `opened at` of 0 marks a free slot.
    pub slots: [(u32, u32); 3],
    /// Bit `i` set: slot `i` has had a first reply.
    pub replied: u8,
    /// Service-level breaches already alerted: bit `i` the first response
    /// of slot `i`, bit `i + 4` its resolution.
    pub breached: u8,
}

impl OpenTickets {
    fn open(&mut self, id: u32, at: u32) {
        if self.slots.iter().any(|&(i, t)| t != 0 && i == id) {
            return;
        }
        let slot = match self.slots.iter().position(|&(_, t)| t == 0) {
            Some(s) => s,
            None => (0..self.slots.len())
                .min_by_key(|&i| self.slots[i].1)
                .unwrap_or(0),
        };
        self.slots[slot] = (id, at.max(1));
        self.replied &= !(1 << slot);
        self.breached &= !(0x11 << slot);
    }

    pub(crate) fn find(&self, id: u32) -> Option<usize> {
        self.slots.iter().position(|&(i, t)| t != 0 && i == id)
    }

    /// Closes a ticket; returns when it was opened, if it was tracked.
    fn close(&mut self, id: u32) -> Option<u32> {
        let s = self.find(id)?;
        let opened = self.slots[s].1;
        self.slots[s] = (0, 0);
        self.replied &= !(1 << s);
        self.breached &= !(0x11 << s);
        Some(opened)
    }

    /// Open tickets older than `slow_secs` at `t`.
    pub fn overdue(&self, t: u32, slow_secs: u64) -> u32 {
        self.slots
            .iter()
            .filter(|&&(_, at)| at != 0 && (t.saturating_sub(at) as u64) > slow_secs)
            .count() as u32
    }
}

/// Withdrawal requests not yet paid or declined (matched oldest first, as
/// the schema carries no withdrawal id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PendingWithdrawals {
    /// Request times; 0 marks a free slot.
    pub requested_at: [u32; 2],
}

impl PendingWithdrawals {
    fn request(&mut self, at: u32) {
        let slot = self
            .requested_at
            .iter()
            .position(|&t| t == 0)
            .unwrap_or_else(|| {
                if self.requested_at[0] <= self.requested_at[1] {
                    0
                } else {
                    1
                }
            });
        self.requested_at[slot] = at.max(1);
    }

    /// Settles the oldest request; returns when it was made.
    fn settle(&mut self) -> Option<u32> {
        let (slot, &at) = self
            .requested_at
            .iter()
            .enumerate()
            .filter(|(_, t)| **t != 0)
            .min_by_key(|(_, t)| **t)?;
        self.requested_at[slot] = 0;
        Some(at)
    }

    /// Requests older than `slow_secs` at `t`.
    pub fn overdue(&self, t: u32, slow_secs: u64) -> u32 {
        self.requested_at
            .iter()
            .filter(|&&at| at != 0 && (t.saturating_sub(at) as u64) > slow_secs)
            .count() as u32
    }
}

/// The latest NPS answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpsMemory {
    /// Latest score, or [`NpsMemory::NONE`].
    pub latest: u8,
    /// The score before it, or [`NpsMemory::NONE`].
    pub previous: u8,
    /// When the latest was given.
    pub at: u32,
}

impl Default for NpsMemory {
    fn default() -> Self {
        NpsMemory {
            latest: Self::NONE,
            previous: Self::NONE,
            at: 0,
        }
    }
}

impl NpsMemory {
    /// No answer.
    pub const NONE: u8 = u8::MAX;
    /// Answers older than this no longer speak for the player.
    pub const MAX_AGE_SECS: u32 = 180 * 86_400;

    fn record(&mut self, score: u8, at: u32) {
        if at < self.at {
            // An older answer than the one we hold: it is history at most.
            if self.previous == Self::NONE {
                self.previous = score;
            }
            return;
        }
        self.previous = self.latest;
        self.latest = score;
        self.at = at;
    }

    /// The latest answer if it is recent enough at `t`.
    pub fn latest(&self, t: u32) -> Option<u8> {
        (self.latest != Self::NONE && t.saturating_sub(self.at) <= Self::MAX_AGE_SECS)
            .then_some(self.latest)
    }

    /// The answer before the latest, if any.
    pub fn previous(&self) -> Option<u8> {
        (self.previous != Self::NONE).then_some(self.previous)
    }
}

/// Responsible-gambling actions seen, as bits of [`RgAction`] order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RgState {
    pub flags: u8,
    /// When the latest action happened.
    pub at: u32,
}

/// Fingerprints of the player's most recent event ids, for dropping
/// duplicates. Redelivery after a crash or a producer retry repeats recent
/// events; a duplicate arriving after [`RecentIds::LEN`] newer events of the
/// same player is not recognised (a documented bound that keeps state
/// small). Fingerprints are 32 bits: the chance that a new event is taken
/// for a duplicate is `LEN / 2^32` (about 2 in a billion events).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecentIds {
    pub ids: [u32; RecentIds::LEN],
    /// Next slot to overwrite.
    pub next: u8,
}

impl RecentIds {
    /// How many ids are remembered per player.
    pub const LEN: usize = 8;

    /// Records the event id hash `id`; returns `false` if it was already
    /// there. Fingerprint 0 marks an empty slot, so it is mapped to 1.
    pub fn insert(&mut self, id: u64) -> bool {
        let id = ((id as u32) ^ ((id >> 32) as u32)).max(1);
        if self.ids.contains(&id) {
            return false;
        }
        self.ids[self.next as usize % Self::LEN] = id;
        self.next = ((self.next as usize + 1) % Self::LEN) as u8;
        true
    }
}

/// What the engine last concluded about a player.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// Latest score.
    pub score: f32,
    /// Latest band (with hysteresis applied).
    pub band: Band,
    /// Whether the player has enough history to be judged (and alerted on).
    pub ready: bool,
    /// Score last published, and when.
    pub emitted_score: f32,
    pub emitted_at: u32,
    /// When the score was last computed.
    pub evaluated_at: u32,
    /// Events were applied since then and await evaluation.
    pub dirty: bool,
}

/// Last time each alert rule fired, for cooldowns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cooldowns {
    pub band_change_at: u32,
    /// The band the last band-change alert announced: a return to it within
    /// the cooldown is not news.
    pub alerted_band: Band,
    pub usage_drop_at: u32,
    /// `last_active` of the silent spell an inactivity alert already covered.
    pub inactivity_spell: u32,
}

/// What only some players have at any time: open support tickets, pending
/// withdrawals, NPS answers, responsible-gambling actions. Boxed and
/// dropped again once empty, so the many players with none of it pay one
/// pointer instead of 52 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Friction {
    pub tickets: OpenTickets,
    pub withdrawals: PendingWithdrawals,
    pub nps: NpsMemory,
    pub rg: RgState,
}

impl Friction {
    /// Nothing: what a player without the box has.
    pub const EMPTY: Friction = Friction {
        tickets: OpenTickets {
            slots: [(0, 0); 3],
            replied: 0,
            breached: 0,
        },
        withdrawals: PendingWithdrawals {
            requested_at: [0; 2],
        },
        nps: NpsMemory {
            latest: NpsMemory::NONE,
            previous: NpsMemory::NONE,
            at: 0,
        },
        rg: RgState { flags: 0, at: 0 },
    };

    /// Boxed, or `None` when there is nothing to keep.
    pub fn boxed(self) -> Option<Box<Friction>> {
        (self != Friction::EMPTY).then(|| Box::new(self))
    }
}

impl Default for Friction {
    fn default() -> Self {
        Friction::EMPTY
    }
}

static NO_FRICTION: Friction = Friction::EMPTY;

/// What only some players need: offers made (for cooldowns and caps),
/// alerts and offers awaiting their outcome, and signs of harm. Boxed, so
/// the many players who never get an alert pay one pointer for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retention {
    pub offers: [crate::offer::MadeOffer; crate::offer::HISTORY],
    pub tracked: [crate::outcome::Tracked; crate::outcome::TRACKED],
    /// The latest sign of harm (marketing is suppressed for a while after).
    pub harm_seen_at: u32,
    /// The latest `rg_risk` alert (for its cooldown).
    pub harm_alerted_at: u32,
}

/// Everything remembered about one player.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlayerState {
    pub window: DayWindow,
    pub decayed: Decayed,
    /// First event time (compact seconds).
    pub first_seen: u32,
    /// Latest event time of any kind.
    pub last_event: u32,
    /// Latest activity (login, session, bet, deposit, lottery ticket).
    pub last_active: u32,
    /// Moving average of the gaps between visits, in seconds.
    pub typical_gap_secs: f32,
    /// Gaps seen so far (saturating).
    pub gaps: u16,
    /// Open tickets, pending withdrawals, NPS answers and RG actions, for
    /// players who have any (see [`PlayerState::friction`]).
    pub friction: Option<Box<Friction>>,
    pub recent_ids: RecentIds,
    pub verdict: Verdict,
    pub cooldowns: Cooldowns,
    /// Today's figures for the signs of harm.
    pub harm: crate::safeguard::HarmDay,
    /// Offers, outcomes and harm history, for players who have any.
    pub retention: Option<Box<Retention>>,
    /// Index of the brand in the engine's brand table.
    pub brand: u16,
    /// Compact time the player's timer is due (see the engine's timer queue).
    pub next_due: u32,
}

/// A gap shorter than this is the same visit, not a new one.
const VISIT_GAP_SECS: u32 = 3600;
/// Weight of a newest gap longer than the typical one.
const GAP_RISE: f32 = 0.4;
/// Weight of a newest gap shorter than the typical one.
const GAP_FALL: f32 = 0.08;

/// Friction thresholds the state needs when applying events, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrictionSecs {
    pub slow_ticket: u64,
    pub slow_withdrawal: u64,
    /// Gaps are capped at this before averaging, so one long break does not
    /// redefine a player's rhythm.
    pub max_gap: u64,
}

impl PlayerState {
    /// Tickets, withdrawals, NPS and RG memory (empty for most players).
    pub fn friction(&self) -> &Friction {
        self.friction.as_deref().unwrap_or(&NO_FRICTION)
    }

    fn friction_mut(&mut self) -> &mut Friction {
        self.friction.get_or_insert_with(Box::default)
    }

    /// Drops the friction box once nothing is left in it.
    fn tidy_friction(&mut self) {
        if self.friction.as_deref() == Some(&Friction::EMPTY) {
            self.friction = None;
        }
    }

    /// The retention part, created on first use.
    pub(crate) fn retention_mut(&mut self) -> &mut Retention {
        self.retention.get_or_insert_with(Box::default)
    }

    /// A new player first seen at `t`.
    pub(crate) fn new(t: u32, brand: u16) -> Self {
        PlayerState {
            first_seen: t,
            brand,
            ..PlayerState::default()
        }
    }

    /// Applies one event that happened at `t`.
    pub(crate) fn apply(&mut self, ts: crate::time::Timestamp, fact: &Fact, f: FrictionSecs) {
        let t = ts.compact();
        self.first_seen = self.first_seen.min(t);
        self.last_event = self.last_event.max(t);
        if fact.is_activity() {
            self.note_activity(t, f.max_gap);
        }
        match *fact {
            Fact::Login => {
                self.window.add(
                    ts,
                    DayDelta {
                        visits: 1,
                        ..Default::default()
                    },
                );
            }
            Fact::SessionEnd { .. } => {}
            Fact::Bet {
                stake_cents,
                win_cents,
            } => {
                self.harm.bet(t, stake_cents, win_cents);
                self.window.add(
                    ts,
                    DayDelta {
                        bets: 1,
                        stake_cents,
                        ..Default::default()
                    },
                );
            }
            Fact::LotteryTicket { cents } => {
                self.window.add(
                    ts,
                    DayDelta {
                        bets: 1,
                        stake_cents: cents,
                        ..Default::default()
                    },
                );
            }
            Fact::Deposit { cents, ok: true } => {
                self.harm.deposit(t, cents);
                self.decayed.add(Counter::Deposits, t, cents as f64 / 100.0)
            }
            Fact::Deposit { ok: false, .. } => {
                self.harm.failed_deposit(t);
                self.decayed.add(Counter::PaymentFailures, t, 1.0)
            }
            Fact::Withdrawal { status, cents } => match status {
                WithdrawalStatus::Requested => self.friction_mut().withdrawals.request(t),
                WithdrawalStatus::Paid => {
                    self.decayed
                        .add(Counter::Withdrawals, t, cents as f64 / 100.0);
                    if let Some(at) = self.friction_mut().withdrawals.settle()
                        && t.saturating_sub(at) as u64 > f.slow_withdrawal
                    {
                        self.decayed.add(Counter::PaymentFailures, t, 1.0);
                    }
                }
                WithdrawalStatus::Declined => {
                    self.friction_mut().withdrawals.settle();
                    self.decayed.add(Counter::PaymentFailures, t, 1.0);
                }
            },
            Fact::Ticket { id_hash, action } => match action {
                TicketAction::Opened => {
                    self.friction_mut().tickets.open(id_hash, t);
                    self.decayed.add(Counter::TicketsOpened, t, 1.0);
                }
                TicketAction::Replied => {
                    if let Some(s) = self.friction().tickets.find(id_hash) {
                        self.friction_mut().tickets.replied |= 1 << s;
                    }
                }
                TicketAction::Resolved => {
                    if let Some(opened) = self.friction_mut().tickets.close(id_hash)
                        && t.saturating_sub(opened) as u64 > f.slow_ticket
                    {
                        self.decayed.add(Counter::SlowTickets, t, 1.0);
                    }
                }
            },
            Fact::Bonus { .. } => {}
            Fact::Message { action } => match action {
                MessageAction::Sent => self.decayed.add(Counter::MessagesSent, t, 1.0),
                MessageAction::Opened | MessageAction::Clicked => {
                    self.decayed.add(Counter::MessagesEngaged, t, 1.0)
                }
            },
            Fact::Nps { score } => self.friction_mut().nps.record(score, t),
            Fact::Rg { action } => {
                let bit = RgAction::ALL.iter().position(|a| *a == action).unwrap_or(0);
                let rg = &mut self.friction_mut().rg;
                rg.flags |= 1 << bit;
                rg.at = rg.at.max(t);
            }
        }
        if matches!(fact, Fact::Ticket { .. } | Fact::Withdrawal { .. }) {
            self.tidy_friction();
        }
    }

    fn note_activity(&mut self, t: u32, max_gap: u64) {
        if self.last_active != 0 && t > self.last_active {
            let gap = t - self.last_active;
            if gap >= VISIT_GAP_SECS {
                let gap = (gap as u64).min(max_gap) as f32;
                // Biased upwards: long gaps pull harder than short ones, so
                // the figure tracks the upper range of a player's rhythm
                // (a weekend player's weekday pause is part of their habit).
                self.typical_gap_secs = if self.gaps == 0 {
                    gap
                } else if gap > self.typical_gap_secs {
                    self.typical_gap_secs + GAP_RISE * (gap - self.typical_gap_secs)
                } else {
                    self.typical_gap_secs + GAP_FALL * (gap - self.typical_gap_secs)
                };
                self.gaps = self.gaps.saturating_add(1);
            }
        }
        self.last_active = self.last_active.max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_the_oldest() {
        let mut r = RecentIds::default();
        for id in 1..=RecentIds::LEN as u64 {
            assert!(r.insert(id));
        }
        assert!(!r.insert(1));
        assert!(r.insert(100));
        assert!(r.insert(1), "id 1 was evicted by id 100");
    }

    #[test]
    fn tickets_track_open_and_overdue() {
        let mut t = OpenTickets::default();
        t.open(7, 1000);
        t.open(8, 5000);
        assert_eq!(t.overdue(5000, 3000), 1);
        assert_eq!(t.close(7), Some(1000));
        assert_eq!(t.close(7), None);
        assert_eq!(t.overdue(100_000, 3000), 1);
    }

    #[test]
    fn withdrawals_settle_oldest_first() {
        let mut w = PendingWithdrawals::default();
        w.request(50);
        w.request(10);
        assert_eq!(w.settle(), Some(10));
        assert_eq!(w.settle(), Some(50));
        assert_eq!(w.settle(), None);
    }
}
