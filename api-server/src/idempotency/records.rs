//! Storage of the answers recorded with idempotency keys. SQL only.

use std::time::Duration;

use chrono::Utc;
use sea_query::{Expr, ExprTrait, Iden, LockBehavior, LockType, OnConflict, Order, Query};
use uuid::Uuid;

use crate::db::{Db, Transaction};
use crate::domain::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, KeyedRequest, RecordedResponse,
};
use crate::error::AppError;

#[derive(Iden, Clone, Copy)]
enum IdempotencyKeys {
    Table,
    UserId,
    IdempotencyKey,
    RequestFingerprint,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
    ExpiresAt,
}

/// A live record.
#[derive(sqlx::FromRow)]
struct RecordRow {
    request_fingerprint: String,
    response_status: i32,
    response_body: String,
}

impl From<RecordRow> for IdempotencyRecord {
    fn from(row: RecordRow) -> Self {
        Self {
            fingerprint: Fingerprint::from_stored(row.request_fingerprint),
            response: RecordedResponse {
                status: u16::try_from(row.response_status).unwrap_or(500),
                body: row.response_body,
            },
        }
    }
}

/// The records of the answers given to requests with an idempotency key, each kept for
/// the key's lifetime (`IDEMPOTENCY_KEY_TTL_HOURS`).
#[derive(Clone)]
pub struct IdempotencyRecords {
    db: Db,
    ttl: Duration,
}

impl IdempotencyRecords {
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self { db, ttl }
    }

    /// The live record of `key` for `user_id`: an expired one is no record. Read from
    /// the primary, as every write's outcome must be.
    pub async fn find(
        &self,
        user_id: Uuid,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, AppError> {
        let stmt = Query::select()
            .columns([
                IdempotencyKeys::RequestFingerprint,
                IdempotencyKeys::ResponseStatus,
                IdempotencyKeys::ResponseBody,
            ])
            .from(IdempotencyKeys::Table)
            .and_where(Expr::col(IdempotencyKeys::UserId).eq(user_id))
            .and_where(Expr::col(IdempotencyKeys::IdempotencyKey).eq(key.as_str()))
            .and_where(Expr::col(IdempotencyKeys::ExpiresAt).gt(Utc::now()))
            .to_owned();
        let row: Option<RecordRow> = self.db.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    /// Records `response` as the answer to `request` of `user_id`, in `tx`: the
    /// transaction of the write it answers, so that one is never kept without the other.
    /// `false` when the key already has a live record (then nothing is written, and the
    /// transaction should be dropped); an expired one is replaced.
    pub async fn record(
        &self,
        tx: &mut Transaction,
        user_id: Uuid,
        request: &KeyedRequest,
        response: &RecordedResponse,
    ) -> Result<bool, AppError> {
        let now = Utc::now();
        // The settings bound the lifetime to a year.
        let lifetime = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(366));
        let expires_at = now.checked_add_signed(lifetime).unwrap_or(now);
        let stmt = Query::insert()
            .into_table(IdempotencyKeys::Table)
            .columns([
                IdempotencyKeys::UserId,
                IdempotencyKeys::IdempotencyKey,
                IdempotencyKeys::RequestFingerprint,
                IdempotencyKeys::ResponseStatus,
                IdempotencyKeys::ResponseBody,
                IdempotencyKeys::CreatedAt,
                IdempotencyKeys::ExpiresAt,
            ])
            .values([
                user_id.into(),
                request.key.as_str().into(),
                request.fingerprint.as_str().into(),
                i32::from(response.status).into(),
                response.body.as_str().into(),
                now.into(),
                expires_at.into(),
            ])?
            .on_conflict(
                OnConflict::columns([IdempotencyKeys::UserId, IdempotencyKeys::IdempotencyKey])
                    .update_columns([
                        IdempotencyKeys::RequestFingerprint,
                        IdempotencyKeys::ResponseStatus,
                        IdempotencyKeys::ResponseBody,
                        IdempotencyKeys::CreatedAt,
                        IdempotencyKeys::ExpiresAt,
                    ])
                    .action_and_where(
                        Expr::col((IdempotencyKeys::Table, IdempotencyKeys::ExpiresAt)).lte(now),
                    )
                    .to_owned(),
            )
            .returning_col(IdempotencyKeys::UserId)
            .to_owned();
        let written: Option<(Uuid,)> = tx.fetch_optional(&stmt).await?;
        Ok(written.is_some())
    }

    /// Deletes at most `batch` expired records, oldest first; returns how many. On
    /// PostgreSQL rows another transaction holds are skipped, not waited for, so that
    /// purging never blocks a request (nor another replica's purge).
    pub async fn purge_expired(&self, batch: u64) -> Result<u64, AppError> {
        let expired = Query::select()
            .columns([IdempotencyKeys::UserId, IdempotencyKeys::IdempotencyKey])
            .from(IdempotencyKeys::Table)
            .and_where(Expr::col(IdempotencyKeys::ExpiresAt).lte(Utc::now()))
            .order_by(IdempotencyKeys::ExpiresAt, Order::Asc)
            .limit(batch)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let stmt = Query::delete()
            .from_table(IdempotencyKeys::Table)
            .and_where(
                Expr::tuple([
                    Expr::col(IdempotencyKeys::UserId),
                    Expr::col(IdempotencyKeys::IdempotencyKey),
                ])
                .in_subquery(expired),
            )
            .to_owned();
        Ok(self.db.execute(&stmt).await?)
    }
}
