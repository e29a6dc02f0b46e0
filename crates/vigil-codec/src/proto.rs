//! Protobuf `vigil.v1.PlayerEvent`, alone or as a length-delimited stream
//! (varint length, then the message), with the same validation as JSON.

use std::io::{self, BufRead, Write};

use prost::Message;
use vigil_domain::event::{
    BonusAction, DepositStatus, Game, MessageAction, MessageChannel, RgAction, TicketAction,
    WithdrawalStatus,
};
use vigil_domain::{Money, Payload, PlayerEvent, Reject, Timestamp};
use vigil_proto::v1 as pb;
use vigil_proto::v1::player_event::Payload as P;

use crate::check::{self, invalid};

mod wire;

/// A `PlayerEvent` as it came off the wire, its text borrowed: what both
/// readers give (the hand one in [`wire`] and prost's), so that one
/// function, [`event_of`], checks every event the same way.
/// Debug only: the tests compare views by their `Debug` form, since a NaN
/// amount is not equal to itself.
#[derive(Debug)]
struct View<'a> {
    event_id: &'a str,
    player_id: &'a str,
    brand: &'a str,
    /// Seconds and nanoseconds, when the field is present.
    ts: Option<(i64, i32)>,
    payload: Option<Body<'a>>,
}

/// The payload of a [`View`]: the fields of each message of the
/// `payload` oneof, enums as their wire numbers.
#[derive(Debug)]
enum Body<'a> {
    Login {
        channel: Option<&'a str>,
    },
    SessionEnd {
        duration_s: u32,
    },
    Bet {
        stake: f64,
        currency: &'a str,
        game: &'a str,
        win: Option<f64>,
    },
    Deposit {
        amount: f64,
        currency: &'a str,
        status: i32,
    },
    Withdrawal {
        amount: f64,
        currency: &'a str,
        status: i32,
    },
    Ticket {
        ticket_id: &'a str,
        action: i32,
    },
    LotteryTicket {
        draw_id: &'a str,
        amount: f64,
        currency: &'a str,
    },
    Bonus {
        action: i32,
        amount: Option<f64>,
    },
    Message {
        channel: i32,
        action: i32,
    },
    Nps {
        score: u32,
    },
    Rg {
        action: i32,
    },
}

/// What prost decoded, as a [`View`].
fn view_of(e: &pb::PlayerEvent) -> View<'_> {
    View {
        event_id: &e.event_id,
        player_id: &e.player_id,
        brand: &e.brand,
        ts: e.ts.as_ref().map(|t| (t.seconds, t.nanos)),
        payload: e.payload.as_ref().map(|p| match p {
            P::Login(l) => Body::Login {
                channel: l.channel.as_deref(),
            },
            P::SessionEnd(s) => Body::SessionEnd {
                duration_s: s.duration_s,
            },
            P::Bet(b) => Body::Bet {
                stake: b.stake,
                currency: &b.currency,
                game: &b.game,
                win: b.win,
            },
            P::Deposit(d) => Body::Deposit {
                amount: d.amount,
                currency: &d.currency,
                status: d.status,
            },
            P::Withdrawal(w) => Body::Withdrawal {
                amount: w.amount,
                currency: &w.currency,
                status: w.status,
            },
            P::Ticket(t) => Body::Ticket {
                ticket_id: &t.ticket_id,
                action: t.action,
            },
            P::LotteryTicket(l) => Body::LotteryTicket {
                draw_id: &l.draw_id,
                amount: l.amount,
                currency: &l.currency,
            },
            P::Bonus(b) => Body::Bonus {
                action: b.action,
                amount: b.amount,
            },
            P::Message(m) => Body::Message {
                channel: m.channel,
                action: m.action,
            },
            P::Nps(n) => Body::Nps { score: n.score },
            P::Rg(r) => Body::Rg { action: r.action },
        }),
    }
}

/// A required string. Protobuf 3 cannot tell an empty string from an absent
/// one, so an empty (or blank) one is reported as missing.
fn nonempty<'a>(s: &'a str, field: &'static str) -> Result<&'a str, Reject> {
    if check::blank(s) {
        Err(Reject::MissingField(field))
    } else {
        Ok(s)
    }
}

fn money(amount: f64, currency: &str, field: &'static str) -> Result<Money, Reject> {
    let amount = check::amount(amount, field)?;
    if currency.is_empty() {
        return Err(Reject::MissingField("currency"));
    }
    Ok(Money {
        amount,
        currency: check::currency(currency)?,
    })
}

/// Maps a protobuf enum number to a domain value: 0 (unspecified) and
/// unknown numbers are refused, naming the allowed ones. Domain values are
/// declared in proto order from 1 (a test holds the two in step).
fn enum_value<T: Copy>(
    n: i32,
    field: &'static str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, Reject> {
    usize::try_from(n)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| all.get(i).copied())
        .ok_or_else(|| {
            let allowed: Vec<String> = all
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{} ({})", i + 1, name(*v)))
                .collect();
            let what = if n == 0 { "unspecified" } else { "unknown" };
            invalid(
                field,
                format!(
                    "enum value {n} is {what}; expected one of {}",
                    allowed.join(", ")
                ),
            )
        })
}

fn enum_number<T: PartialEq>(v: T, all: &[T]) -> i32 {
    all.iter().position(|x| *x == v).map_or(0, |i| i as i32 + 1)
}

/// Decodes one protobuf-encoded `PlayerEvent`.
///
/// A message of the usual shape is read by hand ([`wire`]), borrowing its
/// text: prost's generated decoder allocated a `String` for each of the
/// ids, the currency and the game and freed them again once copied into
/// the event, which made a protobuf event dearer to decode than a JSON
/// line. Anything else (unknown or repeated fields, other wire types,
/// anything malformed) goes through prost, so its errors are prost's.
pub fn decode_event(bytes: &[u8]) -> Result<PlayerEvent, Reject> {
    if let Some(v) = wire::view(bytes) {
        return event_of(v);
    }
    let e = pb::PlayerEvent::decode(bytes).map_err(|e| Reject::InvalidProtobuf(e.to_string()))?;
    event_of(view_of(&e))
}

/// Checks a decoded message and makes it an event.
fn event_of(e: View<'_>) -> Result<PlayerEvent, Reject> {
    let payload = e.payload.ok_or(Reject::MissingField("type"))?;
    let event_id = nonempty(e.event_id, "event_id")?.into();
    let player_id = nonempty(e.player_id, "player_id")?.into();
    let brand = nonempty(e.brand, "brand")?.into();
    let (seconds, nanos) = e.ts.ok_or(Reject::MissingField("ts"))?;
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(Reject::InvalidTimestamp(format!("{seconds}s {nanos}ns")));
    }
    let ts = Timestamp::from_millis(
        seconds
            .saturating_mul(1000)
            .saturating_add(nanos as i64 / 1_000_000),
    );
    let payload = match payload {
        Body::Login { channel } => Payload::Login {
            channel: channel.filter(|c| !check::blank(c)).map(str::to_owned),
        },
        Body::SessionEnd { duration_s } => Payload::SessionEnd { duration_s },
        Body::Bet {
            stake,
            currency,
            game,
            win,
        } => {
            if game.is_empty() {
                return Err(Reject::MissingField("game"));
            }
            Payload::Bet {
                stake: money(stake, currency, "stake")?,
                game: Game::parse_lenient(game),
                win: win.map(|w| money(w, currency, "win")).transpose()?,
            }
        }
        Body::Deposit {
            amount,
            currency,
            status,
        } => Payload::Deposit {
            amount: money(amount, currency, "amount")?,
            status: enum_value(status, "status", DepositStatus::ALL, DepositStatus::as_str)?,
        },
        Body::Withdrawal {
            amount,
            currency,
            status,
        } => Payload::Withdrawal {
            amount: money(amount, currency, "amount")?,
            status: enum_value(
                status,
                "status",
                WithdrawalStatus::ALL,
                WithdrawalStatus::as_str,
            )?,
        },
        Body::Ticket { ticket_id, action } => Payload::Ticket {
            ticket_id: nonempty(ticket_id, "ticket_id")?.to_owned(),
            action: enum_value(action, "action", TicketAction::ALL, TicketAction::as_str)?,
        },
        Body::LotteryTicket {
            draw_id,
            amount,
            currency,
        } => Payload::LotteryTicket {
            draw_id: nonempty(draw_id, "draw_id")?.to_owned(),
            amount: money(amount, currency, "amount")?,
        },
        Body::Bonus { action, amount } => Payload::Bonus {
            action: enum_value(action, "action", BonusAction::ALL, BonusAction::as_str)?,
            amount: amount.map(|a| check::amount(a, "amount")).transpose()?,
        },
        Body::Message { channel, action } => Payload::Message {
            channel: enum_value(
                channel,
                "channel",
                MessageChannel::ALL,
                MessageChannel::as_str,
            )?,
            action: enum_value(action, "action", MessageAction::ALL, MessageAction::as_str)?,
        },
        Body::Nps { score } => {
            if score > 10 {
                return Err(invalid(
                    "score",
                    format!("must be between 0 and 10, got {score}"),
                ));
            }
            Payload::Nps { score: score as u8 }
        }
        Body::Rg { action } => Payload::Rg {
            action: enum_value(action, "action", RgAction::ALL, RgAction::as_str)?,
        },
    };
    Ok(PlayerEvent {
        event_id,
        player_id,
        brand,
        ts,
        payload,
    })
}

/// Converts a domain timestamp to the well-known protobuf type.
pub(crate) fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    let ms = t.as_millis();
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Converts the well-known protobuf type to a domain timestamp.
pub(crate) fn from_timestamp(t: &prost_types::Timestamp) -> Timestamp {
    Timestamp::from_millis(
        t.seconds
            .saturating_mul(1000)
            .saturating_add(t.nanos as i64 / 1_000_000),
    )
}

/// Encodes an event as a protobuf `PlayerEvent`.
pub fn encode_event(e: &PlayerEvent) -> Vec<u8> {
    let payload = match &e.payload {
        Payload::Login { channel } => P::Login(pb::Login {
            channel: channel.clone(),
        }),
        Payload::SessionEnd { duration_s } => P::SessionEnd(pb::SessionEnd {
            duration_s: *duration_s,
        }),
        Payload::Bet { stake, game, win } => P::Bet(pb::Bet {
            stake: stake.amount,
            currency: stake.currency.to_string(),
            game: game.as_str().to_owned(),
            win: win.map(|w| w.amount),
        }),
        Payload::Deposit { amount, status } => P::Deposit(pb::Deposit {
            amount: amount.amount,
            currency: amount.currency.to_string(),
            status: enum_number(*status, DepositStatus::ALL),
        }),
        Payload::Withdrawal { amount, status } => P::Withdrawal(pb::Withdrawal {
            amount: amount.amount,
            currency: amount.currency.to_string(),
            status: enum_number(*status, WithdrawalStatus::ALL),
        }),
        Payload::Ticket { ticket_id, action } => P::Ticket(pb::Ticket {
            ticket_id: ticket_id.clone(),
            action: enum_number(*action, TicketAction::ALL),
        }),
        Payload::LotteryTicket { draw_id, amount } => P::LotteryTicket(pb::LotteryTicket {
            draw_id: draw_id.clone(),
            amount: amount.amount,
            currency: amount.currency.to_string(),
        }),
        Payload::Bonus { action, amount } => P::Bonus(pb::Bonus {
            action: enum_number(*action, BonusAction::ALL),
            amount: *amount,
        }),
        Payload::Message { channel, action } => P::Message(pb::Message {
            channel: enum_number(*channel, MessageChannel::ALL),
            action: enum_number(*action, MessageAction::ALL),
        }),
        Payload::Nps { score } => P::Nps(pb::Nps {
            score: *score as u32,
        }),
        Payload::Rg { action } => P::Rg(pb::Rg {
            action: enum_number(*action, RgAction::ALL),
        }),
    };
    pb::PlayerEvent {
        event_id: e.event_id.to_string(),
        player_id: e.player_id.to_string(),
        brand: e.brand.to_string(),
        ts: Some(timestamp(e.ts)),
        payload: Some(payload),
    }
    .encode_to_vec()
}

/// Reads length-delimited frames (a varint length, then that many bytes),
/// the framing of `prost::Message::encode_length_delimited` and
/// [`write_delimited`].
///
/// After the first error the iterator ends: once a length prefix is wrong,
/// every later frame boundary is a guess.
#[derive(Debug)]
pub struct DelimitedReader<R> {
    inner: R,
    max_frame: usize,
    failed: bool,
}

impl<R: BufRead> DelimitedReader<R> {
    /// The largest frame accepted: a longer length prefix is taken for
    /// corruption rather than allocated.
    pub const MAX_FRAME: usize = 16 << 20;

    /// Reads frames from `inner`.
    pub fn new(inner: R) -> Self {
        DelimitedReader {
            inner,
            max_frame: Self::MAX_FRAME,
            failed: false,
        }
    }

    /// The next byte, or `None` at the end of the stream.
    fn byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.inner.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(buf) => {
                    let b = buf[0];
                    self.inner.consume(1);
                    return Ok(Some(b));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn varint(&mut self) -> io::Result<Option<u64>> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(b) = self.byte()? else {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ends inside a length prefix",
                    ))
                };
            };
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(Some(v));
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "length prefix longer than 10 bytes",
        ))
    }

    fn frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let Some(len) = self.varint()? else {
            return Ok(None);
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= self.max_frame)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("frame of {len} bytes is larger than {}", self.max_frame),
                )
            })?;
        let mut buf = vec![0u8; len];
        self.inner.read_exact(&mut buf)?;
        Ok(Some(buf))
    }
}

impl<R: BufRead> Iterator for DelimitedReader<R> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let frame = self.frame().transpose();
        self.failed = matches!(frame, Some(Err(_)));
        frame
    }
}

/// Writes one frame: a varint length, then `msg`.
pub fn write_delimited(w: &mut impl Write, msg: &[u8]) -> io::Result<()> {
    let mut prefix = Vec::with_capacity(10);
    prost::encoding::encode_varint(msg.len() as u64, &mut prefix);
    w.write_all(&prefix)?;
    w.write_all(msg)
}
