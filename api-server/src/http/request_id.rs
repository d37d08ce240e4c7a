//! The id of one request: the one the client (or a load balancer) sent in `x-request-id`
//! when it is sane, else a new UUID v7. Sent back on every answer and carried by every
//! log line of the request (see `http::observe`).

use poem::http::HeaderValue;
use uuid::timestamp::context::ContextV7;
use uuid::{Timestamp, Uuid};

/// The header that carries the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id taken from a client.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of one request, safe to log and to send back as a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id when it is 1 to 128 visible ASCII characters, a new UUID v7
    /// otherwise.
    pub fn from_header(sent: Option<&HeaderValue>) -> Self {
        sent.filter(|value| {
            let bytes = value.as_bytes();
            (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
                && bytes.iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .map_or_else(Self::generate, Self)
    }

    /// A new UUID v7, written straight into the header value. Each thread keeps its own
    /// counter for ids of the same millisecond (`Uuid::now_v7` shares one behind a lock,
    /// which every request would take): ids stay unique and ordered within a thread, and
    /// ordered by millisecond across threads.
    fn generate() -> Self {
        thread_local! {
            static CONTEXT: ContextV7 = const { ContextV7::new() };
        }
        let id = CONTEXT.with(|context| Uuid::new_v7(Timestamp::now(context)));
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        let text = id.hyphenated().encode_lower(&mut text);
        Self(HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("invalid")))
    }

    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in, so this never falls back.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as the value of the `x-request-id` answer header.
    pub fn into_header(self) -> HeaderValue {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    use super::RequestId;

    #[test]
    fn a_sane_request_id_is_kept() {
        let sent = HeaderValue::from_static("req-42:abc/DEF");
        assert_eq!(
            RequestId::from_header(Some(&sent)).as_str(),
            "req-42:abc/DEF"
        );
    }

    #[test]
    fn a_missing_empty_long_or_odd_request_id_is_replaced_by_a_uuid() {
        let long = "x".repeat(129);
        let sent = [
            None,
            Some(HeaderValue::from_static("")),
            Some(HeaderValue::from_static("has space")),
            HeaderValue::from_str(&long).ok(),
            HeaderValue::from_bytes("caf\u{e9}".as_bytes()).ok(),
        ];
        for value in sent {
            let id = RequestId::from_header(value.as_ref());
            let uuid = uuid::Uuid::parse_str(id.as_str()).expect("a generated UUID");
            assert_eq!(uuid.get_version_num(), 7, "{value:?}");
        }
    }
}
