//! Plain-text passwords on their way to bcrypt.

use secrecy::{ExposeSecret, SecretString};

/// A password that bcrypt can hash without truncation: 8 to 72 bytes of UTF-8, no NUL.
///
/// bcrypt reads at most 72 bytes and stops at a NUL byte, so longer or NUL-carrying
/// passwords would silently lose their tail; they are refused instead. The value is a
/// [`SecretString`] so that it never shows up in `Debug` output or logs.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_BYTES: usize = 8;
    pub const MAX_BYTES: usize = 72;

    pub fn parse(raw: String) -> Result<Self, &'static str> {
        if raw.len() < Self::MIN_BYTES {
            return Err("must be at least 8 bytes long");
        }
        if raw.len() > Self::MAX_BYTES {
            return Err("must be at most 72 bytes long (UTF-8)");
        }
        if raw.contains('\0') {
            return Err("must not contain NUL characters");
        }
        Ok(Self(SecretString::from(raw)))
    }

    /// A valid password that is never anyone's: what a doomed verification runs on.
    pub fn placeholder() -> Self {
        Self(SecretString::from("not-a-password"))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn accepts_eight_to_seventy_two_bytes() {
        assert!(Password::parse("a".repeat(8)).is_ok());
        assert!(Password::parse("a".repeat(72)).is_ok());
        // 24 three-byte characters are exactly 72 bytes.
        assert!(Password::parse("€".repeat(24)).is_ok());
    }

    #[test]
    fn rejects_lengths_bcrypt_would_truncate_or_that_are_too_short() {
        assert!(Password::parse("a".repeat(7)).is_err());
        assert!(Password::parse("a".repeat(73)).is_err());
        // 25 characters, but 75 bytes.
        assert!(Password::parse("€".repeat(25)).is_err());
        assert!(Password::parse("password\0tail".to_owned()).is_err());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let password = Password::parse("hunter2hunter2".to_owned()).map(|p| format!("{p:?}"));
        assert!(password.is_ok_and(|shown| !shown.contains("hunter2")));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::Password;

        proptest! {
            #[test]
            fn accepted_exactly_when_eight_to_seventy_two_bytes_without_nul(
                raw in prop_oneof![any::<String>(), ".{0,40}", "[a-z\u{0}]{6,80}"],
            ) {
                let valid = (8..=72).contains(&raw.len()) && !raw.contains('\0');
                let parsed = Password::parse(raw.clone());
                prop_assert_eq!(parsed.is_ok(), valid, "{:?}", raw);
                if let Ok(password) = parsed {
                    prop_assert_eq!(password.expose(), raw.as_str());
                }
            }

            #[test]
            fn debug_output_never_shows_the_password(raw in "[a-zA-Z0-9]{8,72}") {
                let shown = Password::parse(raw.clone()).map(|p| format!("{p:?}"));
                prop_assert!(shown.is_ok_and(|shown| !shown.contains(&raw)));
            }
        }
    }
}
