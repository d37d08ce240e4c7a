//! Pagination: the `limit`/`offset` query parameters and the page envelope.

use crate::domain::PageRequest;

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: i64 = 20;
/// The largest page a client may ask for.
pub const MAX_LIMIT: i64 = 100;

pub fn default_limit() -> i64 {
    DEFAULT_LIMIT
}

/// The validated `limit` and `offset` of a list request. poem-openapi's validators have
/// already rejected values out of range, so the conversions cannot fail.
pub fn page_request(limit: i64, offset: i64) -> PageRequest {
    PageRequest {
        limit: u64::try_from(limit.clamp(1, MAX_LIMIT)).unwrap_or(20),
        offset: u64::try_from(offset).unwrap_or(0),
    }
}

/// Declares a page envelope `$name { items: [$item], total, limit, offset }`.
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
            /// How many items were skipped.
            pub offset: i64,
        }

        impl<T: Into<$item>> From<$crate::domain::Page<T>> for $name {
            fn from(page: $crate::domain::Page<T>) -> Self {
                let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                Self {
                    total: count(page.total),
                    limit: count(page.limit),
                    offset: count(page.offset),
                    items: page.items.into_iter().map(Into::into).collect(),
                }
            }
        }
    };
}
pub(crate) use page_of;

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromParameter;
    use proptest::prelude::*;

    use super::{DEFAULT_LIMIT, MAX_LIMIT, page_request};

    proptest! {
        #[test]
        fn a_page_request_is_always_in_range(limit in any::<i64>(), offset in any::<i64>()) {
            let page = page_request(limit, offset);
            prop_assert!((1..=MAX_LIMIT as u64).contains(&page.limit));
            prop_assert!(i64::try_from(page.offset).is_ok());
        }

        #[test]
        fn values_in_range_are_kept_as_given(limit in 1..=MAX_LIMIT, offset in 0..=i64::MAX) {
            let page = page_request(limit, offset);
            prop_assert_eq!((page.limit, page.offset), (limit as u64, offset as u64));
        }

        #[test]
        fn paging_parameters_are_read_as_plain_integers(raw in "[-+0-9a-z.]{0,24}|.{0,8}") {
            let parsed = i64::parse_from_parameter(&raw).ok();
            prop_assert_eq!(parsed, raw.parse::<i64>().ok());
        }
    }

    #[test]
    fn the_default_limit_is_in_range() {
        assert!((1..=MAX_LIMIT).contains(&DEFAULT_LIMIT));
    }
}
