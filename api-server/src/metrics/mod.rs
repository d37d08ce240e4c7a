//! Prometheus metrics: what `GET /metrics` exposes.
//!
//! - `bookstore_http_requests_total` and `bookstore_http_request_duration_seconds`, by
//!   `method`, `route` (the route template, such as `/api/v1/books/:id`, never the raw
//!   path) and `status`;
//! - `bookstore_db_pool_connections` by `state` (`in_use`, `idle`) and
//!   `bookstore_db_pool_max_connections`, read from the pool at each scrape;
//! - `bookstore_session_store_errors_total`: session-store calls that failed (Redis
//!   unreachable or too slow);
//! - `bookstore_build_info{version}`, always 1.
//!
//! Every label takes values from a bounded set, so the number of series stays bounded
//! whatever clients send.

pub mod api;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::Context;
use poem::http::{Method, StatusCode};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::db::Db;

/// The `route` label of requests that match no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Session-store calls that failed, counted by the store wherever it is (it knows no
/// [`Metrics`]), for the whole process.
#[allow(clippy::expect_used)] // constant, valid name and help: creating it cannot fail
static SESSION_STORE_ERRORS: LazyLock<IntCounter> = LazyLock::new(|| {
    IntCounter::new(
        "bookstore_session_store_errors_total",
        "Session-store calls that failed: the store was unreachable or too slow.",
    )
    .expect("a valid counter")
});

/// Counts one failed session-store call.
pub fn session_store_error() {
    SESSION_STORE_ERRORS.inc();
}

/// The metrics of one server, cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    db: Db,
}

impl Metrics {
    /// Registers every metric; the pool gauges read `db` at each scrape.
    pub fn new(db: Db) -> anyhow::Result<Self> {
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("bookstore_http_requests_total", "HTTP requests answered."),
            &labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "bookstore_http_request_duration_seconds",
                "Time from receiving a request to having its answer, in seconds.",
            ),
            &labels,
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "bookstore_db_pool_connections",
                "Open database connections, in use by a request or idle.",
            ),
            &["state"],
        )?;
        let pool_max = IntGauge::new(
            "bookstore_db_pool_max_connections",
            "The most connections the database pool opens.",
        )?;
        let build_info = IntGauge::with_opts(
            Opts::new("bookstore_build_info", "The running build; always 1.")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )?;
        build_info.set(1);

        let registry = Registry::new();
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(SESSION_STORE_ERRORS.clone()))?;
        registry.register(Box::new(build_info))?;
        Ok(Self(Arc::new(Inner {
            registry,
            requests,
            latency,
            pool_connections,
            pool_max,
            db,
        })))
    }

    /// Records one answered request. `route` is a route template or [`UNMATCHED_ROUTE`].
    pub fn record(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let labels = [method_label(method), route, status.as_str()];
        self.0.requests.with_label_values(&labels).inc();
        self.0
            .latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn render(&self) -> anyhow::Result<String> {
        let pool = self.0.db.pool_stats();
        let in_use = pool.size.saturating_sub(pool.idle);
        let gauge = |state: &str| self.0.pool_connections.with_label_values(&[state]);
        gauge("in_use").set(i64::from(in_use));
        gauge("idle").set(i64::from(pool.idle));
        self.0.pool_max.set(i64::from(pool.max));

        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.0.registry.gather(), &mut text)
            .context("encoding the metrics")?;
        String::from_utf8(text).context("encoding the metrics")
    }
}

/// The method as a label: the standard methods by name, any other as `OTHER`, so that
/// clients cannot create series at will.
fn method_label(method: &Method) -> &str {
    if crate::http::methods::STANDARD.contains(method) {
        method.as_str()
    } else {
        "OTHER"
    }
}

#[cfg(test)]
mod tests {
    use poem::http::Method;

    use super::method_label;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let custom = Method::from_bytes(b"BREW").unwrap_or_default();
        assert_eq!(method_label(&custom), "OTHER");
    }
}
