//! The Bookstore API server: users, authors, books and orders over PostgreSQL, with
//! sessions in Redis. `openapi.yaml` at the repository root is the contract this crate
//! implements and serves as it is; `tests/contract.rs` proves the implementation matches
//! it.
//!
//! Each resource (`users`, `authors`, `books`, `orders`) has the same files, and imports
//! point one way, from the edge to the database:
//! - `api`: the poem-openapi operations; short handlers that convert and delegate;
//! - `wire`: the request and response bodies, and their conversion to and from the model
//!   (input is validated there, once, into domain types);
//! - `model`: the resource in domain terms, built from the newtypes of [`domain`];
//! - `service`: the rules and authorization; speaks only `model` types and
//!   [`error::AppError`];
//! - `repository` (private to the resource): SQL with sea-query, a private row type per
//!   table, database errors mapped by constraint name into domain errors.
//!
//! Shared below them: [`domain`] (validated types), [`error`], [`settings`] (a leaf),
//! [`db`] (the database handle), [`auth`] (sessions, passwords, login throttling),
//! [`idempotency`] (the answers recorded for retries, and their purge),
//! [`cache`] (catalogue reads and accounts kept in memory, and their invalidation); beside
//! the resource APIs: [`http`] (the HTTP edge) and [`operations`] (health and metrics).

pub mod admin;
pub mod auth;
pub mod authors;
pub mod books;
pub mod cache;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod metrics;
pub mod operations;
pub mod orders;
pub mod representation;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod users;

pub use settings::Settings;
pub use startup::{Application, implemented_spec};
