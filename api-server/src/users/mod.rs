//! Users: sign-up, login/logout, profiles and account administration.

pub mod api;
pub mod repository;
pub mod schema;
pub mod service;
