//! Free-text fields: names, titles, descriptions, search text.

use std::fmt;

/// Text of 1 to `MAX` characters, trimmed, free of NUL (which PostgreSQL cannot store in
/// `text`). Each resource names its own fields with it: `type Title = Text<300>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// A required field: trimmed, and not blank.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("must not be empty".to_owned());
        }
        checked(value, MAX).map(|v| Self(v.to_owned()))
    }

    /// An optional field: trimmed; blank text counts as absent.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, String> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => Self::parse(value).map(Some),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Search text of at most 200 characters, kept exactly as typed (spaces included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    pub const MAX_CHARS: usize = 200;

    /// Empty text counts as absent: a search for nothing matches everything.
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, String> {
        match raw {
            None | Some("") => Ok(None),
            Some(value) => checked(value, Self::MAX_CHARS).map(|v| Some(Self(v.to_owned()))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn checked(value: &str, max_chars: usize) -> Result<&str, String> {
    if value.contains('\0') {
        return Err("must not contain NUL characters".to_owned());
    }
    if value.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters long"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::{SearchText, Text};

    type Name = Text<10>;

    fn required(raw: &str) -> Result<String, String> {
        Name::parse(raw).map(Name::into_inner)
    }

    fn optional(raw: Option<&str>) -> Result<Option<String>, String> {
        Text::<5>::parse_optional(raw).map(|t| t.map(Text::into_inner))
    }

    fn search(raw: Option<&str>) -> Result<Option<String>, String> {
        SearchText::parse(raw).map(|t| t.map(|t| t.as_str().to_owned()))
    }

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        assert_eq!(required("  Ursula  "), Ok("Ursula".to_owned()));
        assert!(required("   ").is_err());
        assert!(required("abcdefghijk").is_err());
        assert!(required("nul\0byte").is_err());
        assert_eq!(required("éééééééééé"), Ok("éééééééééé".to_owned()));
    }

    #[test]
    fn search_text_keeps_its_spaces() {
        assert_eq!(search(Some("of ")), Ok(Some("of ".to_owned())));
        assert_eq!(search(Some("")), Ok(None));
        assert!(search(Some("nul\0")).is_err());
        assert!(search(Some(&"x".repeat(SearchText::MAX_CHARS + 1))).is_err());
    }

    #[test]
    fn blank_optional_text_is_absent() {
        assert_eq!(optional(None), Ok(None));
        assert_eq!(optional(Some("  ")), Ok(None));
        assert_eq!(optional(Some(" bio ")), Ok(Some("bio".to_owned())));
        assert!(optional(Some("x\0")).is_err());
    }
}
