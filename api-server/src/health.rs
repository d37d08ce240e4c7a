//! `GET /health`: a cheap liveness answer.

use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use crate::http::ApiTags;

pub struct HealthApi;

/// Liveness of the server process.
#[derive(Debug, Object)]
pub struct Health {
    pub status: HealthStatus,
}

#[derive(Debug, Enum)]
#[oai(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Whether the server process is up. Touches no dependency.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<Health> {
        Json(Health {
            status: HealthStatus::Ok,
        })
    }
}
