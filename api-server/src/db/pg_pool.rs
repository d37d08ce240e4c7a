//! The PostgreSQL connection pool.
//!
//! A connection goes back to the pool as it is after a statement that finished, with no
//! ping: `sqlx`'s own pool pings every connection it takes back, one more round trip to
//! the database for each statement, which under load is a third of the work of a
//! one-row read. The ping is not needed: PostgreSQL ends every statement, failed or not,
//! with "ready for query", which the driver waits for before the next one. What the ping
//! would catch is handled here instead:
//! - a statement cut short (timed out, or its request went away) leaves its connection
//!   mid-protocol: that connection is closed, never reused;
//! - a connection that broke (the server restarted, the network dropped) fails with an
//!   I/O or protocol error: it is closed, and the next statement opens a new one;
//! - a connection that hangs is caught by the statement timeout, as above.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgSeverity};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{DbError, PoolStats};

/// At most `max` connections to one PostgreSQL database, opened on demand.
#[derive(Clone)]
pub struct PgPool {
    shared: Arc<Shared>,
}

struct Shared {
    options: PgConnectOptions,
    /// Open connections not in use; the most recently used is taken first, so that a
    /// quiet period lets the others sit rather than rotating through all of them.
    idle: Mutex<Vec<Idle>>,
    /// One permit a connection, open or not yet opened.
    permits: Arc<Semaphore>,
    max: u32,
    /// Open connections, in use or idle.
    open: AtomicU32,
    closed: AtomicBool,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("max", &self.shared.max)
            .field("open", &self.shared.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A connection waiting for a statement, and since when.
struct Idle {
    conn: PgConnection,
    since: Instant,
}

/// An idle connection older than this is closed rather than used: servers and network
/// equipment drop long-idle connections, and finding out costs a failed statement.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The longest closing one connection may take at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

impl PgPool {
    /// A pool of at most `max` connections; none is opened until a statement needs one.
    pub fn new(options: PgConnectOptions, max: u32) -> Self {
        let max = max.max(1);
        Self {
            shared: Arc::new(Shared {
                options,
                idle: Mutex::new(Vec::with_capacity(max as usize)),
                permits: Arc::new(Semaphore::new(max as usize)),
                max,
                open: AtomicU32::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Takes a connection, opening one if none is idle, by `deadline` (`timeout` after
    /// the statement started, for the error).
    pub async fn acquire(
        &self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<PooledConnection, DbError> {
        let shared = &self.shared;
        let timed_out = || DbError::TimedOut(timeout);
        let permit =
            match tokio::time::timeout_at(deadline, shared.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => return Err(DbError::Unavailable(sqlx::Error::PoolClosed)),
                Err(_) => return Err(timed_out()),
            };
        if shared.closed.load(Ordering::Acquire) {
            return Err(DbError::Unavailable(sqlx::Error::PoolClosed));
        }
        let idle = shared.idle().pop();
        let conn = match idle {
            Some(idle) if idle.since.elapsed() < IDLE_TIMEOUT => idle.conn,
            stale => {
                if let Some(stale) = stale {
                    shared.open.fetch_sub(1, Ordering::Relaxed);
                    drop(stale.conn);
                }
                let conn = tokio::time::timeout_at(deadline, shared.options.connect())
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(DbError::Unavailable)?;
                shared.open.fetch_add(1, Ordering::Relaxed);
                conn
            }
        };
        Ok(PooledConnection {
            conn: Some(conn),
            shared: Arc::clone(shared),
            _permit: permit,
        })
    }

    /// Closes every idle connection and refuses new statements; a connection in use is
    /// closed when its statement ends.
    pub async fn close(&self) {
        let idle = {
            let mut idle = self.shared.idle();
            self.shared.closed.store(true, Ordering::Release);
            std::mem::take(&mut *idle)
        };
        self.shared.permits.close();
        for idle in idle {
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
            // A polite goodbye, but not one that can hold up the shutdown.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, idle.conn.close()).await;
        }
    }

    /// The pool's connection counts, at one instant.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            size: self.shared.open.load(Ordering::Relaxed),
            idle: u32::try_from(self.shared.idle().len()).unwrap_or(u32::MAX),
            max: self.shared.max,
        }
    }
}

impl Shared {
    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        // The lock guards a plain push or pop, which cannot leave the list half-changed.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a connection can serve another statement after one with this outcome: after
/// one that finished, or that PostgreSQL failed with an `ERROR` (a constraint, say), which
/// ends the statement and leaves the session as it was. A `FATAL` one (the server shutting
/// down, the session terminated or timed out) ends the session too.
pub fn reusable<T>(outcome: &Result<T, sqlx::Error>) -> bool {
    outcome.as_ref().err().is_none_or(survives)
}

/// Whether a connection can serve another statement after one that failed with `err`.
pub fn survives(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(err) => err
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|err| err.severity() == PgSeverity::Error),
        _ => false,
    }
}

/// A connection taken from the pool. [`PooledConnection::release`] gives it back;
/// dropped any other way (its statement failed or was cut short), it is closed.
pub struct PooledConnection {
    conn: Option<PgConnection>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl PooledConnection {
    /// The connection, to run statements on.
    pub fn get(&mut self) -> Result<&mut PgConnection, DbError> {
        // Present until `release` or drop, which both consume `self`.
        self.conn
            .as_mut()
            .ok_or_else(|| DbError::Other(anyhow::anyhow!("the connection was released")))
    }

    /// Gives the connection back for the next statement when `reusable`, else closes it.
    /// Also closes the connection that has been idle longest, if too long: it is at the
    /// bottom of the list, which a steady load never reaches.
    pub fn release(mut self, reusable: bool) {
        if !reusable {
            return;
        }
        let mut stale = None;
        {
            let mut idle = self.shared.idle();
            // Checked under the lock that `close` empties the list with, so that no
            // connection is put back after it.
            if self.shared.closed.load(Ordering::Acquire) {
                return;
            }
            if idle
                .first()
                .is_some_and(|oldest| oldest.since.elapsed() >= IDLE_TIMEOUT)
            {
                stale = Some(idle.remove(0));
            }
            if let Some(conn) = self.conn.take() {
                idle.push(Idle {
                    conn,
                    since: Instant::now(),
                });
            }
        }
        if let Some(stale) = stale {
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
            drop(stale.conn);
        }
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
            // Its state is unknown: close the socket without a goodbye that could hang.
            drop(conn);
        }
    }
}
