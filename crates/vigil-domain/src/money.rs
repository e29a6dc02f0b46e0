//! Amounts and the conversion to one reporting currency.

use std::collections::BTreeMap;
use std::fmt;

/// An ISO-4217-style currency code: three ASCII uppercase letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a three-letter code; case-insensitive, stored uppercase.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        Some(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in a currency's major unit (e.g. 12.50 EUR), as sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Money {
    pub amount: f64,
    pub currency: Currency,
}

/// Converts amounts to the reporting currency, in whole cents.
///
/// Rates say how many reporting-currency units one unit of the currency is
/// worth; the reporting currency itself is always 1.
#[derive(Debug, Clone, PartialEq)]
pub struct RateTable {
    reporting: Currency,
    /// By currency, one entry each: a handful of currencies, so a scan of
    /// a flat array beats a tree's pointer chase on every event.
    rates: Vec<(Currency, f64)>,
}

impl RateTable {
    /// A table for `reporting` with the given rates to it.
    pub fn new(reporting: Currency, rates: impl IntoIterator<Item = (Currency, f64)>) -> Self {
        let mut rates: BTreeMap<Currency, f64> = rates.into_iter().collect();
        rates.insert(reporting, 1.0);
        RateTable {
            reporting,
            rates: rates.into_iter().collect(),
        }
    }

    /// The currency every amount is converted to.
    pub fn reporting(&self) -> Currency {
        self.reporting
    }

    /// The amount in reporting-currency cents, or `None` for a currency with
    /// no rate. Negative and non-finite amounts are the decoder's to reject;
    /// here they saturate at zero.
    pub fn to_cents(&self, money: Money) -> Option<u64> {
        let (_, rate) = self.rates.iter().find(|(c, _)| *c == money.currency)?;
        let cents = (money.amount * rate * 100.0).round();
        Some(if cents.is_finite() && cents > 0.0 {
            cents.min(u64::MAX as f64) as u64
        } else {
            0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_reporting_cents() {
        let eur = Currency::parse("EUR").unwrap();
        let usd = Currency::parse("usd").unwrap();
        let table = RateTable::new(eur, [(usd, 0.5)]);
        assert_eq!(
            table.to_cents(Money {
                amount: 12.5,
                currency: eur
            }),
            Some(1250)
        );
        assert_eq!(
            table.to_cents(Money {
                amount: 10.0,
                currency: usd
            }),
            Some(500)
        );
        let sek = Currency::parse("SEK").unwrap();
        assert_eq!(
            table.to_cents(Money {
                amount: 1.0,
                currency: sek
            }),
            None
        );
    }

    #[test]
    fn rejects_malformed_codes() {
        assert!(Currency::parse("EU").is_none());
        assert!(Currency::parse("E1R").is_none());
        assert!(Currency::parse("EURO").is_none());
    }
}
