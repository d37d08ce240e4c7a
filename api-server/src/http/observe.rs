//! What the server records about each request: a request id, the client's address, one
//! log line and the request metrics; and the security headers every answer carries (see
//! `http::security`).
//!
//! [`Observe`] is the outermost middleware. It takes the id from the `x-request-id`
//! header when the client sent a sane one (1 to 128 visible ASCII characters), else
//! generates a UUID v7; returns it in `x-request-id` on every answer, errors included;
//! runs the request inside a `request` span that carries it, so every log line of the
//! request has it; and, once answered, logs one line (method, route template, status,
//! latency) and records the request in [`Metrics`]. It logs no header, body or query, so
//! neither credentials nor tokens can reach the log through it.
//!
//! The route template is the one poem's router matched: the endpoint it matched leaves
//! its [`RouteSeries`] (its template and its metrics) on the answer as a
//! [`RouteTemplate`] (see `http::edge`). Everything that may answer without running the
//! operation (the body and time limits, CORS preflights) runs inside the router for that
//! reason, so that such answers are counted under their route too.
//!
//! This runs for every request, so it does no more than it must: the `request` span and
//! the log line cost nothing when the log level leaves them out, and the raw path is kept
//! only for a log line about a request that matched no route.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use ipnet::IpNet;
use poem::http::{HeaderName, Uri};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

use super::edge::RouteTemplate;
use super::problem::error_response;
use super::request_id::{REQUEST_ID_HEADER, RequestId};
use super::security::SecurityHeaders;
use crate::auth::ClientAddr;
use crate::metrics::{MethodLabel, Metrics, RouteSeries, UNMATCHED_ROUTE};

/// The header in which proxies name who they forwarded a request for.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The longest raw path logged for a request that matches no route.
const MAX_LOGGED_PATH_LEN: usize = 256;

/// The middleware; see the module documentation.
pub struct Observe {
    unmatched: Arc<RouteSeries>,
    trusted_proxies: Arc<[IpNet]>,
}

impl Observe {
    /// Records into `metrics`; the client of a request from one of `trusted_proxies` is
    /// the one its `X-Forwarded-For` names (see [`ClientAddr`]).
    pub fn new(metrics: &Metrics, trusted_proxies: &[IpNet]) -> Self {
        Self {
            unmatched: metrics.route(UNMATCHED_ROUTE),
            trusted_proxies: trusted_proxies.into(),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            unmatched: Arc::clone(&self.unmatched),
            trusted_proxies: Arc::clone(&self.trusted_proxies),
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    /// The series of the requests that match no route.
    unmatched: Arc<RouteSeries>,
    trusted_proxies: Arc<[IpNet]>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
        let client = client_of(&req, &self.trusted_proxies);
        req.set_data(client);
        let method = MethodLabel::of(req.method());
        let security = SecurityHeaders::of(&req);
        let span = tracing::info_span!("request", request_id = %id.as_str());
        // The raw path is logged only for a request that matches no route.
        let uri = tracing::enabled!(tracing::Level::INFO).then(|| req.uri().clone());
        let answered = self.inner.call(req);
        // A disabled span would only be entered and left at each poll, for nothing.
        let answered = if span.is_disabled() {
            answered.await
        } else {
            answered.instrument(span.clone()).await
        };
        let mut resp = match answered {
            Ok(resp) => resp.into_response(),
            Err(err) => error_response(err),
        };
        let status = resp.status();
        let elapsed = started.elapsed();
        let series = resp.data::<RouteTemplate>().map(|route| &route.0);
        let template = series.map(|series| series.route());
        series
            .unwrap_or(&self.unmatched)
            .record(method, status, elapsed);
        span.in_scope(|| {
            tracing::info!(
                method = method.as_str(),
                route = %LoggedRoute { template, uri: uri.as_ref() },
                client = %client,
                status = status.as_u16(),
                latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
                "answered"
            );
        });
        security.apply(&mut resp);
        resp.headers_mut()
            .insert(REQUEST_ID_HEADER, id.into_header());
        Ok(resp)
    }
}

/// The client of `req` (see [`ClientAddr`]); a peer that is no IP socket (which this
/// server never listens on) counts as the unspecified address.
fn client_of(req: &Request, trusted_proxies: &[IpNet]) -> ClientAddr {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |addr| addr.ip());
    let forwarded = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok());
    ClientAddr::resolve(peer, forwarded, trusted_proxies)
}

/// The route of a request in its log line: the template it matched, else its raw path,
/// cut to a sane length (anyone can send any path). Written only if the line is.
struct LoggedRoute<'a> {
    template: Option<&'a str>,
    uri: Option<&'a Uri>,
}

impl fmt::Display for LoggedRoute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(template) = self.template {
            return f.write_str(template);
        }
        let path = self.uri.map_or("", Uri::path);
        match path.char_indices().nth(MAX_LOGGED_PATH_LEN) {
            Some((end, _)) => write!(f, "{}…", &path[..end]),
            None => f.write_str(path),
        }
    }
}
