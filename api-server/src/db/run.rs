//! One statement on one connection, rendered as its backend and query mode want it.

use std::future::Future;
use std::time::{Duration, Instant};

use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

use super::{Row, Statement};
pub use crate::settings::QueryMode;

/// Runs a statement that yields at most one row.
pub(super) async fn pg_fetch_optional<T: Row>(
    conn: &mut PgConnection,
    stmt: &impl Statement,
    mode: QueryMode,
) -> Result<Option<T>, sqlx::Error> {
    match mode {
        QueryMode::Prepared => {
            let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
            sqlx::query_as_with(AssertSqlSafe(sql), values)
                .fetch_optional(conn)
                .await
        }
        QueryMode::Simple => {
            let sql = AssertSqlSafe(stmt.to_string(PostgresQueryBuilder));
            let row = logged(stmt, sqlx::raw_sql(sql).fetch_optional(conn)).await?;
            row.as_ref().map(T::from_row).transpose()
        }
    }
}

/// Runs a statement and collects every row.
pub(super) async fn pg_fetch_all<T: Row>(
    conn: &mut PgConnection,
    stmt: &impl Statement,
    mode: QueryMode,
) -> Result<Vec<T>, sqlx::Error> {
    match mode {
        QueryMode::Prepared => {
            let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
            sqlx::query_as_with(AssertSqlSafe(sql), values)
                .fetch_all(conn)
                .await
        }
        QueryMode::Simple => {
            let sql = AssertSqlSafe(stmt.to_string(PostgresQueryBuilder));
            let rows = logged(stmt, sqlx::raw_sql(sql).fetch_all(conn)).await?;
            rows.iter().map(T::from_row).collect()
        }
    }
}

/// Runs a statement and returns how many rows it touched.
pub(super) async fn pg_execute(
    conn: &mut PgConnection,
    stmt: &impl Statement,
    mode: QueryMode,
) -> Result<u64, sqlx::Error> {
    let done = match mode {
        QueryMode::Prepared => {
            let (sql, values) = stmt.build_sqlx(PostgresQueryBuilder);
            sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(conn)
                .await?
        }
        QueryMode::Simple => {
            let sql = AssertSqlSafe(stmt.to_string(PostgresQueryBuilder));
            logged(stmt, sqlx::raw_sql(sql).execute(conn)).await?
        }
    };
    Ok(done.rows_affected())
}

/// How long a statement may run before its log line becomes a warning, as sqlx has it.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// Runs `run`, logging `stmt` as sqlx logs the statements it prepares: with placeholders
/// where the values go. sqlx's own log of a simple-mode statement would show its values
/// (password hashes, e-mails), so the pool turns that off.
async fn logged<T>(stmt: &impl Statement, run: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = run.await;
    let elapsed = started.elapsed();
    let slow = elapsed >= SLOW_STATEMENT;
    if slow || tracing::enabled!(target: "sqlx::query", tracing::Level::DEBUG) {
        let (sql, _) = stmt.build_sqlx(PostgresQueryBuilder);
        let elapsed_secs = elapsed.as_secs_f64();
        if slow {
            tracing::warn!(target: "sqlx::query", statement = %sql, elapsed_secs, "slow statement");
        } else {
            tracing::debug!(target: "sqlx::query", statement = %sql, elapsed_secs, "statement");
        }
    }
    out
}

/// Runs a statement that yields at most one row.
pub(super) async fn sqlite_fetch_optional<T: Row>(
    conn: &mut SqliteConnection,
    stmt: &impl Statement,
) -> Result<Option<T>, sqlx::Error> {
    let (sql, values) = stmt.build_sqlx(SqliteQueryBuilder);
    sqlx::query_as_with(AssertSqlSafe(sql), values)
        .fetch_optional(conn)
        .await
}

/// Runs a statement and collects every row.
pub(super) async fn sqlite_fetch_all<T: Row>(
    conn: &mut SqliteConnection,
    stmt: &impl Statement,
) -> Result<Vec<T>, sqlx::Error> {
    let (sql, values) = stmt.build_sqlx(SqliteQueryBuilder);
    sqlx::query_as_with(AssertSqlSafe(sql), values)
        .fetch_all(conn)
        .await
}

/// Runs a statement and returns how many rows it touched.
pub(super) async fn sqlite_execute(
    conn: &mut SqliteConnection,
    stmt: &impl Statement,
) -> Result<u64, sqlx::Error> {
    let (sql, values) = stmt.build_sqlx(SqliteQueryBuilder);
    let done = sqlx::query_with(AssertSqlSafe(sql), values)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
