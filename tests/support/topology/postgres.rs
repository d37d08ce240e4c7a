//! PostgreSQL clusters: plain, TLS-only, and a primary with a streaming replica.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;
use sqlx::{Connection, PgConnection};

use super::ca::Ca;
use super::run::{
    RunAs, Scratch, Server, Tool, append, on_free_port, run, wait_until, write_private,
};

/// How long a cluster may take to accept connections after it starts.
const STARTUP: Duration = Duration::from_secs(60);

/// What every test cluster gets: TCP on 127.0.0.1 only (no unix socket, so no path length
/// to worry about), room for the suite's many small pools, and no durability, which is
/// pointless for a cluster deleted at the end and slows down every CREATE DATABASE.
const BASE_CONF: &str = "
# Throwaway test cluster (tests/support/topology)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
";

/// One PostgreSQL cluster: a data directory and, while it runs, its postmaster.
#[derive(Debug)]
pub(crate) struct PgCluster {
    name: String,
    bindir: PathBuf,
    data: PathBuf,
    log: PathBuf,
    run_as: RunAs,
    port: u16,
    server: Option<Server>,
}

impl PgCluster {
    /// Runs initdb for a cluster in `dir/name`; `auth` are initdb's authentication
    /// arguments.
    async fn init(dir: &Path, name: &str, run_as: &RunAs, auth: &[&str]) -> Result<Self> {
        let bindir = Tool::Postgres.require()?;
        let cluster = Self::at(dir, name, bindir, run_as);
        let mut initdb = run_as.command(cluster.bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&cluster.data)
            .args([
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .args(auth);
        run(
            &format!("initdb ({name})"),
            initdb,
            Duration::from_secs(120),
        )
        .await?;
        cluster.configure(BASE_CONF)?;
        Ok(cluster)
    }

    /// A cluster whose data directory `dir/name` is made by other means (pg_basebackup).
    fn at(dir: &Path, name: &str, bindir: PathBuf, run_as: &RunAs) -> Self {
        Self {
            name: name.to_owned(),
            bindir,
            data: dir.join(name),
            log: dir.join(format!("{name}.log")),
            run_as: run_as.clone(),
            port: 0,
            server: None,
        }
    }

    /// Appends settings to postgresql.conf (later lines win).
    fn configure(&self, settings: &str) -> Result<()> {
        append(&self.data.join("postgresql.conf"), settings)
    }

    /// Replaces pg_hba.conf.
    fn set_hba(&self, hba: &str) -> Result<()> {
        write_private(&self.data.join("pg_hba.conf"), hba, &self.run_as)
    }

    /// Starts the cluster: on a free port the first time, on the same port afterwards.
    async fn start(&mut self) -> Result<()> {
        if self.server.is_some() {
            return Ok(());
        }
        let (port, server) = if self.port == 0 {
            on_free_port(|port| self.launch(port)).await?
        } else {
            self.launch(self.port).await?
        };
        self.port = port;
        self.server = Some(server);
        Ok(())
    }

    async fn launch(&self, port: u16) -> Result<(u16, Server)> {
        let mut postgres = self.run_as.command(self.bindir.join("postgres"));
        postgres
            .arg("-D")
            .arg(&self.data)
            .arg("-p")
            .arg(port.to_string());
        // Dropped: immediate shutdown (SIGQUIT); the data is thrown away anyway.
        let server = Server::spawn(
            format!("PostgreSQL {}", self.name),
            postgres,
            &self.log,
            Signal::SIGQUIT,
        )?;
        let data = &self.data;
        wait_until(
            &format!("PostgreSQL {} accepting connections", self.name),
            STARTUP,
            &[&server],
            || async move { postmaster_ready(data, port).then_some(()) },
        )
        .await?;
        Ok((port, server))
    }

    /// Stops the cluster cleanly (fast shutdown), keeping its data and port.
    async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(Signal::SIGINT, Duration::from_secs(30)).await;
        }
    }

    fn is_running(&self) -> bool {
        self.server.as_ref().is_some_and(Server::is_running)
    }

    /// `postgres://{credentials}127.0.0.1:{port}/{database}{query}`.
    fn url(&self, credentials: &str, database: &str, query: &str) -> String {
        format!(
            "postgres://{credentials}127.0.0.1:{}/{database}{query}",
            self.port
        )
    }
}

/// The postmaster writes its status into the last line of postmaster.pid: `ready` once it
/// accepts connections (a hot standby too, once it is consistent).
fn postmaster_ready(data: &Path, port: u16) -> bool {
    let Ok(pid_file) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return false;
    };
    let lines: Vec<&str> = pid_file.lines().collect();
    lines.get(3).map(|line| line.trim()) == Some(port.to_string().as_str())
        && lines.get(7).map(|line| line.trim()) == Some("ready")
}

/// A plain PostgreSQL cluster: TCP on 127.0.0.1, the `postgres` superuser trusted without
/// a password. What PgBouncer is put in front of in its self-test.
#[derive(Debug)]
pub struct Postgres {
    cluster: PgCluster,
    _scratch: Scratch,
}

impl Postgres {
    pub async fn start() -> Result<Self> {
        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let mut cluster = PgCluster::init(scratch.path(), "pg", &run_as, &["--auth=trust"]).await?;
        cluster.set_hba("host all all 127.0.0.1/32 trust\n")?;
        cluster.start().await?;
        Ok(Self {
            cluster,
            _scratch: scratch,
        })
    }

    /// The superuser's URL (database `postgres`).
    pub fn url(&self) -> String {
        self.cluster.url("postgres@", "postgres", "")
    }

    pub fn port(&self) -> u16 {
        self.cluster.port
    }

    /// The topology's private directory.
    pub fn dir(&self) -> &Path {
        self._scratch.path()
    }

    /// `TEST_DATABASE_URL`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("TEST_DATABASE_URL", self.url())]
    }
}

/// The password of the `postgres` superuser of a [`TlsPostgres`].
pub const TLS_POSTGRES_PASSWORD: &str = "bookstore-tls-secret";

/// A PostgreSQL cluster that takes TLS connections only: `ssl = on` with a certificate of
/// its own [`Ca`], and a pg_hba.conf whose only TCP entries are `hostssl` (with a SCRAM
/// password), so a connection without TLS is refused ("no pg_hba.conf entry … no
/// encryption").
#[derive(Debug)]
pub struct TlsPostgres {
    cluster: PgCluster,
    ca: Ca,
    _scratch: Scratch,
}

impl TlsPostgres {
    pub async fn start() -> Result<Self> {
        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let ca = Ca::create_in(&scratch.path().join("ca"), &run_as).await?;
        let pwfile = scratch.path().join("pwfile");
        write_private(&pwfile, TLS_POSTGRES_PASSWORD, &run_as)?;
        let mut cluster = PgCluster::init(
            scratch.path(),
            "pg",
            &run_as,
            &[
                "--auth=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
            ],
        )
        .await?;
        let server = ca.server();
        cluster.configure(&format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            server.cert.display(),
            server.key.display()
        ))?;
        cluster.set_hba(
            "# TLS only: a connection without it matches no line and is refused.\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n",
        )?;
        cluster.start().await?;
        Ok(Self {
            cluster,
            ca,
            _scratch: scratch,
        })
    }

    /// The superuser's URL with full verification: TLS required, the certificate signed
    /// by [`TlsPostgres::ca`] and issued for the host.
    pub fn url(&self) -> String {
        self.url_with("verify-full", Some(&self.ca.cert()))
    }

    /// The superuser's URL with `sslmode` and, when given, `sslrootcert`.
    pub fn url_with(&self, sslmode: &str, root_cert: Option<&Path>) -> String {
        let mut query = format!("?sslmode={sslmode}");
        if let Some(root_cert) = root_cert {
            query.push_str(&format!("&sslrootcert={}", root_cert.display()));
        }
        self.cluster.url(
            &format!("postgres:{TLS_POSTGRES_PASSWORD}@"),
            "postgres",
            &query,
        )
    }

    /// The superuser's URL without TLS (`sslmode=disable`), which the server refuses.
    pub fn plain_url(&self) -> String {
        self.url_with("disable", None)
    }

    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    pub fn port(&self) -> u16 {
        self.cluster.port
    }

    pub fn dir(&self) -> &Path {
        self._scratch.path()
    }

    /// `TEST_DATABASE_URL` (verify-full), `TEST_DATABASE_PLAIN_URL` (refused) and
    /// `TEST_DATABASE_CA_CERT`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_DATABASE_URL", self.url()),
            ("TEST_DATABASE_PLAIN_URL", self.plain_url()),
            (
                "TEST_DATABASE_CA_CERT",
                self.ca.cert().display().to_string(),
            ),
        ]
    }
}

/// A primary and a hot-standby replica that streams from it (made with
/// `pg_basebackup -R` through a replication slot, so a stopped replica catches up when it
/// starts again). Both trust `postgres` on 127.0.0.1 and preload `pg_stat_statements`,
/// created in `postgres` and `template1`, so a test can see which queries ran on which.
#[derive(Debug)]
pub struct PgReplica {
    replica: PgCluster,
    primary: PgCluster,
    _scratch: Scratch,
}

/// How far a replica is behind its primary.
#[derive(Debug, Clone, Copy)]
pub struct ReplayLag {
    /// WAL the primary has flushed (every commit included) that the replica has not
    /// replayed yet.
    pub bytes: i64,
    /// Time since the last transaction the replica replayed was committed on the primary,
    /// when it has replayed one; it grows while the primary is idle, too.
    pub since_last_replayed_commit: Option<Duration>,
}

impl PgReplica {
    pub async fn start() -> Result<Self> {
        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let dir = scratch.path();
        let mut primary = PgCluster::init(dir, "primary", &run_as, &["--auth=trust"]).await?;
        // Commits wait for their WAL to be flushed (cheap with fsync off), so that the
        // flushed position, which the replica is measured against, covers every commit.
        primary.configure(
            "synchronous_commit = on\n\
             wal_level = replica\n\
             max_wal_senders = 10\n\
             max_replication_slots = 10\n\
             hot_standby = on\n\
             shared_preload_libraries = 'pg_stat_statements'\n",
        )?;
        primary.set_hba(
            "host all all 127.0.0.1/32 trust\n\
             host replication all 127.0.0.1/32 trust\n",
        )?;
        primary.start().await?;
        for database in ["postgres", "template1"] {
            let url = primary.url("postgres@", database, "");
            let mut conn = PgConnection::connect(&url).await?;
            sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                .execute(&mut conn)
                .await
                .with_context(|| format!("creating pg_stat_statements in {database}"))?;
        }

        let mut replica = PgCluster::at(dir, "replica", primary.bindir.clone(), &run_as);
        let mut basebackup = run_as.command(primary.bindir.join("pg_basebackup"));
        basebackup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(&replica.data)
            .args(["-R", "-C", "-S", "bookstore_replica", "-X", "stream"])
            .args(["-c", "fast", "--no-sync"]);
        run("pg_basebackup", basebackup, Duration::from_secs(120)).await?;
        replica.start().await?;
        let topology = Self {
            replica,
            primary,
            _scratch: scratch,
        };
        topology.wait_for_replay(STARTUP).await?;
        Ok(topology)
    }

    /// The primary's superuser URL (database `postgres`).
    pub fn primary_url(&self) -> String {
        self.primary.url("postgres@", "postgres", "")
    }

    /// The replica's superuser URL (database `postgres`); it is read-only.
    pub fn replica_url(&self) -> String {
        self.replica.url("postgres@", "postgres", "")
    }

    pub fn dir(&self) -> &Path {
        self._scratch.path()
    }

    /// Stops the replica (fast shutdown); its port refuses connections until
    /// [`PgReplica::start_replica`].
    pub async fn stop_replica(&mut self) {
        self.replica.stop().await;
    }

    /// Starts the stopped replica again, on the same port; it catches up by itself.
    pub async fn start_replica(&mut self) -> Result<()> {
        self.replica.start().await
    }

    pub fn replica_is_running(&self) -> bool {
        self.replica.is_running()
    }

    /// Pauses replay on the replica: from here on it falls behind by whatever the primary
    /// writes, which is how a test makes replication lag on demand.
    pub async fn pause_replay(&self) -> Result<()> {
        self.on_replica("SELECT pg_wal_replay_pause()").await
    }

    /// Resumes replay after [`PgReplica::pause_replay`].
    pub async fn resume_replay(&self) -> Result<()> {
        self.on_replica("SELECT pg_wal_replay_resume()").await
    }

    async fn on_replica(&self, sql: &'static str) -> Result<()> {
        let mut conn = PgConnection::connect(&self.replica_url()).await?;
        sqlx::raw_sql(sql).execute(&mut conn).await?;
        Ok(())
    }

    /// The primary's WAL position flushed so far: everything it can send, every commit
    /// included (its commits wait for the flush). Not the insert position, which may stay
    /// ahead of it for a long while on an idle primary.
    pub async fn primary_lsn(&self) -> Result<String> {
        let mut conn = PgConnection::connect(&self.primary_url()).await?;
        Ok(
            sqlx::query_scalar("SELECT pg_current_wal_flush_lsn()::text")
                .fetch_one(&mut conn)
                .await?,
        )
    }

    /// How far the replica is behind the primary right now.
    pub async fn replay_lag(&self) -> Result<ReplayLag> {
        let lsn = self.primary_lsn().await?;
        let mut conn = PgConnection::connect(&self.replica_url()).await?;
        let (bytes, since): (Option<i64>, Option<f64>) = sqlx::query_as(
            "SELECT pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())::bigint, \
                    extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8",
        )
        .bind(&lsn)
        .fetch_one(&mut conn)
        .await?;
        Ok(ReplayLag {
            bytes: bytes.unwrap_or_default(),
            since_last_replayed_commit: since.map(|secs| Duration::from_secs_f64(secs.max(0.0))),
        })
    }

    /// Waits until the replica has replayed everything the primary had written when this
    /// was called, at most `limit`; answers how long that took.
    pub async fn wait_for_replay(&self, limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        let lsn = self.primary_lsn().await?;
        let url = self.replica_url();
        let replica = self
            .replica
            .server
            .as_ref()
            .context("the replica is stopped")?;
        let (lsn, url) = (&lsn, &url);
        wait_until(
            &format!("the replica replaying the primary up to {lsn}"),
            limit,
            &[replica],
            || async move {
                let mut conn = PgConnection::connect(url).await.ok()?;
                let replayed: bool = sqlx::query_scalar(
                    "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)",
                )
                .bind(lsn)
                .fetch_one(&mut conn)
                .await
                .ok()?;
                replayed.then_some(())
            },
        )
        .await?;
        Ok(started.elapsed())
    }

    /// `TEST_DATABASE_URL` (the primary) and `TEST_DATABASE_READ_URL` (the replica).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_DATABASE_URL", self.primary_url()),
            ("TEST_DATABASE_READ_URL", self.replica_url()),
        ]
    }
}

/// Fails unless `url` is a PostgreSQL URL.
pub(crate) fn check_postgres_url(url: &str) -> Result<url::Url> {
    let parsed = url::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        bail!("not a PostgreSQL URL: {url}");
    }
    Ok(parsed)
}
