//! Event time. The engine never reads a clock: every call that depends on
//! time takes a [`Timestamp`], so the same events in give the same outputs.

use std::fmt;
use std::time::Duration;

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;
/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 3_600_000;

/// A point in event time: milliseconds since the Unix epoch, UTC.
///
/// Player state stores times as whole seconds in a `u32` to stay compact, so
/// the engine accepts only timestamps in `[MIN, MAX]` (1970 to 2106).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest accepted timestamp (the Unix epoch).
    pub const MIN: Timestamp = Timestamp(0);
    /// The latest accepted timestamp (the last second a `u32` can hold).
    pub const MAX: Timestamp = Timestamp(u32::MAX as i64 * 1000);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// A timestamp from whole seconds since the Unix epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs * 1000)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch, rounded down.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Whether this timestamp fits the compact state representation.
    pub fn in_range(self) -> bool {
        self >= Self::MIN && self <= Self::MAX
    }

    /// Seconds since the epoch as stored in player state. Callers check
    /// [`Timestamp::in_range`] first; out-of-range values saturate.
    pub(crate) fn compact(self) -> u32 {
        self.as_secs().clamp(0, u32::MAX as i64) as u32
    }

    /// The timestamp of a compact state time.
    pub(crate) fn from_compact(secs: u32) -> Self {
        Timestamp::from_secs(secs as i64)
    }

    /// The day number (days since the epoch) this timestamp falls in.
    pub fn day(self) -> i64 {
        self.0.div_euclid(DAY_MS)
    }

    /// Time since the epoch in fractional days.
    pub fn days_f64(self) -> f64 {
        self.0 as f64 / DAY_MS as f64
    }

    /// This timestamp moved forward by `d` (saturating).
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_ms(d)))
    }

    /// This timestamp moved back by `d` (saturating).
    pub fn saturating_sub(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(duration_ms(d)))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }
}

impl fmt::Display for Timestamp {
    /// Formats as RFC 3339 UTC with millisecond precision when needed,
    /// e.g. `2026-11-01T12:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

impl Timestamp {
    /// The RFC 3339 text [`Display`](fmt::Display) writes, in a buffer of
    /// its own: every score record and alert carries one, and going through
    /// `core::fmt` (a `write!` of six padded numbers) cost more than the
    /// rest of the timestamp's share of encoding.
    pub fn rfc3339(self) -> Rfc3339 {
        let mut out = Rfc3339 {
            buf: [0; RFC3339_MAX],
            len: 0,
        };
        let secs = self.as_secs();
        let ms = self.0.rem_euclid(1000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        if (0..=9999).contains(&y) {
            let y = y as u32;
            out.digits(y / 100, 2);
            out.digits(y % 100, 2);
        } else {
            // Years of five digits or a sign: never an event's, but the
            // text stays what `{y:04}` gives.
            use fmt::Write;
            let _ = write!(out, "{y:04}");
        }
        out.push(b'-');
        out.digits(m, 2);
        out.push(b'-');
        out.digits(d, 2);
        out.push(b'T');
        out.digits(sod / 3600, 2);
        out.push(b':');
        out.digits((sod / 60) % 60, 2);
        out.push(b':');
        out.digits(sod % 60, 2);
        if ms != 0 {
            out.push(b'.');
            out.digits(ms, 3);
        }
        out.push(b'Z');
        out
    }
}

/// Longest RFC 3339 text of a timestamp: a signed nine-digit year
/// (`i64` milliseconds reach ±292 million years) and milliseconds.
const RFC3339_MAX: usize = 32;

/// A timestamp's RFC 3339 text, from [`Timestamp::rfc3339`].
#[derive(Clone, Copy)]
pub struct Rfc3339 {
    buf: [u8; RFC3339_MAX],
    len: u8,
}

impl Rfc3339 {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }

    fn push(&mut self, b: u8) {
        self.buf[usize::from(self.len)] = b;
        self.len += 1;
    }

    /// `n` as exactly `width` decimal digits (`n` has no more).
    fn digits(&mut self, mut n: u32, width: usize) {
        let at = usize::from(self.len);
        for slot in self.buf[at..at + width].iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.len += width as u8;
    }
}

impl fmt::Write for Rfc3339 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let at = usize::from(self.len);
        let slot = self.buf.get_mut(at..at + s.len()).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len += s.len() as u8;
        Ok(())
    }
}

impl fmt::Debug for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Whole milliseconds in a duration, saturating at `i64::MAX`.
pub fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Days since the epoch to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`, exact for the whole `i64` day range we use.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(
            Timestamp::from_secs(1_793_534_400).to_string(),
            "2026-11-01T12:00:00Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_793_534_400_250).to_string(),
            "2026-11-01T12:00:00.250Z"
        );
        assert_eq!(Timestamp::MIN.to_string(), "1970-01-01T00:00:00Z");
    }

    /// What `Display` wrote before it had a buffer of its own.
    fn formatted(t: Timestamp) -> String {
        let secs = t.as_secs();
        let ms = t.0.rem_euclid(1000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let mut s = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        if ms != 0 {
            s += &format!(".{ms:03}");
        }
        s + "Z"
    }

    #[test]
    fn the_buffer_holds_what_a_formatter_writes_for_every_year() {
        let mut t: i64 = 0x9E37_79B9_7F4A_7C15u64 as i64;
        let mut samples = vec![
            i64::MIN,
            i64::MAX,
            0,
            -1,
            999,
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001, // the last millisecond of year -1
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // 10000-01-01
            Timestamp::MAX.0,
        ];
        for _ in 0..20_000 {
            // xorshift: years across the whole range, and near today.
            t ^= t << 13;
            t ^= t >> 7;
            t ^= t << 17;
            samples.push(t);
            samples.push(t.rem_euclid(Timestamp::MAX.0));
        }
        for ms in samples {
            let t = Timestamp::from_millis(ms);
            assert_eq!(t.rfc3339().as_str(), formatted(t), "{ms} ms");
            assert_eq!(t.to_string(), formatted(t), "{ms} ms");
        }
    }

    #[test]
    fn day_numbers_are_floor_division() {
        assert_eq!(Timestamp::from_millis(DAY_MS - 1).day(), 0);
        assert_eq!(Timestamp::from_millis(DAY_MS).day(), 1);
    }
}
