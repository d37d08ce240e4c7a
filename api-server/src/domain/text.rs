//! Free-text fields: names, titles, descriptions.

/// Checks a required text field: trimmed, non-empty, at most `max_chars` characters and
/// free of NUL, which PostgreSQL cannot store in `text`.
pub fn required(value: &str, max_chars: usize) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    checked(value, max_chars).map(str::to_owned)
}

/// Checks an optional text field; blank text counts as absent.
pub fn optional(value: Option<&str>, max_chars: usize) -> Result<Option<String>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => checked(value, max_chars).map(|v| Some(v.to_owned())),
    }
}

/// Checks search text: kept exactly as typed (spaces included), empty counts as absent.
pub fn search(value: Option<&str>, max_chars: usize) -> Result<Option<String>, String> {
    match value {
        None | Some("") => Ok(None),
        Some(value) => checked(value, max_chars).map(|v| Some(v.to_owned())),
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
    use super::{optional, required, search};

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        assert_eq!(required("  Ursula  ", 10), Ok("Ursula".to_owned()));
        assert!(required("   ", 10).is_err());
        assert!(required("abcdefghijk", 10).is_err());
        assert!(required("nul\0byte", 10).is_err());
        assert_eq!(required("éééééééééé", 10), Ok("éééééééééé".to_owned()));
    }

    #[test]
    fn search_text_keeps_its_spaces() {
        assert_eq!(search(Some("of "), 5), Ok(Some("of ".to_owned())));
        assert_eq!(search(Some(""), 5), Ok(None));
        assert!(search(Some("nul\0"), 5).is_err());
    }

    #[test]
    fn blank_optional_text_is_absent() {
        assert_eq!(optional(None, 5), Ok(None));
        assert_eq!(optional(Some("  "), 5), Ok(None));
        assert_eq!(optional(Some(" bio "), 5), Ok(Some("bio".to_owned())));
        assert!(optional(Some("x\0"), 5).is_err());
    }
}
