//! PgBouncer in front of a PostgreSQL server.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;

use super::postgres::{Postgres, check_postgres_url};
use super::run::{RunAs, Scratch, Server, Tool, on_free_port, wait_until, write_private};

/// How PgBouncer hands server connections to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// A server connection per client connection, for as long as it lasts.
    Session,
    /// A server connection per transaction: returned to the pool at every `ReadyForQuery`
    /// outside a transaction, i.e. after every `Sync` of the extended protocol.
    Transaction,
    /// A server connection per statement (no multi-statement transactions).
    Statement,
}

impl PoolMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
            Self::Statement => "statement",
        }
    }
}

/// PgBouncer settings a test may want to change.
#[derive(Debug, Clone)]
pub struct PgBouncerOptions {
    pub pool_mode: PoolMode,
    /// Server connections per database and user (`default_pool_size`).
    pub pool_size: u32,
    /// Client connections accepted in all (`max_client_conn`).
    pub max_client_conn: u32,
    /// Startup parameters accepted and ignored (`ignore_startup_parameters`). PgBouncer
    /// refuses a connection that sends any other it does not know: sqlx sends
    /// `extra_float_digits`, so without it every sqlx connection fails with "unsupported
    /// startup parameter: extra_float_digits"; the server sends `options`
    /// (its `statement_timeout`).
    pub ignore_startup_parameters: Vec<String>,
}

impl Default for PgBouncerOptions {
    fn default() -> Self {
        Self {
            pool_mode: PoolMode::Transaction,
            pool_size: 10,
            max_client_conn: 400,
            ignore_startup_parameters: vec!["extra_float_digits".to_owned(), "options".to_owned()],
        }
    }
}

/// PgBouncer in front of one PostgreSQL server, listening on a free port of 127.0.0.1.
///
/// Any database name is passed through to the upstream server (a `*` entry), so per-test
/// databases work. Clients are trusted (`auth_type = trust`) under the upstream URL's user;
/// PgBouncer logs in upstream as that user, with the URL's password when it has one, and
/// over TLS when the URL asks for it (`sslmode` and `sslrootcert` become
/// `server_tls_sslmode` and `server_tls_ca_file`). Clients reach PgBouncer without TLS.
#[derive(Debug)]
pub struct PgBouncer {
    server: Server,
    port: u16,
    upstream: String,
    /// A PostgreSQL of its own, when it was started without an upstream.
    own_upstream: Option<Postgres>,
    _scratch: Scratch,
}

impl PgBouncer {
    /// PgBouncer with [`PgBouncerOptions::default`] (transaction pooling) in front of the
    /// server of `upstream` (a `postgres://` URL).
    pub async fn start(upstream: &str) -> Result<Self> {
        Self::start_with(upstream, &PgBouncerOptions::default()).await
    }

    /// PgBouncer in front of a plain PostgreSQL cluster of its own.
    pub async fn start_with_own_postgres(options: &PgBouncerOptions) -> Result<Self> {
        let postgres = Postgres::start().await?;
        let mut bouncer = Self::start_with(&postgres.url(), options).await?;
        bouncer.own_upstream = Some(postgres);
        Ok(bouncer)
    }

    pub async fn start_with(upstream: &str, options: &PgBouncerOptions) -> Result<Self> {
        let pgbouncer = Tool::PgBouncer.require()?;
        let url = check_postgres_url(upstream)?;
        let host = url.host_str().context("the upstream URL has no host")?;
        let port = url.port().unwrap_or(5432);
        let user = decode(url.username());
        let user = if user.is_empty() {
            "postgres".to_owned()
        } else {
            user
        };
        let password = url.password().map(decode).unwrap_or_default();

        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let dir = scratch.path();
        let auth_file = dir.join("userlist.txt");
        write_private(
            &auth_file,
            &format!("{} {}\n", quote(&user), quote(&password)),
            &run_as,
        )?;

        let mut server_tls = String::new();
        for (key, value) in url.query_pairs() {
            match &*key {
                "sslmode" => server_tls.push_str(&format!("server_tls_sslmode = {value}\n")),
                "sslrootcert" => {
                    server_tls.push_str(&format!("server_tls_ca_file = {value}\n"));
                }
                _ => {}
            }
        }
        // Every test has a database of its own, and PgBouncer keeps up to a pool of server
        // connections for each: `server_idle_timeout` closes those of finished tests within
        // seconds, so that a whole run stays under PostgreSQL's `max_connections`.
        let base_config = format!(
            "[databases]\n\
             * = host={host} port={port}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {auth_file}\n\
             pool_mode = {pool_mode}\n\
             default_pool_size = {pool_size}\n\
             max_client_conn = {max_client_conn}\n\
             server_idle_timeout = 5\n\
             ignore_startup_parameters = {ignore}\n\
             {server_tls}",
            auth_file = auth_file.display(),
            pool_mode = options.pool_mode.as_str(),
            pool_size = options.pool_size,
            max_client_conn = options.max_client_conn,
            ignore = options.ignore_startup_parameters.join(","),
        );

        let log = dir.join("pgbouncer.log");
        let (run_as, base_config, log, pgbouncer) = (&run_as, &base_config, &log, &pgbouncer);
        let (port, server) = on_free_port(|port| async move {
            let config = dir.join("pgbouncer.ini");
            write_private(
                &config,
                &format!("{base_config}listen_port = {port}\n"),
                run_as,
            )?;
            let mut command = run_as.command(pgbouncer);
            command.arg(&config);
            // Dropped: SIGTERM, its immediate shutdown (SIGINT would wait for clients).
            let server = Server::spawn("PgBouncer", command, log, Signal::SIGTERM)?;
            wait_until(
                "PgBouncer listening",
                Duration::from_secs(30),
                &[&server],
                || async move {
                    tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .ok()
                        .map(drop)
                },
            )
            .await?;
            Ok((port, server))
        })
        .await?;

        Ok(Self {
            server,
            port,
            upstream: upstream.to_owned(),
            own_upstream: None,
            _scratch: scratch,
        })
    }

    /// The upstream URL with PgBouncer's address instead of the server's, and without TLS
    /// settings (PgBouncer takes plain connections).
    pub fn url(&self) -> String {
        let Ok(mut url) = url::Url::parse(&self.upstream) else {
            return String::new();
        };
        url.set_ip_host([127, 0, 0, 1].into()).ok();
        url.set_port(Some(self.port)).ok();
        let query: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| !key.starts_with("ssl"))
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        url.set_query(None);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url.to_string()
    }

    /// The URL of the server behind PgBouncer.
    pub fn upstream_url(&self) -> &str {
        &self.upstream
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self._scratch.path()
    }

    /// The last lines PgBouncer logged.
    pub fn log_tail(&self, lines: usize) -> String {
        self.server.log_tail(lines)
    }

    /// `TEST_DATABASE_URL` (through PgBouncer) and `TEST_DATABASE_DIRECT_URL` (the
    /// server behind it).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_DATABASE_URL", self.url()),
            ("TEST_DATABASE_DIRECT_URL", self.upstream.clone()),
        ]
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // Before the upstream, so that it does not log a storm of failed reconnections.
        self.server.kill_now();
        self.own_upstream.take();
    }
}

/// The installed PgBouncer's version, e.g. `(1, 18, 0)`.
pub fn pgbouncer_version() -> Result<(u32, u32, u32)> {
    let pgbouncer = Tool::PgBouncer.require()?;
    let output = std::process::Command::new(pgbouncer)
        .arg("--version")
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "PgBouncer 1.18.0" on the first line.
    let version = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .context("no version in `pgbouncer --version`")?;
    let mut parts = version.split('.').map(|part| {
        part.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    match (parts.next(), parts.next(), parts.next()) {
        (Some(major), Some(minor), patch) => Ok((major, minor, patch.unwrap_or(0))),
        _ => bail!("unexpected PgBouncer version {version:?}"),
    }
}

/// A double-quoted auth_file field (a quote inside is doubled).
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// A percent-decoded URL component (user names and passwords are kept encoded in a URL).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
