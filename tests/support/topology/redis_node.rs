//! One redis-server process (or Sentinel) with a configuration file of its own, and the
//! clients the topologies use to drive them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, TlsCertificates};

use super::run::{RunAs, Server, Tool, on_free_port, wait_until, write_private};

/// How long a Redis server may take to answer PING after it starts.
const STARTUP: Duration = Duration::from_secs(30);

/// What a node runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Server,
    Sentinel,
}

/// The settings of every test node: loopback only, nothing written to disk but what a
/// cluster or Sentinel must keep, the log on standard output (into the node's log file),
/// and a replica's first sync at once rather than after the default 5 s wait for more
/// replicas to share it.
const BASE_CONF: &str = "bind 127.0.0.1\n\
    daemonize no\n\
    save \"\"\n\
    appendonly no\n\
    logfile \"\"\n\
    repl-diskless-sync-delay 0\n";

/// A redis-server of a topology: its directory (configuration, log, cluster state) and,
/// while it runs, its process.
#[derive(Debug)]
pub(crate) struct RedisNode {
    pub name: String,
    pub port: u16,
    dir: PathBuf,
    role: Role,
    run_as: RunAs,
    server: Option<Server>,
    /// How to check that it answers: the URL and CA a client uses.
    probe_url: String,
    ca: Option<PathBuf>,
}

impl RedisNode {
    /// Starts a node in `dir` (created) on a free port. `conf` gives the settings beyond
    /// [`BASE_CONF`] for a port; `probe_url` the URL that PINGs it for a port.
    pub async fn start(
        name: &str,
        dir: PathBuf,
        role: Role,
        run_as: &RunAs,
        conf: impl Fn(u16) -> String,
        probe_url: impl Fn(u16) -> String,
        ca: Option<&Path>,
    ) -> Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        run_as.own(&dir)?;
        let (conf, probe_url) = (&conf, &probe_url);
        let (dir_ref, name_ref) = (&dir, name);
        let (port, server) = on_free_port(|port| async move {
            let file = dir_ref.join(match role {
                Role::Server => "redis.conf",
                Role::Sentinel => "sentinel.conf",
            });
            // Sentinel rewrites its file as it learns the topology: it must be its own and
            // writable by the server.
            write_private(
                &file,
                &format!(
                    "{BASE_CONF}port {port}\ndir {}\n{}",
                    dir_ref.display(),
                    conf(port)
                ),
                run_as,
            )?;
            let server = spawn(name_ref, dir_ref, &file, role, run_as)?;
            wait_for_ping(&server, &probe_url(port), ca).await?;
            Ok((port, server))
        })
        .await?;
        Ok(Self {
            name: name.to_owned(),
            port,
            dir,
            role,
            run_as: run_as.clone(),
            server: Some(server),
            probe_url: probe_url(port),
            ca: ca.map(Path::to_owned),
        })
    }

    /// Starts it again after [`RedisNode::kill`], with the same port and files.
    pub async fn restart(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let file = self.dir.join(match self.role {
            Role::Server => "redis.conf",
            Role::Sentinel => "sentinel.conf",
        });
        let server = spawn(&self.name, &self.dir, &file, self.role, &self.run_as)?;
        wait_for_ping(&server, &self.probe_url, self.ca.as_deref()).await?;
        self.server = Some(server);
        Ok(())
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill_now();
        }
    }

    pub fn is_running(&self) -> bool {
        self.server.as_ref().is_some_and(Server::is_running)
    }

    pub fn server(&self) -> Option<&Server> {
        self.server.as_ref()
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A connection to this node alone.
    pub async fn connect(&self) -> Result<MultiplexedConnection> {
        connect(&self.probe_url, self.ca.as_deref()).await
    }
}

fn spawn(name: &str, dir: &Path, file: &Path, role: Role, run_as: &RunAs) -> Result<Server> {
    let redis_server = Tool::RedisServer.require()?;
    let mut command = run_as.command(redis_server);
    command.arg(file);
    if role == Role::Sentinel {
        command.arg("--sentinel");
    }
    Server::spawn(
        format!("Redis {name}"),
        command,
        &dir.join("redis.log"),
        Signal::SIGTERM,
    )
}

async fn wait_for_ping(server: &Server, url: &str, ca: Option<&Path>) -> Result<()> {
    wait_until(
        &format!("{} answering PING", server.name()),
        STARTUP,
        &[server],
        || async move {
            let mut conn = connect(url, ca).await.ok()?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .ok()
                .map(drop)
        },
    )
    .await
}

/// A client of `url`; with `ca`, TLS (`rediss://`) trusts that CA alone.
pub fn client(url: &str, ca: Option<&Path>) -> Result<Client> {
    match ca {
        None => Ok(Client::open(url)?),
        Some(ca) => {
            let root_cert =
                std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            Ok(Client::build_with_tls(
                url,
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            )?)
        }
    }
}

/// A connection to `url`, given up after a second rather than the client's default.
pub async fn connect(url: &str, ca: Option<&Path>) -> Result<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    Ok(client(url, ca)?
        .get_multiplexed_async_connection_with_config(&config)
        .await?)
}

/// The `field:value` lines of an INFO answer.
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.trim_end()
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
    })
}
