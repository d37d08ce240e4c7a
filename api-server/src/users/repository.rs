//! Storage of user accounts. SQL only: no HTTP, no business rules.

use chrono::{DateTime, Utc};
use sea_query::{
    Condition, Expr, ExprTrait, Iden, InsertStatement, LockType, OnConflict, Order, Query,
    SelectStatement, UpdateStatement,
};
use uuid::Uuid;

use super::model::{NewUser, User, UserChanges};
use crate::db::{Db, DbError, Listing};
use crate::domain::{Page, PageRequest, Precondition};
use crate::error::AppError;

#[derive(Iden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Email,
    FullName,
    HashedPassword,
    IsActive,
    IsAdmin,
    CreatedAt,
    UpdatedAt,
    SessionsValidAfter,
}

const COLUMNS: [Users; 9] = [
    Users::Id,
    Users::Email,
    Users::FullName,
    Users::HashedPassword,
    Users::IsActive,
    Users::IsAdmin,
    Users::CreatedAt,
    Users::UpdatedAt,
    Users::SessionsValidAfter,
];

/// A row of `users`.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    full_name: String,
    hashed_password: String,
    is_active: bool,
    is_admin: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    sessions_valid_after: Option<DateTime<Utc>>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            full_name: row.full_name,
            password_hash: row.hashed_password,
            is_active: row.is_active,
            is_admin: row.is_admin,
            created_at: row.created_at,
            updated_at: row.updated_at,
            sessions_valid_after: row.sessions_valid_after,
        }
    }
}

/// Just the id of a row.
#[derive(sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

#[derive(Clone)]
pub struct UserRepository {
    db: Db,
}

impl UserRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Inserts an account; a taken e-mail is a conflict.
    pub async fn insert(&self, user: NewUser) -> Result<User, AppError> {
        let stmt = insert(user)?.returning_all().to_owned();
        let row: UserRow = self.db.fetch_one(&stmt).await.map_err(email_taken)?;
        Ok(row.into())
    }

    /// Inserts an account unless one has its e-mail already: `None` then, and nothing
    /// changes.
    pub async fn insert_if_absent(&self, user: NewUser) -> Result<Option<User>, AppError> {
        let stmt = insert(user)?
            .on_conflict(OnConflict::column(Users::Email).do_nothing().to_owned())
            .returning_all()
            .to_owned();
        let row: Option<UserRow> = self.db.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<User>, AppError> {
        let stmt = select().and_where(Expr::col(Users::Id).eq(id)).take();
        let row: Option<UserRow> = self.db.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    /// The account with this (normalised) e-mail.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>, AppError> {
        let stmt = select()
            .and_where(Expr::col(Users::Email).eq(email))
            .to_owned();
        let row: Option<UserRow> = self.db.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<User>, AppError> {
        let listing = Listing {
            select: select(),
            filter: Condition::all(),
            created_at: Users::CreatedAt,
            id: Users::Id,
            kept_count: None,
        };
        let page: Page<UserRow> = self.db.fetch_page(listing, page).await?;
        Ok(page.map(Into::into))
    }

    /// Applies `changes` if the account meets `expected`, and returns the updated row, or
    /// `None` if there is no such user.
    ///
    /// Changes that end an administrator's rights (`is_admin` or `is_active` set to
    /// false) are refused with 409 `last_admin` when the account is the last active
    /// administrator. That is decided in one transaction that locks every active
    /// administrator first, so two administrators demoting each other at once cannot
    /// both succeed. A precondition is checked in a transaction too, with the account's
    /// row locked (after the administrators, always in that order).
    pub async fn update(
        &self,
        id: Uuid,
        changes: UserChanges,
        expected: &Precondition<User>,
    ) -> Result<Option<User>, AppError> {
        let demotes = changes.is_admin == Some(false) || changes.is_active == Some(false);
        let stmt = update(id, changes);
        if !demotes && !expected.is_set() {
            let row: Option<UserRow> = self.db.fetch_optional(&stmt).await.map_err(email_taken)?;
            return Ok(row.map(Into::into));
        }
        let mut tx = self.db.begin().await?;
        let admins: Vec<IdRow> = if demotes {
            let admins = Query::select()
                .column(Users::Id)
                .from(Users::Table)
                .and_where(Expr::col(Users::IsAdmin).eq(true))
                .and_where(Expr::col(Users::IsActive).eq(true))
                .order_by(Users::Id, Order::Asc)
                .lock(LockType::Update)
                .to_owned();
            tx.fetch_all(&admins).await?
        } else {
            Vec::new()
        };
        if expected.is_set() {
            let current = select()
                .and_where(Expr::col(Users::Id).eq(id))
                .lock(LockType::Update)
                .to_owned();
            let current: Option<UserRow> = tx.fetch_optional(&current).await?;
            let Some(current) = current else {
                return Ok(None);
            };
            if !expected.holds(&current.into()) {
                return Err(AppError::PreconditionFailed);
            }
        }
        if let [only] = admins.as_slice()
            && only.id == id
        {
            return Err(AppError::conflict(
                "last_admin",
                "This is the last active administrator; make another one first.",
            ));
        }
        let row: Option<UserRow> = tx.fetch_optional(&stmt).await.map_err(email_taken)?;
        tx.commit().await?;
        Ok(row.map(Into::into))
    }
}

/// The e-mail of the account is another account's already.
fn email_taken(err: DbError) -> AppError {
    match err.constraint() {
        Some("users_email_key") => {
            AppError::conflict("email_taken", "An account with this e-mail already exists.")
        }
        _ => err.into(),
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
            user.full_name.into_inner().into(),
            user.password_hash.into(),
            true.into(),
            user.is_admin.into(),
            now.into(),
            now.into(),
            None::<DateTime<Utc>>.into(),
        ])?
        .to_owned())
}

/// `UPDATE` of the columns `changes` sets, returning the row.
fn update(id: Uuid, changes: UserChanges) -> UpdateStatement {
    let mut stmt = Query::update();
    stmt.table(Users::Table)
        .value(Users::UpdatedAt, Utc::now())
        .and_where(Expr::col(Users::Id).eq(id))
        .returning_all();
    if let Some(email) = changes.email {
        stmt.value(Users::Email, email.into_inner());
    }
    if let Some(full_name) = changes.full_name {
        stmt.value(Users::FullName, full_name.into_inner());
    }
    if let Some(hash) = changes.password_hash {
        stmt.value(Users::HashedPassword, hash);
    }
    if let Some(is_active) = changes.is_active {
        stmt.value(Users::IsActive, is_active);
    }
    if let Some(is_admin) = changes.is_admin {
        stmt.value(Users::IsAdmin, is_admin);
    }
    if let Some(after) = changes.sessions_valid_after {
        stmt.value(Users::SessionsValidAfter, after);
    }
    stmt
}

fn select() -> SelectStatement {
    Query::select().columns(COLUMNS).from(Users::Table).take()
}
