//! Authors of the catalogue.

pub mod api;
pub mod model;
mod repository;
pub mod service;
pub mod wire;

pub use service::AuthorService;

use crate::db::Db;

/// The authors service over `db`.
pub fn service(db: Db) -> AuthorService {
    AuthorService::new(repository::AuthorRepository::new(db))
}
