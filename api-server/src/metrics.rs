//! Prometheus metrics: what `GET /metrics` exposes.
//!
//! - `bookstore_http_requests_total` and `bookstore_http_request_duration_seconds`, by
//!   `method`, `route` (the route template, such as `/api/v1/books/:id`, never the raw
//!   path) and `status`;
//! - `bookstore_db_pool_connections` by `state` (`in_use`, `idle`) and
//!   `bookstore_db_pool_max_connections`, read from the pool at each scrape;
//! - `bookstore_db_replica_up`, `bookstore_db_replica_lag_seconds` and
//!   `bookstore_db_replica_in_use`, when there is a read replica;
//! - `bookstore_session_store_errors_total`: session-store calls that failed (Redis
//!   unreachable or too slow);
//! - `bookstore_catalogue_cache_hits_total`, `…_misses_total` (anonymous catalogue reads
//!   answered from memory, or not), `…_invalidations_total` (times it was emptied for a
//!   write, heard or its own, or a lost listening connection), `…_evictions_total`
//!   (entries dropped to stay within its bounds), and the gauges
//!   `bookstore_catalogue_cache_entries` and `bookstore_catalogue_cache_in_use` (1 while
//!   it answers: on, and on PostgreSQL listening for writes);
//! - the same six of the account cache, `bookstore_account_cache_*` (account reads to
//!   authenticate requests);
//! - `bookstore_build_info{version}`, always 1.
//!
//! Every label takes values from a bounded set, so the number of series stays bounded
//! whatever clients send.
//!
//! A request is recorded without a lock or a lookup by labels: each route resolves its
//! series once ([`Metrics::route`]), and each series of a route is looked up by label
//! values only the first time it is used (see [`RouteSeries`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use poem::http::{Method, StatusCode};
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Metric, MetricFamily, MetricType};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, PullingGauge, Registry, TextEncoder,
};

use crate::auth::SessionStore;
use crate::cache::{Coherent, Stats, Weigh};
use crate::db::{Db, ReplicaState};

/// The `route` label of requests that match no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

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
    /// Registers every metric; the pool gauges read `db`, the session-store errors
    /// `sessions` and the caches' metrics `caches`, at each scrape.
    pub fn new(db: Db, sessions: SessionStore, caches: Vec<CacheStats>) -> anyhow::Result<Self> {
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
        if db.replica_state().is_some() {
            let replica = |read: fn(ReplicaState) -> f64| {
                let db = db.clone();
                Box::new(move || db.replica_state().map_or(0.0, read))
            };
            registry.register(Box::new(PullingGauge::new(
                "bookstore_db_replica_up",
                "1 when the read replica answered its last check, else 0.",
                replica(|state| f64::from(u8::from(state.up))),
            )?))?;
            registry.register(Box::new(PullingGauge::new(
                "bookstore_db_replica_lag_seconds",
                "How far the read replica was behind the primary at its last check.",
                replica(|state| state.lag.as_secs_f64()),
            )?))?;
            registry.register(Box::new(PullingGauge::new(
                "bookstore_db_replica_in_use",
                "1 when anonymous catalogue reads go to the read replica, else 0.",
                replica(|state| f64::from(u8::from(state.in_use))),
            )?))?;
        }
        registry.register(Box::new(PullingCounter::new(
            "bookstore_session_store_errors_total",
            "Session-store calls that failed: the store was unreachable or too slow.",
            move || sessions.failed_calls(),
        )?))?;
        for cache in caches {
            register_cache(&registry, cache)?;
        }
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

    /// The request series of the route `template` (`/api/v1/books/:id`, or
    /// [`UNMATCHED_ROUTE`]), for the requests it answers.
    pub fn route(&self, template: &str) -> Arc<RouteSeries> {
        Arc::new(RouteSeries {
            route: template.into(),
            series: std::iter::repeat_with(OnceLock::new)
                .take(METHOD_LABELS.len() * COMMON_STATUSES.len())
                .collect(),
            requests: self.0.requests.clone(),
            latency: self.0.latency.clone(),
        })
    }

    /// The metrics page: [`Metrics::render`], or an empty page if it fails (encoding
    /// fails only on a malformed metric family, which this registry never holds; should
    /// it happen all the same, the log says why).
    pub fn page(&self) -> String {
        self.render().unwrap_or_else(|err| {
            tracing::error!(error = format!("{err:#}"), "metrics cannot be rendered");
            String::new()
        })
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

/// A cache, as its metrics see it.
pub struct CacheStats {
    /// `catalogue` names `bookstore_catalogue_cache_*`.
    pub name: &'static str,
    /// What the cache answers, for the help texts: "Anonymous catalogue reads".
    pub reads: &'static str,
    /// Its counters now.
    pub stats: Arc<dyn Fn() -> Stats + Send + Sync>,
}

impl CacheStats {
    /// The metrics `bookstore_{name}_cache_*` of `cache`, which answers `reads`.
    pub fn of<K, V>(name: &'static str, reads: &'static str, cache: Coherent<K, V>) -> Self
    where
        K: Eq + Hash + Clone + Send + Sync + 'static,
        V: Weigh + Clone + Send + Sync + 'static,
    {
        Self {
            name,
            reads,
            stats: Arc::new(move || cache.stats()),
        }
    }
}

/// A cache's counters and gauges, read from it at each scrape.
fn register_cache(registry: &Registry, cache: CacheStats) -> prometheus::Result<()> {
    let CacheStats { name, reads, stats } = cache;
    let read = |field: fn(Stats) -> u64| {
        let stats = Arc::clone(&stats);
        move || field(stats())
    };
    for (metric, help, field) in [
        (
            "hits_total",
            format!("{reads} answered from the {name} cache."),
            (|s| s.hits) as fn(Stats) -> u64,
        ),
        (
            "misses_total",
            format!("{reads} the {name} cache did not hold, read from the database."),
            |s| s.misses,
        ),
        (
            "invalidations_total",
            format!("Times the {name} cache was emptied: for a write, or a lost listener."),
            |s| s.invalidations,
        ),
        (
            "evictions_total",
            format!("Entries the {name} cache dropped to stay within its bounds."),
            |s| s.evictions,
        ),
    ] {
        let metric = format!("bookstore_{name}_cache_{metric}");
        registry.register(Box::new(PullingCounter::new(&metric, &help, read(field))?))?;
    }
    // Entries stay far below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let gauge = |field: fn(Stats) -> u64| {
        let read = read(field);
        move || read() as f64
    };
    registry.register(Box::new(PullingGauge::new(
        format!("bookstore_{name}_cache_entries"),
        format!("Entries the {name} cache holds now."),
        Box::new(gauge(|s| s.entries)),
    )?))?;
    registry.register(Box::new(PullingGauge::new(
        format!("bookstore_{name}_cache_in_use"),
        format!(
            "1 while the {name} cache answers reads (on, and on PostgreSQL listening for \
             writes), else 0."
        ),
        Box::new(gauge(|s| u64::from(s.in_use))),
    )?))?;
    Ok(())
}

/// The `method` label: the standard methods by name, any other as `OTHER`, so that
/// clients cannot create series at will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodLabel(usize);

/// The values of [`MethodLabel`]: the methods of RFC 9110, then `OTHER`.
const METHOD_LABELS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "OTHER",
];

impl MethodLabel {
    pub fn of(method: &Method) -> Self {
        let index = METHOD_LABELS[..METHOD_LABELS.len() - 1]
            .iter()
            .position(|label| *label == method.as_str())
            .unwrap_or(METHOD_LABELS.len() - 1);
        Self(index)
    }

    pub fn as_str(self) -> &'static str {
        METHOD_LABELS[self.0]
    }
}

/// The statuses whose series a route keeps at hand; the series of any other status (none
/// of them is common) is looked up by its labels at each request.
const COMMON_STATUSES: [u16; 18] = [
    200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 428, 429, 500, 503,
];

/// The request metrics of one route: its series for each method and status, each one
/// looked up by its labels the first time it is used, then recorded with atomic
/// operations only. A series appears on the metrics page once a request used it, as with
/// a lookup at each request.
pub struct RouteSeries {
    /// The `route` label: a route template, or [`UNMATCHED_ROUTE`].
    route: Box<str>,
    /// By method, then by status as in [`COMMON_STATUSES`].
    series: Box<[OnceLock<Series>]>,
    requests: IntCounterVec,
    latency: HistogramVec,
}

/// The request counter and the latency histogram of one method, route and status.
struct Series {
    requests: IntCounter,
    latency: Histogram,
}

impl RouteSeries {
    /// The route template (or [`UNMATCHED_ROUTE`]).
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Records one request answered with `status` after `elapsed`.
    pub fn record(&self, method: MethodLabel, status: StatusCode, elapsed: Duration) {
        let slot = COMMON_STATUSES
            .iter()
            .position(|common| *common == status.as_u16())
            .and_then(|index| self.series.get(method.0 * COMMON_STATUSES.len() + index));
        let observe = |series: &Series| {
            series.requests.inc();
            series.latency.observe(elapsed.as_secs_f64());
        };
        match slot {
            Some(slot) => observe(slot.get_or_init(|| self.lookup(method, status))),
            None => observe(&self.lookup(method, status)),
        }
    }

    fn lookup(&self, method: MethodLabel, status: StatusCode) -> Series {
        let labels = [method.as_str(), &self.route, status.as_str()];
        Series {
            requests: self.requests.with_label_values(&labels),
            latency: self.latency.with_label_values(&labels),
        }
    }
}

/// A counter whose value is read from elsewhere at each scrape, as
/// [`prometheus::PullingGauge`] is for gauges.
struct PullingCounter {
    desc: Desc,
    read: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl PullingCounter {
    fn new(
        name: &str,
        help: &str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> prometheus::Result<Self> {
        Ok(Self {
            desc: Desc::new(name.to_owned(), help.to_owned(), Vec::new(), HashMap::new())?,
            read: Box::new(read),
        })
    }
}

impl Collector for PullingCounter {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut counter = Counter::default();
        // Exact up to 2^53 calls, far more than a process sees.
        #[allow(clippy::cast_precision_loss)]
        counter.set_value((self.read)() as f64);
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::COUNTER);
        let mut metric = Metric::default();
        metric.set_counter(counter);
        family.set_metric(vec![metric]);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use poem::http::Method;

    use super::MethodLabel;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(MethodLabel::of(&Method::PATCH).as_str(), "PATCH");
        assert_eq!(MethodLabel::of(&Method::GET).as_str(), "GET");
        let custom = Method::from_bytes(b"BREW").unwrap_or_default();
        assert_eq!(MethodLabel::of(&custom).as_str(), "OTHER");
        let query = Method::from_bytes(b"QUERY").unwrap_or_default();
        assert_eq!(MethodLabel::of(&query).as_str(), "OTHER");
    }
}
