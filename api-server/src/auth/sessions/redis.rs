//! Sessions in Redis, shared by every replica of the server.
//!
//! Keys, all of one account in one Redis Cluster slot (the hash tag `{<user id>}`):
//! - `<prefix>:session:{<user id>}:<digest>` → `<user id> <start in ms>`, with the
//!   session's TTL;
//! - `<prefix>:sessions:{<user id>}` → a sorted set of the account's digests by expiry,
//!   pruned of expired ones and capped at every new session.
//!
//! Counters of the login and sign-up throttles are single keys,
//! `<prefix>:counter:<name>`, each changed by one atomic script. Every script declares
//! every key it touches.

mod connection;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use redis::aio::ConnectionManagerConfig;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use redis::cluster::ClusterClient;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionAddr, IntoConnectionInfo, TlsMode};

use self::connection::{Connection, Source};
use super::Entry;
use crate::error::AppError;

/// Bounds on every Redis call, so an outage fails a request within about a second
/// instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const RETRIES: usize = 2;
/// The longest one call may take in all, reconnecting and retrying included.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Stores a session (KEYS[1]) and indexes it (KEYS[2]) by expiry (ARGV[4], ms), after
/// pruning the index of expired sessions (before ARGV[3], ms); past the cap (ARGV[6], 0
/// for none) removes the oldest entries from the index and returns their digests, whose
/// session keys the caller then deletes.
const INSERT: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
local evicted = {}
local cap = tonumber(ARGV[6])
if cap > 0 then
  local excess = redis.call('ZCARD', KEYS[2]) - cap
  if excess > 0 then
    evicted = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  end
end
return evicted
";

/// Adds one to a counter (KEYS[1]) unless it has reached the limit (ARGV[1]); its window
/// (ARGV[2], ms) starts with the first increment. Returns {1, 0} when a place was taken,
/// {0, milliseconds left in the window} when not.
const RESERVE: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return {0, redis.call('PTTL', KEYS[1])}
end
if redis.call('INCR', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {1, 0}
";

/// Gives back one place of a counter (KEYS[1]), never below zero.
const RELEASE: &str = r"
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
";

/// Increments a counter (KEYS[1]), starting its window (ARGV[1], ms) on the first
/// increment.
const INCREMENT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
";

#[derive(Clone)]
pub struct RedisSessions {
    conn: Connection,
    prefix: Arc<str>,
    failed_calls: Arc<AtomicU64>,
}

impl RedisSessions {
    /// Prepares the connection to `deployment` without opening it; it opens on first use
    /// and reopens by itself after Redis restarts, stops answering or fails over. `rediss://`
    /// URLs connect over TLS, trusting `ca_cert` (PEM) when given, else the system's and the
    /// public roots.
    pub fn new(
        deployment: &Deployment,
        prefix: &str,
        ca_cert: Option<Vec<u8>>,
    ) -> anyhow::Result<Self> {
        let certificates = ca_cert.map(|pem| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        });
        let source = match deployment {
            Deployment::Server(url) => Source::Server(
                match certificates {
                    Some(certificates) => redis::Client::build_with_tls(url.as_str(), certificates),
                    None => redis::Client::open(url.as_str()),
                }
                .context(
                    "REDIS_URL is not a valid Redis URL (or REDIS_CA_CERT no PEM certificate)",
                )?,
            ),
            Deployment::Cluster(nodes) => {
                let mut builder = ClusterClient::builder(nodes.iter().map(String::as_str))
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(u32::try_from(RETRIES).unwrap_or(2));
                if let Some(certificates) = certificates {
                    builder = builder.certs(certificates);
                }
                Source::Cluster(
                    builder
                        .build()
                        .context("REDIS_CLUSTER_NODES are not valid Redis URLs")?,
                )
            }
            Deployment::Sentinel { sentinels, master } => {
                Source::Sentinel(sentinel_client(sentinels, master, certificates)?)
            }
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RETRIES);
        Ok(Self {
            conn: Connection::new_lazy(source, config, CALL_TIMEOUT),
            prefix: prefix.into(),
            failed_calls: Arc::default(),
        })
    }

    /// Stores the session `digest`; past `cap` sessions of its account, the oldest end.
    pub async fn insert(
        &self,
        digest: &str,
        entry: Entry,
        ttl: Duration,
        cap: usize,
    ) -> Result<(), AppError> {
        let now = Utc::now().timestamp_millis();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let index = self.index_key(entry.user_id);
        let evicted: Vec<String> = Script::new(INSERT)
            .key(self.session_key(entry.user_id, digest))
            .key(&index)
            .arg(entry.encode())
            .arg(ttl_ms)
            .arg(now)
            .arg(now.saturating_add(ttl_ms))
            .arg(digest)
            .arg(cap)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))?;
        if evicted.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = evicted
            .iter()
            .map(|old| self.session_key(entry.user_id, old))
            .collect();
        self.conn
            .clone()
            .del(keys)
            .await
            .map_err(|err| self.unavailable(err))
    }

    pub async fn get(&self, user_id: Uuid, digest: &str) -> Result<Option<Entry>, AppError> {
        let value: Option<String> = self
            .conn
            .clone()
            .get(self.session_key(user_id, digest))
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok(value.as_deref().and_then(Entry::decode))
    }

    /// Rewrites a live session's entry, keeping its expiry.
    pub async fn replace(&self, digest: &str, entry: Entry) -> Result<(), AppError> {
        redis::cmd("SET")
            .arg(self.session_key(entry.user_id, digest))
            .arg(entry.encode())
            .arg("XX")
            .arg("KEEPTTL")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    pub async fn remove(&self, user_id: Uuid, digest: &str) -> Result<(), AppError> {
        redis::pipe()
            .atomic()
            .del(self.session_key(user_id, digest))
            .ignore()
            .zrem(self.index_key(user_id), digest)
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    /// Ends every indexed session of the account but `keep`. A session that begins
    /// meanwhile may survive here; the account's `sessions_valid_after` refuses it.
    pub async fn remove_all(&self, user_id: Uuid, keep: Option<&str>) -> Result<(), AppError> {
        let index = self.index_key(user_id);
        let digests: Vec<String> = self
            .conn
            .clone()
            .zrange(&index, 0, -1)
            .await
            .map_err(|err| self.unavailable(err))?;
        let ended: Vec<&String> = digests
            .iter()
            .filter(|digest| Some(digest.as_str()) != keep)
            .collect();
        if ended.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = ended
            .iter()
            .map(|digest| self.session_key(user_id, digest))
            .collect();
        redis::pipe()
            .atomic()
            .del(keys)
            .ignore()
            .zrem(&index, ended)
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    /// Fails when Redis answers but its certificate does not verify: a server that can
    /// never use its session store should not start. Any other failure (Redis is down)
    /// is only logged: the server starts and answers 503 until Redis is back.
    pub async fn check_certificate(&self) -> anyhow::Result<()> {
        let Err(err) = redis::cmd("PING").exec_async(&mut self.conn.clone()).await else {
            return Ok(());
        };
        if is_certificate_error(&err) {
            anyhow::bail!(
                "REDIS_URL: the Redis server's TLS certificate does not verify ({err}); for a \
                 private CA, set REDIS_CA_CERT to its certificate"
            );
        }
        tracing::warn!(error = %err, "Redis does not answer yet; starting all the same");
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), AppError> {
        redis::cmd("PING")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    /// Takes a place of the counter `name` unless it has reached `limit`; `Err` holds the
    /// time left in its window.
    pub async fn reserve(
        &self,
        name: &str,
        limit: u64,
        window: Duration,
    ) -> Result<Result<(), Duration>, AppError> {
        let (taken, left_ms): (u8, i64) = Script::new(RESERVE)
            .key(self.counter_key(name))
            .arg(limit)
            .arg(millis(window))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok(if taken == 1 {
            Ok(())
        } else {
            Err(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)))
        })
    }

    /// Gives back one place of the counter `name`.
    pub async fn release(&self, name: &str) -> Result<(), AppError> {
        let _: i64 = Script::new(RELEASE)
            .key(self.counter_key(name))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok(())
    }

    /// Adds one to the counter `name`, which expires `window` after its first increment;
    /// returns the new count.
    pub async fn increment(&self, name: &str, window: Duration) -> Result<u64, AppError> {
        Script::new(INCREMENT)
            .key(self.counter_key(name))
            .arg(millis(window))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|err| self.unavailable(err))
    }

    /// The counter `name`, 0 when it is not set.
    pub async fn counter(&self, name: &str) -> Result<u64, AppError> {
        let count: Option<u64> = self
            .conn
            .clone()
            .get(self.counter_key(name))
            .await
            .map_err(|err| self.unavailable(err))?;
        Ok(count.unwrap_or(0))
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

    fn session_key(&self, user_id: Uuid, digest: &str) -> String {
        format!("{}:session:{{{user_id}}}:{digest}", self.prefix)
    }

    fn index_key(&self, user_id: Uuid) -> String {
        format!("{}:sessions:{{{user_id}}}", self.prefix)
    }
}

/// Which Redis to keep sessions in.
#[derive(Debug, Clone)]
pub enum Deployment {
    /// One server (`REDIS_URL`).
    Server(String),
    /// A Redis Cluster, through some of its nodes (`REDIS_CLUSTER_NODES`).
    Cluster(Vec<String>),
    /// The master of the group `master` that these sentinels watch (`REDIS_SENTINELS`,
    /// `REDIS_SENTINEL_MASTER`).
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
}

/// A client of the sentinels' current master. The master is reached with the user,
/// password and TLS of the first sentinel's URL, as groups are usually set up alike.
fn sentinel_client(
    sentinels: &[String],
    master: &str,
    certificates: Option<redis::TlsCertificates>,
) -> anyhow::Result<SentinelClient> {
    let infos = sentinels
        .iter()
        .map(|url| url.as_str().into_connection_info())
        .collect::<Result<Vec<_>, _>>()
        .context("REDIS_SENTINELS are not valid Redis URLs")?;
    let first = infos
        .first()
        .context("REDIS_SENTINELS names no sentinel")?
        .clone();
    let tls = matches!(first.addr(), ConnectionAddr::TcpTls { .. });
    let auth = first.redis_settings();
    let mut builder = SentinelClientBuilder::new(
        infos.iter().map(|info| info.addr().clone()),
        master,
        SentinelServerType::Master,
    )?;
    if let Some(username) = auth.username() {
        builder = builder
            .set_client_to_sentinel_username(username)
            .set_client_to_redis_username(username);
    }
    if let Some(password) = auth.password() {
        builder = builder
            .set_client_to_sentinel_password(password)
            .set_client_to_redis_password(password);
    }
    if tls {
        builder = builder
            .set_client_to_sentinel_tls_mode(TlsMode::Secure)
            .set_client_to_redis_tls_mode(TlsMode::Secure);
    }
    if let Some(certificates) = certificates {
        builder = builder
            .set_client_to_sentinel_certificates(certificates.clone())
            .set_client_to_redis_certificates(certificates);
    }
    builder
        .build()
        .context("REDIS_SENTINELS and REDIS_SENTINEL_MASTER do not make a Sentinel client")
}

/// Whether `err` comes from a certificate that did not verify. The redis crate keeps
/// the TLS error behind a shared pointer that hides its type, so its message tells: every
/// rustls error about the peer's certificate says "certificate".
fn is_certificate_error(err: &redis::RedisError) -> bool {
    err.to_string().to_lowercase().contains("certificate")
}

/// A window in milliseconds, at least one.
fn millis(window: Duration) -> u64 {
    u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1)
}
