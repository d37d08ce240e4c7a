//! Request and response bodies of the books API.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::repository::BookRecord;
use super::service::{BookInput, BookPatch};
use crate::domain::Money;
use crate::http::page::page_of;
use crate::http::types::{Absent, Date, MoneyInput, Text, patch};

/// A book of the catalogue.
#[derive(Debug, Object)]
pub struct Book {
    pub id: Uuid,
    pub title: String,
    pub author_id: Uuid,
    #[oai(nullable)]
    pub description: Option<String>,
    pub price: Money,
    #[oai(nullable)]
    pub published_at: Option<Date>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<BookRecord> for Book {
    fn from(row: BookRecord) -> Self {
        Self {
            id: row.id,
            title: row.title,
            author_id: row.author_id,
            description: row.description,
            price: Money::from_cents(row.price_cents),
            published_at: row.published_at.map(Date),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

page_of!(
    /// A page of books.
    BookPage,
    Book
);

/// A new book.
#[derive(Debug, Object)]
pub struct BookCreate {
    /// 1 to 300 characters.
    pub title: Text,
    /// An existing author.
    pub author_id: Uuid,
    /// Up to 10,000 characters.
    #[oai(nullable)]
    pub description: Option<Text>,
    /// Greater than 0, at most 1000000.00.
    pub price: MoneyInput,
    #[oai(nullable)]
    pub published_at: Option<Date>,
}

impl From<BookCreate> for BookInput {
    fn from(req: BookCreate) -> Self {
        Self {
            title: req.title.0,
            author_id: req.author_id,
            description: req.description.map(|t| t.0),
            price: req.price.0,
            published_at: req.published_at.map(|d| d.0),
        }
    }
}

/// Changes to a book; absent fields stay as they are; `null` clears `description` or `published_at`, and so does an empty `description`.
#[derive(Debug, Object)]
pub struct BookUpdate {
    pub title: Absent<Text>,
    pub author_id: Absent<Uuid>,
    #[oai(nullable)]
    pub description: MaybeUndefined<Text>,
    pub price: Absent<MoneyInput>,
    #[oai(nullable)]
    pub published_at: MaybeUndefined<Date>,
}

impl From<BookUpdate> for BookPatch {
    fn from(req: BookUpdate) -> Self {
        Self {
            title: req.title.0.map(|t| t.0),
            author_id: req.author_id.0,
            description: patch(req.description).map(|d| d.map(|t| t.0)),
            price: req.price.0.map(|p| p.0),
            published_at: patch(req.published_at).map(|d| d.map(|d| d.0)),
        }
    }
}
