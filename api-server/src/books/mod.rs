//! The book catalogue.

pub mod api;
pub mod model;
mod repository;
pub mod service;
pub mod wire;

pub use service::BookService;

use crate::db::Db;

/// The books service over `db`.
pub fn service(db: Db) -> BookService {
    BookService::new(repository::BookRepository::new(db))
}
