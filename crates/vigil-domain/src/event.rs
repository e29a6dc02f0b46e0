//! The player event model: one type for every wire format. Decoders at the
//! edge (JSON lines, protobuf) build these; the engine only ever sees them.

use crate::money::Money;
use crate::time::Timestamp;
use compact_str::CompactString;

/// One thing a player did, as reported by a platform.
///
/// The three ids are [`CompactString`]s: ids up to 24 bytes (all the ones
/// platforms send in practice) live inside the event, so decoding one
/// allocates nothing for them, and the engine reads them without a miss on
/// a separate heap line and drops them without a free.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerEvent {
    /// Producer-assigned id, unique per event; repeats are duplicates.
    pub event_id: CompactString,
    /// The player, unique within a brand's platform.
    pub player_id: CompactString,
    /// The tenant (casino, sportsbook or lottery brand) the player belongs to.
    pub brand: CompactString,
    /// When it happened, in event time.
    pub ts: Timestamp,
    /// What happened.
    pub payload: Payload,
}

/// What happened, with the fields each kind of event carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// The player logged in (a visit).
    Login { channel: Option<String> },
    /// A session ended after `duration_s` seconds.
    SessionEnd { duration_s: u32 },
    /// A bet was placed; `win` is the payout once settled.
    Bet {
        stake: Money,
        game: Game,
        win: Option<Money>,
    },
    /// A deposit attempt.
    Deposit {
        amount: Money,
        status: DepositStatus,
    },
    /// A withdrawal request or its outcome.
    Withdrawal {
        amount: Money,
        status: WithdrawalStatus,
    },
    /// A support ticket changed state.
    Ticket {
        ticket_id: String,
        action: TicketAction,
    },
    /// A lottery ticket was bought.
    LotteryTicket { draw_id: String, amount: Money },
    /// A bonus was granted, claimed or expired; `amount` is in the
    /// reporting currency.
    Bonus {
        action: BonusAction,
        amount: Option<f64>,
    },
    /// A marketing message was sent, opened or clicked.
    Message {
        channel: MessageChannel,
        action: MessageAction,
    },
    /// An NPS survey answer, 0 to 10.
    Nps { score: u8 },
    /// A responsible-gambling action by or for the player.
    Rg { action: RgAction },
}

/// Declares a closed enum of wire names with `as_str` and `parse`, so the
/// wire spelling of each value lives in exactly one place.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name (snake_case).
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses a wire name; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

wire_enum!(
    /// The kind of event, as named by the JSON `type` field.
    EventType {
        Login = "login",
        SessionEnd = "session_end",
        Bet = "bet",
        Deposit = "deposit",
        Withdrawal = "withdrawal",
        Ticket = "ticket",
        LotteryTicket = "lottery_ticket",
        Bonus = "bonus",
        Message = "message",
        Nps = "nps",
        Rg = "rg",
    }
);

wire_enum!(
    /// Game families. Unknown families are accepted as `Other`: platforms
    /// add games faster than we add enum values.
    Game {
        Slots = "slots",
        Live = "live",
        Table = "table",
        Sports = "sports",
        Lottery = "lottery",
        Poker = "poker",
        Bingo = "bingo",
        Other = "other",
    }
);

impl Game {
    /// Parses a game family, mapping unknown names to [`Game::Other`].
    pub fn parse_lenient(s: &str) -> Self {
        Self::parse(s).unwrap_or(Game::Other)
    }
}

wire_enum!(
    /// Outcome of a deposit attempt.
    DepositStatus { Ok = "ok", Failed = "failed" }
);
wire_enum!(
    /// Lifecycle of a withdrawal.
    WithdrawalStatus { Requested = "requested", Paid = "paid", Declined = "declined" }
);
wire_enum!(
    /// Lifecycle of a support ticket.
    TicketAction { Opened = "opened", Replied = "replied", Resolved = "resolved" }
);
wire_enum!(
    /// Lifecycle of a bonus.
    BonusAction { Granted = "granted", Claimed = "claimed", Expired = "expired" }
);
wire_enum!(
    /// Marketing channel.
    MessageChannel { Email = "email", Sms = "sms", Push = "push" }
);
wire_enum!(
    /// What the player did with a message.
    MessageAction { Sent = "sent", Opened = "opened", Clicked = "clicked" }
);
wire_enum!(
    /// Responsible-gambling actions.
    RgAction {
        DepositLimit = "deposit_limit",
        CoolOff = "cool_off",
        SelfExclusion = "self_exclusion",
        RealityCheck = "reality_check",
    }
);

impl Payload {
    /// The kind of this payload.
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::Login { .. } => EventType::Login,
            Payload::SessionEnd { .. } => EventType::SessionEnd,
            Payload::Bet { .. } => EventType::Bet,
            Payload::Deposit { .. } => EventType::Deposit,
            Payload::Withdrawal { .. } => EventType::Withdrawal,
            Payload::Ticket { .. } => EventType::Ticket,
            Payload::LotteryTicket { .. } => EventType::LotteryTicket,
            Payload::Bonus { .. } => EventType::Bonus,
            Payload::Message { .. } => EventType::Message,
            Payload::Nps { .. } => EventType::Nps,
            Payload::Rg { .. } => EventType::Rg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
        }
        assert_eq!(EventType::parse("Login"), None);
        assert_eq!(Game::parse_lenient("crash"), Game::Other);
    }
}
