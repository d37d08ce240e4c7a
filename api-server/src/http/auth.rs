//! The bearer security scheme: extracts `Authorization: Bearer <token>`.
//!
//! A missing or malformed header is answered with 401 before the handler runs; the
//! token itself is checked by the handler through `auth::Authenticator`, which knows
//! the session store and the users table.

use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

/// An opaque session token obtained from `POST /api/v1/users/login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "bearerAuth")]
pub struct BearerAuth(pub Bearer);

impl BearerAuth {
    pub fn token(&self) -> &str {
        &self.0.token
    }
}
