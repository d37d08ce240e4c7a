//! Safe retries and concurrent edits: `Idempotency-Key` on `POST /api/v1/orders`, and
//! `ETag`s with conditional requests (`If-None-Match`, `If-Match`) on every resource.
//!
//! Most tests go through the generated client, whose builders take the headers. A few
//! send raw HTTP (a body formatted another way, a key the typed client would refuse to
//! send), and a few reach into the database the way another process could: to hold a
//! lock that keeps a request in flight, to let a key expire.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bookstore_tests::api_client::{self, Client, ClientInfo, Error, ResponseValue, types};
use bookstore_tests::{Backend, PASSWORD, TestApp, assert_problem, valid};
use futures::future::{BoxFuture, join_all};
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

type Answer<T> = Result<ResponseValue<T>, Error<types::Problem>>;

/// A server with an administrator, a customer (with their token, for raw requests) and a
/// book at 12.50.
struct Shop {
    app: TestApp,
    admin: Client,
    customer: Client,
    customer_email: String,
    token: String,
    book: types::Book,
}

impl Shop {
    async fn open() -> Self {
        Self::open_with(|_| None).await
    }

    async fn open_with(overrides: impl Fn(&str) -> Option<String>) -> Self {
        let app = TestApp::spawn_with(overrides).await;
        let admin = app.admin().await;
        let customer_email = format!("retrier-{}@example.com", Uuid::new_v4().simple());
        app.signup(&customer_email, PASSWORD).await;
        let (customer, session) = app.login(&customer_email, PASSWORD).await;
        let book = app.book(&admin, "The Dispossessed", "12.50").await;
        Self {
            app,
            admin,
            customer,
            customer_email,
            token: session.access_token,
            book,
        }
    }

    /// Places an order of `quantity` copies of the shop's book with `key`.
    async fn order(&self, client: &Client, key: &str, quantity: u32) -> Answer<types::Order> {
        keyed_order(client, key, self.book.id, quantity).await
    }

    /// How many orders exist.
    async fn order_count(&self) -> i64 {
        let page = self.admin.list_orders().send().await.unwrap();
        page.into_inner().total
    }

    /// A raw `POST /api/v1/orders` as the customer, with `body` as it is and `key`.
    async fn raw_order(&self, key: Option<HeaderValue>, body: &str) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .client()
            .post(format!("{}/api/v1/orders", self.app.client.baseurl()))
            .bearer_auth(&self.token)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("the server answers")
    }
}

async fn keyed_order(
    client: &Client,
    key: &str,
    book_id: Uuid,
    quantity: u32,
) -> Answer<types::Order> {
    client
        .create_order()
        .idempotency_key(key)
        .body(types::OrderCreate {
            book_id,
            quantity: NonZeroU32::new(quantity).unwrap(),
        })
        .send()
        .await
}

fn new_key() -> String {
    format!("order-{}", Uuid::new_v4())
}

fn replayed<T>(answer: &ResponseValue<T>) -> bool {
    api_client::replayed(answer)
}

// ----------------------------------------------------------------------------------------
// Idempotency-Key on POST /api/v1/orders
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_replays_the_first_answer() {
    let shop = Shop::open().await;
    // Every visible ASCII character may be part of a key, quotes and backslashes too.
    let key = format!(r#"it's-"{}"\{{%_*}};--"#, Uuid::new_v4());

    let first = shop.order(&shop.customer, &key, 2).await.unwrap();
    let retry = shop.order(&shop.customer, &key, 2).await.unwrap();

    assert_eq!(first.status().as_u16(), 201);
    assert!(!replayed(&first), "a first answer is not a replay");
    assert_eq!(retry.status().as_u16(), 201);
    assert!(replayed(&retry), "{:?}", retry.headers());
    let (first, retry) = (first.into_inner(), retry.into_inner());
    assert_eq!(retry.id, first.id);
    assert_eq!(
        serde_json::to_value(&retry).unwrap(),
        serde_json::to_value(&first).unwrap()
    );
    assert_eq!(shop.order_count().await, 1);
}

#[tokio::test]
async fn the_same_json_value_formatted_another_way_is_the_same_request() {
    let shop = Shop::open().await;
    let key = HeaderValue::from_str(&new_key()).unwrap();
    let book = shop.book.id;

    let first = shop
        .raw_order(
            Some(key.clone()),
            &format!(r#"{{"book_id":"{book}","quantity":3}}"#),
        )
        .await;
    let first_body = first.bytes().await.unwrap();
    let retry = shop
        .raw_order(
            Some(key),
            &format!("{{\n  \"quantity\" : 3,\n  \"book_id\" : \"{book}\"\n}}\n"),
        )
        .await;

    assert_eq!(retry.status().as_u16(), 201);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .map(HeaderValue::as_bytes),
        Some(&b"true"[..])
    );
    assert_eq!(
        retry.bytes().await.unwrap(),
        first_body,
        "the recorded body, byte for byte"
    );
    assert_eq!(shop.order_count().await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_creates_nothing() {
    let shop = Shop::open().await;
    let key = new_key();
    shop.order(&shop.customer, &key, 1).await.unwrap();

    let other_quantity = shop.order(&shop.customer, &key, 5).await;
    let problem = assert_problem(other_quantity, 422, "idempotency_key_reused");
    let other_field = shop
        .raw_order(
            Some(HeaderValue::from_str(&key).unwrap()),
            &json!({"book_id": shop.book.id, "quantity": 1, "note": "gift"}).to_string(),
        )
        .await;

    assert_eq!(problem.errors[0].field, "Idempotency-Key");
    assert_eq!(other_field.status().as_u16(), 422);
    let body: Value = other_field.json().await.unwrap();
    assert_eq!(body["code"], "idempotency_key_reused");
    assert_eq!(shop.order_count().await, 1);
}

#[tokio::test]
async fn keys_belong_to_the_account_that_sends_them() {
    let shop = Shop::open().await;
    let (other, _) = shop.app.customer().await;
    let key = new_key();

    let mine = shop.order(&shop.customer, &key, 1).await.unwrap();
    let theirs = shop.order(&other, &key, 1).await.unwrap();

    assert!(!replayed(&theirs));
    assert_ne!(theirs.into_inner().id, mine.into_inner().id);
    assert_eq!(shop.order_count().await, 2);
}

#[tokio::test]
async fn a_request_that_fails_records_nothing_so_it_can_be_corrected_and_retried() {
    let shop = Shop::open().await;
    let key = new_key();

    let missing_book = keyed_order(&shop.customer, &key, Uuid::now_v7(), 1).await;
    assert_problem(missing_book, 422, "validation_failed");
    let malformed = shop
        .raw_order(
            Some(HeaderValue::from_str(&key).unwrap()),
            &json!({"book_id": shop.book.id, "quantity": 0}).to_string(),
        )
        .await;
    assert_eq!(malformed.status().as_u16(), 422);
    let corrected = shop.order(&shop.customer, &key, 1).await.unwrap();
    let retried = shop.order(&shop.customer, &key, 1).await.unwrap();

    assert!(!replayed(&corrected), "the failures recorded no answer");
    assert!(replayed(&retried));
    assert_eq!(retried.into_inner().id, corrected.into_inner().id);
    assert_eq!(shop.order_count().await, 1);
}

#[tokio::test]
async fn a_key_that_is_not_1_to_255_visible_ascii_characters_is_refused_naming_the_header() {
    let shop = Shop::open().await;
    let body = json!({"book_id": shop.book.id, "quantity": 1}).to_string();
    let too_long = HeaderValue::from_str(&"k".repeat(256)).unwrap();

    for (case, key) in [
        ("empty", HeaderValue::from_static("")),
        ("256 characters", too_long),
        ("a space", HeaderValue::from_static("two words")),
        ("a tab", HeaderValue::from_static("tab\there")),
        (
            "non-ASCII",
            HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
        ),
    ] {
        let answer = shop.raw_order(Some(key), &body).await;

        assert_eq!(answer.status().as_u16(), 422, "{case}");
        let problem: Value = answer.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_request", "{case}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "Idempotency-Key", "{case}");
    }
    let twice = shop
        .app
        .client
        .client()
        .post(format!("{}/api/v1/orders", shop.app.base_url))
        .bearer_auth(&shop.token)
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", "one")
        .header("idempotency-key", "two")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status().as_u16(), 422);
    assert_eq!(shop.order_count().await, 0);

    let longest = shop
        .raw_order(
            Some(HeaderValue::from_str(&"~".repeat(255)).unwrap()),
            &body,
        )
        .await;
    assert_eq!(longest.status().as_u16(), 201);
}

#[tokio::test]
async fn a_retry_after_a_restart_of_the_server_replays_the_first_answer() {
    let shop = Shop::open().await;
    let key = new_key();
    let first = shop
        .order(&shop.customer, &key, 4)
        .await
        .unwrap()
        .into_inner();

    let app = shop.app.restart().await;
    // In-process sessions end with the process; a customer logs in again.
    let (customer, _) = app.login(&shop.customer_email, PASSWORD).await;
    let retry = keyed_order(&customer, &key, shop.book.id, 4).await.unwrap();

    assert!(replayed(&retry));
    assert_eq!(retry.into_inner().id, first.id);
    let admin = app.admin().await;
    assert_eq!(
        admin.list_orders().send().await.unwrap().into_inner().total,
        1
    );
}

#[tokio::test]
async fn twenty_simultaneous_requests_with_one_key_create_one_order() {
    let shop = Shop::open().await;
    let key = new_key();

    let answers = join_all((0..20).map(|_| shop.order(&shop.customer, &key, 2))).await;

    let mut ids = Vec::new();
    for answer in answers {
        match answer {
            Ok(created) => ids.push(created.into_inner().id),
            Err(err) => {
                let retry_after = api_client::retry_after(&err);
                let problem = assert_problem::<()>(Err(err), 409, "idempotency_key_in_flight");
                assert!(retry_after.is_some_and(|s| s >= 1), "{problem:?}");
            }
        }
    }
    assert!(!ids.is_empty(), "the first request succeeds");
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(shop.order_count().await, 1);
    let later = shop.order(&shop.customer, &key, 2).await.unwrap();
    assert_eq!(later.into_inner().id, ids[0]);
}

#[tokio::test]
async fn a_retry_while_the_first_request_is_in_flight_is_told_to_retry_later() {
    // Long enough a statement timeout that the first request waits for the lock below.
    let shop =
        Shop::open_with(|key| (key == "DATABASE_TIMEOUT_MS").then(|| "10000".to_owned())).await;
    let customer = Arc::new(shop.customer);
    let key = new_key();
    let book = shop.book.id;
    let mut lock = OrdersLock::take(&shop.app).await;

    let first = tokio::spawn({
        let (customer, key) = (Arc::clone(&customer), key.clone());
        async move { keyed_order(&customer, &key, book, 1).await }
    });
    lock.wait_until_blocking().await;
    let meanwhile = keyed_order(&customer, &key, book, 1).await;
    let other_key = tokio::spawn({
        let customer = Arc::clone(&customer);
        async move { keyed_order(&customer, &new_key(), book, 1).await }
    });
    lock.release().await;
    let first = first.await.unwrap().unwrap();
    let retry = keyed_order(&customer, &key, book, 1).await.unwrap();

    let retry_after = meanwhile.as_ref().err().and_then(api_client::retry_after);
    assert_problem(meanwhile, 409, "idempotency_key_in_flight");
    assert_eq!(retry_after, Some(1));
    assert!(
        other_key.await.unwrap().is_ok(),
        "other keys are not held up by it"
    );
    assert!(!replayed(&first) && replayed(&retry));
    assert_eq!(retry.into_inner().id, first.into_inner().id);
}

#[tokio::test]
async fn an_expired_key_is_a_new_key_and_expired_keys_are_purged() {
    let shop = Shop::open().await;
    let (expiring, kept) = (new_key(), new_key());
    let first = shop
        .order(&shop.customer, &expiring, 1)
        .await
        .unwrap()
        .into_inner();
    shop.order(&shop.customer, &kept, 1).await.unwrap();

    let mut db = TestDb::open(&shop.app).await;
    db.expire(&expiring).await;
    let after_expiry = shop.order(&shop.customer, &expiring, 1).await.unwrap();

    assert!(!replayed(&after_expiry));
    assert_ne!(after_expiry.into_inner().id, first.id);
    assert_eq!(shop.order_count().await, 3);

    // The purge runs when the server starts, and every few minutes after.
    db.expire(&expiring).await;
    let app = shop.app.restart().await;
    let mut left = db.keys().await;
    for _ in 0..100 {
        if !left.contains(&expiring) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = db.keys().await;
    }
    assert_eq!(
        left,
        vec![kept],
        "the expired key is purged, the live one kept"
    );
    drop(app);
}

// ----------------------------------------------------------------------------------------
// ETags and If-None-Match
// ----------------------------------------------------------------------------------------

/// The `ETag` of an answer, checked to be a strong entity tag.
#[track_caller]
fn etag_of<T>(answer: &ResponseValue<T>) -> String {
    let etag = api_client::etag(answer).expect("an ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong entity tag: {etag}"
    );
    etag
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Asserts that `answer` is a bodiless 304 carrying `etag` and `caching`.
#[track_caller]
fn assert_not_modified<T: std::fmt::Debug>(answer: Answer<T>, etag: &str, caching: &str) {
    match answer {
        Err(Error::UnexpectedResponse(resp)) if resp.status().as_u16() == 304 => {
            assert_eq!(header_text(resp.headers(), "etag"), Some(etag));
            assert_eq!(header_text(resp.headers(), "cache-control"), Some(caching));
            assert!(resp.content_length().is_none_or(|n| n == 0), "no body");
        }
        other => panic!("expected 304 Not Modified, got {other:?}"),
    }
}

/// One resource read through the client, with and without `If-None-Match`.
type Read<'a> = Box<dyn Fn(Option<String>) -> BoxFuture<'a, Answer<Value>> + 'a>;

/// Reads of every kind of resource, each returning its body as JSON: one author, one
/// book, an order, an account (`/users/{id}` and `/users/me`), and the catalogue pages.
async fn reads(shop: &Shop) -> Vec<(&'static str, &'static str, Read<'_>)> {
    let order = shop
        .order(&shop.customer, &new_key(), 1)
        .await
        .unwrap()
        .into_inner();
    let me = shop.customer.get_me().send().await.unwrap().into_inner();
    let (author_id, book_id) = (shop.book.author_id, shop.book.id);
    // The client's own error, passed on as it is.
    #[allow(clippy::result_large_err)]
    fn json<T: serde::Serialize>(answer: Answer<T>) -> Answer<Value> {
        answer.map(|resp| {
            let (status, headers) = (resp.status(), resp.headers().clone());
            ResponseValue::new(
                serde_json::to_value(resp.into_inner()).unwrap(),
                status,
                headers,
            )
        })
    }
    // A `Read` of `$request`, a builder of the generated client, with `If-None-Match`
    // when given a tag.
    macro_rules! read {
        ($request:expr) => {
            Box::new(move |tag: Option<String>| {
                Box::pin(async move {
                    let mut request = $request;
                    if let Some(tag) = tag {
                        request = request.if_none_match(tag);
                    }
                    json(request.send().await)
                }) as BoxFuture<'_, _>
            }) as Read<'_>
        };
    }
    let (public, private) = ("public, no-cache", "private, no-cache");
    vec![
        (
            "author",
            public,
            read!(shop.app.client.get_author().id(author_id)),
        ),
        (
            "book",
            public,
            read!(shop.app.client.get_book().id(book_id)),
        ),
        (
            "authors page",
            public,
            read!(shop.app.client.list_authors()),
        ),
        (
            "books page",
            public,
            read!(shop.app.client.list_books().limit(5)),
        ),
        (
            "order",
            private,
            read!(shop.customer.get_order().id(order.id)),
        ),
        ("user", private, read!(shop.customer.get_user().id(me.id))),
        ("me", private, read!(shop.customer.get_me())),
    ]
}

#[tokio::test]
async fn every_read_carries_a_strong_etag_that_follows_its_representation() {
    let shop = Shop::open().await;

    for (what, caching, read) in reads(&shop).await {
        let first = read(None).await.unwrap();
        let again = read(None).await.unwrap();

        let etag = etag_of(&first);
        assert_eq!(
            etag_of(&again),
            etag,
            "{what}: the same representation, the same tag"
        );
        assert_eq!(again.into_inner(), first.into_inner(), "{what}");
        assert_eq!(
            header_text(read(None).await.unwrap().headers(), "cache-control"),
            Some(caching),
            "{what}"
        );
    }
}

#[tokio::test]
async fn the_etag_changes_when_the_representation_changes_and_only_then() {
    let shop = Shop::open().await;
    let other = shop
        .app
        .book(&shop.admin, "The Word for World Is Forest", "9.99")
        .await;
    let read = || shop.app.client.get_book().id(shop.book.id).send();
    let before = etag_of(&read().await.unwrap());

    // Another book changing leaves this one's tag alone.
    shop.admin
        .update_book()
        .id(other.id)
        .body(types::BookUpdate {
            title: Some(valid("Changed")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(etag_of(&read().await.unwrap()), before);

    let changed = shop
        .admin
        .update_book()
        .id(shop.book.id)
        .body(types::BookUpdate {
            price: Some("13.00".parse().unwrap()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let after = etag_of(&changed);
    assert_ne!(after, before);
    let reread = read().await.unwrap();
    assert_eq!(
        etag_of(&reread),
        after,
        "the PATCH answer's tag is the resource's"
    );
    assert_eq!(
        serde_json::to_value(reread.into_inner()).unwrap(),
        serde_json::to_value(changed.into_inner()).unwrap()
    );
    // The same account read as /users/me and /users/{id} is one representation.
    let me = shop.customer.get_me().send().await.unwrap();
    let by_id = shop.customer.get_user().id(me.id).send().await.unwrap();
    assert_eq!(etag_of(&me), etag_of(&by_id));
}

#[tokio::test]
async fn if_none_match_naming_the_current_etag_is_answered_304_without_a_body() {
    let shop = Shop::open().await;

    for (what, caching, read) in reads(&shop).await {
        let etag = etag_of(&read(None).await.unwrap());
        let weak = format!("W/{etag}");
        let listed = format!("\"stale\", {etag}");

        for condition in [etag.clone(), weak, listed, "*".to_owned()] {
            assert_not_modified(read(Some(condition)).await, &etag, caching);
        }
        for stale in ["\"stale\"", "W/\"stale\"", "not-an-etag"] {
            let fresh = read(Some(stale.to_owned())).await;
            assert_eq!(
                fresh.map(|r| r.status().as_u16()).ok(),
                Some(200),
                "{what}: {stale}"
            );
        }
    }
}

#[tokio::test]
async fn a_changed_page_is_answered_in_full_with_a_new_etag() {
    let shop = Shop::open().await;
    let page = shop.app.client.list_books().send().await.unwrap();
    let etag = etag_of(&page);

    shop.app
        .book(&shop.admin, "Always Coming Home", "20.00")
        .await;
    let now = shop
        .app
        .client
        .list_books()
        .if_none_match(etag.clone())
        .send()
        .await
        .unwrap();

    assert_ne!(etag_of(&now), etag);
    assert_eq!(now.into_inner().total, page.into_inner().total + 1);
}

// ----------------------------------------------------------------------------------------
// If-Match on PATCH and DELETE
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_change_with_a_stale_etag_is_refused_and_changes_nothing() {
    let shop = Shop::open().await;
    let (author_id, book_id) = (shop.book.author_id, shop.book.id);
    let author = || shop.app.client.get_author().id(author_id).send();
    let book = || shop.app.client.get_book().id(book_id).send();
    let stale_author = etag_of(&author().await.unwrap());
    let stale_book = etag_of(&book().await.unwrap());
    let rename = |name: &str| types::AuthorUpdate {
        name: Some(valid(name)),
        ..Default::default()
    };
    shop.admin
        .update_author()
        .id(author_id)
        .body(rename("U. K. Le Guin"))
        .send()
        .await
        .unwrap();
    shop.admin
        .update_book()
        .id(book_id)
        .body(types::BookUpdate {
            title: Some(valid("The Dispossessed: An Ambiguous Utopia")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let (author_before, book_before) = (author().await.unwrap(), book().await.unwrap());

    let refused = [
        (
            "PATCH author",
            shop.admin
                .update_author()
                .id(author_id)
                .if_match(stale_author.clone())
                .body(rename("Ursula"))
                .send()
                .await
                .map(drop),
        ),
        (
            "DELETE author",
            shop.admin
                .delete_author()
                .id(author_id)
                .if_match(stale_author.clone())
                .send()
                .await
                .map(drop),
        ),
        (
            "PATCH book",
            shop.admin
                .update_book()
                .id(book_id)
                .if_match(stale_book.clone())
                .body(types::BookUpdate {
                    title: Some(valid("Other")),
                    ..Default::default()
                })
                .send()
                .await
                .map(drop),
        ),
        (
            "DELETE book",
            shop.admin
                .delete_book()
                .id(book_id)
                .if_match(stale_book.clone())
                .send()
                .await
                .map(drop),
        ),
        (
            "PATCH book with a weak tag",
            shop.admin
                .update_book()
                .id(book_id)
                .if_match(format!("W/{}", etag_of(&book_before)))
                .body(types::BookUpdate {
                    title: Some(valid("Other")),
                    ..Default::default()
                })
                .send()
                .await
                .map(drop),
        ),
        (
            "PATCH book with no tag",
            shop.admin
                .update_book()
                .id(book_id)
                .if_match("")
                .body(types::BookUpdate {
                    title: Some(valid("Other")),
                    ..Default::default()
                })
                .send()
                .await
                .map(drop),
        ),
    ];

    for (case, answer) in refused {
        let problem = assert_problem(answer, 412, "precondition_failed");
        assert!(!problem.detail.is_empty(), "{case}");
    }
    let (author_after, book_after) = (author().await.unwrap(), book().await.unwrap());
    assert_eq!(etag_of(&author_after), etag_of(&author_before));
    assert_eq!(etag_of(&book_after), etag_of(&book_before));
    assert_eq!(author_after.into_inner().name, "U. K. Le Guin");
}

#[tokio::test]
async fn a_change_with_the_current_etag_or_a_star_goes_ahead() {
    let shop = Shop::open().await;
    let book_id = shop.book.id;
    let current = etag_of(&shop.app.client.get_book().id(book_id).send().await.unwrap());
    let retitle = |title: &str| types::BookUpdate {
        title: Some(valid(title)),
        ..Default::default()
    };

    let changed = shop
        .admin
        .update_book()
        .id(book_id)
        .if_match(current)
        .body(retitle("One"))
        .send()
        .await
        .unwrap();
    let listed = format!("\"stale\", {}", etag_of(&changed));
    let again = shop
        .admin
        .update_book()
        .id(book_id)
        .if_match(listed)
        .body(retitle("Two"))
        .send()
        .await
        .unwrap();
    let star = shop
        .admin
        .update_book()
        .id(book_id)
        .if_match("*")
        .body(retitle("Three"))
        .send()
        .await
        .unwrap();
    let unknown = shop
        .admin
        .update_book()
        .id(Uuid::now_v7())
        .if_match("*")
        .body(retitle("Four"))
        .send()
        .await;
    let deleted = shop
        .admin
        .delete_book()
        .id(book_id)
        .if_match(etag_of(&star))
        .send()
        .await;

    assert_eq!(again.into_inner().title, "Two");
    assert_eq!(star.into_inner().title, "Three");
    assert_problem(unknown, 404, "not_found");
    assert_eq!(deleted.unwrap().status().as_u16(), 204);
    assert_problem(
        shop.app.client.get_book().id(book_id).send().await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn orders_honour_if_match_on_status_changes_and_deletion() {
    let shop = Shop::open().await;
    let order = shop
        .order(&shop.customer, &new_key(), 1)
        .await
        .unwrap()
        .into_inner();
    let read = || shop.admin.get_order().id(order.id).send();
    let pending = etag_of(&read().await.unwrap());
    let pay = types::OrderStatusUpdate {
        status: types::OrderStatus::Paid,
    };
    let cancel = types::OrderStatusUpdate {
        status: types::OrderStatus::Cancelled,
    };

    let paid = shop
        .admin
        .update_order()
        .id(order.id)
        .if_match(pending.clone())
        .body(pay)
        .send()
        .await
        .unwrap();
    let stale_cancel = shop
        .customer
        .update_order()
        .id(order.id)
        .if_match(pending.clone())
        .body(cancel.clone())
        .send()
        .await;
    let stale_delete = shop
        .admin
        .delete_order()
        .id(order.id)
        .if_match(pending)
        .send()
        .await;
    let current = etag_of(&paid);
    let cancelled = shop
        .customer
        .update_order()
        .id(order.id)
        .if_match(current)
        .body(cancel)
        .send()
        .await
        .unwrap();

    assert_problem(stale_cancel, 412, "precondition_failed");
    assert_problem(stale_delete, 412, "precondition_failed");
    assert_eq!(cancelled.into_inner().status, types::OrderStatus::Cancelled);
    let illegal = shop
        .admin
        .update_order()
        .id(order.id)
        .if_match(etag_of(&read().await.unwrap()))
        .body(types::OrderStatusUpdate {
            status: types::OrderStatus::Shipped,
        })
        .send()
        .await;
    assert_problem(illegal, 409, "illegal_transition");
    let deleted = shop
        .admin
        .delete_order()
        .id(order.id)
        .if_match(etag_of(&read().await.unwrap()))
        .send()
        .await;
    assert_eq!(deleted.unwrap().status().as_u16(), 204);
}

#[tokio::test]
async fn accounts_honour_if_match_on_changes_and_deactivation() {
    let shop = Shop::open().await;
    let me = shop.customer.get_me().send().await.unwrap();
    let (id, stale) = (me.id, etag_of(&me));
    let rename = |name: &str| types::UserUpdate {
        full_name: Some(valid(name)),
        ..Default::default()
    };
    let renamed = shop
        .customer
        .update_me()
        .if_match(stale.clone())
        .body(rename("A. Retrier"))
        .send()
        .await
        .unwrap();
    let current = etag_of(&renamed);

    let refused = [
        shop.customer
            .update_me()
            .if_match(stale.clone())
            .body(rename("B"))
            .send()
            .await
            .map(drop),
        shop.admin
            .update_user()
            .id(id)
            .if_match(stale.clone())
            .body(rename("C"))
            .send()
            .await
            .map(drop),
        shop.admin
            .delete_user()
            .id(id)
            .if_match(stale.clone())
            .send()
            .await
            .map(drop),
        shop.customer
            .delete_me()
            .if_match(stale)
            .send()
            .await
            .map(drop),
    ];
    for answer in refused {
        assert_problem(answer, 412, "precondition_failed");
    }
    let still = shop.customer.get_me().send().await.unwrap();
    assert_eq!(etag_of(&still), current);
    assert!(still.into_inner().is_active);

    let by_admin = shop
        .admin
        .update_user()
        .id(id)
        .if_match(current)
        .body(rename("D"))
        .send()
        .await
        .unwrap();
    let deactivated = shop
        .customer
        .delete_me()
        .if_match(etag_of(&by_admin))
        .send()
        .await;
    assert_eq!(deactivated.unwrap().status().as_u16(), 204);
    let admin_view = shop
        .admin
        .get_user()
        .id(id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(!admin_view.is_active);
}

/// Sends two changes made from the same `ETag` at once, `rounds` times; each time exactly
/// one must go ahead and the other be refused with 412.
async fn assert_one_of_two_wins<T, F, Fut>(rounds: usize, mut pair: F)
where
    T: std::fmt::Debug,
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = (Answer<T>, Answer<T>)>,
{
    for round in 0..rounds {
        let (a, b) = pair(round).await;
        let (won, lost) = match (&a, &b) {
            (Ok(_), Err(_)) => (a, b),
            (Err(_), Ok(_)) => (b, a),
            _ => panic!("round {round}: expected one 200 and one 412, got {a:?} and {b:?}"),
        };
        assert_eq!(won.unwrap().status().as_u16(), 200, "round {round}");
        assert_problem(lost, 412, "precondition_failed");
    }
}

#[tokio::test]
async fn of_two_concurrent_changes_from_one_etag_exactly_one_wins() {
    let shop = Shop::open().await;
    let book_id = shop.book.id;
    let retitle = |title: String| types::BookUpdate {
        title: Some(valid(&title)),
        ..Default::default()
    };

    assert_one_of_two_wins(25, |round| {
        let shop = &shop;
        async move {
            let etag = etag_of(&shop.app.client.get_book().id(book_id).send().await.unwrap());
            let change = |side: &str| {
                shop.admin
                    .update_book()
                    .id(book_id)
                    .if_match(etag.clone())
                    .body(retitle(format!("{side} {round}")))
                    .send()
            };
            tokio::join!(change("left"), change("right"))
        }
    })
    .await;

    assert_one_of_two_wins(5, |_| {
        let shop = &shop;
        async move {
            let id = shop.order(&shop.customer, &new_key(), 1).await.unwrap().id;
            let etag = etag_of(&shop.customer.get_order().id(id).send().await.unwrap());
            // An administrator paying it and its owner cancelling it, from one reading.
            let pay = shop
                .admin
                .update_order()
                .id(id)
                .if_match(etag.clone())
                .body(types::OrderStatusUpdate {
                    status: types::OrderStatus::Paid,
                })
                .send();
            let cancel = shop
                .customer
                .update_order()
                .id(id)
                .if_match(etag)
                .body(types::OrderStatusUpdate {
                    status: types::OrderStatus::Cancelled,
                })
                .send();
            tokio::join!(pay, cancel)
        }
    })
    .await;

    assert_one_of_two_wins(5, |round| {
        let shop = &shop;
        async move {
            let etag = etag_of(&shop.customer.get_me().send().await.unwrap());
            let rename = |name: String| types::UserUpdate {
                full_name: Some(valid(&name)),
                ..Default::default()
            };
            let change = |side: &str| {
                shop.customer
                    .update_me()
                    .if_match(etag.clone())
                    .body(rename(format!("{side} {round}")))
                    .send()
            };
            tokio::join!(change("Left"), change("Right"))
        }
    })
    .await;
}

// ----------------------------------------------------------------------------------------
// Caching
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn answers_say_how_caches_may_keep_them() {
    let shop = Shop::open().await;
    let order = shop.order(&shop.customer, &new_key(), 1).await.unwrap();
    let changed = shop
        .admin
        .update_book()
        .id(shop.book.id)
        .body(types::BookUpdate {
            title: Some(valid("Retitled")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let customers_list = shop.customer.list_orders().send().await.unwrap();
    let admin_book = shop.admin.get_book().id(shop.book.id).send().await.unwrap();

    let cache_control =
        |headers: &HeaderMap| header_text(headers, "cache-control").map(str::to_owned);
    // Written or listed for one caller: kept by no cache at all.
    for headers in [order.headers(), changed.headers(), customers_list.headers()] {
        assert_eq!(cache_control(headers).as_deref(), Some("private, no-store"));
    }
    // The catalogue is public, whoever reads it.
    assert_eq!(
        cache_control(admin_book.headers()).as_deref(),
        Some("public, no-cache")
    );
}

// ----------------------------------------------------------------------------------------
// The database, as another process sees it
// ----------------------------------------------------------------------------------------

/// A connection to the test server's database. Statements go as plain text (the simple
/// protocol), which also works through PgBouncer in transaction pooling.
enum TestDb {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl TestDb {
    async fn open(app: &TestApp) -> Self {
        let url = app.settings().database_url.as_ref().unwrap();
        let url = url.expose_secret();
        match Backend::from_env() {
            Backend::Postgres => Self::Postgres(sqlx::PgConnection::connect(url).await.unwrap()),
            Backend::Sqlite => Self::Sqlite(sqlx::SqliteConnection::connect(url).await.unwrap()),
        }
    }

    async fn run(&mut self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Postgres(conn) => drop(sqlx::raw_sql(sql).execute(conn).await.unwrap()),
            Self::Sqlite(conn) => drop(sqlx::raw_sql(sql).execute(conn).await.unwrap()),
        }
    }

    /// The first column of every row `sql` yields, as text.
    async fn texts(&mut self, sql: &str) -> Vec<String> {
        use sqlx::Row;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Postgres(conn) => sqlx::raw_sql(sql)
                .fetch_all(conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect(),
            Self::Sqlite(conn) => sqlx::raw_sql(sql)
                .fetch_all(conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect(),
        }
    }

    /// Makes the record of `key` (a key of [`new_key`]'s, safe in SQL) expired.
    async fn expire(&mut self, key: &str) {
        let past = match self {
            Self::Postgres(_) => "now() - interval '1 hour'",
            Self::Sqlite(_) => "'2000-01-01T00:00:00+00:00'",
        };
        self.run(&format!(
            "UPDATE idempotency_keys SET expires_at = {past} WHERE idempotency_key = '{key}'"
        ))
        .await;
    }

    /// The keys recorded, in order.
    async fn keys(&mut self) -> Vec<String> {
        self.texts("SELECT idempotency_key FROM idempotency_keys ORDER BY idempotency_key")
            .await
    }
}

/// A transaction of another process that keeps the server from writing orders until it
/// ends: PostgreSQL's `SHARE` lock on `orders`, SQLite's write lock.
struct OrdersLock(TestDb);

impl OrdersLock {
    async fn take(app: &TestApp) -> Self {
        let mut db = TestDb::open(app).await;
        match db {
            TestDb::Postgres(_) => db.run("BEGIN; LOCK TABLE orders IN SHARE MODE").await,
            TestDb::Sqlite(_) => db.run("BEGIN IMMEDIATE").await,
        }
        Self(db)
    }

    /// Waits until a request of the server waits for the lock (on PostgreSQL, as
    /// `pg_locks` shows; SQLite shows nothing, so a moment is given).
    async fn wait_until_blocking(&mut self) {
        if let TestDb::Sqlite(_) = self.0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        let waiting = "SELECT count(*)::text FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                       WHERE NOT l.granted AND c.relname = 'orders'";
        for _ in 0..200 {
            if self.0.texts(waiting).await != ["0"] {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no request came to wait for the lock on orders");
    }

    async fn release(mut self) {
        self.0.run("ROLLBACK").await;
    }
}
