//! Authentication's building blocks: password hashing, sessions and login throttling.
//! Who is calling is decided by the users resource (`users::service`), which owns the
//! accounts these belong to.

mod passwords;
mod sessions;
mod throttle;

pub use passwords::PasswordHasher;
pub use sessions::{SessionStore, SessionToken};
pub use throttle::{Attempt, LoginThrottle};
