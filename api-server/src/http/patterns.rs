//! The contract's `pattern`s, as the wire types state them in the spec.
//!
//! The server checks each rule in plain Rust (the domain types), not with these regular
//! expressions; the tests below prove that each check accepts exactly what its pattern
//! matches, so that a client validating by the contract and the server agree.

/// Text with a character other than white space (Unicode `White_Space`, what
/// `str::trim` removes), and no NUL.
pub const NOT_BLANK: &str = r"^[^\u0000]*[^\u0000\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$";

/// Text without NUL, which PostgreSQL cannot store.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// An ASCII e-mail address, spaces around it allowed: a dot-atom local part, `@`, and a
/// dotted domain of letter-digit-hyphen labels.
pub const EMAIL: &str = r"^ *[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+ *$";

/// A date as `YYYY-MM-DD`, digits only (`format: date` says which are real dates).
pub const DATE: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// An amount of money: digits (at most 12 once leading zeros are dropped), then at most
/// two fraction digits.
pub const MONEY: &str = r"^0*[0-9]{1,12}(\.[0-9]{1,2})?$";

/// A price: an amount of money from 0.01 to 1000000.00.
pub const PRICE: &str =
    r"^0*([1-9][0-9]{0,5}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?)|1000000(\.0{1,2})?)$";

/// A cursor (`Cursor`): 24 bytes in URL-safe base64 without padding.
pub const CURSOR: &str = r"^[A-Za-z0-9_-]{32}$";

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::{CURSOR, DATE, EMAIL, MONEY, NO_NUL, NOT_BLANK, PRICE};
    use crate::domain::{Email, Money, Price, Text};
    use crate::http::cursor::Cursor;
    use crate::http::types::Date;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern)
            .unwrap_or_else(|err| panic!("{pattern}: {err}"))
            .is_match(text)
    }

    /// Text drawn mostly from the characters the patterns care about.
    fn tricky_text() -> impl Strategy<Value = String> {
        let tricky = prop_oneof![
            Just('\0'),
            Just(' '),
            Just('\t'),
            Just('\n'),
            Just('\u{B}'),
            Just('\u{C}'),
            Just('\r'),
            Just('\u{85}'),
            Just('\u{A0}'),
            Just('\u{1680}'),
            Just('\u{2000}'),
            Just('\u{200A}'),
            Just('\u{200B}'),
            Just('\u{2028}'),
            Just('\u{2029}'),
            Just('\u{202F}'),
            Just('\u{205F}'),
            Just('\u{3000}'),
            Just('\u{FEFF}'),
            Just('\u{180E}'),
            Just('x'),
            Just('é'),
            any::<char>(),
        ];
        prop::collection::vec(tricky, 0..6).prop_map(|chars| chars.into_iter().collect())
    }

    /// Text drawn from what addresses, amounts and dates are made of.
    fn address_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ a-zA-Z0-9.@_+-]{0,24}",
            "[a-z]{1,6}(\\.[a-z]{1,4})?@[a-z0-9-]{1,6}(\\.[a-z0-9-]{0,4}){0,3}",
            " {0,2}[!-~]{1,8}@[a-zA-Z0-9.-]{1,10} {0,2}",
            any::<String>(),
        ]
    }

    fn amount_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9.]{0,16}",
            "0{0,3}[0-9]{0,8}(\\.[0-9]{0,3})?",
            any::<String>()
        ]
    }

    #[test]
    fn every_pattern_compiles() {
        for pattern in [NOT_BLANK, NO_NUL, EMAIL, DATE, MONEY, PRICE, CURSOR] {
            assert!(Regex::new(pattern).is_ok(), "{pattern}");
        }
    }

    #[test]
    fn the_price_pattern_admits_exactly_the_range() {
        for accepted in [
            "0.01",
            "0.1",
            "0.10",
            "00.5",
            "1",
            "19.99",
            "999999.99",
            "1000000",
            "1000000.0",
            "1000000.00",
        ] {
            assert!(matches(PRICE, accepted), "{accepted}");
        }
        for refused in [
            "0",
            "0.0",
            "0.00",
            "000",
            ".5",
            "1.",
            "1000000.01",
            "1000001",
            "1234567.89",
            "1.234",
            "-1",
            "1e3",
        ] {
            assert!(!matches(PRICE, refused), "{refused}");
        }
    }

    proptest! {
        #[test]
        fn not_blank_is_what_required_text_takes(raw in tricky_text()) {
            prop_assert_eq!(matches(NOT_BLANK, &raw), Text::<100>::parse(&raw).is_ok(), "{:?}", raw);
        }

        #[test]
        fn no_nul_is_what_optional_text_takes(raw in tricky_text()) {
            prop_assert_eq!(matches(NO_NUL, &raw), Text::<100>::parse_optional(Some(&raw)).is_ok(), "{:?}", raw);
        }

        #[test]
        fn the_email_pattern_is_what_an_address_must_be(raw in address_like()) {
            let fits = raw.chars().count() <= 254;
            prop_assert_eq!(matches(EMAIL, &raw) && fits, Email::parse(&raw).is_ok(), "{:?}", raw);
        }

        #[test]
        fn the_date_pattern_is_the_shape_of_a_date(raw in prop_oneof!["[0-9-]{8,11}", "[0-9]{4}-[0-9]{2}-[0-9]{2}", any::<String>()]) {
            // The pattern gives the shape; `format: date` says which shapes are real dates.
            let shaped = matches(DATE, &raw);
            let real = Date::parse(&raw).is_ok();
            prop_assert!(!real || shaped, "{:?}", raw);
            prop_assert_eq!(real, shaped && chrono::NaiveDate::parse_from_str(&raw, "%Y-%m-%d").is_ok(), "{:?}", raw);
        }

        #[test]
        fn the_money_pattern_is_what_money_parse_takes(raw in amount_like()) {
            prop_assert_eq!(matches(MONEY, &raw), Money::parse(&raw).is_ok(), "{:?}", raw);
        }

        #[test]
        fn the_price_pattern_is_what_a_price_string_may_be(raw in amount_like()) {
            let price = Money::parse(&raw).ok().and_then(|m| Price::new(m).ok());
            prop_assert_eq!(matches(PRICE, &raw), price.is_some(), "{:?}", raw);
        }

        #[test]
        fn the_cursor_pattern_is_what_a_cursor_may_be(
            raw in prop_oneof!["[A-Za-z0-9_=+/-]{30,34}", "[A-Za-z0-9_-]{32}", any::<String>()],
        ) {
            prop_assert_eq!(matches(CURSOR, &raw), Cursor::parse(&raw).is_ok(), "{:?}", raw);
        }
    }
}
