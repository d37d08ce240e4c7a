//! Authentication: password hashing, sessions, and who is calling.

mod authenticator;
mod passwords;
mod sessions;

pub use authenticator::{Authenticator, Caller};
pub use passwords::PasswordHasher;
pub use sessions::{SessionStore, SessionToken};
