//! The caches: anonymous reads of books and authors, and the accounts that authenticate
//! requests (on PostgreSQL), answered from memory, and never staler than their rules
//! allow: on the server that wrote, not at all; on another server, within a second; when
//! the connection that hears of other servers' writes is lost, not beyond that second
//! either.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bookstore_tests::api_client::{Client, types};
use bookstore_tests::process::Deployment;
use bookstore_tests::{Backend, TestApp, valid};
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use sqlx::Connection;
use uuid::Uuid;

/// The metrics page of the server `client` talks to.
async fn metrics(client: &Client) -> String {
    let page = client.metrics().send().await.expect("the metrics");
    let chunks: Vec<_> = page.into_inner().into_inner().try_collect().await.unwrap();
    String::from_utf8(chunks.concat()).expect("UTF-8 metrics")
}

/// The value of the sample `series` (name and labels, exactly as exposed).
fn sample(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a sample value"))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{page}"))
}

/// The counters `bookstore_{cache}_cache_{name}_total` of `names`.
async fn cache_counters<const N: usize>(
    client: &Client,
    cache: &str,
    names: [&str; N],
) -> [f64; N] {
    let page = metrics(client).await;
    names.map(|name| sample(&page, &format!("bookstore_{cache}_cache_{name}_total")))
}

/// The catalogue cache's counters: hits, misses, invalidations.
async fn counters(client: &Client) -> (f64, f64, f64) {
    let [hits, misses, invalidations] =
        cache_counters(client, "catalogue", ["hits", "misses", "invalidations"]).await;
    (hits, misses, invalidations)
}

/// Waits until the cache answers reads (on PostgreSQL, once it listens for writes);
/// how long that took.
async fn until_in_use(client: &Client, limit: Duration) -> Duration {
    let since = Instant::now();
    loop {
        let page = metrics(client).await;
        if sample(&page, "bookstore_catalogue_cache_in_use") == 1.0 {
            return since.elapsed();
        }
        assert!(since.elapsed() < limit, "the cache is not in use:\n{page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn title_of(client: &Client, id: Uuid) -> String {
    client.get_book().id(id).send().await.unwrap().title.clone()
}

async fn rename_book(admin: &Client, id: Uuid, title: &str) {
    admin
        .update_book()
        .id(id)
        .body(types::BookUpdate {
            title: Some(valid(title)),
            ..Default::default()
        })
        .send()
        .await
        .expect("renaming the book");
}

/// Waits until the cache is in use and the notifications of what the test arranged
/// (on PostgreSQL, delivered a moment after each write) have arrived.
async fn settled(client: &Client) {
    until_in_use(client, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The URL of the server's own database.
fn database_url(app: &TestApp) -> String {
    let url = app.settings().database_url.as_ref().unwrap();
    url.expose_secret().to_owned()
}

// ----------------------------------------------------------------------------------------
// One server
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn an_anonymous_read_after_a_write_sees_the_write() {
    // Arrange: a book and its author, each read twice, so that the second read of each
    // (item and list page) is answered from memory.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "The Tombs of Atuan", "9.00").await;
    settled(&app.client).await;
    let (hits_before, _, _) = counters(&app.client).await;
    for _ in 0..2 {
        app.client.get_book().id(book.id).send().await.unwrap();
        app.client.list_books().send().await.unwrap();
        app.client
            .get_author()
            .id(book.author_id)
            .send()
            .await
            .unwrap();
        app.client.list_authors().send().await.unwrap();
    }
    let (hits, _, _) = counters(&app.client).await;
    assert!(hits >= hits_before + 4.0, "the second reads were not hits");

    // Act: the administrator renames the book and its author, and adds a book.
    rename_book(&admin, book.id, "The Farthest Shore").await;
    admin
        .update_author()
        .id(book.author_id)
        .body(types::AuthorUpdate {
            name: Some(valid("Ursula Le Guin")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let added = app.book_by(&admin, book.author_id, "Tehanu", "10.00").await;

    // Assert: every anonymous read, item or page, shows the writes at once.
    assert_eq!(title_of(&app.client, book.id).await, "The Farthest Shore");
    let page = app.client.list_books().send().await.unwrap().into_inner();
    let titles: Vec<_> = page.items.iter().map(|b| b.title.as_str()).collect();
    assert_eq!(titles, ["The Farthest Shore", "Tehanu"]);
    assert_eq!(page.total, 2);
    let author = app.client.get_author().id(book.author_id).send().await;
    assert_eq!(author.unwrap().name, "Ursula Le Guin");
    let authors = app.client.list_authors().send().await.unwrap().into_inner();
    assert_eq!(authors.items[0].name, "Ursula Le Guin");

    // A deleted book is gone for anonymous readers too.
    app.client.get_book().id(added.id).send().await.unwrap();
    admin.delete_book().id(added.id).send().await.unwrap();
    let gone = app.client.get_book().id(added.id).send().await;
    bookstore_tests::assert_problem(gone, 404, "not_found");
}

#[tokio::test]
async fn hits_misses_and_invalidations_are_counted() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Lavinia", "7.00").await;
    settled(&app.client).await;
    let (hits, misses, invalidations) = counters(&app.client).await;

    // A first read misses, the next ones hit; reads with credentials bypass the cache.
    for _ in 0..3 {
        app.client.get_book().id(book.id).send().await.unwrap();
    }
    admin.get_book().id(book.id).send().await.unwrap();
    let after_reads = counters(&app.client).await;
    assert_eq!(after_reads.0 - hits, 2.0, "hits");
    assert_eq!(after_reads.1 - misses, 1.0, "misses");

    // A write empties the cache: the next read misses.
    rename_book(&admin, book.id, "Lavinia, again").await;
    app.client.get_book().id(book.id).send().await.unwrap();
    let after_write = counters(&app.client).await;
    assert!(after_write.2 > invalidations, "invalidations");
    assert_eq!(after_write.1 - after_reads.1, 1.0, "misses after the write");

    // The write's own notification empties the cache once more when it arrives, a moment
    // after the answer; once it has, a read is kept.
    settled(&app.client).await;
    app.client.get_book().id(book.id).send().await.unwrap();
    let page = metrics(&app.client).await;
    assert!(sample(&page, "bookstore_catalogue_cache_entries") >= 1.0);
    assert!(page.contains("bookstore_catalogue_cache_evictions_total"));
}

#[tokio::test]
async fn with_the_cache_off_every_read_comes_from_the_database() {
    let app = TestApp::spawn_with(|key| (key == "CATALOGUE_CACHE").then(|| "off".to_owned())).await;
    let admin = app.admin().await;
    let book = app.book(&admin, "The Eye of the Heron", "6.00").await;
    for _ in 0..3 {
        app.client.get_book().id(book.id).send().await.unwrap();
    }
    assert_eq!(counters(&app.client).await, (0.0, 0.0, 0.0));
    let page = metrics(&app.client).await;
    assert_eq!(sample(&page, "bookstore_catalogue_cache_in_use"), 0.0);

    // On PostgreSQL, a change made behind the server's back is seen at once.
    if Backend::from_env() == Backend::Postgres {
        let mut sql = sqlx::PgConnection::connect(&database_url(&app))
            .await
            .unwrap();
        sqlx::query("UPDATE books SET title = 'Changed in SQL' WHERE id = $1")
            .bind(book.id)
            .execute(&mut sql)
            .await
            .unwrap();
        assert_eq!(title_of(&app.client, book.id).await, "Changed in SQL");
    }
}

// ----------------------------------------------------------------------------------------
// Several servers on one PostgreSQL database
// ----------------------------------------------------------------------------------------

/// How long the longest wait for another server's write may be.
const BOUND: Duration = Duration::from_secs(1);

/// Polls `client` until book `id` is titled `title`; how long that took, at most `limit`.
async fn until_titled(client: &Client, id: Uuid, title: &str, limit: Duration) -> Duration {
    let since = Instant::now();
    loop {
        let seen = title_of(client, id).await;
        if seen == title {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "still {seen:?} after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn another_server_sees_a_write_within_a_second() {
    if Backend::from_env() != Backend::Postgres {
        return;
    }
    // Arrange: two server processes on one database; B has the book in its cache.
    let deployment = Deployment::fresh().await;
    let a = deployment.start(&[]).await;
    let b = deployment.start(&[]).await;
    let admin = a.admin().await;
    let author = bookstore_tests::author(&admin, "Octavia E. Butler").await;
    let book = bookstore_tests::book_by(&admin, author.id, "Kindred", "11.00").await;
    settled(&b.client).await;
    let mut delays = Vec::new();
    for (round, title) in ["Dawn", "Adulthood Rites", "Imago"].into_iter().enumerate() {
        let (hits_before, _, _) = counters(&b.client).await;
        title_of(&b.client, book.id).await;
        title_of(&b.client, book.id).await;
        let (hits, _, _) = counters(&b.client).await;
        assert!(
            hits > hits_before,
            "round {round}: B did not cache the book"
        );

        // Act: A changes it.
        rename_book(&admin, book.id, title).await;
        let written = Instant::now();

        // Assert: B shows it within the bound.
        until_titled(&b.client, book.id, title, BOUND).await;
        delays.push(written.elapsed());
    }
    eprintln!("another server saw each write after {delays:.2?} (bound {BOUND:?})");
}

#[tokio::test]
async fn a_lost_listening_connection_leaves_no_stale_read_and_is_replaced() {
    if Backend::from_env() != Backend::Postgres {
        return;
    }
    // Arrange: a warm cache.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "The Dispossessed", "8.00").await;
    settled(&app.client).await;
    title_of(&app.client, book.id).await;
    title_of(&app.client, book.id).await;
    let (hits, _, _) = counters(&app.client).await;
    assert!(hits >= 1.0, "the cache is warm");

    // Act: the listening connection is ended, and the book changed in SQL behind the
    // server's back, so that its notification may reach no listener.
    let mut sql = sqlx::PgConnection::connect(&database_url(&app))
        .await
        .unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'bookstore-cache-listener' \
         AND datname = current_database()",
    )
    .fetch_all(&mut sql)
    .await
    .unwrap();
    assert_eq!(ended, [true], "one listening connection, ended");
    sqlx::query("UPDATE books SET title = 'Changed in SQL' WHERE id = $1")
        .bind(book.id)
        .execute(&mut sql)
        .await
        .unwrap();
    tokio::time::sleep(BOUND).await;

    // Assert: no stale read after the bound, and the cache back in use.
    assert_eq!(title_of(&app.client, book.id).await, "Changed in SQL");
    let back = until_in_use(&app.client, Duration::from_secs(10)).await;
    let (hits_before, _, _) = counters(&app.client).await;
    title_of(&app.client, book.id).await;
    title_of(&app.client, book.id).await;
    let (hits_after, _, _) = counters(&app.client).await;
    assert!(hits_after > hits_before, "the cache answers again");
    let listeners: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE application_name = 'bookstore-cache-listener' \
         AND datname = current_database()",
    )
    .fetch_one(&mut sql)
    .await
    .unwrap();
    assert_eq!(listeners, 1, "a new listening connection");
    eprintln!("the cache was in use again {back:.2?} after the stale-read check");
}

// ----------------------------------------------------------------------------------------
// Accounts (PostgreSQL)
// ----------------------------------------------------------------------------------------

/// The account cache's hits and misses.
async fn account_counters(client: &Client) -> (f64, f64) {
    let [hits, misses] = cache_counters(client, "account", ["hits", "misses"]).await;
    (hits, misses)
}

async fn name_of_caller(client: &Client) -> String {
    client.get_me().send().await.unwrap().full_name.clone()
}

/// An administrator's change of account `id`.
async fn change_user(admin: &Client, id: Uuid, change: types::UserUpdate) {
    admin
        .update_user()
        .id(id)
        .body(change)
        .send()
        .await
        .expect("changing the account");
}

async fn rename_user(admin: &Client, id: Uuid, name: &str) {
    let change = types::UserUpdate {
        full_name: Some(valid(name)),
        ..Default::default()
    };
    change_user(admin, id, change).await;
}

#[tokio::test]
async fn an_account_is_authenticated_from_memory_and_a_change_is_seen_at_once() {
    if Backend::from_env() != Backend::Postgres {
        return;
    }
    // Arrange: a customer whose account was read to authenticate a request.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer, user) = app.customer().await;
    settled(&app.client).await;
    name_of_caller(&customer).await;
    let (hits, misses) = account_counters(&app.client).await;

    // Act: more requests with the same token.
    for _ in 0..3 {
        name_of_caller(&customer).await;
    }

    // Assert: answered from memory.
    let (hits_after, misses_after) = account_counters(&app.client).await;
    assert!(hits_after >= hits + 3.0, "hits {hits} -> {hits_after}");
    assert_eq!(misses_after, misses, "misses");

    // An administrator's changes on this server are seen by the next request.
    rename_user(&admin, user.id, "Tenar of Atuan").await;
    assert_eq!(name_of_caller(&customer).await, "Tenar of Atuan");
    let promotion = |is_admin| types::UserUpdate {
        is_admin: Some(is_admin),
        ..Default::default()
    };
    change_user(&admin, user.id, promotion(true)).await;
    customer
        .list_users()
        .send()
        .await
        .expect("now an administrator");
    // A demotion ends the sessions as well (see security.rs).
    change_user(&admin, user.id, promotion(false)).await;
    let demoted = customer.list_users().send().await;
    bookstore_tests::assert_problem(demoted, 401, "unauthorized");
}

#[tokio::test]
async fn another_server_sees_an_account_change_within_a_second() {
    if Backend::from_env() != Backend::Postgres {
        return;
    }
    // Arrange: two server processes on one database; a customer's account kept by B.
    let deployment = Deployment::fresh().await;
    let a = deployment.start(&[]).await;
    let b = deployment.start(&[]).await;
    let admin = a.admin().await;
    let email = b.signup().await;
    let (customer, login) = b.login(&email, bookstore_tests::PASSWORD).await;
    settled(&b.client).await;
    let mut delays = Vec::new();
    for (round, name) in ["Ged", "Sparrowhawk", "Archmage"].into_iter().enumerate() {
        let (hits_before, _) = account_counters(&b.client).await;
        name_of_caller(&customer).await;
        name_of_caller(&customer).await;
        let (hits, _) = account_counters(&b.client).await;
        assert!(
            hits > hits_before,
            "round {round}: B did not keep the account"
        );

        // Act: A changes it.
        rename_user(&admin, login.user.id, name).await;
        let written = Instant::now();

        // Assert: B authenticates with the changed account within the bound.
        loop {
            if name_of_caller(&customer).await == name {
                break;
            }
            assert!(
                written.elapsed() < BOUND,
                "round {round}: B still has the old account"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(written.elapsed());
    }

    // A deactivation on A ends the customer's session on B at once: the session store
    // is not cached.
    admin.delete_user().id(login.user.id).send().await.unwrap();
    bookstore_tests::assert_problem(customer.get_me().send().await, 401, "unauthorized");
    eprintln!("another server saw each account change after {delays:.2?} (bound {BOUND:?})");
}

#[tokio::test]
async fn an_account_changed_in_sql_is_seen_within_a_second() {
    if Backend::from_env() != Backend::Postgres {
        return;
    }
    // Arrange: an administrator whose account the server keeps.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    settled(&app.client).await;
    admin.list_users().send().await.unwrap();
    let (hits, _) = account_counters(&app.client).await;
    admin.list_users().send().await.unwrap();
    let (kept, _) = account_counters(&app.client).await;
    assert_eq!(kept, hits + 1.0, "the account is answered from memory");

    // Act: the account is demoted behind the server's back (the server did not write it).
    let mut sql = sqlx::PgConnection::connect(&database_url(&app))
        .await
        .unwrap();
    sqlx::query("UPDATE users SET is_admin = false WHERE email = $1")
        .bind(bookstore_tests::ADMIN_EMAIL)
        .execute(&mut sql)
        .await
        .unwrap();
    let written = Instant::now();

    // Assert: refused within the bound.
    loop {
        match admin.list_users().send().await {
            Ok(_) => assert!(written.elapsed() < BOUND, "still an administrator"),
            Err(refused) => {
                bookstore_tests::assert_problem::<()>(Err(refused), 403, "admin_required");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!("the demotion was seen after {:.2?}", written.elapsed());
}
