//! Orders: exact totals, visibility, the status life cycle, concurrency.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::num::NonZeroU32;

use bookstore_tests::api_client::types::{self, OrderStatus};
use bookstore_tests::api_client::{Client, ClientInfo, Error};
use bookstore_tests::{Backend, PASSWORD, TestApp, assert_problem, money};
use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

use OrderStatus::{Cancelled, Delivered, Paid, Pending, Shipped};

const ALL: [OrderStatus; 5] = [Pending, Paid, Shipped, Delivered, Cancelled];

/// Exactly the moves the life cycle allows.
const ALLOWED: [(OrderStatus, OrderStatus); 5] = [
    (Pending, Paid),
    (Pending, Cancelled),
    (Paid, Shipped),
    (Paid, Cancelled),
    (Shipped, Delivered),
];

type Answer<T> = Result<bookstore_tests::api_client::ResponseValue<T>, Error<types::Problem>>;

/// A server with an administrator, one customer and one book at 12.50.
struct Shop {
    app: TestApp,
    admin: Client,
    customer: Client,
    customer_id: Uuid,
    book: types::Book,
}

impl Shop {
    async fn open() -> Self {
        let app = TestApp::spawn().await;
        let admin = app.admin().await;
        let (customer, user) = app.customer().await;
        let book = app.book(&admin, "The Dispossessed", "12.50").await;
        Self {
            app,
            admin,
            customer,
            customer_id: user.id,
            book,
        }
    }

    /// A new pending order of `quantity` copies of the shop's book by `client`.
    async fn order(&self, client: &Client, quantity: u32) -> types::Order {
        place(client, self.book.id, quantity).await
    }

    /// A new order of the customer's, moved by the administrator into `status`.
    async fn order_in(&self, status: OrderStatus) -> types::Order {
        let mut order = self.order(&self.customer, 1).await;
        for &step in path_to(status) {
            order = change(&self.admin, order.id, step)
                .await
                .unwrap_or_else(|e| panic!("moving to {step} on the way to {status}: {e:?}"))
                .into_inner();
        }
        assert_eq!(order.status, status);
        order
    }

    /// The order as the administrator sees it now.
    async fn current(&self, id: Uuid) -> types::Order {
        self.admin
            .get_order()
            .id(id)
            .send()
            .await
            .expect("the order exists")
            .into_inner()
    }
}

/// The moves that take a new (pending) order into `status`.
fn path_to(status: OrderStatus) -> &'static [OrderStatus] {
    match status {
        Pending => &[],
        Paid => &[Paid],
        Shipped => &[Paid, Shipped],
        Delivered => &[Paid, Shipped, Delivered],
        Cancelled => &[Cancelled],
    }
}

async fn place(client: &Client, book_id: Uuid, quantity: u32) -> types::Order {
    client
        .create_order()
        .body(types::OrderCreate {
            book_id,
            quantity: NonZeroU32::new(quantity).expect("a positive quantity"),
        })
        .send()
        .await
        .expect("placing the order succeeds")
        .into_inner()
}

async fn change(client: &Client, id: Uuid, status: OrderStatus) -> Answer<types::Order> {
    client
        .update_order()
        .id(id)
        .body(types::OrderStatusUpdate { status })
        .send()
        .await
}

/// The bearer token of a new customer, for requests the typed client cannot express.
async fn customer_token(app: &TestApp) -> String {
    let email = format!("raw-{}@example.com", Uuid::new_v4().simple());
    app.signup(&email, PASSWORD).await;
    app.login(&email, PASSWORD).await.1.access_token
}

/// Posts `body` as it is to the create-order operation, with the client's own HTTP client.
async fn post_raw_order(app: &TestApp, token: &str, body: &serde_json::Value) -> reqwest::Response {
    app.client
        .client()
        .post(format!("{}/api/v1/orders", app.client.baseurl()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("the server answers")
}

/// A raw answer that must be the documented problem with `status` and `code`.
async fn assert_raw_problem(resp: reqwest::Response, status: u16, code: &str) -> types::Problem {
    assert_eq!(resp.status().as_u16(), status);
    let problem: types::Problem = resp.json().await.expect("a problem body");
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (i32::from(status), code),
        "{problem:?}"
    );
    problem
}

// ---------------------------------------------------------------------------------------
// Placing orders
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_new_order_belongs_to_the_caller_and_starts_pending() {
    let shop = Shop::open().await;

    let answer = shop
        .customer
        .create_order()
        .body(types::OrderCreate {
            book_id: shop.book.id,
            quantity: NonZeroU32::new(2).unwrap(),
        })
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status().as_u16(), 201);
    let order = answer.into_inner();
    assert_eq!(order.user_id, shop.customer_id);
    assert_eq!(order.book_id, shop.book.id);
    assert_eq!(order.quantity, 2);
    assert_eq!(order.status, Pending);
    assert_eq!(*order.total_amount, "25.00");
}

#[tokio::test]
async fn order_totals_are_exactly_price_times_quantity() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer, _) = app.customer().await;
    let cases = [
        ("0.10", 3, "0.30"),
        ("19.99", 1000, "19990.00"),
        ("1000000.00", 1000, "1000000000.00"),
        ("0.01", 1, "0.01"),
    ];

    for (price, quantity, expected) in cases {
        let book = app.book(&admin, "Priced", price).await;

        let order = place(&customer, book.id, quantity).await;

        assert_eq!(*order.total_amount, expected, "{price} × {quantity}");
    }
}

#[tokio::test]
async fn a_total_sent_by_the_client_is_ignored() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "The Lathe of Heaven", "19.99").await;
    let token = customer_token(&app).await;

    let resp = post_raw_order(
        &app,
        &token,
        &json!({ "book_id": book.id, "quantity": 3, "total_amount": "0.01" }),
    )
    .await;

    assert_eq!(resp.status().as_u16(), 201);
    let order: types::Order = resp.json().await.unwrap();
    assert_eq!(*order.total_amount, "59.97");
}

#[tokio::test]
async fn an_order_keeps_the_price_it_was_placed_at() {
    let shop = Shop::open().await;
    let before = shop.order(&shop.customer, 2).await;

    shop.admin
        .update_book()
        .id(shop.book.id)
        .body(types::BookUpdate {
            author_id: None,
            description: None,
            price: Some(money("99.00")),
            published_at: None,
            title: None,
        })
        .send()
        .await
        .unwrap();
    let after = shop.order(&shop.customer, 2).await;

    assert_eq!(*shop.current(before.id).await.total_amount, "25.00");
    assert_eq!(*after.total_amount, "198.00");
}

#[tokio::test]
async fn a_quantity_outside_1_to_1000_is_unprocessable() {
    let shop = Shop::open().await;
    let token = customer_token(&shop.app).await;

    for quantity in [0, -1, 1001] {
        let resp = post_raw_order(
            &shop.app,
            &token,
            &json!({ "book_id": shop.book.id, "quantity": quantity }),
        )
        .await;
        assert_raw_problem(resp, 422, "invalid_request").await;
    }
    // The typed client can express 1001: the answer is the same documented problem.
    let typed = shop
        .customer
        .create_order()
        .body(types::OrderCreate {
            book_id: shop.book.id,
            quantity: NonZeroU32::new(1001).unwrap(),
        })
        .send()
        .await;
    assert_problem(typed, 422, "invalid_request");
    let all = shop.admin.list_orders().send().await.unwrap().into_inner();
    assert_eq!(all.total, 0, "no order was placed");
}

#[tokio::test]
async fn ordering_a_missing_book_fails_validation_on_book_id() {
    let shop = Shop::open().await;

    let result = shop
        .customer
        .create_order()
        .body(types::OrderCreate {
            book_id: Uuid::now_v7(),
            quantity: NonZeroU32::new(1).unwrap(),
        })
        .send()
        .await;

    let problem = assert_problem(result, 422, "validation_failed");
    let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["book_id"]);
}

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_order_operation_requires_a_valid_token() {
    let shop = Shop::open().await;
    let order = shop.order(&shop.customer, 1).await;
    let unknown = shop.app.with_token("not-a-session");

    for client in [&shop.app.client, &unknown] {
        let create = client
            .create_order()
            .body(types::OrderCreate {
                book_id: shop.book.id,
                quantity: NonZeroU32::new(1).unwrap(),
            })
            .send()
            .await;
        let list = client.list_orders().send().await;
        let get = client.get_order().id(order.id).send().await;
        let patch = change(client, order.id, Cancelled).await;
        let delete = client.delete_order().id(order.id).send().await;

        for result in [
            create.map(|_| ()),
            list.map(|_| ()),
            get.map(|_| ()),
            patch.map(|_| ()),
            delete.map(|_| ()),
        ] {
            let Err(Error::ErrorResponse(resp)) = result else {
                panic!("expected a documented 401, got {result:?}");
            };
            assert_eq!(
                resp.headers().get("www-authenticate").unwrap(),
                "Bearer",
                "the challenge is sent"
            );
            assert_problem::<()>(Err(Error::ErrorResponse(resp)), 401, "unauthorized");
        }
    }
    let unchanged = shop.current(order.id).await;
    assert_eq!(unchanged.status, Pending);
    let all = shop.admin.list_orders().send().await.unwrap().into_inner();
    assert_eq!(all.total, 1, "no order was placed anonymously");
}

// ---------------------------------------------------------------------------------------
// Visibility
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_customer_sees_their_own_order() {
    let shop = Shop::open().await;
    let placed = shop.order(&shop.customer, 3).await;

    let seen = shop
        .customer
        .get_order()
        .id(placed.id)
        .send()
        .await
        .unwrap()
        .into_inner();

    assert_eq!(seen.id, placed.id);
    assert_eq!(seen.user_id, shop.customer_id);
    assert_eq!(seen.quantity, 3);
    assert_eq!(*seen.total_amount, "37.50");
    assert_eq!(seen.status, Pending);
}

#[tokio::test]
async fn another_customers_order_is_not_found_like_a_missing_one() {
    let shop = Shop::open().await;
    let placed = shop.order(&shop.customer, 1).await;
    let (stranger, _) = shop.app.customer().await;

    let theirs = stranger.get_order().id(placed.id).send().await;
    let missing = stranger.get_order().id(Uuid::now_v7()).send().await;

    let theirs = assert_problem(theirs, 404, "not_found");
    let missing = assert_problem(missing, 404, "not_found");
    assert_eq!(theirs.detail, missing.detail, "nothing tells them apart");
}

#[tokio::test]
async fn the_admin_sees_any_order() {
    let shop = Shop::open().await;
    let placed = shop.order(&shop.customer, 1).await;

    let seen = shop.admin.get_order().id(placed.id).send().await;

    let seen = seen.unwrap().into_inner();
    assert_eq!(seen.id, placed.id);
    assert_eq!(seen.user_id, shop.customer_id);
}

#[tokio::test]
async fn a_customer_lists_only_their_own_orders() {
    let shop = Shop::open().await;
    let (other, _) = shop.app.customer().await;
    let mine = [
        shop.order(&shop.customer, 1).await.id,
        shop.order(&shop.customer, 2).await.id,
    ];
    shop.order(&other, 1).await;
    shop.order(&shop.admin, 1).await;

    let page = shop
        .customer
        .list_orders()
        .send()
        .await
        .unwrap()
        .into_inner();

    assert_eq!(page.total, 2);
    let ids: Vec<_> = page.items.iter().map(|o| o.id).collect();
    assert_eq!(ids, mine, "only theirs, oldest first");
    assert!(page.items.iter().all(|o| o.user_id == shop.customer_id));
}

#[tokio::test]
async fn the_admin_lists_everyones_orders() {
    let shop = Shop::open().await;
    let (other, other_user) = shop.app.customer().await;
    let placed = [
        shop.order(&shop.customer, 1).await,
        shop.order(&other, 1).await,
        shop.order(&shop.admin, 1).await,
    ];

    let page = shop.admin.list_orders().send().await.unwrap().into_inner();

    assert_eq!(page.total, 3);
    let ids: Vec<_> = page.items.iter().map(|o| o.id).collect();
    let expected: Vec<_> = placed.iter().map(|o| o.id).collect();
    assert_eq!(ids, expected);
    assert_eq!(page.items[1].user_id, other_user.id);
}

#[tokio::test]
async fn the_status_filter_lists_only_orders_in_that_status() {
    let shop = Shop::open().await;
    let mut by_status = Vec::new();
    for status in ALL {
        by_status.push((status, shop.order_in(status).await.id));
    }
    let foreign_paid = shop.order(&shop.admin, 1).await;
    change(&shop.admin, foreign_paid.id, Paid).await.unwrap();

    for (status, id) in by_status {
        let own = shop
            .customer
            .list_orders()
            .status(status)
            .send()
            .await
            .unwrap()
            .into_inner();
        let all = shop
            .admin
            .list_orders()
            .status(status)
            .send()
            .await
            .unwrap()
            .into_inner();

        let own_ids: Vec<_> = own.items.iter().map(|o| o.id).collect();
        assert_eq!(own_ids, [id], "customer, {status}");
        assert_eq!(own.total, 1, "customer, {status}");
        let expected_all = if status == Paid { 2 } else { 1 };
        assert_eq!(all.total, expected_all, "admin, {status}");
        assert!(
            all.items.iter().all(|o| o.status == status),
            "admin, {status}"
        );
    }
}

#[tokio::test]
async fn an_unknown_status_filter_is_unprocessable() {
    let shop = Shop::open().await;

    let resp = shop
        .customer
        .client()
        .get(format!("{}/api/v1/orders", shop.customer.baseurl()))
        .query(&[("status", "lost")])
        .send()
        .await
        .unwrap();

    assert_raw_problem(resp, 422, "invalid_request").await;
}

#[tokio::test]
async fn order_lists_are_paged_oldest_first() {
    let shop = Shop::open().await;
    let mut placed = Vec::new();
    for quantity in 1..=5 {
        placed.push(shop.order(&shop.customer, quantity).await.id);
    }

    let first = shop
        .customer
        .list_orders()
        .send()
        .await
        .unwrap()
        .into_inner();
    let middle = shop
        .customer
        .list_orders()
        .limit(2u64)
        .offset(2)
        .send()
        .await
        .unwrap()
        .into_inner();
    let beyond = shop
        .customer
        .list_orders()
        .offset(5)
        .send()
        .await
        .unwrap()
        .into_inner();

    assert_eq!((first.total, first.limit, first.offset), (5, 20, 0));
    let first_ids: Vec<_> = first.items.iter().map(|o| o.id).collect();
    assert_eq!(first_ids, placed);
    assert_eq!((middle.total, middle.limit, middle.offset), (5, 2, 2));
    let middle_ids: Vec<_> = middle.items.iter().map(|o| o.id).collect();
    assert_eq!(middle_ids, placed[2..4]);
    assert_eq!((beyond.total, beyond.offset), (5, 5));
    assert!(beyond.items.is_empty());
}

#[tokio::test]
async fn paging_parameters_out_of_range_are_unprocessable() {
    let shop = Shop::open().await;

    let too_many = shop.customer.list_orders().limit(101u64).send().await;
    let negative = shop.customer.list_orders().offset(-1).send().await;

    assert_problem(too_many, 422, "invalid_request");
    assert_problem(negative, 422, "invalid_request");
}

// ---------------------------------------------------------------------------------------
// The life cycle
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_admin_makes_every_allowed_move() {
    let shop = Shop::open().await;

    for (from, to) in ALLOWED {
        let order = shop.order_in(from).await;

        let moved = change(&shop.admin, order.id, to).await;

        let moved = moved
            .unwrap_or_else(|e| panic!("{from} -> {to}: {e:?}"))
            .into_inner();
        assert_eq!(moved.status, to, "{from} -> {to}");
        assert_eq!(moved.created_at, order.created_at);
        assert!(moved.updated_at >= order.updated_at, "{from} -> {to}");
        assert_eq!(*moved.total_amount, *order.total_amount);
        assert_eq!(shop.current(order.id).await.status, to, "{from} -> {to}");
    }
}

#[tokio::test]
async fn every_other_move_is_an_illegal_transition_and_changes_nothing() {
    let shop = Shop::open().await;
    let illegal: Vec<_> = ALL
        .into_iter()
        .flat_map(|from| ALL.into_iter().map(move |to| (from, to)))
        .filter(|pair| !ALLOWED.contains(pair))
        .collect();
    // Every same-status move and every move out of a final status is among them.
    assert_eq!(illegal.len(), 20);

    for (from, to) in illegal {
        let order = shop.order_in(from).await;

        let result = change(&shop.admin, order.id, to).await;

        assert_problem(result, 409, "illegal_transition");
        let now = shop.current(order.id).await;
        assert_eq!(now.status, from, "{from} -> {to} left the status alone");
        assert_eq!(now.updated_at, order.updated_at, "{from} -> {to}");
    }
}

#[tokio::test]
async fn the_owner_may_cancel_a_pending_or_paid_order() {
    let shop = Shop::open().await;

    for from in [Pending, Paid] {
        let order = shop.order_in(from).await;

        let cancelled = change(&shop.customer, order.id, Cancelled).await;

        let cancelled = cancelled
            .unwrap_or_else(|e| panic!("cancelling from {from}: {e:?}"))
            .into_inner();
        assert_eq!(cancelled.status, Cancelled);
        assert_eq!(shop.current(order.id).await.status, Cancelled);
    }
}

#[tokio::test]
async fn the_owner_cannot_cancel_once_shipped_or_final() {
    let shop = Shop::open().await;

    for from in [Shipped, Delivered, Cancelled] {
        let order = shop.order_in(from).await;

        let result = change(&shop.customer, order.id, Cancelled).await;

        assert_problem(result, 409, "illegal_transition");
        assert_eq!(shop.current(order.id).await.status, from);
    }
}

#[tokio::test]
async fn the_owner_asking_for_anything_but_cancelled_is_forbidden() {
    let shop = Shop::open().await;
    let cases = [
        (Pending, Paid),
        (Pending, Shipped),
        (Pending, Delivered),
        (Pending, Pending),
        (Paid, Shipped),
        (Shipped, Delivered),
    ];

    for (from, to) in cases {
        let order = shop.order_in(from).await;

        let result = change(&shop.customer, order.id, to).await;

        assert_problem(result, 403, "cancel_only");
        assert_eq!(shop.current(order.id).await.status, from, "{from} -> {to}");
    }
}

#[tokio::test]
async fn another_customer_changing_an_order_gets_not_found() {
    let shop = Shop::open().await;
    let (stranger, _) = shop.app.customer().await;

    for to in [Cancelled, Paid] {
        let order = shop.order(&shop.customer, 1).await;

        let result = change(&stranger, order.id, to).await;

        assert_problem(result, 404, "not_found");
        assert_eq!(shop.current(order.id).await.status, Pending);
    }
}

#[tokio::test]
async fn changing_a_missing_order_is_not_found() {
    let shop = Shop::open().await;

    let result = change(&shop.admin, Uuid::now_v7(), Paid).await;

    assert_problem(result, 404, "not_found");
}

#[tokio::test]
async fn an_unknown_status_value_is_unprocessable() {
    let shop = Shop::open().await;
    let order = shop.order(&shop.customer, 1).await;

    let resp = shop
        .admin
        .client()
        .patch(format!(
            "{}/api/v1/orders/{}",
            shop.admin.baseurl(),
            order.id
        ))
        .json(&json!({ "status": "refunded" }))
        .send()
        .await
        .unwrap();

    assert_raw_problem(resp, 422, "invalid_request").await;
    assert_eq!(shop.current(order.id).await.status, Pending);
}

// ---------------------------------------------------------------------------------------
// Deleting
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_admin_deletes_an_order_and_it_is_gone() {
    let shop = Shop::open().await;
    let order = shop.order(&shop.customer, 1).await;

    let deleted = shop.admin.delete_order().id(order.id).send().await.unwrap();

    assert_eq!(deleted.status().as_u16(), 204);
    let get = shop.admin.get_order().id(order.id).send().await;
    assert_problem(get, 404, "not_found");
    let again = shop.admin.delete_order().id(order.id).send().await;
    assert_problem(again, 404, "not_found");
    let own = shop
        .customer
        .list_orders()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.total, 0);
}

#[tokio::test]
async fn a_customer_may_not_delete_even_their_own_order() {
    let shop = Shop::open().await;
    let order = shop.order(&shop.customer, 1).await;

    let result = shop.customer.delete_order().id(order.id).send().await;

    assert_problem(result, 403, "admin_required");
    assert_eq!(shop.current(order.id).await.id, order.id);
}

#[tokio::test]
async fn deleting_a_missing_order_is_not_found() {
    let shop = Shop::open().await;

    let result = shop.admin.delete_order().id(Uuid::now_v7()).send().await;

    assert_problem(result, 404, "not_found");
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_orders_all_succeed_with_exact_totals() {
    let shop = Shop::open().await;
    let mut customers = Vec::new();
    for _ in 0..5 {
        customers.push(shop.app.customer().await);
    }

    // 10 orders per customer, quantities 1..=50: price 12.50 gives 1250 cents each.
    let attempts = (0..50u32).map(|i| {
        let (client, user) = &customers[(i % 5) as usize];
        let quantity = i + 1;
        async move {
            let answer = client
                .create_order()
                .body(types::OrderCreate {
                    book_id: shop.book.id,
                    quantity: NonZeroU32::new(quantity).unwrap(),
                })
                .send()
                .await;
            (user.id, quantity, answer)
        }
    });
    let answers = join_all(attempts).await;

    for (user_id, quantity, answer) in answers {
        let answer = answer.unwrap_or_else(|e| panic!("quantity {quantity}: {e:?}"));
        assert_eq!(answer.status().as_u16(), 201);
        let order = answer.into_inner();
        let cents = 1250 * u64::from(quantity);
        assert_eq!(
            *order.total_amount,
            format!("{}.{:02}", cents / 100, cents % 100)
        );
        assert_eq!(order.user_id, user_id);
        assert_eq!(order.status, Pending);
    }
    let all = shop.admin.list_orders().send().await.unwrap().into_inner();
    assert_eq!(all.total, 50);
    for (client, _) in &customers {
        let own = client.list_orders().send().await.unwrap().into_inner();
        assert_eq!(own.total, 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_simultaneous_moves_that_exclude_each_other_exactly_one_wins() {
    let shop = Shop::open().await;

    // Shipping and cancelling a paid order exclude each other in either order. Several
    // rounds, so that either side gets its chance to be first.
    for round in 0..10 {
        let order = shop.order_in(Paid).await;

        let (shipped, cancelled) = tokio::join!(
            change(&shop.admin, order.id, Shipped),
            change(&shop.customer, order.id, Cancelled),
        );

        let winner = match (shipped, cancelled) {
            (Ok(won), lost) | (lost, Ok(won)) => {
                assert_problem(lost, 409, "illegal_transition");
                won.into_inner().status
            }
            (Err(a), Err(b)) => panic!("round {round}: both failed: {a:?} / {b:?}"),
        };
        assert_eq!(shop.current(order.id).await.status, winner, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simultaneous_payment_and_cancellation_end_as_one_after_the_other_would() {
    let shop = Shop::open().await;

    // From pending, a cancellation is legal whether or not the payment lands first
    // (pending → cancelled, or paid → cancelled), so it must always succeed; the payment
    // succeeds only if it came first. Anything else is a lost or wrongly refused move.
    for round in 0..20 {
        let order = shop.order(&shop.customer, 1).await;

        let (paid, cancelled) = tokio::join!(
            change(&shop.admin, order.id, Paid),
            change(&shop.customer, order.id, Cancelled),
        );

        let cancelled = cancelled.unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        assert_eq!(cancelled.into_inner().status, Cancelled, "round {round}");
        if let Err(refused) = paid {
            assert_problem::<()>(Err(refused), 409, "illegal_transition");
        }
        assert_eq!(
            shop.current(order.id).await.status,
            Cancelled,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn data_survives_a_restart_and_sessions_survive_only_in_a_shared_store() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "The Dispossessed", "9.99").await;
    let (customer, user) = app.customer().await;
    let order = customer
        .create_order()
        .body(types::OrderCreate {
            book_id: book.id,
            quantity: NonZeroU32::new(2).unwrap(),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    let token = app.login(&user.email, PASSWORD).await.1.access_token;

    let app = app.restart().await;

    let (again, _) = app.login(&user.email, PASSWORD).await;
    let orders = again.list_orders().send().await.unwrap().into_inner();
    assert_eq!(orders.items.len(), 1);
    assert_eq!(orders.items[0].id, order.id);
    assert_eq!(*orders.items[0].total_amount, "19.98");
    let old_session = app.with_token(&token).get_me().send().await;
    match Backend::from_env() {
        Backend::Postgres => assert_eq!(old_session.unwrap().id, user.id),
        Backend::Sqlite => {
            assert_problem(old_session, 401, "unauthorized");
        }
    }
}
