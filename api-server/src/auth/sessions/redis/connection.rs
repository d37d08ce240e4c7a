//! A Redis connection that answers within a bound and replaces itself when it stops
//! answering.
//!
//! `ConnectionManager` reconnects when its connection drops, but not when the connection
//! stays open and answers nothing: a stalled server, or a failover behind an address whose
//! old network path is dead (its connections neither answer nor close). Every call would
//! then time out, for as long as the kernel keeps that socket, with no recovery. And while
//! it reconnects to a server that accepts connections but answers nothing, a call waits
//! out every retry (about two seconds). So every call here is bounded by one deadline,
//! and a call that times out retires the manager it used: the next call goes through a
//! new one, which opens a new connection.

use std::io;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// Cheap to clone; every clone shares the current manager.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// The longest a call may take, reconnecting included.
    deadline: Duration,
    /// The manager in use, numbered so that concurrent timeouts retire it only once.
    current: RwLock<(u64, ConnectionManager)>,
}

impl Connection {
    /// Prepares a connection without opening it: it opens on first use.
    pub fn new_lazy(
        client: redis::Client,
        config: ConnectionManagerConfig,
        deadline: Duration,
    ) -> RedisResult<Self> {
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?;
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                config,
                deadline,
                current: RwLock::new((0, manager)),
            }),
        })
    }

    fn current(&self) -> (u64, ConnectionManager) {
        // The pair is replaced whole, so a panic elsewhere cannot leave it half-written.
        let current = self
            .shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        (current.0, current.1.clone())
    }

    /// Replaces manager `generation` by a new one, unless that happened already.
    fn retire(&self, generation: u64) {
        let shared = &self.shared;
        let mut current = shared
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if current.0 != generation {
            return;
        }
        match ConnectionManager::new_lazy_with_config(shared.client.clone(), shared.config.clone())
        {
            Ok(manager) => {
                tracing::warn!("Redis did not answer in time; opening a new connection");
                *current = (generation + 1, manager);
            }
            Err(err) => tracing::error!(%err, "cannot prepare a new Redis connection"),
        }
    }

    /// Runs `call` on the current manager within the deadline; retires the manager if the
    /// call times out.
    async fn bounded<T, F>(&self, call: impl FnOnce(ConnectionManager) -> F) -> RedisResult<T>
    where
        F: Future<Output = RedisResult<T>>,
    {
        let (generation, manager) = self.current();
        match tokio::time::timeout(self.shared.deadline, call(manager)).await {
            Ok(Err(err)) if err.is_timeout() => {
                self.retire(generation);
                Err(err)
            }
            Ok(result) => result,
            Err(_) => {
                self.retire(generation);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("Redis did not answer within {:?}", self.shared.deadline),
                )
                .into())
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(
            self.bounded(move |mut manager| async move { manager.send_packed_command(cmd).await }),
        )
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.bounded(move |mut manager| async move {
            manager.send_packed_commands(pipeline, offset, count).await
        }))
    }

    fn get_db(&self) -> i64 {
        self.current().1.get_db()
    }
}
