//! Security headers on every answer.
//!
//! The API answers JSON that no browser should sniff, frame, cache or render as a page:
//! `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy:
//! no-referrer`, `Cross-Origin-Resource-Policy: same-origin`, `Cache-Control: no-store`
//! (`private, no-store` when the request carries credentials; unless the answer sets its
//! own, as `GET`s of resources do, see `http::tagged`) and a Content-Security-Policy that
//! allows nothing.
//!
//! Swagger UI under `/docs` is a page: its HTML carries its script, its styles and the
//! spec inline, draws icons from `data:` images and calls the API of its own origin, so
//! its policy allows exactly that and nothing from elsewhere. `Strict-Transport-Security`
//! belongs to whatever terminates TLS in front of the server.

use poem::http::{HeaderName, HeaderValue, header};
use poem::{Request, Response};

/// The policy of every answer but the documentation.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy of Swagger UI under `/docs`.
const DOCS_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The most headers an answer gains on its way out: the six below, the request id (see
/// `http::observe`) and `Vary` (see `http::cors`).
const ADDED_HEADERS: usize = 8;

/// Where Swagger UI is served.
const DOCS_PREFIX: &str = "/docs";

/// The security headers an answer to one request gets; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct SecurityHeaders {
    docs: bool,
    credentials: bool,
}

impl SecurityHeaders {
    /// The headers for the answer to `req`.
    pub fn of(req: &Request) -> Self {
        let path = req.uri().path();
        Self {
            docs: path == DOCS_PREFIX || path.starts_with("/docs/"),
            credentials: req.headers().contains_key(header::AUTHORIZATION),
        }
    }

    /// Sets them on `resp`.
    pub fn apply(self, resp: &mut Response) {
        let headers = resp.headers_mut();
        // Room for these and the request id at once, rather than growing the map twice.
        headers.reserve(ADDED_HEADERS);
        let set = |value| HeaderValue::from_static(value);
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, set("nosniff"));
        headers.insert(header::X_FRAME_OPTIONS, set("DENY"));
        headers.insert(header::REFERRER_POLICY, set("no-referrer"));
        headers.insert(
            HeaderName::from_static("cross-origin-resource-policy"),
            set("same-origin"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            set(if self.docs { DOCS_CSP } else { API_CSP }),
        );
        if !self.docs {
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert(set(if self.credentials {
                    "private, no-store"
                } else {
                    "no-store"
                }));
        }
    }
}
