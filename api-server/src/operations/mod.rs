//! Operating the service: liveness, readiness and metrics.

pub mod health;
pub mod metrics;

pub use health::HealthApi;
pub use metrics::MetricsApi;
