//! Idempotency keys: what makes a write safe to retry.
//!
//! A write sent with a key (`POST /api/v1/orders` with `Idempotency-Key`) goes through
//! three places:
//! - the records table, `idempotency_keys` ([`IdempotencyRecords`]): the answer given to
//!   the first request with a key, with the caller's id and the request's fingerprint,
//!   written in the transaction of the write itself, so that a crash keeps both or
//!   neither. A retry reads it with one primary-key look-up and is answered from it.
//!   The table's primary key, `(user_id, idempotency_key)`, is what guarantees one write
//!   per key, whatever happens elsewhere;
//! - the in-flight marks ([`InFlight`]): a counter of one place per key in the session
//!   store (so seen by every replica), taken while the first request is processed, so
//!   that a concurrent request with the same key is told at once to retry later (409)
//!   instead of queueing behind it. A mark lives at most as long as a request may
//!   (`REQUEST_TIMEOUT_SECONDS`), so one left by a crashed process lapses by itself;
//! - the purge ([`run_purge`]): expired records are deleted in small batches every few
//!   minutes, never in a request's path.

mod records;

use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use records::IdempotencyRecords;

use crate::auth::SessionStore;
use crate::domain::IdempotencyKey;
use crate::domain::idempotency::hex;
use crate::error::AppError;

/// How long a client is asked to wait before retrying a request whose key is in flight:
/// the first request is usually done within milliseconds.
const IN_FLIGHT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often expired records are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);
/// Records deleted by one statement: small enough that no statement runs long.
const PURGE_BATCH: u64 = 500;
/// The pause between two batches, so that a large purge leaves the database to requests.
const PURGE_PAUSE: Duration = Duration::from_millis(50);

/// The keys whose first request is being processed, across replicas.
#[derive(Clone)]
pub struct InFlight {
    store: SessionStore,
    /// How long a mark lives at most: as long as a request may take.
    lease: Duration,
}

impl InFlight {
    pub fn new(store: SessionStore, lease: Duration) -> Self {
        Self { store, lease }
    }

    /// Marks `key` of `user_id` as in flight, or answers 409 with `Retry-After` if
    /// another request holds it. The mark is released by [`Claim::release`], or when the
    /// claim is dropped (a request cut short).
    pub async fn claim(&self, user_id: Uuid, key: &IdempotencyKey) -> Result<Claim, AppError> {
        // The key is the client's text: its digest keeps braces (Redis Cluster hash
        // tags) and separators out of the store's key.
        let digest = Sha256::digest(format!("{user_id}\n{}", key.as_str()).as_bytes());
        let name = format!("idempotency:{}", hex(&digest));
        match self.store.reserve(&name, 1, self.lease).await? {
            Ok(()) => Ok(Claim {
                store: self.store.clone(),
                name: Some(name),
            }),
            Err(_) => Err(AppError::IdempotencyKeyInFlight {
                retry_after: IN_FLIGHT_RETRY_AFTER,
            }),
        }
    }
}

/// A key marked in flight by this request.
#[must_use = "a claim is released when the request is done"]
pub struct Claim {
    store: SessionStore,
    name: Option<String>,
}

impl Claim {
    /// Gives the key back. A failure is logged: the mark lapses with its lease.
    pub async fn release(mut self) {
        if let Some(name) = self.name.take() {
            release(&self.store, &name).await;
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let store = self.store.clone();
            tokio::spawn(async move { release(&store, &name).await });
        }
    }
}

/// Removes the mark (the key holds one place, this request's, so nothing else is lost).
async fn release(store: &SessionStore, name: &str) {
    if let Err(err) = store.reset(name).await {
        tracing::warn!(error = %err, "an idempotency key stays marked in flight until its lease ends");
    }
}

/// Purges expired records now, then every few minutes, until the task is aborted.
pub async fn run_purge(records: IdempotencyRecords) {
    let mut every = tokio::time::interval(PURGE_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match purge_expired(&records).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(err) => tracing::warn!(error = %err, "purging expired idempotency keys failed"),
        }
    }
}

/// Deletes every expired record, a batch at a time; returns how many.
pub async fn purge_expired(records: &IdempotencyRecords) -> Result<u64, AppError> {
    let mut total = 0;
    loop {
        let purged = records.purge_expired(PURGE_BATCH).await?;
        total += purged;
        if purged < PURGE_BATCH {
            return Ok(total);
        }
        tokio::time::sleep(PURGE_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Connection;
    use uuid::Uuid;

    use super::{IdempotencyRecords, PURGE_BATCH, purge_expired};
    use crate::db::Db;
    use crate::settings::Settings;

    #[tokio::test]
    async fn expired_records_are_purged_in_batches_and_live_ones_kept() {
        let file = std::env::temp_dir().join(format!("bookstore-purge-{}.db", Uuid::new_v4()));
        let url = format!("sqlite://{}", file.display());
        let settings =
            Settings::from_lookup(|key| (key == "DATABASE_URL").then(|| url.clone())).unwrap();
        let db = Db::connect_lazy(&settings).unwrap();
        db.migrate().await.unwrap();
        let expired = 2 * PURGE_BATCH + 7;
        let user = Uuid::now_v7().simple();
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows = format!(
            "INSERT INTO users (id, email, full_name, hashed_password, created_at, updated_at) \
             VALUES (X'{user}', 'purge@example.com', 'P', 'x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {expired})
             INSERT INTO idempotency_keys SELECT X'{user}', 'expired-' || i, 'f', 201, '{{}}',
                 '2000-01-01T00:00:00+00:00', '2000-01-02T00:00:00+00:00' FROM n;
             INSERT INTO idempotency_keys VALUES
                 (X'{user}', 'live', 'f', 201, '{{}}', '2000-01-01T00:00:00+00:00', '9999-01-01T00:00:00+00:00');"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(rows))
            .execute(&mut conn)
            .await
            .unwrap();

        let records = IdempotencyRecords::new(db.clone(), Duration::from_secs(3600));
        let purged = purge_expired(&records).await.unwrap();

        assert_eq!(purged, expired);
        let left: (i64,) = sqlx::query_as("SELECT count(*) FROM idempotency_keys")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, (1,));
        db.close().await;
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}
