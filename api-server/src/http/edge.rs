//! What runs around every operation, inside the router: a panic becomes a 500 problem,
//! refused input is explained field by field, the body and time limits apply, every error
//! becomes a problem, and CORS.
//!
//! These run inside the router rather than around it, so that every answer, their own
//! included (a 413, a timeout, a preflight), carries the template of the route the router
//! matched, for the request log and metrics (see `http::observe`). They run for every
//! request, so they are one endpoint, [`Guarded`], rather than a stack of middleware:
//! each layer of a stack would move the request and its future once more.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use poem::endpoint::EitherEndpoint;
use poem::{Endpoint, EndpointExt, IntoResponse, Middleware, Request, Response};

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
    pub fn around<E>(
        &self,
        template: &str,
        endpoint: E,
    ) -> impl Endpoint<Output = Response> + use<E>
    where
        E: Endpoint + 'static,
    {
        let route = RouteTemplate(self.metrics.route(template));
        let guarded = |route| Guarded {
            inner: endpoint,
            explain: Explain {
                route: self.contract.route(template),
                template: template.into(),
            },
            limits: self.limits,
            route,
        };
        if self.cors.is_on() {
            // CORS answers preflights itself: those carry the route too.
            let cors = self
                .cors
                .transform(guarded(None))
                .map(move |mut resp: Response| {
                    resp.set_data(route.clone());
                    async move { resp }
                });
            EitherEndpoint::B(cors.boxed())
        } else {
            EitherEndpoint::A(guarded(Some(route)))
        }
    }
}

/// An operation with the layers that run inside CORS, in one endpoint: the time and body
/// limits, refused input explained, a panic turned into a 500, every error into a problem.
struct Guarded<E> {
    inner: E,
    explain: Explain,
    limits: Limits,
    /// The route its answers carry, unless something around it sets it.
    route: Option<RouteTemplate>,
}

impl<E: Endpoint> Endpoint for Guarded<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut resp = match self.limits.in_time(self.handle(req)).await {
            Ok(resp) => resp,
            Err(err) => error_response(err),
        };
        if let Some(route) = &self.route {
            resp.set_data(route.clone());
        }
        Ok(resp)
    }
}

impl<E: Endpoint> Guarded<E> {
    async fn handle(&self, mut req: Request) -> poem::Result<Response> {
        let body = self.limits.read_body(&mut req).await?;
        let sent = self.explain.keep(&req, &body);
        match AssertUnwindSafe(self.inner.call(req)).catch_unwind().await {
            Ok(Ok(resp)) => Ok(resp.into_response()),
            Ok(Err(err)) => Err(match &sent {
                Some(sent) => self.explain.explain(sent, err),
                None => err,
            }),
            Err(panic) => Ok(panic_response(panic)),
        }
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
