//! Ground truth: who each player is and what happens to them. A scorer is
//! judged by how early and how precisely its alerts find the drifting
//! players these labels name.

use vigil_domain::Timestamp;

/// How a player plays while all is well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archetype {
    /// Plays most days, mostly in the evening, and deposits about weekly.
    Regular,
    /// Plays Friday to Sunday and hardly at all during the week.
    Weekend,
    /// Fewer, longer sessions at high stakes, with big irregular deposits;
    /// served as a VIP (fast payouts and support replies).
    HighRoller,
    /// Buys a ticket for each of the two weekly draws (Wednesday and
    /// Saturday) and checks the results the day after.
    Lottery,
    /// Drops by now and then, at small stakes.
    Casual,
    /// Bets on sports by the fixture calendar: weekend afternoons and the
    /// midweek evening rounds of the brand's calendar, and next to nothing
    /// during the calendar's break (an international break), which is
    /// benign silence like a holiday. Mostly on sportsbook brands.
    Seasonal,
    /// Plays mainly when granted a bonus: claims it within the hour, plays it
    /// through over a day or two at small to medium stakes, often withdraws
    /// soon after, and is quiet between campaigns. Low value. Mostly on
    /// casino brands.
    BonusHunter,
}

impl Archetype {
    /// Every archetype, in declaration order.
    pub const ALL: [Archetype; 7] = [
        Archetype::Regular,
        Archetype::Weekend,
        Archetype::HighRoller,
        Archetype::Lottery,
        Archetype::Casual,
        Archetype::Seasonal,
        Archetype::BonusHunter,
    ];

    /// The name used in label files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Archetype::Regular => "regular",
            Archetype::Weekend => "weekend",
            Archetype::HighRoller => "high_roller",
            Archetype::Lottery => "lottery",
            Archetype::Casual => "casual",
            Archetype::Seasonal => "seasonal",
            Archetype::BonusHunter => "bonus_hunter",
        }
    }

    /// Parses a name written by [`Archetype::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What happens to a player over the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fate {
    /// Keeps their habits throughout (give or take a holiday).
    Stable,
    /// From the onset, plays less often, with fewer and smaller bets,
    /// deposits less and opens fewer messages, over two to three weeks
    /// ([`SimConfig::fade_days`](crate::SimConfig::fade_days)), then stops.
    /// The quiet churn the scorer exists to catch early.
    SlowFade,
    /// Has a bad experience on the onset day (a declined withdrawal, or
    /// deposits that keep failing, and a support ticket nobody resolves),
    /// comes back a few times, angry, and is gone within days.
    AbruptLeave,
    /// Leaves like a slow fader (over one to two weeks) or an abrupt leaver
    /// (a bad experience, gone within days), stays away two to four weeks,
    /// then comes back and plays as before, at lower intensity for the
    /// first two weeks. A churner for detection: the player did leave.
    Returns,
}

impl Fate {
    /// Every fate, in declaration order.
    pub const ALL: [Fate; 4] = [
        Fate::Stable,
        Fate::SlowFade,
        Fate::AbruptLeave,
        Fate::Returns,
    ];

    /// The name used in label files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Fate::Stable => "stable",
            Fate::SlowFade => "slow_fade",
            Fate::AbruptLeave => "abrupt_leave",
            Fate::Returns => "returns",
        }
    }

    /// Parses a name written by [`Fate::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Whether the player leaves during (or just after) the simulation,
    /// for good or for a few weeks ([`Fate::Returns`]).
    pub const fn drifts(self) -> bool {
        !matches!(self, Fate::Stable)
    }
}

/// The ground truth for one player.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// As in the player's events.
    pub player_id: String,
    /// As in the player's events.
    pub brand: String,
    /// The player's habits while all is well.
    pub archetype: Archetype,
    /// Whether and how the player leaves.
    pub fate: Fate,
    /// For drifting players, midnight starting the day the drift begins
    /// (the abrupt leaver's bad experience happens that day). Always inside
    /// the simulated period.
    pub onset: Option<Timestamp>,
    /// For drifting players, midnight starting the first day with no
    /// activity from the player at all. May lie after the simulated period
    /// when the onset is late; the operator's own messages keep coming after
    /// it.
    pub churn_at: Option<Timestamp>,
    /// For [`Fate::Returns`], midnight starting the day the player is back
    /// (two to four weeks after `churn_at`); may lie after the simulated
    /// period. `None` for every other fate.
    pub return_at: Option<Timestamp>,
    /// For some stable players, a few days `[from, to)` away on holiday:
    /// silence that is not churn, where a scorer's false alarms come from.
    pub holiday: Option<(Timestamp, Timestamp)>,
    /// For [`Archetype::Seasonal`] players, the brand's break in the fixture
    /// calendar `[from, to)` (the same days for every seasonal bettor of the
    /// brand): like a holiday, silence that is not churn. `None` for other
    /// archetypes, and when the run is too short to hold a break.
    pub season_break: Option<(Timestamp, Timestamp)>,
}
