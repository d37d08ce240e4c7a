//! Users: sign-up, login/logout, profiles and account administration; who is calling.

pub mod api;
pub mod bearer;
pub mod model;
mod repository;
pub mod service;
pub mod wire;

pub use bearer::BearerAuth;
pub use model::Caller;
pub use service::UserService;

use crate::auth::{LoginThrottle, PasswordHasher, SessionStore};
use crate::db::Db;
use crate::settings::Settings;

/// The users service over `db` and `sessions`, with the password and login-throttle
/// settings of `settings`.
pub fn service(db: Db, sessions: SessionStore, settings: &Settings) -> anyhow::Result<UserService> {
    let hasher = PasswordHasher::new(settings.bcrypt_cost)?;
    let throttle = LoginThrottle::new(sessions.clone(), settings.login_throttle);
    Ok(UserService::new(
        repository::UserRepository::new(db),
        sessions,
        hasher,
        throttle,
    ))
}
