//! Safe retries of a write: the key a client sends with it, a fingerprint of what it
//! asked, and the answer recorded for it.
//!
//! A client that did not hear back from a write it made cannot know whether the write
//! happened. Sent again with the same key, the write is not done twice: the recorded
//! answer of the first one is given instead.

use sha2::{Digest, Sha256};

/// The key a client sends with a write so that it may safely send it again: 1 to 255
/// visible ASCII characters (`!` to `~`), compared exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// What [`IdempotencyKey::parse`] says of a key it refuses.
    pub const RULE: &'static str = "must be 1 to 255 visible ASCII characters (no spaces)";

    /// The key in `raw`, the bytes of a header value as they arrived.
    pub fn parse(raw: &[u8]) -> Result<Self, &'static str> {
        let visible = raw.iter().all(|b| (0x21..=0x7e).contains(b));
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !visible {
            return Err(Self::RULE);
        }
        // Visible ASCII is UTF-8.
        String::from_utf8(raw.to_vec())
            .map(Self)
            .map_err(|_| Self::RULE)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A digest of a request's content, so that a retry can be told from another request
/// sent with the same key: the SHA-256, in hex, of its JSON body written canonically
/// (object members sorted by name, no insignificant white space), so that the same JSON
/// value gives the same fingerprint however it was formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of a JSON request body.
    pub fn of_json(body: &serde_json::Value) -> Self {
        let mut canonical = String::new();
        write_canonical(body, &mut canonical);
        Self(hex(&Sha256::digest(canonical.as_bytes())))
    }

    /// A fingerprint as it was stored.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Writes `value` with object members in name order and no white space.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort();
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                if let Some(member) = members.get(name) {
                    write_canonical(member, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The answer given to a write made with a key, as it went to the client: its status
/// and its body. Given again, as it is, to every retry of that write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    pub body: String,
}

/// What is recorded of a write made with a key: what it asked and what it was answered.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub fingerprint: Fingerprint,
    pub response: RecordedResponse,
}

/// A write that came with a key: the key and the fingerprint of its content.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Fingerprint, IdempotencyKey};

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        for good in ["a", "!", "~", "order-2026-11-29/1", &"k".repeat(255)] {
            let key = IdempotencyKey::parse(good.as_bytes());
            assert_eq!(key.as_ref().map(IdempotencyKey::as_str), Ok(good));
        }
        let long = "k".repeat(256);
        let bad: [&[u8]; 7] = [
            b"",
            long.as_bytes(),
            b"with space",
            b"tab\there",
            b"del\x7f",
            "clé".as_bytes(),
            b"\x80\xff",
        ];
        for raw in bad {
            assert!(IdempotencyKey::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn the_same_json_value_has_the_same_fingerprint_however_it_is_written() {
        let compact: serde_json::Value = serde_json::from_str(
            r#"{"quantity":2,"book_id":"b","extra":{"z":[1,{"y":null,"x":"é"}],"a":true}}"#,
        )
        .unwrap();
        let spaced: serde_json::Value = serde_json::from_str(
            "{ \"extra\" : { \"a\" : true, \"z\" : [ 1, { \"x\" : \"\\u00e9\", \"y\" : null } ] },\n  \"book_id\": \"b\", \"quantity\": 2 }",
        )
        .unwrap();
        assert_eq!(
            Fingerprint::of_json(&compact),
            Fingerprint::of_json(&spaced)
        );
        assert_eq!(Fingerprint::of_json(&compact).as_str().len(), 64);
    }

    #[test]
    fn another_json_value_has_another_fingerprint() {
        let base = Fingerprint::of_json(&json!({"book_id": "b", "quantity": 2}));
        for other in [
            json!({"book_id": "b", "quantity": 3}),
            json!({"book_id": "b", "quantity": "2"}),
            json!({"book_id": "b", "quantity": 2, "note": null}),
            json!({"book_id": "c", "quantity": 2}),
            json!([{"book_id": "b", "quantity": 2}]),
        ] {
            assert_ne!(Fingerprint::of_json(&other), base, "{other}");
        }
    }
}
