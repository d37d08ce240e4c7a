//! Orders of books and their life cycle.

pub mod api;
pub mod model;
mod repository;
pub mod service;
pub mod wire;

pub use service::OrderService;

use crate::auth::SessionStore;
use crate::db::Db;
use crate::idempotency::{IdempotencyRecords, InFlight};
use crate::settings::Settings;

/// The orders service over `db`, recording the answers to requests with an idempotency
/// key in `db` and marking those in flight in `sessions`.
pub fn service(db: Db, sessions: SessionStore, settings: &Settings) -> OrderService {
    OrderService::new(
        repository::OrderRepository::new(db.clone()),
        IdempotencyRecords::new(db, settings.idempotency_key_ttl),
        InFlight::new(sessions, settings.request_timeout),
    )
}
