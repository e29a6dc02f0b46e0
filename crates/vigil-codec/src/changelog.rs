//! Changelog records as protobuf (`vigil.v1.ChangelogKey` and
//! `ChangelogValue`): per player the state and its pending events, per
//! engine its clock, each with the input offset it is exact at (see
//! `vigil_domain::changes`). The key says whose record it is, so compaction
//! keeps the latest of each; the value does not repeat it.

use prost::Message;
use vigil_domain::event::{
    BonusAction, DepositStatus, EventType, MessageAction, RgAction, TicketAction, WithdrawalStatus,
};
use vigil_domain::state::Fact;
use vigil_domain::{EngineClock, Pending, PlayerRecord, Timestamp};
use vigil_proto::v1 as pb;

use crate::snapshot::{SnapshotError, state_from_pb, state_to_pb};

/// The record format this build writes and reads.
pub const VERSION: u32 = 1;

/// Why bytes are not a changelog record this build can restore.
#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error("not a protobuf changelog record: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("changelog record version {0} is not supported (this build reads version {VERSION})")]
    Version(u32),
    #[error("changelog record holds neither a player nor a clock")]
    Empty,
    #[error("changelog key and value disagree: {0}")]
    Mismatch(&'static str),
    #[error(transparent)]
    State(#[from] SnapshotError),
    #[error("pending event: {0}")]
    Pending(String),
}

/// Whose record: a player of the engine serving `input_topic`, or (with no
/// player) that engine's clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateKey {
    pub input_topic: String,
    /// `(brand, player_id)`.
    pub player: Option<(String, String)>,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Player(Box<PlayerRecord>),
    Clock(EngineClock),
}

/// The key of a player's record.
pub fn player_key(input_topic: &str, brand: &str, player_id: &str) -> Vec<u8> {
    pb::ChangelogKey {
        input_topic: input_topic.to_owned(),
        brand: brand.to_owned(),
        player_id: player_id.to_owned(),
    }
    .encode_to_vec()
}

/// The key of an engine's clock record.
pub fn clock_key(input_topic: &str) -> Vec<u8> {
    player_key(input_topic, "", "")
}

pub fn decode_key(bytes: &[u8]) -> Result<StateKey, ChangelogError> {
    let k = pb::ChangelogKey::decode(bytes)?;
    let player = (!k.brand.is_empty() || !k.player_id.is_empty()).then_some((k.brand, k.player_id));
    Ok(StateKey {
        input_topic: k.input_topic,
        player,
    })
}

/// A player's record, exact at input offset `through`.
pub fn encode_player(rec: &PlayerRecord, through: i64) -> Vec<u8> {
    pb::ChangelogValue {
        version: VERSION,
        through,
        record: Some(pb::changelog_value::Record::Player(pb::PlayerRecord {
            state: rec.state.as_ref().map(state_to_pb),
            pending: rec.pending.iter().map(pending_to_pb).collect(),
        })),
    }
    .encode_to_vec()
}

/// An engine's clock, exact at input offset `through`.
pub fn encode_clock(c: EngineClock, through: i64) -> Vec<u8> {
    pb::ChangelogValue {
        version: VERSION,
        through,
        record: Some(pb::changelog_value::Record::Clock(pb::EngineClock {
            max_seen_ms: c.max_seen.as_millis(),
            clock_ms: c.clock.as_millis(),
        })),
    }
    .encode_to_vec()
}

/// Decodes a value written under `key`; returns the offset it is exact at
/// and the record.
pub fn decode_value(key: &StateKey, bytes: &[u8]) -> Result<(i64, Entry), ChangelogError> {
    let v = pb::ChangelogValue::decode(bytes)?;
    if v.version != VERSION {
        return Err(ChangelogError::Version(v.version));
    }
    let entry = match (v.record.ok_or(ChangelogError::Empty)?, &key.player) {
        (pb::changelog_value::Record::Player(p), Some((brand, player_id))) => {
            Entry::Player(Box::new(PlayerRecord {
                player_id: player_id.clone(),
                brand: brand.clone(),
                state: p.state.map(state_from_pb).transpose()?,
                pending: p
                    .pending
                    .into_iter()
                    .map(pending_from_pb)
                    .collect::<Result<_, _>>()?,
            }))
        }
        (pb::changelog_value::Record::Clock(c), None) => Entry::Clock(EngineClock {
            max_seen: Timestamp::from_millis(c.max_seen_ms),
            clock: Timestamp::from_millis(c.clock_ms),
        }),
        (pb::changelog_value::Record::Player(_), None) => {
            return Err(ChangelogError::Mismatch(
                "a player record under a clock key",
            ));
        }
        (pb::changelog_value::Record::Clock(_), Some(_)) => {
            return Err(ChangelogError::Mismatch(
                "a clock record under a player key",
            ));
        }
    };
    Ok((v.through, entry))
}

fn pending_to_pb(p: &Pending) -> pb::PendingEvent {
    let (ty, amount, win_cents, action) = match p.fact {
        Fact::Login => (EventType::Login, 0, None, ""),
        Fact::SessionEnd { duration_s } => (EventType::SessionEnd, duration_s as u64, None, ""),
        Fact::Bet {
            stake_cents,
            win_cents,
        } => (EventType::Bet, stake_cents, win_cents, ""),
        Fact::Deposit { cents, ok } => {
            let status = if ok {
                DepositStatus::Ok
            } else {
                DepositStatus::Failed
            };
            (EventType::Deposit, cents, None, status.as_str())
        }
        Fact::Withdrawal { cents, status } => (EventType::Withdrawal, cents, None, status.as_str()),
        Fact::Ticket { id_hash, action } => {
            (EventType::Ticket, id_hash as u64, None, action.as_str())
        }
        Fact::LotteryTicket { cents } => (EventType::LotteryTicket, cents, None, ""),
        Fact::Bonus { action } => (EventType::Bonus, 0, None, action.as_str()),
        Fact::Message { action } => (EventType::Message, 0, None, action.as_str()),
        Fact::Nps { score } => (EventType::Nps, score as u64, None, ""),
        Fact::Rg { action } => (EventType::Rg, 0, None, action.as_str()),
    };
    pb::PendingEvent {
        ts_ms: p.ts.as_millis(),
        id_hash: p.id_hash,
        r#type: ty.as_str().to_owned(),
        amount,
        win_cents,
        action: action.to_owned(),
    }
}

fn pending_from_pb(p: pb::PendingEvent) -> Result<Pending, ChangelogError> {
    let bad = |what: &str| ChangelogError::Pending(format!("{what} in a `{}` event", p.r#type));
    fn parsed<T>(v: Option<T>, err: ChangelogError) -> Result<T, ChangelogError> {
        v.ok_or(err)
    }
    let narrow = |max: u64| {
        if p.amount <= max {
            Ok(p.amount)
        } else {
            Err(bad("amount out of range"))
        }
    };
    let ty = EventType::parse(&p.r#type)
        .ok_or_else(|| ChangelogError::Pending(format!("unknown type `{}`", p.r#type)))?;
    let fact = match ty {
        EventType::Login => Fact::Login,
        EventType::SessionEnd => Fact::SessionEnd {
            duration_s: narrow(u32::MAX as u64)? as u32,
        },
        EventType::Bet => Fact::Bet {
            stake_cents: p.amount,
            win_cents: p.win_cents,
        },
        EventType::Deposit => Fact::Deposit {
            cents: p.amount,
            ok: parsed(DepositStatus::parse(&p.action), bad("unknown status"))?
                == DepositStatus::Ok,
        },
        EventType::Withdrawal => Fact::Withdrawal {
            cents: p.amount,
            status: parsed(WithdrawalStatus::parse(&p.action), bad("unknown status"))?,
        },
        EventType::Ticket => Fact::Ticket {
            id_hash: narrow(u32::MAX as u64)? as u32,
            action: parsed(TicketAction::parse(&p.action), bad("unknown action"))?,
        },
        EventType::LotteryTicket => Fact::LotteryTicket { cents: p.amount },
        EventType::Bonus => Fact::Bonus {
            action: parsed(BonusAction::parse(&p.action), bad("unknown action"))?,
        },
        EventType::Message => Fact::Message {
            action: parsed(MessageAction::parse(&p.action), bad("unknown action"))?,
        },
        EventType::Nps => Fact::Nps {
            score: narrow(10)? as u8,
        },
        EventType::Rg => Fact::Rg {
            action: parsed(RgAction::parse(&p.action), bad("unknown action"))?,
        },
    };
    Ok(Pending {
        ts: Timestamp::from_millis(p.ts_ms),
        id_hash: p.id_hash,
        fact,
    })
}
