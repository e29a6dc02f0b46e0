//! A small, allocation-free RFC 3339 parser: event timestamps are parsed
//! once per event, so this sits on the hot path.

use vigil_domain::Timestamp;

/// The two-digit number at `at`.
fn two_digits(b: &[u8], at: usize) -> Option<i64> {
    let (hi, lo) = (
        b.get(at)?.wrapping_sub(b'0'),
        b.get(at + 1)?.wrapping_sub(b'0'),
    );
    (hi <= 9 && lo <= 9).then(|| i64::from(hi) * 10 + i64::from(lo))
}

/// The date and time, `YYYY-MM-DD?HH:MM:SS`, as (year, month, day, hour,
/// minute, second), if every digit is one.
///
/// Read from a fixed nineteen-byte array, so no position is bounds-checked,
/// with one branch for all fourteen digits: a check and a branch per
/// digit made the timestamp a twelfth of decoding a line.
fn fields(h: &[u8; 19]) -> Option<[i64; 6]> {
    const DIGITS: [usize; 14] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let mut v = [0u8; 19];
    let mut bad = false;
    for i in DIGITS {
        v[i] = h[i].wrapping_sub(b'0');
        bad |= v[i] > 9;
    }
    if bad {
        return None;
    }
    let n = |i: usize| i64::from(v[i]) * 10 + i64::from(v[i + 1]);
    Some([n(0) * 100 + n(2), n(5), n(8), n(11), n(14), n(17)])
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (a space or `t` may
/// separate date and time; `z` is accepted) into UTC milliseconds.
/// Fractions beyond milliseconds are truncated. Leap seconds (`:60`) are
/// taken as the following second.
pub fn parse(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let head: &[u8; 19] = b.get(..19)?.try_into().ok()?;
    if head[4] != b'-'
        || head[7] != b'-'
        || !matches!(head[10], b'T' | b't' | b' ')
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let [y, mo, d, h, mi, sec] = fields(head)?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                ms = ms * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            ms *= 10;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (two_digits(b, i + 1)?, two_digits(b, i + 4)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(Timestamp::from_millis(secs * 1000 + ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms_platforms_send() {
        let t = Timestamp::from_secs(1_793_534_400);
        assert_eq!(parse("2026-11-01T12:00:00Z"), Some(t));
        assert_eq!(parse("2026-11-01T13:00:00+01:00"), Some(t));
        assert_eq!(parse("2026-11-01T07:30:00-04:30"), Some(t));
        assert_eq!(
            parse("2026-11-01 12:00:00.5Z"),
            Some(Timestamp::from_millis(1_793_534_400_500))
        );
        assert_eq!(
            parse("2026-11-01T12:00:00.123456789z"),
            Some(Timestamp::from_millis(1_793_534_400_123))
        );
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2026-11-01",
            "2026-11-01T12:00:00",
            "2026-13-01T12:00:00Z",
            "2026-02-29T12:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-11-01T12:00:00.Z",
            "2026-11-01T12:00:00+0100",
            "2026-11-01T12:00:00Zjunk",
            "1793534400",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_with_display(ms in 0i64..4_000_000_000_000) {
            let t = Timestamp::from_millis(ms);
            prop_assert_eq!(parse(&t.to_string()), Some(t));
        }

        /// Any byte other than a digit where a digit belongs is refused.
        #[test]
        fn refuses_a_non_digit_anywhere_a_digit_belongs(
            ms in 0i64..4_000_000_000_000,
            at in prop::sample::select(vec![0usize, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]),
            c in prop::sample::select(b"/:aZT -.\xff".to_vec()),
        ) {
            let mut s = Timestamp::from_millis(ms).to_string().into_bytes();
            prop_assume!(at < s.len());
            s[at] = c;
            let s = String::from_utf8_lossy(&s);
            prop_assert_eq!(parse(&s), None, "{}", s);
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse(&s);
        }
    }
}
