//! Why an event is refused. One vocabulary for decoders and the engine, so
//! the dead-letter topic and the metrics speak the same codes.

/// An event that cannot be scored, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    #[error("not a valid protobuf PlayerEvent: {0}")]
    InvalidProtobuf(String),
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("invalid field `{field}`: {problem}")]
    InvalidField {
        field: &'static str,
        problem: String,
    },
    #[error("unknown currency `{0}` (add it to currency.rates)")]
    UnknownCurrency(String),
    #[error("timestamp does not parse as RFC 3339: {0}")]
    InvalidTimestamp(String),
    #[error("timestamp {0} is outside 1970-01-01..2106-02-07")]
    TimestampOutOfRange(String),
    #[error("event time {ts} is older than the {days}-day window the engine keeps")]
    TooOld { ts: String, days: usize },
    /// Event time further ahead than the receiving side allows (see
    /// `pipeline.max_event_ahead`): taken in, it would move the engine's
    /// clock, which never goes back, so far on that every silence rule
    /// fires for every player and every real event after it is too old.
    #[error("event time {ts} is ahead of {limit}, the latest time accepted on receipt")]
    InFuture { ts: String, limit: String },
}

impl Reject {
    /// A short fixed code, fit for a metric label or a header.
    pub const fn code(&self) -> &'static str {
        match self {
            Reject::InvalidJson(_) => "invalid_json",
            Reject::InvalidProtobuf(_) => "invalid_protobuf",
            Reject::UnknownType(_) => "unknown_type",
            Reject::MissingField(_) => "missing_field",
            Reject::InvalidField { .. } => "invalid_field",
            Reject::UnknownCurrency(_) => "unknown_currency",
            Reject::InvalidTimestamp(_) => "invalid_timestamp",
            Reject::TimestampOutOfRange(_) => "timestamp_out_of_range",
            Reject::TooOld { .. } => "too_old",
            Reject::InFuture { .. } => "timestamp_in_future",
        }
    }

    /// Every code, for pre-registering metrics.
    pub const CODES: [&'static str; 10] = [
        "invalid_json",
        "invalid_protobuf",
        "unknown_type",
        "missing_field",
        "invalid_field",
        "unknown_currency",
        "invalid_timestamp",
        "timestamp_out_of_range",
        "too_old",
        "timestamp_in_future",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once() {
        let all = [
            Reject::InvalidJson(String::new()),
            Reject::InvalidProtobuf(String::new()),
            Reject::UnknownType(String::new()),
            Reject::MissingField("f"),
            Reject::InvalidField {
                field: "f",
                problem: String::new(),
            },
            Reject::UnknownCurrency(String::new()),
            Reject::InvalidTimestamp(String::new()),
            Reject::TimestampOutOfRange(String::new()),
            Reject::TooOld {
                ts: String::new(),
                days: 28,
            },
            Reject::InFuture {
                ts: String::new(),
                limit: String::new(),
            },
        ];
        let codes: Vec<&str> = all.iter().map(Reject::code).collect();
        assert_eq!(codes, Reject::CODES);
    }
}
