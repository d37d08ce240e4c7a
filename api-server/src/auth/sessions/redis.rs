//! Sessions in Redis, shared by every replica of the server.
//!
//! Keys: `{prefix}:session:{digest}` → user id, with the session's TTL;
//! `{prefix}:user:{user id}:sessions` → the set of that user's digests.

mod connection;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use self::connection::Connection;
use crate::error::AppError;

/// Bounds on every Redis call, so an outage fails a request within about a second
/// instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const RETRIES: usize = 2;
/// The longest one call may take in all, reconnecting and retrying included.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

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

/// Increments a counter, starting its expiry window on the first increment, atomically.
const INCREMENT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return {count, redis.call('TTL', KEYS[1])}
";

#[derive(Clone)]
pub struct RedisSessions {
    conn: Connection,
    prefix: String,
    failed_calls: Arc<AtomicU64>,
}

impl RedisSessions {
    /// Prepares the connection without opening it; it opens on first use and reopens by
    /// itself after Redis restarts, or stops answering.
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RETRIES);
        Ok(Self {
            conn: Connection::new_lazy(client, config, CALL_TIMEOUT)?,
            prefix: prefix.to_owned(),
            failed_calls: Arc::default(),
        })
    }

    pub async fn insert(&self, digest: &str, user_id: Uuid, ttl: Duration) -> Result<(), AppError> {
        let seconds = ttl.as_secs();
        let index = self.index_key(user_id);
        redis::pipe()
            .atomic()
            .set_ex(self.session_key(digest), user_id.to_string(), seconds)
            .ignore()
            .sadd(&index, digest)
            .ignore()
            .expire(&index, i64::try_from(seconds).unwrap_or(i64::MAX))
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    pub async fn get(&self, digest: &str) -> Result<Option<Uuid>, AppError> {
        let user: Option<String> = self
            .conn
            .clone()
            .get(self.session_key(digest))
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok(user.and_then(|id| id.parse().ok()))
    }

    pub async fn remove(&self, user_id: Uuid, digest: &str) -> Result<(), AppError> {
        redis::pipe()
            .atomic()
            .del(self.session_key(digest))
            .ignore()
            .srem(self.index_key(user_id), digest)
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    pub async fn remove_all(&self, user_id: Uuid, keep: Option<&str>) -> Result<(), AppError> {
        let _: i64 = Script::new(REVOKE_ALL)
            .key(self.index_key(user_id))
            .arg(format!("{}:session:", self.prefix))
            .arg(keep.unwrap_or_default())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), AppError> {
        redis::cmd("PING")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    /// Adds one to the counter `name`, which expires `window` after its first increment;
    /// returns the new count and the time left in the window.
    pub async fn increment(
        &self,
        name: &str,
        window: Duration,
    ) -> Result<(u64, Duration), AppError> {
        let (count, ttl): (u64, i64) = Script::new(INCREMENT)
            .key(self.counter_key(name))
            .arg(window.as_secs().max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok((count, seconds(ttl)))
    }

    /// The counter `name` and the time left in its window, or `None` if it is not set.
    pub async fn counter(&self, name: &str) -> Result<Option<(u64, Duration)>, AppError> {
        let key = self.counter_key(name);
        let (count, ttl): (Option<u64>, i64) = redis::pipe()
            .get(&key)
            .ttl(&key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok(count.map(|count| (count, seconds(ttl))))
    }

    pub async fn reset(&self, name: &str) -> Result<(), AppError> {
        redis::cmd("DEL")
            .arg(self.counter_key(name))
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    /// A failed Redis call: counted (see [`RedisSessions::failed_calls`]), answered as 503.
    fn unavailable(&self, err: redis::RedisError) -> AppError {
        self.failed_calls.fetch_add(1, Ordering::Relaxed);
        AppError::Unavailable(anyhow::Error::new(err).context("session store"))
    }

    /// How many calls to Redis have failed since start-up.
    pub fn failed_calls(&self) -> u64 {
        self.failed_calls.load(Ordering::Relaxed)
    }

    fn counter_key(&self, name: &str) -> String {
        format!("{}:counter:{name}", self.prefix)
    }

    fn session_key(&self, digest: &str) -> String {
        format!("{}:session:{digest}", self.prefix)
    }

    fn index_key(&self, user_id: Uuid) -> String {
        format!("{}:user:{user_id}:sessions", self.prefix)
    }
}

/// A Redis TTL in seconds (negative when absent or without expiry) as a duration.
fn seconds(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}
