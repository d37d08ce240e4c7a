//! Cross-origin requests from the browser origins of `CORS_ALLOWED_ORIGINS`.
//!
//! Off when no origin is configured: browsers then let no other origin's page read an
//! answer. When on, poem's [`Cors`] answers preflights and marks the answers to a listed
//! origin as readable by it. Credentials are never allowed: the API authenticates with
//! bearer tokens, not cookies, so a page sends the token itself and no cookie is needed.
//!
//! An unlisted origin gets no CORS headers, so its page cannot read the answer; only its
//! preflight is refused (403). Its other requests are served as usual, because a browser
//! sends `Origin` on same-origin writes too (Swagger UI's "Try it out", say) and those
//! must keep working.

use std::collections::HashSet;
use std::sync::Arc;

use poem::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use poem::middleware::{Cors, CorsEndpoint};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::problem::Problem;
use super::request_id::REQUEST_ID_HEADER;

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: i32 = 3600;

/// The middleware; see the module documentation.
#[derive(Clone)]
pub struct CorsPolicy {
    origins: Vec<HeaderValue>,
}

impl CorsPolicy {
    /// CORS for exactly these origins (`https://shop.example.com`); none turns it off.
    pub fn new(origins: &[String]) -> Self {
        Self {
            // Settings validate the origins; one that is no header value could never match.
            origins: origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok())
                .collect(),
        }
    }

    /// Whether any origin is allowed.
    pub fn is_on(&self) -> bool {
        !self.origins.is_empty()
    }

    fn cors(&self) -> Cors {
        Cors::new()
            .allow_origins(self.origins.iter().cloned())
            .allow_credentials(false)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(REQUEST_ID_HEADER),
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                HeaderName::from_static(REQUEST_ID_HEADER),
                header::RETRY_AFTER,
                header::WWW_AUTHENTICATE,
                header::ETAG,
                HeaderName::from_static("idempotent-replayed"),
            ])
            .max_age(PREFLIGHT_MAX_AGE)
    }
}

impl<E: Endpoint> Middleware<E> for CorsPolicy {
    type Output = CorsPolicyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        let inner = Arc::new(inner);
        CorsPolicyEndpoint {
            cors: (!self.origins.is_empty()).then(|| self.cors().transform(Arc::clone(&inner))),
            origins: self.origins.iter().cloned().collect(),
            inner,
        }
    }
}

pub struct CorsPolicyEndpoint<E> {
    inner: Arc<E>,
    /// The same endpoint behind poem's CORS handling; `None` when CORS is off.
    cors: Option<CorsEndpoint<Arc<E>>>,
    origins: HashSet<HeaderValue>,
}

impl<E: Endpoint> Endpoint for CorsPolicyEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Some(cors) = &self.cors else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let listed = req
            .headers()
            .get(header::ORIGIN)
            .map(|origin| self.origins.contains(origin));
        let mut resp = match listed {
            Some(true) => cors.call(req).await.unwrap_or_else(|_| refused()),
            Some(false) if is_preflight(&req) => refused(),
            _ => self.inner.call(req).await?.into_response(),
        };
        // Whether an answer is readable cross-origin depends on `Origin`.
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        Ok(resp)
    }
}

fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight that is not allowed: an unlisted origin, method or header.
fn refused() -> Response {
    Problem::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "This cross-origin request is not allowed.",
    )
    .into_response()
}
