//! Resolves a bearer token to the account calling.

use uuid::Uuid;

use super::SessionStore;
use crate::error::AppError;
use crate::users::repository::{UserRecord, UserRepository};

/// Who is making a request, as far as authorization cares.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Digest of the token this request came with, to revoke or keep this session.
    pub session: String,
    /// The caller's account as read while authenticating this request.
    pub account: UserRecord,
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

/// Checks bearer tokens against the session store and the users table.
#[derive(Clone)]
pub struct Authenticator {
    sessions: SessionStore,
    users: UserRepository,
}

impl Authenticator {
    pub fn new(sessions: SessionStore, users: UserRepository) -> Self {
        Self { sessions, users }
    }

    /// The caller behind `token`: 401 unless the session is live and its account exists
    /// and is active. Fails closed: if the store cannot be asked, the answer is 503,
    /// never "authenticated".
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AppError> {
        let (user_id, session) = self
            .sessions
            .lookup(token)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let user = self
            .users
            .find(user_id)
            .await?
            .filter(|user| user.is_active)
            .ok_or(AppError::Unauthenticated)?;
        Ok(Caller {
            session,
            account: user,
        })
    }
}
