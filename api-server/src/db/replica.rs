//! A read replica: anonymous catalogue reads go to it while it is up and close enough
//! behind the primary, and to the primary otherwise.
//!
//! Once a second a monitor asks the replica how far behind it is: zero when it has
//! replayed all the WAL it received, else the time since the last transaction it
//! replayed. A replica that does not answer, or lags more than the bound, is not used until
//! a later check finds it well again; a read that fails on it falls back to the primary at
//! once, and marks it down until the next check.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sea_query::{Alias, Expr, Query};
use sqlx::FromRow;
use tokio::task::JoinHandle;

use super::{Db, DbError};

/// How often the replica's lag is measured.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The lag, in milliseconds: zero when everything received is replayed (an idle primary
/// sends nothing, and the last replayed transaction may be old), else the age of the last
/// replayed transaction.
const LAG_MS: &str = "(CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
     ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000, 0) \
     END)::float8";

pub struct Replica {
    pub(super) db: Db,
    max_lag: Duration,
    up: AtomicBool,
    lag_ms: AtomicU64,
    monitor: Mutex<Option<JoinHandle<()>>>,
}

/// What the monitor last found, for readiness and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaState {
    /// Whether it answered the last check.
    pub up: bool,
    /// How far behind the primary it was.
    pub lag: Duration,
    /// Whether reads go to it now: up, and lagging no more than the bound.
    pub in_use: bool,
}

#[derive(FromRow)]
struct Lag {
    lag_ms: f64,
}

impl Replica {
    pub(super) fn new(db: Db, max_lag: Duration) -> Self {
        Self {
            db,
            max_lag,
            // Unproven until the first check.
            up: AtomicBool::new(false),
            lag_ms: AtomicU64::new(0),
            monitor: Mutex::new(None),
        }
    }

    pub fn state(&self) -> ReplicaState {
        let up = self.up.load(Ordering::Relaxed);
        let lag = Duration::from_millis(self.lag_ms.load(Ordering::Relaxed));
        ReplicaState {
            up,
            lag,
            in_use: up && lag <= self.max_lag,
        }
    }

    /// A read failed on the replica: it is not used until the next check finds it well.
    pub(super) fn failed(&self, err: &DbError) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(error = %err, "the read replica failed a read; reading from the primary");
        }
    }

    /// Measures the lag once.
    async fn check(&self) {
        let stmt = Query::select()
            .expr_as(Expr::cust(LAG_MS), Alias::new("lag_ms"))
            .to_owned();
        match self.db.fetch_one::<Lag>(&stmt).await {
            Ok(Lag { lag_ms }) => {
                // Whole milliseconds; a negative age (clocks apart) is no lag.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let lag_ms = lag_ms.max(0.0) as u64;
                self.lag_ms.store(lag_ms, Ordering::Relaxed);
                if !self.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(lag_ms, "the read replica answers");
                }
            }
            Err(err) => {
                if self.up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(error = %err, "the read replica does not answer; reading from the primary");
                }
            }
        }
    }

    /// Starts checking once a second, until [`Replica::stop`].
    pub(super) fn start(self: &Arc<Self>) {
        let replica = Arc::clone(self);
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECK_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                replica.check().await;
            }
        });
        if let Some(old) = self.lock().replace(task) {
            old.abort();
        }
    }

    pub(super) async fn stop(&self) {
        if let Some(task) = self.lock().take() {
            task.abort();
        }
        self.db.close_pool().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.monitor.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
