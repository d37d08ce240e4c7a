//! The HTTP edge shared by every resource: the problem body, declared error statuses,
//! pagination and the wire forms of domain types, conditional requests and idempotency
//! keys; and around them request ids, request logs and metrics, security headers, CORS and
//! limits.

pub mod conditional;
pub mod contract;
pub mod cors;
pub mod cursor;
pub mod edge;
pub mod explain;
pub mod idempotency;
pub mod limits;
pub mod methods;
pub mod observe;
pub mod page;
pub mod patterns;
pub mod problem;
pub mod request_id;
pub mod responses;
pub mod security;
pub mod serve;
pub mod tagged;
pub mod text;
pub mod types;

pub use problem::{ApiError, ApiResult, Problem};

use poem::http::{HeaderMap, header};

use crate::domain::Freshness;

/// How fresh a public read must be: a request with credentials may come from someone who
/// just wrote (an administrator checking a book they changed), so it reads the latest
/// state; an anonymous one may be served from a read replica.
pub fn freshness(headers: &HeaderMap) -> Freshness {
    if headers.contains_key(header::AUTHORIZATION) {
        Freshness::Latest
    } else {
        Freshness::MayLag
    }
}
pub use responses::{Created, NoContent};

/// The tag of each operation: one per resource.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// Accounts, sessions and profiles.
    #[oai(rename = "users")]
    Users,
    /// Authors of the catalogue.
    #[oai(rename = "authors")]
    Authors,
    /// The book catalogue.
    #[oai(rename = "books")]
    Books,
    /// Orders of books.
    #[oai(rename = "orders")]
    Orders,
    /// Service health.
    #[oai(rename = "health")]
    Health,
    /// Operating the service: metrics for monitoring.
    #[oai(rename = "operations")]
    Operations,
}
