//! Storage of books. SQL only: no HTTP, no business rules.

use chrono::{DateTime, NaiveDate, Utc};
use sea_query::{Condition, Expr, ExprTrait, Iden, LikeExpr, Query, SelectStatement};
use uuid::Uuid;

use crate::db::{Db, DbError, Listing};
use crate::domain::{Money, Page, PageRequest};

#[derive(Iden, Clone, Copy)]
pub enum Books {
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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BookRecord {
    pub id: Uuid,
    pub title: String,
    pub author_id: Uuid,
    pub description: Option<String>,
    pub price_cents: i64,
    pub published_at: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated book to create.
pub struct NewBook {
    pub title: String,
    pub author_id: Uuid,
    pub description: Option<String>,
    pub price: Money,
    pub published_at: Option<NaiveDate>,
}

/// Validated changes; `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct BookChanges {
    pub title: Option<String>,
    pub author_id: Option<Uuid>,
    pub description: Option<Option<String>>,
    pub price: Option<Money>,
    pub published_at: Option<Option<NaiveDate>>,
}

/// Which books to list; every filter is optional and they combine with AND.
#[derive(Debug, Default)]
pub struct BookFilter {
    pub author_id: Option<Uuid>,
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
}

#[derive(Clone)]
pub struct BookRepository {
    db: Db,
}

impl BookRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Inserts a book; a missing author is `DbError::ForeignKey` (constraint `books_author_id_fkey`).
    pub async fn insert(&self, book: NewBook) -> Result<BookRecord, DbError> {
        let now = Utc::now();
        let folded = book.title.to_lowercase();
        let stmt = Query::insert()
            .into_table(Books::Table)
            .columns(COLUMNS.into_iter().chain([Books::TitleFolded]))
            .values([
                Uuid::now_v7().into(),
                book.title.into(),
                book.author_id.into(),
                book.description.into(),
                book.price.cents().into(),
                book.published_at.into(),
                now.into(),
                now.into(),
                folded.into(),
            ])?
            .returning_all()
            .to_owned();
        self.db.fetch_one(&stmt).await
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<BookRecord>, DbError> {
        let stmt = select().and_where(Expr::col(Books::Id).eq(id)).to_owned();
        self.db.fetch_optional(&stmt).await
    }

    pub async fn list(
        &self,
        filter: BookFilter,
        page: PageRequest,
    ) -> Result<Page<BookRecord>, DbError> {
        self.db.fetch_page(listing(filter), page).await
    }

    pub async fn update(
        &self,
        id: Uuid,
        changes: BookChanges,
    ) -> Result<Option<BookRecord>, DbError> {
        let mut stmt = Query::update();
        stmt.table(Books::Table)
            .value(Books::UpdatedAt, Utc::now())
            .and_where(Expr::col(Books::Id).eq(id))
            .returning_all();
        if let Some(title) = changes.title {
            stmt.value(Books::TitleFolded, title.to_lowercase());
            stmt.value(Books::Title, title);
        }
        if let Some(author_id) = changes.author_id {
            stmt.value(Books::AuthorId, author_id);
        }
        if let Some(description) = changes.description {
            stmt.value(Books::Description, description);
        }
        if let Some(price) = changes.price {
            stmt.value(Books::PriceCents, price.cents());
        }
        if let Some(published_at) = changes.published_at {
            stmt.value(Books::PublishedAt, published_at);
        }
        self.db.fetch_optional(&stmt).await
    }

    /// Deletes the book; `false` if there was none. A book with orders is
    /// `DbError::ForeignKey` (constraint `orders_book_id_fkey`).
    pub async fn delete(&self, id: Uuid) -> Result<bool, DbError> {
        let stmt = Query::delete()
            .from_table(Books::Table)
            .and_where(Expr::col(Books::Id).eq(id))
            .to_owned();
        Ok(self.db.execute(&stmt).await? > 0)
    }
}

/// The books `filter` matches, as a listing to page through.
fn listing(filter_by: BookFilter) -> Listing<Books> {
    let mut filter = Condition::all();
    if let Some(author_id) = filter_by.author_id {
        filter = filter.add(Expr::col(Books::AuthorId).eq(author_id));
    }
    if let Some(needle) = filter_by.title_contains {
        let pattern = format!("%{}%", escape_like(&needle.to_lowercase()));
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
    Query::select()
        .columns(COLUMNS)
        .from(Books::Table)
        .to_owned()
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
    use sea_query::PostgresQueryBuilder;

    use super::{BookFilter, escape_like, listing};
    use crate::domain::PageRequest;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
        assert_eq!(escape_like("plain"), "plain");
    }

    /// The benchmark measures the list page's statement on its own, from a copy in
    /// `bench/sql/books_page.sql`: the copy must be what the server sends.
    #[test]
    fn the_benchmark_runs_the_statement_of_the_list_page() {
        let script = include_str!("../../../bench/sql/books_page.sql");
        let copy = script
            .lines()
            .find(|line| line.starts_with("SELECT"))
            .expect("a SELECT line")
            .trim_end_matches(';')
            .replace(":offset", "40");
        let page = PageRequest {
            limit: 20,
            offset: 40,
        };
        let (rows, _) = listing(BookFilter::default()).statements(page, true);
        assert_eq!(rows.to_string(PostgresQueryBuilder), copy);
    }
}
