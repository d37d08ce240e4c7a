//! Bad input of every kind is answered in the contract's problem format, never with a 5xx.
//!
//! The typed client cannot express malformed JSON, wrong JSON types, ids that are not
//! UUIDs or out-of-range query values, so these tests send such requests through the
//! generated client's own HTTP client. Every answer is checked against the rules all
//! answers obey (no 5xx; every error a JSON problem), and the data stored beforehand is
//! compared with what is stored afterwards.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::num::NonZeroU32;

use bookstore_tests::api_client::{ClientInfo, types};
use bookstore_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, TestApp};
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use uuid::Uuid;

/// One mebibyte: far beyond the largest request body the server accepts (64 KiB).
const MEGABYTE: usize = 1 << 20;

/// Longer than every text field may be (10,000 characters at most), yet a body that
/// carries it stays within the server's body limit.
const OVERLONG: usize = 20_000;

// ----------------------------------------------------------------------------------------
// Raw HTTP through the generated client's own reqwest client.
// ----------------------------------------------------------------------------------------

/// An answer of the server that obeys the rules every answer must: no 5xx, a JSON body,
/// and for every error a problem (`status`, `code`, `title`, `detail`) sent as
/// `application/json`.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    www_authenticate: Option<String>,
    allow: Option<String>,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// Asserts that the answer is the problem `status` with `code`.
    #[track_caller]
    fn assert_problem(&self, case: &str, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "{case}: {}",
            self.body
        );
    }

    /// Asserts that the problem names `field` first among its per-field errors.
    #[track_caller]
    fn assert_field(&self, case: &str, field: &str) {
        assert_eq!(
            self.body["errors"][0]["field"].as_str(),
            Some(field),
            "{case}: {}",
            self.body
        );
    }
}

/// A request to `path` (below the base URL) on the generated client's own HTTP client,
/// with `token` as bearer credentials when there is one.
fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
    let request = app
        .client
        .client()
        .request(method, format!("{}{path}", app.client.baseurl()));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Attaches `body` declared as JSON, whatever it really holds.
fn json_text(request: RequestBuilder, body: impl Into<reqwest::Body>) -> RequestBuilder {
    request
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
}

/// Sends `request` and checks the answer against the rules every answer obeys.
async fn send(case: &str, request: RequestBuilder) -> Answer {
    let response = request
        .send()
        .await
        .unwrap_or_else(|err| panic!("{case}: no answer: {err:?}"));
    let status = response.status().as_u16();
    let header_text = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
    let www_authenticate = header_text(header::WWW_AUTHENTICATE);
    let allow = header_text(header::ALLOW);
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|err| panic!("{case}: the body could not be read: {err:?}"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(status < 500, "{case}: answered {status}: {text}");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|err| panic!("{case}: {status} body is not JSON ({err}): {text}"))
    };
    if status >= 400 {
        assert_problem_shape(case, status, &content_type, &body);
    }
    Answer {
        status,
        body,
        www_authenticate,
        allow,
    }
}

/// Asserts that `body` is a problem as the contract defines it, sent as JSON.
#[track_caller]
fn assert_problem_shape(case: &str, status: u16, content_type: &str, body: &Value) {
    assert!(
        content_type.starts_with("application/json"),
        "{case}: a {status} problem sent as {content_type:?}: {body}"
    );
    let problem = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: the {status} body is not a JSON object: {body}"));
    assert_eq!(
        problem.get("status").and_then(Value::as_u64),
        Some(u64::from(status)),
        "{case}: the problem's status differs from the HTTP status: {body}"
    );
    for key in ["code", "title", "detail"] {
        let value = problem.get(key).and_then(Value::as_str);
        assert!(
            value.is_some_and(|v| !v.is_empty()),
            "{case}: the problem has no `{key}`: {body}"
        );
    }
    let code = problem["code"].as_str().unwrap_or_default();
    assert!(
        code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "{case}: the code {code:?} is not snake_case"
    );
    if let Some(errors) = problem.get("errors") {
        let errors = errors
            .as_array()
            .unwrap_or_else(|| panic!("{case}: `errors` is not an array: {body}"));
        for error in errors {
            assert!(
                error["field"].is_string() && error["message"].is_string(),
                "{case}: a field error without `field` and `message`: {body}"
            );
        }
    }
}

// ----------------------------------------------------------------------------------------
// A populated store and a way to prove it unchanged.
// ----------------------------------------------------------------------------------------

/// A server holding one customer, one author, one book and one order.
struct World {
    app: TestApp,
    admin: String,
    customer: String,
    author: types::Author,
    book: types::Book,
    order: types::Order,
}

impl World {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let (admin_client, admin) = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let email = format!("reader-{}@example.com", Uuid::new_v4().simple());
        app.signup(&email, PASSWORD).await;
        let (customer_client, customer) = app.login(&email, PASSWORD).await;
        let author = app.author(&admin_client, "Ursula K. Le Guin").await;
        let book = app
            .book_by(&admin_client, author.id, "The Dispossessed", "12.50")
            .await;
        let order = customer_client
            .create_order()
            .body(types::OrderCreate {
                book_id: book.id,
                quantity: NonZeroU32::new(2).unwrap(),
            })
            .send()
            .await
            .expect("ordering succeeds")
            .into_inner();
        Self {
            app,
            admin: admin.access_token,
            customer: customer.access_token,
            author,
            book,
            order,
        }
    }

    /// Every operation that takes a JSON body, with a caller allowed to call it.
    fn body_operations(&self) -> Vec<(&'static str, Method, String, Option<&str>)> {
        let admin = Some(self.admin.as_str());
        let customer = Some(self.customer.as_str());
        vec![
            ("signup", Method::POST, "/api/v1/users/signup".into(), None),
            ("login", Method::POST, "/api/v1/users/login".into(), None),
            (
                "update_me",
                Method::PATCH,
                "/api/v1/users/me".into(),
                customer,
            ),
            (
                "create_author",
                Method::POST,
                "/api/v1/authors".into(),
                admin,
            ),
            (
                "update_author",
                Method::PATCH,
                format!("/api/v1/authors/{}", self.author.id),
                admin,
            ),
            ("create_book", Method::POST, "/api/v1/books".into(), admin),
            (
                "update_book",
                Method::PATCH,
                format!("/api/v1/books/{}", self.book.id),
                admin,
            ),
            (
                "create_order",
                Method::POST,
                "/api/v1/orders".into(),
                customer,
            ),
            (
                "update_order",
                Method::PATCH,
                format!("/api/v1/orders/{}", self.order.id),
                admin,
            ),
        ]
    }

    /// Everything the store holds, as the administrator sees it.
    async fn snapshot(&self) -> Value {
        let admin = self.app.with_token(&self.admin);
        let users = admin.list_users().limit(100).send().await.unwrap();
        let authors = admin.list_authors().limit(100).send().await.unwrap();
        let books = admin.list_books().limit(100).send().await.unwrap();
        let orders = admin.list_orders().limit(100).send().await.unwrap();
        json!({
            "users": serde_json::to_value(users.into_inner()).unwrap(),
            "authors": serde_json::to_value(authors.into_inner()).unwrap(),
            "books": serde_json::to_value(books.into_inner()).unwrap(),
            "orders": serde_json::to_value(orders.into_inner()).unwrap(),
        })
    }

    /// Sends `body` as JSON to every operation that takes a body; each must answer 422
    /// `invalid_request`, and nothing stored may change.
    async fn assert_every_body_is_invalid(&self, bodies: &[(&str, Vec<u8>)]) {
        let before = self.snapshot().await;
        for (operation, method, path, token) in self.body_operations() {
            for (label, body) in bodies {
                let case = format!("{operation} with {label}");
                let request =
                    json_text(call(&self.app, method.clone(), &path, token), body.clone());
                send(&case, request)
                    .await
                    .assert_problem(&case, 422, "invalid_request");
            }
        }
        assert_eq!(self.snapshot().await, before, "the store changed");
    }
}

/// Sends each `(case, body)` to `operation` of `world` as JSON and asserts a 422 with `code`.
async fn assert_bodies_rejected(
    world: &World,
    operation: &str,
    code: &str,
    cases: &[(&str, Value)],
) {
    let (_, method, path, token) = world
        .body_operations()
        .into_iter()
        .find(|(name, ..)| *name == operation)
        .unwrap_or_else(|| panic!("no operation {operation}"));
    for (label, body) in cases {
        let case = format!("{operation} with {label}: {body}");
        let answer = send(
            &case,
            call(&world.app, method.clone(), &path, token).json(body),
        )
        .await;
        answer.assert_problem(&case, 422, code);
    }
}

/// A valid body for each operation of [`World::body_operations`].
fn valid_body(world: &World, operation: &str) -> Value {
    match operation {
        "signup" => json!({
            "email": "new-reader@example.com",
            "password": PASSWORD,
            "full_name": "New Reader",
        }),
        "login" => json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        "update_me" => json!({"full_name": "Renamed Reader"}),
        "create_author" => json!({"name": "Octavia E. Butler"}),
        "update_author" => json!({"name": "Ursula Le Guin"}),
        "create_book" => json!({
            "title": "Kindred",
            "author_id": world.author.id,
            "price": "9.99",
        }),
        "update_book" => json!({"title": "The Left Hand of Darkness"}),
        "create_order" => json!({"book_id": world.book.id, "quantity": 1}),
        "update_order" => json!({"status": "paid"}),
        other => panic!("no operation {other}"),
    }
}

// ----------------------------------------------------------------------------------------
// Malformed JSON and wrong shapes.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_an_invalid_request_on_every_operation_with_a_body() {
    // Arrange
    let world = World::new().await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("truncated JSON", br#"{"name": "Urs"#.to_vec()),
        (
            "an unterminated object",
            br#"{"title": "X", "price": "1.00""#.to_vec(),
        ),
        (
            "trailing garbage",
            br#"{"name": "Ursula"} trailing"#.to_vec(),
        ),
        (
            "two objects",
            br#"{"status": "paid"}{"status": "paid"}"#.to_vec(),
        ),
        ("text that is not JSON", b"name=Ursula".to_vec()),
        ("single-quoted keys", b"{'name': 'Ursula'}".to_vec()),
        ("a trailing comma", br#"{"name": "Ursula",}"#.to_vec()),
        ("an empty body", Vec::new()),
        ("whitespace only", b"  \n ".to_vec()),
        ("invalid UTF-8", b"{\"name\": \"\xff\xfe\"}".to_vec()),
    ];

    // Act and Assert
    world.assert_every_body_is_invalid(&bodies).await;
}

#[tokio::test]
async fn a_json_value_that_is_not_an_object_is_an_invalid_request_on_every_operation() {
    // Arrange
    let world = World::new().await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("an empty array", b"[]".to_vec()),
        ("an array of an object", br#"[{"name": "Ursula"}]"#.to_vec()),
        ("a string", br#""Ursula""#.to_vec()),
        ("a number", b"42".to_vec()),
        ("true", b"true".to_vec()),
        ("null", b"null".to_vec()),
    ];

    // Act and Assert
    world.assert_every_body_is_invalid(&bodies).await;
}

#[tokio::test]
async fn deeply_nested_json_is_an_invalid_request() {
    // Arrange
    let world = World::new().await;
    let depth = 30_000;
    let nested = format!(r#"{{"name": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));

    // Act and Assert
    world
        .assert_every_body_is_invalid(&[("JSON nested 30,000 deep", nested.into_bytes())])
        .await;
}

#[tokio::test]
async fn wrong_json_types_are_invalid_requests() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let author_id = world.author.id;
    let book_id = world.book.id;
    let cases: [(&str, Vec<(&str, Value)>); 9] = [
        (
            "signup",
            vec![
                (
                    "an object for password",
                    json!({"email": "a@example.com", "password": {"p": 1}, "full_name": "A"}),
                ),
                (
                    "an array for email",
                    json!({"email": ["a@example.com"], "password": PASSWORD, "full_name": "A"}),
                ),
            ],
        ),
        (
            "login",
            vec![(
                "an object for email",
                json!({"email": {}, "password": ADMIN_PASSWORD}),
            )],
        ),
        (
            "update_me",
            vec![
                ("a string for is_admin", json!({"is_admin": "yes"})),
                ("an array for full_name", json!({"full_name": ["A", "B"]})),
            ],
        ),
        (
            "create_author",
            vec![
                ("an array for name", json!({"name": ["Ursula"]})),
                (
                    "an object for bio",
                    json!({"name": "Ursula", "bio": {"text": "x"}}),
                ),
            ],
        ),
        (
            "update_author",
            vec![("an object for bio", json!({"bio": {}}))],
        ),
        (
            "create_book",
            vec![
                (
                    "an object for price",
                    json!({"title": "T", "author_id": author_id, "price": {"amount": "1.00"}}),
                ),
                (
                    "a bool for price",
                    json!({"title": "T", "author_id": author_id, "price": true}),
                ),
                (
                    "a number for author_id",
                    json!({"title": "T", "author_id": 12, "price": "1.00"}),
                ),
                (
                    "a non-UUID author_id",
                    json!({"title": "T", "author_id": "not-a-uuid", "price": "1.00"}),
                ),
                (
                    "a word for published_at",
                    json!({"title": "T", "author_id": author_id, "price": "1.00", "published_at": "yesterday"}),
                ),
                (
                    "a number for published_at",
                    json!({"title": "T", "author_id": author_id, "price": "1.00", "published_at": 20_240_101}),
                ),
                (
                    "a datetime for published_at",
                    json!({"title": "T", "author_id": author_id, "price": "1.00", "published_at": "2024-01-01T00:00:00Z"}),
                ),
            ],
        ),
        (
            "update_book",
            vec![
                ("an array for price", json!({"price": ["1.00"]})),
                ("an object for title", json!({"title": {"en": "T"}})),
                (
                    "a 13th month for published_at",
                    json!({"published_at": "2024-13-01"}),
                ),
                ("a bool for author_id", json!({"author_id": false})),
            ],
        ),
        (
            "create_order",
            vec![
                (
                    "a string for quantity",
                    json!({"book_id": book_id, "quantity": "2"}),
                ),
                (
                    "a fraction for quantity",
                    json!({"book_id": book_id, "quantity": 2.5}),
                ),
                (
                    "a bool for quantity",
                    json!({"book_id": book_id, "quantity": true}),
                ),
                ("a number for book_id", json!({"book_id": 7, "quantity": 1})),
                (
                    "a non-UUID book_id",
                    json!({"book_id": "nope", "quantity": 1}),
                ),
            ],
        ),
        (
            "update_order",
            vec![
                ("a number for status", json!({"status": 1})),
                ("an unknown status", json!({"status": "refunded"})),
                ("an upper-case status", json!({"status": "PAID"})),
                ("an array for status", json!({"status": ["paid"]})),
            ],
        ),
    ];

    // Act and Assert
    for (operation, bodies) in &cases {
        assert_bodies_rejected(&world, operation, "invalid_request", bodies).await;
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn a_number_or_bool_for_a_text_field_is_an_invalid_request() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let author_id = world.author.id;
    let cases: [(&str, Vec<(&str, Value)>); 7] = [
        (
            "signup",
            vec![
                (
                    "a number for email",
                    json!({"email": 42, "password": PASSWORD, "full_name": "A"}),
                ),
                (
                    "a bool for full_name",
                    json!({"email": "a@example.com", "password": PASSWORD, "full_name": true}),
                ),
                (
                    "a number for password",
                    json!({"email": "b@example.com", "password": 123_456_789, "full_name": "A"}),
                ),
            ],
        ),
        (
            "login",
            vec![
                (
                    "a number for email",
                    json!({"email": 42, "password": ADMIN_PASSWORD}),
                ),
                (
                    "a number for password",
                    json!({"email": ADMIN_EMAIL, "password": 12_345_678}),
                ),
            ],
        ),
        (
            "update_me",
            vec![("a number for full_name", json!({"full_name": 5}))],
        ),
        (
            "create_author",
            vec![
                ("a number for name", json!({"name": 1})),
                ("a number for bio", json!({"name": "Ursula", "bio": 5})),
            ],
        ),
        (
            "update_author",
            vec![("a bool for name", json!({"name": false}))],
        ),
        (
            "create_book",
            vec![
                (
                    "a bool for title",
                    json!({"title": true, "author_id": author_id, "price": "1.00"}),
                ),
                (
                    "a number for description",
                    json!({"title": "T", "author_id": author_id, "price": "1.00", "description": 3}),
                ),
            ],
        ),
        (
            "update_book",
            vec![
                ("a bool for title", json!({"title": false})),
                ("a number for description", json!({"description": 3})),
            ],
        ),
    ];

    // Act and Assert
    for (operation, bodies) in &cases {
        assert_bodies_rejected(&world, operation, "invalid_request", bodies).await;
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn missing_required_fields_are_invalid_requests() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let author_id = world.author.id;
    let book_id = world.book.id;
    let cases: [(&str, Vec<(&str, Value)>); 6] = [
        (
            "signup",
            vec![
                ("no email", json!({"password": PASSWORD, "full_name": "A"})),
                (
                    "no password",
                    json!({"email": "a@example.com", "full_name": "A"}),
                ),
                (
                    "no full_name",
                    json!({"email": "a@example.com", "password": PASSWORD}),
                ),
                ("an empty object", json!({})),
            ],
        ),
        (
            "login",
            vec![
                ("no password", json!({"email": ADMIN_EMAIL})),
                ("no email", json!({"password": ADMIN_PASSWORD})),
            ],
        ),
        (
            "create_author",
            vec![
                ("an empty object", json!({})),
                ("only a bio", json!({"bio": "Wrote books."})),
            ],
        ),
        (
            "create_book",
            vec![
                ("no title", json!({"author_id": author_id, "price": "1.00"})),
                ("no author_id", json!({"title": "T", "price": "1.00"})),
                ("no price", json!({"title": "T", "author_id": author_id})),
            ],
        ),
        (
            "create_order",
            vec![
                ("no book_id", json!({"quantity": 1})),
                ("no quantity", json!({"book_id": book_id})),
            ],
        ),
        ("update_order", vec![("no status", json!({}))]),
    ];

    // Act and Assert
    for (operation, bodies) in &cases {
        assert_bodies_rejected(&world, operation, "invalid_request", bodies).await;
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn null_for_a_required_field_is_an_invalid_request() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let author_id = world.author.id;
    let book_id = world.book.id;
    let cases: [(&str, Vec<(&str, Value)>); 6] = [
        (
            "signup",
            vec![
                (
                    "a null email",
                    json!({"email": null, "password": PASSWORD, "full_name": "A"}),
                ),
                (
                    "a null password",
                    json!({"email": "a@example.com", "password": null, "full_name": "A"}),
                ),
                (
                    "a null full_name",
                    json!({"email": "a@example.com", "password": PASSWORD, "full_name": null}),
                ),
            ],
        ),
        (
            "login",
            vec![(
                "a null password",
                json!({"email": ADMIN_EMAIL, "password": null}),
            )],
        ),
        (
            "create_author",
            vec![("a null name", json!({"name": null}))],
        ),
        (
            "create_book",
            vec![
                (
                    "a null title",
                    json!({"title": null, "author_id": author_id, "price": "1.00"}),
                ),
                (
                    "a null author_id",
                    json!({"title": "T", "author_id": null, "price": "1.00"}),
                ),
                (
                    "a null price",
                    json!({"title": "T", "author_id": author_id, "price": null}),
                ),
            ],
        ),
        (
            "create_order",
            vec![
                ("a null book_id", json!({"book_id": null, "quantity": 1})),
                (
                    "a null quantity",
                    json!({"book_id": book_id, "quantity": null}),
                ),
            ],
        ),
        (
            "update_order",
            vec![("a null status", json!({"status": null}))],
        ),
    ];

    // Act and Assert
    for (operation, bodies) in &cases {
        assert_bodies_rejected(&world, operation, "invalid_request", bodies).await;
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn a_body_not_declared_as_json_is_an_invalid_request_and_changes_nothing() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let content_types: [(&str, Option<&str>); 4] = [
        ("text/plain", Some("text/plain")),
        ("a form", Some("application/x-www-form-urlencoded")),
        ("XML", Some("application/xml")),
        ("no Content-Type", None),
    ];

    // Act and Assert
    for (operation, method, path, token) in world.body_operations() {
        let body = valid_body(&world, operation).to_string();
        for (label, content_type) in content_types {
            let case = format!("{operation} sent as {label}");
            let mut request = call(&world.app, method.clone(), &path, token).body(body.clone());
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            send(&case, request)
                .await
                .assert_problem(&case, 422, "invalid_request");
        }
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn a_json_content_type_with_parameters_is_accepted() {
    // Arrange
    let world = World::new().await;
    let case = "create_author as application/json; charset=utf-8";
    let request = call(
        &world.app,
        Method::POST,
        "/api/v1/authors",
        Some(&world.admin),
    )
    .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
    .body(valid_body(&world, "create_author").to_string());

    // Act
    let answer = send(case, request).await;

    // Assert
    assert_eq!(answer.status, 201, "{case}: {}", answer.body);
    assert_eq!(answer.body["name"], "Octavia E. Butler");
}

#[tokio::test]
async fn null_for_a_non_nullable_patch_field_is_an_invalid_request() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let cases: [(&str, Value); 5] = [
        ("update_author", json!({"name": null})),
        ("update_book", json!({"title": null})),
        ("update_book", json!({"price": null})),
        ("update_book", json!({"author_id": null})),
        ("update_me", json!({"full_name": null, "email": null})),
    ];

    // Act
    for (operation, body) in &cases {
        let (_, method, path, token) = world
            .body_operations()
            .into_iter()
            .find(|(name, ..)| name == operation)
            .unwrap();
        let case = format!("{operation} with {body}");
        let answer = send(&case, call(&world.app, method, &path, token).json(body)).await;
        answer.assert_problem(&case, 422, "invalid_request");
    }

    // Assert: nothing changed.
    let after = world.snapshot().await;
    let strip = |mut value: Value| {
        for page in ["users", "authors", "books"] {
            for item in value[page]["items"].as_array_mut().unwrap() {
                item.as_object_mut().unwrap().remove("updated_at");
            }
        }
        value
    };
    assert_eq!(
        strip(after),
        strip(before),
        "a null cleared or changed a field"
    );
}

// ----------------------------------------------------------------------------------------
// NUL bytes and oversized text.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn nul_bytes_in_signup_fields_are_rejected_and_no_account_is_created() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let email = "nul-reader@example.com";
    let cases = [
        (
            "email",
            json!({"email": "nul\u{0}reader@example.com", "password": PASSWORD, "full_name": "A"}),
        ),
        (
            "full_name",
            json!({"email": email, "password": PASSWORD, "full_name": "Nul\u{0}Reader"}),
        ),
        (
            "password",
            json!({"email": email, "password": "correct\u{0}horse battery", "full_name": "A"}),
        ),
    ];

    // Act and Assert
    for (field, body) in &cases {
        let case = format!("signup with a NUL in {field}");
        let answer = send(
            &case,
            call(&world.app, Method::POST, "/api/v1/users/signup", None).json(body),
        )
        .await;
        answer.assert_problem(&case, 422, "invalid_request");
        answer.assert_field(&case, field);
    }
    assert_eq!(world.snapshot().await, before, "an account was created");
}

#[tokio::test]
async fn nul_bytes_in_login_credentials_are_unauthorized_not_a_server_error() {
    // Arrange
    let world = World::new().await;
    let cases = [
        (
            "email",
            json!({"email": "admin\u{0}@bookstore.test", "password": ADMIN_PASSWORD}),
        ),
        (
            "password",
            json!({"email": ADMIN_EMAIL, "password": "admin-password\u{0}"}),
        ),
        ("both", json!({"email": "\u{0}", "password": "\u{0}"})),
    ];

    // Act and Assert
    for (field, body) in &cases {
        let case = format!("login with a NUL in {field}");
        let answer = send(
            &case,
            call(&world.app, Method::POST, "/api/v1/users/login", None).json(body),
        )
        .await;
        answer.assert_problem(&case, 401, "unauthorized");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"), "{case}");
    }
}

#[tokio::test]
async fn nul_bytes_in_a_profile_update_leave_the_account_intact() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let cases = [
        ("full_name", json!({"full_name": "Re\u{0}named"})),
        ("email", json!({"email": "re\u{0}named@example.com"})),
        (
            "password",
            json!({"password": "new\u{0}password", "current_password": PASSWORD}),
        ),
    ];

    // Act and Assert
    for (field, body) in &cases {
        let case = format!("update_me with a NUL in {field}");
        let request = call(
            &world.app,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&world.customer),
        )
        .json(body);
        let answer = send(&case, request).await;
        answer.assert_problem(&case, 422, "invalid_request");
        answer.assert_field(&case, field);
    }
    assert_eq!(world.snapshot().await, before, "the account changed");
    world
        .app
        .with_token(&world.customer)
        .get_me()
        .send()
        .await
        .expect("the session survives rejected updates");
}

#[tokio::test]
async fn nul_bytes_in_author_writes_are_rejected_and_the_stored_author_is_intact() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let author_path = format!("/api/v1/authors/{}", world.author.id);
    let cases = [
        (
            "POST",
            "/api/v1/authors",
            "name",
            json!({"name": "Ur\u{0}sula"}),
        ),
        (
            "POST",
            "/api/v1/authors",
            "bio",
            json!({"name": "Ursula", "bio": "Wrote\u{0}books."}),
        ),
        (
            "PATCH",
            author_path.as_str(),
            "name",
            json!({"name": "\u{0}"}),
        ),
        (
            "PATCH",
            author_path.as_str(),
            "bio",
            json!({"bio": "Bio\u{0}"}),
        ),
    ];

    // Act and Assert
    for (method, path, field, body) in &cases {
        let case = format!("{method} {path} with a NUL in {field}");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let request = call(&world.app, method, path, Some(&world.admin)).json(body);
        let answer = send(&case, request).await;
        answer.assert_problem(&case, 422, "invalid_request");
        answer.assert_field(&case, field);
    }
    let author = world
        .app
        .client
        .get_author()
        .id(world.author.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(author.name, "Ursula K. Le Guin");
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn nul_bytes_in_book_writes_are_rejected_and_the_stored_book_is_intact() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let book_path = format!("/api/v1/books/{}", world.book.id);
    let new_book = |title: &str, description: &str| {
        json!({
            "title": title,
            "author_id": world.author.id,
            "price": "1.00",
            "description": description,
        })
    };
    let cases = [
        (
            "POST",
            "/api/v1/books",
            "title",
            new_book("The\u{0}Word", "Fine."),
        ),
        (
            "POST",
            "/api/v1/books",
            "description",
            new_book("The Word", "Not\u{0}fine."),
        ),
        (
            "PATCH",
            book_path.as_str(),
            "title",
            json!({"title": "\u{0}\u{0}"}),
        ),
        (
            "PATCH",
            book_path.as_str(),
            "description",
            json!({"description": "x\u{0}"}),
        ),
    ];

    // Act and Assert
    for (method, path, field, body) in &cases {
        let case = format!("{method} {path} with a NUL in {field}");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let request = call(&world.app, method, path, Some(&world.admin)).json(body);
        let answer = send(&case, request).await;
        answer.assert_problem(&case, 422, "invalid_request");
        answer.assert_field(&case, field);
    }
    let book = world
        .app
        .client
        .get_book()
        .id(world.book.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(book.title, "The Dispossessed");
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn a_nul_byte_in_the_title_filter_is_rejected_naming_q() {
    // Arrange
    let world = World::new().await;

    for query in ["q=%00", "q=Dis%00possessed", "q=%00%00%00"] {
        // Act
        let case = format!("list_books?{query}");
        let path = format!("/api/v1/books?{query}");
        let answer = send(&case, call(&world.app, Method::GET, &path, None)).await;

        // Assert
        answer.assert_problem(&case, 422, "invalid_request");
        answer.assert_field(&case, "q");
    }
}

/// A write of `huge` into each text field of the API: (path, method, token, field, body).
fn text_field_writes(
    world: &World,
    huge: &str,
) -> Vec<(String, Method, Option<String>, &'static str, Value)> {
    let author_path = format!("/api/v1/authors/{}", world.author.id);
    let book_path = format!("/api/v1/books/{}", world.book.id);
    let (admin, customer) = (Some(world.admin.clone()), Some(world.customer.clone()));
    let signup = |email: &str, password: &str, full_name: &str| json!({"email": email, "password": password, "full_name": full_name});
    let huge_email = format!("{huge}@example.com");
    let author_id = world.author.id;
    let signup_path = "/api/v1/users/signup".to_owned();
    vec![
        (
            signup_path.clone(),
            Method::POST,
            None,
            "email",
            signup(&huge_email, PASSWORD, "A"),
        ),
        (
            signup_path.clone(),
            Method::POST,
            None,
            "password",
            signup("a@example.com", huge, "A"),
        ),
        (
            signup_path,
            Method::POST,
            None,
            "full_name",
            signup("a@example.com", PASSWORD, huge),
        ),
        (
            "/api/v1/users/me".to_owned(),
            Method::PATCH,
            customer,
            "full_name",
            json!({"full_name": huge}),
        ),
        (
            "/api/v1/authors".to_owned(),
            Method::POST,
            admin.clone(),
            "name",
            json!({"name": huge}),
        ),
        (
            "/api/v1/authors".to_owned(),
            Method::POST,
            admin.clone(),
            "bio",
            json!({"name": "A", "bio": huge}),
        ),
        (
            author_path.clone(),
            Method::PATCH,
            admin.clone(),
            "name",
            json!({"name": huge}),
        ),
        (
            author_path,
            Method::PATCH,
            admin.clone(),
            "bio",
            json!({"bio": huge}),
        ),
        (
            "/api/v1/books".to_owned(),
            Method::POST,
            admin.clone(),
            "title",
            json!({"title": huge, "author_id": author_id, "price": "1.00"}),
        ),
        (
            "/api/v1/books".to_owned(),
            Method::POST,
            admin.clone(),
            "description",
            json!({"title": "T", "author_id": author_id, "price": "1.00", "description": huge}),
        ),
        (
            book_path.clone(),
            Method::PATCH,
            admin.clone(),
            "title",
            json!({"title": huge}),
        ),
        (
            book_path,
            Method::PATCH,
            admin,
            "description",
            json!({"description": huge}),
        ),
    ]
}

#[tokio::test]
async fn overlong_strings_are_rejected_naming_the_field_and_nothing_is_stored() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let huge = "x".repeat(OVERLONG);

    // Act and Assert
    for (path, method, token, field, body) in text_field_writes(&world, &huge) {
        let case = format!("{method} {path} with {OVERLONG} characters of {field}");
        let request = call(&world.app, method, &path, token.as_deref()).json(&body);
        let answer = send(&case, request).await;
        answer.assert_problem(&case, 422, "invalid_request");
        answer.assert_field(&case, field);
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn megabyte_bodies_are_too_large_and_nothing_is_stored() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let huge = "x".repeat(MEGABYTE);

    // Act and Assert
    for (path, method, token, field, body) in text_field_writes(&world, &huge) {
        let case = format!("{method} {path} with 1 MB of {field}");
        let request = call(&world.app, method, &path, token.as_deref()).json(&body);
        let answer = send(&case, request).await;
        answer.assert_problem(&case, 413, "payload_too_large");
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn overlong_credentials_are_unauthorized_not_a_server_error() {
    // Arrange
    let world = World::new().await;
    let huge = "x".repeat(OVERLONG);
    let cases = [
        ("password", json!({"email": ADMIN_EMAIL, "password": huge})),
        (
            "email",
            json!({"email": format!("{huge}@example.com"), "password": ADMIN_PASSWORD}),
        ),
    ];

    // Act and Assert
    for (field, body) in &cases {
        let case = format!("login with {OVERLONG} characters of {field}");
        let answer = send(
            &case,
            call(&world.app, Method::POST, "/api/v1/users/login", None).json(body),
        )
        .await;
        answer.assert_problem(&case, 401, "unauthorized");
    }
}

#[tokio::test]
async fn an_overlong_title_filter_is_rejected_naming_q() {
    // Arrange
    let world = World::new().await;
    let path = format!("/api/v1/books?q={}", "x".repeat(60_000));

    // Act
    let answer = send(
        "q of 60,000 characters",
        call(&world.app, Method::GET, &path, None),
    )
    .await;

    // Assert
    answer.assert_problem("q of 60,000 characters", 422, "invalid_request");
    answer.assert_field("q of 60,000 characters", "q");
}

// ----------------------------------------------------------------------------------------
// Path ids and query parameters.
// ----------------------------------------------------------------------------------------

/// Each collection with a token allowed to read, change and delete its items.
fn collections(world: &World) -> [(&'static str, &str); 4] {
    [
        ("/api/v1/users", &world.admin),
        ("/api/v1/authors", &world.admin),
        ("/api/v1/books", &world.admin),
        ("/api/v1/orders", &world.admin),
    ]
}

/// Path ids that are not UUIDs.
fn malformed_ids(world: &World) -> Vec<String> {
    vec![
        "not-a-uuid".to_owned(),
        "123".to_owned(),
        "%20".to_owned(),
        "%00".to_owned(),
        "00000000-0000-0000-0000-00000000000g".to_owned(),
        format!("{}0", world.book.id),
        "1;DROP TABLE books".to_owned(),
    ]
}

/// Sends GET, PATCH and DELETE with every malformed id to every collection.
async fn send_malformed_ids(world: &World) -> Vec<(String, Answer)> {
    let mut answers = Vec::new();
    for (collection, token) in collections(world) {
        for id in malformed_ids(world) {
            let path = format!("{collection}/{id}");
            for method in [Method::GET, Method::PATCH, Method::DELETE] {
                let case = format!("{method} {path}");
                let mut request = call(&world.app, method.clone(), &path, Some(token));
                if method == Method::PATCH {
                    request = request.json(&json!({}));
                }
                let answer = send(&case, request).await;
                answers.push((case, answer));
            }
        }
    }
    answers
}

#[tokio::test]
async fn ids_that_are_not_uuids_are_client_errors_that_change_nothing() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;

    // Act
    let answers = send_malformed_ids(&world).await;

    // Assert: `send` has checked each is a problem and no 5xx; the contract allows
    // 400 or 422 for an id that is not a UUID.
    for (case, answer) in &answers {
        assert!(
            matches!(answer.status, 400 | 422),
            "{case}: {} {}",
            answer.status,
            answer.body
        );
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn ids_that_are_not_uuids_are_invalid_requests_naming_id() {
    // Arrange
    let world = World::new().await;

    // Act
    let answers = send_malformed_ids(&world).await;

    // Assert
    for (case, answer) in &answers {
        answer.assert_problem(case, 422, "invalid_request");
        answer.assert_field(case, "id");
    }
}

#[tokio::test]
async fn unknown_uuids_are_not_found() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let unknown = Uuid::now_v7();
    let bodies = [
        ("/api/v1/users", json!({"full_name": "Nobody"})),
        ("/api/v1/authors", json!({"name": "Nobody"})),
        ("/api/v1/books", json!({"title": "Nothing"})),
        ("/api/v1/orders", json!({"status": "paid"})),
    ];

    // Act and Assert
    for (collection, token) in collections(&world) {
        let path = format!("{collection}/{unknown}");
        let body = &bodies.iter().find(|(c, _)| *c == collection).unwrap().1;
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let case = format!("{method} {path}");
            let mut request = call(&world.app, method.clone(), &path, Some(token));
            if method == Method::PATCH {
                request = request.json(body);
            }
            send(&case, request)
                .await
                .assert_problem(&case, 404, "not_found");
        }
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn out_of_range_or_non_numeric_paging_is_an_invalid_request_naming_the_parameter() {
    // Arrange
    let world = World::new().await;
    let lists = [
        ("/api/v1/users", Some(world.admin.as_str())),
        ("/api/v1/authors", None),
        ("/api/v1/books", None),
        ("/api/v1/orders", Some(world.customer.as_str())),
    ];
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=1e2", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("offset=1e3", "offset"),
        ("offset=0x10", "offset"),
        ("offset=99999999999999999999", "offset"),
    ];

    // Act and Assert
    for (list, token) in lists {
        for (query, parameter) in cases {
            let case = format!("GET {list}?{query}");
            let path = format!("{list}?{query}");
            let answer = send(&case, call(&world.app, Method::GET, &path, token)).await;
            answer.assert_problem(&case, 422, "invalid_request");
            answer.assert_field(&case, parameter);
        }
    }
}

#[tokio::test]
async fn the_largest_offset_is_an_empty_page_not_an_error() {
    // Arrange
    let world = World::new().await;
    let path = format!("/api/v1/books?limit=100&offset={}", i64::MAX);

    // Act
    let answer = send(
        "offset=i64::MAX",
        call(&world.app, Method::GET, &path, None),
    )
    .await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["items"], json!([]));
    assert_eq!(answer.body["total"], 1);
    assert_eq!(answer.body["offset"], i64::MAX);
}

#[tokio::test]
async fn malformed_filters_are_invalid_requests_naming_the_parameter() {
    // Arrange
    let world = World::new().await;
    let cases = [
        (
            "/api/v1/books?author_id=nope",
            "author_id",
            "invalid_request",
        ),
        (
            "/api/v1/books?author_id=%00",
            "author_id",
            "invalid_request",
        ),
        ("/api/v1/books?min_price=-1", "min_price", "invalid_request"),
        (
            "/api/v1/books?min_price=abc",
            "min_price",
            "invalid_request",
        ),
        (
            "/api/v1/books?max_price=1e3",
            "max_price",
            "invalid_request",
        ),
        (
            "/api/v1/books?max_price=1.234",
            "max_price",
            "invalid_request",
        ),
        (
            "/api/v1/orders?status=refunded",
            "status",
            "invalid_request",
        ),
        ("/api/v1/orders?status=", "status", "invalid_request"),
    ];

    // Act and Assert
    for (path, parameter, code) in cases {
        let case = format!("GET {path}");
        let answer = send(
            &case,
            call(&world.app, Method::GET, path, Some(&world.customer)),
        )
        .await;
        answer.assert_problem(&case, 422, code);
        answer.assert_field(&case, parameter);
    }
}

// ----------------------------------------------------------------------------------------
// Money and quantities.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_prices_are_rejected_and_no_book_is_stored() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let prices: [(&str, &str, &str); 16] = [
        ("three fraction digits", r#""12.345""#, "invalid_request"),
        ("a negative amount", r#""-1""#, "invalid_request"),
        ("an exponent", r#""1e3""#, "invalid_request"),
        ("an empty string", r#""""#, "invalid_request"),
        ("a leading space", r#"" 12""#, "invalid_request"),
        ("NaN", r#""NaN""#, "invalid_request"),
        ("Infinity", r#""Infinity""#, "invalid_request"),
        ("a comma", r#""12,50""#, "invalid_request"),
        ("a currency sign", r#""$12.50""#, "invalid_request"),
        (
            "thirteen integer digits",
            r#""1000000000000""#,
            "invalid_request",
        ),
        (
            "a number with three fraction digits",
            "12.345",
            "invalid_request",
        ),
        ("a negative number", "-1", "invalid_request"),
        ("a number beyond f64", "1e400", "invalid_request"),
        ("a tiny number", "1e-7", "invalid_request"),
        ("zero", r#""0.00""#, "invalid_request"),
        (
            "more than the maximum",
            r#""1000000.01""#,
            "invalid_request",
        ),
    ];

    // Act and Assert
    for (label, price, code) in prices {
        let case = format!("create_book with {label} ({price}) as price");
        let body = format!(
            r#"{{"title": "Priced", "author_id": "{}", "price": {price}}}"#,
            world.author.id
        );
        let request = json_text(
            call(
                &world.app,
                Method::POST,
                "/api/v1/books",
                Some(&world.admin),
            ),
            body,
        );
        let answer = send(&case, request).await;
        answer.assert_problem(&case, 422, code);
    }
    assert_eq!(world.snapshot().await, before, "a book was stored");
}

#[tokio::test]
async fn a_json_number_price_is_accepted_exactly() {
    // Arrange
    let world = World::new().await;
    let prices = [
        ("12.5", "12.50"),
        ("7", "7.00"),
        ("19.99", "19.99"),
        ("0.1", "0.10"),
        ("1000000", "1000000.00"),
    ];

    for (price, shown) in prices {
        // Act
        let case = format!("create_book with the JSON number {price}");
        let body = format!(
            r#"{{"title": "Priced", "author_id": "{}", "price": {price}}}"#,
            world.author.id
        );
        let request = json_text(
            call(
                &world.app,
                Method::POST,
                "/api/v1/books",
                Some(&world.admin),
            ),
            body,
        );
        let answer = send(&case, request).await;

        // Assert
        assert_eq!(answer.status, 201, "{case}: {}", answer.body);
        assert_eq!(answer.body["price"], shown, "{case}");
    }
}

#[tokio::test]
async fn a_malformed_price_in_a_book_patch_leaves_the_price_intact() {
    // Arrange
    let world = World::new().await;
    let path = format!("/api/v1/books/{}", world.book.id);
    let prices = [
        (r#""-1""#, "invalid_request"),
        (r#""12.345""#, "invalid_request"),
        (r#""""#, "invalid_request"),
        ("1e400", "invalid_request"),
        (r#""0""#, "invalid_request"),
    ];

    // Act
    for (price, code) in prices {
        let case = format!("update_book with price {price}");
        let request = json_text(
            call(&world.app, Method::PATCH, &path, Some(&world.admin)),
            format!(r#"{{"price": {price}, "title": "Renamed"}}"#),
        );
        send(&case, request).await.assert_problem(&case, 422, code);
    }

    // Assert
    let book = world
        .app
        .client
        .get_book()
        .id(world.book.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (book.title.as_str(), book.price.as_str()),
        ("The Dispossessed", "12.50")
    );
}

#[tokio::test]
async fn out_of_range_quantities_are_rejected_and_no_order_is_stored() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let quantities = [
        "0",
        "-1",
        "1001",
        "4294967297",
        "99999999999999999999",
        "1e400",
        "1.0",
    ];

    // Act and Assert
    for quantity in quantities {
        let case = format!("create_order with quantity {quantity}");
        let request = json_text(
            call(
                &world.app,
                Method::POST,
                "/api/v1/orders",
                Some(&world.customer),
            ),
            format!(
                r#"{{"book_id": "{}", "quantity": {quantity}}}"#,
                world.book.id
            ),
        );
        send(&case, request)
            .await
            .assert_problem(&case, 422, "invalid_request");
    }
    assert_eq!(world.snapshot().await, before, "an order was stored");
}

// ----------------------------------------------------------------------------------------
// Routes and credentials.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_route_is_a_not_found_problem() {
    // Arrange
    let world = World::new().await;
    let routes = [
        (Method::GET, "/api/v1/nope"),
        (Method::POST, "/api/v1/nope"),
        (Method::GET, "/api/v2/books"),
        (Method::GET, "/nope"),
        (
            Method::GET,
            &format!("/api/v1/books/{}/reviews", world.book.id),
        ),
    ];

    // Act and Assert
    for (method, path) in routes {
        let case = format!("{method} {path}");
        send(&case, call(&world.app, method, path, Some(&world.admin)))
            .await
            .assert_problem(&case, 404, "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_is_a_method_not_allowed_problem_listing_the_allowed_ones()
{
    // Arrange
    let world = World::new().await;
    let book = format!("/api/v1/books/{}", world.book.id);
    let query = Method::from_bytes(b"QUERY").unwrap();
    let purge = Method::from_bytes(b"PURGE").unwrap();
    let routes = [
        (Method::PUT, "/api/v1/books", "GET, HEAD, POST"),
        (Method::DELETE, "/api/v1/books", "GET, HEAD, POST"),
        (Method::PUT, book.as_str(), "GET, HEAD, PATCH, DELETE"),
        (Method::POST, book.as_str(), "GET, HEAD, PATCH, DELETE"),
        (Method::TRACE, book.as_str(), "GET, HEAD, PATCH, DELETE"),
        (Method::OPTIONS, book.as_str(), "GET, HEAD, PATCH, DELETE"),
        (query, book.as_str(), "GET, HEAD, PATCH, DELETE"),
        (purge, book.as_str(), "GET, HEAD, PATCH, DELETE"),
        (Method::GET, "/api/v1/users/signup", "POST"),
        (Method::HEAD, "/api/v1/users/signup", "POST"),
        (Method::PUT, "/api/v1/users/me", "GET, HEAD, PATCH, DELETE"),
        (Method::TRACE, "/api/v1/users/logout", "POST"),
        (Method::DELETE, "/health", "GET, HEAD"),
    ];

    // Act and Assert
    for (method, path, allowed) in routes {
        let case = format!("{method} {path}");
        let head = method == Method::HEAD;
        let request = call(&world.app, method, path, Some(&world.admin));
        if head {
            // A HEAD answer has no body to hold the problem: check the status and header.
            let response = request.send().await.unwrap();
            let allow = response.headers().get(header::ALLOW).cloned();
            assert_eq!(response.status().as_u16(), 405, "{case}");
            let allow = allow.as_ref().and_then(|v| v.to_str().ok());
            assert_eq!(allow, Some(allowed), "{case}");
            continue;
        }
        let answer = send(&case, request).await;
        answer.assert_problem(&case, 405, "method_not_allowed");
        assert_eq!(answer.allow.as_deref(), Some(allowed), "{case}");
    }
}

#[tokio::test]
async fn head_is_answered_wherever_get_is() {
    // Arrange
    let world = World::new().await;
    let book = format!("/api/v1/books/{}", world.book.id);

    // Act and Assert
    for path in ["/health", "/api/v1/books", book.as_str()] {
        let response = call(&world.app, Method::HEAD, path, None)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "HEAD {path}");
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_unauthorized_with_a_bearer_challenge() {
    // Arrange
    let world = World::new().await;
    let before = world.snapshot().await;
    let token = world.admin.as_str();
    let headers: Vec<(&str, HeaderValue)> = vec![
        (
            "a token with spaces",
            HeaderValue::from_str(&format!("Bearer {} {}", &token[..10], &token[10..])).unwrap(),
        ),
        (
            "a token with trailing text",
            HeaderValue::from_str(&format!("Bearer {token} extra")).unwrap(),
        ),
        (
            "a token with a tab",
            HeaderValue::from_str(&format!("Bearer {}\t{}", &token[..10], &token[10..])).unwrap(),
        ),
        (
            "a non-ASCII token",
            HeaderValue::from_bytes("Bearer t\u{f6}ken-\u{e9}t\u{e9}".as_bytes()).unwrap(),
        ),
        (
            "a Latin-1 byte",
            HeaderValue::from_bytes(b"Bearer tok\xffen").unwrap(),
        ),
        (
            "Basic credentials",
            HeaderValue::from_static("Basic YWRtaW5AYm9va3N0b3JlLnRlc3Q6YWRtaW4tcGFzc3dvcmQ="),
        ),
        ("an empty bearer token", HeaderValue::from_static("Bearer ")),
        ("the scheme alone", HeaderValue::from_static("Bearer")),
        (
            "a token without a scheme",
            HeaderValue::from_str(token).unwrap(),
        ),
        (
            "an unknown token",
            HeaderValue::from_static("Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
    ];
    let operations = [
        (Method::GET, "/api/v1/users/me", None),
        (
            Method::POST,
            "/api/v1/authors",
            Some(json!({"name": "Octavia E. Butler"})),
        ),
        (Method::GET, "/api/v1/orders", None),
    ];

    // Act and Assert
    for (method, path, body) in &operations {
        for (label, value) in &headers {
            let case = format!("{method} {path} with {label}");
            let mut request = call(&world.app, method.clone(), path, None)
                .header(header::AUTHORIZATION, value.clone());
            if let Some(body) = body {
                request = request.json(body);
            }
            let answer = send(&case, request).await;
            answer.assert_problem(&case, 401, "unauthorized");
            assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"), "{case}");
        }
    }
    assert_eq!(world.snapshot().await, before, "the store changed");
}

#[tokio::test]
async fn a_bad_body_without_credentials_is_unauthorized_before_it_is_parsed() {
    // Arrange
    let world = World::new().await;

    for (operation, method, path, token) in world.body_operations() {
        if token.is_none() {
            continue;
        }
        // Act
        let case = format!("{operation} without a token and with a malformed body");
        let request = json_text(call(&world.app, method, &path, None), "{not json");
        let answer = send(&case, request).await;

        // Assert
        answer.assert_problem(&case, 401, "unauthorized");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"), "{case}");
    }
}
