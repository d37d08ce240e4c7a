//! What runs around every operation, inside the router: a panic becomes a 500 problem,
//! refused input is explained field by field, the body and time limits apply, every error
//! becomes a problem, and CORS.
//!
//! These run inside the router rather than around it, so that every answer, their own
//! included (a 413, a timeout, a preflight), carries the template of the route the router
//! matched, for the request log and metrics (see `http::observe`).

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Response};

use super::contract::Contract;
use super::cors::CorsPolicy;
use super::explain::Explain;
use super::limits::Limits;
use super::problem::{Problem, error_response};
use crate::error::AppError;
use crate::metrics::{Metrics, RouteSeries};
use crate::settings::Settings;

/// The route that answered a request, with its template (`/api/v1/books/:id`) and its
/// metrics, left on the answer by the endpoint the router matched.
#[derive(Clone)]
pub struct RouteTemplate(pub Arc<RouteSeries>);

/// The layers of [`Edge::around`], configured once.
#[derive(Clone)]
pub struct Edge {
    limits: Limits,
    cors: CorsPolicy,
    contract: Arc<Contract>,
    metrics: Metrics,
}

impl Edge {
    pub fn new(settings: &Settings, contract: Arc<Contract>, metrics: Metrics) -> Self {
        Self {
            contract,
            metrics,
            limits: Limits {
                max_body_bytes: settings.max_body_bytes,
                timeout: settings.request_timeout,
            },
            cors: CorsPolicy::new(&settings.cors_allowed_origins),
        }
    }

    /// `endpoint`, served at the route `template` (`/api/v1/books/:id`), with every layer
    /// around it; its answers carry `template` as their [`RouteTemplate`].
    pub fn around<E>(&self, template: &str, endpoint: E) -> BoxEndpoint<'static, Response>
    where
        E: Endpoint + 'static,
    {
        let route = RouteTemplate(self.metrics.route(template));
        let explain = Explain {
            route: self.contract.route(template),
            template: template.into(),
        };
        endpoint
            .with(CatchPanic::new().with_handler(panic_response))
            .with(explain)
            .with(self.limits)
            .catch_all_error(|err| async move { error_response(err) })
            .with(self.cors.clone())
            .map(move |mut resp: Response| {
                resp.set_data(route.clone());
                async move { resp }
            })
            .boxed()
    }
}

/// A panic in a handler is a bug: log it and answer a plain 500 problem.
fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Problem::from(&AppError::internal(anyhow::anyhow!(
        "handler panicked: {message}"
    )))
    .into_response()
}
