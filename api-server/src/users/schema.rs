//! Request and response bodies of the users API.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::repository::UserRecord;
use super::service::{Signup, UserPatch};
use crate::http::page::page_of;
use crate::http::types::{Absent, Text};

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

impl From<UserRecord> for User {
    fn from(row: UserRecord) -> Self {
        Self {
            id: row.id,
            email: row.email,
            full_name: row.full_name,
            is_active: row.is_active,
            is_admin: row.is_admin,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
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
    pub email: Text,
    /// 8 to 72 bytes of UTF-8.
    pub password: Text,
    pub full_name: Text,
}

impl From<SignupRequest> for Signup {
    fn from(req: SignupRequest) -> Self {
        Self {
            email: req.email.0,
            password: req.password.0,
            full_name: req.full_name.0,
        }
    }
}

/// Credentials to exchange for a bearer token.
#[derive(Debug, Object)]
pub struct LoginRequest {
    pub email: Text,
    pub password: Text,
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
    pub email: Absent<Text>,
    pub full_name: Absent<Text>,
    /// A new password (8 to 72 bytes). Changing one's own password requires
    /// `current_password` and ends every other session of the account.
    pub password: Absent<Text>,
    /// The current password; required when changing one's own password.
    pub current_password: Absent<Text>,
    /// Administrators only.
    pub is_active: Absent<bool>,
    /// Administrators only.
    pub is_admin: Absent<bool>,
}

impl From<UserUpdate> for UserPatch {
    fn from(req: UserUpdate) -> Self {
        Self {
            email: req.email.0.map(|t| t.0),
            full_name: req.full_name.0.map(|t| t.0),
            password: req.password.0.map(|t| t.0),
            current_password: req.current_password.0.map(|t| t.0),
            is_active: req.is_active.0,
            is_admin: req.is_admin.0,
        }
    }
}
