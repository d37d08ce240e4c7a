//! Request and response bodies of the users API, and their conversion to and from the
//! model: input is validated here, once, into domain types.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::model::{FullName, Signup, User as Account, UserPatch};
use crate::domain::{Email, Password};
use crate::error::{AppError, Violations};
use crate::http::conditional::ETag;
use crate::http::page::page_of;
use crate::http::types::{Absent, StrictString};

/// A user account. Never carries a password or its hash.
#[derive(Debug, Object)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub is_active: bool,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for User {
    fn from(user: Account) -> Self {
        Self {
            id: user.id,
            email: user.email,
            full_name: user.full_name,
            is_active: user.is_active,
            is_admin: user.is_admin,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// The `ETag` of an account's representation.
pub fn etag(user: &Account) -> ETag {
    ETag::of(&User::from(user.clone()))
}

page_of!(
    /// A page of users.
    UserPage,
    User
);

/// A new account.
#[derive(Debug, Object)]
pub struct SignupRequest {
    /// Trimmed and lower-cased; must be unique regardless of case.
    pub email: StrictString,
    /// 8 to 72 bytes of UTF-8.
    pub password: StrictString,
    pub full_name: StrictString,
}

impl TryFrom<SignupRequest> for Signup {
    type Error = AppError;

    fn try_from(req: SignupRequest) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let email = v.check("email", Email::parse(&req.email.0));
        let password = v.check("password", Password::parse(req.password.0));
        let full_name = v.check("full_name", FullName::parse(&req.full_name.0));
        v.finish(|| {
            Some(Self {
                email: email?,
                password: password?,
                full_name: full_name?,
            })
        })
    }
}

/// Credentials to exchange for a bearer token.
#[derive(Debug, Object)]
pub struct LoginRequest {
    pub email: StrictString,
    pub password: StrictString,
}

/// The kind of token issued.
#[derive(Debug, Enum)]
#[oai(rename_all = "lowercase")]
pub enum TokenType {
    Bearer,
}

/// A new session.
#[derive(Debug, Object)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    pub token_type: TokenType,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub user: User,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Object)]
pub struct UserUpdate {
    /// A new e-mail. Changing one's own requires `current_password`.
    pub email: Absent<StrictString>,
    pub full_name: Absent<StrictString>,
    /// A new password (8 to 72 bytes). Changing one's own password requires
    /// `current_password` and ends every other session of the account.
    pub password: Absent<StrictString>,
    /// The current password; required when changing one's own e-mail or password.
    pub current_password: Absent<StrictString>,
    /// Administrators only.
    pub is_active: Absent<bool>,
    /// Administrators only.
    pub is_admin: Absent<bool>,
}

impl TryFrom<UserUpdate> for UserPatch {
    type Error = AppError;

    fn try_from(req: UserUpdate) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let email = req
            .email
            .0
            .and_then(|e| v.check("email", Email::parse(&e.0)));
        let full_name = (req.full_name.0).and_then(|n| v.check("full_name", FullName::parse(&n.0)));
        let password = (req.password.0).and_then(|p| v.check("password", Password::parse(p.0)));
        v.finish(|| {
            Some(Self {
                email,
                full_name,
                password,
                current_password: req.current_password.0.map(|p| p.0),
                is_active: req.is_active.0,
                is_admin: req.is_admin.0,
            })
        })
    }
}
