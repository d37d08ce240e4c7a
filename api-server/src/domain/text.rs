//! Free-text fields: names, titles, descriptions, search text.

use std::fmt;

/// Text of at most `MAX` characters as given, free of NUL (which PostgreSQL cannot store
/// in `text`), and trimmed of white space (Unicode `White_Space`). Each resource names its
/// own fields with it: `type Title = Text<300>`.
///
/// The contract states the same rules for the raw value (`maxLength`, and a `pattern` that
/// wants a character other than white space and no NUL), so the count is of the text as
/// given, before trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// The most characters the text may have, as given.
    pub const MAX: usize = MAX;

    /// A required field: not blank; trimmed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value = checked(raw, MAX)?.trim();
        if value.is_empty() {
            return Err("must contain a character other than white space".to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    /// An optional field: trimmed; blank text counts as absent.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, String> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let value = checked(raw, MAX)?.trim();
        Ok((!value.is_empty()).then(|| Self(value.to_owned())))
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

/// `value` when it has at most `max_chars` characters and no NUL.
fn checked(value: &str, max_chars: usize) -> Result<&str, String> {
    if value.contains('\0') {
        return Err("must not contain NUL characters".to_owned());
    }
    if value.chars().nth(max_chars).is_some() {
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
    fn required_text_is_trimmed_and_bounded_as_given() {
        assert_eq!(required("  Ursula  "), Ok("Ursula".to_owned()));
        assert!(required("   ").is_err());
        assert!(required("\u{3000}\u{A0}\t").is_err());
        assert!(required("abcdefghijk").is_err());
        // Ten characters once trimmed, but twelve as given.
        assert!(required(" abcdefghij ").is_err());
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
        assert!(optional(Some("      ")).is_err());
    }
}
