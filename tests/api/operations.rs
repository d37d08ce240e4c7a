//! What an operator relies on: request ids, request logs, security headers, CORS and
//! the Prometheus metrics.
//!
//! Headers are not part of the typed client's answers, so most of these tests send their
//! requests through the generated client's own HTTP client.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bookstore_tests::api_client::{ClientInfo, types};
use bookstore_tests::{TestApp, assert_problem};
use futures::TryStreamExt;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

const REQUEST_ID: &str = "x-request-id";
const SHOP: &str = "https://shop.example.com";

/// A request to `path` (below the base URL) through the generated client's HTTP client.
fn call(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    app.client
        .client()
        .request(method, format!("{}{path}", app.client.baseurl()))
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("the server answers")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|value| value.to_str().expect("a text header"))
}

/// The request id the server answered with, checked to be a UUID v7 it generated.
#[track_caller]
fn generated_id(resp: &Response) -> Uuid {
    let id = header(resp.headers(), REQUEST_ID).expect("an x-request-id header");
    let id = Uuid::parse_str(id).expect("a generated request id is a UUID");
    assert_eq!(id.get_version_num(), 7, "{id}");
    id
}

// ----------------------------------------------------------------------------------------
// Request ids
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_id_is_generated_when_none_is_sent() {
    let app = TestApp::spawn().await;

    let first = send(call(&app, Method::GET, "/health")).await;
    let second = send(call(&app, Method::GET, "/health")).await;

    assert_eq!(first.status(), StatusCode::OK);
    assert_ne!(generated_id(&first), generated_id(&second));
}

#[tokio::test]
async fn a_sent_request_id_is_returned_as_it_was_sent() {
    let app = TestApp::spawn().await;

    let resp =
        send(call(&app, Method::GET, "/api/v1/books").header(REQUEST_ID, "lb-7f3a:42")).await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(resp.headers(), REQUEST_ID), Some("lb-7f3a:42"));
}

#[tokio::test]
async fn an_unusable_request_id_is_replaced_by_a_generated_one() {
    let app = TestApp::spawn().await;

    for sent in ["x".repeat(129), "two words".to_owned()] {
        let resp = send(call(&app, Method::GET, "/health").header(REQUEST_ID, &sent)).await;
        generated_id(&resp);
    }
}

#[tokio::test]
async fn error_answers_carry_the_request_id_too() {
    let app = TestApp::spawn().await;
    let cases = [
        (Method::GET, "/api/v1/books/not-a-uuid", 422),
        (Method::GET, "/api/v1/users/me", 401),
        (Method::GET, "/no/such/route", 404),
        (Method::PUT, "/api/v1/books", 405),
    ];

    for (method, path, status) in cases {
        let resp = send(call(&app, method, path).header(REQUEST_ID, "err-check")).await;

        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(
            header(resp.headers(), REQUEST_ID),
            Some("err-check"),
            "{path}"
        );
    }
}

// ----------------------------------------------------------------------------------------
// Logs
// ----------------------------------------------------------------------------------------

/// Everything logged in this test process, as JSON lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Starts capturing, once per process, with the server's JSON format and everything
    /// the server and its libraries log down to trace level.
    fn start() -> Self {
        static LOGS: OnceLock<Captured> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Self::default();
            let writer = logs.clone();
            let installed = api_server::telemetry::install(
                api_server::telemetry::LogFormat::Json,
                "api_server=trace,poem=trace,poem_openapi=trace,sqlx=trace,redis=trace,info",
                move || writer.clone(),
            );
            assert!(
                installed,
                "another logger is installed: run without TEST_LOG"
            );
            logs
        })
        .clone()
    }

    fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
            .collect()
    }
}

/// The request id of a JSON log line, from its `request` span.
fn request_id_of(line: &Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .find_map(|span| span["request_id"].as_str())
}

#[tokio::test]
async fn every_log_line_of_a_request_has_its_id_and_no_line_has_a_secret() {
    let logs = Captured::start();
    let app = TestApp::spawn().await;
    let email = format!("logged-{}@example.com", Uuid::new_v4().simple());
    let password = format!("secret-{}", Uuid::new_v4().simple());
    app.signup(&email, &password).await;

    let login = send(
        call(&app, Method::POST, "/api/v1/users/login")
            .header(REQUEST_ID, "login-under-test")
            .json(&serde_json::json!({ "email": email, "password": password })),
    )
    .await;
    let token = login.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let me = send(call(&app, Method::GET, "/api/v1/users/me").bearer_auth(&token)).await;
    assert_eq!(me.status(), StatusCode::OK);

    let lines = logs.lines();
    let of_login: Vec<&Value> = lines
        .iter()
        .filter(|line| request_id_of(line) == Some("login-under-test"))
        .collect();
    let answered = of_login
        .iter()
        .find(|line| line["message"] == "answered")
        .expect("the request's own line");
    assert_eq!(answered["method"], "POST");
    assert_eq!(answered["route"], "/api/v1/users/login");
    assert_eq!(answered["status"], 200);
    assert_eq!(answered["client"], "127.0.0.1", "{answered}");
    assert!(answered["latency_ms"].is_f64(), "{answered}");
    assert!(
        of_login.iter().any(|line| line["message"] != "answered"),
        "the lines logged while handling the request (the queries) carry its id too"
    );
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    for secret in [password.as_str(), token.as_str(), "$2b$", "Bearer"] {
        assert!(!text.contains(secret), "the log holds {secret:?}");
    }
}

// ----------------------------------------------------------------------------------------
// Security headers
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn every_answer_has_the_security_headers() {
    let app = TestApp::spawn().await;

    for (path, status) in [("/api/v1/books", 200), ("/nowhere", 404), ("/docs", 200)] {
        let resp = send(call(&app, Method::GET, path)).await;
        let headers = resp.headers();

        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(header(headers, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(headers, "x-frame-options"), Some("DENY"));
        assert_eq!(header(headers, "referrer-policy"), Some("no-referrer"));
        let csp = header(headers, "content-security-policy").expect("a CSP");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if path == "/docs" {
            // Swagger UI runs its inline script and styles, and nothing from elsewhere.
            assert!(csp.contains("script-src 'unsafe-inline'"), "{csp}");
            assert!(!csp.contains('*') && !csp.contains("http"), "{csp}");
        } else {
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
            assert!(!csp.contains("script-src"), "{path}: {csp}");
            // The public catalogue may be kept by caches that revalidate it; nothing
            // else may be kept at all (see tests/api/retries.rs for the rest).
            let caching = if path == "/api/v1/books" {
                "public, no-cache"
            } else {
                "no-store"
            };
            assert_eq!(header(headers, "cache-control"), Some(caching), "{path}");
        }
    }
}

// ----------------------------------------------------------------------------------------
// CORS
// ----------------------------------------------------------------------------------------

/// A browser's preflight for a `POST` with a token and a JSON body from `origin`.
fn preflight(app: &TestApp, origin: &str) -> RequestBuilder {
    call(app, Method::OPTIONS, "/api/v1/books")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type",
        )
}

async fn spawn_with_cors() -> TestApp {
    TestApp::spawn_with(|key| {
        (key == "CORS_ALLOWED_ORIGINS").then(|| format!("{SHOP}, http://localhost:3000"))
    })
    .await
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let app = TestApp::spawn().await;

    let pre = send(preflight(&app, SHOP)).await;
    let get = send(call(&app, Method::GET, "/api/v1/books").header(header::ORIGIN, SHOP)).await;

    assert!(!pre.status().is_success(), "{}", pre.status());
    for resp in [&pre, &get] {
        assert_eq!(header(resp.headers(), "access-control-allow-origin"), None);
    }
}

#[tokio::test]
async fn a_preflight_from_a_listed_origin_is_answered_without_credentials() {
    let app = spawn_with_cors().await;

    let resp = send(preflight(&app, SHOP)).await;

    let headers = resp.headers();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(header(headers, "access-control-allow-origin"), Some(SHOP));
    let methods = header(headers, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = header(headers, "access-control-allow-headers").unwrap();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn a_listed_origin_may_read_answers_and_their_request_id() {
    let app = spawn_with_cors().await;

    let resp = send(call(&app, Method::GET, "/api/v1/books").header(header::ORIGIN, SHOP)).await;

    let headers = resp.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(SHOP));
    let exposed = header(headers, "access-control-expose-headers").unwrap();
    assert!(exposed.contains(REQUEST_ID), "{exposed}");
    for conditional in ["etag", "idempotent-replayed", "retry-after"] {
        assert!(exposed.contains(conditional), "{exposed}");
    }
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
    // Whether the answer is readable depends on Origin: caches must keep them apart.
    let vary = header(headers, "vary")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(vary.contains("origin"), "{vary}");
}

#[tokio::test]
async fn a_listed_origin_may_send_conditional_and_idempotent_requests() {
    let app = spawn_with_cors().await;

    for (method, requested) in [
        ("PATCH", "authorization, content-type, if-match"),
        ("GET", "if-none-match"),
        ("POST", "authorization, content-type, idempotency-key"),
    ] {
        let resp = send(
            call(&app, Method::OPTIONS, "/api/v1/books")
                .header(header::ORIGIN, SHOP)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, requested),
        )
        .await;

        assert!(resp.status().is_success(), "{method}: {}", resp.status());
        let allowed = header(resp.headers(), "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        for name in requested.split(", ") {
            assert!(allowed.contains(name), "{method} {name}: {allowed}");
        }
    }
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_answer() {
    let app = spawn_with_cors().await;
    let other = "https://elsewhere.example.com";

    let pre = send(preflight(&app, other)).await;
    let get = send(call(&app, Method::GET, "/api/v1/books").header(header::ORIGIN, other)).await;

    assert_eq!(pre.status(), StatusCode::FORBIDDEN);
    // Served, as for a same-origin page, but not readable by the other origin's page.
    assert_eq!(get.status(), StatusCode::OK);
    for resp in [&pre, &get] {
        assert_eq!(header(resp.headers(), "access-control-allow-origin"), None);
    }
}

// ----------------------------------------------------------------------------------------
// Metrics
// ----------------------------------------------------------------------------------------

/// The metrics page, read through the generated client.
async fn metrics(app: &TestApp) -> String {
    let page = app.client.metrics().send().await.expect("the metrics");
    let chunks: Vec<_> = page.into_inner().into_inner().try_collect().await.unwrap();
    String::from_utf8(chunks.concat()).expect("UTF-8 metrics")
}

/// The value of the sample `series` (name and labels, exactly as exposed), if any.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a sample value"))
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_method_and_status() {
    let app = TestApp::spawn().await;
    let id = Uuid::now_v7();
    for _ in 0..2 {
        let missing = app.client.get_book().id(id).send().await;
        assert_problem(missing, 404, "not_found");
    }

    let page = metrics(&app).await;

    let series = r#"{method="GET",route="/api/v1/books/:id",status="404"}"#;
    assert!(
        sample(&page, &format!("bookstore_http_requests_total{series}")) >= Some(2.0),
        "{page}"
    );
    assert!(
        sample(
            &page,
            &format!("bookstore_http_request_duration_seconds_count{series}")
        ) >= Some(2.0),
        "{page}"
    );
    assert!(!page.contains(&id.to_string()), "a raw path became a label");
}

#[tokio::test]
async fn a_request_refused_before_its_route_runs_still_counts_under_its_template() {
    let app = TestApp::spawn().await;
    let too_large = send(
        call(&app, Method::POST, "/api/v1/authors")
            .header(header::CONTENT_TYPE, "application/json")
            .body(vec![b' '; 1 << 20]),
    )
    .await;
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    send(call(&app, Method::GET, "/no/such/route")).await;

    let page = metrics(&app).await;

    let counted = |series: &str| sample(&page, &format!("bookstore_http_requests_total{series}"));
    assert_eq!(
        counted(r#"{method="POST",route="/api/v1/authors",status="413"}"#),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        counted(r#"{method="GET",route="unmatched",status="404"}"#),
        Some(1.0),
        "{page}"
    );
}

#[tokio::test]
async fn metrics_show_the_pool_the_session_store_and_the_build() {
    let app = TestApp::spawn().await;
    let _: types::BookPage = app.client.list_books().send().await.unwrap().into_inner();

    let page = metrics(&app).await;

    let in_use = sample(&page, r#"bookstore_db_pool_connections{state="in_use"}"#);
    let idle = sample(&page, r#"bookstore_db_pool_connections{state="idle"}"#);
    // The connection of the last query is open, idle or still on its way back.
    let open = in_use.zip(idle).map(|(in_use, idle)| in_use + idle);
    assert!(open >= Some(1.0), "{page}");
    assert_eq!(
        sample(&page, "bookstore_db_pool_max_connections"),
        Some(10.0)
    );
    assert!(sample(&page, "bookstore_session_store_errors_total").is_some());
    let build = format!(
        r#"bookstore_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&page, &build), Some(1.0), "{page}");
}
