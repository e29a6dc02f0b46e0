//! The engine: players by id, a reorder buffer that puts events back in
//! event-time order, and a timer queue that re-scores silent players.
//!
//! The engine has no clock. Time moves only through [`Engine::ingest`]
//! (the newest event time, less the allowed lateness) and
//! [`Engine::advance_to`] (a time the caller vouches for, such as the wall
//! clock in a live stream). Everything at or before that watermark is
//! applied in `(event time, event id)` order, and timers due at or before it
//! fire in between, so the same events give the same outputs however they
//! were interleaved within the allowed lateness.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};

use xxhash_rust::xxh3::xxh3_64;

use crate::band::Band;
use crate::changes::{EngineClock, Pending, PlayerRecord};
use crate::config::{ConfigError, EngineConfig, WINDOW_DAYS};
use crate::event::{Payload, PlayerEvent};
use crate::money::{Money, RateTable};
use crate::offer::{self, CompiledRule, Offer, OfferStatus};
use crate::outcome::{self, Outcome, Tracked};
use crate::output::{Alert, AlertKind, Output, ScoreRecord, alert_id};
use crate::profile::{OptOuts, Profile, SharedProfiles, Tier};
use crate::reject::Reject;
use crate::safeguard::{self, HarmSign, Suppression};
use crate::signal::{Reason, ScoreCard, Signal, score};
use crate::state::{Fact, FrictionSecs, PlayerState};
use crate::time::{DAY_MS, Timestamp, duration_ms};
use crate::value::{self, Value};
use crate::window::Span;

mod index;
mod prefetch;
pub use prefetch::{prefetch, prefetch_bytes};
mod store;
mod wheel;
use index::PlayerIndex;
use store::ChunkedVec;
use wheel::TimerWheel;

/// Counters the edge turns into metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Events applied to player state.
    pub applied: u64,
    /// Events dropped as repeats of an already applied event id.
    pub duplicates: u64,
    /// Events that arrived after the watermark had passed them (applied,
    /// but possibly not exactly as in order).
    pub late: u64,
    /// Alerts fired, by [`AlertKind::ALL`] index.
    pub alerts: [u64; 5],
    /// Offers made, by [`OfferStatus::ALL`] index.
    pub offers: [u64; 3],
    /// Offers suppressed, by [`Suppression::ALL`] index.
    pub suppressed: [u64; 4],
    /// Matching offers not made, by [`offer::Skip::ALL`] index.
    pub offers_skipped: [u64; 3],
    /// Outcomes emitted: `[group][recovered]`, groups alert, treated,
    /// held out.
    pub outcomes: [[u64; 2]; 3],
    /// Alerts and offers not followed up because the player's follow-up
    /// slots were all taken.
    pub outcomes_untracked: u64,
    /// Score records emitted.
    pub scores: u64,
    /// Players scored at least once, by current band ([`Band`] order).
    pub bands: [u64; 3],
}

/// A player's full state with its identity: the changelog's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerSnapshot {
    pub player_id: String,
    pub brand: String,
    pub state: PlayerState,
}

/// A read-only view of one player, scored at the engine's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerView<'a> {
    pub player_id: &'a str,
    pub brand: &'a str,
    pub state: &'a PlayerState,
    pub card: ScoreCard,
    /// Customer value at the engine's clock.
    pub value: Value,
    /// The profile the CRM sent, if any.
    pub profile: Option<std::sync::Arc<Profile>>,
}

impl PlayerView<'_> {
    /// Risk times value, as alerts are ranked.
    pub fn priority(&self) -> f64 {
        value::priority(value::score_risk(self.card.score), self.value.value)
    }
}

impl PlayerView<'_> {
    /// The player's current score as a record, stamped `ts`.
    pub fn score_record(&self, ts: Timestamp) -> ScoreRecord {
        ScoreRecord {
            player_id: self.player_id.to_owned(),
            brand: self.brand.to_owned(),
            ts,
            score: self.card.score,
            band: self.state.verdict.band,
            baseline_ready: self.state.verdict.ready,
            reasons: self.card.reasons(),
        }
    }
}

#[derive(Debug)]
struct Player {
    /// Inline up to 24 bytes (typical player ids): the lookup that confirms
    /// a hash match then reads no second cache line, and no allocation is
    /// kept per player.
    id: compact_str::CompactString,
    state: PlayerState,
}

/// An event waiting in the reorder buffer.
#[derive(Debug)]
struct Staged {
    ts: Timestamp,
    id_hash: u64,
    player_id: compact_str::CompactString,
    brand: compact_str::CompactString,
    fact: Fact,
    /// When it was staged, in the engine's staging count: tells which
    /// staged events [`Engine::take_changes`] has not handed out yet.
    seq: u64,
    /// The player's brand id and [`index_hash`], once computed ahead of
    /// release (see [`LOOKAHEAD`]); `None` before, or when the brand was
    /// not known then.
    hash: Option<(u16, u64)>,
    /// The index's first candidate for that hash when its record was
    /// prefetched, not yet compared: checked at release, which then
    /// needs no second look at the index.
    candidate: Option<u32>,
}

impl Staged {
    fn key(&self) -> (Timestamp, u64, &str, &str) {
        (self.ts, self.id_hash, &self.brand, &self.player_id)
    }
}

impl PartialEq for Staged {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Staged {}
impl PartialOrd for Staged {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Staged {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// How far out (in standard deviations) a fall in active days must lie
/// before the usage-drop rule believes it; see [`Engine::evaluate`].
const USAGE_DROP_Z: f64 = 1.5;

/// Timers are bucketed by minute: precise enough for churn, and one small
/// `Vec` per busy minute instead of a tree node per player.
const TIMER_GRAIN_SECS: u32 = 60;
/// Players silent for longer than this are no longer re-scored: their
/// window is empty and their last alerts have long fired.
const DORMANT_AFTER_SECS: u32 = 2 * WINDOW_DAYS as u32 * 86_400;

/// How many players ahead of the one being fired, in a minute's timers,
/// records (and, while sorting out stale entries, due times) are
/// prefetched: enough to cover a memory access with the work of firing a
/// few timers, few enough that the lines are still in cache when used.
const TIMER_AHEAD: usize = 4;

/// How many events ahead of the one being released the reorder buffer's
/// players are prefetched (see [`Engine::look_ahead`]).
const LOOKAHEAD: usize = 16;

/// Profile of players the CRM sent none for.
static NO_PROFILE: Profile = Profile {
    tier: Tier::Regular,
    manager_id: None,
    segments: Vec::new(),
    opt_outs: OptOuts {
        marketing: false,
        channels: 0,
    },
};

/// A pending service-level check of one support ticket.
#[derive(Debug, Clone, Copy)]
struct SlaCheck {
    player: u32,
    ticket: u32,
    /// Resolution (else first response).
    resolution: bool,
}

/// The scoring engine for a set of players (one Kafka partition's, or all
/// of a replay's).
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    rates: RateTable,
    friction: FrictionSecs,
    lateness_ms: i64,
    /// In chunks, so reserved memory grows linearly with the population.
    players: ChunkedVec<Player>,
    /// Per player, dense beside the records: the identity hash that orders
    /// timers ([`player_hash`]) and when its live timer is due (a copy of
    /// `PlayerState::next_due`). Firing a minute's timers reads only these
    /// to skip stale entries (about half of them) and to order the live
    /// ones, instead of two cache misses on a 400-byte record per entry.
    timer_keys: ChunkedVec<u64>,
    timer_due: ChunkedVec<u32>,
    index: PlayerIndex,
    brands: Vec<Box<str>>,
    brand_index: hashbrown::HashMap<Box<str>, u16>,
    /// Players by the minute their timer is due (stale entries included:
    /// a player's live one is the minute of its `next_due`).
    timers: TimerWheel,
    /// Scratch space for the firing order of one bucket.
    timer_order: Vec<(u64, u32)>,
    /// The reorder buffer, in `Staged` order (equal keys in arrival
    /// order). Events mostly arrive in time order, so staging one is
    /// usually a push at the back and releasing one a pop at the front,
    /// where a binary heap moved each event through its levels both ways.
    pending: VecDeque<Staged>,
    /// The CRM's profiles, joined to alerts and offers.
    profiles: SharedProfiles,
    /// The offer rules, parsed.
    offer_rules: Vec<CompiledRule>,
    /// Service-level checks by due second (exact, unlike the minute timers:
    /// first responses are due within seconds).
    sla_timers: BTreeMap<u32, Vec<SlaCheck>>,
    max_seen: Timestamp,
    clock: Timestamp,
    stats: EngineStats,
    /// Players whose state changed since the last [`Engine::take_changes`],
    /// once each (the bit set says who is listed).
    changed: Vec<u32>,
    changed_bits: Vec<u64>,
    /// Events staged so far, and the count at the last `take_changes`.
    staged_seq: u64,
    taken_seq: u64,
}

/// The key of the player index: engine-local (brand ids are per engine),
/// one hash per lookup.
fn index_hash(brand: u16, player_id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(player_id.as_bytes(), brand as u64)
}

/// A player's identity as a number that is the same in every engine: it
/// orders timers, so a restored engine fires them as the original did.
fn player_hash(brand: &str, player_id: &str) -> u64 {
    xxh3_64(player_id.as_bytes()) ^ xxh3_64(brand.as_bytes()).rotate_left(1)
}

impl Engine {
    /// An engine with `cfg`, which is validated first.
    pub fn new(cfg: EngineConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let rates = cfg.currency.rate_table()?;
        let friction = FrictionSecs {
            slow_ticket: cfg.friction.slow_ticket_resolution.as_secs(),
            slow_withdrawal: cfg.friction.slow_withdrawal.as_secs(),
            max_gap: cfg.rules.inactivity.max_silence.as_secs(),
        };
        let offer_rules = cfg.offers.compile()?;
        Ok(Engine {
            lateness_ms: duration_ms(cfg.allowed_lateness),
            offer_rules,
            profiles: SharedProfiles::default(),
            sla_timers: BTreeMap::new(),
            cfg,
            rates,
            friction,
            players: ChunkedVec::default(),
            timer_keys: ChunkedVec::default(),
            timer_due: ChunkedVec::default(),
            index: PlayerIndex::default(),
            brands: Vec::new(),
            brand_index: hashbrown::HashMap::new(),
            timers: TimerWheel::default(),
            timer_order: Vec::new(),
            pending: VecDeque::new(),
            max_seen: Timestamp::MIN,
            clock: Timestamp::MIN,
            stats: EngineStats::default(),
            changed: Vec::new(),
            changed_bits: Vec::new(),
            staged_seq: 0,
            taken_seq: 0,
        })
    }

    /// Swaps in new settings between events, for a live reload: `cfg` is
    /// validated first and refused (the engine keeps its settings) when it
    /// is invalid or changes a key that needs a restart (see
    /// [`EngineConfig::check_live_change`]). Player state is kept; every
    /// evaluation from now on uses the new weights, bands and rules, and
    /// events converted from now on the new rates.
    pub fn reconfigure(&mut self, cfg: EngineConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.cfg.check_live_change(&cfg)?;
        self.rates = cfg.currency.rate_table()?;
        self.friction = FrictionSecs {
            slow_ticket: cfg.friction.slow_ticket_resolution.as_secs(),
            slow_withdrawal: cfg.friction.slow_withdrawal.as_secs(),
            max_gap: cfg.rules.inactivity.max_silence.as_secs(),
        };
        self.lateness_ms = duration_ms(cfg.allowed_lateness);
        self.offer_rules = cfg.offers.compile()?;
        self.cfg = cfg;
        Ok(())
    }

    /// The settings in force.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Counters since the engine started.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Players known.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// Events accepted but waiting for the watermark.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The watermark: every event at or before it has been applied and every
    /// timer due by it has fired.
    pub fn clock(&self) -> Timestamp {
        self.clock
    }

    /// Takes one event. Outputs it causes (now, or for earlier buffered
    /// events released by it) are appended to `out`. Refused events change
    /// nothing and say why.
    pub fn ingest(&mut self, event: PlayerEvent, out: &mut Vec<Output>) -> Result<(), Reject> {
        self.take_in(event, true, out)
    }

    /// Takes an event that restored state already holds (see
    /// [`crate::changes`]): validated and moving time exactly as
    /// [`Engine::ingest`] would, so timers and the reorder buffer behave as
    /// in the original run, but changing no player.
    pub fn skip(&mut self, event: PlayerEvent, out: &mut Vec<Output>) -> Result<(), Reject> {
        self.take_in(event, false, out)
    }

    fn take_in(
        &mut self,
        event: PlayerEvent,
        keep: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        if !event.ts.in_range() {
            return Err(Reject::TimestampOutOfRange(
                event.ts.as_millis().to_string(),
            ));
        }
        if event.ts.millis_since(self.clock) < -(WINDOW_DAYS as i64) * DAY_MS {
            return Err(Reject::TooOld {
                ts: event.ts.to_string(),
                days: WINDOW_DAYS,
            });
        }
        let fact = self.fact(&event.payload)?;
        if keep {
            self.staged_seq += 1;
            let staged = Staged {
                ts: event.ts,
                id_hash: xxh3_64(event.event_id.as_bytes()),
                player_id: event.player_id,
                brand: event.brand,
                fact,
                seq: self.staged_seq,
                hash: None,
                candidate: None,
            };
            if staged.ts <= self.clock && self.clock > Timestamp::MIN {
                self.stats.late += 1;
                let now = self.clock;
                self.apply(staged, now, out)?;
            } else {
                self.stage(staged);
            }
        }
        self.max_seen = self.max_seen.max(event.ts);
        let watermark = Timestamp::from_millis(self.max_seen.as_millis() - self.lateness_ms);
        if watermark > self.clock {
            self.release(watermark, out);
        }
        Ok(())
    }

    /// Moves the clock to `t`: applies buffered events up to it and fires
    /// timers due by it. Earlier times are ignored (the clock never goes
    /// back).
    pub fn advance_to(&mut self, t: Timestamp, out: &mut Vec<Output>) {
        if t > self.clock {
            self.release(t.min(Timestamp::MAX), out);
        }
    }

    /// Applies everything still buffered, as at end of input, without
    /// moving the clock past the newest event.
    pub fn flush(&mut self, out: &mut Vec<Output>) {
        let t = self.max_seen;
        self.advance_to(t, out);
    }

    fn fact(&self, p: &Payload) -> Result<Fact, Reject> {
        let cents = |m: &Money| {
            self.rates
                .to_cents(*m)
                .ok_or_else(|| Reject::UnknownCurrency(m.currency.to_string()))
        };
        Ok(match p {
            Payload::Login { .. } => Fact::Login,
            Payload::SessionEnd { duration_s } => Fact::SessionEnd {
                duration_s: *duration_s,
            },
            Payload::Bet { stake, win, .. } => Fact::Bet {
                stake_cents: cents(stake)?,
                win_cents: win.as_ref().map(cents).transpose()?,
            },
            Payload::Deposit { amount, status } => Fact::Deposit {
                cents: cents(amount)?,
                ok: *status == crate::event::DepositStatus::Ok,
            },
            Payload::Withdrawal { amount, status } => Fact::Withdrawal {
                cents: cents(amount)?,
                status: *status,
            },
            Payload::Ticket { ticket_id, action } => Fact::Ticket {
                id_hash: xxh3_64(ticket_id.as_bytes()) as u32,
                action: *action,
            },
            Payload::LotteryTicket { amount, .. } => Fact::LotteryTicket {
                cents: cents(amount)?,
            },
            Payload::Bonus { action, .. } => Fact::Bonus { action: *action },
            Payload::Message { action, .. } => Fact::Message { action: *action },
            Payload::Nps { score } => Fact::Nps { score: *score },
            Payload::Rg { action } => Fact::Rg { action: *action },
        })
    }

    /// Puts an event into the reorder buffer, after any equal to it.
    fn stage(&mut self, s: Staged) {
        if self.pending.back().is_none_or(|b| *b <= s) {
            self.pending.push_back(s);
        } else {
            let at = self.pending.partition_point(|p| *p <= s);
            self.pending.insert(at, s);
        }
    }

    /// Starts loading what the events soon to be released will need, in
    /// two steps, so that neither waits for memory: the index slot of the
    /// player of the event `2 * LOOKAHEAD` places behind the one being
    /// released, and the records (with their timer due times) of the
    /// index's candidates for the player of the event [`LOOKAHEAD`] places
    /// behind, read from that slot, now in cache. Candidates are not
    /// compared (that would wait for the record); a false one costs a
    /// wasted prefetch, never a result. The hash is kept for the lookup at
    /// release.
    fn look_ahead(&mut self) {
        if let Some(hash) = self.hash_staged(2 * LOOKAHEAD) {
            self.index.prefetch(hash);
        }
        if let Some(hash) = self.hash_staged(LOOKAHEAD) {
            let mut first = None;
            for i in self.index.candidates(hash) {
                prefetch(&self.players[i as usize]);
                prefetch(&self.timer_due[i as usize]);
                first = first.or(Some(i));
            }
            if let Some(s) = self.pending.get_mut(LOOKAHEAD) {
                s.candidate = first;
            }
        }
    }

    /// The [`index_hash`] of the `at`-th staged event's player, computed
    /// once; `None` past the end or for a brand not known yet.
    fn hash_staged(&mut self, at: usize) -> Option<u64> {
        let s = self.pending.get(at)?;
        if let Some((_, h)) = s.hash {
            return Some(h);
        }
        let bid = self.brand_lookup(&s.brand)?;
        let h = index_hash(bid, &s.player_id);
        if let Some(s) = self.pending.get_mut(at) {
            s.hash = Some((bid, h));
        }
        Some(h)
    }

    fn release(&mut self, watermark: Timestamp, out: &mut Vec<Output>) {
        while self.pending.front().is_some_and(|s| s.ts <= watermark) {
            let Some(staged) = self.pending.pop_front() else {
                break;
            };
            self.look_ahead();
            // A reply at the very second a check is due is in time.
            self.fire_sla(staged.ts.compact().saturating_sub(1), out);
            self.fire_timers(staged.ts, out);
            let now = staged.ts;
            // Only a brand-table overflow can fail here; such an event was
            // counted at ingest and cannot be scored.
            let _ = self.apply(staged, now, out);
        }
        self.fire_sla(watermark.compact(), out);
        self.fire_timers(watermark, out);
        self.clock = self.clock.max(watermark);
    }

    /// The index of a known brand. Platforms run a handful of brands, so a
    /// scan beats hashing the name; the map serves the many-brand case.
    fn brand_lookup(&self, brand: &str) -> Option<u16> {
        if self.brands.len() <= 8 {
            self.brands
                .iter()
                .position(|b| **b == *brand)
                .map(|i| i as u16)
        } else {
            self.brand_index.get(brand).copied()
        }
    }

    fn brand_id(&mut self, brand: &str) -> Result<u16, Reject> {
        if let Some(id) = self.brand_lookup(brand) {
            return Ok(id);
        }
        let id = u16::try_from(self.brands.len()).map_err(|_| Reject::InvalidField {
            field: "brand",
            problem: "more than 65536 distinct brands in one engine".into(),
        })?;
        self.brands.push(brand.into());
        self.brand_index.insert(brand.into(), id);
        Ok(id)
    }

    fn find(&self, brand: &str, player_id: &str) -> Option<u32> {
        let bid = self.brand_lookup(brand)?;
        self.find_hashed(bid, index_hash(bid, player_id), player_id)
    }

    /// [`Engine::find`] with the brand's id and [`index_hash`] known.
    fn find_hashed(&self, bid: u16, hash: u64, player_id: &str) -> Option<u32> {
        let players = &self.players;
        self.index.find(hash, |i| {
            let p = &players[i as usize];
            p.state.brand == bid && p.id.as_str() == player_id
        })
    }

    fn find_or_insert(
        &mut self,
        brand: &str,
        player_id: &str,
        t: Timestamp,
    ) -> Result<u32, Reject> {
        if let Some(i) = self.find(brand, player_id) {
            return Ok(i);
        }
        let bid = self.brand_id(brand)?;
        let idx = self.players.push(Player {
            id: compact_str::CompactString::new(player_id),
            state: PlayerState::new(t.compact(), bid),
        }) as u32;
        self.timer_keys.push(player_hash(brand, player_id));
        self.timer_due.push(0);
        self.index.insert(index_hash(bid, player_id), idx);
        let due = t
            .compact()
            .saturating_add(self.cfg.rescore_interval.as_secs() as u32);
        self.schedule(idx, due);
        Ok(idx)
    }

    fn apply(&mut self, s: Staged, now: Timestamp, out: &mut Vec<Output>) -> Result<(), Reject> {
        // A hash computed ahead holds: brand ids never change.
        let found = s.hash.and_then(|(bid, h)| {
            let is_it = |i: u32| {
                let p = &self.players[i as usize];
                p.state.brand == bid && p.id.as_str() == s.player_id
            };
            match s.candidate {
                Some(c) if is_it(c) => Some(c),
                _ => self.find_hashed(bid, h, &s.player_id),
            }
        });
        let idx = match found {
            Some(i) => i,
            None => self.find_or_insert(&s.brand, &s.player_id, s.ts)?,
        };
        self.mark_changed(idx);
        let state = &mut self.players[idx as usize].state;
        if !state.recent_ids.insert(s.id_hash) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        state.apply(s.ts, &s.fact, self.friction);
        self.stats.applied += 1;
        self.after_apply(idx, s.ts, &s.fact, out);
        let state = &mut self.players[idx as usize].state;
        let now = now.max(s.ts);
        let t = now.compact();
        let wait = self.cfg.evaluation_interval.as_secs() as u32;
        let evaluated_at = state.verdict.evaluated_at;
        if evaluated_at != 0 && t < evaluated_at.saturating_add(wait) {
            // Scored a moment ago: score again once the interval has passed.
            state.verdict.dirty = true;
            let due = evaluated_at.saturating_add(wait);
            if state.next_due == 0 || state.next_due > due {
                self.schedule(idx, due);
            }
            return Ok(());
        }
        if state.next_due == 0 {
            let due = t.saturating_add(self.cfg.rescore_interval.as_secs() as u32);
            self.schedule(idx, due);
        }
        self.evaluate(idx, now, out);
        Ok(())
    }

    /// What an applied event means beyond the score: service-level checks
    /// for a new ticket, and signs of harm, which alert at once.
    fn after_apply(&mut self, idx: u32, ts: Timestamp, fact: &Fact, out: &mut Vec<Output>) {
        let t = ts.compact();
        if let Fact::Ticket {
            id_hash,
            action: crate::event::TicketAction::Opened,
        } = *fact
            && self.cfg.sla.enabled
        {
            self.schedule_sla(idx, id_hash, t);
        }
        let h = &self.cfg.safeguards.harm;
        if !h.enabled {
            return;
        }
        let st = &self.players[idx as usize].state;
        let sign = match *fact {
            Fact::Deposit { ok: true, .. } => {
                // The usual day: long-horizon deposits before today, over
                // the part of the horizon the player has been around for.
                let today = st.harm.deposits_cents as f64 / 100.0;
                let (_, long) = st.decayed.values(crate::decay::Counter::Deposits, t);
                let age_days = (t.saturating_sub(st.first_seen) as f64 / 86_400.0).max(1.0);
                let span = crate::decay::LONG_TAU_DAYS
                    * (1.0 - (-age_days / crate::decay::LONG_TAU_DAYS).exp());
                let usual = ((long - today).max(0.0) / span.max(1.0)).max(0.0);
                (age_days >= 7.0
                    && today >= h.deposit_velocity_factor * usual
                    && today - usual >= h.deposit_velocity_min)
                    .then_some(HarmSign {
                        signal: Signal::DepositVelocity,
                        value: today,
                        threshold: usual,
                    })
            }
            Fact::Deposit { ok: false, .. } => {
                let n = st.harm.failed_deposits as u32;
                (n >= h.failed_deposits_while_losing).then_some(HarmSign {
                    signal: Signal::FailedDeposits,
                    value: n as f64,
                    threshold: h.failed_deposits_while_losing as f64,
                })
            }
            Fact::Bet { .. } => {
                let n = st.harm.rising_stakes as u32;
                (n >= h.rising_stakes_while_losing).then_some(HarmSign {
                    signal: Signal::LossChasing,
                    value: n as f64,
                    threshold: h.rising_stakes_while_losing as f64,
                })
            }
            Fact::SessionEnd { duration_s } => (duration_s as u64 >= h.long_session.as_secs())
                .then_some(HarmSign {
                    signal: Signal::SessionLength,
                    value: duration_s as f64 / 3600.0,
                    threshold: h.long_session.as_secs_f64() / 3600.0,
                }),
            _ => None,
        };
        if let Some(sign) = sign {
            self.on_harm(idx, ts, sign, out);
        }
    }

    /// A sign of harm: marketing stops at once; a human is alerted (at most
    /// once per cooldown).
    fn on_harm(&mut self, idx: u32, now: Timestamp, sign: HarmSign, out: &mut Vec<Output>) {
        let t = now.compact();
        let cooldown = self.cfg.safeguards.harm.alert_cooldown.as_secs();
        let r = self.players[idx as usize].state.retention_mut();
        r.harm_seen_at = r.harm_seen_at.max(t);
        if r.harm_alerted_at != 0 && (t.saturating_sub(r.harm_alerted_at) as u64) < cooldown {
            return;
        }
        r.harm_alerted_at = t;
        let reasons = vec![Reason::new(sign.signal, sign.value, sign.threshold, 0.0)];
        self.fire_standalone(idx, now, AlertKind::RgRisk, 1.0, reasons, out);
    }

    /// An alert outside the scoring rules (harm, service levels), carrying
    /// the player's current score.
    fn fire_standalone(
        &mut self,
        idx: u32,
        now: Timestamp,
        kind: AlertKind,
        min_risk: f64,
        reasons: Vec<Reason>,
        out: &mut Vec<Output>,
    ) {
        self.mark_changed(idx);
        let p = &self.players[idx as usize];
        let st = &p.state;
        let (score, band) = if st.verdict.evaluated_at == 0 {
            let s = score(st, now, &self.cfg).score;
            (s, Band::of(s, &self.cfg.bands))
        } else {
            (st.verdict.score as f64, st.verdict.band)
        };
        let brand: &str = &self.brands[st.brand as usize];
        let found = self.profiles.get(brand, &p.id);
        let profile = found.as_deref().unwrap_or(&NO_PROFILE);
        let v = value::estimate(st, now, &self.cfg.value).value;
        let risk = value::score_risk(score).max(min_risk);
        self.stats.alerts[kind as usize] += 1;
        out.push(Output::Alert(Alert {
            alert_id: alert_id(&p.id, brand, kind, now, band),
            player_id: p.id.to_string(),
            brand: brand.to_owned(),
            kind,
            ts: now,
            score,
            prev_score: score,
            band,
            prev_band: band,
            reasons,
            tier: profile.tier,
            manager_id: profile.manager_id.clone(),
            value: v,
            priority: value::priority(risk, v),
        }));
    }

    fn schedule_sla(&mut self, idx: u32, ticket: u32, opened: u32) {
        let sla = &self.cfg.sla;
        for (after, resolution) in [(sla.first_response, false), (sla.resolution, true)] {
            let due = opened.saturating_add(after.as_secs() as u32);
            self.sla_timers.entry(due).or_default().push(SlaCheck {
                player: idx,
                ticket,
                resolution,
            });
        }
    }

    /// Runs the service-level checks due at or before `upto`, in due order
    /// and, within a second, in an order that depends only on who the
    /// players are.
    fn fire_sla(&mut self, upto: u32, out: &mut Vec<Output>) {
        while let Some(entry) = self.sla_timers.first_entry() {
            let due = *entry.key();
            if due > upto {
                break;
            }
            let mut checks = entry.remove();
            checks.sort_by_key(|c| (self.timer_keys[c.player as usize], c.ticket, c.resolution));
            for c in checks {
                self.check_sla(c, due, out);
            }
        }
    }

    fn check_sla(&mut self, c: SlaCheck, due: u32, out: &mut Vec<Output>) {
        let sla = &self.cfg.sla;
        let p = &self.players[c.player as usize];
        let brand: &str = &self.brands[p.state.brand as usize];
        let tier = self
            .profiles
            .get(brand, &p.id)
            .map_or(Tier::Regular, |p| p.tier);
        if !sla.enabled || !sla.tiers.iter().any(|t| t == tier.as_str()) {
            return;
        }
        let tickets = &p.state.friction().tickets;
        let Some(slot) = tickets.find(c.ticket) else {
            return;
        };
        let bit = if c.resolution {
            0x10 << slot
        } else {
            1 << slot
        };
        let replied = tickets.replied & (1 << slot) != 0;
        if tickets.breached & bit != 0 || (!c.resolution && replied) {
            return;
        }
        let opened = tickets.slots[slot].1;
        let (signal, target) = if c.resolution {
            (Signal::Resolution, sla.resolution)
        } else {
            (Signal::FirstResponse, sla.first_response)
        };
        let st = &mut self.players[c.player as usize].state;
        if let Some(f) = st.friction.as_mut() {
            f.tickets.breached |= bit;
        }
        // A breach is support friction, as a slow resolution is.
        st.decayed.add(crate::decay::Counter::SlowTickets, due, 1.0);
        let waited = due.saturating_sub(opened) as f64 / 60.0;
        let reasons = vec![Reason::new(
            signal,
            waited,
            target.as_secs_f64() / 60.0,
            0.0,
        )];
        let now = Timestamp::from_compact(due);
        self.fire_standalone(c.player, now, AlertKind::SlaBreach, 0.5, reasons, out);
    }

    /// Sets (or with `None`, removes) a player's profile: it applies to
    /// their alerts and offers from now on.
    pub fn set_profile(&mut self, brand: &str, player_id: &str, profile: Option<Profile>) {
        self.profiles.write().set(brand, player_id, profile);
    }

    /// Removes a player's profile in every brand.
    pub fn remove_profile(&mut self, player_id: &str) {
        self.profiles.write().remove_player(player_id);
    }

    /// The profile table this engine reads.
    pub fn profiles(&self) -> &SharedProfiles {
        &self.profiles
    }

    /// Reads profiles from `book`, shared with other engines, instead of a
    /// table of its own.
    pub fn share_profiles(&mut self, book: SharedProfiles) {
        self.profiles = book;
    }

    fn mark_changed(&mut self, idx: u32) {
        let (word, bit) = ((idx / 64) as usize, 1u64 << (idx % 64));
        if word >= self.changed_bits.len() {
            self.changed_bits.resize(word + 1, 0);
        }
        if self.changed_bits[word] & bit == 0 {
            self.changed_bits[word] |= bit;
            self.changed.push(idx);
        }
    }

    /// Hands out, once, a record of every player whose state changed or who
    /// got new events in the reorder buffer since the last call. Each record
    /// is the player's whole current part of the engine (see
    /// [`crate::changes`]), so the latest record of a player is all a
    /// restore needs.
    pub fn take_changes(&mut self, out: &mut Vec<PlayerRecord>) {
        let start = out.len();
        // Sized once: grown by doubling, a checkpoint of every player
        // rehashed several times over fresh memory.
        let mut slots: hashbrown::HashMap<(&str, &str), usize> =
            hashbrown::HashMap::with_capacity(self.changed.len());
        for &idx in &self.changed {
            let p = &self.players[idx as usize];
            let brand: &str = &self.brands[p.state.brand as usize];
            slots.insert((brand, p.id.as_str()), out.len());
            out.push(PlayerRecord {
                player_id: p.id.to_string(),
                brand: brand.to_owned(),
                state: Some(p.state.clone()),
                pending: Vec::new(),
            });
        }
        if !self.pending.is_empty() {
            for s in self.pending.iter() {
                if s.seq > self.taken_seq {
                    let key = (s.brand.as_str(), s.player_id.as_str());
                    if !slots.contains_key(&key) {
                        slots.insert(key, out.len());
                        out.push(PlayerRecord {
                            player_id: s.player_id.to_string(),
                            brand: s.brand.to_string(),
                            state: self
                                .find(&s.brand, &s.player_id)
                                .map(|i| self.players[i as usize].state.clone()),
                            pending: Vec::new(),
                        });
                    }
                }
            }
            if out.len() > start {
                for s in self.pending.iter() {
                    if let Some(&slot) = slots.get(&(s.brand.as_str(), s.player_id.as_str())) {
                        out[slot].pending.push(Pending {
                            ts: s.ts,
                            id_hash: s.id_hash,
                            fact: s.fact,
                        });
                    }
                }
                for r in &mut out[start..] {
                    r.pending.sort_by_key(|p| (p.ts, p.id_hash));
                }
            }
        }
        for idx in self.changed.drain(..) {
            self.changed_bits[(idx / 64) as usize] = 0;
        }
        self.taken_seq = self.staged_seq;
    }

    /// The engine's time, to be restored with [`Engine::restore_clock`].
    pub fn clock_state(&self) -> EngineClock {
        EngineClock {
            max_seen: self.max_seen,
            clock: self.clock,
        }
    }

    /// Sets the time of a fresh engine being restored. Nothing fires: the
    /// restored players' timers are due after it.
    pub fn restore_clock(&mut self, c: EngineClock) {
        self.max_seen = self.max_seen.max(c.max_seen);
        self.clock = self.clock.max(c.clock);
    }

    /// Restores a player from a record of [`Engine::take_changes`],
    /// replacing its state and adding its pending events to the reorder
    /// buffer. Restored events count as handed out already.
    pub fn restore(&mut self, rec: PlayerRecord) -> Result<(), Reject> {
        let PlayerRecord {
            player_id,
            brand,
            state,
            pending,
        } = rec;
        for p in pending {
            self.stage(Staged {
                ts: p.ts,
                id_hash: p.id_hash,
                player_id: player_id.as_str().into(),
                brand: brand.as_str().into(),
                fact: p.fact,
                seq: 0,
                hash: None,
                candidate: None,
            });
        }
        if let Some(state) = state {
            self.import(PlayerSnapshot {
                player_id,
                brand,
                state,
            })?;
        }
        Ok(())
    }

    fn schedule(&mut self, idx: u32, due_secs: u32) {
        let minute = due_secs.div_ceil(TIMER_GRAIN_SECS);
        let due = minute.saturating_mul(TIMER_GRAIN_SECS);
        self.players[idx as usize].state.next_due = due;
        self.timer_due[idx as usize] = due;
        self.timers.push(minute, idx);
    }

    fn fire_timers(&mut self, upto: Timestamp, out: &mut Vec<Output>) {
        // A minute fires once its start is at or before `upto`.
        let last = upto.compact() / TIMER_GRAIN_SECS;
        if self.timers.none_by(last) {
            return;
        }
        while let Some((minute, bucket)) = self.timers.pop_due(last) {
            let due = minute.saturating_mul(TIMER_GRAIN_SECS);
            // Fire in an order that depends only on who the players are, not
            // on when this engine happened to learn of them: an engine
            // restored from snapshots must emit exactly what the original
            // would. A player's one live entry is the bucket of its
            // `next_due`; anything else is stale and skipped.
            let mut order = std::mem::take(&mut self.timer_order);
            order.clear();
            for (k, &i) in bucket.iter().enumerate() {
                if let Some(&ahead) = bucket.get(k + TIMER_AHEAD) {
                    prefetch(&self.timer_due[ahead as usize]);
                    prefetch(&self.timer_keys[ahead as usize]);
                }
                if self.timer_due[i as usize] == due {
                    order.push((self.timer_keys[i as usize], i));
                }
            }
            order.sort_unstable();
            order.dedup();
            self.timers.recycle(bucket);
            for &(_, idx) in order.iter().take(TIMER_AHEAD) {
                prefetch(&self.players[idx as usize]);
            }
            for (k, &(_, idx)) in order.iter().enumerate() {
                if let Some(&(_, ahead)) = order.get(k + TIMER_AHEAD) {
                    prefetch(&self.players[ahead as usize]);
                }
                if self.timer_due[idx as usize] == due {
                    self.on_timer(idx, due, out);
                }
            }
            self.timer_order = order;
        }
    }

    /// Silence threshold for a player, in seconds.
    fn silence_threshold(&self, state: &PlayerState) -> u32 {
        let r = &self.cfg.rules.inactivity;
        let typical = if state.gaps > 0 {
            state.typical_gap_secs as f64
        } else {
            86_400.0
        };
        (r.gap_factor * typical).clamp(r.min_silence.as_secs_f64(), r.max_silence.as_secs_f64())
            as u32
    }

    fn on_timer(&mut self, idx: u32, due: u32, out: &mut Vec<Output>) {
        self.mark_changed(idx);
        let rescore = self.cfg.rescore_interval.as_secs() as u32;
        let st = &self.players[idx as usize].state;
        let now = due.max(st.last_event);
        let inactivity_due = self.inactivity_deadline(st);
        if st.verdict.dirty
            || now >= st.verdict.evaluated_at.saturating_add(rescore)
            || inactivity_due.is_some_and(|d| d <= now)
        {
            self.evaluate(idx, Timestamp::from_compact(now), out);
        }
        if now.saturating_sub(self.players[idx as usize].state.last_event) > DORMANT_AFTER_SECS {
            // Dormant: no live timer until the player's next event.
            self.players[idx as usize].state.next_due = 0;
            self.timer_due[idx as usize] = 0;
            return;
        }
        let st = &self.players[idx as usize].state;
        let mut next = st.verdict.evaluated_at.saturating_add(rescore);
        // A deadline already behind us has had its evaluation: waking every
        // minute for it would only repeat the same answer.
        if let Some(d) = self.inactivity_deadline(st)
            && d > now
        {
            next = next.min(d);
        }
        self.schedule(idx, next.max(now.saturating_add(TIMER_GRAIN_SECS)));
    }

    /// When an inactivity alert would fire for the current silent spell, if
    /// it has not fired yet.
    fn inactivity_deadline(&self, st: &PlayerState) -> Option<u32> {
        (self.cfg.rules.inactivity.enabled
            && st.verdict.ready
            && st.last_active != 0
            && st.cooldowns.inactivity_spell != st.last_active)
            .then(|| st.last_active.saturating_add(self.silence_threshold(st)))
    }

    /// Scores a player at `now`, applies the alert rules and emits what
    /// changed.
    fn evaluate(&mut self, idx: u32, now: Timestamp, out: &mut Vec<Output>) {
        let start = out.len();
        self.judge(idx, now, out);
        self.follow_up(idx, now, start, out);
    }

    /// Scores a player at `now` and applies the scoring rules.
    fn judge(&mut self, idx: u32, now: Timestamp, out: &mut Vec<Output>) {
        let card = score(&self.players[idx as usize].state, now, &self.cfg);
        let t = now.compact();
        let silence_threshold = self.silence_threshold(&self.players[idx as usize].state);
        let Engine {
            players,
            cfg,
            brands,
            stats,
            ..
        } = self;
        let player = &mut players[idx as usize];
        let brand: &str = &brands[player.state.brand as usize];
        let st = &mut player.state;
        let prev_score = if st.verdict.evaluated_at == 0 {
            card.score
        } else {
            st.verdict.score as f64
        };
        let prev_band = st.verdict.band;
        let band = if st.verdict.evaluated_at == 0 {
            Band::of(card.score, &cfg.bands)
        } else {
            prev_band.next(card.score, &cfg.bands)
        };

        let was_ready = st.verdict.ready;
        if !was_ready {
            let history = t.saturating_sub(st.first_seen) as u64;
            st.verdict.ready = history >= cfg.baseline.min_history.as_secs()
                && st.window.active_days(now) >= cfg.baseline.min_active_days;
            st.cooldowns.alerted_band = band;
        }

        let mut fire = |kind: AlertKind, reasons: Vec<Reason>| {
            stats.alerts[kind as usize] += 1;
            out.push(Output::Alert(Alert {
                alert_id: alert_id(&player.id, brand, kind, now, band),
                player_id: player.id.to_string(),
                brand: brand.to_owned(),
                kind,
                ts: now,
                score: card.score,
                prev_score,
                band,
                prev_band,
                reasons,
                // Filled in by `follow_up`, which reads the value only when
                // an alert fired.
                tier: Tier::Regular,
                manager_id: None,
                value: 0.0,
                priority: 0.0,
            }));
        };

        // New players are scored but not alerted on until they have a
        // baseline to drift from.
        if was_ready {
            let rules = &cfg.rules;
            // Alert on a band the manager has not been told about: a worse
            // one at once, any other once the cooldown has passed.
            let told = st.cooldowns.alerted_band;
            if rules.band_change.enabled
                && band != prev_band
                && band != told
                && (band > told
                    || t.saturating_sub(st.cooldowns.band_change_at) as u64
                        >= rules.band_change.cooldown.as_secs())
            {
                st.cooldowns.band_change_at = t;
                st.cooldowns.alerted_band = band;
                fire(AlertKind::BandChange, card.reasons());
            }

            let u = &rules.usage_drop;
            let w = u.window.as_secs_f64() / 86_400.0;
            if u.enabled
                && t.saturating_sub(st.first_seen) as f64 >= 2.0 * w * 86_400.0
                && (st.cooldowns.usage_drop_at == 0
                    || t.saturating_sub(st.cooldowns.usage_drop_at) as u64 >= u.cooldown.as_secs())
            {
                let [recent, prior] = st.window.sums(
                    now,
                    [
                        Span {
                            ago_days: 0.0,
                            len_days: w,
                        },
                        Span {
                            ago_days: w,
                            len_days: w,
                        },
                    ],
                );
                let (r, p) = (recent.usage(), prior.usage());
                let fall = 1.0 - u.drop_pct / 100.0;
                // Fewer active days too, by more than chance would explain:
                // a burst of bets one fortnight is not a habit, and a casual
                // player's four visits falling to two is a coin toss. Under
                // no change, the days of both windows split evenly between
                // them; the fall must lie `USAGE_DROP_Z` standard deviations
                // out (one-sided, about 7%): a daily player down to every other day is.
                let (pd, rd) = (prior.active_days, recent.active_days);
                let days_fell =
                    rd <= pd * fall && pd - rd >= 2.0 && pd - rd >= USAGE_DROP_Z * (pd + rd).sqrt();
                if p >= u.min_baseline_activity
                    && p > 0.0
                    && r <= p * fall
                    && days_fell
                    && (u.max_score >= 100.0 || card.score < u.max_score)
                {
                    st.cooldowns.usage_drop_at = t;
                    let mut reasons = vec![Reason::new(Signal::Usage, r, p, 0.0)];
                    reasons.extend(card.reasons());
                    fire(AlertKind::UsageDrop, reasons);
                }
            }

            if rules.inactivity.enabled
                && st.last_active != 0
                && st.cooldowns.inactivity_spell != st.last_active
            {
                let silence = t.saturating_sub(st.last_active);
                if silence >= silence_threshold
                    && (rules.inactivity.max_score >= 100.0
                        || card.score < rules.inactivity.max_score)
                {
                    st.cooldowns.inactivity_spell = st.last_active;
                    let typical = if st.gaps > 0 {
                        st.typical_gap_secs as f64 / 86_400.0
                    } else {
                        1.0
                    };
                    let i = Signal::ALL
                        .iter()
                        .position(|s| *s == Signal::Recency)
                        .unwrap_or(3);
                    let mut reasons = vec![Reason::new(
                        Signal::Recency,
                        silence as f64 / 86_400.0,
                        typical,
                        card.contributions[i],
                    )];
                    reasons.extend(
                        card.reasons()
                            .into_iter()
                            .filter(|r| r.signal != Signal::Recency),
                    );
                    fire(AlertKind::Inactivity, reasons);
                }
            }
        }

        if st.verdict.evaluated_at == 0 {
            stats.bands[band as usize] += 1;
        } else if band != prev_band {
            stats.bands[prev_band as usize] -= 1;
            stats.bands[band as usize] += 1;
        }
        st.verdict.score = card.score as f32;
        st.verdict.band = band;
        st.verdict.evaluated_at = t;
        st.verdict.dirty = false;
        let v = &mut st.verdict;
        let heartbeat = cfg.scores.heartbeat.as_secs();
        if v.emitted_at == 0
            || band != prev_band
            || ((card.score - v.emitted_score as f64).abs() >= cfg.scores.min_delta
                && t.saturating_sub(v.emitted_at) as u64 >= cfg.scores.min_interval.as_secs())
            || t.saturating_sub(v.emitted_at) as u64 >= heartbeat
            || v.ready != was_ready
        {
            v.emitted_score = card.score as f32;
            v.emitted_at = t.max(1);
            stats.scores += 1;
            out.push(Output::Score(ScoreRecord {
                player_id: player.id.to_string(),
                brand: brand.to_owned(),
                ts: now,
                score: card.score,
                band,
                baseline_ready: v.ready,
                reasons: card.reasons(),
            }));
        }
    }

    /// What the alerts just fired (`out[start..]`) lead to: profile, value
    /// and priority on each; offers for risk alerts; follow-up tracking;
    /// and the outcomes now due.
    fn follow_up(&mut self, idx: u32, now: Timestamp, start: usize, out: &mut Vec<Output>) {
        let fired = out[start..].iter().any(|o| matches!(o, Output::Alert(_)));
        if !fired && self.players[idx as usize].state.retention.is_none() {
            return;
        }
        let t = now.compact();
        let Engine {
            players,
            cfg,
            brands,
            profiles,
            offer_rules,
            stats,
            ..
        } = self;
        let player = &mut players[idx as usize];
        let brand: &str = &brands[player.state.brand as usize];
        let mut extra = Vec::new();
        if cfg.outcomes.enabled {
            emit_outcomes(player, brand, now, cfg, stats, &mut extra);
        }
        if fired {
            let found = profiles.get(brand, &player.id);
            let profile = found.as_deref().unwrap_or(&NO_PROFILE);
            let val = value::estimate(&player.state, now, &cfg.value).value;
            for o in &mut out[start..] {
                let Output::Alert(a) = o else { continue };
                a.tier = profile.tier;
                a.manager_id = profile.manager_id.clone();
                a.value = val;
                a.priority = value::priority(value::score_risk(a.score), val);
                // A recovery is good news: nothing to offer or follow up.
                if !a.kind.is_risk() || (a.kind == AlertKind::BandChange && a.band < a.prev_band) {
                    continue;
                }
                if cfg.outcomes.enabled {
                    track(
                        &mut player.state,
                        stats,
                        &a.alert_id,
                        t,
                        a.score,
                        a.band,
                        a.kind as u8,
                    );
                }
                if !cfg.offers.enabled {
                    continue;
                }
                let Some(rule) = offer_rules
                    .iter()
                    .find(|r| r.matches(a.kind, a.prev_band, a.band, profile, val))
                else {
                    continue;
                };
                let history = player
                    .state
                    .retention
                    .as_ref()
                    .map(|r| r.offers)
                    .unwrap_or_default();
                if let Err(skip) = offer::check_caps(&history, rule, &cfg.offers, t) {
                    stats.offers_skipped[skip as usize] += 1;
                    continue;
                }
                let suppress_for = cfg.safeguards.harm.suppress_marketing_for.as_secs();
                let harm = player.state.retention.as_ref().is_some_and(|r| {
                    r.harm_seen_at != 0 && (t.saturating_sub(r.harm_seen_at) as u64) < suppress_for
                });
                let suppressed_by = safeguard::rg_blocks(
                    &player.state.friction().rg,
                    t,
                    rule.bonus,
                    &cfg.safeguards,
                )
                .or(harm.then_some(Suppression::HarmRisk))
                .or(profile
                    .opt_outs
                    .declines(rule.channel)
                    .then_some(Suppression::OptOut));
                let status = if suppressed_by.is_some() {
                    OfferStatus::Suppressed
                } else if offer::held_out(brand, &player.id, &cfg.offers) {
                    OfferStatus::HeldOut
                } else {
                    OfferStatus::Sent
                };
                stats.offers[status as usize] += 1;
                if let Some(s) = suppressed_by {
                    stats.suppressed[s as usize] += 1;
                }
                let offer_id = offer::offer_id(&a.alert_id, &rule.name);
                if status != OfferStatus::Suppressed {
                    offer::remember(&mut player.state.retention_mut().offers, rule, t);
                    if cfg.outcomes.enabled {
                        let kind = if status == OfferStatus::Sent {
                            Tracked::OFFER_TREATED
                        } else {
                            Tracked::OFFER_HELD_OUT
                        };
                        track(
                            &mut player.state,
                            stats,
                            &offer_id,
                            t,
                            a.score,
                            a.band,
                            kind,
                        );
                    }
                }
                extra.push(Output::Offer(Offer {
                    offer_id,
                    alert_id: a.alert_id.clone(),
                    player_id: a.player_id.clone(),
                    brand: a.brand.clone(),
                    ts: now,
                    rule: rule.name.clone(),
                    offer: rule.offer.clone(),
                    channel: rule.channel,
                    value_cap: rule.value_cap(val),
                    value: val,
                    priority: a.priority,
                    tier: profile.tier,
                    manager_id: profile.manager_id.clone(),
                    status,
                    suppressed_by,
                    reasons: a.reasons.clone(),
                }));
            }
        }
        out.extend(extra);
    }

    /// A player's state and current score card, at the engine's clock.
    pub fn player(&self, brand: &str, player_id: &str) -> Option<PlayerView<'_>> {
        let idx = self.find(brand, player_id)?;
        Some(self.view(idx))
    }

    /// The brands this engine has seen, for lookups by player id alone.
    pub fn brands(&self) -> impl Iterator<Item = &str> {
        self.brands.iter().map(|b| &**b)
    }

    fn view(&self, idx: u32) -> PlayerView<'_> {
        let p = &self.players[idx as usize];
        let now = self.clock.max(Timestamp::from_compact(p.state.last_event));
        let brand: &str = &self.brands[p.state.brand as usize];
        PlayerView {
            player_id: &p.id,
            brand,
            state: &p.state,
            card: score(&p.state, now, &self.cfg),
            value: value::estimate(&p.state, now, &self.cfg.value),
            profile: self.profiles.get(brand, &p.id),
        }
    }

    /// Every player, in first-seen order, scored at the engine's clock.
    pub fn players(&self) -> impl Iterator<Item = PlayerView<'_>> {
        (0..self.players.len() as u32).map(|i| self.view(i))
    }

    /// The players at positions `range` (first-seen order, clamped to
    /// [`Engine::player_count`]; players are never dropped, so positions
    /// stay valid while the engine lives) whose last evaluated band is `band` (all if `None`). The
    /// band is read before the player is scored, so the others cost
    /// nothing: listing the red players of a million does not score the
    /// green ones. A caller holding a lock around the engine can walk it
    /// a range at a time and let go in between.
    pub fn players_in(
        &self,
        band: Option<Band>,
        range: std::ops::Range<u32>,
    ) -> impl Iterator<Item = PlayerView<'_>> {
        let end = range.end.min(self.players.len() as u32);
        (range.start.min(end)..end)
            .filter(move |&i| band.is_none_or(|b| self.players[i as usize].state.verdict.band == b))
            .map(|i| self.view(i))
    }

    /// A player's full state, for the changelog.
    pub fn export(&self, brand: &str, player_id: &str) -> Option<PlayerSnapshot> {
        let idx = self.find(brand, player_id)?;
        let p = &self.players[idx as usize];
        Some(PlayerSnapshot {
            player_id: p.id.to_string(),
            brand: brand.to_owned(),
            state: p.state.clone(),
        })
    }

    /// Restores a player from a snapshot, replacing what the engine held.
    pub fn import(&mut self, snap: PlayerSnapshot) -> Result<(), Reject> {
        let PlayerSnapshot {
            player_id,
            brand,
            mut state,
        } = snap;
        let t = Timestamp::from_compact(state.first_seen);
        let idx = self.find_or_insert(&brand, &player_id, t)?;
        state.brand = self.players[idx as usize].state.brand;
        let old = &self.players[idx as usize].state.verdict;
        if old.evaluated_at != 0 {
            self.stats.bands[old.band as usize] -= 1;
        }
        if state.verdict.evaluated_at != 0 {
            self.stats.bands[state.verdict.band as usize] += 1;
        }
        let tickets = state.friction().tickets.clone();
        let due = state.next_due;
        self.players[idx as usize].state = state;
        // No due time is a dormant player (see `on_timer`): it stays
        // without a timer until its next event, as in the engine it came
        // from. A timer the replaced state had is dropped with it.
        if due == 0 {
            self.timer_due[idx as usize] = 0;
        } else {
            self.schedule(idx, due);
        }
        // Service-level checks live in the engine, not the state: re-arm
        // them for the tickets still open (a breach already alerted is
        // marked in the ticket and does not fire again).
        if self.cfg.sla.enabled {
            for &(ticket, opened) in &tickets.slots {
                if opened != 0 {
                    self.schedule_sla(idx, ticket, opened);
                }
            }
        }
        Ok(())
    }
}

/// Starts following up an alert or offer. When every slot is taken the new
/// one is not followed up (and counted): the earlier ones mark when the
/// drift was first seen, which is what an outcome should measure from.
fn track(
    st: &mut PlayerState,
    stats: &mut EngineStats,
    id: &str,
    t: u32,
    score: f64,
    band: Band,
    kind: u8,
) {
    let r = st.retention_mut();
    let Some(slot) = (0..outcome::TRACKED).find(|&i| r.tracked[i].started == 0) else {
        stats.outcomes_untracked += 1;
        return;
    };
    r.tracked[slot] = Tracked {
        source_id: outcome::id_number(id),
        started: t.max(1),
        score_centi: (score.clamp(0.0, 100.0) * 100.0).round() as u16,
        band: band as u8,
        kind,
    };
}

/// Emits the outcomes whose horizon has passed, with the player's latest
/// verdict.
fn emit_outcomes(
    player: &mut Player,
    brand: &str,
    now: Timestamp,
    cfg: &EngineConfig,
    stats: &mut EngineStats,
    out: &mut Vec<Output>,
) {
    let t = now.compact();
    let horizon = cfg.outcomes.horizon.as_secs() as u32;
    let (after, band_after) = (player.state.verdict.score as f64, player.state.verdict.band);
    let last_active = player.state.last_active;
    let Some(r) = player.state.retention.as_mut() else {
        return;
    };
    for tr in &mut r.tracked {
        if tr.started == 0 || t < tr.started.saturating_add(horizon) {
            continue;
        }
        let taken = std::mem::take(tr);
        let Some(source) = taken.source() else {
            continue;
        };
        let before = taken.score_centi as f64 / 100.0;
        let active_since = last_active > taken.started;
        let recovered = outcome::recovered(before, after, band_after, active_since, &cfg.outcomes);
        let group = match source.group() {
            "alert" => 0,
            "treated" => 1,
            _ => 2,
        };
        stats.outcomes[group][recovered as usize] += 1;
        out.push(Output::Outcome(Outcome {
            outcome_id: outcome::outcome_id(taken.source_id),
            source_id: format!("{:032x}", taken.source_id),
            source,
            player_id: player.id.to_string(),
            brand: brand.to_owned(),
            started: Timestamp::from_compact(taken.started),
            ts: now,
            score_before: before,
            score_after: after,
            band_before: Band::ALL[(taken.band as usize).min(2)],
            band_after,
            recovered,
        }));
    }
}
