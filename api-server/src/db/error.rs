//! Database failures, classified the same way on every backend.

use crate::error::AppError;

/// A database failure. Repositories turn the constraint violations their statements may
/// cause into domain errors by the constraint's name ([`DbError::constraint`]); every
/// other failure becomes a 503 or a 500 through `From<DbError> for AppError`.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique, foreign-key or check constraint refused the statement. `name` is the
    /// constraint's name as the migrations give it (see [`constraint_name`] for SQLite);
    /// when the backend did not say, it is the backend's message.
    #[error("constraint violated: {name}")]
    Constraint { name: String },
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

impl DbError {
    /// Whether the database could not be asked (down, unreachable, too slow), as opposed
    /// to refusing the statement.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::TimedOut(_))
    }

    /// The name of the constraint the statement broke, if that is what happened.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Self::Constraint { name } => Some(name),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            // PostgreSQL: integrity_constraint_violation (class 23), character_not_in_repertoire,
            // untranslatable_character; the session was ended (admin_shutdown,
            // crash_shutdown, cannot_connect_now, idle_session_timeout) or the connection
            // failed (class 08).
            // SQLite: the constraint codes (19 and its extended codes, all ending in 0x13),
            // SQLITE_BUSY and its extended codes (5, 261, 517, 773).
            match db.code().as_deref() {
                Some(code) if code.starts_with("23") => {
                    let name = db.constraint().unwrap_or_else(|| db.message());
                    return Self::Constraint {
                        name: name.to_owned(),
                    };
                }
                Some("22021" | "22P05") => return Self::InvalidText,
                Some("57P01" | "57P02" | "57P03" | "57P05") => return Self::Unavailable(err),
                // The statement ran past `statement_timeout`, which is the statement
                // timeout of this server too.
                Some("57014") => return Self::Unavailable(err),
                Some(code) if code.starts_with("08") => return Self::Unavailable(err),
                Some(code) if code.parse::<u32>().is_ok_and(|c| c & 0xff == 19) => {
                    return Self::Constraint {
                        name: constraint_name(db.message()),
                    };
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

/// The constraint a SQLite error message names, in the form the migrations give names.
///
/// SQLite names only check constraints itself (`CHECK constraint failed: <name>`). A
/// unique constraint is reported by its columns (`UNIQUE constraint failed: users.email`),
/// which name it by the convention every migration follows, PostgreSQL's own:
/// `<table>_<columns>_key`. A foreign key is reported without any name, so the SQLite
/// migrations check each one first in a trigger that fails with the constraint's name
/// (`RAISE(ABORT, 'books_author_id_fkey')`): that message is the name itself.
fn constraint_name(message: &str) -> String {
    if let Some(name) = message.strip_prefix("CHECK constraint failed: ") {
        return name.to_owned();
    }
    if let Some(list) = message.strip_prefix("UNIQUE constraint failed: ") {
        let pairs: Vec<(&str, &str)> = list.split(", ").filter_map(|c| c.split_once('.')).collect();
        if let Some((table, _)) = pairs.first() {
            let columns: Vec<&str> = pairs.iter().map(|(_, column)| *column).collect();
            return format!("{table}_{}_key", columns.join("_"));
        }
    }
    message.to_owned()
}

impl From<sea_query::error::Error> for DbError {
    fn from(err: sea_query::error::Error) -> Self {
        Self::Other(anyhow::Error::new(err).context("building a statement"))
    }
}

/// A statement that cannot be built is a bug.
impl From<sea_query::error::Error> for AppError {
    fn from(err: sea_query::error::Error) -> Self {
        DbError::from(err).into()
    }
}

/// A database failure that its repository did not turn into a domain error: a 503 when
/// the database is out of reach, a 422 for text it cannot store, a 500 otherwise (a
/// constraint violation nobody expected is a bug, and is logged with the constraint's
/// name).
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

#[cfg(test)]
mod tests {
    use super::constraint_name;

    #[test]
    fn sqlite_messages_name_the_constraint_as_the_migrations_do() {
        for (message, name) in [
            (
                "CHECK constraint failed: books_price_positive_check",
                "books_price_positive_check",
            ),
            ("UNIQUE constraint failed: users.email", "users_email_key"),
            (
                "UNIQUE constraint failed: stock.book_id, stock.shop_id",
                "stock_book_id_shop_id_key",
            ),
            ("books_author_id_fkey", "books_author_id_fkey"),
        ] {
            assert_eq!(constraint_name(message), name, "{message}");
        }
    }
}
