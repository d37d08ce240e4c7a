//! Plain-text passwords on their way to bcrypt.

use secrecy::{ExposeSecret, SecretString};

/// A new password: 8 to 1024 characters, no NUL, exactly the contract's `NewPassword`.
///
/// Every character counts, however many bytes they make: one longer than the 72 bytes
/// bcrypt reads is hashed with SHA-256 first (see `auth::passwords`), never truncated.
/// The value is a [`SecretString`] so that it never shows up in `Debug` output or logs.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: String) -> Result<Self, &'static str> {
        if raw.chars().nth(Self::MIN_CHARS - 1).is_none() {
            return Err("must be at least 8 characters long");
        }
        if raw.chars().nth(Self::MAX_CHARS).is_some() {
            return Err("must be at most 1024 characters long");
        }
        if raw.contains('\0') {
            return Err("must not contain NUL characters");
        }
        Ok(Self(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn accepts_eight_to_1024_characters_whatever_their_bytes() {
        assert!(Password::parse("a".repeat(8)).is_ok());
        assert!(Password::parse("€".repeat(8)).is_ok());
        assert!(Password::parse("a".repeat(73)).is_ok());
        assert!(Password::parse("€".repeat(1024)).is_ok());
    }

    #[test]
    fn rejects_too_short_too_long_and_nul() {
        assert!(Password::parse("a".repeat(7)).is_err());
        // Eight bytes, but four characters.
        assert!(Password::parse("éééé".to_owned()).is_err());
        assert!(Password::parse("a".repeat(1025)).is_err());
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
            fn accepted_exactly_when_eight_to_1024_characters_without_nul(
                raw in prop_oneof![any::<String>(), ".{0,40}", "[a-z\u{0}]{6,80}", ".{1000,1030}"],
            ) {
                let valid = (8..=1024).contains(&raw.chars().count()) && !raw.contains('\0');
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
