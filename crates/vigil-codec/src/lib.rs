//! The edge between bytes and vigil's domain types.
//!
//! - [`json`] and [`proto`]: event decoders that refuse bad input with a
//!   precise [`vigil_domain::Reject`] (and never panic), and encoders.
//! - [`output`]: alerts and score records as JSON or protobuf.
//! - [`retention`]: offers and outcomes as JSON or protobuf, and the CRM's
//!   player profiles.
//! - [`snapshot`]: player state as protobuf.
//! - [`changelog`]: the changelog's records (state, pending events, clock).

pub mod changelog;
mod check;
pub mod json;
pub mod output;
pub mod proto;
pub mod retention;
pub mod rfc3339;
pub mod snapshot;
