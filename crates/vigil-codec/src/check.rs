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
