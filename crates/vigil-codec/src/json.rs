//! JSON lines: one flat object per event, `type` naming the payload and its
//! fields at the top level, as integrators send them:
//!
//! ```json
//! {"event_id":"e1","player_id":"p42","brand":"casino-a","ts":"2026-11-01T12:00:00Z","type":"login","channel":"mobile"}
//! ```
//!
//! Every field is first read into a loose [`Val`] that accepts any JSON
//! type, so a wrong type is reported as an invalid *named* field rather
//! than a parser position. Unknown fields are ignored: platforms add fields
//! faster than we read them.

use std::borrow::Cow;

use compact_str::CompactString;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use vigil_domain::event::{
    BonusAction, DepositStatus, Game, MessageAction, MessageChannel, RgAction, TicketAction,
    WithdrawalStatus,
};
use vigil_domain::{EventType, Money, Payload, PlayerEvent, Reject};

use crate::check::{self, invalid};

mod scan;

/// Any JSON value, loosely: strings borrowed where possible, containers skipped.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Int(i128),
    Bool(bool),
    Null,
    Container,
}

impl<'de: 'a, 'a> Deserialize<'de> for Val<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Val<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Val<'a>, E> {
                Ok(Val::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Val<'a>, E> {
                Ok(Val::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Val<'a>, E> {
                Ok(Val::Str(Cow::Owned(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val<'a>, E> {
                Ok(Val::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val<'a>, E> {
                Ok(Val::Int(v as i128))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val<'a>, E> {
                Ok(Val::Int(v as i128))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val<'a>, E> {
                Ok(Val::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Val<'a>, E> {
                Ok(Val::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Val<'a>, E> {
                Ok(Val::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val<'a>, D::Error> {
                Val::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Val<'a>, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Val::Container)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Val<'a>, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Val::Container)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Val<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Num(_) | Val::Int(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::Null => "null",
            Val::Container => "an object or array",
        }
    }
}

/// Declares [`Flat`] and the key lookup that fills it, from one list of
/// (field, JSON name) pairs.
macro_rules! flat {
    ($($field:ident = $name:literal),+ $(,)?) => {
        /// The flat event object, every field optional so absence and type
        /// errors can be reported by name.
        #[derive(Debug, Default, PartialEq)]
        struct Flat<'a> {
            $($field: Option<Val<'a>>,)+
        }

        /// A top-level key: one of [`Flat`]'s fields, or one we ignore.
        #[derive(Debug, Clone, Copy)]
        #[allow(non_camel_case_types)]
        enum Key {
            $($field,)+
            Other,
        }

        impl Key {
            fn of(s: &str) -> Key {
                match s {
                    $($name => Key::$field,)+
                    _ => Key::Other,
                }
            }
        }

        impl<'a> Flat<'a> {
            /// The field a key names, with its JSON name.
            fn slot(&mut self, k: Key) -> Option<(&'static str, &mut Option<Val<'a>>)> {
                match k {
                    $(Key::$field => Some(($name, &mut self.$field)),)+
                    Key::Other => None,
                }
            }

            /// Whether every string in it is borrowed, so that dropping it
            /// frees nothing.
            fn owns_nothing(&self) -> bool {
                true $(&& !matches!(self.$field, Some(Val::Str(Cow::Owned(_)))))+
            }
        }
    };
}

flat!(
    event_id = "event_id",
    player_id = "player_id",
    brand = "brand",
    ts = "ts",
    ty = "type",
    channel = "channel",
    duration_s = "duration_s",
    stake = "stake",
    currency = "currency",
    game = "game",
    win = "win",
    amount = "amount",
    status = "status",
    ticket_id = "ticket_id",
    action = "action",
    draw_id = "draw_id",
    score = "score",
);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::of(v))
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Hand-written rather than derived: each value is read straight into its
/// slot with no `Option` layer around it (about a fifth fewer instructions
/// per line than the derive, measured with cachegrind together with the
/// single UTF-8 check in [`decode_event`]), and only an object is accepted
/// (a derived struct also takes an array of its fields). A repeated key is
/// refused: an event that says two things is neither.
impl<'de: 'a, 'a> Deserialize<'de> for Flat<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Flat<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a flat JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flat<'a>, A::Error> {
                let mut f = Flat::default();
                while let Some(k) = map.next_key::<Key>()? {
                    match f.slot(k) {
                        Some((_, slot @ None)) => *slot = Some(map.next_value::<Val<'a>>()?),
                        Some((name, Some(_))) => return Err(de::Error::duplicate_field(name)),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(f)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A present, non-null field.
fn present<'a, 'b>(v: &'b Option<Val<'a>>) -> Option<&'b Val<'a>> {
    v.as_ref().filter(|v| **v != Val::Null)
}

fn req<'a, 'b>(v: &'b Option<Val<'a>>, field: &'static str) -> Result<&'b Val<'a>, Reject> {
    present(v).ok_or(Reject::MissingField(field))
}

/// A string field's text, which must not be blank.
fn text<'b>(v: &'b Val<'_>, field: &'static str) -> Result<&'b str, Reject> {
    match v {
        Val::Str(s) if !check::blank(s) => Ok(s),
        Val::Str(_) => Err(invalid(field, "must not be empty")),
        other => Err(invalid(
            field,
            format!("must be a string, got {}", other.type_name()),
        )),
    }
}

fn string(v: &Val<'_>, field: &'static str) -> Result<String, Reject> {
    text(v, field).map(str::to_owned)
}

fn req_string(v: &Option<Val<'_>>, field: &'static str) -> Result<String, Reject> {
    string(req(v, field)?, field)
}

/// An id (event, player, brand): short, so kept inline, not allocated
/// (see [`vigil_domain::PlayerEvent`]).
fn req_id(v: &Option<Val<'_>>, field: &'static str) -> Result<CompactString, Reject> {
    text(req(v, field)?, field).map(CompactString::new)
}

fn str_ref<'b>(v: &'b Val<'_>, field: &'static str) -> Result<&'b str, Reject> {
    match v {
        Val::Str(s) => Ok(s),
        other => Err(invalid(
            field,
            format!("must be a string, got {}", other.type_name()),
        )),
    }
}

/// An amount: a JSON number or a decimal string, finite and not negative.
fn amount(v: &Val<'_>, field: &'static str) -> Result<f64, Reject> {
    let x = match v {
        Val::Num(x) => *x,
        Val::Int(i) => *i as f64,
        Val::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| invalid(field, format!("`{s}` is not a decimal number")))?,
        other => {
            return Err(invalid(
                field,
                format!("must be a number, got {}", other.type_name()),
            ));
        }
    };
    check::amount(x, field)
}

fn uint(v: &Val<'_>, field: &'static str, max: u32) -> Result<u32, Reject> {
    let i = match v {
        Val::Int(i) => *i,
        Val::Num(x) if x.fract() == 0.0 && x.is_finite() => *x as i128,
        other => {
            return Err(invalid(
                field,
                format!("must be a whole number, got {}", other.type_name()),
            ));
        }
    };
    u32::try_from(i)
        .ok()
        .filter(|i| *i <= max)
        .ok_or_else(|| invalid(field, format!("must be between 0 and {max}, got {i}")))
}

fn money(f: &Flat<'_>, field: &'static str, v: &Option<Val<'_>>) -> Result<Money, Reject> {
    let amount = amount(req(v, field)?, field)?;
    let code = str_ref(req(&f.currency, "currency")?, "currency")?;
    let currency = check::currency(code)?;
    Ok(Money { amount, currency })
}

/// Parses a closed set of wire names, naming the allowed ones on failure.
fn one_of<T: Copy>(
    v: &Option<Val<'_>>,
    field: &'static str,
    all: &[T],
    name: fn(T) -> &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, Reject> {
    let s = str_ref(req(v, field)?, field)?;
    parse(s).ok_or_else(|| {
        let allowed: Vec<&str> = all.iter().map(|t| name(*t)).collect();
        invalid(field, format!("`{s}` is not one of {}", allowed.join(", ")))
    })
}

/// Decodes one JSON line into an event, or says precisely why not.
pub fn decode_event(line: &[u8]) -> Result<PlayerEvent, Reject> {
    // Validating the whole line once lets serde_json read from a `&str`,
    // which skips its per-string UTF-8 check (a tenth of decoding time).
    // simdutf8 checks sixteen or more bytes at a time; only a line it
    // refuses is checked again by std, for the position it names.
    let line = simdutf8::basic::from_utf8(line).or_else(|_| {
        std::str::from_utf8(line).map_err(|e| Reject::InvalidJson(format!("not UTF-8: {e}")))
    })?;
    // The common flat line by hand, anything else (errors included) as
    // serde_json reads it.
    let mut f = Flat::default();
    if scan::flat_into(line, &mut f) {
        let event = event_of(&f);
        // The scan borrows every string from the line, so `f` owns nothing
        // and dropping it would only walk its seventeen fields (a thirtieth
        // of decoding a line).
        debug_assert!(f.owns_nothing());
        std::mem::forget(f);
        return event;
    }
    let f: Flat<'_> = serde_json::from_str(line).map_err(|e| Reject::InvalidJson(e.to_string()))?;
    event_of(&f)
}

/// The event a flat object describes, or why it is not one.
fn event_of(f: &Flat<'_>) -> Result<PlayerEvent, Reject> {
    let ty = str_ref(req(&f.ty, "type")?, "type")?;
    let ty = EventType::parse(ty).ok_or_else(|| Reject::UnknownType(ty.to_owned()))?;
    let event_id = req_id(&f.event_id, "event_id")?;
    let player_id = req_id(&f.player_id, "player_id")?;
    let brand = req_id(&f.brand, "brand")?;
    let ts_raw = str_ref(req(&f.ts, "ts")?, "ts")?;
    let ts =
        crate::rfc3339::parse(ts_raw).ok_or_else(|| Reject::InvalidTimestamp(ts_raw.to_owned()))?;
    let payload = match ty {
        // An empty channel says nothing, as in protobuf where it cannot be
        // told from an absent one: not worth refusing the visit over.
        EventType::Login => Payload::Login {
            channel: match present(&f.channel) {
                Some(Val::Str(s)) if check::blank(s) => None,
                Some(v) => Some(string(v, "channel")?),
                None => None,
            },
        },
        EventType::SessionEnd => Payload::SessionEnd {
            duration_s: uint(req(&f.duration_s, "duration_s")?, "duration_s", u32::MAX)?,
        },
        EventType::Bet => Payload::Bet {
            stake: money(f, "stake", &f.stake)?,
            game: Game::parse_lenient(str_ref(req(&f.game, "game")?, "game")?),
            win: match present(&f.win) {
                Some(_) => Some(money(f, "win", &f.win)?),
                None => None,
            },
        },
        EventType::Deposit => Payload::Deposit {
            amount: money(f, "amount", &f.amount)?,
            status: one_of(
                &f.status,
                "status",
                DepositStatus::ALL,
                DepositStatus::as_str,
                DepositStatus::parse,
            )?,
        },
        EventType::Withdrawal => Payload::Withdrawal {
            amount: money(f, "amount", &f.amount)?,
            status: one_of(
                &f.status,
                "status",
                WithdrawalStatus::ALL,
                WithdrawalStatus::as_str,
                WithdrawalStatus::parse,
            )?,
        },
        EventType::Ticket => Payload::Ticket {
            ticket_id: req_string(&f.ticket_id, "ticket_id")?,
            action: one_of(
                &f.action,
                "action",
                TicketAction::ALL,
                TicketAction::as_str,
                TicketAction::parse,
            )?,
        },
        EventType::LotteryTicket => Payload::LotteryTicket {
            draw_id: req_string(&f.draw_id, "draw_id")?,
            amount: money(f, "amount", &f.amount)?,
        },
        EventType::Bonus => Payload::Bonus {
            action: one_of(
                &f.action,
                "action",
                BonusAction::ALL,
                BonusAction::as_str,
                BonusAction::parse,
            )?,
            amount: present(&f.amount)
                .map(|v| amount(v, "amount"))
                .transpose()?,
        },
        EventType::Message => Payload::Message {
            channel: one_of(
                &f.channel,
                "channel",
                MessageChannel::ALL,
                MessageChannel::as_str,
                MessageChannel::parse,
            )?,
            action: one_of(
                &f.action,
                "action",
                MessageAction::ALL,
                MessageAction::as_str,
                MessageAction::parse,
            )?,
        },
        EventType::Nps => Payload::Nps {
            score: uint(req(&f.score, "score")?, "score", 10)? as u8,
        },
        EventType::Rg => Payload::Rg {
            action: one_of(
                &f.action,
                "action",
                RgAction::ALL,
                RgAction::as_str,
                RgAction::parse,
            )?,
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

/// The flat object written by [`encode_event`].
#[derive(Serialize, Default)]
struct Out<'a> {
    event_id: &'a str,
    player_id: &'a str,
    brand: &'a str,
    ts: String,
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_s: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stake: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    game: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    win: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    draw_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<u8>,
}

/// Encodes an event in the JSON-lines form (no trailing newline). A bet's
/// `win` must be in the stake's currency, as the form has one `currency`.
pub fn encode_event(e: &PlayerEvent) -> String {
    let mut o = Out {
        event_id: &e.event_id,
        player_id: &e.player_id,
        brand: &e.brand,
        ts: e.ts.to_string(),
        ty: e.payload.event_type().as_str(),
        ..Out::default()
    };
    match &e.payload {
        Payload::Login { channel } => o.channel = channel.as_deref(),
        Payload::SessionEnd { duration_s } => o.duration_s = Some(*duration_s),
        Payload::Bet { stake, game, win } => {
            o.stake = Some(stake.amount);
            o.currency = Some(stake.currency.as_str());
            o.game = Some(game.as_str());
            o.win = win.map(|w| w.amount);
        }
        Payload::Deposit { amount, status } => {
            o.amount = Some(amount.amount);
            o.currency = Some(amount.currency.as_str());
            o.status = Some(status.as_str());
        }
        Payload::Withdrawal { amount, status } => {
            o.amount = Some(amount.amount);
            o.currency = Some(amount.currency.as_str());
            o.status = Some(status.as_str());
        }
        Payload::Ticket { ticket_id, action } => {
            o.ticket_id = Some(ticket_id);
            o.action = Some(action.as_str());
        }
        Payload::LotteryTicket { draw_id, amount } => {
            o.draw_id = Some(draw_id);
            o.amount = Some(amount.amount);
            o.currency = Some(amount.currency.as_str());
        }
        Payload::Bonus { action, amount } => {
            o.action = Some(action.as_str());
            o.amount = *amount;
        }
        Payload::Message { channel, action } => {
            o.channel = Some(channel.as_str());
            o.action = Some(action.as_str());
        }
        Payload::Nps { score } => o.score = Some(*score),
        Payload::Rg { action } => o.action = Some(action.as_str()),
    }
    serde_json::to_string(&o).unwrap_or_default()
}
