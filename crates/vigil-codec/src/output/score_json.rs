//! A score record's JSON, written by hand.
//!
//! The engine publishes a score record for about every seven events it
//! reads, and through serde_json one cost 0.69 µs (`cargo bench -p
//! vigil-codec --bench encode`, machine C), about a twentieth of the
//! pipeline's CPU per event: every key and enum name went through the
//! string escaper a byte at a time, and every number through the
//! shortest-float search, although all of them are rounded to hundredths.
//! Here the keys and names are copied as they are, only the two free-text
//! fields are escaped, and a number that is a whole count of hundredths is
//! written as that count: 0.36 µs. The bytes are serde_json's exactly (the
//! tests compare both on arbitrary records), so consumers see no change.

use vigil_domain::ScoreRecord;

use super::round2;

/// The record as one JSON object (no trailing newline), numbers rounded
/// to two decimals.
pub(super) fn write(s: &ScoreRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + 112 * s.reasons.len());
    out.extend_from_slice(b"{\"player_id\":");
    string(&mut out, &s.player_id);
    out.extend_from_slice(b",\"brand\":");
    string(&mut out, &s.brand);
    // RFC 3339 text, band and signal names: digits, letters and `-:.+_`,
    // nothing JSON escapes.
    out.extend_from_slice(b",\"ts\":\"");
    out.extend_from_slice(s.ts.rfc3339().as_str().as_bytes());
    out.extend_from_slice(b"\",\"score\":");
    number(&mut out, round2(s.score));
    out.extend_from_slice(b",\"band\":\"");
    out.extend_from_slice(s.band.as_str().as_bytes());
    out.extend_from_slice(b"\",\"baseline_ready\":");
    out.extend_from_slice(if s.baseline_ready { b"true" } else { b"false" });
    out.extend_from_slice(b",\"reasons\":[");
    for (i, r) in s.reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"signal\":\"");
        out.extend_from_slice(r.signal.as_str().as_bytes());
        out.extend_from_slice(b"\",\"value\":");
        number(&mut out, round2(r.value));
        out.extend_from_slice(b",\"baseline\":");
        number(&mut out, round2(r.baseline));
        out.extend_from_slice(b",\"change_pct\":");
        match r.change_pct {
            Some(c) => number(&mut out, round2(c)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"contribution\":");
        number(&mut out, round2(r.contribution));
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

/// `s` as a JSON string, escaped as serde_json escapes it: quote,
/// backslash and the control characters, the common ones by letter.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Below this a whole count of hundredths has at most 15 significant
/// digits, so no other decimal of as few digits reads back as the same
/// double, and serde_json writes it in plain notation.
const PLAIN_BELOW: f64 = 1e13;

/// `v` as serde_json writes an `f64`: the shortest text that reads back as
/// `v`, `null` when it is not finite.
fn number(out: &mut Vec<u8>, v: f64) {
    let magnitude = v.abs();
    if magnitude < PLAIN_BELOW {
        // The nearest count of hundredths, or one off in a rare tie, which
        // the check below turns away (`f64::round` is a libm call on the
        // baseline x86-64 target, a seventh of this encoder's time).
        let k = (magnitude * 100.0 + 0.5) as u64;
        // Then `v` is the double nearest to k / 100 (the division rounds
        // correctly), so that decimal, trailing zeros dropped, is the
        // shortest text that reads back as `v`.
        if k as f64 / 100.0 == magnitude {
            if v.is_sign_negative() {
                out.push(b'-');
            }
            let mut digits = itoa::Buffer::new();
            out.extend_from_slice(digits.format(k / 100).as_bytes());
            out.push(b'.');
            let (tenths, rest) = ((k % 100 / 10) as u8, (k % 10) as u8);
            out.push(b'0' + tenths);
            if rest != 0 {
                out.push(b'0' + rest);
            }
            return;
        }
    }
    // Not a count of hundredths (never after `round2`, below 1e13).
    if serde_json::to_writer(&mut *out, &v).is_err() {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use vigil_domain::{Band, Reason, Signal, Timestamp};

    use super::*;

    /// The record as serde_json writes it (the codec's serde form, which
    /// reads records back): what the encoder replaced, and the reference
    /// it must match byte for byte.
    fn reference(s: &ScoreRecord) -> Vec<u8> {
        serde_json::to_vec(&super::super::ScoreJson {
            player_id: s.player_id.clone(),
            brand: s.brand.clone(),
            ts: s.ts.rfc3339().as_str().to_owned(),
            score: round2(s.score),
            band: s.band.as_str().to_owned(),
            baseline_ready: s.baseline_ready,
            reasons: super::super::reasons_json(&s.reasons),
        })
        .unwrap()
    }

    fn written(v: f64) -> String {
        let mut out = Vec::new();
        number(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_at_the_edges_are_written_as_serde_json_writes_them() {
        for v in [
            0.0,
            -0.0,
            0.01,
            -0.01,
            0.1,
            0.5,
            1.0,
            1.05,
            99.99,
            100.0,
            1e12 + 0.99,
            9_999_999_999_999.99,
            1e13,
            1e15,
            1e16,
            1e300,
            5e-324,
            0.001,
            0.125,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(written(v), serde_json::to_string(&v).unwrap(), "{v:e}");
        }
    }

    /// Any double, and especially the counts of hundredths the encoder
    /// writes itself.
    fn any_number() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (-1_000_000_000_000_000i64..1_000_000_000_000_000).prop_map(|k| k as f64 / 100.0),
            (-100_000i64..100_000).prop_map(|k| k as f64 / 100.0),
            (-1e14f64..1e14).prop_map(round2),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn a_number_is_written_as_serde_json_writes_it(v in any_number()) {
            prop_assert_eq!(written(v), serde_json::to_string(&v).unwrap());
        }

        #[test]
        fn a_string_is_escaped_as_serde_json_escapes_it(s in any::<String>(), ctl in "[\u{0}-\u{1f}\"\\\\a-z\u{7f}\u{e9}]{0,12}") {
            for s in [s, ctl] {
                let mut out = Vec::new();
                string(&mut out, &s);
                prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
            }
        }

        #[test]
        fn a_record_is_written_as_serde_json_writes_it(
            player_id in any::<String>(),
            brand in "[a-z\"\\\\\u{1}-]{0,12}",
            ms in -62_135_596_800_000i64..253_402_300_799_999,
            score in any_number(),
            band in 0usize..3,
            baseline_ready in any::<bool>(),
            reasons in prop::collection::vec(
                (0usize..Signal::ALL.len(), any_number(), any_number(), prop::option::of(any_number()), any_number()),
                0..4,
            ),
        ) {
            let record = ScoreRecord {
                player_id,
                brand,
                ts: Timestamp::from_millis(ms),
                score,
                band: Band::ALL[band],
                baseline_ready,
                reasons: reasons
                    .into_iter()
                    .map(|(s, value, baseline, change_pct, contribution)| Reason {
                        signal: Signal::ALL[s],
                        value,
                        baseline,
                        change_pct,
                        contribution,
                    })
                    .collect(),
            };
            prop_assert_eq!(
                String::from_utf8(write(&record)).unwrap(),
                String::from_utf8(reference(&record)).unwrap()
            );
        }
    }
}
