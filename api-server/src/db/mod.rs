//! The database handle shared by every repository.
//!
//! Repositories build each statement once with sea-query; [`Db`] renders it for the
//! backend in use (PostgreSQL, or the embedded SQLite file), binds its values and runs
//! it. No repository knows which backend it talks to.

mod error;
mod page;

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sea_query::{
    DeleteStatement, InsertStatement, PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder,
    UpdateStatement,
};
use sea_query_sqlx::SqlxBinder;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, FromRow, PgPool, SqlitePool};

pub use error::DbError;

use crate::settings::Settings;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working
/// directory, created on first start.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://bookstore.db";

/// How long a request waits for a free connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a SQLite write waits for another writer to finish: concurrent writes take
/// turns instead of failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to the application database.
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A statement sea-query can render and sqlx can bind.
pub trait Statement: SqlxBinder {}
impl Statement for SelectStatement {}
impl Statement for InsertStatement {}
impl Statement for UpdateStatement {}
impl Statement for DeleteStatement {}

/// A row type that decodes from either backend.
pub trait Row: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{}

/// Renders `$stmt` for the backend of `$db` and evaluates `$body` with the SQL text, its
/// bound values and the pool, whatever the backend.
macro_rules! on_backend {
    ($db:expr, $stmt:expr, |$sql:ident, $values:ident, $pool:ident| $body:expr) => {
        match $db {
            Db::Postgres($pool) => {
                let ($sql, $values) = $stmt.build_sqlx(PostgresQueryBuilder);
                let $sql = AssertSqlSafe($sql);
                $body
            }
            Db::Sqlite($pool) => {
                let ($sql, $values) = $stmt.build_sqlx(SqliteQueryBuilder);
                let $sql = AssertSqlSafe($sql);
                $body
            }
        }
    };
}

impl Db {
    /// Creates the pool without connecting: the first query connects, so the server can
    /// start (and serve its documentation) before the database is reachable.
    pub fn connect_lazy(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings
            .database_url
            .as_ref()
            .map_or(DEFAULT_SQLITE_URL, |url| url.expose_secret());
        let max = settings.database_max_connections;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy(url)
                .context("DATABASE_URL is not a valid PostgreSQL URL")?;
            Ok(Self::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid SQLite URL")?
                .create_if_missing(true)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options);
            Ok(Self::Sqlite(pool))
        } else {
            bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite:")
        }
    }

    /// A short name of the backend, for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "PostgreSQL",
            Self::Sqlite(_) => "SQLite",
        }
    }

    /// Applies the migrations of this backend (`migrations/postgres` or
    /// `migrations/sqlite`) that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let applied = match self {
            Self::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await,
            Self::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
        };
        applied.context("applying database migrations")
    }

    /// Runs a statement that yields at most one row.
    pub async fn fetch_optional<T: Row>(
        &self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        on_backend!(self, stmt, |sql, values, pool| Ok(sqlx::query_as_with(
            sql, values
        )
        .fetch_optional(pool)
        .await?))
    }

    /// Runs a statement that always yields one row, such as `INSERT … RETURNING`.
    pub async fn fetch_one<T: Row>(&self, stmt: &impl Statement) -> Result<T, DbError> {
        self.fetch_optional(stmt)
            .await?
            .ok_or_else(|| DbError::Other(anyhow::anyhow!("the statement returned no row")))
    }

    /// Runs a statement and collects every row.
    pub async fn fetch_all<T: Row>(&self, stmt: &impl Statement) -> Result<Vec<T>, DbError> {
        on_backend!(self, stmt, |sql, values, pool| Ok(sqlx::query_as_with(
            sql, values
        )
        .fetch_all(pool)
        .await?))
    }

    /// Runs a statement and returns how many rows it touched.
    pub async fn execute(&self, stmt: &impl Statement) -> Result<u64, DbError> {
        on_backend!(self, stmt, |sql, values, pool| Ok(sqlx::query_with(
            sql, values
        )
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Closes every connection; queries after this fail.
    pub async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
            Self::Sqlite(pool) => pool.close().await,
        }
    }
}
