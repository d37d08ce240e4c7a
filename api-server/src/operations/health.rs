//! `GET /health` (is the process up?) and `GET /ready` (can it serve requests?).

use std::future::Future;
use std::time::Instant;

use poem::http::{HeaderValue, header};
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::auth::SessionStore;
use crate::db::Db;
use crate::http::ApiTags;

pub struct HealthApi {
    pub db: Db,
    pub sessions: SessionStore,
}

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

/// The one answer of `GET /health`: `200` with a [`Health`] of status `ok`, as
/// `Json<Health>` would answer it (the spec says so, from `Json<Health>` itself), but
/// written once rather than built and serialised at each request.
pub struct HealthAnswer;

/// `Health { status: Ok }` as JSON.
const HEALTH_OK: &str = r#"{"status":"ok"}"#;

impl ApiResponse for HealthAnswer {
    fn meta() -> MetaResponses {
        Json::<Health>::meta()
    }

    fn register(registry: &mut Registry) {
        Json::<Health>::register(registry);
    }
}

impl IntoResponse for HealthAnswer {
    fn into_response(self) -> Response {
        Response::builder()
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )
            .body(HEALTH_OK)
    }
}

/// Whether the server can serve requests: both dependencies answer.
#[derive(Debug, Object)]
pub struct Readiness {
    pub status: ReadinessStatus,
    pub database: DependencyCheck,
    pub session_store: DependencyCheck,
    /// The read replica (`DATABASE_READ_URL`), when there is one. Its state does not
    /// decide readiness: reads fall back to the primary.
    #[oai(skip_serializing_if_is_none)]
    pub database_replica: Option<ReplicaCheck>,
}

/// What the read replica's monitor last found (it checks once a second).
#[derive(Debug, Object)]
pub struct ReplicaCheck {
    /// `up` when it answered the last check.
    pub status: DependencyStatus,
    /// How far behind the primary it was, in milliseconds.
    pub lag_ms: i64,
    /// Whether anonymous catalogue reads go to it now: up, and no further behind than
    /// `DATABASE_READ_MAX_LAG_MS`.
    pub in_use: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ReadinessStatus {
    Ready,
    Unavailable,
}

/// One dependency's answer to a trivial request.
#[derive(Debug, Object)]
pub struct DependencyCheck {
    /// `up` when it answered in time.
    pub status: DependencyStatus,
    /// What it is: `PostgreSQL`, `SQLite`, `Redis` or `in-process`.
    pub backend: String,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum DependencyStatus {
    Up,
    Down,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Both the database and the session store answer.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A dependency does not answer; the body says which.
    #[oai(status = 503)]
    Unavailable(Json<Readiness>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Whether the server process is up. Touches no dependency.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> HealthAnswer {
        HealthAnswer
    }

    /// Whether the server can serve requests: 200 when the database and the session
    /// store both answer, 503 otherwise, with each one's state and latency, and the read
    /// replica's state and lag when there is one.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> ReadyResponse {
        let (database, session_store) = tokio::join!(
            check(self.db.backend(), self.db.ping()),
            check(self.sessions.backend(), self.sessions.ping()),
        );
        let up = [&database, &session_store]
            .iter()
            .all(|c| c.status == DependencyStatus::Up);
        let status = if up {
            ReadinessStatus::Ready
        } else {
            ReadinessStatus::Unavailable
        };
        let database_replica = self.db.replica_state().map(|replica| ReplicaCheck {
            status: if replica.up {
                DependencyStatus::Up
            } else {
                DependencyStatus::Down
            },
            lag_ms: i64::try_from(replica.lag.as_millis()).unwrap_or(i64::MAX),
            in_use: replica.in_use,
        });
        let body = Json(Readiness {
            status,
            database,
            session_store,
            database_replica,
        });
        if up {
            ReadyResponse::Ready(body)
        } else {
            ReadyResponse::Unavailable(body)
        }
    }
}

async fn check<E: std::fmt::Display>(
    backend: &str,
    probe: impl Future<Output = Result<(), E>>,
) -> DependencyCheck {
    let started = Instant::now();
    let result = probe.await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Err(err) = &result {
        tracing::warn!(backend, error = %err, "readiness check failed");
    }
    DependencyCheck {
        status: if result.is_ok() {
            DependencyStatus::Up
        } else {
            DependencyStatus::Down
        },
        backend: backend.to_owned(),
        latency_ms,
    }
}

#[cfg(test)]
mod tests {
    use poem::IntoResponse;
    use poem_openapi::payload::Json;

    use super::{HEALTH_OK, Health, HealthAnswer, HealthStatus};

    #[tokio::test]
    async fn the_health_answer_is_what_json_health_would_be() {
        let built = Json(Health {
            status: HealthStatus::Ok,
        })
        .into_response();
        let written = HealthAnswer.into_response();
        assert_eq!(built.status(), written.status());
        assert_eq!(built.headers(), written.headers());
        let built = built.into_body().into_string().await.unwrap_or_default();
        assert_eq!(built, HEALTH_OK);
        let written = written.into_body().into_string().await.unwrap_or_default();
        assert_eq!(written, HEALTH_OK);
    }
}
