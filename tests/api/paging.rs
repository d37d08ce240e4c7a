//! Paging by cursor: every list walked page after page by `next_cursor`, with its filters,
//! while items come and go; cursors the contract refuses; the client's `stream`; and the
//! plan PostgreSQL runs for a page deep in a list.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bookstore_tests::api_client::{Client, ClientInfo, types};
use bookstore_tests::{Backend, TestApp, assert_problem, field_errors, money, valid};
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use serde_json::Value;
use uuid::Uuid;

/// A page of any list, as the walks below read it.
trait Paged {
    type Item;
    fn next_cursor(&self) -> Option<types::Cursor>;
    fn items(&self) -> &[Self::Item];
}

/// An item of any list: where it stands in the order.
trait Positioned {
    fn position(&self) -> (DateTime<Utc>, Uuid);
}

macro_rules! paged {
    ($page:ident, $item:ident) => {
        impl Paged for types::$page {
            type Item = types::$item;
            fn next_cursor(&self) -> Option<types::Cursor> {
                self.next_cursor.clone()
            }
            fn items(&self) -> &[types::$item] {
                &self.items
            }
        }

        impl Positioned for types::$item {
            fn position(&self) -> (DateTime<Utc>, Uuid) {
                (self.created_at, self.id)
            }
        }
    };
}

paged!(AuthorPage, Author);
paged!(BookPage, Book);
paged!(OrderPage, Order);
paged!(UserPage, User);

/// Every page of a list: `fetch(None)` is the first, then `fetch(Some(cursor))` with the
/// `next_cursor` of the page before, until a page has none. `between` runs after each page.
async fn walk<P, F, Fut>(mut fetch: F, mut between: impl AsyncFnMut(&P)) -> Vec<P>
where
    P: Paged,
    F: FnMut(Option<types::Cursor>) -> Fut,
    Fut: Future<Output = P>,
{
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(cursor.take()).await;
        between(&page).await;
        cursor = page.next_cursor();
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 1000, "the walk does not end");
    }
}

async fn nothing<P>(_: &P) {}

/// The ids of the items of `pages`, in order.
fn ids<P: Paged>(pages: &[P]) -> Vec<Uuid>
where
    P::Item: Positioned,
{
    pages
        .iter()
        .flat_map(|page| page.items().iter().map(|item| item.position().1))
        .collect()
}

/// Asserts that the items of `pages` stand in the list's order, each once.
#[track_caller]
fn assert_in_order_once<P: Paged>(pages: &[P])
where
    P::Item: Positioned,
{
    let positions: Vec<_> = pages
        .iter()
        .flat_map(|page| page.items().iter().map(Positioned::position))
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{positions:#?}"
    );
}

async fn authors(app: &TestApp, admin: &Client, count: usize) -> Vec<types::Author> {
    let mut created = Vec::new();
    for n in 0..count {
        created.push(app.author(admin, &format!("Author {n}")).await);
    }
    created
}

/// Sends `GET path` (below the base URL) with `token`, if any; the status and JSON body.
async fn raw_get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.client().get(format!("{}{path}", app.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

// ----------------------------------------------------------------------------------------
// Walking by cursor
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn walking_every_page_by_cursor_yields_every_author_once_in_order() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created: Vec<Uuid> = authors(&app, &admin, 23)
        .await
        .iter()
        .map(|a| a.id)
        .collect();

    // Act
    let pages = walk(
        |cursor| async {
            let mut request = app.client.list_authors().limit(5);
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            request.send().await.unwrap().into_inner()
        },
        nothing,
    )
    .await;

    // Assert
    assert_eq!(ids(&pages), created);
    assert_in_order_once(&pages);
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    assert!(
        pages
            .iter()
            .all(|p| (p.total, p.limit, p.offset) == (23, 5, 0))
    );
    assert_eq!(pages.last().unwrap().next_cursor, None);
}

#[tokio::test]
async fn a_page_fetched_by_offset_has_the_cursor_of_the_page_after_it() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created: Vec<Uuid> = authors(&app, &admin, 9)
        .await
        .iter()
        .map(|a| a.id)
        .collect();

    // Act
    let by_offset = app
        .client
        .list_authors()
        .limit(3)
        .offset(2)
        .send()
        .await
        .unwrap();
    let cursor = by_offset.next_cursor.clone().expect("more pages follow");
    let next = app
        .client
        .list_authors()
        .limit(3)
        .cursor(cursor)
        .send()
        .await
        .unwrap();
    let last = app
        .client
        .list_authors()
        .limit(3)
        .offset(6)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(ids(&[by_offset.into_inner()]), created[2..5]);
    assert_eq!(ids(&[next.into_inner()]), created[5..8]);
    assert_eq!(last.items.len(), 3);
    assert_eq!(last.next_cursor, None, "nothing follows the last page");
    let (_, raw_last) = raw_get(&app, "/api/v1/authors?limit=3&offset=6", None).await;
    assert_eq!(
        raw_last.get("next_cursor"),
        None,
        "absent, not null: {raw_last}"
    );
}

#[tokio::test]
async fn an_offset_with_a_cursor_skips_items_after_the_cursor() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created: Vec<Uuid> = authors(&app, &admin, 10)
        .await
        .iter()
        .map(|a| a.id)
        .collect();
    let first = app.client.list_authors().limit(3).send().await.unwrap();
    let cursor = first.next_cursor.clone().unwrap();

    // Act
    let page = app
        .client
        .list_authors()
        .limit(3)
        .offset(2)
        .cursor(cursor)
        .send()
        .await
        .unwrap()
        .into_inner();

    // Assert
    assert_eq!((page.total, page.limit, page.offset), (10, 3, 2));
    assert_eq!(ids(&[page]), created[5..8]);
}

#[tokio::test]
async fn filters_apply_to_every_page_by_cursor_and_the_total_counts_the_matches() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let le_guin = app.author(&admin, "Ursula K. Le Guin").await;
    let other = app.author(&admin, "Someone Else").await;
    let mut expected = Vec::new();
    for n in 0..14 {
        let (author, price) = if n % 2 == 0 {
            (le_guin.id, "12.00")
        } else {
            (other.id, "30.00")
        };
        let cheap = app
            .book_by(&admin, author, &format!("Volume {n}"), price)
            .await;
        app.book_by(&admin, author, &format!("Deluxe {n}"), "99.00")
            .await;
        if author == le_guin.id {
            expected.push(cheap.id);
        }
    }

    // Act
    let pages = walk(
        |cursor| async {
            let mut request = app
                .client
                .list_books()
                .author_id(le_guin.id)
                .max_price(money("50.00"))
                .q("volume")
                .limit(2);
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            request.send().await.unwrap().into_inner()
        },
        nothing,
    )
    .await;

    // Assert
    assert_eq!(ids(&pages), expected);
    assert_eq!(pages.len(), 4);
    assert!(
        pages.iter().all(|p| p.total == 7),
        "the total counts the matches"
    );
    assert!(
        pages
            .iter()
            .flat_map(|p| &p.items)
            .all(|b| b.author_id == le_guin.id && *b.price == "12.00")
    );
}

#[tokio::test]
async fn a_customer_walks_only_their_own_orders_and_an_admin_all_by_status() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "The Dispossessed", "10.00").await;
    let (alice, _) = app.customer().await;
    let (bob, _) = app.customer().await;
    let mut alices = Vec::new();
    let mut paid = Vec::new();
    for n in 0..7 {
        for (customer, own) in [(&alice, true), (&bob, false)] {
            let order = customer
                .create_order()
                .body(types::OrderCreate {
                    book_id: book.id,
                    quantity: NonZeroU32::new(1).unwrap(),
                })
                .send()
                .await
                .unwrap()
                .into_inner();
            if own {
                alices.push(order.id);
            }
            if n % 3 == 0 {
                admin
                    .update_order()
                    .id(order.id)
                    .body(types::OrderStatusUpdate {
                        status: types::OrderStatus::Paid,
                    })
                    .send()
                    .await
                    .unwrap();
                paid.push(order.id);
            }
        }
    }

    // Act
    let own = walk(
        |cursor| async {
            let mut request = alice.list_orders().limit(2);
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            request.send().await.unwrap().into_inner()
        },
        nothing,
    )
    .await;
    let all_paid = walk(
        |cursor| async {
            let mut request = admin
                .list_orders()
                .status(types::OrderStatus::Paid)
                .limit(2);
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            request.send().await.unwrap().into_inner()
        },
        nothing,
    )
    .await;

    // Assert
    assert_eq!(ids(&own), alices);
    assert!(own.iter().all(|p| p.total == 7));
    assert_eq!(ids(&all_paid), paid);
    assert!(all_paid.iter().all(|p| p.total == 6));
}

#[tokio::test]
async fn an_admin_walks_every_account_by_cursor() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut customers = Vec::new();
    for _ in 0..5 {
        customers.push(app.customer().await.1.id);
    }
    let everyone = admin.list_users().limit(100).send().await.unwrap();

    // Act
    let pages = walk(
        |cursor| async {
            let mut request = admin.list_users().limit(2);
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            request.send().await.unwrap().into_inner()
        },
        nothing,
    )
    .await;

    // Assert
    let walked = ids(&pages);
    assert_eq!(walked, ids(&[everyone.into_inner()]));
    assert_eq!(walked.len(), 6, "the administrator and five customers");
    assert!(customers.iter().all(|id| walked.contains(id)));
    assert_in_order_once(&pages);
}

#[tokio::test]
async fn a_walk_by_cursor_meets_every_earlier_item_once_while_others_come_and_go() {
    // Arrange: authors before the walk, and a writer adding more all through it.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let before: Vec<Uuid> = authors(&app, &admin, 30)
        .await
        .iter()
        .map(|a| a.id)
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (admin, stop) = (admin.clone(), stop.clone());
        tokio::spawn(async move {
            let mut added = 0;
            while !stop.load(Ordering::Relaxed) && added < 200 {
                admin
                    .create_author()
                    .body(types::AuthorCreate {
                        name: valid(&format!("Newcomer {added}")),
                        bio: None,
                    })
                    .send()
                    .await
                    .unwrap();
                added += 1;
            }
            added
        })
    };

    // Act: walk three at a time, deleting the first author of each page once it is seen,
    // which moves every later author one place forward (a walk by offset would skip one).
    let pages = walk(
        |cursor| async {
            let mut request = app.client.list_authors().limit(3);
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            request.send().await.unwrap().into_inner()
        },
        async |page: &types::AuthorPage| {
            if let Some(first) = page.items.first() {
                admin.delete_author().id(first.id).send().await.unwrap();
            }
            // Once the walk has reached the newcomers, it would follow the writer forever.
            if page.items.iter().any(|author| !before.contains(&author.id)) {
                stop.store(true, Ordering::Relaxed);
            }
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let added = writer.await.unwrap();

    // Assert
    let walked = ids(&pages);
    assert_in_order_once(&pages);
    assert_eq!(walked.len(), walked.iter().collect::<HashSet<_>>().len());
    assert_eq!(
        walked[..before.len()],
        before,
        "every earlier author, once, in order"
    );
    assert!(added > 0, "the writer added authors during the walk");
}

#[tokio::test]
async fn a_cursor_stays_valid_after_its_item_is_deleted_and_past_the_end_is_an_empty_page() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created: Vec<Uuid> = authors(&app, &admin, 5)
        .await
        .iter()
        .map(|a| a.id)
        .collect();
    let first = app.client.list_authors().limit(2).send().await.unwrap();
    let after_second = first.next_cursor.clone().unwrap();
    admin.delete_author().id(created[1]).send().await.unwrap();
    let three = app.client.list_authors().limit(3).send().await.unwrap();
    let after_fourth = three.next_cursor.clone().unwrap();
    admin.delete_author().id(created[4]).send().await.unwrap();

    // Act
    let after_deleted = app
        .client
        .list_authors()
        .limit(2)
        .cursor(after_second)
        .send()
        .await
        .unwrap();
    let past_the_end = app
        .client
        .list_authors()
        .limit(2)
        .cursor(after_fourth)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(ids(&[after_deleted.into_inner()]), created[2..4]);
    assert_eq!(past_the_end.items.len(), 0, "{past_the_end:?}");
    assert_eq!(past_the_end.total, 3);
    assert_eq!(past_the_end.next_cursor, None);
}

// ----------------------------------------------------------------------------------------
// What a cursor may be
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_cursors_are_invalid_requests_naming_cursor() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app
        .login(
            bookstore_tests::ADMIN_EMAIL,
            bookstore_tests::ADMIN_PASSWORD,
        )
        .await
        .1;
    let (_, customer) = app.customer().await;
    let customer = app
        .login(&customer.email, bookstore_tests::PASSWORD)
        .await
        .1;
    let lists = [
        ("/api/v1/authors", None),
        ("/api/v1/books", None),
        ("/api/v1/orders", Some(customer.access_token.as_str())),
        ("/api/v1/users", Some(admin.access_token.as_str())),
    ];
    let valid = "GOQwe9Q6SAABkvXhHSt-T4prnA0eLzpL";
    let malformed = [
        String::new(),
        "abc".to_owned(),
        valid[1..].to_owned(),
        format!("{valid}A"),
        valid.replace('-', "+"),
        valid.replace('-', "%2F"),
        format!("{}==", &valid[..30]),
        format!("{}%C3%A9", &valid[..30]),
        format!("%20{}", &valid[1..]),
        format!("{}%00", &valid[1..]),
        "A".repeat(1000),
    ];

    // Act and Assert
    for (list, token) in lists {
        for cursor in &malformed {
            let path = format!("{list}?cursor={cursor}");
            let (status, problem) = raw_get(&app, &path, token).await;
            let (code, errors) = field_errors(&problem);
            assert_eq!(
                (status, code),
                (422, "invalid_request"),
                "{path}: {problem}"
            );
            assert!(
                errors.iter().any(|(field, _)| *field == "cursor"),
                "{path}: {problem}"
            );
        }
    }
    let (_, problem) = raw_get(&app, "/api/v1/books?cursor=abc", None).await;
    assert_eq!(
        field_errors(&problem).1,
        [(
            "cursor",
            "must be the next_cursor of a page (32 characters of A-Z, a-z, 0-9, - and _)"
        )]
    );
    assert!(
        "abc".parse::<types::Cursor>().is_err(),
        "the client refuses it too"
    );
    assert!(valid.parse::<types::Cursor>().is_ok());
}

#[tokio::test]
async fn any_cursor_of_the_contracts_form_is_a_position_not_an_error() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created: Vec<Uuid> = authors(&app, &admin, 3)
        .await
        .iter()
        .map(|a| a.id)
        .collect();
    // 1970 and the nil id, before everything; 2262, after everything; and made-up ones.
    let before_all = "A".repeat(32);
    let after_all = format!("f{}", "_".repeat(31));
    let made_up = [
        "GOQwe9Q6SAABkvXhHSt-T4prnA0eLzpL",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_",
    ];

    // Act
    let from_start = app
        .client
        .list_authors()
        .cursor(before_all.as_str())
        .send()
        .await
        .unwrap();
    let from_end = app
        .client
        .list_authors()
        .cursor(after_all.as_str())
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(ids(&[from_start.into_inner()]), created);
    assert_eq!((from_end.items.len(), from_end.total), (0, 3));
    for cursor in made_up {
        let (status, page) = raw_get(&app, &format!("/api/v1/books?cursor={cursor}"), None).await;
        assert_eq!(status, 200, "{cursor}: {page}");
    }
}

// ----------------------------------------------------------------------------------------
// The client's stream
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn the_clients_stream_walks_a_whole_list_with_its_filters() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let author = app.author(&admin, "Prolific").await;
    let mut books = Vec::new();
    for n in 0..25 {
        let title = if n % 5 == 0 {
            format!("Special {n}")
        } else {
            format!("Volume {n}")
        };
        books.push(app.book_by(&admin, author.id, &title, "3.00").await);
    }
    let specials: Vec<Uuid> = books
        .iter()
        .filter(|b| b.title.starts_with("Special"))
        .map(|b| b.id)
        .collect();

    // Act
    let all: Vec<types::Book> = app
        .client
        .list_books()
        .limit(4)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let filtered: Vec<types::Book> = app
        .client
        .list_books()
        .q("special")
        .limit(2)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let from_ten: Vec<types::Book> = app
        .client
        .list_books()
        .offset(10)
        .limit(6)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let authors: Vec<types::Author> = app
        .client
        .list_authors()
        .stream()
        .try_collect()
        .await
        .unwrap();

    // Assert
    let ids_of = |books: &[types::Book]| books.iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(ids_of(&all), ids_of(&books));
    assert_eq!(ids_of(&filtered), specials);
    assert_eq!(
        ids_of(&from_ten),
        ids_of(&books[10..]),
        "the offset skips once"
    );
    assert_eq!(authors.len(), 1);
}

#[tokio::test]
async fn the_clients_stream_walks_orders_and_accounts_and_ends_with_a_refusal() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Always Coming Home", "5.00").await;
    let (customer, user) = app.customer().await;
    let mut placed = Vec::new();
    for _ in 0..5 {
        let order = customer
            .create_order()
            .body(types::OrderCreate {
                book_id: book.id,
                quantity: NonZeroU32::new(2).unwrap(),
            })
            .send()
            .await
            .unwrap();
        placed.push(order.id);
    }

    // Act
    let orders: Vec<types::Order> = customer
        .list_orders()
        .limit(2)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let users: Vec<types::User> = admin
        .list_users()
        .limit(1)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let refused: Result<Vec<types::User>, _> = customer.list_users().stream().try_collect().await;

    // Assert
    assert_eq!(orders.iter().map(|o| o.id).collect::<Vec<_>>(), placed);
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].id, user.id);
    assert_problem(refused, 403, "admin_required");
}

// ----------------------------------------------------------------------------------------
// What a deep page costs
// ----------------------------------------------------------------------------------------

mod plans {
    //! The plan PostgreSQL runs for each page, reported by `auto_explain` as a notice to
    //! the server's connection, which the server's database driver logs.

    use std::io::Write;
    use std::sync::{Arc, Mutex, OnceLock};

    use serde_json::Value;

    /// What the server logs in this process, as JSON lines.
    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

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
        /// Starts capturing the notices of PostgreSQL, once per process.
        pub fn start() -> Self {
            static LOGS: OnceLock<Captured> = OnceLock::new();
            LOGS.get_or_init(|| {
                let logs = Self::default();
                let writer = logs.clone();
                let installed = api_server::telemetry::install(
                    api_server::telemetry::LogFormat::Json,
                    "sqlx::postgres::notice=info",
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

        /// The plans logged since the last call, each as its JSON `Plan`.
        pub fn take_plans(&self) -> Vec<Value> {
            let bytes = std::mem::take(&mut *self.0.lock().unwrap());
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter_map(|line| {
                    let message = line["message"].as_str()?.to_owned();
                    let plan = &message[message.find('{')?..];
                    serde_json::from_str::<Value>(plan).ok()
                })
                .map(|explained| explained["Plan"].clone())
                .collect()
        }
    }

    /// Every node of a plan, depth first.
    pub fn nodes(plan: &Value) -> Vec<&Value> {
        let mut all = vec![plan];
        for child in plan["Plans"].as_array().into_iter().flatten() {
            all.extend(nodes(child));
        }
        all
    }

    /// The scan of `table` that finds the page's keys: the one within the subquery
    /// (`= ANY(ARRAY(SELECT id …))`, an `InitPlan`) that reads the table.
    pub fn key_scan<'a>(plan: &'a Value, table: &str) -> &'a Value {
        let scans: Vec<&Value> = nodes(plan)
            .into_iter()
            .filter(|node| node["Parent Relationship"] == "InitPlan")
            .flat_map(nodes)
            .filter(|node| node["Relation Name"] == table)
            .collect();
        assert_eq!(scans.len(), 1, "{plan:#}");
        scans[0]
    }
}

#[tokio::test]
async fn a_deep_page_by_cursor_reads_as_few_index_entries_as_the_first_page() {
    // PostgreSQL's plans; the pooler in front changes none of them, and SQLite's plan is
    // checked by the server's own tests.
    if Backend::from_env() != Backend::Postgres || bookstore_tests::through_pgbouncer() {
        return;
    }
    // Arrange: a database whose every statement's plan, with the rows each step read,
    // comes back to the server as a notice; ten thousand authors (written directly, as a
    // bulk load would), analysed, so that the planner sees a real catalogue.
    let logs = plans::Captured::start();
    let database = bookstore_tests::fresh_postgres_database().await;
    let name = database
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&database)
        .await
        .unwrap();
    let settings = [
        "session_preload_libraries = 'auto_explain'",
        "auto_explain.log_min_duration = 0",
        "auto_explain.log_analyze = on",
        "auto_explain.log_timing = off",
        "auto_explain.log_format = 'json'",
        "auto_explain.log_level = 'notice'",
    ];
    let mut setup = String::from("LOAD 'auto_explain';");
    for setting in settings {
        setup.push_str(&format!("ALTER DATABASE \"{name}\" SET {setting};"));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
        .execute(&mut conn)
        .await
        .unwrap();
    // Every request must reach the database, and only the pool's statements be
    // explained: no caches, and so no connection listening for their notifications.
    let app = TestApp::spawn_with(|key| match key {
        "DATABASE_URL" => Some(database.clone()),
        "CATALOGUE_CACHE" => Some("off".to_owned()),
        "ACCOUNT_CACHE_MAX_ENTRIES" => Some("0".to_owned()),
        _ => None,
    })
    .await;
    sqlx::raw_sql(
        "INSERT INTO authors (id, name, created_at, updated_at) \
         SELECT gen_random_uuid(), 'Author ' || n, t, t \
         FROM generate_series(1, 10000) AS n, \
              LATERAL (SELECT now() + n * interval '1 millisecond' AS t) AS at; \
         ANALYZE authors",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    logs.take_plans();

    // Act: the first page; a page 5,000 deep by offset, whose `next_cursor` is then the
    // way to the page after it.
    let first = app.client.list_authors().limit(10).send().await.unwrap();
    let first_plans = logs.take_plans();
    let by_offset = app
        .client
        .list_authors()
        .limit(10)
        .offset(5000)
        .send()
        .await
        .unwrap();
    let offset_plans = logs.take_plans();
    let cursor = by_offset.next_cursor.clone().unwrap();
    let by_cursor = app
        .client
        .list_authors()
        .limit(10)
        .cursor(cursor)
        .send()
        .await
        .unwrap();
    let cursor_plans = logs.take_plans();

    // Assert: each request ran one statement; the deep page by cursor found its keys with
    // one range search of the (created_at, id) index, reading the page's entries and the
    // next one only, as the first page did, while the page by offset read every entry it
    // skipped.
    for plans in [&first_plans, &offset_plans, &cursor_plans] {
        assert_eq!(plans.len(), 1, "{plans:#?}");
    }
    let first_scan = plans::key_scan(&first_plans[0], "authors");
    let offset_scan = plans::key_scan(&offset_plans[0], "authors");
    let cursor_scan = plans::key_scan(&cursor_plans[0], "authors");
    assert_eq!(
        cursor_scan["Index Name"], "authors_created_at_id_idx",
        "{cursor_scan:#}"
    );
    let condition = cursor_scan["Index Cond"].as_str().unwrap_or_default();
    assert!(
        condition.starts_with("(ROW(created_at, id) > ROW("),
        "{cursor_scan:#}"
    );
    assert_eq!(cursor_scan["Actual Rows"], 11, "{cursor_scan:#}");
    assert_eq!(first_scan["Actual Rows"], 11, "{first_scan:#}");
    assert!(
        offset_scan["Actual Rows"].as_u64().unwrap() >= 5011,
        "{offset_scan:#}"
    );
    let plan_text = cursor_plans[0].to_string();
    assert!(!plan_text.contains("Seq Scan"), "{:#}", cursor_plans[0]);
    assert_eq!(by_cursor.items.len(), 10);
    assert_eq!((first.total, by_cursor.total), (10_000, 10_000));
    assert!(by_cursor.items[0].created_at > by_offset.items[9].created_at);
}
