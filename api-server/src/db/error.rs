//! Database failures, classified the same way on every backend.

use sqlx::error::ErrorKind;

use crate::error::AppError;

/// A database failure, classified so that services can map the expected ones. Each
/// statement of this application can break at most one constraint of each kind, so
/// services match on the kind; the constraint's name (or, on SQLite, the message naming
/// the columns) is kept for logs.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// A missing parent on insert/update, or remaining children on delete.
    #[error("foreign key constraint violated: {0}")]
    ForeignKey(String),
    #[error("check constraint violated: {0}")]
    Check(String),
    /// Text the database cannot store, such as a NUL byte in PostgreSQL.
    #[error("invalid text for the database")]
    InvalidText,
    /// The database could not be reached, no connection was free in time, or (SQLite)
    /// the database stayed locked by another writer.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A statement did not finish in time (a stalled or overloaded database).
    #[error("database statement timed out after {0:?}")]
    TimedOut(std::time::Duration),
    #[error(transparent)]
    Other(anyhow::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let constraint = db
                .constraint()
                .map_or_else(|| db.message().to_owned(), str::to_owned);
            match db.kind() {
                ErrorKind::UniqueViolation => return Self::Unique(constraint),
                ErrorKind::ForeignKeyViolation => return Self::ForeignKey(constraint),
                ErrorKind::CheckViolation => return Self::Check(constraint),
                _ => {}
            }
            // PostgreSQL: character_not_in_repertoire, untranslatable_character; the session
            // was ended (admin_shutdown, crash_shutdown, cannot_connect_now,
            // idle_session_timeout) or the connection failed (class 08).
            // SQLite: an `ON DELETE RESTRICT` foreign key reports SQLITE_CONSTRAINT_TRIGGER
            // (1811); SQLITE_BUSY and its extended codes (5, 261, 517, 773).
            match db.code().as_deref() {
                Some("22021" | "22P05") => return Self::InvalidText,
                Some("57P01" | "57P02" | "57P03" | "57P05") => return Self::Unavailable(err),
                Some(code) if code.starts_with("08") => return Self::Unavailable(err),
                Some("1811") if db.message().contains("FOREIGN KEY") => {
                    return Self::ForeignKey(constraint);
                }
                Some("5" | "261" | "517" | "773") => return Self::Unavailable(err),
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

impl From<sea_query::error::Error> for DbError {
    fn from(err: sea_query::error::Error) -> Self {
        Self::Other(anyhow::Error::new(err).context("building a statement"))
    }
}

/// Any database failure a service did not map itself is a 503 or a 500.
impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(source) => Self::Unavailable(source.into()),
            timed_out @ DbError::TimedOut(_) => Self::Unavailable(timed_out.into()),
            DbError::InvalidText => Self::invalid("body", "contains text that cannot be stored"),
            other => Self::Internal(other.into()),
        }
    }
}
