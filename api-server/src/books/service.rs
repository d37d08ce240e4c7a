//! Book rules: anyone may browse, administrators edit, books with orders stay.

use chrono::NaiveDate;
use uuid::Uuid;

use super::repository::{BookChanges, BookFilter, BookRecord, BookRepository, NewBook};
use crate::auth::Caller;
use crate::db::DbError;
use crate::domain::{Money, Page, PageRequest, text};
use crate::error::{AppError, Violations};

const MAX_TITLE_CHARS: usize = 300;
const MAX_DESCRIPTION_CHARS: usize = 10_000;
const MAX_QUERY_CHARS: usize = 200;

/// A book as received, not yet validated.
pub struct BookInput {
    pub title: String,
    pub author_id: Uuid,
    pub description: Option<String>,
    pub price: Money,
    pub published_at: Option<NaiveDate>,
}

/// Requested changes; `Some(None)` clears a nullable field.
pub struct BookPatch {
    pub title: Option<String>,
    pub author_id: Option<Uuid>,
    pub description: Option<Option<String>>,
    pub price: Option<Money>,
    pub published_at: Option<Option<NaiveDate>>,
}

#[derive(Clone)]
pub struct BookService {
    books: BookRepository,
}

impl BookService {
    pub fn new(books: BookRepository) -> Self {
        Self { books }
    }

    pub async fn create(&self, caller: &Caller, input: BookInput) -> Result<BookRecord, AppError> {
        caller.require_admin()?;
        let mut v = Violations::new();
        let title = v.check("title", text::required(&input.title, MAX_TITLE_CHARS));
        let description = v.check(
            "description",
            text::optional(input.description.as_deref(), MAX_DESCRIPTION_CHARS),
        );
        let price = v.check("price", input.price.as_price());
        let (title, description, price) = v.finish(|| Some((title?, description?, price?)))?;
        let book = NewBook {
            title,
            author_id: input.author_id,
            description,
            price,
            published_at: input.published_at,
        };
        self.books.insert(book).await.map_err(missing_author)
    }

    pub async fn get(&self, id: Uuid) -> Result<BookRecord, AppError> {
        self.books.find(id).await?.ok_or(AppError::NotFound("book"))
    }

    pub async fn list(
        &self,
        mut filter: BookFilter,
        page: PageRequest,
    ) -> Result<Page<BookRecord>, AppError> {
        let mut v = Violations::new();
        filter.title_contains = v
            .check(
                "q",
                text::search(filter.title_contains.as_deref(), MAX_QUERY_CHARS),
            )
            .flatten();
        if let (Some(min), Some(max)) = (filter.min_price, filter.max_price)
            && min > max
        {
            v.push("min_price", "must not be greater than max_price");
        }
        v.into_result()?;
        Ok(self.books.list(filter, page).await?)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: BookPatch,
    ) -> Result<BookRecord, AppError> {
        caller.require_admin()?;
        let mut v = Violations::new();
        let title = patch
            .title
            .and_then(|t| v.check("title", text::required(&t, MAX_TITLE_CHARS)));
        let description = patch.description.and_then(|d| {
            v.check(
                "description",
                text::optional(d.as_deref(), MAX_DESCRIPTION_CHARS),
            )
        });
        let price = patch.price.and_then(|p| v.check("price", p.as_price()));
        v.into_result()?;
        let changes = BookChanges {
            title,
            author_id: patch.author_id,
            description,
            price,
            published_at: patch.published_at,
        };
        self.books
            .update(id, changes)
            .await
            .map_err(missing_author)?
            .ok_or(AppError::NotFound("book"))
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        caller.require_admin()?;
        match self.books.delete(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::NotFound("book")),
            Err(DbError::ForeignKey(_)) => Err(AppError::conflict(
                "book_has_orders",
                "The book has orders and cannot be deleted.",
            )),
            Err(other) => Err(other.into()),
        }
    }
}

fn missing_author(err: DbError) -> AppError {
    match err {
        DbError::ForeignKey(_) => {
            AppError::invalid("author_id", "does not refer to an existing author")
        }
        other => other.into(),
    }
}
