//! Users: sign-up, login/logout, profiles and account administration; who is calling.

pub mod api;
pub mod bearer;
pub mod model;
mod repository;
pub mod service;
pub mod wire;

pub use bearer::BearerAuth;
pub use model::Caller;
pub use service::{AdminOutcome, UserService};

use crate::auth::{LoginThrottle, PasswordHasher, SessionStore, SignupThrottle};
use crate::db::Db;
use crate::settings::Settings;

/// The users service over `db` and `sessions`, with the password-hashing and throttling
/// settings of `settings`.
pub fn service(db: Db, sessions: SessionStore, settings: &Settings) -> anyhow::Result<UserService> {
    let hasher = PasswordHasher::new(
        settings.bcrypt_cost,
        settings.bcrypt_workers,
        settings.bcrypt_queue,
    )?;
    let throttle = LoginThrottle::new(sessions.clone(), settings.login_throttle);
    let signups = SignupThrottle::new(
        sessions.clone(),
        settings.signup_max_per_client,
        settings.signup_window,
    );
    Ok(UserService::new(
        repository::UserRepository::new(db),
        sessions,
        hasher,
        throttle,
        signups,
    ))
}
