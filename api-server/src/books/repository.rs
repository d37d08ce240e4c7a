//! Storage of books. SQL only: no HTTP, no business rules.

use chrono::{DateTime, NaiveDate, Utc};
use sea_query::{Condition, Expr, ExprTrait, Iden, LikeExpr, LockType, Query, SelectStatement};
use uuid::Uuid;

use super::model::{Book, BookChanges, BookFilter, NewBook};
use crate::db::{Db, DbError, Listing};
use crate::domain::{Freshness, Money, Page, PageRequest, Precondition};
use crate::error::AppError;

#[derive(Iden, Clone, Copy)]
enum Books {
    Table,
    Id,
    Title,
    /// `title` lower-cased by the server (Unicode-aware), for the title filter.
    TitleFolded,
    AuthorId,
    Description,
    PriceCents,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

const COLUMNS: [Books; 8] = [
    Books::Id,
    Books::Title,
    Books::AuthorId,
    Books::Description,
    Books::PriceCents,
    Books::PublishedAt,
    Books::CreatedAt,
    Books::UpdatedAt,
];

/// A row of `books`.
#[derive(sqlx::FromRow)]
struct BookRow {
    id: Uuid,
    title: String,
    author_id: Uuid,
    description: Option<String>,
    price_cents: i64,
    published_at: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<BookRow> for Book {
    fn from(row: BookRow) -> Self {
        Self {
            id: row.id,
            title: row.title,
            author_id: row.author_id,
            description: row.description,
            price: Money::from_cents(row.price_cents),
            published_at: row.published_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Clone)]
pub struct BookRepository {
    db: Db,
}

impl BookRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Inserts a book; a missing author is invalid input.
    pub async fn insert(&self, book: NewBook) -> Result<Book, AppError> {
        let now = Utc::now();
        let title = book.title.into_inner();
        let folded = title.to_lowercase();
        let stmt = Query::insert()
            .into_table(Books::Table)
            .columns(COLUMNS.into_iter().chain([Books::TitleFolded]))
            .values([
                Uuid::now_v7().into(),
                title.into(),
                book.author_id.into(),
                book.description.map(|d| d.into_inner()).into(),
                book.price.money().cents().into(),
                book.published_at.into(),
                now.into(),
                now.into(),
                folded.into(),
            ])?
            .returning_all()
            .to_owned();
        let row: BookRow = self.db.fetch_one(&stmt).await.map_err(missing_author)?;
        Ok(row.into())
    }

    pub async fn find(&self, id: Uuid, freshness: Freshness) -> Result<Option<Book>, AppError> {
        let stmt = select().and_where(Expr::col(Books::Id).eq(id)).take();
        let row: Option<BookRow> = self.db.reading(freshness).fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    pub async fn list(
        &self,
        filter: BookFilter,
        page: PageRequest,
        freshness: Freshness,
    ) -> Result<Page<Book>, AppError> {
        let reading = self.db.reading(freshness);
        let page: Page<BookRow> = reading.fetch_page(listing(filter), page).await?;
        Ok(page.map(Into::into))
    }

    /// Applies `changes` if the book meets `expected`; `None` if there is no such book.
    /// A missing author is invalid input. With a precondition, the book's row is locked,
    /// checked and changed in one transaction.
    pub async fn update(
        &self,
        id: Uuid,
        changes: BookChanges,
        expected: &Precondition<Book>,
    ) -> Result<Option<Book>, AppError> {
        let mut stmt = Query::update();
        stmt.table(Books::Table)
            .value(Books::UpdatedAt, Utc::now())
            .and_where(Expr::col(Books::Id).eq(id))
            .returning_all();
        if let Some(title) = changes.title {
            stmt.value(Books::TitleFolded, title.as_str().to_lowercase());
            stmt.value(Books::Title, title.into_inner());
        }
        if let Some(author_id) = changes.author_id {
            stmt.value(Books::AuthorId, author_id);
        }
        if let Some(description) = changes.description {
            stmt.value(Books::Description, description.map(|d| d.into_inner()));
        }
        if let Some(price) = changes.price {
            stmt.value(Books::PriceCents, price.money().cents());
        }
        if let Some(published_at) = changes.published_at {
            stmt.value(Books::PublishedAt, published_at);
        }
        if !expected.is_set() {
            let row: Option<BookRow> = self
                .db
                .fetch_optional(&stmt)
                .await
                .map_err(missing_author)?;
            return Ok(row.map(Into::into));
        }
        let mut tx = self.db.begin().await?;
        let current: Option<BookRow> = tx.fetch_optional(&locked(id)).await?;
        let Some(current) = current else {
            return Ok(None);
        };
        if !expected.holds(&current.into()) {
            return Err(AppError::PreconditionFailed);
        }
        let row: Option<BookRow> = tx.fetch_optional(&stmt).await.map_err(missing_author)?;
        tx.commit().await?;
        Ok(row.map(Into::into))
    }

    /// Deletes the book if it meets `expected`; `false` if there was none. A book with
    /// orders (`orders_book_id_fkey`) is a conflict.
    pub async fn delete(&self, id: Uuid, expected: &Precondition<Book>) -> Result<bool, AppError> {
        let stmt = Query::delete()
            .from_table(Books::Table)
            .and_where(Expr::col(Books::Id).eq(id))
            .to_owned();
        if !expected.is_set() {
            return self
                .db
                .execute(&stmt)
                .await
                .map(|n| n > 0)
                .map_err(has_orders);
        }
        let mut tx = self.db.begin().await?;
        let current: Option<BookRow> = tx.fetch_optional(&locked(id)).await?;
        let Some(current) = current else {
            return Ok(false);
        };
        if !expected.holds(&current.into()) {
            return Err(AppError::PreconditionFailed);
        }
        let deleted = tx.execute(&stmt).await.map_err(has_orders)?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}

/// The book has orders.
fn has_orders(err: DbError) -> AppError {
    match err.constraint() {
        Some("orders_book_id_fkey") => AppError::conflict(
            "book_has_orders",
            "The book has orders and cannot be deleted.",
        ),
        _ => err.into(),
    }
}

/// The book's row, locked until the end of the transaction.
fn locked(id: Uuid) -> SelectStatement {
    select()
        .and_where(Expr::col(Books::Id).eq(id))
        .lock(LockType::Update)
        .to_owned()
}

/// The book's author does not exist.
fn missing_author(err: DbError) -> AppError {
    match err.constraint() {
        Some("books_author_id_fkey") => {
            AppError::invalid("author_id", "does not refer to an existing author")
        }
        _ => err.into(),
    }
}

/// The books `filter` matches, as a listing to page through.
fn listing(filter_by: BookFilter) -> Listing<Books> {
    let mut filter = Condition::all();
    if let Some(author_id) = filter_by.author_id {
        filter = filter.add(Expr::col(Books::AuthorId).eq(author_id));
    }
    if let Some(needle) = filter_by.title_contains {
        let pattern = format!("%{}%", escape_like(&needle.as_str().to_lowercase()));
        filter =
            filter.add(Expr::col(Books::TitleFolded).like(LikeExpr::new(pattern).escape('\\')));
    }
    if let Some(min) = filter_by.min_price {
        filter = filter.add(Expr::col(Books::PriceCents).gte(min.cents()));
    }
    if let Some(max) = filter_by.max_price {
        filter = filter.add(Expr::col(Books::PriceCents).lte(max.cents()));
    }
    Listing {
        select: select(),
        filter,
        created_at: Books::CreatedAt,
        id: Books::Id,
        kept_count: Some("books"),
    }
}

fn select() -> SelectStatement {
    Query::select().columns(COLUMNS).from(Books::Table).take()
}

/// Escapes LIKE wildcards so the needle matches literally.
fn escape_like(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len());
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
        assert_eq!(escape_like("plain"), "plain");
    }
}
