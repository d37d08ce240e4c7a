//! Storage of user accounts. SQL only: no HTTP, no business rules.

use chrono::{DateTime, Utc};
use sea_query::{
    Condition, Expr, ExprTrait, Iden, InsertStatement, OnConflict, Query, SelectStatement,
};
use uuid::Uuid;

use crate::db::{Db, DbError, Listing};
use crate::domain::{Email, Page, PageRequest};

#[derive(Iden, Clone, Copy)]
pub enum Users {
    Table,
    Id,
    Email,
    FullName,
    HashedPassword,
    IsActive,
    IsAdmin,
    CreatedAt,
    UpdatedAt,
}

const COLUMNS: [Users; 8] = [
    Users::Id,
    Users::Email,
    Users::FullName,
    Users::HashedPassword,
    Users::IsActive,
    Users::IsAdmin,
    Users::CreatedAt,
    Users::UpdatedAt,
];

/// A row of `users`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated account to create.
pub struct NewUser {
    pub email: Email,
    pub full_name: String,
    pub hashed_password: String,
    pub is_admin: bool,
}

/// Validated changes to an account; `None` leaves a column as it is.
#[derive(Default)]
pub struct UserChanges {
    pub email: Option<Email>,
    pub full_name: Option<String>,
    pub hashed_password: Option<String>,
    pub is_active: Option<bool>,
    pub is_admin: Option<bool>,
}

#[derive(Clone)]
pub struct UserRepository {
    db: Db,
}

impl UserRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Inserts an account; a taken e-mail is `DbError::Unique` (constraint `users_email_key`).
    pub async fn insert(&self, user: NewUser) -> Result<UserRecord, DbError> {
        let stmt = insert(user)?.returning_all().to_owned();
        self.db.fetch_one(&stmt).await
    }

    /// Creates the account, or makes the existing one with that e-mail an active
    /// administrator with the given password.
    pub async fn upsert_admin(&self, user: NewUser) -> Result<UserRecord, DbError> {
        let stmt = insert(NewUser {
            is_admin: true,
            ..user
        })?
        .on_conflict(
            OnConflict::column(Users::Email)
                .update_columns([
                    Users::HashedPassword,
                    Users::IsActive,
                    Users::IsAdmin,
                    Users::UpdatedAt,
                ])
                .to_owned(),
        )
        .returning_all()
        .to_owned();
        self.db.fetch_one(&stmt).await
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<UserRecord>, DbError> {
        self.db
            .fetch_optional(&select().and_where(Expr::col(Users::Id).eq(id)).to_owned())
            .await
    }

    pub async fn find_by_email(&self, email: &Email) -> Result<Option<UserRecord>, DbError> {
        let stmt = select()
            .and_where(Expr::col(Users::Email).eq(email.as_str()))
            .to_owned();
        self.db.fetch_optional(&stmt).await
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<UserRecord>, DbError> {
        let listing = Listing {
            select: select(),
            filter: Condition::all(),
            created_at: Users::CreatedAt,
            id: Users::Id,
            kept_count: None,
        };
        self.db.fetch_page(listing, page).await
    }

    /// Applies `changes` and returns the updated row, or `None` if there is no such user.
    pub async fn update(
        &self,
        id: Uuid,
        changes: UserChanges,
    ) -> Result<Option<UserRecord>, DbError> {
        let mut stmt = Query::update();
        stmt.table(Users::Table)
            .value(Users::UpdatedAt, Utc::now())
            .and_where(Expr::col(Users::Id).eq(id))
            .returning_all();
        if let Some(email) = changes.email {
            stmt.value(Users::Email, email.into_inner());
        }
        if let Some(full_name) = changes.full_name {
            stmt.value(Users::FullName, full_name);
        }
        if let Some(hash) = changes.hashed_password {
            stmt.value(Users::HashedPassword, hash);
        }
        if let Some(is_active) = changes.is_active {
            stmt.value(Users::IsActive, is_active);
        }
        if let Some(is_admin) = changes.is_admin {
            stmt.value(Users::IsAdmin, is_admin);
        }
        self.db.fetch_optional(&stmt).await
    }
}

/// `INSERT` of a new, active account.
fn insert(user: NewUser) -> Result<InsertStatement, DbError> {
    let now = Utc::now();
    Ok(Query::insert()
        .into_table(Users::Table)
        .columns(COLUMNS)
        .values([
            Uuid::now_v7().into(),
            user.email.into_inner().into(),
            user.full_name.into(),
            user.hashed_password.into(),
            true.into(),
            user.is_admin.into(),
            now.into(),
            now.into(),
        ])?
        .to_owned())
}

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .to_owned()
}
