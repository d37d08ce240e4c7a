//! Request and response bodies of the users API, and their conversion to and from the
//! model: input is validated here, once, into domain types.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::model::{FullName, Signup, User as Account, UserPatch};
use crate::domain::Email;
use crate::http::conditional::ETag;
use crate::http::page::page_of;
use crate::http::text::{NewPassword, PasswordText};
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
    pub email: Email,
    pub password: NewPassword,
    pub full_name: FullName,
}

impl From<SignupRequest> for Signup {
    fn from(req: SignupRequest) -> Self {
        Self {
            email: req.email,
            password: req.password.0,
            full_name: req.full_name,
        }
    }
}

/// Credentials to exchange for a bearer token.
#[derive(Debug, Object)]
pub struct LoginRequest {
    pub email: StrictString,
    pub password: PasswordText,
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
    pub email: Absent<Email>,
    pub full_name: Absent<FullName>,
    pub password: Absent<NewPassword>,
    /// The current password; required (else 403 `current_password_required`) when
    /// changing one's own `email` or `password`.
    pub current_password: Absent<PasswordText>,
    /// Administrators only.
    pub is_active: Absent<bool>,
    /// Administrators only.
    pub is_admin: Absent<bool>,
}

impl From<UserUpdate> for UserPatch {
    fn from(req: UserUpdate) -> Self {
        Self {
            email: req.email.0,
            full_name: req.full_name.0,
            password: req.password.0.map(|p| p.0),
            current_password: req.current_password.0.map(|p| p.0),
            is_active: req.is_active.0,
            is_admin: req.is_admin.0,
        }
    }
}
