//! Storage of authors. SQL only: no HTTP, no business rules.

use chrono::{DateTime, Utc};
use sea_query::{Condition, Expr, ExprTrait, Iden, LockType, Query, SelectStatement};
use uuid::Uuid;

use super::model::{Author, AuthorChanges, NewAuthor};
use crate::db::{Db, DbError, Listing};
use crate::domain::{Freshness, Page, PageRequest, Precondition};
use crate::error::AppError;

#[derive(Iden, Clone, Copy)]
enum Authors {
    Table,
    Id,
    Name,
    Bio,
    CreatedAt,
    UpdatedAt,
}

const COLUMNS: [Authors; 5] = [
    Authors::Id,
    Authors::Name,
    Authors::Bio,
    Authors::CreatedAt,
    Authors::UpdatedAt,
];

/// A row of `authors`.
#[derive(sqlx::FromRow)]
struct AuthorRow {
    id: Uuid,
    name: String,
    bio: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AuthorRow> for Author {
    fn from(row: AuthorRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            bio: row.bio,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Clone)]
pub struct AuthorRepository {
    db: Db,
}

impl AuthorRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(&self, author: NewAuthor) -> Result<Author, AppError> {
        let now = Utc::now();
        let stmt = Query::insert()
            .into_table(Authors::Table)
            .columns(COLUMNS)
            .values([
                Uuid::now_v7().into(),
                author.name.into_inner().into(),
                author.bio.map(|bio| bio.into_inner()).into(),
                now.into(),
                now.into(),
            ])?
            .returning_all()
            .to_owned();
        let row: AuthorRow = self.db.fetch_one(&stmt).await?;
        Ok(row.into())
    }

    pub async fn find(&self, id: Uuid, freshness: Freshness) -> Result<Option<Author>, AppError> {
        let stmt = select().and_where(Expr::col(Authors::Id).eq(id)).take();
        let row: Option<AuthorRow> = self.db.reading(freshness).fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    pub async fn list(
        &self,
        page: PageRequest,
        freshness: Freshness,
    ) -> Result<Page<Author>, AppError> {
        let listing = Listing {
            select: select(),
            filter: Condition::all(),
            created_at: Authors::CreatedAt,
            id: Authors::Id,
            kept_count: Some("authors"),
        };
        let page: Page<AuthorRow> = self.db.reading(freshness).fetch_page(listing, page).await?;
        Ok(page.map(Into::into))
    }

    /// Applies `changes` if the author meets `expected`; `None` if there is no such
    /// author. With a precondition, the author's row is locked, checked and changed in
    /// one transaction.
    pub async fn update(
        &self,
        id: Uuid,
        changes: AuthorChanges,
        expected: &Precondition<Author>,
    ) -> Result<Option<Author>, AppError> {
        let mut stmt = Query::update();
        stmt.table(Authors::Table)
            .value(Authors::UpdatedAt, Utc::now())
            .and_where(Expr::col(Authors::Id).eq(id))
            .returning_all();
        if let Some(name) = changes.name {
            stmt.value(Authors::Name, name.into_inner());
        }
        if let Some(bio) = changes.bio {
            stmt.value(Authors::Bio, bio.map(|bio| bio.into_inner()));
        }
        if !expected.is_set() {
            let row: Option<AuthorRow> = self.db.fetch_optional(&stmt).await?;
            return Ok(row.map(Into::into));
        }
        let mut tx = self.db.begin().await?;
        let current: Option<AuthorRow> = tx.fetch_optional(&locked(id)).await?;
        let Some(current) = current else {
            return Ok(None);
        };
        if !expected.holds(&current.into()) {
            return Err(AppError::PreconditionFailed);
        }
        let row: Option<AuthorRow> = tx.fetch_optional(&stmt).await?;
        tx.commit().await?;
        Ok(row.map(Into::into))
    }

    /// Deletes the author if it meets `expected`; `false` if there was none. An author
    /// who still has books (`books_author_id_fkey`) is a conflict.
    pub async fn delete(
        &self,
        id: Uuid,
        expected: &Precondition<Author>,
    ) -> Result<bool, AppError> {
        let stmt = Query::delete()
            .from_table(Authors::Table)
            .and_where(Expr::col(Authors::Id).eq(id))
            .to_owned();
        if !expected.is_set() {
            return self
                .db
                .execute(&stmt)
                .await
                .map(|n| n > 0)
                .map_err(has_books);
        }
        let mut tx = self.db.begin().await?;
        let current: Option<AuthorRow> = tx.fetch_optional(&locked(id)).await?;
        let Some(current) = current else {
            return Ok(false);
        };
        if !expected.holds(&current.into()) {
            return Err(AppError::PreconditionFailed);
        }
        let deleted = tx.execute(&stmt).await.map_err(has_books)?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}

/// The author still has books.
fn has_books(err: DbError) -> AppError {
    match err.constraint() {
        Some("books_author_id_fkey") => AppError::conflict(
            "author_has_books",
            "The author still has books; delete or reassign them first.",
        ),
        _ => err.into(),
    }
}

/// The author's row, locked until the end of the transaction.
fn locked(id: Uuid) -> SelectStatement {
    select()
        .and_where(Expr::col(Authors::Id).eq(id))
        .lock(LockType::Update)
        .to_owned()
}

fn select() -> SelectStatement {
    Query::select().columns(COLUMNS).from(Authors::Table).take()
}
