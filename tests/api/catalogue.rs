//! Authors and books: public reads, administrator writes, filters and paging.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::num::NonZeroU32;

use bookstore_tests::api_client::{self, Client, ClientInfo, types};
use bookstore_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, assert_problem, field_errors, money, valid,
};
use chrono::NaiveDate;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// Sends `GET path` with the client's own HTTP client, for query values the typed builder
/// refuses to send; returns the status and the JSON body.
async fn raw_get(client: &Client, path: &str) -> (u16, serde_json::Value) {
    let resp = client
        .client()
        .get(format!("{}{path}", client.baseurl()))
        .send()
        .await
        .expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

/// The fields a validation problem names.
fn fields(problem: &types::Problem) -> Vec<&str> {
    problem.errors.iter().map(|e| e.field.as_str()).collect()
}

fn titles(page: &types::BookPage) -> Vec<&str> {
    page.items.iter().map(|b| b.title.as_str()).collect()
}

async fn create_book(
    admin: &Client,
    body: types::BookCreate,
) -> Result<api_client::ResponseValue<types::Book>, api_client::Error<types::Problem>> {
    admin.create_book().body(body).send().await
}

fn new_book(author_id: Uuid, price: &str) -> types::BookCreate {
    types::BookCreate {
        title: valid("The Dispossessed"),
        author_id,
        description: None,
        price: money(price),
        published_at: None,
    }
}

// Authors

#[tokio::test]
async fn admin_creates_an_author_whose_absent_bio_is_null() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    let created = admin
        .create_author()
        .body(types::AuthorCreate {
            name: valid("  Octavia E. Butler "),
            bio: None,
        })
        .send()
        .await
        .unwrap();
    let (status, json) = raw_get(&app.client, &format!("/api/v1/authors/{}", created.id)).await;

    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(created.name, "Octavia E. Butler");
    assert_eq!(created.bio, None);
    assert_eq!(status, 200);
    assert_eq!(json.get("bio"), Some(&serde_json::Value::Null));
}

#[tokio::test]
async fn creating_an_author_as_a_customer_requires_an_admin() {
    let app = TestApp::spawn().await;
    let (customer, _) = app.customer().await;

    let result = customer
        .create_author()
        .body(types::AuthorCreate {
            name: valid("Nobody"),
            bio: None,
        })
        .send()
        .await;

    assert_problem(result, 403, "admin_required");
}

#[tokio::test]
async fn creating_an_author_anonymously_is_unauthorized() {
    let app = TestApp::spawn().await;

    let result = app
        .client
        .create_author()
        .body(types::AuthorCreate {
            name: valid("Nobody"),
            bio: None,
        })
        .send()
        .await;

    match &result {
        Err(api_client::Error::ErrorResponse(resp)) => {
            assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        }
        other => panic!("expected a 401 problem, got {other:?}"),
    }
    assert_problem(result, 401, "unauthorized");
}

#[tokio::test]
async fn creating_an_author_with_a_blank_name_is_refused_naming_name() {
    let app = TestApp::spawn().await;
    let (_, session) = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // The client's types refuse a blank name before sending it, as the contract does.
    assert!("   ".parse::<types::Name>().is_err());

    let (status, problem) = app
        .send_json(
            Method::POST,
            "/api/v1/authors",
            Some(&session.access_token),
            &json!({ "name": "   ", "bio": "Wrote things." }),
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(
        field_errors(&problem),
        (
            "invalid_request",
            vec![(
                "name",
                "must contain a character other than white space, and no NUL character"
            )]
        )
    );
    let authors = app.client.list_authors().send().await.unwrap().into_inner();
    assert_eq!(authors.total, 0, "nothing was stored");
}

#[tokio::test]
async fn authors_are_listed_publicly_oldest_first_in_pages() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut created = Vec::new();
    for name in ["First", "Second", "Third"] {
        created.push(app.author(&admin, name).await.id);
    }

    let page = app
        .client
        .list_authors()
        .limit(2)
        .offset(1)
        .send()
        .await
        .unwrap()
        .into_inner();

    assert_eq!((page.total, page.limit, page.offset), (3, 2, 1));
    let ids: Vec<Uuid> = page.items.iter().map(|a| a.id).collect();
    assert_eq!(ids, created[1..]);
}

#[tokio::test]
async fn an_author_is_readable_anonymously() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "N. K. Jemisin").await;

    let fetched = app
        .client
        .get_author()
        .id(author.id)
        .send()
        .await
        .unwrap()
        .into_inner();

    assert_eq!(fetched.id, author.id);
    assert_eq!(fetched.name, "N. K. Jemisin");
    assert_eq!(fetched.created_at, author.created_at);
}

#[tokio::test]
async fn a_missing_author_is_not_found_to_read_change_or_delete() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let missing = Uuid::now_v7();

    let get = app.client.get_author().id(missing).send().await;
    let patch = admin
        .update_author()
        .id(missing)
        .body(types::AuthorUpdate {
            name: Some(valid("Ghost")),
            bio: None,
        })
        .send()
        .await;
    let delete = admin.delete_author().id(missing).send().await;

    assert_problem(get, 404, "not_found");
    assert_problem(patch, 404, "not_found");
    assert_problem(delete, 404, "not_found");
}

#[tokio::test]
async fn admin_renames_an_author_and_sets_a_bio() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Le Guin").await;

    let updated = admin
        .update_author()
        .id(author.id)
        .body(types::AuthorUpdate {
            name: Some(valid("Ursula K. Le Guin")),
            bio: Some(valid("Wrote Earthsea.")),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    let fetched = app.client.get_author().id(author.id).send().await.unwrap();

    assert_eq!(updated.name, "Ursula K. Le Guin");
    assert_eq!(updated.bio.as_deref(), Some("Wrote Earthsea."));
    assert!(updated.updated_at > author.updated_at);
    assert_eq!(fetched.name, "Ursula K. Le Guin");
}

/// The generated client leaves out `None` fields and so cannot send `"bio": null`;
/// an empty bio is the way it clears one.
#[tokio::test]
async fn an_empty_bio_clears_it_and_leaves_the_name() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = admin
        .create_author()
        .body(types::AuthorCreate {
            name: valid("Iain M. Banks"),
            bio: Some(valid("Wrote the Culture novels.")),
        })
        .send()
        .await
        .unwrap();

    let updated = admin
        .update_author()
        .id(author.id)
        .body(types::AuthorUpdate {
            name: None,
            bio: Some(valid("")),
        })
        .send()
        .await
        .unwrap();

    assert_eq!(updated.bio, None);
    assert_eq!(updated.name, "Iain M. Banks");
}

#[tokio::test]
async fn a_customer_cannot_change_an_author() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer, _) = app.customer().await;
    let author = app.author(&admin, "Original").await;

    let result = customer
        .update_author()
        .id(author.id)
        .body(types::AuthorUpdate {
            name: Some(valid("Defaced")),
            bio: None,
        })
        .send()
        .await;
    let fetched = app.client.get_author().id(author.id).send().await.unwrap();

    assert_problem(result, 403, "admin_required");
    assert_eq!(fetched.name, "Original");
}

#[tokio::test]
async fn admin_deletes_an_author_who_is_then_gone() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Short-lived").await;

    let deleted = admin.delete_author().id(author.id).send().await.unwrap();
    let after = app.client.get_author().id(author.id).send().await;

    assert_eq!(deleted.status().as_u16(), 204);
    assert_problem(after, 404, "not_found");
}

#[tokio::test]
async fn deleting_an_author_who_has_books_is_a_conflict_and_keeps_the_author() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "A Wizard of Earthsea", "9.99").await;

    let result = admin.delete_author().id(book.author_id).send().await;
    let still_there = app.client.get_author().id(book.author_id).send().await;

    assert_problem(result, 409, "author_has_books");
    assert!(still_there.is_ok(), "{still_there:?}");
}

// Books

#[tokio::test]
async fn admin_creates_a_book_readable_by_anyone() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Ted Chiang").await;

    let created = create_book(
        &admin,
        types::BookCreate {
            title: valid("Exhalation"),
            author_id: author.id,
            description: Some(valid("Stories.")),
            price: money("15.99"),
            published_at: None,
        },
    )
    .await
    .unwrap();
    let fetched = app.client.get_book().id(created.id).send().await.unwrap();

    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(fetched.title, "Exhalation");
    assert_eq!(fetched.author_id, author.id);
    assert_eq!(fetched.description.as_deref(), Some("Stories."));
    assert_eq!(fetched.price.as_str(), "15.99");
    assert_eq!(fetched.published_at, None);
}

#[tokio::test]
async fn prices_round_trip_exactly_with_two_fraction_digits() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Accountant").await;

    let mut shown = Vec::new();
    for sent in ["12.5", "0.10", "0.01", "7", "1000000.00"] {
        let book = app.book_by(&admin, author.id, sent, sent).await;
        let fetched = app.client.get_book().id(book.id).send().await.unwrap();
        shown.push((book.price.to_string(), fetched.price.to_string()));
    }

    let expected = ["12.50", "0.10", "0.01", "7.00", "1000000.00"];
    assert_eq!(
        shown,
        expected.map(|p| (p.to_owned(), p.to_owned())).to_vec()
    );
}

#[tokio::test]
async fn published_at_round_trips_as_a_date() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Mary Shelley").await;
    let date = NaiveDate::from_ymd_opt(1818, 1, 1).unwrap();

    let created = create_book(
        &admin,
        types::BookCreate {
            published_at: Some(date),
            ..new_book(author.id, "4.99")
        },
    )
    .await
    .unwrap();
    let (_, json) = raw_get(&app.client, &format!("/api/v1/books/{}", created.id)).await;

    assert_eq!(created.published_at, Some(date));
    assert_eq!(json["published_at"], "1818-01-01");
}

#[tokio::test]
async fn creating_a_book_by_an_unknown_author_fails_validation_on_author_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    let result = create_book(&admin, new_book(Uuid::now_v7(), "9.99")).await;

    let problem = assert_problem(result, 422, "validation_failed");
    assert_eq!(fields(&problem), ["author_id"]);
}

/// What a refused price is told, as the contract words it (`x-error-message`).
const PRICE_RULE: &str =
    "must be an amount from 0.01 to 1000000.00 with at most 2 fraction digits, such as \"19.99\"";

#[tokio::test]
async fn a_zero_price_is_refused_naming_price() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Free Software Foundation").await;

    for zero in ["0", "0.00"] {
        let result = create_book(&admin, new_book(author.id, zero)).await;

        let problem = assert_problem(result, 422, "invalid_request");
        assert_eq!(fields(&problem), ["price"], "price {zero}");
        assert_eq!(problem.errors[0].message, PRICE_RULE);
    }
}

#[tokio::test]
async fn a_price_above_one_million_is_refused_naming_price() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Gutenberg").await;

    let result = create_book(&admin, new_book(author.id, "1000000.01")).await;

    let problem = assert_problem(result, 422, "invalid_request");
    assert_eq!(fields(&problem), ["price"]);
    assert_eq!(problem.errors[0].message, PRICE_RULE);
    let most = create_book(&admin, new_book(author.id, "1000000.00")).await;
    assert_eq!(most.unwrap().price.as_str(), "1000000.00");
}

#[tokio::test]
async fn the_served_contract_admits_exactly_the_prices_the_server_stores() {
    // The price pattern of the contract the server serves, run as ECMAScript (as a client
    // or a generator validating by it would), against what the server does with each text.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Gutenberg").await;
    let (_, spec) = raw_get(&app.client, "/openapi.json").await;
    let kinds = spec["components"]["schemas"]["PriceInput"]["anyOf"]
        .as_array()
        .expect("PriceInput is anyOf");
    assert_eq!(kinds[0]["type"], "string");
    assert_eq!(
        kinds[1]["type"], "number",
        "a price may be a JSON number too"
    );
    let pattern = kinds[0]["pattern"].as_str().expect("a price pattern");
    let pattern = regress::Regex::new(pattern).expect("an ECMAScript pattern");
    let prices = [
        "12",
        "12.5",
        "12.50",
        "0.01",
        "0.1",
        "007.05",
        "0000000000000012.50",
        "999999.99",
        "1000000",
        "1000000.00",
        "1000000.01",
        "1234567.89",
        "999999999999.99",
        "0",
        "0.00",
        "12.345",
        "-1",
        "+1",
        "1e3",
        " 12",
        "12.",
        ".5",
        "",
        "1,00",
    ];

    for price in prices {
        let admitted = pattern.find(price).is_some();
        let resp = admin
            .client()
            .post(format!("{}/api/v1/books", admin.baseurl()))
            .json(&serde_json::json!({"title": "Priced", "author_id": author.id, "price": price}))
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.expect("a JSON body");

        assert_eq!(admitted, status == 201, "price {price:?}: {status} {body}");
        if !admitted {
            assert_eq!(body["errors"][0]["field"], "price", "{price:?}: {body}");
        }
    }
}

#[tokio::test]
async fn only_an_admin_may_create_a_book() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer, _) = app.customer().await;
    let author = app.author(&admin, "Anyone").await;

    let as_customer = create_book(&customer, new_book(author.id, "9.99")).await;
    let anonymous = create_book(&app.client, new_book(author.id, "9.99")).await;
    let listed = app.client.list_books().send().await.unwrap();

    assert_problem(as_customer, 403, "admin_required");
    assert_problem(anonymous, 401, "unauthorized");
    assert_eq!(listed.total, 0);
}

#[tokio::test]
async fn books_are_filtered_by_author() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let tolkien = app.author(&admin, "Tolkien").await;
    let lewis = app.author(&admin, "Lewis").await;
    app.book_by(&admin, tolkien.id, "The Hobbit", "10.00").await;
    app.book_by(&admin, lewis.id, "Perelandra", "10.00").await;
    app.book_by(&admin, tolkien.id, "The Silmarillion", "10.00")
        .await;

    let page = app
        .client
        .list_books()
        .author_id(tolkien.id)
        .send()
        .await
        .unwrap();

    assert_eq!(titles(&page), ["The Hobbit", "The Silmarillion"]);
    assert_eq!(page.total, 2);
}

#[tokio::test]
async fn books_are_filtered_by_a_title_substring_ignoring_case() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Various").await;
    for title in ["The Left Hand of Darkness", "Darkness Visible", "Dune"] {
        app.book_by(&admin, author.id, title, "5.00").await;
    }

    let page = app.client.list_books().q("dARKness").send().await.unwrap();

    assert_eq!(
        titles(&page),
        ["The Left Hand of Darkness", "Darkness Visible"]
    );
    assert_eq!(page.total, 2);
}

#[tokio::test]
async fn the_title_filter_ignores_case_beyond_ascii_and_follows_renames() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Various").await;
    app.book_by(&admin, author.id, "ÉTUDES DE ÇA", "5.00").await;
    let renamed = app.book_by(&admin, author.id, "Draft", "5.00").await;
    admin
        .update_book()
        .id(renamed.id)
        .body(types::BookUpdate {
            title: Some(valid("Ödön's Óda")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();

    let accented = app
        .client
        .list_books()
        .q("études de ça")
        .send()
        .await
        .unwrap();
    let after_rename = app.client.list_books().q("ÖDÖN").send().await.unwrap();
    let before_rename = app.client.list_books().q("draft").send().await.unwrap();

    assert_eq!(titles(&accented), ["ÉTUDES DE ÇA"]);
    assert_eq!(titles(&after_rename), ["Ödön's Óda"]);
    assert_eq!(before_rename.total, 0);
}

#[tokio::test]
async fn percent_and_underscore_in_the_title_filter_match_literally() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Marketer").await;
    for title in ["50% off", "500 offers", "snake_case", "snakeXcase"] {
        app.book_by(&admin, author.id, title, "5.00").await;
    }

    let percent = app.client.list_books().q("50%").send().await.unwrap();
    let underscore = app.client.list_books().q("e_c").send().await.unwrap();

    assert_eq!(titles(&percent), ["50% off"]);
    assert_eq!(titles(&underscore), ["snake_case"]);
}

#[tokio::test]
async fn price_bounds_are_inclusive() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Pricer").await;
    for price in ["9.99", "10.00", "15.00", "20.00", "20.01"] {
        app.book_by(&admin, author.id, price, price).await;
    }

    let both = app
        .client
        .list_books()
        .min_price("10")
        .max_price("20.00")
        .send()
        .await
        .unwrap();
    let min_only = app
        .client
        .list_books()
        .min_price("20")
        .send()
        .await
        .unwrap();
    let max_only = app
        .client
        .list_books()
        .max_price("9.99")
        .send()
        .await
        .unwrap();

    assert_eq!(titles(&both), ["10.00", "15.00", "20.00"]);
    assert_eq!(titles(&min_only), ["20.00", "20.01"]);
    assert_eq!(titles(&max_only), ["9.99"]);
}

#[tokio::test]
async fn filters_combine_and_the_total_counts_only_matches() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let herbert = app.author(&admin, "Herbert").await;
    let other = app.author(&admin, "Other").await;
    app.book_by(&admin, herbert.id, "Dune", "9.00").await;
    app.book_by(&admin, herbert.id, "Dune Messiah", "12.00")
        .await;
    app.book_by(&admin, herbert.id, "Children of Dune", "14.00")
        .await;
    app.book_by(&admin, herbert.id, "The Dosadi Experiment", "12.00")
        .await;
    app.book_by(&admin, other.id, "Dune: A Parody", "12.00")
        .await;

    let page = app
        .client
        .list_books()
        .author_id(herbert.id)
        .q("dune")
        .min_price("10.00")
        .max_price("13.00")
        .send()
        .await
        .unwrap();
    let first_only = app
        .client
        .list_books()
        .q("dune")
        .limit(1)
        .send()
        .await
        .unwrap();

    assert_eq!(titles(&page), ["Dune Messiah"]);
    assert_eq!(page.total, 1);
    assert_eq!(titles(&first_only), ["Dune"]);
    assert_eq!(first_only.total, 4);
}

#[tokio::test]
async fn a_minimum_price_above_the_maximum_matches_no_book() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.book(&admin, "Fifteen", "15.00").await;

    let page = app
        .client
        .list_books()
        .min_price("20.00")
        .max_price("10.00")
        .send()
        .await
        .unwrap();

    assert_eq!(page.total, 0);
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn a_missing_book_is_not_found_to_read_change_or_delete() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let missing = Uuid::now_v7();

    let get = app.client.get_book().id(missing).send().await;
    let patch = admin
        .update_book()
        .id(missing)
        .body(types::BookUpdate {
            title: Some(valid("Ghost")),
            ..Default::default()
        })
        .send()
        .await;
    let delete = admin.delete_book().id(missing).send().await;

    assert_problem(get, 404, "not_found");
    assert_problem(patch, 404, "not_found");
    assert_problem(delete, 404, "not_found");
}

#[tokio::test]
async fn admin_changes_a_books_price_and_author() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Misattributed", "10.00").await;
    let rightful = app.author(&admin, "Rightful Author").await;

    let updated = admin
        .update_book()
        .id(book.id)
        .body(types::BookUpdate {
            author_id: Some(rightful.id),
            price: Some(money("8.5")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let fetched = app.client.get_book().id(book.id).send().await.unwrap();

    assert_eq!(updated.author_id, rightful.id);
    assert_eq!(updated.price.as_str(), "8.50");
    assert_eq!(updated.title, "Misattributed");
    assert_eq!(
        (fetched.author_id, fetched.price.as_str()),
        (rightful.id, "8.50")
    );
}

/// As for authors: the generated client cannot send `null`, so `""` clears a description.
#[tokio::test]
async fn an_empty_description_clears_it_and_keeps_the_rest() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Describer").await;
    let date = NaiveDate::from_ymd_opt(2001, 9, 1).unwrap();
    let book = create_book(
        &admin,
        types::BookCreate {
            description: Some(valid("Too long a blurb.")),
            published_at: Some(date),
            ..new_book(author.id, "3.00")
        },
    )
    .await
    .unwrap();

    let updated = admin
        .update_book()
        .id(book.id)
        .body(types::BookUpdate {
            description: Some(valid("")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();

    assert_eq!(updated.description, None);
    assert_eq!(updated.published_at, Some(date));
    assert_eq!(updated.price.as_str(), "3.00");
}

#[tokio::test]
async fn moving_a_book_to_a_missing_author_fails_validation_and_keeps_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Anchored", "10.00").await;

    let result = admin
        .update_book()
        .id(book.id)
        .body(types::BookUpdate {
            author_id: Some(Uuid::now_v7()),
            ..Default::default()
        })
        .send()
        .await;
    let fetched = app.client.get_book().id(book.id).send().await.unwrap();

    let problem = assert_problem(result, 422, "validation_failed");
    assert_eq!(fields(&problem), ["author_id"]);
    assert_eq!(fetched.author_id, book.author_id);
}

#[tokio::test]
async fn patching_a_zero_price_is_refused_naming_price() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Priced", "10.00").await;

    let result = admin
        .update_book()
        .id(book.id)
        .body(types::BookUpdate {
            price: Some(money("0.00")),
            ..Default::default()
        })
        .send()
        .await;

    let problem = assert_problem(result, 422, "invalid_request");
    assert_eq!(fields(&problem), ["price"]);
    let fetched = app.client.get_book().id(book.id).send().await.unwrap();
    assert_eq!(fetched.price.as_str(), "10.00");
}

#[tokio::test]
async fn a_customer_can_neither_change_nor_delete_a_book() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer, _) = app.customer().await;
    let book = app.book(&admin, "Guarded", "10.00").await;

    let patch = customer
        .update_book()
        .id(book.id)
        .body(types::BookUpdate {
            price: Some(money("0.01")),
            ..Default::default()
        })
        .send()
        .await;
    let delete = customer.delete_book().id(book.id).send().await;
    let fetched = app.client.get_book().id(book.id).send().await.unwrap();

    assert_problem(patch, 403, "admin_required");
    assert_problem(delete, 403, "admin_required");
    assert_eq!(fetched.price.as_str(), "10.00");
}

#[tokio::test]
async fn admin_deletes_a_book_which_is_then_gone() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Pulped", "1.00").await;

    let deleted = admin.delete_book().id(book.id).send().await.unwrap();
    let after = app.client.get_book().id(book.id).send().await;
    let author_now_deletable = admin.delete_author().id(book.author_id).send().await;

    assert_eq!(deleted.status().as_u16(), 204);
    assert_problem(after, 404, "not_found");
    assert!(author_now_deletable.is_ok(), "{author_now_deletable:?}");
}

#[tokio::test]
async fn deleting_a_book_that_has_an_order_is_a_conflict_and_keeps_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer, _) = app.customer().await;
    let book = app.book(&admin, "Bestseller", "10.00").await;
    customer
        .create_order()
        .body(types::OrderCreate {
            book_id: book.id,
            quantity: NonZeroU32::new(1).unwrap(),
        })
        .send()
        .await
        .expect("placing an order succeeds");

    let result = admin.delete_book().id(book.id).send().await;
    let still_there = app.client.get_book().id(book.id).send().await;

    assert_problem(result, 409, "book_has_orders");
    assert!(still_there.is_ok(), "{still_there:?}");
}

// Paging

#[tokio::test]
async fn a_limit_of_zero_is_an_invalid_request() {
    let app = TestApp::spawn().await;

    for path in ["/api/v1/authors?limit=0", "/api/v1/books?limit=0"] {
        let (status, body) = raw_get(&app.client, path).await;

        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_request"))
        );
        assert_eq!(body["status"], 422, "{path}");
    }
}

#[tokio::test]
async fn a_limit_above_one_hundred_is_an_invalid_request() {
    let app = TestApp::spawn().await;

    let authors = app.client.list_authors().limit(101).send().await;
    let books = app.client.list_books().limit(101).send().await;

    assert_problem(authors, 422, "invalid_request");
    assert_problem(books, 422, "invalid_request");
}

#[tokio::test]
async fn a_limit_of_one_hundred_is_accepted() {
    let app = TestApp::spawn().await;

    let authors = app.client.list_authors().limit(100).send().await.unwrap();
    let books = app.client.list_books().limit(100).send().await.unwrap();

    assert_eq!((authors.limit, books.limit), (100, 100));
}

#[tokio::test]
async fn a_negative_offset_is_an_invalid_request() {
    let app = TestApp::spawn().await;

    let authors = app.client.list_authors().offset(-1).send().await;
    let books = app.client.list_books().offset(-1).send().await;

    assert_problem(authors, 422, "invalid_request");
    assert_problem(books, 422, "invalid_request");
}

#[tokio::test]
async fn totals_stay_exact_through_concurrent_creates_and_deletes() {
    // Arrange: books created concurrently, some deleted, one delete refused.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer, _) = app.customer().await;
    let author = app.author(&admin, "Counted").await;
    let created: Vec<types::Book> = futures::future::join_all((0..12).map(|n| {
        let (app, admin) = (&app, &admin);
        async move {
            app.book_by(admin, author.id, &format!("Copy {n}"), "2.00")
                .await
        }
    }))
    .await;
    customer
        .create_order()
        .body(types::OrderCreate {
            book_id: created[0].id,
            quantity: NonZeroU32::new(1).unwrap(),
        })
        .send()
        .await
        .expect("placing an order succeeds");
    let deletes = futures::future::join_all(
        created[..4]
            .iter()
            .map(|book| async { admin.delete_book().id(book.id).send().await }),
    )
    .await;
    let authorless = app.author(&admin, "Short-lived").await;
    admin
        .delete_author()
        .id(authorless.id)
        .send()
        .await
        .expect("an author without books is deleted");

    // Act: the unfiltered totals, and the same sets through filters that match them all.
    let all_books = app.client.list_books().limit(100).send().await.unwrap();
    let filtered_books = app
        .client
        .list_books()
        .min_price(money("0.00"))
        .limit(100)
        .send()
        .await
        .unwrap();
    let authors = app.client.list_authors().send().await.unwrap();

    // Assert: one book kept by its order, three deleted, nine left; one author left.
    let mut deletes = deletes.into_iter();
    let refused = deletes.next().expect("four deletes");
    assert_problem(refused, 409, "book_has_orders");
    for delete in deletes {
        let deleted = delete.expect("a book without orders is deleted");
        assert_eq!(deleted.status().as_u16(), 204);
    }
    assert_eq!(all_books.total, 9);
    assert_eq!(all_books.items.len(), 9);
    assert_eq!(filtered_books.total, all_books.total);
    assert_eq!((authors.total, authors.items.len()), (1, 1));
}

#[tokio::test]
async fn an_offset_beyond_the_end_gives_an_empty_page_and_the_total() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Only One", "1.00").await;
    app.author(&admin, "Second Author").await;

    let authors = app.client.list_authors().offset(5).send().await.unwrap();
    let books = app
        .client
        .list_books()
        .author_id(book.author_id)
        .offset(1)
        .send()
        .await
        .unwrap();

    assert!(authors.items.is_empty());
    assert_eq!((authors.total, authors.offset), (2, 5));
    assert!(books.items.is_empty());
    assert_eq!((books.total, books.offset), (1, 1));
}

#[tokio::test]
async fn pages_default_to_twenty_oldest_first_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Prolific").await;
    let mut created = Vec::new();
    for n in 0..23 {
        let book = app
            .book_by(&admin, author.id, &format!("Volume {n}"), "1.00")
            .await;
        created.push(book.id);
    }

    let first = app.client.list_books().send().await.unwrap().into_inner();
    let second = app
        .client
        .list_books()
        .offset(first.limit)
        .send()
        .await
        .unwrap()
        .into_inner();
    let authors = app.client.list_authors().send().await.unwrap();

    assert_eq!((first.limit, first.offset, first.total), (20, 0, 23));
    assert_eq!(first.items.len(), 20);
    assert_eq!(second.items.len(), 3);
    let listed: Vec<Uuid> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|b| b.id)
        .collect();
    assert_eq!(listed, created);
    assert_eq!(listed.iter().collect::<HashSet<_>>().len(), 23);
    assert_eq!(authors.limit, 20);
}
