//! Authentication's building blocks: who is on the other end (the client's address),
//! password hashing, sessions, and the throttling of password guesses and sign-ups.
//! Who is calling is decided by the users resource (`users::service`), which owns the
//! accounts these belong to.

mod client;
mod passwords;
mod sessions;
mod throttle;

pub use client::{ClientAddr, ClientKey};
pub use passwords::PasswordHasher;
pub use sessions::{Session, SessionStore, SessionToken};
pub use throttle::{Admission, Attempt, LoginThrottle, SignupThrottle};
