//! A connection to Redis, however it is deployed, that answers within a bound and finds
//! its server again after an outage or a failover.
//!
//! Three deployments:
//! - **one server** (`REDIS_URL`): a `ConnectionManager` reconnects when its connection
//!   drops, but not when it stays open and answers nothing (a stalled server, or a failover
//!   behind an address whose old network path is dead). So every call is bounded by one
//!   deadline, and a call that times out retires the manager it used: the next call goes
//!   through a new one, which opens a new connection;
//! - **Sentinel** (`REDIS_SENTINELS`): the same, but a new manager is opened on the master
//!   the sentinels name at that moment, and a call that fails because its server went away
//!   or is no longer the master (`READONLY`) retires the manager too, so the server follows
//!   a failover once the sentinels have agreed on the new master;
//! - **a cluster** (`REDIS_CLUSTER_NODES`): the redis crate's cluster client, which follows
//!   slot migrations and failovers itself (it is told by `MOVED` and `ASK`), within the same
//!   deadline per call.

use std::io;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::SentinelClient;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::sync::{Mutex as AsyncMutex, OnceCell};

/// Where the server behind a manager comes from.
pub enum Source {
    /// One server, always the same.
    Server(redis::Client),
    /// The master of a group the sentinels watch, asked again at every reconnection.
    Sentinel(SentinelClient),
    /// A Redis Cluster.
    Cluster(ClusterClient),
}

/// Cheap to clone; every clone shares the same connections.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    /// The longest a call may take, reconnecting included.
    deadline: Duration,
    kind: Kind,
}

enum Kind {
    Managed {
        source: ManagedSource,
        config: ConnectionManagerConfig,
        /// The manager in use, numbered so that concurrent failures retire it only once;
        /// `None` until the first call and after a failure that needs a new server.
        current: RwLock<(u64, Option<ConnectionManager>)>,
    },
    Cluster {
        client: ClusterClient,
        connection: OnceCell<ClusterConnection>,
    },
}

enum ManagedSource {
    Server(redis::Client),
    Sentinel(AsyncMutex<SentinelClient>),
}

impl Connection {
    /// Prepares a connection without opening it: it opens on first use.
    pub fn new_lazy(source: Source, config: ConnectionManagerConfig, deadline: Duration) -> Self {
        let managed = |source| Kind::Managed {
            source,
            config,
            current: RwLock::new((0, None)),
        };
        let kind = match source {
            Source::Server(client) => managed(ManagedSource::Server(client)),
            Source::Sentinel(client) => managed(ManagedSource::Sentinel(AsyncMutex::new(client))),
            Source::Cluster(client) => Kind::Cluster {
                client,
                connection: OnceCell::new(),
            },
        };
        Self {
            shared: Arc::new(Shared { deadline, kind }),
        }
    }

    /// Runs `call` within the deadline on the connection of the deployment.
    async fn bounded<T, F, C>(
        &self,
        managed: impl FnOnce(ConnectionManager) -> F,
        cluster: impl FnOnce(ClusterConnection) -> C,
    ) -> RedisResult<T>
    where
        F: Future<Output = RedisResult<T>>,
        C: Future<Output = RedisResult<T>>,
    {
        let deadline = self.shared.deadline;
        match &self.shared.kind {
            Kind::Managed {
                source,
                config,
                current,
            } => {
                let attempt = async {
                    let (generation, manager) = manager(source, config, current).await?;
                    let outcome = managed(manager).await;
                    if let Err(err) = &outcome
                        && must_reconnect(source, err)
                    {
                        retire(current, generation, "Redis failed a call");
                    }
                    outcome.map_err(|err| (generation, err))
                };
                match tokio::time::timeout(deadline, attempt).await {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err((_, err))) => Err(err),
                    Err(_) => {
                        let generation = current.read().unwrap_or_else(PoisonError::into_inner).0;
                        retire(current, generation, "Redis did not answer in time");
                        Err(timed_out(deadline))
                    }
                }
            }
            Kind::Cluster { client, connection } => {
                let attempt = async {
                    let connection = connection
                        .get_or_try_init(|| client.get_async_connection())
                        .await?
                        .clone();
                    cluster(connection).await
                };
                tokio::time::timeout(deadline, attempt)
                    .await
                    .unwrap_or_else(|_| Err(timed_out(deadline)))
            }
        }
    }
}

/// The manager in use, opening one first if there is none: on the server, or on the
/// master the sentinels name now.
async fn manager(
    source: &ManagedSource,
    config: &ConnectionManagerConfig,
    current: &RwLock<(u64, Option<ConnectionManager>)>,
) -> Result<(u64, ConnectionManager), (u64, RedisError)> {
    let (generation, manager) = {
        let current = current.read().unwrap_or_else(PoisonError::into_inner);
        (current.0, current.1.clone())
    };
    if let Some(manager) = manager {
        return Ok((generation, manager));
    }
    let client = match source {
        ManagedSource::Server(client) => client.clone(),
        ManagedSource::Sentinel(sentinel) => sentinel
            .lock()
            .await
            .async_get_client()
            .await
            .map_err(|err| (generation, err))?,
    };
    let manager = ConnectionManager::new_lazy_with_config(client, config.clone())
        .map_err(|err| (generation, err))?;
    let mut current = current.write().unwrap_or_else(PoisonError::into_inner);
    // Another call may have opened one meanwhile: use the newest.
    match &current.1 {
        Some(newer) => Ok((current.0, newer.clone())),
        None => {
            current.1 = Some(manager.clone());
            Ok((current.0, manager))
        }
    }
}

/// Drops manager `generation`, unless that happened already: the next call opens a new
/// one.
fn retire(current: &RwLock<(u64, Option<ConnectionManager>)>, generation: u64, why: &str) {
    let mut current = current.write().unwrap_or_else(PoisonError::into_inner);
    if current.0 == generation && current.1.is_some() {
        tracing::warn!("{why}; opening a new connection");
        *current = (generation + 1, None);
    }
}

/// Whether a failed call means the manager's connection is not the one to use any more: it
/// timed out (the connection may be dead without being closed), or, behind sentinels, its
/// server went away or turned into a replica, which means a failover: the master must be
/// asked for again. Otherwise a manager reconnects by itself.
fn must_reconnect(source: &ManagedSource, err: &RedisError) -> bool {
    err.is_timeout()
        || matches!(source, ManagedSource::Sentinel(_))
            && (err.is_io_error()
                || err.is_connection_refusal()
                || err.is_connection_dropped()
                || err.code() == Some("READONLY"))
}

fn timed_out(deadline: Duration) -> RedisError {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("Redis did not answer within {deadline:?}"),
    )
    .into()
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.bounded(
            move |mut manager| async move { manager.send_packed_command(cmd).await },
            move |mut cluster| async move { cluster.req_packed_command(cmd).await },
        ))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(
            self.bounded(
                move |mut manager| async move {
                    manager.send_packed_commands(pipeline, offset, count).await
                },
                move |mut cluster| async move {
                    cluster.req_packed_commands(pipeline, offset, count).await
                },
            ),
        )
    }

    fn get_db(&self) -> i64 {
        0
    }
}
