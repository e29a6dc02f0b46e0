//! The population: every player's profile and label, drawn up front, and
//! the random streams their days are generated from.

use std::ops::Range;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vigil_domain::Timestamp;
use vigil_domain::time::DAY_MS;

use crate::calendar::Calendar;
use crate::config::SimConfig;
use crate::label::{Archetype, Fate, Label};
use crate::profile::{BrandKind, Profile};
use crate::stream::Events;

/// A deterministic synthetic population of players.
///
/// Cheap to hold (a profile and a label per player); the events are
/// generated on demand by [`Population::events`], as often as wanted, and
/// come out the same every time.
#[derive(Debug, Clone)]
pub struct Population {
    pub(crate) cfg: SimConfig,
    /// ChaCha8 keyed by the seed, never drawn from: a template to clone.
    /// Every (player, slot) owns a disjoint range of its keystream (see
    /// [`Population::position`]), slot 0 for the player's profile and slot
    /// `d + 1` for day `d`, so players are independent and any (player,
    /// day) can be generated without generating the rest. Brand `b`'s
    /// fixture calendar is drawn from slot 0 of the pseudo-player
    /// `u32::MAX - b`, beyond every real player.
    key: ChaCha8Rng,
    /// Each brand's fixture calendar, in brand order.
    pub(crate) calendars: Vec<Calendar>,
    pub(crate) profiles: Vec<Profile>,
    pub(crate) labels: Vec<Label>,
}

impl Population {
    /// Draws every player's habits and fate.
    pub fn new(mut cfg: SimConfig) -> Population {
        if cfg.brands.is_empty() {
            cfg.brands = SimConfig::DEFAULT_BRANDS.map(String::from).to_vec();
        }
        cfg.brands.truncate(usize::from(u16::MAX));
        cfg.players = cfg.players.min(i32::MAX as u32);
        let key = ChaCha8Rng::seed_from_u64(cfg.seed);
        let kinds: Vec<BrandKind> = cfg.brands.iter().map(|b| BrandKind::of(b)).collect();
        let mut r = key.clone();
        let calendars = (0..cfg.brands.len() as u32)
            .map(|b| {
                Population::position(&mut r, u32::MAX - b, 0);
                Calendar::draw(cfg.start.as_millis(), cfg.days, &mut r)
            })
            .collect();
        let mut pop = Population {
            key,
            calendars,
            profiles: Vec::with_capacity(cfg.players as usize),
            labels: Vec::with_capacity(cfg.players as usize),
            cfg,
        };
        let day_ts = |start: Timestamp, d: u32| {
            Timestamp::from_millis(start.as_millis() + i64::from(d) * DAY_MS)
        };
        let mut r = pop.rng();
        for i in 0..pop.cfg.players {
            let brand = (i % kinds.len() as u32) as u16;
            Population::position(&mut r, i, 0);
            let p = Profile::draw(&pop.cfg, brand, kinds[usize::from(brand)], &mut r);
            let drifts = p.fate.drifts();
            let season = pop.calendars[usize::from(brand)].break_days;
            let season_break =
                (p.archetype == Archetype::Seasonal && season.0 < season.1).then(|| {
                    (
                        day_ts(pop.cfg.start, season.0),
                        day_ts(pop.cfg.start, season.1),
                    )
                });
            pop.labels.push(Label {
                player_id: format!("p{i:06}"),
                brand: pop.cfg.brands[usize::from(brand)].clone(),
                archetype: p.archetype,
                fate: p.fate,
                onset: drifts.then(|| day_ts(pop.cfg.start, p.onset_day)),
                churn_at: drifts.then(|| day_ts(pop.cfg.start, p.churn_day)),
                return_at: (p.fate == Fate::Returns).then(|| day_ts(pop.cfg.start, p.return_day())),
                holiday: (p.holiday.0 < p.holiday.1).then(|| {
                    (
                        day_ts(pop.cfg.start, p.holiday.0),
                        day_ts(pop.cfg.start, p.holiday.1),
                    )
                }),
                season_break,
            });
            pop.profiles.push(p);
        }
        pop
    }

    /// The configuration, with defaults filled in.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The ground truth, one label per player, in player order (the index
    /// of a player's label is the number in their id).
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// Every event of every player, in nondecreasing time order.
    pub fn events(&self) -> Events<'_> {
        self.events_of(0..self.cfg.players)
    }

    /// The events of the players with index in `players`, in nondecreasing
    /// time order: exactly the subsequence of [`Population::events`] that
    /// belongs to them, ids included. Lets a benchmark generate shards in
    /// parallel and a test follow one player.
    pub fn events_of(&self, players: Range<u32>) -> Events<'_> {
        let end = players.end.min(self.cfg.players);
        Events::new(self, players.start.min(end)..end)
    }

    /// A generator for the players' random streams.
    pub(crate) fn rng(&self) -> ChaCha8Rng {
        self.key.clone()
    }

    /// Points `r` at the start of `player`'s stream for `slot`. Each slot
    /// has 2^12 blocks (65,536 draws), a hundred times what the busiest
    /// day uses. Moving one generator around is cheaper than building one
    /// per player-day, and a single stream avoids the extra block
    /// `set_stream` would compute.
    pub(crate) fn position(r: &mut ChaCha8Rng, player: u32, slot: u32) {
        let block = u64::from(player) << 32 | u64::from(slot) << 12;
        r.set_word_pos(u128::from(block) * 16);
    }
}
