//! `bookstore-topology`: starts one server topology of `bookstore_tests::topology` for a
//! whole test run, prints the variables that point at it, and keeps it up until it is told
//! to stop; then stops every server and deletes its directory.
//!
//! ```text
//! bookstore-topology TOPOLOGY [--until-signal]
//!
//!   tls-postgres                 PostgreSQL taking TLS only (verify-full URL, CA)
//!   tls-redis                    Redis over TLS with an ACL user and a password
//!   redis-cluster [--masters N] [--replicas M]   (default 3 masters, 1 replica each)
//!   sentinel                     master, replica, 3 sentinels watching "bookstore"
//!   pg-replica                   PostgreSQL primary and streaming replica
//!   pgbouncer [--upstream URL]   PgBouncer, transaction pooling, in front of URL
//!                                (without --upstream, of a PostgreSQL of its own)
//! ```
//!
//! Once the topology is up it prints `KEY=value` lines on standard output, e.g.
//! `TEST_REDIS_CLUSTER_NODES=redis://127.0.0.1:41234,…`, then `TOPOLOGY_DIR=…` and last
//! `TOPOLOGY_READY=1`; progress and errors go to standard error. It stops on SIGTERM or
//! SIGINT, or when its standard input closes, unless `--until-signal` is given (a
//! background job of a non-interactive shell has /dev/null as its standard input, which is
//! closed from the start). From a script:
//!
//! ```sh
//! bookstore-topology redis-cluster --until-signal >"$dir/cluster.env" &
//! topology_pid=$!
//! until grep -q '^TOPOLOGY_READY=1$' "$dir/cluster.env"; do
//!     kill -0 "$topology_pid" || exit 1; sleep 0.1
//! done
//! set -a; source "$dir/cluster.env"; set +a
//! # … run the tests …
//! kill "$topology_pid"; wait "$topology_pid"
//! ```

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bookstore_tests::topology::{
    PgBouncer, PgBouncerOptions, PgReplica, RedisCluster, Sentinel, TlsPostgres, TlsRedis,
};
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: bookstore-topology \
    tls-postgres | tls-redis | redis-cluster [--masters N] [--replicas M] | sentinel | \
    pg-replica | pgbouncer [--upstream URL]   [--until-signal]";

/// A running topology.
enum Topology {
    TlsPostgres(TlsPostgres),
    TlsRedis(TlsRedis),
    RedisCluster(RedisCluster),
    Sentinel(Sentinel),
    PgReplica(PgReplica),
    PgBouncer(PgBouncer),
}

impl Topology {
    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::TlsPostgres(topology) => topology.env(),
            Self::TlsRedis(topology) => topology.env(),
            Self::RedisCluster(topology) => topology.env(),
            Self::Sentinel(topology) => topology.env(),
            Self::PgReplica(topology) => topology.env(),
            Self::PgBouncer(topology) => topology.env(),
        }
    }

    fn dir(&self) -> &Path {
        match self {
            Self::TlsPostgres(topology) => topology.dir(),
            Self::TlsRedis(topology) => topology.dir(),
            Self::RedisCluster(topology) => topology.dir(),
            Self::Sentinel(topology) => topology.dir(),
            Self::PgReplica(topology) => topology.dir(),
            Self::PgBouncer(topology) => topology.dir(),
        }
    }
}

/// The command line.
#[derive(Debug, Default)]
struct Args {
    topology: String,
    until_signal: bool,
    upstream: Option<String>,
    masters: Option<usize>,
    replicas: Option<usize>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args::default();
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let mut value = |flag: &str| {
            words
                .next()
                .with_context(|| format!("{flag} needs a value"))
        };
        match word.as_str() {
            "--until-signal" => args.until_signal = true,
            "--upstream" => args.upstream = Some(value("--upstream")?),
            "--masters" => args.masters = Some(value("--masters")?.parse()?),
            "--replicas" => args.replicas = Some(value("--replicas")?.parse()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}"),
            name if args.topology.is_empty() => args.topology = name.to_owned(),
            extra => bail!("unexpected argument {extra}"),
        }
    }
    if args.topology.is_empty() {
        bail!("which topology?");
    }
    Ok(args)
}

async fn start(args: &Args) -> Result<Topology> {
    Ok(match args.topology.as_str() {
        "tls-postgres" => Topology::TlsPostgres(TlsPostgres::start().await?),
        "tls-redis" => Topology::TlsRedis(TlsRedis::start().await?),
        "redis-cluster" => Topology::RedisCluster(
            RedisCluster::start_with(args.masters.unwrap_or(3), args.replicas.unwrap_or(1)).await?,
        ),
        "sentinel" => Topology::Sentinel(Sentinel::start().await?),
        "pg-replica" => Topology::PgReplica(PgReplica::start().await?),
        "pgbouncer" => Topology::PgBouncer(match &args.upstream {
            Some(upstream) => PgBouncer::start(upstream).await?,
            None => PgBouncer::start_with_own_postgres(&PgBouncerOptions::default()).await?,
        }),
        other => bail!("unknown topology {other:?}"),
    })
}

/// Resolves once standard input is closed. The read runs on a thread of its own rather
/// than through tokio, whose blocking read of stdin could not be cancelled and would hold
/// up the runtime's shutdown after a signal.
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (closed, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut sink = std::io::sink();
        std::io::copy(&mut std::io::stdin().lock(), &mut sink).ok();
        closed.send(()).ok();
    });
    receiver
}

async fn run() -> Result<()> {
    let args = parse_args().with_context(|| USAGE.to_owned())?;
    // Caught from the start, so that a signal during start-up stops cleanly too: dropping
    // the half-started topology stops what it had started.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let since = Instant::now();
    let topology = tokio::select! {
        topology = start(&args) => topology?,
        _ = terminate.recv() => return Ok(()),
        _ = interrupt.recv() => return Ok(()),
    };
    eprintln!(
        "bookstore-topology: {} ready in {:.2?}",
        args.topology,
        since.elapsed()
    );
    let mut out = std::io::stdout().lock();
    for (key, value) in topology.env() {
        writeln!(out, "{key}={value}")?;
    }
    writeln!(out, "TOPOLOGY_DIR={}", topology.dir().display())?;
    writeln!(out, "TOPOLOGY_READY=1")?;
    out.flush()?;
    drop(out);

    let stdin = stdin_closed();
    tokio::select! {
        _ = stdin, if !args.until_signal => {}
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    eprintln!("bookstore-topology: stopping {}", args.topology);
    drop(topology);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bookstore-topology: {err:#}");
            ExitCode::FAILURE
        }
    }
}
