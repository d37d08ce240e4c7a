//! Configuration, read once from environment variables into one typed struct.

use std::env;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use ipnet::IpNet;
use secrecy::SecretString;

/// Everything the server can be configured with. See `.env.example` for each variable.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// PostgreSQL (`postgres://…`) or SQLite (`sqlite://…`); unset means the embedded
    /// SQLite file `./bookstore.db`.
    pub database_url: Option<SecretString>,
    pub database_max_connections: u32,
    /// The longest a query may wait for a connection, and then run, before the request
    /// fails with 503.
    pub database_timeout: Duration,
    /// A read replica of the PostgreSQL database, for anonymous catalogue reads.
    pub database_read_url: Option<SecretString>,
    /// The most the replica may lag behind the primary and still serve reads.
    pub database_read_max_lag: Duration,
    /// Where the migrations run, when not on `database_url` (behind PgBouncer).
    pub database_migration_url: Option<SecretString>,
    /// How statements reach PostgreSQL (`DATABASE_QUERY_MODE`).
    pub database_query_mode: QueryMode,
    /// Redis for sessions; unset (with no cluster or sentinels either) means an
    /// in-process session store.
    pub redis_url: Option<SecretString>,
    /// Some nodes of a Redis Cluster for sessions; before `redis_url` when set.
    pub redis_cluster_nodes: Vec<SecretString>,
    /// Sentinels that name the Redis master for sessions (with `redis_sentinel_master`, the
    /// name of its group); before `redis_url` when set.
    pub redis_sentinels: Vec<SecretString>,
    pub redis_sentinel_master: Option<String>,
    /// The CA certificate (PEM) that a `rediss://` server's certificate must chain to,
    /// for a private CA.
    pub redis_ca_cert: Option<PathBuf>,
    /// Prefix of every Redis key, so several deployments (or tests) can share one Redis.
    pub redis_key_prefix: String,
    pub access_token_ttl: Duration,
    /// The longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// The largest request body accepted; larger ones are answered with 413.
    pub max_body_bytes: usize,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    pub bcrypt_cost: u32,
    /// bcrypt jobs that run at once; 0 for no bound.
    pub bcrypt_workers: usize,
    /// bcrypt jobs that may wait for a worker before more are refused; 0 for no bound.
    pub bcrypt_queue: usize,
    /// Limits on failed logins (per account and client, per client, window).
    pub login_throttle: ThrottleSettings,
    /// Sign-ups per client address within `signup_window`; 0 for no limit.
    pub signup_max_per_client: u64,
    pub signup_window: Duration,
    /// The most sessions one account keeps (its oldest end); 0 for no limit.
    pub max_sessions_per_user: usize,
    /// How long the answer to a request with an `Idempotency-Key` is kept for its
    /// retries (`IDEMPOTENCY_KEY_TTL_HOURS`).
    pub idempotency_key_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
    /// The longest a client may take to send a request's headers, and the longest an
    /// idle connection stays open; zero for no limit.
    pub header_read_timeout: Duration,
    /// Open connections at most; 0 for no limit.
    pub max_connections: usize,
    /// Where `/metrics` is served instead of the API's port (`METRICS_ADDR`).
    pub metrics_addr: Option<String>,
    pub admin: Option<AdminBootstrap>,
    /// Browser origins (`https://shop.example.com`) whose pages may call the API; empty
    /// turns CORS off.
    pub cors_allowed_origins: Vec<String>,
    /// The in-memory cache of catalogue reads (`CATALOGUE_CACHE*`).
    pub catalogue_cache: CatalogueCacheSettings,
    /// `ACCOUNT_CACHE_MAX_ENTRIES`: the most accounts kept in memory to authenticate
    /// requests on PostgreSQL; 0 turns the cache off.
    pub account_cache_max_entries: usize,
}

/// The catalogue cache: on or off, and how much it may hold.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueCacheSettings {
    /// `CATALOGUE_CACHE`: `on` (the default) or `off`.
    pub enabled: bool,
    /// `CATALOGUE_CACHE_MAX_ENTRIES`: the most representations kept; 0 turns it off.
    pub max_entries: usize,
    /// `CATALOGUE_CACHE_MAX_BYTES`: the most bytes of representations kept (a list page
    /// can be large); 0 turns it off.
    pub max_bytes: usize,
}

/// How statements reach PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryMode {
    /// Prepared, with their values bound apart from the SQL; each connection keeps its
    /// prepared statements, so a statement is parsed once per connection.
    #[default]
    Prepared,
    /// As text with the values written in by sea-query's quoting (the simple query
    /// protocol), so that no prepared statement outlives its statement. For PgBouncer
    /// before 1.21 in transaction pooling, which hands the next message of a connection
    /// to another server connection than the one that prepared its statement.
    Simple,
}

/// Limits on failed password guesses; 0 turns a limit off.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    /// Failures on one account from one client within `window` after which that client's
    /// guesses at that account are refused.
    pub max_per_account: u64,
    /// Failures from one client within `window` after which its guesses are refused.
    pub max_per_client: u64,
    /// How long failures are remembered, from the first one.
    pub window: Duration,
}

/// The administrator account ensured at start-up.
#[derive(Debug, Clone)]
pub struct AdminBootstrap {
    pub email: String,
    pub password: SecretString,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| env::var(key).ok())
    }

    /// Reads the settings from any key-value source; unset or empty values take defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let text = |key: &str, default: &str| get(key).unwrap_or_else(|| default.to_owned());

        let bcrypt_cost: u32 = number(&get, "BCRYPT_COST", 12)?;
        if !(4..=31).contains(&bcrypt_cost) {
            bail!("BCRYPT_COST must be between 4 and 31");
        }
        let minutes = positive(&get, "ACCESS_TOKEN_EXPIRE_MINUTES", 30)?;
        let redis_key_prefix = text("REDIS_KEY_PREFIX", "bookstore");
        let redis_sentinels = list(get("REDIS_SENTINELS"));
        let redis_sentinel_master = get("REDIS_SENTINEL_MASTER");
        if redis_sentinels.is_empty() != redis_sentinel_master.is_none() {
            bail!("REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together");
        }
        // Braces would become the Redis Cluster hash tag of every key.
        if redis_key_prefix.contains(['{', '}']) {
            bail!("REDIS_KEY_PREFIX must not contain braces");
        }
        let admin = match (get("ADMIN_EMAIL"), get("ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some(AdminBootstrap {
                email,
                password: SecretString::from(password),
            }),
            (None, None) => None,
            _ => bail!("ADMIN_EMAIL and ADMIN_PASSWORD must be set together"),
        };

        Ok(Self {
            host: text("HOST", "0.0.0.0"),
            port: number(&get, "PORT", 8080)?,
            database_url: get("DATABASE_URL").map(SecretString::from),
            database_max_connections: number(&get, "DATABASE_MAX_CONNECTIONS", 10)?,
            database_timeout: Duration::from_millis(positive(&get, "DATABASE_TIMEOUT_MS", 1000)?),
            database_read_url: get("DATABASE_READ_URL").map(SecretString::from),
            database_read_max_lag: Duration::from_millis(number(
                &get,
                "DATABASE_READ_MAX_LAG_MS",
                1000,
            )?),
            database_migration_url: get("DATABASE_MIGRATION_URL").map(SecretString::from),
            database_query_mode: match get("DATABASE_QUERY_MODE").as_deref().map(str::trim) {
                None | Some("prepared") => QueryMode::Prepared,
                Some("simple") => QueryMode::Simple,
                Some(other) => {
                    bail!("DATABASE_QUERY_MODE must be prepared or simple, not {other:?}")
                }
            },
            redis_url: get("REDIS_URL").map(SecretString::from),
            redis_cluster_nodes: list(get("REDIS_CLUSTER_NODES")),
            redis_sentinels,
            redis_sentinel_master,
            redis_ca_cert: get("REDIS_CA_CERT").map(PathBuf::from),
            redis_key_prefix,
            access_token_ttl: Duration::from_secs(minutes * 60),
            request_timeout: Duration::from_secs(positive(&get, "REQUEST_TIMEOUT_SECONDS", 30)?),
            max_body_bytes: number(&get, "MAX_BODY_BYTES", 64 * 1024)?,
            shutdown_grace: Duration::from_secs(number(&get, "SHUTDOWN_GRACE_SECONDS", 10)?),
            bcrypt_cost,
            bcrypt_workers: number(&get, "BCRYPT_WORKERS", cores())?,
            bcrypt_queue: number(&get, "BCRYPT_QUEUE", 64)?,
            login_throttle: ThrottleSettings {
                max_per_account: number(&get, "LOGIN_MAX_FAILURES", 5)?,
                max_per_client: number(&get, "LOGIN_MAX_FAILURES_PER_CLIENT", 50)?,
                window: Duration::from_secs(positive(&get, "LOGIN_THROTTLE_WINDOW_SECONDS", 900)?),
            },
            signup_max_per_client: number(&get, "SIGNUP_MAX_PER_CLIENT", 20)?,
            signup_window: Duration::from_secs(positive(&get, "SIGNUP_WINDOW_SECONDS", 3600)?),
            max_sessions_per_user: number(&get, "MAX_SESSIONS_PER_USER", 50)?,
            idempotency_key_ttl: Duration::from_secs(idempotency_key_ttl_hours(&get)? * 3600),
            trusted_proxies: networks(get("TRUSTED_PROXIES"))?,
            header_read_timeout: Duration::from_secs(number(
                &get,
                "HEADER_READ_TIMEOUT_SECONDS",
                10,
            )?),
            max_connections: number(&get, "MAX_CONNECTIONS", 4096)?,
            metrics_addr: get("METRICS_ADDR"),
            admin,
            cors_allowed_origins: origins(get("CORS_ALLOWED_ORIGINS"))?,
            catalogue_cache: CatalogueCacheSettings {
                enabled: switch(&get, "CATALOGUE_CACHE", true)?,
                max_entries: number(&get, "CATALOGUE_CACHE_MAX_ENTRIES", 10_000)?,
                max_bytes: number(&get, "CATALOGUE_CACHE_MAX_BYTES", 8 * 1024 * 1024)?,
            },
            account_cache_max_entries: number(&get, "ACCOUNT_CACHE_MAX_ENTRIES", 10_000)?,
        })
    }
}

/// A comma-separated list of exact origins: scheme, host and optional port, no path and
/// no wildcard. Lower-cased, as browsers send them.
fn origins(list: Option<String>) -> anyhow::Result<Vec<String>> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match host {
                Some(host)
                    if !host.is_empty()
                        && host.bytes().all(|b| b.is_ascii_graphic())
                        && !host.contains(['/', '*', '?', '#', '@']) =>
                {
                    Ok(origin.to_ascii_lowercase())
                }
                _ => bail!(
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an exact origin such as \
                     https://shop.example.com (no path, no wildcard)"
                ),
            }
        })
        .collect()
}

/// A comma-separated list of URLs (which may hold passwords).
fn list(value: Option<String>) -> Vec<SecretString> {
    value
        .iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(SecretString::from)
        .collect()
}

/// A comma-separated list of networks in CIDR notation (`10.0.0.0/8, fd00::/8`); a bare
/// address is a network of one.
fn networks(list: Option<String>) -> anyhow::Result<Vec<IpNet>> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|net| !net.is_empty())
        .map(|net| {
            net.parse::<IpNet>()
                .or_else(|_| net.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "TRUSTED_PROXIES: {net:?} is not a network such as 10.0.0.0/8 or an address"
                    )
                })
        })
        .collect()
}

/// The processors this process may use: as many bcrypt jobs as run at once by default.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `IDEMPOTENCY_KEY_TTL_HOURS`: 1 to 8760 (a year).
fn idempotency_key_ttl_hours(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<u64> {
    let hours = positive(get, "IDEMPOTENCY_KEY_TTL_HOURS", 24)?;
    if hours > 8760 {
        bail!("IDEMPOTENCY_KEY_TTL_HOURS must be at most 8760 (a year)");
    }
    Ok(hours)
}

/// A number of at least 1.
fn positive(get: &impl Fn(&str) -> Option<String>, key: &str, default: u64) -> anyhow::Result<u64> {
    let value: u64 = number(get, key, default)?;
    if value == 0 {
        bail!("{key} must be at least 1");
    }
    Ok(value)
}

/// `on` or `off`.
fn switch(get: &impl Fn(&str) -> Option<String>, key: &str, default: bool) -> anyhow::Result<bool> {
    match get(key).as_deref().map(str::trim) {
        None => Ok(default),
        Some(on) if on.eq_ignore_ascii_case("on") => Ok(true),
        Some(off) if off.eq_ignore_ascii_case("off") => Ok(false),
        Some(other) => bail!("{key} must be on or off, not {other:?}"),
    }
}

fn number<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match get(key) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .with_context(|| format!("{key} must be a number, got {raw:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;
    use std::collections::HashMap;
    use std::time::Duration;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|key| map.get(key).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert_eq!((s.host.as_str(), s.port), ("0.0.0.0", 8080));
        assert_eq!(s.access_token_ttl, Duration::from_secs(30 * 60));
        assert_eq!(s.bcrypt_cost, 12);
        assert_eq!(s.idempotency_key_ttl, Duration::from_secs(24 * 3600));
        assert!(s.admin.is_none());
        assert!(s.catalogue_cache.enabled);
        assert_eq!(s.catalogue_cache.max_entries, 10_000);
        assert_eq!(s.account_cache_max_entries, 10_000);
        Ok(())
    }

    #[test]
    fn invalid_values_are_reported_by_name() {
        for (key, value) in [
            ("PORT", "eighty"),
            ("BCRYPT_COST", "3"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
            ("ADMIN_EMAIL", "root@example.com"),
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOWED_ORIGINS", "https://shop.example.com/app"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("REDIS_KEY_PREFIX", "shop{1}"),
            ("REDIS_SENTINELS", "redis://127.0.0.1:26379"),
            ("DATABASE_QUERY_MODE", "extended"),
            ("TRUSTED_PROXIES", "a-load-balancer"),
            ("SIGNUP_MAX_PER_CLIENT", "-1"),
            ("IDEMPOTENCY_KEY_TTL_HOURS", "0"),
            ("IDEMPOTENCY_KEY_TTL_HOURS", "8761"),
            ("CATALOGUE_CACHE", "yes"),
            ("CATALOGUE_CACHE_MAX_ENTRIES", "many"),
            ("CATALOGUE_CACHE_MAX_BYTES", "-1"),
            ("ACCOUNT_CACHE_MAX_ENTRIES", "all"),
        ] {
            let err = settings(&[(key, value)])
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_are_networks_or_addresses() -> anyhow::Result<()> {
        let s = settings(&[("TRUSTED_PROXIES", " 10.0.0.0/8, 2001:db8::/32 ,192.0.2.1")])?;
        let shown: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32"]);
        assert!(settings(&[])?.trusted_proxies.is_empty());
        Ok(())
    }

    #[test]
    fn zero_turns_a_limit_off() -> anyhow::Result<()> {
        let s = settings(&[
            ("LOGIN_MAX_FAILURES", "0"),
            ("SIGNUP_MAX_PER_CLIENT", "0"),
            ("MAX_CONNECTIONS", "0"),
            ("CATALOGUE_CACHE_MAX_ENTRIES", "0"),
            ("ACCOUNT_CACHE_MAX_ENTRIES", "0"),
        ])?;
        assert_eq!(s.catalogue_cache.max_entries, 0);
        assert_eq!(s.account_cache_max_entries, 0);
        assert_eq!(s.login_throttle.max_per_account, 0);
        assert_eq!((s.signup_max_per_client, s.max_connections), (0, 0));
        Ok(())
    }

    #[test]
    fn cors_origins_are_a_trimmed_lower_cased_list() -> anyhow::Result<()> {
        let s = settings(&[(
            "CORS_ALLOWED_ORIGINS",
            " https://Shop.example.com, http://localhost:3000 ,",
        )])?;
        assert_eq!(
            s.cors_allowed_origins,
            ["https://shop.example.com", "http://localhost:3000"]
        );
        assert!(settings(&[])?.cors_allowed_origins.is_empty());
        Ok(())
    }
}
