//! Throttling of password guesses and sign-ups, per client address and per account.
//!
//! A guess (a login, or the current password when changing one's e-mail or password)
//! takes a place in two counters before its password is checked: the client's
//! (`LOGIN_MAX_FAILURES_PER_CLIENT`) and the pair of this account and this client's
//! (`LOGIN_MAX_FAILURES`). When either is full, the answer is 429 with `Retry-After`,
//! even for the right password. A right password gives its places back (and clears the
//! pair); a wrong one keeps them until the window passes. Taking a place is one atomic
//! step, so concurrent guesses can never take more places than there are.
//!
//! Failures on an account from every client are counted too, but only to slow the next
//! guesses (at most by two seconds): an attacker guessing from many addresses can delay
//! the owner's login, never refuse it.
//!
//! The counters live in the session store, so every replica sees the same ones. An
//! account is keyed by a digest of its normalised e-mail, known or not, so that unknown
//! e-mails and wrong passwords are treated (and answered) alike, and no address is
//! stored in clear. A client is its address, an IPv6 client its /64 network.

use std::time::Duration;

use super::SessionStore;
use super::client::ClientKey;
use crate::error::AppError;
use crate::settings::ThrottleSettings;

/// The longest extra wait before checking a guess at an account that others failed on.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Counts guesses and decides when to slow or refuse the next ones.
#[derive(Clone)]
pub struct LoginThrottle {
    store: SessionStore,
    settings: ThrottleSettings,
}

/// The counters one guess is judged by.
pub struct Attempt {
    account: String,
    pair: String,
    client: String,
}

/// The places a guess holds until its outcome is known.
#[must_use = "a guess must end as succeeded or failed"]
pub struct Admission {
    attempt: Attempt,
    client_held: bool,
    pair_held: bool,
}

impl Attempt {
    /// A guess at the account of `email` (normalised) from `client`.
    pub fn new(email: &str, client: &ClientKey) -> Self {
        let account = super::sessions::digest(email);
        Self {
            pair: format!("login:pair:{account}:{client}"),
            client: format!("login:client:{client}"),
            account: format!("login:account:{account}"),
        }
    }
}

impl LoginThrottle {
    pub fn new(store: SessionStore, settings: ThrottleSettings) -> Self {
        Self { store, settings }
    }

    /// Takes the guess's places, or refuses it with 429 when the client's or the pair's
    /// counter is full; then waits a little longer the more failures the account has
    /// seen from anywhere.
    pub async fn admit(&self, attempt: Attempt) -> Result<Admission, AppError> {
        let ThrottleSettings {
            max_per_account,
            max_per_client,
            window,
        } = self.settings;
        let mut admission = Admission {
            attempt,
            client_held: false,
            pair_held: false,
        };
        if max_per_client > 0 {
            self.store
                .reserve(&admission.attempt.client, max_per_client, window)
                .await?
                .map_err(too_many)?;
            admission.client_held = true;
        }
        if max_per_account > 0 {
            let pair = self
                .store
                .reserve(&admission.attempt.pair, max_per_account, window)
                .await?;
            if let Err(left) = pair {
                self.give_back(&admission).await?;
                return Err(too_many(left));
            }
            admission.pair_held = true;
        }
        let failures = self.store.counter(&admission.attempt.account).await?;
        tokio::time::sleep(delay(failures, max_per_account)).await;
        Ok(admission)
    }

    /// The password was wrong: the guess keeps its places, and the account's count of
    /// failures grows.
    pub async fn failed(&self, admission: Admission) -> Result<(), AppError> {
        let window = self.settings.window;
        self.store
            .increment(&admission.attempt.account, window)
            .await
            .map(drop)
    }

    /// The password was right: the guess gives its places back and the pair's failures
    /// are forgotten.
    pub async fn succeeded(&self, admission: Admission) -> Result<(), AppError> {
        self.give_back(&admission).await?;
        self.store.reset(&admission.attempt.pair).await
    }

    async fn give_back(&self, admission: &Admission) -> Result<(), AppError> {
        if admission.client_held {
            self.store.release(&admission.attempt.client).await?;
        }
        if admission.pair_held {
            self.store.release(&admission.attempt.pair).await?;
        }
        Ok(())
    }
}

/// Throttles sign-ups per client address.
#[derive(Clone)]
pub struct SignupThrottle {
    store: SessionStore,
    /// Sign-ups per client within `window`; 0 for no limit.
    max_per_client: u64,
    window: Duration,
}

impl SignupThrottle {
    pub fn new(store: SessionStore, max_per_client: u64, window: Duration) -> Self {
        Self {
            store,
            max_per_client,
            window,
        }
    }

    /// Counts a sign-up from `client`, or refuses it with 429 past the limit.
    pub async fn admit(&self, client: &ClientKey) -> Result<(), AppError> {
        if self.max_per_client == 0 {
            return Ok(());
        }
        let name = format!("signup:client:{client}");
        self.store
            .reserve(&name, self.max_per_client, self.window)
            .await?
            .map_err(too_many)
    }
}

fn too_many(retry_after: Duration) -> AppError {
    AppError::TooManyRequests { retry_after }
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
