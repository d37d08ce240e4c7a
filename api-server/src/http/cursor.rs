//! `cursor` and `next_cursor`: a position in a list, as clients hold it.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::DateTime;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;
use uuid::Uuid;

use super::patterns;
use super::types::scalar_type;
use crate::domain::Position;

/// `cursor` and `next_cursor` (the schema `Cursor`): a [`Position`] as 32 characters of
/// URL-safe base64 without padding, which are exactly 24 bytes: the position's
/// `created_at` in nanoseconds since 1970 (a big-endian `i64`) and its `id`.
///
/// Every string of that form decodes to a position, and every position encodes to one,
/// so the pattern the contract states is the whole rule: a cursor a client made up is a
/// place in the order like any other, never refused. A later format would have another
/// length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub Position);

impl Cursor {
    /// The length of a cursor, in characters.
    pub const LEN: usize = 32;
    /// What a refused cursor is told (the contract's `x-error-message`).
    const REFUSED: &str =
        "must be the next_cursor of a page (32 characters of A-Z, a-z, 0-9, - and _)";

    /// Reads a cursor, which must be 32 characters of the URL-safe base64 alphabet.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text.len() != Self::LEN {
            return Err(Self::REFUSED);
        }
        let mut bytes = [0_u8; 24];
        match BASE64URL.decode_slice(text, &mut bytes) {
            Ok(24) => Ok(Self::from_bytes(bytes)),
            _ => Err(Self::REFUSED),
        }
    }

    /// The cursor as text.
    pub fn encode(&self) -> String {
        BASE64URL.encode(self.to_bytes())
    }

    fn from_bytes(bytes: [u8; 24]) -> Self {
        let mut nanos = [0_u8; 8];
        let mut id = [0_u8; 16];
        nanos.copy_from_slice(&bytes[..8]);
        id.copy_from_slice(&bytes[8..]);
        Self(Position {
            created_at: DateTime::from_timestamp_nanos(i64::from_be_bytes(nanos)),
            id: Uuid::from_bytes(id),
        })
    }

    fn to_bytes(self) -> [u8; 24] {
        let Position { created_at, id } = self.0;
        // Nanoseconds cover the years 1677 to 2262; a stored `created_at` (the time a row
        // was made) is within them. One outside would stand at that range's edge.
        let nanos =
            created_at
                .timestamp_nanos_opt()
                .unwrap_or(if created_at < DateTime::UNIX_EPOCH {
                    i64::MIN
                } else {
                    i64::MAX
                });
        let mut bytes = [0_u8; 24];
        bytes[..8].copy_from_slice(&nanos.to_be_bytes());
        bytes[8..].copy_from_slice(id.as_bytes());
        bytes
    }
}

impl Type for Cursor {
    scalar_type!();

    fn name() -> Cow<'static, str> {
        "Cursor".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some(
                "A position in a list, as a page's `next_cursor` gives it: opaque, 32 \
                 characters of the URL-safe base64 alphabet.",
            ),
            max_length: Some(Self::LEN),
            pattern: Some(patterns::CURSOR.to_owned()),
            example: Some(Value::String("GOQwe9Q6SAABkvXhHSt-T4prnA0eLzpL".to_owned())),
            ..MetaSchema::new("string")
        });
    }
}

impl ParseFromParameter for Cursor {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Self::parse(value).map_err(ParseError::custom)
    }
}

impl ParseFromJSON for Cursor {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Self::parse(&text).map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Cursor {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.encode()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::Cursor;
    use crate::domain::Position;

    proptest! {
        #[test]
        fn a_position_comes_back_from_its_cursor(
            nanos in any::<i64>(),
            id in any::<u128>(),
        ) {
            let position = Position {
                created_at: DateTime::from_timestamp_nanos(nanos),
                id: Uuid::from_u128(id),
            };
            let text = Cursor(position).encode();
            prop_assert_eq!(text.len(), Cursor::LEN);
            prop_assert_eq!(Cursor::parse(&text), Ok(Cursor(position)));
        }

        #[test]
        fn every_cursor_a_client_can_write_is_a_position_it_came_from(
            text in "[A-Za-z0-9_-]{32}",
        ) {
            let cursor = Cursor::parse(&text);
            prop_assert_eq!(cursor.map(|c| c.encode()), Ok(text));
        }
    }

    #[test]
    fn the_order_of_positions_survives_their_cursors() {
        let early = Position {
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            id: Uuid::max(),
        };
        let late = Position {
            created_at: early.created_at + chrono::Duration::nanoseconds(1),
            id: Uuid::nil(),
        };
        let read = |p: Position| Cursor::parse(&Cursor(p).encode()).map(|c| c.0);
        assert!(read(early) < read(late));
    }

    #[test]
    fn a_time_beyond_what_a_cursor_holds_stands_at_its_edge() {
        let far = DateTime::<Utc>::MAX_UTC;
        let cursor = Cursor(Position {
            created_at: far,
            id: Uuid::nil(),
        });
        let read = Cursor::parse(&cursor.encode()).map(|c| c.0.created_at);
        assert_eq!(read, Ok(DateTime::from_timestamp_nanos(i64::MAX)));
    }

    #[test]
    fn a_cursor_of_another_length_or_alphabet_is_refused() {
        for refused in [
            "",
            "GOQwe9Q6SAABkvXhHSt-T4prnA0eLzp",
            "GOQwe9Q6SAABkvXhHSt-T4prnA0eLzpLA",
            "GOQwe9Q6SAABkvXhHSt+T4prnA0eLzpL",
            "GOQwe9Q6SAABkvXhHSt/T4prnA0eLzpL",
            "GOQwe9Q6SAABkvXhHSt-T4prnA0eLz==",
            "GOQwe9Q6SAABkvXhHSt-T4prnA0eLz\u{e9}",
            " GOQwe9Q6SAABkvXhHSt-T4prnA0eLzp",
        ] {
            assert!(Cursor::parse(refused).is_err(), "{refused:?}");
        }
        assert!(Cursor::parse("GOQwe9Q6SAABkvXhHSt-T4prnA0eLzpL").is_ok());
    }
}
