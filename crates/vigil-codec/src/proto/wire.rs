//! The usual protobuf event, read without prost.
//!
//! Nearly every message a producer sends is a `PlayerEvent` as protobuf
//! encoders write it: each field at most once, nothing unknown, the payload
//! one message of the oneof. [`view`] reads exactly that, borrowing the
//! strings from the message, and gives up, returning `None`, at anything
//! else: a repeated field (which prost merges or overwrites), an unknown
//! field or wire type (which prost skips or refuses), a string that is not
//! UTF-8, anything cut short. The caller then decodes the message with
//! prost, so every unusual message, and every decoding error, is prost's,
//! and what this reads is what prost would have read (a property test holds
//! the two together).

use super::{Body, View};

/// Wire types used by `PlayerEvent` and its payloads.
const VARINT: u64 = 0;
const I64: u64 = 1;
const LEN: u64 = 2;

/// Reads `bytes` as a `PlayerEvent` of the usual shape; `None` for prost to
/// decode.
pub(super) fn view(bytes: &[u8]) -> Option<View<'_>> {
    let mut v = View {
        event_id: "",
        player_id: "",
        brand: "",
        ts: None,
        payload: None,
    };
    fields(bytes, |field, r| {
        match field {
            (1, LEN) => v.event_id = r.str()?,
            (2, LEN) => v.player_id = r.str()?,
            (3, LEN) => v.brand = r.str()?,
            (4, LEN) => v.ts = Some(timestamp(r.bytes()?)?),
            // A second payload of another kind replaces the first, as
            // in prost; one of the same kind is a repeated field.
            (10..=20, LEN) => v.payload = Some(body(field.0, r.bytes()?)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(v)
}

/// A `google.protobuf.Timestamp`: seconds and nanoseconds.
fn timestamp(b: &[u8]) -> Option<(i64, i32)> {
    let (mut seconds, mut nanos) = (0, 0);
    fields(b, |field, r| {
        match field {
            // Protobuf's int64 and int32 are varints cast, as prost reads them.
            (1, VARINT) => seconds = r.varint()? as i64,
            (2, VARINT) => nanos = r.varint()? as i32,
            _ => return None,
        }
        Some(())
    })?;
    Some((seconds, nanos))
}

/// The payload message of oneof field `number`.
fn body(number: u64, b: &[u8]) -> Option<Body<'_>> {
    Some(match number {
        10 => {
            let mut channel = None;
            fields(b, |field, r| {
                match field {
                    (1, LEN) => channel = Some(r.str()?),
                    _ => return None,
                }
                Some(())
            })?;
            Body::Login { channel }
        }
        11 => Body::SessionEnd {
            duration_s: one_varint(b)? as u32,
        },
        12 => {
            let (mut stake, mut currency, mut game, mut win) = (0.0, "", "", None);
            fields(b, |field, r| {
                match field {
                    (1, I64) => stake = r.double()?,
                    (2, LEN) => currency = r.str()?,
                    (3, LEN) => game = r.str()?,
                    (4, I64) => win = Some(r.double()?),
                    _ => return None,
                }
                Some(())
            })?;
            Body::Bet {
                stake,
                currency,
                game,
                win,
            }
        }
        13 | 14 => {
            let (mut amount, mut currency, mut status) = (0.0, "", 0);
            fields(b, |field, r| {
                match field {
                    (1, I64) => amount = r.double()?,
                    (2, LEN) => currency = r.str()?,
                    (3, VARINT) => status = r.varint()? as i32,
                    _ => return None,
                }
                Some(())
            })?;
            if number == 13 {
                Body::Deposit {
                    amount,
                    currency,
                    status,
                }
            } else {
                Body::Withdrawal {
                    amount,
                    currency,
                    status,
                }
            }
        }
        15 => {
            let (mut ticket_id, mut action) = ("", 0);
            fields(b, |field, r| {
                match field {
                    (1, LEN) => ticket_id = r.str()?,
                    (2, VARINT) => action = r.varint()? as i32,
                    _ => return None,
                }
                Some(())
            })?;
            Body::Ticket { ticket_id, action }
        }
        16 => {
            let (mut draw_id, mut amount, mut currency) = ("", 0.0, "");
            fields(b, |field, r| {
                match field {
                    (1, LEN) => draw_id = r.str()?,
                    (2, I64) => amount = r.double()?,
                    (3, LEN) => currency = r.str()?,
                    _ => return None,
                }
                Some(())
            })?;
            Body::LotteryTicket {
                draw_id,
                amount,
                currency,
            }
        }
        17 => {
            let (mut action, mut amount) = (0, None);
            fields(b, |field, r| {
                match field {
                    (1, VARINT) => action = r.varint()? as i32,
                    (2, I64) => amount = Some(r.double()?),
                    _ => return None,
                }
                Some(())
            })?;
            Body::Bonus { action, amount }
        }
        18 => {
            let (mut channel, mut action) = (0, 0);
            fields(b, |field, r| {
                match field {
                    (1, VARINT) => channel = r.varint()? as i32,
                    (2, VARINT) => action = r.varint()? as i32,
                    _ => return None,
                }
                Some(())
            })?;
            Body::Message { channel, action }
        }
        19 => Body::Nps {
            score: one_varint(b)? as u32,
        },
        20 => Body::Rg {
            action: one_varint(b)? as i32,
        },
        _ => return None,
    })
}

/// A message whose one field is varint field 1 (0 when absent).
fn one_varint(b: &[u8]) -> Option<u64> {
    let mut value = 0;
    fields(b, |field, r| {
        match field {
            (1, VARINT) => value = r.varint()?,
            _ => return None,
        }
        Some(())
    })?;
    Some(value)
}

/// Reads every field of message `b`, handing each one's (number, wire
/// type) and a reader at its value to `read`, which reads the value or
/// gives up. Gives up at a field seen before.
fn fields<'a>(
    b: &'a [u8],
    mut read: impl FnMut((u64, u64), &mut Reader<'a>) -> Option<()>,
) -> Option<()> {
    let mut r = Reader { b, i: 0 };
    let mut seen = 0u64;
    while r.i < r.b.len() {
        let key = r.varint()?;
        let number = key >> 3;
        // Every known field number is below 64; the rest are prost's.
        let bit = 1u64.checked_shl(u32::try_from(number).ok()?)?;
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        read((number, key & 7), &mut r)?;
    }
    Some(())
}

/// `b` as a string if it is UTF-8.
///
/// The strings of an event are ids, a currency code and a game family:
/// short and ASCII. `str::from_utf8` goes through them nearly byte by byte
/// (its fast path needs two aligned words) and was a quarter of this
/// reader's instructions; `is_ascii` reads them a word at a time, and
/// anything else is still checked by `from_utf8`.
///
/// SAFETY (of one of the crate's two `unsafe` blocks): every ASCII byte string
/// is UTF-8, so the unchecked conversion is taken only when the check it
/// skips would pass.
#[allow(unsafe_code)]
fn utf8(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        return Some(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b).ok()
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    /// A base-128 varint of at most ten bytes, the tenth at most 1 (a
    /// longer or overflowing one is prost's to refuse).
    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        // Keys, lengths and enum numbers: one byte.
        let first = *self.b.get(self.i)?;
        if first < 0x80 {
            self.i += 1;
            return Some(u64::from(first));
        }
        self.long_varint()
    }

    fn long_varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for k in 0..10 {
            let byte = *self.b.get(self.i)?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << (7 * k);
            if byte < 0x80 {
                return (k < 9 || byte < 2).then_some(v);
            }
        }
        None
    }

    /// A length-delimited value.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.i.checked_add(len)?;
        let value = self.b.get(self.i..end)?;
        self.i = end;
        Some(value)
    }

    /// A string, which protobuf requires to be UTF-8.
    fn str(&mut self) -> Option<&'a str> {
        utf8(self.bytes()?)
    }

    /// A double: eight bytes, little-endian.
    fn double(&mut self) -> Option<f64> {
        let end = self.i.checked_add(8)?;
        let bytes: [u8; 8] = self.b.get(self.i..end)?.try_into().ok()?;
        self.i = end;
        Some(f64::from_le_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message;
    use vigil_proto::v1 as pb;
    use vigil_proto::v1::player_event::Payload as P;

    use super::super::view_of;
    use super::*;

    /// What prost reads the message as (the path `view` stands in for).
    fn prost_view(b: &[u8]) -> Option<String> {
        pb::PlayerEvent::decode(b)
            .ok()
            .map(|e| format!("{:?}", view_of(&e)))
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z0-9-]{1,24}",
            "\\PC{0,8}",
            "[ \t]{1,2}",
        ]
    }

    fn double() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (0u32..100_000).prop_map(|c| f64::from(c) / 100.0),
            Just(0.0),
            Just(-0.0),
        ]
    }

    fn number() -> impl Strategy<Value = i32> {
        prop_oneof![0..5, any::<i32>()]
    }

    fn payload() -> impl Strategy<Value = P> {
        prop_oneof![
            proptest::option::of(text()).prop_map(|channel| P::Login(pb::Login { channel })),
            any::<u32>().prop_map(|duration_s| P::SessionEnd(pb::SessionEnd { duration_s })),
            (double(), text(), text(), proptest::option::of(double())).prop_map(
                |(stake, currency, game, win)| P::Bet(pb::Bet {
                    stake,
                    currency,
                    game,
                    win
                })
            ),
            (double(), text(), number()).prop_map(|(amount, currency, status)| P::Deposit(
                pb::Deposit {
                    amount,
                    currency,
                    status
                }
            )),
            (double(), text(), number()).prop_map(|(amount, currency, status)| P::Withdrawal(
                pb::Withdrawal {
                    amount,
                    currency,
                    status
                }
            )),
            (text(), number())
                .prop_map(|(ticket_id, action)| P::Ticket(pb::Ticket { ticket_id, action })),
            (text(), double(), text()).prop_map(|(draw_id, amount, currency)| P::LotteryTicket(
                pb::LotteryTicket {
                    draw_id,
                    amount,
                    currency
                }
            )),
            (number(), proptest::option::of(double()))
                .prop_map(|(action, amount)| P::Bonus(pb::Bonus { action, amount })),
            (number(), number())
                .prop_map(|(channel, action)| P::Message(pb::Message { channel, action })),
            prop_oneof![0u32..12, any::<u32>()].prop_map(|score| P::Nps(pb::Nps { score })),
            number().prop_map(|action| P::Rg(pb::Rg { action })),
        ]
    }

    /// Any `PlayerEvent`, fields present or absent, values at their edges.
    fn message() -> impl Strategy<Value = pb::PlayerEvent> {
        (
            text(),
            text(),
            text(),
            proptest::option::of((
                prop_oneof![any::<i64>(), 1_700_000_000i64..1_800_000_000, Just(0)],
                prop_oneof![0..1_000_000_000, any::<i32>(), Just(0)],
            )),
            proptest::option::of(payload()),
        )
            .prop_map(
                |(event_id, player_id, brand, ts, payload)| pb::PlayerEvent {
                    event_id,
                    player_id,
                    brand,
                    ts: ts.map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
                    payload,
                },
            )
    }

    /// An encoded message, then edited: a byte dropped, inserted or
    /// replaced, cut short, a field appended (known or not, of any wire
    /// type), or a second message appended (which prost merges in).
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        (
            message(),
            message(),
            any::<prop::sample::Index>(),
            0..7u8,
            any::<u8>(),
        )
            .prop_map(|(m, other, at, how, byte)| {
                let mut b = m.encode_to_vec();
                let i = at.index(b.len() + 1);
                match how {
                    0 if i < b.len() => {
                        b.remove(i);
                    }
                    1 => b.insert(i, byte),
                    2 if i < b.len() => b[i] = byte,
                    3 => b.truncate(i),
                    4 => b.extend([byte, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]),
                    5 => b.extend(other.encode_to_vec()),
                    _ => {}
                }
                b
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever `view` reads, prost reads the same.
        #[test]
        fn reads_only_what_prost_reads_alike(b in bytes()) {
            if let Some(v) = view(&b) {
                prop_assert_eq!(Some(format!("{v:?}")), prost_view(&b), "{:?}", b);
            }
        }

        /// Every message prost writes is read here, not handed on, as
        /// prost reads it back (a -0.0 amount, say, is not written).
        #[test]
        fn what_prost_writes_is_read_here(m in message()) {
            let b = m.encode_to_vec();
            let v = view(&b).map(|v| format!("{v:?}"));
            prop_assert!(v.is_some(), "{:?}", m);
            prop_assert_eq!(v, prost_view(&b));
        }
    }

    #[test]
    fn unusual_messages_are_handed_on() {
        let bet = pb::PlayerEvent {
            event_id: "e1".into(),
            payload: Some(P::Bet(pb::Bet {
                stake: 1.5,
                ..Default::default()
            })),
            ..Default::default()
        }
        .encode_to_vec();
        let mut twice = bet.clone();
        twice.extend(&bet);
        // prost merges a repeated message field: here the stake of the
        // first bet and the game of the second.
        let mut merged = bet.clone();
        merged.extend(
            pb::PlayerEvent {
                payload: Some(P::Bet(pb::Bet {
                    game: "slots".into(),
                    ..Default::default()
                })),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        let got = pb::PlayerEvent::decode(&merged[..]).unwrap().payload;
        assert!(matches!(got, Some(P::Bet(b)) if b.stake == 1.5 && b.game == "slots"));
        let mut unknown = bet.clone();
        unknown.extend([0x28, 0x01]); // field 5, a varint
        let mut not_utf8 = bet.clone();
        not_utf8[3] = 0xff; // inside "e1"
        for b in [
            twice,
            merged,
            unknown,
            not_utf8,
            bet[..bet.len() - 1].to_vec(),
        ] {
            assert!(view(&b).is_none(), "{b:?}");
        }
        assert!(view(&bet).is_some());
    }

    #[test]
    fn strings_are_taken_only_when_they_are_utf8() {
        assert_eq!(utf8(b""), Some(""));
        assert_eq!(
            utf8(b"p-000042-brand-casino-eur"),
            Some("p-000042-brand-casino-eur")
        );
        // Not ASCII, but UTF-8: checked the long way and still taken.
        assert_eq!(utf8("jörg-ß-€".as_bytes()), Some("jörg-ß-€"));
        // A stray byte above 0x7f anywhere, in the first word or the last.
        for at in [0, 7, 8, 23] {
            let mut b = *b"abcdefghijklmnopqrstuvwx";
            b[at] = 0xff;
            assert_eq!(utf8(&b), None, "byte {at}");
        }
        assert_eq!(utf8(&[b'a', 0xc3]), None, "cut in a character");
    }
}
