//! Login throttling: repeated failed logins for one account, or from one client
//! address, are first slowed and then refused with 429 until their window passes.
//!
//! The counters live in the session store, so every replica sees the same ones. The
//! account is keyed by a digest of the normalised e-mail, known or not, so that unknown
//! e-mails and wrong passwords are treated (and answered) alike, and no address is
//! stored in clear.

use std::net::IpAddr;
use std::time::Duration;

use super::SessionStore;
use crate::error::AppError;
use crate::settings::ThrottleSettings;

/// The longest extra wait before answering a login that follows failures.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Counts failed logins and decides when to slow or refuse the next ones.
#[derive(Clone)]
pub struct LoginThrottle {
    store: SessionStore,
    settings: ThrottleSettings,
}

/// The counters one login attempt is judged by.
pub struct Attempt {
    account: String,
    client: Option<String>,
}

impl Attempt {
    /// The attempt of `email` (as typed) from `client`.
    pub fn new(email: &str, client: Option<IpAddr>) -> Self {
        let email = email.trim().to_lowercase();
        Self {
            account: format!("login:account:{}", super::sessions::digest(&email)),
            client: client.map(|ip| format!("login:client:{ip}")),
        }
    }
}

impl LoginThrottle {
    pub fn new(store: SessionStore, settings: ThrottleSettings) -> Self {
        Self { store, settings }
    }

    /// Refuses the attempt with 429 while either counter is at its limit, and otherwise
    /// waits a little longer the more failures came before it.
    pub async fn admit(&self, attempt: &Attempt) -> Result<(), AppError> {
        let account = self.store.counter(&attempt.account).await?;
        let client = match &attempt.client {
            Some(key) => self.store.counter(key).await?,
            None => None,
        };
        let limits = [
            (account, self.settings.max_per_account),
            (client, self.settings.max_per_client),
        ];
        if let Some(retry_after) = limits
            .iter()
            .filter_map(|(counter, max)| counter.filter(|(count, _)| count >= max))
            .map(|(_, left)| left)
            .max()
        {
            return Err(AppError::TooManyRequests { retry_after });
        }
        if let Some((failures, _)) = account {
            tokio::time::sleep(delay(failures, self.settings.max_per_account)).await;
        }
        Ok(())
    }

    /// Counts a failed attempt against its account and its client.
    pub async fn failed(&self, attempt: &Attempt) -> Result<(), AppError> {
        let window = self.settings.window;
        self.store.increment(&attempt.account, window).await?;
        if let Some(client) = &attempt.client {
            self.store.increment(client, window).await?;
        }
        Ok(())
    }

    /// A successful login clears its account's failures (not its client's).
    pub async fn succeeded(&self, attempt: &Attempt) -> Result<(), AppError> {
        self.store.reset(&attempt.account).await
    }
}

/// No wait for the first half of the allowed failures, then 250 ms doubling per
/// further failure, at most [`MAX_DELAY`].
fn delay(failures: u64, max: u64) -> Duration {
    let free = max / 2;
    match failures.checked_sub(free) {
        None | Some(0) => Duration::ZERO,
        Some(extra) => {
            let doublings = u32::try_from(extra - 1).unwrap_or(u32::MAX).min(8);
            (Duration::from_millis(250) * 2u32.pow(doublings)).min(MAX_DELAY)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::delay;

    #[test]
    fn failures_are_free_then_slowed_up_to_a_bound() {
        let ms = |failures| delay(failures, 5).as_millis();
        assert_eq!([ms(0), ms(1), ms(2)], [0, 0, 0]);
        assert_eq!([ms(3), ms(4), ms(5)], [250, 500, 1000]);
        assert_eq!(delay(60, 5), Duration::from_secs(2));
    }
}
