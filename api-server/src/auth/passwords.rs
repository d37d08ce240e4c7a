//! bcrypt hashing, always off the async runtime, and never more of it than the machine
//! can do.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::domain::Password;
use crate::error::AppError;

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

    pub async fn hash(&self, password: &Password) -> Result<String, AppError> {
        let (password, cost) = (password.clone(), self.cost);
        self.run(move || bcrypt::hash(password.expose(), cost))
            .await
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
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let password = password.expose().to_owned();
        let matches = self.run(move || bcrypt::verify(password, &hash)).await?;
        Ok(known && matches)
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
