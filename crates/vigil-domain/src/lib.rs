//! The scoring core of vigil.
//!
//! Turns a stream of [`PlayerEvent`]s into health scores, band changes and
//! risk alerts, each player judged against their own baseline. Pure and
//! deterministic: no I/O, no async, no clock; time is an argument
//! ([`Engine::ingest`] and [`Engine::advance_to`]), so the same events in
//! always give the same outputs.

pub mod band;
pub mod changes;
pub mod config;
pub mod decay;
pub mod engine;
pub mod event;
pub mod money;
pub mod offer;
pub mod outcome;
pub mod output;
pub mod profile;
pub mod reject;
pub mod safeguard;
pub mod signal;
pub mod state;
pub mod time;
pub mod value;
pub mod window;

pub use band::Band;
pub use changes::{EngineClock, Pending, PlayerRecord};
pub use config::{ConfigError, EngineConfig, SlaConfig};
pub use engine::{Engine, EngineStats, PlayerSnapshot, PlayerView};
pub use event::{EventType, Payload, PlayerEvent};
pub use money::{Currency, Money, RateTable};
pub use offer::{Offer, OfferStatus};
pub use outcome::{Outcome, Source as OutcomeSource};
pub use output::{Alert, AlertKind, Output, ScoreRecord};
pub use profile::{Channel, OptOuts, Profile, ProfileBook, SharedProfiles, Tier};
pub use reject::Reject;
pub use safeguard::Suppression;
pub use signal::{Reason, ScoreCard, Signal};
pub use time::Timestamp;
