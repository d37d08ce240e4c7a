//! One page of a collection.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Which slice of a collection to return. Bounds (limit 1..=100, offset ≥ 0) are
/// enforced where the request is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u64,
    /// Items to skip: from the beginning, or from `after` when it is given.
    pub offset: u64,
    /// Where the page starts: right after this position in the order (created_at, id),
    /// found through the index on it, so that the page costs the same however deep it is.
    pub after: Option<Position>,
}

/// A place in a collection's stable order: the `created_at` and `id` of an item. It
/// need not be an item's that exists (any longer): it is a point of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A slice of a collection in its stable order (oldest first), with the collection's size.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
    /// The position of this page's last item when more items follow it; `None` on the
    /// last page.
    pub next: Option<Position>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            limit: self.limit,
            offset: self.offset,
            next: self.next,
        }
    }
}
