//! Sessions: opaque bearer tokens that expire and can be revoked.
//!
//! A token is the account's id and 256 random bits, base64url-encoded, given to the
//! client once. The store only ever sees its SHA-256 digest, so a leaked Redis dump
//! yields no usable token; the id in the token names the account's keys without a
//! lookup, so that a token is checked in one round trip and everything of one account
//! lives together (one Redis Cluster slot). Each account's sessions are indexed by
//! expiry, pruned on every write and capped, so logout everywhere, a password change or
//! a deactivation reaches them all. Two stores keep the same semantics: Redis (shared by
//! every replica) and an in-process map (one process; gone on restart).
//!
//! The store is not the last word on revocation: a session records when it began, and
//! the account's `sessions_valid_after` (in the database) refuses every session that
//! began before it, even if removing it from the store failed.

mod memory;
mod redis;

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use self::memory::MemorySessions;
use self::redis::{Deployment, RedisSessions};
use crate::error::AppError;
use crate::settings::Settings;

/// Bytes of a token: the account id (16) and the secret (32).
const TOKEN_BYTES: usize = 48;
/// Length of an encoded token: 48 bytes in unpadded base64.
const TOKEN_LEN: usize = 64;

/// A freshly issued token: the secret for the client and the session it opens.
pub struct SessionToken {
    pub token: String,
    pub session: Session,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: Uuid,
    /// The SHA-256 of the token, in hex: what the store keeps.
    pub digest: String,
    /// When the session began (or was last renewed).
    pub started: DateTime<Utc>,
}

/// What a store keeps of a session: its account and when it began. Stored as
/// `<user id> <milliseconds since the epoch>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    user_id: Uuid,
    started: DateTime<Utc>,
}

impl Entry {
    fn encode(self) -> String {
        format!("{} {}", self.user_id, self.started.timestamp_millis())
    }

    fn decode(text: &str) -> Option<Self> {
        let (user_id, started) = text.split_once(' ')?;
        Some(Self {
            user_id: user_id.parse().ok()?,
            started: DateTime::from_timestamp_millis(started.parse().ok()?)?,
        })
    }
}

/// The session store. Cheap to clone.
#[derive(Clone)]
pub struct SessionStore {
    backend: Backend,
    ttl: Duration,
    /// The most sessions one account keeps; 0 for no limit.
    max_per_user: usize,
}

#[derive(Clone)]
enum Backend {
    Redis(RedisSessions),
    Memory(MemorySessions),
}

impl SessionStore {
    /// Redis when `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS` or `REDIS_URL` is set, in that
    /// order (connecting lazily, so the server starts while Redis is down), the in-process
    /// store otherwise.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let urls = |list: &[secrecy::SecretString]| {
            list.iter()
                .map(|url| url.expose_secret().to_owned())
                .collect()
        };
        let deployment = if !settings.redis_cluster_nodes.is_empty() {
            Some(Deployment::Cluster(urls(&settings.redis_cluster_nodes)))
        } else if let Some(master) = &settings.redis_sentinel_master {
            Some(Deployment::Sentinel {
                sentinels: urls(&settings.redis_sentinels),
                master: master.clone(),
            })
        } else {
            settings
                .redis_url
                .as_ref()
                .map(|url| Deployment::Server(url.expose_secret().to_owned()))
        };
        let backend = match deployment {
            Some(deployment) => {
                let ca_cert = match &settings.redis_ca_cert {
                    Some(path) => Some(std::fs::read(path).with_context(|| {
                        format!("REDIS_CA_CERT: cannot read {}", path.display())
                    })?),
                    None => None,
                };
                Backend::Redis(RedisSessions::new(
                    &deployment,
                    &settings.redis_key_prefix,
                    ca_cert,
                )?)
            }
            None => Backend::Memory(MemorySessions::default()),
        };
        Ok(Self {
            backend,
            ttl: settings.access_token_ttl,
            max_per_user: settings.max_sessions_per_user,
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

    /// Starts a session for `user_id` and returns its token. Past the cap on sessions
    /// per account, the account's oldest sessions end.
    pub async fn create(&self, user_id: Uuid) -> Result<SessionToken, AppError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..16].copy_from_slice(user_id.as_bytes());
        rand::rng().fill_bytes(&mut bytes[16..]);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let session = Session {
            user_id,
            digest: digest(&token),
            started: Utc::now(),
        };
        let entry = Entry {
            user_id,
            started: session.started,
        };
        let cap = self.max_per_user;
        match &self.backend {
            Backend::Redis(store) => store.insert(&session.digest, entry, self.ttl, cap).await?,
            Backend::Memory(store) => store.insert(&session.digest, entry, self.ttl, cap),
        }
        Ok(SessionToken { token, session })
    }

    /// The live session of `token`, or `None` for a malformed, unknown, expired or
    /// revoked token.
    pub async fn lookup(&self, token: &str) -> Result<Option<Session>, AppError> {
        let Some(user_id) = token_user(token) else {
            return Ok(None);
        };
        let digest = digest(token);
        let entry = match &self.backend {
            Backend::Redis(store) => store.get(user_id, &digest).await?,
            Backend::Memory(store) => store.get(&digest),
        };
        Ok(entry
            .filter(|entry| entry.user_id == user_id)
            .map(|entry| Session {
                user_id,
                digest,
                started: entry.started,
            }))
    }

    /// Makes `session` count as begun now, so that it outlives the revocation of every
    /// other session of its account (the one a password was changed with). Returns the
    /// new start.
    pub async fn renew(&self, session: &Session) -> Result<DateTime<Utc>, AppError> {
        let entry = Entry {
            user_id: session.user_id,
            started: Utc::now(),
        };
        match &self.backend {
            Backend::Redis(store) => store.replace(&session.digest, entry).await?,
            Backend::Memory(store) => store.replace(&session.digest, entry),
        }
        Ok(entry.started)
    }

    /// Ends one session.
    pub async fn revoke(&self, session: &Session) -> Result<(), AppError> {
        match &self.backend {
            Backend::Redis(store) => store.remove(session.user_id, &session.digest).await,
            Backend::Memory(store) => {
                store.remove(session.user_id, &session.digest);
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

    /// Adds one to the counter `name` unless it has reached `limit`: the counter (kept
    /// beside the sessions, so every replica sees it) expires `window` after its first
    /// increment. `Err` holds the time left in the window when the limit was reached.
    /// One atomic step, so that concurrent callers never take more than `limit` places.
    pub async fn reserve(
        &self,
        name: &str,
        limit: u64,
        window: Duration,
    ) -> Result<Result<(), Duration>, AppError> {
        match &self.backend {
            Backend::Redis(store) => store.reserve(name, limit, window).await,
            Backend::Memory(store) => Ok(store.reserve(name, limit, window)),
        }
    }

    /// Gives back one place taken by [`SessionStore::reserve`].
    pub async fn release(&self, name: &str) -> Result<(), AppError> {
        match &self.backend {
            Backend::Redis(store) => store.release(name).await,
            Backend::Memory(store) => {
                store.release(name);
                Ok(())
            }
        }
    }

    /// Adds one to the counter `name`, which expires `window` after its first
    /// increment; returns the new count.
    pub async fn increment(&self, name: &str, window: Duration) -> Result<u64, AppError> {
        match &self.backend {
            Backend::Redis(store) => store.increment(name, window).await,
            Backend::Memory(store) => Ok(store.increment(name, window)),
        }
    }

    /// The counter `name`, 0 when it is not set.
    pub async fn counter(&self, name: &str) -> Result<u64, AppError> {
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

    /// At start-up: fails when Redis answers with a TLS certificate that does not verify
    /// (see `RedisSessions::check_certificate`).
    pub async fn check_certificate(&self) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Redis(store) => store.check_certificate().await,
            Backend::Memory(_) => Ok(()),
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

/// The account a token names, if it has a token's shape.
fn token_user(token: &str) -> Option<Uuid> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    Uuid::from_slice(bytes.get(..16)?).ok()
}

/// The hex SHA-256 of `text`: what the store keeps instead of a secret.
pub(super) fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::{Entry, TOKEN_BYTES, TOKEN_LEN, digest, token_user};

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_token_names_its_account_and_nothing_else_does() {
        use base64::Engine;
        let user = Uuid::now_v7();
        let mut bytes = [7u8; TOKEN_BYTES];
        bytes[..16].copy_from_slice(user.as_bytes());
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(token.len(), TOKEN_LEN);
        assert_eq!(token_user(&token), Some(user));
        for malformed in ["", "short", &"A".repeat(43), &"!".repeat(TOKEN_LEN)] {
            assert_eq!(token_user(malformed), None, "{malformed}");
        }
    }

    #[test]
    fn entries_round_trip_to_the_millisecond() {
        let started = DateTime::from_timestamp_millis(Utc::now().timestamp_millis());
        let entry = Entry {
            user_id: Uuid::now_v7(),
            started: started.unwrap_or_default(),
        };
        assert_eq!(Entry::decode(&entry.encode()), Some(entry));
        assert_eq!(Entry::decode("not an entry"), None);
    }
}
