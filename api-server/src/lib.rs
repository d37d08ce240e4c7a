//! The Bookstore API server: users, authors, books and orders over PostgreSQL, with
//! sessions in Redis. `openapi.yaml` at the repository root is the contract this crate
//! implements; `tests/contract.rs` proves the served spec matches it.
//!
//! Layers, per resource: `api` (HTTP, poem-openapi) → `service` (rules, authorization)
//! → `repository` (sea-query + sqlx). Domain types in [`domain`] are shared by all.

pub mod auth;
pub mod authors;
pub mod books;
pub mod db;
pub mod domain;
pub mod error;
pub mod health;
pub mod http;
pub mod metrics;
pub mod orders;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod users;

pub use settings::Settings;
pub use startup::{Application, openapi_spec};
