//! Each player's habits and fate, drawn once from the player's own random
//! stream. Parameters are compact (`f32`, `u8`) because a benchmark holds a
//! million of them.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use vigil_domain::event::{Game, MessageChannel};

use crate::config::SimConfig;
use crate::label::{Archetype, Fate};

/// The currencies players hold, with their share of players (percent) and
/// local units per EUR, so amounts look native (SEK tenfold).
pub(crate) const CURRENCIES: [(&str, u32, f64); 4] = [
    ("EUR", 75, 1.0),
    ("GBP", 10, 0.85),
    ("USD", 8, 1.1),
    ("SEK", 7, 11.0),
];

/// What a brand mainly sells, guessed from its name; it sets the mix of
/// archetypes and games.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BrandKind {
    Casino,
    Sportsbook,
    Lottery,
}

impl BrandKind {
    pub(crate) fn of(name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if name.contains("lott") {
            BrandKind::Lottery
        } else if name.contains("sport") || name.contains("bet") {
            BrandKind::Sportsbook
        } else {
            BrandKind::Casino
        }
    }

    /// Archetype weights (percent), in [`Archetype::ALL`] order: seasonal
    /// bettors a fifth of a sportsbook's players, bonus hunters 7% of a
    /// casino's.
    fn archetype_weights(self) -> [u32; 7] {
        match self {
            BrandKind::Casino => [32, 17, 8, 0, 36, 0, 7],
            BrandKind::Sportsbook => [23, 27, 7, 0, 22, 20, 1],
            BrandKind::Lottery => [12, 4, 2, 60, 21, 0, 1],
        }
    }

    /// (favourite game, weight) pairs and the game played besides it.
    fn games(self) -> (&'static [(Game, u32)], Game) {
        match self {
            BrandKind::Casino => (
                &[
                    (Game::Slots, 55),
                    (Game::Live, 20),
                    (Game::Table, 15),
                    (Game::Poker, 5),
                    (Game::Bingo, 5),
                ],
                Game::Slots,
            ),
            BrandKind::Sportsbook => (
                &[(Game::Sports, 80), (Game::Live, 10), (Game::Slots, 10)],
                Game::Live,
            ),
            BrandKind::Lottery => (
                &[(Game::Lottery, 50), (Game::Bingo, 30), (Game::Slots, 20)],
                Game::Bingo,
            ),
        }
    }
}

/// How a game is played: (bets per session, stake, seconds between bets)
/// relative to the player's norm. Sports bets are few, large and far apart;
/// slot spins many, small and quick.
pub(crate) fn game_style(game: Game) -> (f32, f32, f32) {
    match game {
        Game::Slots => (1.3, 0.6, 25.0),
        Game::Live => (1.0, 1.5, 50.0),
        Game::Table => (1.0, 1.2, 40.0),
        Game::Sports => (0.45, 3.0, 150.0),
        Game::Poker => (0.8, 2.0, 90.0),
        Game::Bingo => (1.0, 0.5, 60.0),
        Game::Lottery | Game::Other => (0.6, 1.0, 30.0),
    }
}

/// One player's habits and fate.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    /// Index into the configured brands.
    pub brand: u16,
    pub kind: BrandKind,
    pub archetype: Archetype,
    pub fate: Fate,
    /// Index into [`CURRENCIES`].
    pub currency: u8,
    /// Local currency units per EUR.
    pub fx: f32,
    /// First day of the drift (`u32::MAX` for stable players).
    pub onset_day: u32,
    /// First day with no activity from the player (`u32::MAX` if none).
    pub churn_day: u32,
    /// For [`Fate::Returns`], days away from `churn_day` until the player is
    /// back (0 for the other fates).
    pub away: u8,
    /// For [`Fate::Returns`], whether the player leaves abruptly after a bad
    /// experience rather than fading.
    pub abrupt: bool,
    /// Days `[from, to)` away on holiday: benign silence that a scorer
    /// should not mistake for churn. Empty for most players.
    pub holiday: (u32, u32),
    /// Multiplier on the archetype's daily chance of playing.
    pub activity: f32,
    /// Usual hour of the main session (e.g. 20.5 = 20:30 UTC).
    pub peak_hour: f32,
    /// Usual hour of a second session on busy days.
    pub alt_hour: f32,
    /// Share of logins from mobile.
    pub mobile: f32,
    pub favourite: Game,
    pub second: Game,
    /// Mean bets per session at full engagement, favourite game.
    pub bets_mean: f32,
    /// Median stake in local currency at full engagement, before the game's
    /// own scale.
    pub stake_median: f32,
    /// Median deposit in local currency.
    pub deposit_median: f32,
    /// Days between routine deposits (high rollers deposit per session).
    pub deposit_every: u8,
    /// Days since the last deposit on day 0, so routines are out of step.
    pub deposit_phase: u8,
    /// Chance of opening a marketing message at full engagement.
    pub open_rate: f32,
    /// Weekday (0 = Monday) and minute of day the weekly campaign arrives.
    pub message_weekday: u8,
    pub message_minute: u16,
    pub channel: MessageChannel,
    /// Whether the player's jurisdiction shows hourly reality checks.
    pub reality_checks: bool,
}

/// A standard normal draw.
pub(crate) fn normal(r: &mut ChaCha8Rng) -> f64 {
    r.sample(StandardNormal)
}

/// Index drawn from integer weights.
fn pick(r: &mut ChaCha8Rng, weights: impl Iterator<Item = u32> + Clone) -> usize {
    let total: u32 = weights.clone().sum();
    let mut x = r.random_range(0..total.max(1));
    for (i, w) in weights.enumerate() {
        if x < w {
            return i;
        }
        x -= w;
    }
    0
}

impl Profile {
    /// Draws a player's profile from their own stream `r`.
    pub(crate) fn draw(cfg: &SimConfig, brand: u16, kind: BrandKind, r: &mut ChaCha8Rng) -> Self {
        let archetype = Archetype::ALL[pick(r, kind.archetype_weights().into_iter())];

        let u: f64 = r.random();
        let drift = cfg.drift_share.clamp(0.0, 1.0);
        let returners = cfg.returner_share.clamp(0.0, 1.0);
        let leavers = cfg.leaver_share.clamp(0.0, 1.0);
        let fate = if u < drift * returners {
            Fate::Returns
        } else if u < drift * (returners + (1.0 - returners) * leavers) {
            Fate::AbruptLeave
        } else if u < drift {
            Fate::SlowFade
        } else {
            Fate::Stable
        };
        // At least two weeks of normal play before the onset when the
        // simulation is long enough, so each drifter has a baseline;
        // returners leave earlier, so that most come back within the run.
        let days = cfg.days.max(1);
        let lo = (days / 3).min(14);
        let late = if fate == Fate::Returns { 45 } else { 70 };
        let hi = ((u64::from(days) * late / 100) as u32).max(lo + 1);
        let onset = r.random_range(lo..hi);
        let (onset_day, churn_day) = match fate {
            Fate::Stable => (u32::MAX, u32::MAX),
            Fate::SlowFade => {
                let (lo, hi) = cfg.fade_days;
                let lo = lo.max(1);
                (onset, onset + r.random_range(lo..=hi.max(lo)))
            }
            Fate::AbruptLeave => (onset, onset + r.random_range(3..=6)),
            Fate::Returns => (onset, 0),
        };
        let (churn_day, away, abrupt) = if fate == Fate::Returns {
            let abrupt = r.random_bool(leavers);
            let gone = if abrupt {
                r.random_range(3..=6)
            } else {
                r.random_range(10..=21)
            };
            (onset + gone, r.random_range(14..=28), abrupt)
        } else {
            (churn_day, 0, false)
        };
        let holiday = if fate == Fate::Stable && r.random_bool(0.1) {
            let from = r.random_range(0..days);
            (from, (from + r.random_range(4..=9)).min(days))
        } else {
            (0, 0)
        };

        let currency = pick(r, CURRENCIES.iter().map(|c| c.1));
        let fx = CURRENCIES[currency].2;

        let (games, second) = kind.games();
        let favourite = if archetype == Archetype::Lottery {
            Game::Lottery
        } else if archetype == Archetype::Seasonal {
            Game::Sports
        } else {
            games[pick(r, games.iter().map(|g| g.1))].0
        };
        let second = if second == favourite {
            Game::Slots
        } else {
            second
        };

        // (bets per session, stake EUR, deposit EUR, deposit every n days)
        let (bets, stake, deposit, every) = match archetype {
            Archetype::Regular => (16.0, 1.5, 40.0, r.random_range(5..=9)),
            Archetype::Weekend => (20.0, 3.0, 60.0, r.random_range(6..=9)),
            Archetype::HighRoller => (24.0, 80.0, 2500.0, 1),
            Archetype::Lottery => (3.0, 1.0, 20.0, r.random_range(14..=28)),
            Archetype::Casual => (9.0, 1.0, 25.0, r.random_range(8..=20)),
            Archetype::Seasonal => (14.0, 3.0, 50.0, r.random_range(7..=14)),
            // Deposits mostly to unlock a bonus, rarely on a schedule.
            Archetype::BonusHunter => (40.0, 1.2, 20.0, r.random_range(30..=60)),
        };
        // Stakes are heavy-tailed across players as well as across bets.
        let stake_spread = if archetype == Archetype::HighRoller {
            0.8
        } else {
            0.6
        };
        let stake_scale = (stake_spread * normal(r)).exp();
        let deposit_scale = (0.4 * normal(r)).exp();

        let peak_hour = if r.random_bool(0.75) {
            20.5 + 1.3 * normal(r)
        } else if r.random_bool(0.5) {
            12.5 + normal(r)
        } else {
            16.0 + 2.0 * normal(r)
        };
        let alt_hour = if r.random_bool(0.5) {
            12.5 + normal(r)
        } else {
            8.0 + normal(r)
        };
        let channel = match r.random_range(0..20) {
            0..10 => MessageChannel::Email,
            10..17 => MessageChannel::Push,
            _ => MessageChannel::Sms,
        };
        // Campaigns go out at 10:00 or 18:00, spread over a quarter hour.
        let message_minute = if r.random_bool(0.6) { 600 } else { 1080 } + r.random_range(0..15);

        Profile {
            brand,
            kind,
            archetype,
            fate,
            currency: currency as u8,
            fx: fx as f32,
            onset_day,
            churn_day,
            away,
            abrupt,
            holiday,
            activity: (0.15 * normal(r)).exp().clamp(0.6, 1.3) as f32,
            peak_hour: peak_hour.rem_euclid(24.0) as f32,
            alt_hour: alt_hour.rem_euclid(24.0) as f32,
            mobile: r.random_range(0.2..0.9),
            favourite,
            second,
            bets_mean: (bets * (0.25 * normal(r)).exp()) as f32,
            stake_median: (stake * stake_scale * fx) as f32,
            deposit_median: (deposit * deposit_scale * fx) as f32,
            deposit_every: every,
            deposit_phase: r.random_range(0..every),
            open_rate: r.random_range(0.15..0.65),
            message_weekday: r.random_range(0..7),
            message_minute,
            channel,
            reality_checks: r.random_bool(0.3),
        }
    }

    /// First day back for a returner (`u32::MAX` for the other fates).
    pub(crate) fn return_day(&self) -> u32 {
        if self.fate == Fate::Returns {
            self.churn_day.saturating_add(u32::from(self.away))
        } else {
            u32::MAX
        }
    }

    /// Whether the player is served as a VIP.
    pub(crate) fn vip(&self) -> bool {
        self.archetype == Archetype::HighRoller
    }
}
