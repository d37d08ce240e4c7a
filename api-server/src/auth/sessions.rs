//! Sessions in Redis: opaque bearer tokens that expire and can be revoked.
//!
//! A token is 256 random bits, base64url-encoded, given to the client once. Redis only
//! ever sees its SHA-256 digest, so a leaked Redis dump yields no usable token. Keys:
//!
//! - `{prefix}:session:{digest}` → user id, with the session's TTL;
//! - `{prefix}:user:{user id}:sessions` → set of that user's digests, so logout
//!   everywhere, a password change or a deactivation revokes them at once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::AppError;
use crate::settings::Settings;

/// Length of an encoded token: 32 bytes in unpadded base64.
const TOKEN_LEN: usize = 43;

/// Bounds on every Redis call, so an outage fails a request within about a second
/// instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const RETRIES: usize = 2;

/// Deletes every session of a user except one (ARGV[2], may be empty), atomically.
const REVOKE_ALL: &str = r"
local digests = redis.call('SMEMBERS', KEYS[1])
for _, digest in ipairs(digests) do
  if digest ~= ARGV[2] then
    redis.call('DEL', ARGV[1] .. digest)
    redis.call('SREM', KEYS[1], digest)
  end
end
return #digests
";

/// A freshly issued token: the secret for the client and the digest the store keeps.
pub struct SessionToken {
    pub token: String,
    pub digest: String,
}

/// The session store. Cheap to clone; connects lazily and reconnects by itself.
#[derive(Clone)]
pub struct SessionStore {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
}

impl SessionStore {
    /// Prepares the store without connecting, so the server starts while Redis is down.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.redis_url.expose_secret())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RETRIES);
        Ok(Self {
            conn: ConnectionManager::new_lazy_with_config(client, config)?,
            prefix: settings.redis_key_prefix.clone(),
            ttl: settings.access_token_ttl,
        })
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
        let seconds = self.ttl.as_secs();
        let index = self.index_key(user_id);
        redis::pipe()
            .atomic()
            .set_ex(self.session_key(&digest), user_id.to_string(), seconds)
            .ignore()
            .sadd(&index, &digest)
            .ignore()
            .expire(&index, seconds as i64)
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(SessionToken { token, digest })
    }

    /// The user and digest of a live session, or `None` for an unknown, expired or
    /// revoked token.
    pub async fn lookup(&self, token: &str) -> Result<Option<(Uuid, String)>, AppError> {
        if token.len() != TOKEN_LEN {
            return Ok(None);
        }
        let digest = digest(token);
        let user: Option<String> = self
            .conn
            .clone()
            .get(self.session_key(&digest))
            .await
            .map_err(unavailable)?;
        Ok(user.and_then(|id| id.parse().ok()).map(|id| (id, digest)))
    }

    /// Ends one session.
    pub async fn revoke(&self, user_id: Uuid, digest: &str) -> Result<(), AppError> {
        redis::pipe()
            .atomic()
            .del(self.session_key(digest))
            .ignore()
            .srem(self.index_key(user_id), digest)
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    /// Ends every session of `user_id`, except the one with digest `keep`, if given.
    pub async fn revoke_all(&self, user_id: Uuid, keep: Option<&str>) -> Result<(), AppError> {
        let _: i64 = Script::new(REVOKE_ALL)
            .key(self.index_key(user_id))
            .arg(format!("{}:session:", self.prefix))
            .arg(keep.unwrap_or_default())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Whether Redis answers a PING.
    pub async fn ping(&self) -> Result<(), AppError> {
        redis::cmd("PING")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    fn session_key(&self, digest: &str) -> String {
        format!("{}:session:{digest}", self.prefix)
    }

    fn index_key(&self, user_id: Uuid) -> String {
        format!("{}:user:{user_id}:sessions", self.prefix)
    }
}

fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn unavailable(err: redis::RedisError) -> AppError {
    AppError::Unavailable(anyhow::Error::new(err).context("session store"))
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
