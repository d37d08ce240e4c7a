//! What the server records about each request: a request id, one log line and the
//! request metrics.
//!
//! [`Observe`] is the outermost middleware. It takes the id from the `x-request-id`
//! header when the client sent a sane one (1 to 128 visible ASCII characters), else
//! generates a UUID v7; returns it in `x-request-id` on every answer, errors included;
//! runs the request inside a `request` span that carries it, so every log line of the
//! request has it; and, once answered, logs one line (method, route template, status,
//! latency) and records the request in [`Metrics`]. It logs no header, body or query, so
//! neither credentials nor tokens can reach the log through it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use poem::endpoint::make_sync;
use poem::http::{HeaderValue, Uri};
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Route};
use poem_openapi::OpenApi;
use tracing::Instrument;
use uuid::Uuid;

use super::problem::error_response;
use crate::metrics::{Metrics, UNMATCHED_ROUTE};

/// The header that carries the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id taken from a client.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The longest raw path logged for a request that matches no route.
const MAX_LOGGED_PATH_LEN: usize = 256;

/// The id of one request, safe to log and to send back as a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id when it is 1 to 128 visible ASCII characters, a new UUID v7
    /// otherwise.
    pub fn from_header(sent: Option<&HeaderValue>) -> Self {
        sent.filter(|value| {
            let bytes = value.as_bytes();
            (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
                && bytes.iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .map_or_else(Self::generate, Self)
    }

    fn generate() -> Self {
        let id = Uuid::now_v7().hyphenated().to_string();
        Self(HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid")))
    }

    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in, so this never falls back.
        self.0.to_str().unwrap_or_default()
    }
}

/// Finds the route template of a path with poem's own router, before the request is
/// served: the template is then known even for a request that never reaches its route
/// (a body refused as too large, a request cut off by the timeout, a CORS preflight).
pub struct RouteTemplates(Route);

impl RouteTemplates {
    /// The templates of every operation of `T`, in poem's form (`/api/v1/books/:id`).
    pub fn of<T: OpenApi>() -> Self {
        let paths: BTreeSet<String> = T::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .map(|path| path.path.replace('{', ":").replace('}', ""))
            .collect();
        paths.iter().fold(Self(Route::new()), |t, path| t.at(path))
    }

    /// Adds a route served at exactly `path`.
    pub fn at(self, path: &str) -> Self {
        Self(self.0.at(path, make_sync(|_| ())))
    }

    /// Adds the routes nested under `prefix`, all reported as `prefix`.
    pub fn nest(self, prefix: &str) -> Self {
        Self(self.0.nest(prefix, make_sync(|_| ())))
    }

    /// The template `uri` matches, if any.
    pub async fn template(&self, uri: &Uri) -> Option<Arc<str>> {
        let probe = Request::builder().uri(uri.clone()).finish();
        let answer = self.0.call(probe).await.ok()?;
        answer
            .data::<PathPattern>()
            .map(|pattern| pattern.0.clone())
    }
}

/// The middleware; see the module documentation.
pub struct Observe {
    metrics: Metrics,
    routes: Arc<RouteTemplates>,
}

impl Observe {
    pub fn new(metrics: Metrics, routes: RouteTemplates) -> Self {
        Self {
            metrics,
            routes: Arc::new(routes),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
            routes: Arc::clone(&self.routes),
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Metrics,
    routes: Arc<RouteTemplates>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
        let method = req.method().clone();
        let template = self.routes.template(req.uri()).await;
        let path = (template.is_none()).then(|| logged_path(req.uri().path()));
        let span = tracing::info_span!("request", request_id = %id.as_str());
        async move {
            let mut resp = match self.inner.call(req).await {
                Ok(resp) => resp.into_response(),
                Err(err) => error_response(err),
            };
            let status = resp.status();
            let elapsed = started.elapsed();
            let route = template.as_deref().unwrap_or(UNMATCHED_ROUTE);
            self.metrics.record(&method, route, status, elapsed);
            tracing::info!(
                method = %method,
                route = %path.as_deref().unwrap_or(route),
                status = status.as_u16(),
                latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
                "answered"
            );
            resp.headers_mut().insert(REQUEST_ID_HEADER, id.0);
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}

/// The raw path of an unmatched request, cut to a sane length: anyone can send any path.
fn logged_path(path: &str) -> String {
    match path.char_indices().nth(MAX_LOGGED_PATH_LEN) {
        Some((end, _)) => format!("{}…", &path[..end]),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    use super::{RequestId, RouteTemplates};

    #[test]
    fn a_sane_request_id_is_kept() {
        let sent = HeaderValue::from_static("req-42:abc/DEF");
        assert_eq!(
            RequestId::from_header(Some(&sent)).as_str(),
            "req-42:abc/DEF"
        );
    }

    #[test]
    fn a_missing_empty_long_or_odd_request_id_is_replaced_by_a_uuid() {
        let long = "x".repeat(129);
        let sent = [
            None,
            Some(HeaderValue::from_static("")),
            Some(HeaderValue::from_static("has space")),
            HeaderValue::from_str(&long).ok(),
            HeaderValue::from_bytes("caf\u{e9}".as_bytes()).ok(),
        ];
        for value in sent {
            let id = RequestId::from_header(value.as_ref());
            let uuid = uuid::Uuid::parse_str(id.as_str()).expect("a generated UUID");
            assert_eq!(uuid.get_version_num(), 7, "{value:?}");
        }
    }

    #[tokio::test]
    async fn paths_resolve_to_their_route_template() {
        let routes = RouteTemplates::of::<()>()
            .at("/api/v1/books/:id")
            .at("/api/v1/books")
            .nest("/docs");
        let template = |uri: &'static str| {
            let routes = &routes;
            async move { routes.template(&uri.parse().expect("a URI")).await }
        };
        assert_eq!(
            template("/api/v1/books/0193?x=1").await.as_deref(),
            Some("/api/v1/books/:id")
        );
        assert_eq!(
            template("/api/v1/books").await.as_deref(),
            Some("/api/v1/books")
        );
        assert_eq!(template("/docs/x.html").await.as_deref(), Some("/docs"));
        assert_eq!(template("/nowhere").await, None);
    }
}
