//! The book catalogue, in domain terms.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::{Money, Price, SearchText, Text};

/// A book's title: 1 to 300 characters.
pub type Title = Text<300>;
/// A book's description: up to 10,000 characters.
pub type Description = Text<10_000>;

/// A book of the catalogue.
#[derive(Debug, Clone)]
pub struct Book {
    pub id: Uuid,
    pub title: String,
    pub author_id: Uuid,
    pub description: Option<String>,
    pub price: Money,
    pub published_at: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A book to add.
#[derive(Debug)]
pub struct NewBook {
    pub title: Title,
    pub author_id: Uuid,
    pub description: Option<Description>,
    pub price: Price,
    pub published_at: Option<NaiveDate>,
}

/// Changes to a book; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Default)]
pub struct BookChanges {
    pub title: Option<Title>,
    pub author_id: Option<Uuid>,
    pub description: Option<Option<Description>>,
    pub price: Option<Price>,
    pub published_at: Option<Option<NaiveDate>>,
}

/// Which books to list; every filter is optional and they combine with AND.
#[derive(Debug, Default)]
pub struct BookFilter {
    pub author_id: Option<Uuid>,
    /// Case-insensitive substring of the title.
    pub title_contains: Option<SearchText>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
}
