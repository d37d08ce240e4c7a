//! E-mail addresses, normalised so that uniqueness is case-insensitive.

use std::fmt;

/// Longest address SMTP can carry (RFC 5321 path limit minus the angle brackets).
const MAX_LEN: usize = 254;

/// A trimmed, lower-cased e-mail address with one `@`, a local part and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Trims and lower-cases `raw`, then checks its shape.
    ///
    /// The check is deliberately structural, not a full RFC 5322 parser: the only real
    /// proof that an address works is mail delivered to it.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("must not be empty");
        }
        if email.len() > MAX_LEN {
            return Err("must be at most 254 bytes long");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must contain an @");
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || !domain_ok {
            return Err("is not a valid e-mail address");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Alice@Example.COM ").map(Email::into_inner);
        assert_eq!(email, Ok("alice@example.com".to_owned()));
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for raw in [
            "",
            "   ",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "alice@@example.com",
            "a b@example.com",
            "alice@example..com",
            "alice@-example.com",
            "alice\0@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn overlong_addresses_are_rejected() {
        let raw = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&raw).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::Email;

        /// Addresses of the common shape: a local part, a dotted domain of hyphenated labels.
        fn address() -> impl Strategy<Value = String> {
            "[A-Za-z0-9._%+-]{1,30}@([A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?\\.){1,3}[A-Za-z]{2,8}"
        }

        proptest! {
            #[test]
            fn parse_never_panics(raw in any::<String>()) {
                let _ = Email::parse(&raw);
            }

            #[test]
            fn accepted_addresses_are_normalised_and_parse_to_themselves(raw in any::<String>()) {
                if let Ok(email) = Email::parse(&raw) {
                    let text = email.as_str();
                    prop_assert_eq!(text, text.trim());
                    prop_assert_eq!(text.to_lowercase(), text);
                    prop_assert!(text.len() <= 254);
                    prop_assert_eq!(text.matches('@').count(), 1);
                    prop_assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
                    prop_assert_eq!(Email::parse(text), Ok(email.clone()));
                }
            }

            #[test]
            fn well_formed_addresses_are_accepted_whatever_their_case_or_padding(
                raw in address(),
                padding in "[ \t]{0,3}",
            ) {
                let padded = format!("{padding}{}{padding}", raw.to_uppercase());
                let email = Email::parse(&padded).map(Email::into_inner);
                prop_assert_eq!(email, Ok(raw.to_lowercase()));
            }

            #[test]
            fn addresses_with_a_space_or_a_second_at_are_rejected(
                raw in address(),
                insert in prop_oneof![Just(" "), Just("@"), Just("\u{0}"), Just("\n")],
                at in 1usize..20,
            ) {
                let chars: Vec<char> = raw.chars().collect();
                let at = at.min(chars.len() - 1);
                let broken: String = chars[..at]
                    .iter()
                    .copied()
                    .chain(insert.chars())
                    .chain(chars[at..].iter().copied())
                    .collect();
                prop_assert!(Email::parse(&broken).is_err(), "{:?} was accepted", broken);
            }
        }
    }
}
