//! The database handle shared by every repository.
//!
//! Repositories build each statement once with sea-query; [`Db`] renders it for the
//! backend in use (PostgreSQL, or the embedded SQLite file), binds its values and runs
//! it. No repository knows which backend it talks to. With PostgreSQL, reads that may lag
//! can go to a read replica ([`Db::reading`]).

mod error;
mod page;
mod pg_pool;
mod replica;
mod run;
mod transaction;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sea_query::{
    DeleteStatement, InsertStatement, QueryStatementWriter, SelectStatement, UpdateStatement,
};
use sea_query_sqlx::SqlxBinder;
use secrecy::ExposeSecret;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, FromRow, Sqlite, SqlitePool};

pub use error::DbError;
pub use page::Listing;
pub use pg_pool::PgPool;
pub use replica::{Replica, ReplicaState};
pub use run::QueryMode;
pub use transaction::Transaction;

use crate::domain::Freshness;
use crate::settings::Settings;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working
/// directory, created on first start.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://bookstore.db";

/// How long a SQLite write waits for another writer to finish: concurrent writes take
/// turns instead of failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to the application database.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// The longest a statement may wait for a connection, and then run: past it the
    /// request fails fast with 503 instead of hanging on a stalled database.
    timeout: Duration,
    /// How statements reach PostgreSQL.
    mode: QueryMode,
    /// Where the migrations connect to (PostgreSQL): `DATABASE_MIGRATION_URL`, else the
    /// database itself, without the statement timeout.
    migrations: Option<Arc<PgConnectOptions>>,
    replica: Option<Arc<Replica>>,
}

#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A statement sea-query can render and sqlx can bind.
pub trait Statement: SqlxBinder + QueryStatementWriter {}
impl Statement for SelectStatement {}
impl Statement for InsertStatement {}
impl Statement for UpdateStatement {}
impl Statement for DeleteStatement {}

/// A row type that decodes from either backend.
pub trait Row: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{}

/// Evaluates `$postgres` or `$sqlite` (a future running a statement on `$conn`, a
/// connection taken from the pool of `$db`) within the statement timeout, and gives the
/// connection back.
macro_rules! on_backend {
    ($db:expr, |$conn:ident| postgres: $postgres:expr, sqlite: $sqlite:expr) => {{
        let deadline = tokio::time::Instant::now() + $db.timeout;
        match &$db.pool {
            Pool::Postgres(pool) => {
                let mut pooled = pool.acquire(deadline, $db.timeout).await?;
                let $conn = pooled.get()?;
                match tokio::time::timeout_at(deadline, $postgres).await {
                    Ok(outcome) => {
                        pooled.release(pg_pool::reusable(&outcome));
                        Ok(outcome?)
                    }
                    // Dropped mid-statement, the connection is closed.
                    Err(_) => Err(DbError::TimedOut($db.timeout)),
                }
            }
            Pool::Sqlite(pool) => {
                let mut conn = checkout(pool, deadline, $db.timeout).await?;
                let $conn = &mut *conn;
                let result = tokio::time::timeout_at(deadline, $sqlite).await;
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

/// A PostgreSQL URL's connection options, or an error naming `setting`.
fn pg_options(url: &str, setting: &str) -> anyhow::Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .with_context(|| format!("{setting} is not a valid PostgreSQL URL"))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
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
        let mut db = if is_postgres(url) {
            let options = pg_options(url, "DATABASE_URL")?;
            let migrations = match &settings.database_migration_url {
                Some(url) => pg_options(url.expose_secret(), "DATABASE_MIGRATION_URL")?,
                None => options.clone(),
            };
            Self::postgres(
                options,
                max,
                timeout,
                settings.database_query_mode,
                Some(migrations),
            )
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
            Self {
                pool: Pool::Sqlite(pool),
                timeout: timeout + SQLITE_BUSY_TIMEOUT,
                mode: QueryMode::Prepared,
                migrations: None,
                replica: None,
            }
        } else {
            bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite:")
        };
        if let Some(read_url) = &settings.database_read_url {
            if !matches!(db.pool, Pool::Postgres(_)) {
                bail!("DATABASE_READ_URL needs PostgreSQL as DATABASE_URL");
            }
            let options = pg_options(read_url.expose_secret(), "DATABASE_READ_URL")?;
            let replica = Self::postgres(options, max, timeout, settings.database_query_mode, None);
            db.replica = Some(Arc::new(Replica::new(
                replica,
                settings.database_read_max_lag,
            )));
        }
        Ok(db)
    }

    /// A PostgreSQL pool whose sessions stop a statement that runs past `timeout` by
    /// themselves (`statement_timeout`), so that one the server gave up on does not go on
    /// using the database.
    fn postgres(
        options: PgConnectOptions,
        max: u32,
        timeout: Duration,
        mode: QueryMode,
        migrations: Option<PgConnectOptions>,
    ) -> Self {
        let mut options = options.options([("statement_timeout", timeout.as_millis().to_string())]);
        if mode == QueryMode::Simple {
            // The text of a statement holds its values then (password hashes, e-mails):
            // it must not reach the log.
            options = options.disable_statement_logging();
        }
        Self {
            pool: Pool::Postgres(PgPool::new(options, max)),
            timeout,
            mode,
            migrations: migrations.map(Arc::new),
            replica: None,
        }
    }

    /// Starts what runs beside the pool: the read replica's monitor.
    pub fn start(&self) {
        if let Some(replica) = &self.replica {
            replica.start();
        }
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

    /// Where a connection that `LISTEN`s for notifications connects to (PostgreSQL):
    /// where the migrations do, `DATABASE_MIGRATION_URL` (the database itself, since
    /// `LISTEN` does not work through PgBouncer's transaction pooling) or else
    /// `DATABASE_URL`, with the same TLS options, and named `application_name`.
    pub fn listen_options(&self, application_name: &str) -> Option<PgConnectOptions> {
        match (&self.pool, &self.migrations) {
            (Pool::Postgres(_), Some(options)) => {
                Some(PgConnectOptions::clone(options).application_name(application_name))
            }
            _ => None,
        }
    }

    /// What the read replica's monitor last found, if there is a replica.
    pub fn replica_state(&self) -> Option<ReplicaState> {
        self.replica.as_ref().map(|replica| replica.state())
    }

    /// Where reads of this `freshness` go: the read replica when they may lag and it is
    /// up and close enough behind, else the primary.
    pub fn reading(&self, freshness: Freshness) -> Reading<'_> {
        let replica = match (&self.replica, freshness) {
            (Some(replica), Freshness::MayLag) if replica.state().in_use => Some(&**replica),
            _ => None,
        };
        Reading {
            primary: self,
            replica,
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
    /// `migrations/sqlite`) that have not run yet. On PostgreSQL they run on a connection
    /// of their own, without the statement timeout (a migration may take longer than any
    /// request), to `DATABASE_MIGRATION_URL` when it is set.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match (&self.pool, &self.migrations) {
            (Pool::Postgres(_), Some(options)) => {
                let mut conn = tokio::time::timeout(self.timeout, options.connect())
                    .await
                    .map_err(|_| anyhow::anyhow!("no answer within {:?}", self.timeout))
                    .and_then(|connected| Ok(connected?))
                    .context(
                        "DATABASE_URL: cannot connect to PostgreSQL (if it requires TLS, check \
                         sslmode and sslrootcert)",
                    )?;
                let applied = sqlx::migrate!("../migrations/postgres")
                    .run(&mut conn)
                    .await;
                let _ = sqlx::Connection::close(conn).await;
                applied
            }
            (Pool::Postgres(_), None) => Ok(()),
            (Pool::Sqlite(pool), _) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
        }
        .context("applying database migrations")
    }

    /// Runs a statement that yields at most one row.
    pub async fn fetch_optional<T: Row>(
        &self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        on_backend!(self, |conn|
            postgres: run::pg_fetch_optional(conn, stmt, self.mode),
            sqlite: run::sqlite_fetch_optional(conn, stmt))
    }

    /// Runs a statement that always yields one row, such as `INSERT … RETURNING`.
    pub async fn fetch_one<T: Row>(&self, stmt: &impl Statement) -> Result<T, DbError> {
        self.fetch_optional(stmt)
            .await?
            .ok_or_else(|| DbError::Other(anyhow::anyhow!("the statement returned no row")))
    }

    /// Runs a statement and collects every row.
    pub async fn fetch_all<T: Row>(&self, stmt: &impl Statement) -> Result<Vec<T>, DbError> {
        on_backend!(self, |conn|
            postgres: run::pg_fetch_all(conn, stmt, self.mode),
            sqlite: run::sqlite_fetch_all(conn, stmt))
    }

    /// Runs a statement and returns how many rows it touched.
    pub async fn execute(&self, stmt: &impl Statement) -> Result<u64, DbError> {
        on_backend!(self, |conn|
            postgres: run::pg_execute(conn, stmt, self.mode),
            sqlite: run::sqlite_execute(conn, stmt))
    }

    /// Closes every connection, the replica's too; queries after this fail.
    pub async fn close(&self) {
        if let Some(replica) = &self.replica {
            replica.stop().await;
        }
        self.close_pool().await;
    }

    /// Closes this pool's connections.
    async fn close_pool(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }
}

/// Reads of one freshness: on the read replica when [`Db::reading`] chose it, falling
/// back to the primary when the replica fails them.
pub struct Reading<'a> {
    primary: &'a Db,
    replica: Option<&'a Replica>,
}

impl Reading<'_> {
    /// Runs a statement that yields at most one row.
    pub async fn fetch_optional<T: Row>(
        &self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        if let Some(replica) = self.replica {
            match replica.db.fetch_optional(stmt).await {
                Err(err) if err.is_unavailable() => replica.failed(&err),
                other => return other,
            }
        }
        self.primary.fetch_optional(stmt).await
    }

    /// Fetches one page of `listing` (see [`Db::fetch_page`]).
    pub async fn fetch_page<T: Row, C: sea_query::IntoColumnRef + Clone>(
        &self,
        listing: Listing<C>,
        page: crate::domain::PageRequest,
    ) -> Result<crate::domain::Page<T>, DbError> {
        if let Some(replica) = self.replica {
            match replica.db.fetch_page(listing.clone(), page).await {
                Err(err) if err.is_unavailable() => replica.failed(&err),
                other => return other,
            }
        }
        self.primary.fetch_page(listing, page).await
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
