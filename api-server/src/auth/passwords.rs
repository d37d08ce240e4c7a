//! bcrypt hashing, always off the async runtime.

use crate::domain::Password;
use crate::error::AppError;

/// Hashes and verifies passwords with bcrypt at a configured cost.
///
/// Each hash takes tens to hundreds of milliseconds of CPU by design, so the work runs
/// on tokio's blocking pool: on the async workers it would stall every other request.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    cost: u32,
    /// A hash of a random password, verified against when an e-mail is unknown so that
    /// a failed login takes as long whether or not the account exists.
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(cost: u32) -> anyhow::Result<Self> {
        let dummy_hash = bcrypt::hash(rand::random::<[u8; 16]>(), cost)?;
        Ok(Self { cost, dummy_hash })
    }

    pub async fn hash(&self, password: &Password) -> Result<String, AppError> {
        let (password, cost) = (password.clone(), self.cost);
        tokio::task::spawn_blocking(move || bcrypt::hash(password.expose(), cost))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)
    }

    /// Whether `password` matches `hash`. With no hash (unknown account), or a password
    /// no stored hash can come from (longer than bcrypt reads, or with NUL bytes), it
    /// still spends the time of one verification and answers no.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let (password, hash) = match Password::parse(password) {
            Ok(password) => (password, hash),
            Err(_) => (Password::placeholder(), None),
        };
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.expose().to_owned();
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
        Ok(known && matches)
    }
}
