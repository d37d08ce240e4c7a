//! Storage of authors. SQL only: no HTTP, no business rules.

use chrono::{DateTime, Utc};
use sea_query::{Condition, Expr, ExprTrait, Iden, Query, SelectStatement};
use uuid::Uuid;

use crate::db::{Db, DbError, Listing};
use crate::domain::{Page, PageRequest};

#[derive(Iden, Clone, Copy)]
pub enum Authors {
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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthorRecord {
    pub id: Uuid,
    pub name: String,
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated author to create.
pub struct NewAuthor {
    pub name: String,
    pub bio: Option<String>,
}

/// Validated changes; `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct AuthorChanges {
    pub name: Option<String>,
    pub bio: Option<Option<String>>,
}

#[derive(Clone)]
pub struct AuthorRepository {
    db: Db,
}

impl AuthorRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(&self, author: NewAuthor) -> Result<AuthorRecord, DbError> {
        let now = Utc::now();
        let stmt = Query::insert()
            .into_table(Authors::Table)
            .columns(COLUMNS)
            .values([
                Uuid::now_v7().into(),
                author.name.into(),
                author.bio.into(),
                now.into(),
                now.into(),
            ])?
            .returning_all()
            .to_owned();
        self.db.fetch_one(&stmt).await
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<AuthorRecord>, DbError> {
        let stmt = select().and_where(Expr::col(Authors::Id).eq(id)).to_owned();
        self.db.fetch_optional(&stmt).await
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<AuthorRecord>, DbError> {
        let listing = Listing {
            select: select(),
            filter: Condition::all(),
            created_at: Authors::CreatedAt,
            id: Authors::Id,
            kept_count: Some("authors"),
        };
        self.db.fetch_page(listing, page).await
    }

    pub async fn update(
        &self,
        id: Uuid,
        changes: AuthorChanges,
    ) -> Result<Option<AuthorRecord>, DbError> {
        let mut stmt = Query::update();
        stmt.table(Authors::Table)
            .value(Authors::UpdatedAt, Utc::now())
            .and_where(Expr::col(Authors::Id).eq(id))
            .returning_all();
        if let Some(name) = changes.name {
            stmt.value(Authors::Name, name);
        }
        if let Some(bio) = changes.bio {
            stmt.value(Authors::Bio, bio);
        }
        self.db.fetch_optional(&stmt).await
    }

    /// Deletes the author; `false` if there was none. An author who still has books is
    /// `DbError::ForeignKey` (constraint `books_author_id_fkey`).
    pub async fn delete(&self, id: Uuid) -> Result<bool, DbError> {
        let stmt = Query::delete()
            .from_table(Authors::Table)
            .and_where(Expr::col(Authors::Id).eq(id))
            .to_owned();
        Ok(self.db.execute(&stmt).await? > 0)
    }
}

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Authors::Table)
        .to_owned()
}
