//! User accounts and who is calling, in domain terms.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::auth::Session;
use crate::cache::Weigh;
use crate::domain::{Email, Password, Text};
use crate::error::AppError;

/// A person's name on their account: 1 to 200 characters.
pub type FullName = Text<200>;

/// An account.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    /// The bcrypt hash of the password; never leaves the server.
    pub password_hash: String,
    pub is_active: bool,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Sessions that began before this are refused: set when the password changes or the
    /// account is deactivated, so that revoking them does not depend on the session store.
    pub sessions_valid_after: Option<DateTime<Utc>>,
}

impl Weigh for User {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.email.len()
            + self.full_name.len()
            + self.password_hash.len()
    }
}

impl User {
    /// Whether a session that began at `started` may still act for this account.
    pub fn accepts_session(&self, started: DateTime<Utc>) -> bool {
        self.is_active
            && self
                .sessions_valid_after
                .is_none_or(|after| started.timestamp_millis() >= after.timestamp_millis())
    }
}

/// A sign-up: a new customer's account, not yet hashed.
#[derive(Debug)]
pub struct Signup {
    pub email: Email,
    pub password: Password,
    pub full_name: FullName,
}

/// An account to store.
#[derive(Debug)]
pub struct NewUser {
    pub email: Email,
    pub full_name: FullName,
    pub password_hash: String,
    pub is_admin: bool,
}

/// Requested changes to an account, validated but not yet authorized.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub email: Option<Email>,
    pub full_name: Option<FullName>,
    pub password: Option<Password>,
    /// As typed: it is only ever compared with the stored hash.
    pub current_password: Option<SecretString>,
    pub is_active: Option<bool>,
    pub is_admin: Option<bool>,
}

/// Changes to store; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub email: Option<Email>,
    pub full_name: Option<FullName>,
    pub password_hash: Option<String>,
    pub is_active: Option<bool>,
    pub is_admin: Option<bool>,
    /// Ends every session that began before it.
    pub sessions_valid_after: Option<DateTime<Utc>>,
}

/// Who is making a request, as far as authorization cares: an active account and the
/// session the request came with.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The session this request came with, to end or keep it.
    pub session: Session,
    /// The caller's account as read while authenticating this request.
    pub account: User,
}

impl Caller {
    pub fn id(&self) -> Uuid {
        self.account.id
    }

    pub fn is_admin(&self) -> bool {
        self.account.is_admin
    }

    /// Whether the caller may act on the account `user_id`.
    pub fn may_manage(&self, user_id: Uuid) -> bool {
        self.is_admin() || self.id() == user_id
    }

    /// `Ok` for an administrator, 403 otherwise.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "admin_required",
                "Only administrators may do this.",
            ))
        }
    }
}
