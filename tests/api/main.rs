//! End-to-end tests of the Bookstore API: each test starts the real server on a fresh
//! database and drives it only through `api-client`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod users;
