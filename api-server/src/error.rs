//! The application's error type: what went wrong, in domain terms, with no HTTP in it.
//!
//! Services and repositories return [`AppError`]; the API edge (`crate::http::problem`)
//! is the one place that turns it into a status code and a problem body.

use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input broke a rule; each entry names the offending field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),

    /// No valid credentials: a missing, unknown, expired or revoked token, or a wrong
    /// e-mail/password pair.
    #[error("authentication required")]
    Unauthenticated,

    /// The caller is known but may not do this.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },

    /// The resource does not exist (or the caller may not know that it does).
    #[error("{0} not found")]
    NotFound(&'static str),

    /// The request clashes with the current state: a taken e-mail, a referenced row,
    /// an illegal order transition.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },

    /// The resource is no longer in the state the change was made against (it changed
    /// since the client read it): nothing was changed.
    #[error("precondition failed")]
    PreconditionFailed,

    /// An idempotency key was sent again with another request than the one it was first
    /// used with.
    #[error("idempotency key reused with another request")]
    IdempotencyKeyReused,

    /// The request first sent with this idempotency key is still being processed: try
    /// again after `retry_after`.
    #[error("idempotency key in flight")]
    IdempotencyKeyInFlight { retry_after: std::time::Duration },

    /// Too many failed attempts: try again after `retry_after`.
    #[error("too many requests")]
    TooManyRequests { retry_after: std::time::Duration },

    /// The server has more of some costly work (password hashing) queued than it takes:
    /// retry shortly.
    #[error("overloaded")]
    Overloaded,

    /// A dependency (database, session store) could not be reached in time.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),

    /// Anything else: a bug or an unexpected failure. Logged in full, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// A validation error about one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}
