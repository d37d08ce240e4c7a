//! The database handle shared by every repository.
//!
//! Repositories build each statement once with sea-query; [`Db`] renders it for the
//! backend in use, binds its values and runs it. Adding a backend means adding a
//! variant here, not touching the repositories.

use std::time::Duration;

use anyhow::Context;
use sea_query::{
    Alias, Asterisk, DeleteStatement, Expr, ExprTrait, InsertStatement, IntoColumnRef, Order,
    PostgresQueryBuilder, SelectStatement, UpdateStatement,
};
use sea_query_sqlx::SqlxBinder;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, FromRow, PgPool};

use crate::domain::{Page, PageRequest};
use crate::error::AppError;
use crate::settings::Settings;

/// How long a request waits for a free connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A pool of connections to the application database.
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
}

/// A statement sea-query can render and sqlx can bind.
pub trait Statement: SqlxBinder {}
impl Statement for SelectStatement {}
impl Statement for InsertStatement {}
impl Statement for UpdateStatement {}
impl Statement for DeleteStatement {}

impl Db {
    /// Creates the pool without connecting: the first query connects, so the server can
    /// start (and serve its documentation) before the database is reachable.
    pub fn connect_lazy(settings: &Settings) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(settings.database_max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy(settings.database_url.expose_secret())
            .context("DATABASE_URL is not a valid PostgreSQL URL")?;
        Ok(Self::Postgres(pool))
    }

    /// Applies the migrations in `migrations/` that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Self::Postgres(pool) => sqlx::migrate!("../migrations")
                .run(pool)
                .await
                .context("applying database migrations"),
        }
    }

    /// Runs a statement that yields at most one row.
    pub async fn fetch_optional<T>(&self, stmt: &impl Statement) -> Result<Option<T>, DbError>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            Self::Postgres(pool) => {
                let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
                Ok(sqlx::query_as_with(AssertSqlSafe(sql), values)
                    .fetch_optional(pool)
                    .await?)
            }
        }
    }

    /// Runs a statement that always yields one row, such as `INSERT … RETURNING`.
    pub async fn fetch_one<T>(&self, stmt: &impl Statement) -> Result<T, DbError>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        self.fetch_optional(stmt)
            .await?
            .ok_or_else(|| DbError::Other(anyhow::anyhow!("the statement returned no row")))
    }

    /// Runs a statement and collects every row.
    pub async fn fetch_all<T>(&self, stmt: &impl Statement) -> Result<Vec<T>, DbError>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            Self::Postgres(pool) => {
                let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
                Ok(sqlx::query_as_with(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await?)
            }
        }
    }

    /// Runs a statement and returns how many rows it touched.
    pub async fn execute(&self, stmt: &impl Statement) -> Result<u64, DbError> {
        match self {
            Self::Postgres(pool) => {
                let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
                let done = sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    }

    /// Runs `query` (selected columns and filters, no order) for one page in the stable
    /// order `created_at, id`, and counts every row it matches.
    ///
    /// The count rides along as a window function (`COUNT(*) OVER ()`), so items and
    /// total come from one statement and one snapshot. Only a page past the end, which
    /// has no row to carry the count, costs a second query.
    pub async fn fetch_page<T>(
        &self,
        query: SelectStatement,
        created_at: impl IntoColumnRef + Clone,
        id: impl IntoColumnRef + Clone,
        page: PageRequest,
    ) -> Result<Page<T>, DbError>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let mut rows = query.clone();
        rows.expr_as(Expr::cust("COUNT(*) OVER ()"), Alias::new(TOTAL))
            .order_by(created_at, Order::Asc)
            .order_by(id, Order::Asc)
            .limit(page.limit)
            .offset(page.offset);
        let rows: Vec<Counted<T>> = self.fetch_all(&rows).await?;
        let total = match rows.first() {
            Some(first) => first.total,
            None if page.offset == 0 => 0,
            None => {
                let mut count = query;
                count
                    .clear_selects()
                    .expr_as(Expr::col(Asterisk).count(), Alias::new(TOTAL));
                self.fetch_optional::<Total>(&count)
                    .await?
                    .map_or(0, |t| t.total)
            }
        };
        Ok(Page {
            items: rows.into_iter().map(|r| r.row).collect(),
            total: u64::try_from(total).unwrap_or_default(),
            limit: page.limit,
            offset: page.offset,
        })
    }

    /// Closes every connection; queries after this fail.
    pub async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Name of the column that carries a page's total count.
const TOTAL: &str = "total";

#[derive(FromRow)]
struct Total {
    total: i64,
}

/// A row of a page together with the count of all matching rows.
struct Counted<T> {
    row: T,
    total: i64,
}

impl<'r, T: FromRow<'r, PgRow>> FromRow<'r, PgRow> for Counted<T> {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            row: T::from_row(row)?,
            total: sqlx::Row::try_get(row, TOTAL)?,
        })
    }
}

/// A database failure, classified so that services can map the expected ones.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A named unique constraint was violated.
    #[error("unique constraint {0} violated")]
    Unique(String),
    /// A named foreign-key constraint was violated (a missing parent on insert/update,
    /// remaining children on delete).
    #[error("foreign key constraint {0} violated")]
    ForeignKey(String),
    /// A named check constraint was violated.
    #[error("check constraint {0} violated")]
    Check(String),
    /// Text the database cannot store, such as a NUL byte.
    #[error("invalid text for the database")]
    InvalidText,
    /// The database could not be reached or no connection was free in time.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error(transparent)]
    Other(anyhow::Error),
}

impl From<sea_query::error::Error> for DbError {
    fn from(err: sea_query::error::Error) -> Self {
        Self::Other(anyhow::Error::new(err).context("building a statement"))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let constraint = db.constraint().unwrap_or_default().to_owned();
            match db.code().as_deref() {
                Some("23505") => return Self::Unique(constraint),
                Some("23503") => return Self::ForeignKey(constraint),
                Some("23514") => return Self::Check(constraint),
                // character_not_in_repertoire, untranslatable_character
                Some("22021" | "22P05") => return Self::InvalidText,
                _ => {}
            }
        }
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(err)
            }
            other => Self::Other(other.into()),
        }
    }
}

/// Any database failure a service did not map itself is a 503 or a 500.
impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(source) => Self::Unavailable(source.into()),
            DbError::InvalidText => Self::invalid("body", "contains text that cannot be stored"),
            other => Self::Internal(other.into()),
        }
    }
}
