//! Authors of the catalogue.

pub mod api;
pub mod repository;
pub mod schema;
pub mod service;
