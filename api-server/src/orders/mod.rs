//! Orders of books and their life cycle.

pub mod api;
pub mod model;
mod repository;
pub mod service;
pub mod wire;

pub use service::OrderService;

use crate::db::Db;

/// The orders service over `db`.
pub fn service(db: Db) -> OrderService {
    OrderService::new(repository::OrderRepository::new(db))
}
