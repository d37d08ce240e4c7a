//! The contract as users meet it: the documents the server serves, the rules it states and
//! the server enforces, and a refused request explained field by field.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use bookstore_tests::api_client::types;
use bookstore_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, field_errors};
use reqwest::Method;
use serde_json::{Value, json};

const CONTRACT: &str = include_str!("../../openapi.yaml");

/// Words of the server's implementation that once leaked into answers.
const FRAMEWORK_WORDS: [&str; 9] = [
    "failed to parse",
    "Expected input type",
    "occurred while parsing",
    "verification failed",
    "MoneyInput",
    "string_date",
    "maximum(",
    "StrictString",
    "SignupRequest",
];

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::get(format!("{}{path}", app.base_url))
        .await
        .expect("the server answers")
}

/// The token of the bootstrap administrator.
async fn admin_token(app: &TestApp) -> String {
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.1.access_token
}

/// Asserts a 422 `invalid_request` naming exactly `expected`, in plain words.
#[track_caller]
fn assert_refused(case: &str, (status, problem): &(u16, Value), expected: &[(&str, &str)]) {
    assert_eq!(*status, 422, "{case}: {problem}");
    let (code, mut errors) = field_errors(problem);
    errors.sort_unstable();
    assert_eq!(code, "invalid_request", "{case}: {problem}");
    assert_eq!(errors, expected, "{case}: {problem}");
    assert_plain(case, problem);
}

/// Asserts that no message of `problem` speaks of the implementation.
#[track_caller]
fn assert_plain(case: &str, problem: &Value) {
    let text = problem.to_string();
    for word in FRAMEWORK_WORDS {
        assert!(!text.contains(word), "{case}: {word:?} in {text}");
    }
}

#[tokio::test]
async fn the_server_serves_the_contract_itself() {
    let app = TestApp::spawn().await;

    let yaml = get(&app, "/openapi.yaml").await;
    assert_eq!(yaml.status(), 200);
    assert!(
        yaml.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/yaml")
    );
    assert_eq!(yaml.text().await.unwrap(), CONTRACT, "byte for byte");

    let json: Value = get(&app, "/openapi.json").await.json().await.unwrap();
    let contract: Value = serde_yaml::from_str(CONTRACT).unwrap();
    assert_eq!(json, contract, "the same document as JSON");
    assert_eq!(json["openapi"], "3.0.3");

    let docs = get(&app, "/docs").await;
    assert_eq!(docs.status(), 200);
    let page = docs.text().await.unwrap();
    assert!(page.contains("SwaggerUIBundle"), "Swagger UI renders it");
    // The contract's own prose reaches the reader of /docs.
    let prose = contract["info"]["description"].as_str().unwrap();
    assert!(prose.contains("## Authentication") && prose.contains("## Errors"));
    assert!(
        page.contains(&serde_json::to_string(prose).unwrap()),
        "/docs embeds the contract's description"
    );
}

#[tokio::test]
async fn what_a_new_user_got_wrong_is_named_in_plain_words() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let signup = |body: Value| {
        let app = &app;
        async move {
            app.send_json(Method::POST, "/api/v1/users/signup", None, &body)
                .await
        }
    };

    assert_refused(
        "an empty e-mail and a 3-character password",
        &signup(json!({ "email": "", "password": "abc", "full_name": "Ada" })).await,
        &[
            (
                "email",
                "must be an e-mail address such as name@example.com",
            ),
            ("password", "must be at least 8 characters long"),
        ],
    );
    assert_refused(
        "a missing field",
        &signup(json!({ "email": "ada@example.com", "password": "long enough" })).await,
        &[("full_name", "is required")],
    );
    assert_refused(
        "null where a string belongs",
        &signup(json!({ "email": null, "password": "long enough", "full_name": "Ada" })).await,
        &[("email", "must be a string")],
    );
    assert_refused(
        "an empty author name",
        &app.send_json(
            Method::POST,
            "/api/v1/authors",
            Some(&token),
            &json!({ "name": "" }),
        )
        .await,
        &[("name", "must not be empty")],
    );
    let author = app
        .send_json(
            Method::POST,
            "/api/v1/authors",
            Some(&token),
            &json!({ "name": "Ursula K. Le Guin" }),
        )
        .await
        .1;
    assert_refused(
        "an empty title, a price above the maximum and a date without leading zeros",
        &app.send_json(
            Method::POST,
            "/api/v1/books",
            Some(&token),
            &json!({
                "title": "",
                "author_id": author["id"],
                "price": "1234567.89",
                "published_at": "2020-1-1",
            }),
        )
        .await,
        &[
            (
                "price",
                "must be an amount from 0.01 to 1000000.00 with at most 2 fraction digits, such as \"19.99\"",
            ),
            ("published_at", "must be a date as YYYY-MM-DD"),
            ("title", "must not be empty"),
        ],
    );
    let books: Value = get(&app, "/api/v1/books").await.json().await.unwrap();
    assert_eq!(books["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn parameters_are_named_with_what_they_must_be() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let query = |path: &str| {
        let url = format!("{}{path}", app.base_url);
        let token = token.clone();
        async move {
            let request = reqwest::Client::new().get(url).bearer_auth(token);
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    assert_refused(
        "limit=1000000",
        &query("/api/v1/books?limit=1000000").await,
        &[("limit", "must be at most 100")],
    );
    assert_refused(
        "offset=-1 and limit=x",
        &query("/api/v1/authors?offset=-1&limit=x").await,
        &[
            ("limit", "must be an integer"),
            ("offset", "must be at least 0"),
        ],
    );
    assert_refused(
        "an unknown order status",
        &query("/api/v1/orders?status=lost").await,
        &[(
            "status",
            "must be one of: pending, paid, shipped, delivered, cancelled",
        )],
    );
    assert_refused(
        "an id that is not a UUID",
        &query("/api/v1/books/42").await,
        &[("id", "must be a UUID")],
    );
    assert_refused(
        "a malformed price filter",
        &query("/api/v1/books?min_price=1.234").await,
        &[(
            "min_price",
            "must be an amount with at most 2 fraction digits, such as \"19.99\"",
        )],
    );
}

#[tokio::test]
async fn malformed_json_is_one_error_with_its_position() {
    let app = TestApp::spawn().await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/users/signup", app.base_url))
        .header("content-type", "application/json")
        .body(r#"{"email": "ada@example.com", "password": }"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    let (code, errors) = field_errors(&problem);
    assert_eq!(code, "invalid_request");
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0].0, "", "the body as a whole");
    assert_eq!(
        errors[0].1,
        "is not valid JSON: expected value at line 1 column 42"
    );
}

#[tokio::test]
async fn what_the_contract_allows_at_its_edges_is_accepted() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let send = |method: Method, path: &str, body: Value| {
        let (app, token, path) = (&app, token.clone(), path.to_owned());
        async move { app.send_json(method, &path, Some(&token), &body).await }
    };

    let (status, author) = send(
        Method::POST,
        "/api/v1/authors",
        json!({ "name": format!(" {} ", "n".repeat(198)), "bio": "" }),
    )
    .await;
    assert_eq!(status, 201, "{author}");
    assert_eq!(author["name"], "n".repeat(198), "trimmed");
    assert_eq!(author["bio"], Value::Null, "a blank bio is none");

    for (price, stored) in [
        (json!("0.01"), "0.01"),
        (json!("1000000"), "1000000.00"),
        (json!(1_000_000), "1000000.00"),
        (json!(0.5), "0.50"),
    ] {
        let (status, book) = send(
            Method::POST,
            "/api/v1/books",
            json!({
                "title": "t".repeat(300),
                "author_id": author["id"],
                "price": price,
                "published_at": "0001-01-01",
            }),
        )
        .await;
        assert_eq!(status, 201, "{price}: {book}");
        assert_eq!(book["price"], stored);
        assert_eq!(book["published_at"], "0001-01-01");
    }

    let page: Value = get(&app, "/api/v1/books?min_price=2&max_price=1&q=t")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 0, "an empty price range matches nothing");
    assert!(page["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_client_types_check_the_rules_the_server_enforces() {
    // The Rust client is generated from the contract: its types refuse what the server
    // refuses, before anything is sent.
    assert!("".parse::<types::Title>().is_err());
    assert!(" \t".parse::<types::Name>().is_err());
    assert!("a".repeat(201).parse::<types::Name>().is_err());
    assert!("abc".parse::<types::NewPassword>().is_err());
    assert!("ada@example".parse::<types::EmailAddress>().is_err());
    assert!(" ada@example.com ".parse::<types::EmailAddress>().is_ok());
    assert!("Ada".parse::<types::Name>().is_ok());
}
