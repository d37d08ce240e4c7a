//! Exact money: integer cents inside, a two-decimal string on the wire.

use std::fmt;

/// The largest amount a single price may have: 1,000,000.00. Together with the quantity
/// cap this keeps every order total far inside `i64` cents.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;

/// An exact, non-negative amount of money in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Parses a plain decimal such as `"12"`, `"12.5"` or `"12.50"`: digits, then at
    /// most two fraction digits. Signs, exponents and separators are rejected, so no
    /// input is ever rounded.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const FORMAT: &str =
            "must be a decimal amount with at most 2 fraction digits, e.g. \"12.50\"";
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || raw.ends_with('.') {
            return Err(FORMAT);
        }
        if fraction.len() > 2 {
            return Err("must have at most 2 fraction digits");
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 12 {
            return Err("is too large");
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| FORMAT)?
        };
        let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| FORMAT)?;
        Ok(Self(whole * 100 + fraction))
    }

    /// `self × n`, or `None` on overflow.
    pub fn checked_mul(self, n: i64) -> Option<Self> {
        self.0.checked_mul(n).map(Self)
    }
}

/// A book's price: more than 0 and at most [`MAX_PRICE_CENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(Money);

impl Price {
    pub fn new(amount: Money) -> Result<Self, &'static str> {
        if amount.0 == 0 {
            return Err("must be greater than 0");
        }
        if amount.0 > MAX_PRICE_CENTS {
            return Err("must be at most 1000000.00");
        }
        Ok(Self(amount))
    }

    pub const fn money(self) -> Money {
        self.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::{Money, Price};

    #[test]
    fn parses_exactly_and_prints_two_fraction_digits() {
        for (raw, cents, shown) in [
            ("12", 1200, "12.00"),
            ("12.5", 1250, "12.50"),
            ("12.50", 1250, "12.50"),
            ("0.10", 10, "0.10"),
            ("0.01", 1, "0.01"),
            ("007.05", 705, "7.05"),
            ("999999999999.99", 99_999_999_999_999, "999999999999.99"),
        ] {
            let money = Money::parse(raw);
            assert_eq!(money, Ok(Money::from_cents(cents)), "{raw}");
            assert_eq!(money.map(|m| m.to_string()), Ok(shown.to_owned()));
        }
    }

    #[test]
    fn rejects_anything_that_is_not_a_plain_decimal() {
        for raw in [
            "",
            ".",
            "1.",
            ".5",
            "-1",
            "+1",
            "1e3",
            "1,00",
            " 1",
            "1 ",
            "1.234",
            "1.2.3",
            "abc",
            "NaN",
            "0x10",
            "1000000000000",
        ] {
            assert!(Money::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn prices_are_positive_and_bounded() {
        let price = |raw| Money::parse(raw).and_then(Price::new).map(Price::money);
        assert!(price("0").is_err());
        assert!(price("0.00").is_err());
        assert!(price("1000000.01").is_err());
        assert_eq!(price("1000000"), Ok(Money::from_cents(100_000_000)));
    }

    #[test]
    fn multiplication_is_exact() {
        let dime = Money::from_cents(10);
        assert_eq!(
            dime.checked_mul(3).map(|m| m.to_string()),
            Some("0.30".to_owned())
        );
        assert_eq!(Money::from_cents(i64::MAX).checked_mul(2), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{MAX_PRICE_CENTS, Money, Price};

        /// The largest amount `Money::parse` takes: twelve integer digits and two fraction digits.
        const MAX_CENTS: i64 = 99_999_999_999_999;

        /// `raw` as cents, computed independently of `Money::parse`: the amount a plain decimal
        /// with at most two fraction digits stands for.
        fn cents_of(raw: &str) -> Option<i64> {
            let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
            let whole: i128 = whole.parse().ok()?;
            let fraction: i128 = format!("{fraction:0<2}").parse().ok()?;
            i64::try_from(whole * 100 + fraction).ok()
        }

        proptest! {
            #[test]
            fn parse_never_panics(raw in any::<String>()) {
                let _ = Money::parse(&raw);
            }

            #[test]
            fn parse_never_panics_on_number_like_text(raw in "[-+0-9.eE, ]{0,24}") {
                let _ = Money::parse(&raw);
            }

            #[test]
            fn what_is_displayed_parses_back(cents in 0..=MAX_CENTS) {
                let money = Money::from_cents(cents);
                prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
            }

            #[test]
            fn more_than_two_fraction_digits_are_never_accepted(
                raw in "[0-9]{1,14}\\.[0-9]{3,8}",
            ) {
                prop_assert!(Money::parse(&raw).is_err());
            }

            #[test]
            fn accepted_text_means_its_exact_amount_and_renders_canonically(
                raw in "[0-9]{1,16}(\\.[0-9]{0,3})?",
            ) {
                if let Ok(money) = Money::parse(&raw) {
                    prop_assert_eq!(Some(money.cents()), cents_of(&raw));
                    let shown = money.to_string();
                    prop_assert_eq!(Money::parse(&shown), Ok(money));
                    let (whole, fraction) = shown.split_once('.').unwrap_or_default();
                    prop_assert_eq!(fraction.len(), 2);
                    prop_assert!(whole == "0" || !whole.starts_with('0'), "{}", shown);
                }
            }

            #[test]
            fn every_plain_amount_in_range_is_accepted(
                whole in 0..=999_999_999_999_i64,
                fraction in "([0-9]{1,2})?",
                zeros in "0{0,3}",
            ) {
                let raw = match fraction.as_str() {
                    "" => format!("{zeros}{whole}"),
                    digits => format!("{zeros}{whole}.{digits}"),
                };
                prop_assert_eq!(Money::parse(&raw).map(Money::cents).ok(), cents_of(&raw));
            }

            #[test]
            fn prices_are_exactly_the_amounts_from_a_cent_to_the_maximum(cents in 0..=MAX_CENTS) {
                let valid = (1..=MAX_PRICE_CENTS).contains(&cents);
                prop_assert_eq!(Price::new(Money::from_cents(cents)).is_ok(), valid);
            }
        }
    }
}
