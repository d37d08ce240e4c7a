//! Authentication: password hashing, sessions, and who is calling.

mod authenticator;
mod passwords;
mod sessions;
mod throttle;

pub use authenticator::{Authenticator, Caller};
pub use passwords::PasswordHasher;
pub use sessions::{SessionStore, SessionToken};
pub use throttle::{Attempt, LoginThrottle, ThrottleSettings};
