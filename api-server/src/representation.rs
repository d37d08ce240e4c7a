//! An answer's JSON body exactly as the API sends it, and its entity tag: what conditional
//! requests compare (see `http::conditional`) and what the catalogue cache keeps.

use bytes::Bytes;
use poem_openapi::types::ToJSON;
use sha2::{Digest, Sha256};

/// A strong entity tag, quotes included: `"5d41402abc4b2a76b9719d911017c592"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of a representation's bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        // The first 128 bits of the digest, as 32 hexadecimal digits.
        Self(format!("\"{:.32x}\"", Sha256::digest(bytes)))
    }

    /// The tag of `value` as the API sends it (see [`Representation`]).
    pub fn of(value: &impl ToJSON) -> Self {
        Representation::of(value).etag
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON body exactly as it is sent, and its tag. The body is shared, not copied, when a
/// representation is cloned (the catalogue cache hands out clones).
#[derive(Debug, Clone)]
pub struct Representation {
    pub body: Bytes,
    pub etag: ETag,
}

impl Representation {
    /// `value` serialised as poem-openapi's `Json` payload serialises it.
    pub fn of(value: &impl ToJSON) -> Self {
        let body = serde_json::to_vec(&value.to_json()).unwrap_or_else(|_| b"null".to_vec());
        let etag = ETag::of_bytes(&body);
        Self {
            body: Bytes::from(body),
            etag,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ETag, Representation};

    #[test]
    fn a_tag_is_the_hash_of_the_body_as_sent() {
        let value = serde_json::json!({"id": 1, "name": "Le Guin"});
        let sent = Representation::of(&value);
        assert_eq!(&sent.body[..], br#"{"id":1,"name":"Le Guin"}"#);
        assert_eq!(sent.etag, ETag::of_bytes(&sent.body));
        assert_eq!(sent.etag.as_str().len(), 34);
        assert!(sent.etag.as_str().starts_with('"') && sent.etag.as_str().ends_with('"'));
        let other = Representation::of(&serde_json::json!({"id": 1, "name": "Le  Guin"}));
        assert_ne!(other.etag, sent.etag);
        // The first 128 bits of SHA-256, in hexadecimal.
        assert_eq!(
            ETag::of_bytes(b"").as_str(),
            "\"e3b0c44298fc1c149afbf4c8996fb924\""
        );
    }
}
