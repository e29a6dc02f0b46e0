//! Field checks shared by the JSON and protobuf decoders, so both refuse
//! the same things with the same words.

use vigil_domain::{Currency, Reject};

/// An invalid named field.
pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> Reject {
    Reject::InvalidField {
        field,
        problem: problem.into(),
    }
}

/// Whether a text field says nothing: empty or only whitespace.
///
/// Nearly every id starts with a visible ASCII character, which settles it
/// at once; `str::trim` walks both ends through its Unicode tables, which
/// was a twentieth of decoding a line. Every ASCII byte above the space is
/// outside Unicode's `White_Space`, so the shortcut agrees with `trim`.
pub(crate) fn blank(s: &str) -> bool {
    match s.as_bytes().first() {
        Some(&b) if b > b' ' && b.is_ascii() => false,
        _ => s.trim().is_empty(),
    }
}

/// An amount must be a finite number, not negative.
pub(crate) fn amount(x: f64, field: &'static str) -> Result<f64, Reject> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(invalid(
            field,
            format!("must be a finite number >= 0, got {x}"),
        ))
    }
}

/// A three-letter currency code (whether it has a rate is the engine's call).
pub(crate) fn currency(code: &str) -> Result<Currency, Reject> {
    Currency::parse(code).ok_or_else(|| {
        invalid(
            "currency",
            format!("`{code}` is not a three-letter currency code"),
        )
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The shortcut says what `trim` says, for every first character.
        #[test]
        fn blank_is_what_trim_says(s in "[ \t\n\r\u{b}\u{c}\u{85}\u{a0}\u{2028}\u{3000}a-z!~\u{7f}é]{0,4}") {
            prop_assert_eq!(blank(&s), s.trim().is_empty());
        }
    }

    #[test]
    fn blank_covers_unicode_whitespace() {
        assert!(blank(""));
        assert!(blank(" \u{3000}\u{a0}\t"));
        assert!(!blank("\u{3000}x"));
        assert!(!blank("x "));
    }
}
