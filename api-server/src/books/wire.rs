//! Request and response bodies of the books API, and their conversion to and from the
//! model: input is validated here, once, into domain types.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::model::{self, BookChanges, BookFilter, Description, NewBook, Title};
use crate::domain::{Money, Price, SearchText};
use crate::error::{AppError, Violations};
use crate::http::conditional::ETag;
use crate::http::page::page_of;
use crate::http::types::{Absent, Date, MoneyInput, StrictString, patch};

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
    /// 1 to 300 characters.
    pub title: StrictString,
    /// An existing author.
    pub author_id: Uuid,
    /// Up to 10,000 characters.
    #[oai(nullable)]
    pub description: Option<StrictString>,
    /// Greater than 0, at most 1000000.00.
    pub price: MoneyInput,
    #[oai(nullable)]
    pub published_at: Option<Date>,
}

impl TryFrom<BookCreate> for NewBook {
    type Error = AppError;

    fn try_from(req: BookCreate) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let title = v.check("title", Title::parse(&req.title.0));
        let description = v.check(
            "description",
            Description::parse_optional(req.description.as_ref().map(|d| d.0.as_str())),
        );
        let price = v.check("price", Price::new(req.price.0));
        v.finish(|| {
            Some(Self {
                title: title?,
                author_id: req.author_id,
                description: description?,
                price: price?,
                published_at: req.published_at.map(|d| d.0),
            })
        })
    }
}

/// Changes to a book; absent fields stay as they are; `null` clears `description` or `published_at`, and so does an empty `description`.
#[derive(Debug, Object)]
pub struct BookUpdate {
    pub title: Absent<StrictString>,
    pub author_id: Absent<Uuid>,
    #[oai(nullable)]
    pub description: MaybeUndefined<StrictString>,
    pub price: Absent<MoneyInput>,
    #[oai(nullable)]
    pub published_at: MaybeUndefined<Date>,
}

impl TryFrom<BookUpdate> for BookChanges {
    type Error = AppError;

    fn try_from(req: BookUpdate) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let title = (req.title.0).and_then(|t| v.check("title", Title::parse(&t.0)));
        let description = patch(req.description).and_then(|d| {
            let text = d.as_ref().map(|d| d.0.as_str());
            v.check("description", Description::parse_optional(text))
        });
        let price = (req.price.0).and_then(|p| v.check("price", Price::new(p.0)));
        v.finish(|| {
            Some(Self {
                title,
                author_id: req.author_id.0,
                description,
                price,
                published_at: patch(req.published_at).map(|d| d.map(|d| d.0)),
            })
        })
    }
}

/// The list filters as given in the query, validated.
pub fn book_filter(
    author_id: Option<Uuid>,
    q: Option<String>,
    min_price: Option<Money>,
    max_price: Option<Money>,
) -> Result<BookFilter, AppError> {
    let mut v = Violations::new();
    let title_contains = v.check("q", SearchText::parse(q.as_deref())).flatten();
    if let (Some(min), Some(max)) = (min_price, max_price)
        && min > max
    {
        v.push("min_price", "must not be greater than max_price");
    }
    v.finish(|| {
        Some(BookFilter {
            author_id,
            title_contains,
            min_price,
            max_price,
        })
    })
}
