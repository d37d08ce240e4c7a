//! Request and response bodies of the books API, and their conversion to and from the
//! model: input is validated here, once, into domain types.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::model::{self, BookChanges, BookFilter, Description, NewBook, Title};
use crate::domain::Money;
use crate::http::conditional::ETag;
use crate::http::page::page_of;
use crate::http::text::{FreeText, Search};
use crate::http::types::{Absent, Date, PriceInput, patch};

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

impl From<model::Book> for Book {
    fn from(book: model::Book) -> Self {
        Self {
            id: book.id,
            title: book.title,
            author_id: book.author_id,
            description: book.description,
            price: book.price,
            published_at: book.published_at.map(Date),
            created_at: book.created_at,
            updated_at: book.updated_at,
        }
    }
}

/// The `ETag` of a book's representation.
pub fn etag(book: &model::Book) -> ETag {
    ETag::of(&Book::from(book.clone()))
}

page_of!(
    /// A page of books.
    BookPage,
    Book
);

/// A new book.
#[derive(Debug, Object)]
pub struct BookCreate {
    pub title: Title,
    /// An existing author (else 422 naming `author_id`).
    pub author_id: Uuid,
    /// Up to 10,000 characters; blank text counts as none.
    #[oai(nullable)]
    pub description: Option<FreeText<{ Description::MAX }>>,
    pub price: PriceInput,
    #[oai(nullable)]
    pub published_at: Option<Date>,
}

impl From<BookCreate> for NewBook {
    fn from(req: BookCreate) -> Self {
        Self {
            title: req.title,
            author_id: req.author_id,
            description: req.description.and_then(|d| d.0),
            price: req.price.0,
            published_at: req.published_at.map(|d| d.0),
        }
    }
}

/// Changes to a book; absent fields stay as they are; `null` clears `description` or `published_at`, and so does an empty `description`.
#[derive(Debug, Object)]
pub struct BookUpdate {
    pub title: Absent<Title>,
    /// An existing author (else 422 naming `author_id`).
    pub author_id: Absent<Uuid>,
    /// Up to 10,000 characters.
    #[oai(nullable)]
    pub description: MaybeUndefined<FreeText<{ Description::MAX }>>,
    pub price: Absent<PriceInput>,
    #[oai(nullable)]
    pub published_at: MaybeUndefined<Date>,
}

impl From<BookUpdate> for BookChanges {
    fn from(req: BookUpdate) -> Self {
        Self {
            title: req.title.0,
            author_id: req.author_id.0,
            description: patch(req.description).map(|d| d.and_then(|d| d.0)),
            price: req.price.0.map(|p| p.0),
            published_at: patch(req.published_at).map(|d| d.map(|d| d.0)),
        }
    }
}

/// The list filters as given in the query. A price range whose minimum is above its
/// maximum matches no book.
pub fn book_filter(
    author_id: Option<Uuid>,
    q: Option<Search>,
    min_price: Option<Money>,
    max_price: Option<Money>,
) -> BookFilter {
    BookFilter {
        author_id,
        title_contains: q.and_then(|q| q.0),
        min_price,
        max_price,
    }
}
