//! The database handle shared by every repository.
//!
//! Repositories build each statement once with sea-query; [`Db`] renders it for the
//! backend in use (PostgreSQL, or the embedded SQLite file), binds its values and runs
//! it. No repository knows which backend it talks to.

mod error;
mod page;
mod pg_pool;
mod transaction;

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sea_query::{
    DeleteStatement, InsertStatement, PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder,
    UpdateStatement,
};
use sea_query_sqlx::SqlxBinder;
use secrecy::ExposeSecret;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, FromRow, Sqlite, SqlitePool};

pub use error::DbError;
pub use page::Listing;
pub use pg_pool::PgPool;
pub use transaction::Transaction;

use crate::settings::Settings;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working
/// directory, created on first start.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://bookstore.db";

/// How long a SQLite write waits for another writer to finish: concurrent writes take
/// turns instead of failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to the application database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    /// The longest a statement may wait for a connection, and then run: past it the
    /// request fails fast with 503 instead of hanging on a stalled database.
    timeout: Duration,
}

#[derive(Clone, Debug)]
pub enum Pool {
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

/// Renders `$stmt` for the backend of `$db` and evaluates `$run` (a future using the SQL
/// text, its bound values and a connection from the pool, yielding a `sqlx` result)
/// within the statement timeout, whatever the backend.
macro_rules! on_backend {
    ($db:expr, $stmt:expr, |$sql:ident, $values:ident, $conn:ident| $run:expr) => {{
        let deadline = tokio::time::Instant::now() + $db.timeout;
        match &$db.pool {
            Pool::Postgres(pool) => {
                let ($sql, $values) = $stmt.build_sqlx(PostgresQueryBuilder);
                let $sql = AssertSqlSafe($sql);
                let mut pooled = pool.acquire(deadline, $db.timeout).await?;
                let $conn = pooled.get()?;
                match tokio::time::timeout_at(deadline, async { $run }).await {
                    Ok(outcome) => {
                        pooled.release(pg_pool::reusable(&outcome));
                        Ok(outcome?)
                    }
                    // Dropped mid-statement, the connection is closed.
                    Err(_) => Err(DbError::TimedOut($db.timeout)),
                }
            }
            Pool::Sqlite(pool) => {
                let ($sql, $values) = $stmt.build_sqlx(SqliteQueryBuilder);
                let $sql = AssertSqlSafe($sql);
                let mut conn = checkout(pool, deadline, $db.timeout).await?;
                let $conn = &mut *conn;
                let result = tokio::time::timeout_at(deadline, async { $run }).await;
                check_in(conn, result, $db.timeout)
            }
        }
    }};
}

/// Takes a SQLite connection from the pool by `deadline`.
async fn checkout(
    pool: &SqlitePool,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<PoolConnection<Sqlite>, DbError> {
    match tokio::time::timeout_at(deadline, pool.acquire()).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(DbError::TimedOut(timeout)),
    }
}

/// Gives a SQLite connection back after a statement, and the statement's result.
///
/// A connection whose statement timed out is thrown away (the pool opens a new one),
/// and what `sqlx` runs on a connection it takes back is bounded by the statement
/// timeout too, so that nothing can hold a place in the pool forever.
fn check_in<T>(
    mut conn: PoolConnection<Sqlite>,
    result: Result<Result<T, sqlx::Error>, tokio::time::error::Elapsed>,
    timeout: Duration,
) -> Result<T, DbError> {
    let Ok(result) = result else {
        drop(conn.detach());
        return Err(DbError::TimedOut(timeout));
    };
    // What dropping the connection would run, under a time limit; `return_to_pool` is
    // sqlx's own drop handler (hidden from its docs, public for its other crates).
    let returning = conn.return_to_pool();
    drop(conn);
    tokio::spawn(async move {
        if tokio::time::timeout(timeout, returning).await.is_err() {
            tracing::warn!("a database connection did not answer when released; closed it");
        }
    });
    Ok(result?)
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
        let timeout = settings.database_timeout;
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // PostgreSQL stops a statement that runs past the timeout by itself, so that
            // one the server gave up on does not go on using the database.
            let options = PgConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid PostgreSQL URL")?
                .options([("statement_timeout", timeout.as_millis().to_string())]);
            Pool::Postgres(PgPool::new(options, max))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid SQLite URL")?
                .create_if_missing(true)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            // SQLite waits up to its busy timeout for another writer, on top of the
            // statement timeout used for PostgreSQL.
            let pool = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(max)
                .acquire_timeout(timeout + SQLITE_BUSY_TIMEOUT)
                .connect_lazy_with(options);
            Pool::Sqlite(pool)
        } else {
            bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite:")
        };
        let timeout = match pool {
            Pool::Postgres(_) => timeout,
            Pool::Sqlite(_) => timeout + SQLITE_BUSY_TIMEOUT,
        };
        Ok(Self { pool, timeout })
    }

    /// The connection pool, for what only one backend has (its file name, say).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A short name of the backend, for logs.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Postgres(_) => "PostgreSQL",
            Pool::Sqlite(_) => "SQLite",
        }
    }

    /// Whether the database answers a trivial query (within the statement timeout).
    pub async fn ping(&self) -> Result<(), DbError> {
        let stmt = sea_query::Query::select()
            .expr(sea_query::Expr::val(1))
            .to_owned();
        self.execute(&stmt).await.map(drop)
    }

    /// Applies the migrations of this backend (`migrations/postgres` or
    /// `migrations/sqlite`) that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let deadline = tokio::time::Instant::now() + self.timeout;
                let mut pooled = pool.acquire(deadline, self.timeout).await.context(
                    "DATABASE_URL: cannot connect to PostgreSQL (if it requires TLS, check \
                         sslmode and sslrootcert)",
                )?;
                let conn = pooled.get()?;
                // A migration may run longer than any request's statement: no timeout on
                // this connection, which is closed afterwards rather than given back.
                sqlx::raw_sql("SET statement_timeout = 0")
                    .execute(&mut *conn)
                    .await
                    .context("lifting the statement timeout for the migrations")?;
                sqlx::migrate!("../migrations/postgres").run(conn).await
            }
            Pool::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
        }
        .context("applying database migrations")
    }

    /// Runs a statement that yields at most one row.
    pub async fn fetch_optional<T: Row>(
        &self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        on_backend!(self, stmt, |sql, values, conn| sqlx::query_as_with(
            sql, values
        )
        .fetch_optional(conn)
        .await)
    }

    /// Runs a statement that always yields one row, such as `INSERT … RETURNING`.
    pub async fn fetch_one<T: Row>(&self, stmt: &impl Statement) -> Result<T, DbError> {
        self.fetch_optional(stmt)
            .await?
            .ok_or_else(|| DbError::Other(anyhow::anyhow!("the statement returned no row")))
    }

    /// Runs a statement and collects every row.
    pub async fn fetch_all<T: Row>(&self, stmt: &impl Statement) -> Result<Vec<T>, DbError> {
        on_backend!(self, stmt, |sql, values, conn| sqlx::query_as_with(
            sql, values
        )
        .fetch_all(conn)
        .await)
    }

    /// Runs a statement and returns how many rows it touched.
    pub async fn execute(&self, stmt: &impl Statement) -> Result<u64, DbError> {
        on_backend!(self, stmt, |sql, values, conn| sqlx::query_with(
            sql, values
        )
        .execute(conn)
        .await
        .map(|done| done.rows_affected()))
    }

    /// Closes every connection; queries after this fail.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }
}

/// How many connections the pool holds, at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, in use or idle.
    pub size: u32,
    /// Open connections waiting for a statement.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

impl Db {
    /// The pool's connection counts, for the metrics.
    pub fn pool_stats(&self) -> PoolStats {
        match &self.pool {
            Pool::Postgres(pool) => pool.stats(),
            Pool::Sqlite(pool) => PoolStats {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            },
        }
    }
}
