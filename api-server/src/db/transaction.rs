//! Several statements as one: a transaction on one connection of the pool.

use std::time::Duration;

use sqlx::Sqlite;
use sqlx::pool::PoolConnection;

use super::pg_pool::{self, PooledConnection};
use super::run::{self, QueryMode};
use super::{Db, DbError, Pool, Row, Statement, checkout};

/// An open transaction. [`Transaction::commit`] ends it; dropped before that, it is
/// rolled back (in the background, bounded by the statement timeout) and its connection
/// goes back to the pool, or is closed if the rollback does not answer.
///
/// On PostgreSQL it runs at READ COMMITTED, as every statement does; lock what a decision
/// depends on (`SELECT … FOR UPDATE`). On SQLite it takes the database's write lock at
/// its first statement (`BEGIN IMMEDIATE`), so transactions that write run one at a time.
pub struct Transaction {
    conn: Option<Held>,
    timeout: Duration,
    mode: QueryMode,
}

enum Held {
    Postgres(PooledConnection),
    Sqlite(PoolConnection<Sqlite>),
}

/// Runs a statement on the transaction's connection within the statement timeout:
/// `$postgres` or `$sqlite`, a future using `$conn`. A statement cut short leaves the
/// connection mid-protocol, and one that failed may have aborted the transaction: either
/// way the transaction can do nothing more, and its connection is rolled back in the
/// background, or closed when it does not still work.
macro_rules! in_transaction {
    ($tx:expr, |$conn:ident| postgres: $postgres:expr, sqlite: $sqlite:expr) => {{
        let timeout = $tx.timeout;
        let mut held = $tx.conn.take().ok_or_else(finished)?;
        let outcome = match &mut held {
            Held::Postgres(pooled) => {
                let $conn = pooled.get()?;
                tokio::time::timeout(timeout, $postgres).await
            }
            Held::Sqlite(pooled) => {
                let $conn = &mut **pooled;
                tokio::time::timeout(timeout, $sqlite).await
            }
        };
        match outcome {
            Ok(Ok(value)) => {
                $tx.conn = Some(held);
                Ok(value)
            }
            Ok(Err(err)) => {
                let usable = held.survives(&err);
                Transaction::abandon(held, usable, timeout);
                Err(DbError::from(err))
            }
            Err(_) => {
                held.close();
                Err(DbError::TimedOut(timeout))
            }
        }
    }};
}

impl Db {
    /// Begins a transaction (see [`Transaction`]).
    pub async fn begin(&self) -> Result<Transaction, DbError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let (held, begin) = match &self.pool {
            Pool::Postgres(pool) => (
                Held::Postgres(pool.acquire(deadline, self.timeout).await?),
                "BEGIN",
            ),
            Pool::Sqlite(pool) => (
                Held::Sqlite(checkout(pool, deadline, self.timeout).await?),
                "BEGIN IMMEDIATE",
            ),
        };
        let mut tx = Transaction {
            conn: Some(held),
            timeout: self.timeout,
            mode: self.mode,
        };
        tx.control(begin).await?;
        Ok(tx)
    }
}

impl Transaction {
    /// Runs a statement that yields at most one row.
    pub async fn fetch_optional<T: Row>(
        &mut self,
        stmt: &impl Statement,
    ) -> Result<Option<T>, DbError> {
        in_transaction!(self, |conn|
            postgres: run::pg_fetch_optional(conn, stmt, self.mode),
            sqlite: run::sqlite_fetch_optional(conn, stmt))
    }

    /// Runs a statement that always yields one row, such as `INSERT … RETURNING`.
    pub async fn fetch_one<T: Row>(&mut self, stmt: &impl Statement) -> Result<T, DbError> {
        self.fetch_optional(stmt)
            .await?
            .ok_or_else(|| DbError::Other(anyhow::anyhow!("the statement returned no row")))
    }

    /// Runs a statement and collects every row.
    pub async fn fetch_all<T: Row>(&mut self, stmt: &impl Statement) -> Result<Vec<T>, DbError> {
        in_transaction!(self, |conn|
            postgres: run::pg_fetch_all(conn, stmt, self.mode),
            sqlite: run::sqlite_fetch_all(conn, stmt))
    }

    /// Runs a statement and returns how many rows it touched.
    pub async fn execute(&mut self, stmt: &impl Statement) -> Result<u64, DbError> {
        in_transaction!(self, |conn|
            postgres: run::pg_execute(conn, stmt, self.mode),
            sqlite: run::sqlite_execute(conn, stmt))
    }

    /// Makes everything the transaction did permanent, and gives its connection back.
    pub async fn commit(mut self) -> Result<(), DbError> {
        self.control("COMMIT").await?;
        match self.conn.take() {
            Some(Held::Postgres(pooled)) => pooled.release(true),
            // Back to sqlx's pool, as after any statement.
            Some(Held::Sqlite(conn)) => drop(conn),
            None => {}
        }
        Ok(())
    }

    /// Runs a transaction-control statement (`BEGIN`, `COMMIT`): fixed text, no values.
    async fn control(&mut self, statement: &'static str) -> Result<(), DbError> {
        let timeout = self.timeout;
        let held = self.conn.as_mut().ok_or_else(finished)?;
        let outcome = match held {
            Held::Postgres(pooled) => {
                let conn = pooled.get()?;
                let run = sqlx::raw_sql(statement).execute(conn);
                tokio::time::timeout(timeout, async { run.await.map(drop) }).await
            }
            Held::Sqlite(conn) => {
                let run = sqlx::raw_sql(statement).execute(&mut **conn);
                tokio::time::timeout(timeout, async { run.await.map(drop) }).await
            }
        };
        match outcome {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => {
                if let Some(held) = self.conn.take() {
                    let usable = held.survives(&err);
                    Self::abandon(held, usable, timeout);
                }
                Err(err.into())
            }
            Err(_) => {
                if let Some(held) = self.conn.take() {
                    held.close();
                }
                Err(DbError::TimedOut(timeout))
            }
        }
    }

    /// Rolls back in the background and gives the connection back; closes it instead if
    /// it is not `usable`, or the rollback fails or does not answer within `timeout`.
    fn abandon(held: Held, usable: bool, timeout: Duration) {
        if !usable {
            held.close();
            return;
        }
        tokio::spawn(async move {
            let mut held = held;
            let rolled_back = match &mut held {
                Held::Postgres(pooled) => match pooled.get() {
                    Ok(conn) => {
                        let run = sqlx::raw_sql("ROLLBACK").execute(conn);
                        tokio::time::timeout(timeout, async { run.await.map(drop) }).await
                    }
                    Err(_) => return,
                },
                Held::Sqlite(conn) => {
                    let run = sqlx::raw_sql("ROLLBACK").execute(&mut **conn);
                    tokio::time::timeout(timeout, async { run.await.map(drop) }).await
                }
            };
            match (held, rolled_back) {
                (Held::Postgres(pooled), Ok(Ok(_))) => pooled.release(true),
                (Held::Sqlite(conn), Ok(Ok(_))) => drop(conn),
                (held, _) => held.close(),
            }
        });
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(held) = self.conn.take() {
            Self::abandon(held, true, self.timeout);
        }
    }
}

impl Held {
    /// Whether the connection can still roll back and serve others after `err`.
    fn survives(&self, err: &sqlx::Error) -> bool {
        match self {
            Self::Postgres(_) => pg_pool::survives(err),
            Self::Sqlite(_) => !matches!(err, sqlx::Error::Io(_) | sqlx::Error::Protocol(_)),
        }
    }

    /// Closes the connection rather than giving it back: its state is unknown.
    fn close(self) {
        match self {
            Self::Postgres(pooled) => drop(pooled),
            Self::Sqlite(conn) => drop(conn.detach()),
        }
    }
}

fn finished() -> DbError {
    DbError::Other(anyhow::anyhow!(
        "the transaction cannot go on after a failed statement"
    ))
}
