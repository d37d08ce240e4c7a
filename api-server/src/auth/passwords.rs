//! bcrypt hashing, always off the async runtime, and never more of it than the machine
//! can do.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::domain::Password;
use crate::error::AppError;

/// bcrypt reads at most this many bytes of what it hashes.
const BCRYPT_MAX_BYTES: usize = 72;

/// Starts a stored hash whose bcrypt input was the password's SHA-256 digest (in base64):
/// the form of a password longer than bcrypt reads, which bcrypt would truncate. Marking
/// it keeps the two forms apart: the digest itself is never a password that matches.
const PREHASHED: &str = "$sha256";

/// The SHA-256 digest of `password` in base64: 44 bytes, within what bcrypt reads.
fn prehash(password: &str) -> String {
    BASE64.encode(Sha256::digest(password.as_bytes()))
}

/// Hashes and verifies passwords with bcrypt at a configured cost.
///
/// Each hash takes tens to hundreds of milliseconds of CPU by design, so the work runs
/// on tokio's blocking pool: on the async workers it would stall every other request. At
/// most `workers` hashes run at once; at most `queue` more wait for one of them, and a
/// job beyond that is refused (503 with `Retry-After`) rather than left to wait in a
/// backlog that only grows under a flood of logins.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    cost: u32,
    /// A hash of a random password, verified against when an e-mail is unknown so that
    /// a failed login takes as long whether or not the account exists.
    dummy_hash: Arc<str>,
    workers: Arc<Semaphore>,
    /// Places for running and waiting jobs; `None` for no bound.
    admitted: Option<Arc<Semaphore>>,
}

impl PasswordHasher {
    /// `workers` hashes at once, `queue` more waiting; 0 for no bound on either.
    pub fn new(cost: u32, workers: usize, queue: usize) -> anyhow::Result<Self> {
        let dummy_hash = bcrypt::hash(rand::random::<[u8; 16]>(), cost)?;
        // Unbounded: as many as tokio's blocking pool runs (512 threads by default).
        let workers = if workers == 0 { 512 } else { workers };
        Ok(Self {
            cost,
            dummy_hash: dummy_hash.into(),
            workers: Arc::new(Semaphore::new(workers)),
            admitted: (queue > 0).then(|| Arc::new(Semaphore::new(workers + queue))),
        })
    }

    /// The hash to store for `password`: bcrypt of the password, or of its SHA-256 digest
    /// (marked [`PREHASHED`]) when it is longer than bcrypt reads.
    pub async fn hash(&self, password: &Password) -> Result<String, AppError> {
        let (password, cost) = (password.clone(), self.cost);
        self.run(move || {
            let password = password.expose();
            if password.len() > BCRYPT_MAX_BYTES {
                bcrypt::hash(prehash(password), cost).map(|hash| format!("{PREHASHED}{hash}"))
            } else {
                bcrypt::hash(password, cost)
            }
        })
        .await
    }

    /// Whether `password` matches the stored `hash`. With no hash (unknown account), or a
    /// password that hash cannot come from (longer than bcrypt reads, against a hash of
    /// the password itself), it still spends the time of one verification and answers no.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, AppError> {
        let dummy_hash = Arc::clone(&self.dummy_hash);
        self.run(move || {
            let password = password.expose_secret();
            let candidate =
                hash.as_deref()
                    .and_then(|stored| match stored.strip_prefix(PREHASHED) {
                        Some(hash) => Some((Cow::Owned(prehash(password)), hash)),
                        None => (password.len() <= BCRYPT_MAX_BYTES)
                            .then_some((Cow::Borrowed(password), stored)),
                    });
            match candidate {
                Some((input, hash)) => bcrypt::verify(input.as_bytes(), hash),
                None => bcrypt::verify("not-a-password", &dummy_hash).map(|_| false),
            }
        })
        .await
    }

    /// Runs one bcrypt job on the blocking pool once a worker is free.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _admitted = match &self.admitted {
            Some(places) => Some(
                Arc::clone(places)
                    .try_acquire_owned()
                    .map_err(|_| AppError::Overloaded)?,
            ),
            None => None,
        };
        let _worker = self.workers.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::PasswordHasher;
    use crate::domain::Password;
    use crate::error::AppError;

    #[tokio::test]
    async fn a_full_queue_refuses_the_next_job_and_the_others_finish() {
        let hasher = PasswordHasher::new(10, 1, 1).unwrap_or_else(|err| panic!("{err}"));
        let password = Password::parse("long enough".to_owned()).unwrap_or_else(|e| panic!("{e}"));
        let (a, b, c, d) = tokio::join!(
            hasher.hash(&password),
            hasher.hash(&password),
            hasher.hash(&password),
            hasher.hash(&password)
        );
        let results = [a, b, c, d];
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(AppError::Overloaded)))
            .count();
        assert_eq!(refused, 2, "one runs, one waits, two are refused");
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    }
}

#[cfg(test)]
mod long_passwords {
    use super::{PasswordHasher, prehash};
    use crate::domain::Password;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(4, 1, 0).unwrap_or_else(|err| panic!("{err}"))
    }

    fn password(raw: &str) -> Password {
        Password::parse(raw.to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    async fn verifies(hasher: &PasswordHasher, raw: &str, hash: &str) -> bool {
        let result = hasher.verify(raw.into(), Some(hash.to_owned())).await;
        result.unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[tokio::test]
    async fn every_character_of_a_long_password_counts() {
        let hasher = hasher();
        let long = format!("{}tail", "x".repeat(80));
        let hash = hasher
            .hash(&password(&long))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(verifies(&hasher, &long, &hash).await);
        // The same first 72 bytes, another tail: bcrypt alone would take it.
        assert!(!verifies(&hasher, &format!("{}TAIL", "x".repeat(80)), &hash).await);
        assert!(!verifies(&hasher, &"x".repeat(72), &hash).await);
        // The digest bcrypt hashed is not a password of the account.
        assert!(!verifies(&hasher, &prehash(&long), &hash).await);
    }

    #[tokio::test]
    async fn a_password_bcrypt_reads_whole_is_hashed_as_it_is() {
        let hasher = hasher();
        let hash = hasher
            .hash(&password("short enough"))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(hash.starts_with("$2b$"), "a plain bcrypt hash: {hash}");
        assert!(verifies(&hasher, "short enough", &hash).await);
        // A hash of the password itself never matches a password longer than bcrypt reads.
        let plain = bcrypt::hash("x".repeat(72), 4).unwrap_or_else(|e| panic!("{e}"));
        assert!(verifies(&hasher, &"x".repeat(72), &plain).await);
        assert!(!verifies(&hasher, &"x".repeat(73), &plain).await);
    }
}
