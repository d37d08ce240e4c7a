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
