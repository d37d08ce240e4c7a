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

use uuid::Uuid;

use crate::auth::{LoginThrottle, PasswordHasher, SessionStore, SignupThrottle};
use crate::cache::{Bounds, Coherent};
use crate::db::Db;
use crate::settings::Settings;
use model::User;

/// The accounts that authenticate requests, kept in memory by id, so that a request with
/// a bearer token costs one session lookup and no database read. Only on PostgreSQL, kept
/// coherent by the notifications of every write of `users` (`crate::cache`): there
/// another process (`api-server admin`) may change an account while the server runs,
/// and the notification is how the server hears of it. The embedded SQLite backend
/// reads a local file, which costs about what a lookup in memory does.
pub type AccountCache = Coherent<Uuid, User>;

/// About the most an account weighs in memory (a 254-byte e-mail, a 200-character name).
const ACCOUNT_BYTES: usize = 1024;

/// The account cache of `settings`, on a database other servers may write (`shared`);
/// off otherwise.
pub fn account_cache(settings: &Settings, shared: bool) -> AccountCache {
    if !shared {
        return AccountCache::off();
    }
    let max_entries = settings.account_cache_max_entries;
    let bounds = Bounds {
        max_entries,
        max_bytes: max_entries.saturating_mul(ACCOUNT_BYTES),
    };
    AccountCache::new("accounts", bounds, shared)
}

/// The users service over `db` and `sessions`, with the password-hashing and throttling
/// settings of `settings`, authenticating through `accounts`.
pub fn service(
    db: Db,
    sessions: SessionStore,
    accounts: AccountCache,
    settings: &Settings,
) -> anyhow::Result<UserService> {
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
        accounts,
        sessions,
        hasher,
        throttle,
        signups,
    ))
}
