//! The common case of an event line, read without serde.
//!
//! Nearly every line an integrator sends is one flat object of short
//! strings and plain numbers, with no escapes and nothing nested. serde_json
//! reads such a line through its general machinery (a visitor per value,
//! an escape scan per string, a number parser that handles every form);
//! that was a third of the pipeline threads' time. [`flat_into`] reads
//! exactly this common case by hand and gives up, returning false, at anything
//! else: an escape or control character in a string, a nested value, a
//! repeated field, a number it could read differently from serde_json,
//! anything malformed. The caller then reads the line with serde_json, so
//! every unusual line, and every error message, is serde_json's, and what
//! this reads is what serde_json would have read (a property test holds
//! the two together).

use std::borrow::Cow;

use super::{Flat, Key, Val};

/// Longest integer read here: 18 digits always fit an `i64`; longer ones
/// (which serde_json turns into floats past `u64`) are left to it.
const MAX_INT_DIGITS: usize = 18;

/// Reads a flat object of plain values into `f` (empty on entry); false
/// for serde_json to read (`f` then holds what was read so far).
///
/// Filled in place rather than returned: a `Flat` is half a kilobyte, and
/// moving it out was a tenth of the decoding time.
pub(super) fn flat_into<'a>(line: &'a str, f: &mut Flat<'a>) -> bool {
    read(line, f).is_some()
}

/// [`flat_into`] a new `Flat`.
#[cfg(test)]
fn flat(line: &str) -> Option<Flat<'_>> {
    let mut f = Flat::default();
    flat_into(line, &mut f).then_some(f)
}

fn read<'a>(line: &'a str, f: &mut Flat<'a>) -> Option<()> {
    let mut r = Reader {
        s: line,
        b: line.as_bytes(),
        i: 0,
    };
    r.ws();
    r.eat(b'{')?;
    r.ws();
    if !r.eat_if(b'}') {
        loop {
            r.ws();
            let key = r.string()?;
            r.ws();
            r.eat(b':')?;
            r.ws();
            match f.slot(Key::of(key)) {
                // Read straight into the slot: a value built on the stack
                // and then copied in was read back before its pieces were
                // stored, a stall that cost as much as the scanning.
                Some((_, slot @ None)) => r.value_into(slot)?,
                // serde_json names the repeated field.
                Some((_, Some(_))) => return None,
                None => r.value_into(&mut None)?,
            }
            r.ws();
            if r.eat_if(b',') {
                continue;
            }
            r.eat(b'}')?;
            break;
        }
    }
    r.ws();
    (r.i == r.b.len()).then_some(())
}

/// Whether a byte ends a plain string: `"`, `\\` or a control character.
fn ends_string(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// Which of sixteen bytes end a plain string, bit `i` for byte `i`: on
/// x86-64 three SSE2 compares and a mask extraction. A plain loop over the
/// array is not vectorised by the compiler and costs twice the
/// instructions.
///
/// SAFETY (of one of the crate's two `unsafe` blocks; `proto::wire::utf8`
/// has the other): SSE2 is part of the x86-64 baseline, so every x86-64
/// CPU has these instructions; the unaligned load reads exactly the
/// sixteen bytes the array reference borrows.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn string_ends(b: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    unsafe {
        let x = _mm_loadu_si128(b.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // A byte is below 0x20 when its unsigned minimum with 0x1f is itself.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// Which of sixteen bytes end a plain string, bit `i` for byte `i`, on
/// other CPUs (and the reference the SSE2 one is tested against).
#[cfg(not(target_arch = "x86_64"))]
use string_ends_bytewise as string_ends;

#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn string_ends_bytewise(b: &[u8; 16]) -> u32 {
    let mut mask = 0;
    for (i, &c) in b.iter().enumerate() {
        mask |= u32::from(ends_string(c)) << i;
    }
    mask
}

/// The sixteen bytes at `at` (which must have sixteen after it).
fn chunk(b: &[u8], at: usize) -> &[u8; 16] {
    b[at..at + 16].try_into().unwrap_or(&[0; 16])
}

/// Where the first `"`, `\\` or control character in `b` at or after
/// `from` is.
///
/// Sixteen bytes at a time with one branch each: nearly every key and value
/// ends within its first sixteen, so the branch is predicted, where a
/// byte-by-byte loop (or eight at a time) mispredicts its exit on every
/// string. The last bytes of the line are read as the line's last sixteen,
/// the ones already looked at shifted out.
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at + 16 <= b.len() {
        let hit = string_ends(chunk(b, at));
        if hit != 0 {
            return Some(at + hit.trailing_zeros() as usize);
        }
        at += 16;
    }
    if at >= b.len() {
        return None;
    }
    if let Some(last) = b.len().checked_sub(16) {
        // `last < at`: the loop stopped with fewer than 16 bytes left.
        let hit = string_ends(chunk(b, last)) >> (at - last);
        return (hit != 0).then(|| at + hit.trailing_zeros() as usize);
    }
    b[at..].iter().position(|&c| ends_string(c)).map(|i| at + i)
}

/// Most significant digits a decimal read by [`short_decimal`] may have:
/// any 15-digit integer is exact as an `f64` (below 2^53).
const MAX_SHORT_DIGITS: usize = 15;

/// Exact powers of ten as `f64`, as far as [`short_decimal`] divides.
const POW10: [f64; MAX_SHORT_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A decimal `digits` (`[0-9]+(.[0-9]+)?`, `frac_digits` after the point)
/// of at most fifteen digits, as the nearest `f64`; `None` if longer.
///
/// An amount such as `12.50` is read as the integer 1250 divided by 10^2.
/// Both are exact as floats and IEEE division rounds correctly, so the
/// quotient is the nearest float to the decimal (Clinger's fast path), as
/// `str::parse` and serde_json give, at a tenth of their cost: the general
/// parse was the largest single cost of reading a bet.
fn short_decimal(digits: &[u8], frac_digits: usize) -> Option<f64> {
    if digits.len() > MAX_SHORT_DIGITS + usize::from(frac_digits > 0) {
        return None;
    }
    let m = digits
        .iter()
        .filter(|c| c.is_ascii_digit())
        .fold(0u64, |m, c| m * 10 + u64::from(c - b'0'));
    Some(m as f64 / POW10.get(frac_digits)?)
}

struct Reader<'a> {
    /// The line; `b` is its bytes. Every position the reader cuts at is
    /// next to an ASCII byte, so always a character boundary.
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.eat_if(c).then_some(())
    }

    fn eat_if(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    /// A string with no escape and no control character, borrowed.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = string_end(self.b, start)?;
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        Some(&self.s[start..end])
    }

    /// Reads a value into `slot` (empty on entry).
    fn value_into(&mut self, slot: &mut Option<Val<'a>>) -> Option<()> {
        *slot = Some(match self.peek()? {
            b'"' => Val::Str(Cow::Borrowed(self.string()?)),
            b'-' | b'0'..=b'9' => self.number()?,
            b't' => self.literal("true", Val::Bool(true))?,
            b'f' => self.literal("false", Val::Bool(false))?,
            b'n' => self.literal("null", Val::Null)?,
            _ => return None,
        });
        Some(())
    }

    fn literal(&mut self, word: &str, v: Val<'a>) -> Option<Val<'a>> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Some(v)
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// A number in JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)?
    /// ([eE] [+-]? [0-9]+)?`, read as serde_json reads it: integers as
    /// integers (a negative zero as the float -0.0, as serde_json does),
    /// the rest as the nearest float (serde_json's `float_roundtrip`
    /// parse and Rust's both round correctly, so they agree).
    fn number(&mut self) -> Option<Val<'a>> {
        let start = self.i;
        let negative = self.eat_if(b'-');
        let int_start = self.i;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.b[int_start] == b'0') {
            return None;
        }
        let mut integer = true;
        let mut frac_digits = 0;
        if self.eat_if(b'.') {
            integer = false;
            frac_digits = self.digits();
            if frac_digits == 0 {
                return None;
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            exponent = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let token = &self.s[start..self.i];
        if integer {
            if int_digits > MAX_INT_DIGITS {
                return None;
            }
            let magnitude: i128 = self.s[int_start..self.i].parse().ok()?;
            return Some(match (negative, magnitude) {
                (true, 0) => Val::Num(-0.0),
                (true, m) => Val::Int(-m),
                (false, m) => Val::Int(m),
            });
        }
        if !exponent && let Some(x) = short_decimal(&self.b[int_start..self.i], frac_digits) {
            return Some(Val::Num(if negative { -x } else { x }));
        }
        // Out of range is serde_json's error to report.
        token
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Val::Num)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What serde_json reads the line as (the path `flat` stands in for).
    fn serde(line: &str) -> Option<Flat<'_>> {
        serde_json::from_str(line).ok()
    }

    /// Keys: the event's own, ignored ones, an escaped one.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("event_id"),
            Just("player_id"),
            Just("brand"),
            Just("ts"),
            Just("type"),
            Just("stake"),
            Just("amount"),
            Just("score"),
            Just("currency"),
            Just("extra"),
            Just(""),
            Just(r"t\u0079pe"),
            Just("caf\u{e9}"),
        ]
        .prop_map(|k| format!("\"{k}\""))
    }

    /// Values in many forms, plain and not, valid JSON and not.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 _.:-]{0,12}".prop_map(|s| format!("\"{s}\"")),
            r#"[a-z\\"\n\t\u{1}é€]{0,6}"#.prop_map(|s| format!("\"{s}\"")),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|i| i.to_string()),
            any::<f64>().prop_map(|x| x.to_string()),
            any::<f64>().prop_map(|x| format!("{x:e}")),
            (0u32..100_000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b:02}")),
            prop_oneof![
                Just("-0"),
                Just("-0.0"),
                Just("01"),
                Just("1."),
                Just(".5"),
                Just("-"),
                Just("1e400"),
                Just("-1e400"),
                Just("1e-400"),
                Just("2E+3"),
                Just("123456789012345678901234567890"),
                Just("-9223372036854775808"),
                Just("true"),
                Just("false"),
                Just("null"),
                Just("nul"),
                Just("tru"),
                Just("{\"a\":1}"),
                Just("[1,2]"),
                Just("[]"),
            ]
            .prop_map(str::to_owned),
        ]
    }

    fn ws() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just(String::new()),
            1 => "[ \t\r\n]{1,3}",
            1 => Just("\u{a0}".to_owned()),
        ]
    }

    fn line() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((key(), value(), ws(), ws()), 0..8),
            ws(),
            ws(),
        )
            .prop_map(|(fields, before, after)| {
                let body: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v, a, b)| format!("{a}{k}{b}:{a}{v}{b}"))
                    .collect();
                format!("{before}{{{}}}{after}", body.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever `flat` reads, serde_json reads the same.
        #[test]
        fn reads_only_what_serde_json_reads_alike(line in line()) {
            if let Some(f) = flat(&line) {
                prop_assert_eq!(Some(f), serde(&line), "{}", line);
            }
        }

        /// Broken lines (a character dropped, doubled or replaced) too.
        #[test]
        fn broken_lines_too(line in line(), at in any::<prop::sample::Index>(), how in 0..3u8, c in prop::sample::select(vec!['"', ',', ':', '{', '}', '\\', '0', '-', 'e', ' ', '.'])) {
            let chars: Vec<char> = line.chars().collect();
            let i = at.index(chars.len().max(1)).min(chars.len());
            let mut broken: Vec<char> = chars.clone();
            match how {
                0 if i < broken.len() => { broken.remove(i); }
                1 => broken.insert(i, c),
                _ if i < broken.len() => broken[i] = c,
                _ => broken.push(c),
            }
            let broken: String = broken.into_iter().collect();
            if let Some(f) = flat(&broken) {
                prop_assert_eq!(Some(f), serde(&broken), "{}", broken);
            }
        }

        /// The lines integrators send are read here, not handed on.
        #[test]
        fn plain_lines_are_read_here(
            id in "[a-z0-9-]{1,20}",
            amount in (0u32..1_000_000, 0u32..100),
            score in 0u8..=10,
            pad in ws().prop_filter("JSON whitespace", |w| !w.contains('\u{a0}')),
        ) {
            let line = format!(
                r#"{pad}{{"event_id":"{id}",{pad}"player_id":"p1","brand":"b","ts":"2026-11-01T12:00:00.5Z","type":"bet","stake":{}.{:02},"score":{score},"win":null,"other":true}}{pad}"#,
                amount.0, amount.1
            );
            let f = flat(&line);
            prop_assert!(f.is_some(), "{}", line);
            prop_assert_eq!(f, serde(&line));
        }
    }

    proptest! {
        /// The word-at-a-time search finds what a byte-by-byte one finds.
        #[test]
        fn string_end_is_the_first_quote_backslash_or_control(b in prop::collection::vec(prop_oneof![
            8 => 0x20u8..=0xff,
            1 => Just(b'"'),
            1 => Just(b'\\'),
            1 => 0u8..0x20,
        ], 0..60), from in any::<prop::sample::Index>()) {
            let from = from.index(b.len() + 1);
            let want = b[from..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .map(|i| from + i);
            prop_assert_eq!(string_end(&b, from), want);
        }

        /// The vector compares flag what the byte-by-byte reference flags.
        #[test]
        fn string_ends_are_the_bytewise_ones(b in prop::array::uniform16(prop_oneof![
            4 => any::<u8>(),
            1 => Just(b'"'),
            1 => Just(b'\\'),
            1 => Just(0x1f),
            1 => Just(0x20),
        ])) {
            prop_assert_eq!(string_ends(&b), string_ends_bytewise(&b));
        }

        /// A short decimal is the float the general parse gives, to the
        /// bit, whatever its digits and wherever its point.
        #[test]
        fn short_decimals_are_what_parse_gives(
            m in prop_oneof![0u64..1000, 0u64..1_000_000_000_000_000, Just(999_999_999_999_999)],
            point in 1usize..16,
            zeros in 0usize..3,
        ) {
            let digits = format!("{}{m}", "0".repeat(zeros));
            let point = point.min(digits.len() - 1).max(1);
            let (int, frac) = digits.split_at(point);
            // JSON allows no leading zero before other integer digits.
            let int = match int.trim_start_matches('0') {
                "" => "0",
                rest => rest,
            };
            let text = format!("{int}.{frac}");
            let want: f64 = text.parse().unwrap();
            let got = short_decimal(text.as_bytes(), frac.len());
            if int.len() + frac.len() <= MAX_SHORT_DIGITS {
                prop_assert_eq!(got.map(f64::to_bits), Some(want.to_bits()), "{}", text);
            } else {
                prop_assert_eq!(got, None, "{}", text);
            }
        }
    }

    #[test]
    fn negative_zero_is_a_float_as_serde_json_reads_it() {
        let f = flat(r#"{"score":-0}"#).unwrap();
        assert!(matches!(f.score, Some(Val::Num(x)) if x == 0.0 && x.is_sign_negative()));
        assert_eq!(Some(f), serde(r#"{"score":-0}"#));
    }

    #[test]
    fn unusual_lines_are_handed_on() {
        for line in [
            r#"{"type":"lo\u0067in"}"#,
            r#"{"type":"login","type":"bet"}"#,
            r#"{"extra":{"nested":1}}"#,
            r#"{"score":1e400}"#,
            r#"{"score":123456789012345678901}"#,
            r#"{"type":"login"} x"#,
            r#"{"type":"login",}"#,
            r#"["type"]"#,
            "",
        ] {
            assert!(flat(line).is_none(), "{line}");
        }
    }
}
