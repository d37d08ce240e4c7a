//! E-mail addresses: ASCII, compared regardless of case.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Longest address SMTP can carry (RFC 5321 path limit minus the angle brackets), counted
/// as given, surrounding spaces included.
const MAX_LEN: usize = 254;

/// Characters allowed in a local part besides letters and digits: RFC 5321's `atext`.
const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// An e-mail address for a new account or a changed one: ASCII, a dot-atom local part,
/// `@` and a dotted domain of letter-digit-hyphen labels; stored in lower case.
///
/// The check is deliberately structural, not a full RFC 5322 parser: the only real proof
/// that an address works is mail delivered to it. It is exactly the contract's `pattern`
/// and `maxLength` for `EmailAddress`, so that a client can check an address as the server
/// does. Quoted local parts (`"john doe"@example.com`) are refused: almost no real address
/// has one. Addresses are ASCII: an internationalised domain is given in its `xn--` form,
/// and no two accepted addresses look alike yet differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.chars().nth(MAX_LEN).is_some() {
            return Err("must be at most 254 characters long");
        }
        let address = raw.trim_matches(' ');
        if address.is_empty() {
            return Err("must not be empty");
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err("must contain an @");
        };
        if !is_dot_atom(local) || !is_domain(domain) {
            return Err("must be an e-mail address such as name@example.com");
        }
        Ok(Self(address.to_ascii_lowercase()))
    }

    /// The form an address is looked up by: trimmed, NFKC, case-folded. For an address
    /// [`Email::parse`] accepts, that is its stored form; for others (a log-in with a
    /// full-width form of an address, or an account of an earlier version, which took
    /// Unicode addresses) it is the form they were stored in.
    pub fn normalize(raw: &str) -> String {
        let composed: String = raw.trim().nfkc().collect();
        caseless::default_case_fold_str(&composed).nfkc().collect()
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

/// RFC 5321's `Dot-string` in ASCII: atoms of letters, digits and `ATEXT_SPECIALS`
/// joined by single dots.
fn is_dot_atom(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(c))
    })
}

/// A dotted domain of at least two labels, each of ASCII letters, digits and inner
/// hyphens.
fn is_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
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
    fn look_alike_forms_are_looked_up_as_the_address_they_resemble() {
        // Full-width letters, a ligature, the German sharp s, the Kelvin sign.
        for (raw, normal) in [
            ("ＡＬＩＣＥ@example.com", "alice@example.com"),
            ("ﬁona@example.com", "fiona@example.com"),
            ("STRASSE@example.com", "strasse@example.com"),
            ("straße@example.com", "strasse@example.com"),
            ("\u{212A}im@example.com", "kim@example.com"),
        ] {
            assert_eq!(Email::normalize(raw), normal, "{raw}");
        }
    }

    #[test]
    fn only_ascii_addresses_are_taken() {
        for raw in [
            "ＡＬＩＣＥ@example.com",
            "josé@example.com",
            "user@bücher.de",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
        assert!(Email::parse("user@xn--bcher-kva.de").is_ok());
    }

    #[test]
    fn invisible_characters_are_refused() {
        for raw in [
            "al\u{200B}ice@example.com",
            "alice\u{202E}@example.com",
            "\u{FEFF}alice@example.com",
            "alice@exa\u{2066}mple.com",
            "ali\u{00AD}ce@example.com",
            "alice\u{7}@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
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
            ".user@example.com",
            "user.@example.com",
            "us..er@example.com",
            "<script>@example.com",
            "a(b)@example.com",
            "a,b@example.com",
            "a;b@example.com",
            "a:b@example.com",
            "a\\b@example.com",
            "\"ab\"@example.com",
            "a[b]@example.com",
            "alice@exa_mple.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn every_atext_character_is_allowed_in_the_local_part() {
        let raw = "a.b!#$%&'*+-/=?^_`{|}~z@example.com";
        assert_eq!(Email::parse(raw).map(Email::into_inner), Ok(raw.to_owned()));
    }

    #[test]
    fn overlong_addresses_are_rejected_counting_the_spaces_around_them() {
        let fits = format!("{}@example.com", "a".repeat(242));
        assert!(Email::parse(&fits).is_ok());
        assert!(Email::parse(&format!("{fits} ")).is_err());
        assert!(Email::parse(&format!("a{fits}")).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::Email;

        /// Addresses of the common shape: a dot-atom local part, a dotted domain of
        /// hyphenated labels.
        fn address() -> impl Strategy<Value = String> {
            "[A-Za-z0-9%+_-]{1,12}(\\.[A-Za-z0-9%+_-]{1,12}){0,2}@([A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?\\.){1,3}[A-Za-z]{2,8}"
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
                    prop_assert_eq!(Email::normalize(text), text);
                    prop_assert!(text.len() <= 254);
                    prop_assert_eq!(text.matches('@').count(), 1);
                    prop_assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
                    prop_assert_eq!(Email::parse(text), Ok(email.clone()));
                }
            }

            #[test]
            fn well_formed_addresses_are_accepted_whatever_their_case_or_padding(
                raw in address(),
                padding in " {0,3}",
            ) {
                let padded = format!("{padding}{}{padding}", raw.to_uppercase());
                let email = Email::parse(&padded).map(Email::into_inner);
                prop_assert_eq!(email, Ok(raw.to_lowercase()));
            }

            #[test]
            fn addresses_with_a_space_a_second_at_or_a_special_are_rejected(
                raw in address(),
                insert in prop_oneof![
                    Just(" "), Just("@"), Just("\u{0}"), Just("\n"), Just("<"), Just(">"),
                    Just("("), Just(")"), Just(","), Just(";"), Just(":"), Just("\\"),
                    Just("\""), Just("["), Just("]"), Just("\u{200B}"), Just(".."),
                ],
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
