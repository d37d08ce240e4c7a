//! Sessions: opaque bearer tokens that expire and can be revoked.
//!
//! A token is 256 random bits, base64url-encoded, given to the client once. The store
//! only ever sees its SHA-256 digest, so a leaked Redis dump yields no usable token.
//! Each user's digests are indexed, so logout everywhere, a password change or a
//! deactivation revokes them at once. Two stores keep the same semantics: Redis (shared
//! by every replica) and an in-process map (one process; gone on restart).

mod memory;
mod redis;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use self::memory::MemorySessions;
use self::redis::RedisSessions;
use crate::error::AppError;
use crate::settings::Settings;

/// Length of an encoded token: 32 bytes in unpadded base64.
const TOKEN_LEN: usize = 43;

/// A freshly issued token: the secret for the client and the digest the store keeps.
pub struct SessionToken {
    pub token: String,
    pub digest: String,
}

/// The session store. Cheap to clone.
#[derive(Clone)]
pub struct SessionStore {
    backend: Backend,
    ttl: Duration,
}

#[derive(Clone)]
enum Backend {
    Redis(RedisSessions),
    Memory(MemorySessions),
}

impl SessionStore {
    /// Redis when `REDIS_URL` is set (connecting lazily, so the server starts while Redis
    /// is down), the in-process store otherwise.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let backend = match &settings.redis_url {
            Some(url) => Backend::Redis(RedisSessions::new(
                url.expose_secret(),
                &settings.redis_key_prefix,
            )?),
            None => Backend::Memory(MemorySessions::default()),
        };
        Ok(Self {
            backend,
            ttl: settings.access_token_ttl,
        })
    }

    /// A short name of the store, for logs and readiness.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Redis(_) => "Redis",
            Backend::Memory(_) => "in-process",
        }
    }

    /// Whether sessions live outside this process (Redis), shared by every replica.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// How long a new session lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `user_id` and returns its token.
    pub async fn create(&self, user_id: Uuid) -> Result<SessionToken, AppError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let digest = digest(&token);
        match &self.backend {
            Backend::Redis(store) => store.insert(&digest, user_id, self.ttl).await?,
            Backend::Memory(store) => store.insert(&digest, user_id, self.ttl),
        }
        Ok(SessionToken { token, digest })
    }

    /// The user and digest of a live session, or `None` for an unknown, expired or
    /// revoked token.
    pub async fn lookup(&self, token: &str) -> Result<Option<(Uuid, String)>, AppError> {
        if token.len() != TOKEN_LEN {
            return Ok(None);
        }
        let digest = digest(token);
        let user = match &self.backend {
            Backend::Redis(store) => store.get(&digest).await?,
            Backend::Memory(store) => store.get(&digest),
        };
        Ok(user.map(|id| (id, digest)))
    }

    /// Ends one session.
    pub async fn revoke(&self, user_id: Uuid, digest: &str) -> Result<(), AppError> {
        match &self.backend {
            Backend::Redis(store) => store.remove(user_id, digest).await,
            Backend::Memory(store) => {
                store.remove(user_id, digest);
                Ok(())
            }
        }
    }

    /// Ends every session of `user_id`, except the one with digest `keep`, if given.
    pub async fn revoke_all(&self, user_id: Uuid, keep: Option<&str>) -> Result<(), AppError> {
        match &self.backend {
            Backend::Redis(store) => store.remove_all(user_id, keep).await,
            Backend::Memory(store) => {
                store.remove_all(user_id, keep);
                Ok(())
            }
        }
    }

    /// Adds one to the counter `name` (kept beside the sessions, so every replica sees
    /// it), which expires `window` after its first increment. Returns the new count and
    /// the time left in the window.
    pub async fn increment(
        &self,
        name: &str,
        window: Duration,
    ) -> Result<(u64, Duration), AppError> {
        match &self.backend {
            Backend::Redis(store) => store.increment(name, window).await,
            Backend::Memory(store) => Ok(store.increment(name, window)),
        }
    }

    /// The counter `name` and the time left in its window, if it is set.
    pub async fn counter(&self, name: &str) -> Result<Option<(u64, Duration)>, AppError> {
        match &self.backend {
            Backend::Redis(store) => store.counter(name).await,
            Backend::Memory(store) => Ok(store.counter(name)),
        }
    }

    /// Deletes the counter `name`.
    pub async fn reset(&self, name: &str) -> Result<(), AppError> {
        match &self.backend {
            Backend::Redis(store) => store.reset(name).await,
            Backend::Memory(store) => {
                store.reset(name);
                Ok(())
            }
        }
    }

    /// How many calls to the store have failed (each answered 503) since start-up.
    pub fn failed_calls(&self) -> u64 {
        match &self.backend {
            Backend::Redis(store) => store.failed_calls(),
            Backend::Memory(_) => 0,
        }
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), AppError> {
        match &self.backend {
            Backend::Redis(store) => store.ping().await,
            Backend::Memory(_) => Ok(()),
        }
    }
}

/// The hex SHA-256 of `token`: what the store keeps instead of a secret.
pub(super) fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::{TOKEN_LEN, digest};

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn token_length_matches_256_bits_of_base64() {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0u8; 32]);
        assert_eq!(encoded.len(), TOKEN_LEN);
    }
}
