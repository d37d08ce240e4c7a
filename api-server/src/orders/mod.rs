//! Orders of books and their life cycle.

pub mod api;
pub mod repository;
pub mod schema;
pub mod service;
