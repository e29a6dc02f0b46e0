//! A deterministic synthetic population of casino, sportsbook and lottery
//! players, some of whom drift away, with the ground truth to judge a
//! scorer by.
//!
//! Real player data is sensitive and its churn is never labelled, so the
//! demo, the benchmarks, the sample file and the tests all run on players
//! made up here. They have to look real enough that a scorer tuned on them
//! means something:
//!
//! - **Habits.** Each player has an [`Archetype`]: near-daily regulars,
//!   weekend players, high rollers, lottery regulars (a ticket for each of
//!   two weekly draws), casual players, seasonal sports bettors who follow
//!   their brand's fixture calendar (weekend afternoons, midweek evening
//!   rounds, next to nothing in the calendar's twelve-day break), and bonus
//!   hunters who play a granted bonus through and cash out, quiet between
//!   campaigns. Sessions cluster around a personal hour (mostly evenings),
//!   weekdays differ, sports bettors play weekend afternoons. Stakes and deposits are log-normal, across players and
//!   across bets, in EUR mostly and some GBP, USD and SEK.
//! - **Everything a platform reports.** Logins with session ends, bets and
//!   their wins, deposits (some failing) and withdrawals (requested, then
//!   paid; VIPs within minutes), weekly marketing messages opened at a
//!   personal rate, bonuses granted, claimed or expired, support tickets,
//!   NPS answers, deposit limits and reality checks.
//! - **Drift.** A share of players ([`SimConfig::drift_share`]) drift, with
//!   a [`Fate`]: slow faders lose frequency, depth, stakes and message
//!   opens over two to three weeks and stop; abrupt leavers have a bad
//!   experience and are gone within days; returners
//!   ([`SimConfig::returner_share`] of the drifters) leave one way or the
//!   other, stay away two to four weeks and come back. Stable players keep
//!   their habits, apart from the odd holiday (and the seasonal bettors'
//!   break), which a scorer must not mistake for churn. Each player's
//!   [`Label`] records the truth.
//!
//! Each brand's fixture calendar is drawn from a random stream of its own,
//! so all its seasonal bettors share match days and break.
//!
//! Same seed, same stream: every player draws from their own range of one
//! ChaCha8 keystream keyed by the seed, a fixed range per (player, day), so
//! players are independent and a run is reproducible to the byte on a given
//! platform. Events come out in time order across all players, generated a
//! day at a time, so memory grows with the number of players, not with the
//! number of events. Event ids are `<player_id>-<n>`, numbered per player
//! in time order as each day is made (an event held over from an earlier
//! day, such as a payout, keeps its earlier number); with
//! [`SimConfig::duplicate_rate`] some events are delivered twice, verbatim
//! and back to back, as a producer retry would; with
//! [`SimConfig::missing_rate`] some never arrive, and with
//! [`SimConfig::reorder_rate`] some arrive after the event that followed
//! them. All three are decided by a hash of the event, so turning them on
//! changes nothing else in the stream.
//!
//! Generation is built to stay out of the way of the engine benchmark: no
//! allocation per event beyond the event's own strings, about 5 million
//! events a second on one core.
//!
//! ```
//! use vigil_sim::{Population, SimConfig};
//!
//! let pop = Population::new(SimConfig { players: 50, days: 14, ..SimConfig::default() });
//! let events: Vec<_> = pop.events().collect();
//! assert!(events.windows(2).all(|w| w[0].ts <= w[1].ts));
//! assert_eq!(pop.labels().len(), 50);
//! ```

mod calendar;
mod config;
mod day;
mod label;
mod population;
mod profile;
mod stream;

pub use config::SimConfig;
pub use label::{Archetype, Fate, Label};
pub use population::Population;
pub use stream::Events;
