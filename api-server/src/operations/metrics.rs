//! `GET /metrics`: the metrics in the Prometheus text exposition format.

use poem_openapi::OpenApi;
use poem_openapi::payload::PlainText;

use crate::http::ApiTags;
use crate::metrics::Metrics;

pub struct MetricsApi {
    pub metrics: Metrics,
}

#[OpenApi(tag = "ApiTags::Operations")]
impl MetricsApi {
    /// Metrics for Prometheus.
    ///
    /// The Prometheus text exposition format: requests answered, as a counter and a
    /// latency histogram by method, route template and status; the database pool's
    /// connections in use and idle; failed session-store calls; and the running version.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self) -> PlainText<String> {
        PlainText(self.metrics.page())
    }
}
