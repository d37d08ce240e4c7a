//! Pagination: the `limit`, `offset` and `cursor` query parameters and the page envelope.
//!
//! [`Limit`], [`Offset`] and [`Cursor`] are parameter types that state their rules in the
//! spec and check them while the request is parsed, so that a handler only ever sees a
//! valid [`PageRequest`].

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON, Type};
use serde_json::Value;

pub use super::cursor::Cursor;
use super::types::scalar_type;
use crate::domain::PageRequest;

/// `limit`: items per page, 1 to 100, 20 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u64);

/// `offset`: items to skip, 0 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offset(u64);

impl Limit {
    pub const DEFAULT: u64 = 20;
    pub const MAX: u64 = 100;
}

impl Default for Limit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// The page a request asks for: `limit` items after skipping `offset` of them, counted from
/// `cursor`'s position, or from the beginning without one.
pub fn page_request(limit: Limit, offset: Offset, cursor: Option<Cursor>) -> PageRequest {
    PageRequest {
        limit: limit.0,
        offset: offset.0,
        after: cursor.map(|cursor| cursor.0),
    }
}

/// Implements the parameter traits of a `u64` newtype whose values are `min..=max`.
macro_rules! bounded_integer {
    ($ty:ident, $min:expr, $max:expr) => {
        impl Type for $ty {
            scalar_type!();

            fn name() -> Cow<'static, str> {
                "integer_int64".into()
            }

            fn schema_ref() -> MetaSchemaRef {
                let (min, max): (u64, Option<u64>) = ($min, $max);
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    minimum: Some(min as f64),
                    maximum: max.map(|max| max as f64),
                    ..MetaSchema::new_with_format("integer", "int64")
                }))
            }
        }

        impl ParseFromParameter for $ty {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                parse_bounded(value, $min, $max)
                    .map(Self)
                    .map_err(ParseError::custom)
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::from(self.0))
            }
        }
    };
}

/// An integer parameter of `min..=max` (no upper bound when `max` is `None`).
fn parse_bounded(value: &str, min: u64, max: Option<u64>) -> Result<u64, String> {
    let number: i64 = value.parse().map_err(|err| format!("{err}"))?;
    match u64::try_from(number) {
        Ok(n) if n >= min && max.is_none_or(|max| n <= max) => Ok(n),
        _ => Err(match max {
            Some(max) => format!("must be between {min} and {max}"),
            None => format!("must be at least {min}"),
        }),
    }
}

bounded_integer!(Limit, 1, Some(Limit::MAX));
bounded_integer!(Offset, 0, None);

/// Declares a page envelope `$name { items: [$item], total, limit, offset, next_cursor }`.
macro_rules! page_of {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, poem_openapi::Object)]
        pub struct $name {
            /// This page's items, oldest first.
            pub items: Vec<$item>,
            /// How many items the whole collection (with the same filters) holds.
            pub total: i64,
            /// The page size that was applied.
            pub limit: i64,
            /// How many items were skipped (after `cursor`, when one was given).
            pub offset: i64,
            /// The `cursor` of the page after this one; absent when this page is the
            /// last.
            #[oai(skip_serializing_if_is_none)]
            pub next_cursor: Option<$crate::http::cursor::Cursor>,
        }

        impl<T: Into<$item>> From<$crate::domain::Page<T>> for $name {
            fn from(page: $crate::domain::Page<T>) -> Self {
                let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                Self {
                    total: count(page.total),
                    limit: count(page.limit),
                    offset: count(page.offset),
                    next_cursor: page.next.map($crate::http::cursor::Cursor),
                    items: page.items.into_iter().map(Into::into).collect(),
                }
            }
        }
    };
}
pub(crate) use page_of;

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use poem_openapi::types::ParseFromParameter;
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::{Cursor, Limit, Offset, page_request};
    use crate::domain::Position;

    proptest! {
        #[test]
        fn a_cursor_is_a_page_request_after_its_position(nanos in any::<i64>(), id in any::<u128>()) {
            let position = Position {
                created_at: DateTime::from_timestamp_nanos(nanos),
                id: Uuid::from_u128(id),
            };
            let page = page_request(Limit::default(), Offset::default(), Some(Cursor(position)));
            prop_assert_eq!(page.after, Some(position));
        }

        #[test]
        fn a_limit_is_accepted_exactly_from_one_to_the_maximum(raw in any::<i64>()) {
            let parsed = Limit::parse_from_parameter(&raw.to_string()).ok();
            let valid = (1..=Limit::MAX as i64).contains(&raw);
            prop_assert_eq!(parsed.map(|l| page_request(l, Offset::default(), None).limit), valid.then_some(raw as u64));
        }

        #[test]
        fn any_offset_from_zero_is_accepted(raw in any::<i64>()) {
            let parsed = Offset::parse_from_parameter(&raw.to_string()).ok();
            prop_assert_eq!(parsed.map(|o| page_request(Limit::default(), o, None).offset), u64::try_from(raw).ok());
        }

        #[test]
        fn paging_parameters_are_read_as_plain_integers(raw in "[-+0-9a-z.]{0,24}|.{0,8}") {
            let parsed = Offset::parse_from_parameter(&raw).ok();
            let expected = raw.parse::<i64>().ok().and_then(|n| u64::try_from(n).ok());
            prop_assert_eq!(parsed.map(|o| page_request(Limit::default(), o, None).offset), expected);
        }
    }

    #[test]
    fn the_default_limit_is_in_range() {
        assert!((1..=Limit::MAX).contains(&Limit::default().0));
    }
}
