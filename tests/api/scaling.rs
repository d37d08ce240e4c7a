//! Beyond one machine: sessions on a Redis Cluster and behind Redis Sentinel through
//! failovers and slot migrations, and catalogue reads from a PostgreSQL streaming replica
//! with the fallback to the primary. Each test starts its own real servers
//! (`bookstore_tests::topology`) and prints what its failure cost: the time to recover and
//! the 503s seen.
//!
//! The end-to-end suite also runs whole on a Redis Cluster and through PgBouncer, in the
//! third pass of `scripts/test.sh`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bookstore_tests::api_client::{Client, types};
use bookstore_tests::topology::{
    PgReplica, RedisCluster, SENTINEL_DOWN_AFTER, Sentinel, Tool, available,
};
use bookstore_tests::{Backend, PASSWORD, TestApp, assert_problem};
use sqlx::Connection;

/// Tests that start their own servers run once, in the PostgreSQL + Redis pass.
fn runs_here(tools: &[Tool]) -> bool {
    Backend::from_env() == Backend::Postgres && available(tools)
}

/// What a stream of requests saw while a topology changed under it.
#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    /// Answers that are neither success nor 503 (a 500, a wrongly refused token).
    other: Vec<String>,
    /// When the last 503 was answered, from the start.
    last_unavailable: Option<Duration>,
}

impl Tally {
    fn add<T: std::fmt::Debug>(
        &mut self,
        answer: Result<T, bookstore_tests::api_client::Error<types::Problem>>,
        since: Instant,
    ) {
        match answer {
            Ok(_) => self.ok += 1,
            Err(bookstore_tests::api_client::Error::ErrorResponse(resp))
                if resp.status().as_u16() == 503 =>
            {
                self.unavailable += 1;
                self.last_unavailable = Some(since.elapsed());
            }
            other => self.other.push(format!("{other:?}")),
        }
    }
}

/// Asserts that the token of an ended session is refused (or, while the store cannot be
/// asked, answered 503): never accepted.
async fn assert_refused(ended: &Client) {
    match ended.get_me().send().await {
        Ok(me) => panic!("an ended session was accepted: {me:?}"),
        Err(bookstore_tests::api_client::Error::ErrorResponse(resp)) => {
            let status = resp.status().as_u16();
            assert!(status == 401 || status == 503, "{status}");
        }
        Err(other) => panic!("{other:?}"),
    }
}

/// Requests that need the session store, from `customer` (and logins of `email`), every
/// 20 ms for `span`, checking each time that the `ended` session stays refused.
async fn stream(
    app: &TestApp,
    customer: &Client,
    email: &str,
    ended: &Client,
    span: Duration,
) -> Tally {
    let since = Instant::now();
    let mut tally = Tally::default();
    let mut round = 0u32;
    while since.elapsed() < span {
        tally.add(customer.get_me().send().await, since);
        if round.is_multiple_of(5) {
            let login = app.client.log_in(email, PASSWORD).await;
            tally.add(login.map(|(_, session)| session), since);
        }
        assert_refused(ended).await;
        round += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tally
}

// ----------------------------------------------------------------------------------------
// Redis Cluster
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn sessions_on_a_redis_cluster_survive_a_failover_and_a_slot_migration() {
    if !runs_here(&[Tool::RedisServer, Tool::RedisCli]) {
        return;
    }
    let cluster = RedisCluster::start().await.expect("the cluster starts");
    let nodes = cluster.urls().join(",");
    let app = TestApp::spawn_with(move |key| match key {
        "REDIS_CLUSTER_NODES" => Some(nodes.clone()),
        // The stream logs in over and over: no session may be ended by the cap.
        "MAX_SESSIONS_PER_USER" => Some("0".to_owned()),
        _ => None,
    })
    .await;
    let (customer, user) = app.customer().await;
    let (ended, _) = app.login(&user.email, PASSWORD).await;
    ended.logout().send().await.unwrap();
    // The slot of this customer's keys (the hash tag is the account id).
    let slot = cluster.key_slot(&format!("{{{}}}", user.id)).await.unwrap();

    // A failover of the master that holds the customer's sessions, during requests.
    let master = cluster.master_of_slot(slot).await.unwrap();
    let since = Instant::now();
    let (promoted, tally) = tokio::join!(
        cluster.failover(master),
        stream(&app, &customer, &user.email, &ended, Duration::from_secs(3)),
    );
    let promoted = promoted.expect("the failover");
    eprintln!(
        "cluster failover (node {master} to {promoted}): {tally:?}, {:.2?} in all",
        since.elapsed()
    );
    assert!(tally.other.is_empty(), "{:?}", tally.other);
    assert!(tally.unavailable <= 5, "{tally:?}");
    assert!(customer.get_me().send().await.is_ok());

    // The slot moves to another master, with the keys, during requests.
    let to = cluster
        .masters()
        .await
        .unwrap()
        .into_iter()
        .find(|node| *node != promoted)
        .unwrap();
    let (moved, tally) = tokio::join!(
        cluster.migrate_slot(slot, promoted, to),
        stream(&app, &customer, &user.email, &ended, Duration::from_secs(3)),
    );
    moved.expect("the migration");
    eprintln!("cluster slot migration (node {promoted} to {to}): {tally:?}");
    assert!(tally.other.is_empty(), "{:?}", tally.other);
    assert!(tally.unavailable <= 5, "{tally:?}");
    assert!(customer.get_me().send().await.is_ok());
    assert_refused(&ended).await;
}

// ----------------------------------------------------------------------------------------
// Redis Sentinel
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn behind_sentinel_the_server_follows_a_new_master() {
    if !runs_here(&[Tool::RedisServer]) {
        return;
    }
    let mut sentinel = Sentinel::start().await.expect("Sentinel starts");
    let (sentinels, master) = (sentinel.sentinel_urls().join(","), sentinel.master_name());
    let app = TestApp::spawn_with(move |key| match key {
        "REDIS_SENTINELS" => Some(sentinels.clone()),
        "REDIS_SENTINEL_MASTER" => Some(master.to_owned()),
        "MAX_SESSIONS_PER_USER" => Some("0".to_owned()),
        _ => None,
    })
    .await;
    let (_, user) = app.customer().await;
    let (ended, _) = app.login(&user.email, PASSWORD).await;
    ended.logout().send().await.unwrap();
    let (customer, _) = app.login(&user.email, PASSWORD).await;
    // Let the replica catch up, so the sessions outlive the master.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let old = sentinel.kill_master().await.expect("the master is killed");
    let span = SENTINEL_DOWN_AFTER + Duration::from_secs(10);
    let (new, tally) = tokio::join!(
        sentinel.wait_for_failover(&old, span),
        stream(&app, &customer, &user.email, &ended, span),
    );
    let new = new.expect("the sentinels promote the replica");
    let recovered = tally.last_unavailable.unwrap_or_default();
    eprintln!(
        "Sentinel failover ({old} to {new}): {tally:?}; requests succeed again {recovered:.2?} \
         after the kill (down-after {SENTINEL_DOWN_AFTER:?})"
    );
    assert!(tally.other.is_empty(), "{:?}", tally.other);
    assert!(
        recovered <= SENTINEL_DOWN_AFTER + Duration::from_secs(5),
        "still 503 {recovered:?} after the kill"
    );
    let (fresh, _) = app.login(&user.email, PASSWORD).await;
    assert!(fresh.get_me().send().await.is_ok());
    assert_refused(&ended).await;
}

// ----------------------------------------------------------------------------------------
// A PostgreSQL read replica
// ----------------------------------------------------------------------------------------

/// The server on `replica`'s primary, reading from its replica.
async fn on_replica(replica: &PgReplica, max_lag_ms: &'static str) -> TestApp {
    let (primary, read) = (replica.primary_url(), replica.replica_url());
    TestApp::spawn_with(move |key| match key {
        "DATABASE_URL" => Some(primary.clone()),
        "DATABASE_READ_URL" => Some(read.clone()),
        "DATABASE_READ_MAX_LAG_MS" => Some(max_lag_ms.to_owned()),
        // These tests are about where reads go: the catalogue cache would answer them
        // from memory, and its misses read from the primary (see cache.rs).
        "CATALOGUE_CACHE" => Some("off".to_owned()),
        _ => None,
    })
    .await
}

/// Waits until `/ready` says whether the replica is in use, and returns how long that took.
async fn until_replica_in_use(app: &TestApp, in_use: bool, limit: Duration) -> Duration {
    let since = Instant::now();
    loop {
        let ready = app.client.ready().send().await.map(|r| r.into_inner());
        if let Ok(ready) = &ready
            && ready.database_replica.as_ref().map(|r| r.in_use) == Some(in_use)
        {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "the replica's state did not change: {ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many times the replica ran a statement that reads `books`.
async fn book_reads_on(url: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements \
         WHERE query LIKE '%FROM \"books\"%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn anonymous_catalogue_reads_go_to_the_replica_and_authenticated_ones_to_the_primary() {
    if !runs_here(&[Tool::Postgres]) {
        return;
    }
    let replica = PgReplica::start().await.expect("a primary and a replica");
    let app = on_replica(&replica, "1000").await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Always Coming Home", "14.00").await;
    replica
        .wait_for_replay(Duration::from_secs(10))
        .await
        .unwrap();
    until_replica_in_use(&app, true, Duration::from_secs(5)).await;

    let before = book_reads_on(&replica.replica_url()).await;
    for _ in 0..5 {
        app.client.get_book().id(book.id).send().await.unwrap();
        app.client.list_books().send().await.unwrap();
    }
    let anonymous = book_reads_on(&replica.replica_url()).await - before;
    for _ in 0..5 {
        admin.get_book().id(book.id).send().await.unwrap();
        admin.list_books().send().await.unwrap();
    }
    let authenticated = book_reads_on(&replica.replica_url()).await - before - anonymous;

    assert!(
        anonymous >= 10,
        "{anonymous} anonymous reads on the replica"
    );
    assert_eq!(authenticated, 0, "authenticated reads went to the replica");
}

#[tokio::test]
async fn an_administrator_reads_back_a_write_at_once_whatever_the_replica_lags() {
    if !runs_here(&[Tool::Postgres]) {
        return;
    }
    let replica = PgReplica::start().await.expect("a primary and a replica");
    let app = on_replica(&replica, "60000").await;
    let admin = app.admin().await;
    until_replica_in_use(&app, true, Duration::from_secs(5)).await;
    replica.pause_replay().await.unwrap();

    let book = app
        .book(&admin, "The Word for World Is Forest", "8.00")
        .await;
    let read_back = admin.get_book().id(book.id).send().await;
    let anonymous = app.client.get_book().id(book.id).send().await;

    assert!(read_back.is_ok(), "{read_back:?}");
    // The replica has not replayed it: the anonymous read comes from there.
    assert_problem(anonymous, 404, "not_found");
    replica.resume_replay().await.unwrap();
}

#[tokio::test]
async fn reads_fall_back_to_the_primary_when_the_replica_stops_or_lags_too_far() {
    if !runs_here(&[Tool::Postgres]) {
        return;
    }
    let mut replica = PgReplica::start().await.expect("a primary and a replica");
    let app = on_replica(&replica, "1000").await;
    let admin = app.admin().await;
    let book = app.book(&admin, "The Lathe of Heaven", "7.00").await;
    replica
        .wait_for_replay(Duration::from_secs(10))
        .await
        .unwrap();
    until_replica_in_use(&app, true, Duration::from_secs(5)).await;

    // The replica stops: reads go on, from the primary.
    replica.stop_replica().await;
    let stopped = Instant::now();
    let mut failures = 0;
    for _ in 0..20 {
        if app.client.get_book().id(book.id).send().await.is_err() {
            failures += 1;
        }
    }
    let noticed = until_replica_in_use(&app, false, Duration::from_secs(5)).await;
    eprintln!(
        "replica stopped: {failures} failed reads of 20, /ready says so {:.2?} after",
        stopped.elapsed().min(noticed)
    );
    assert_eq!(failures, 0);

    // Back, then lagging past the bound: reads go to the primary, which has the news.
    replica.start_replica().await.unwrap();
    let back = until_replica_in_use(&app, true, Duration::from_secs(10)).await;
    eprintln!("replica back in use {back:.2?} after it restarted");
    replica.pause_replay().await.unwrap();
    let late = app.book(&admin, "Lavinia", "9.00").await;
    let lagging = until_replica_in_use(&app, false, Duration::from_secs(10)).await;
    eprintln!("replica lagging: out of use {lagging:.2?} after the write");
    let read = app.client.get_book().id(late.id).send().await;
    assert!(read.is_ok(), "a lagging replica served the read: {read:?}");
    replica.resume_replay().await.unwrap();
}

/// Waits until the catalogue cache answers reads: it listens for writes.
async fn until_cache_in_use(app: &TestApp) {
    use futures::TryStreamExt;
    let since = Instant::now();
    loop {
        let page = app.client.metrics().send().await.unwrap().into_inner();
        let chunks: Vec<_> = page.into_inner().try_collect().await.unwrap();
        let page = String::from_utf8(chunks.concat()).unwrap();
        if page
            .lines()
            .any(|l| l == "bookstore_catalogue_cache_in_use 1")
        {
            return;
        }
        assert!(since.elapsed() < Duration::from_secs(5), "{page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_catalogue_cache_fills_from_the_primary_never_from_a_lagging_replica() {
    if !runs_here(&[Tool::Postgres]) {
        return;
    }
    // Arrange: the replica in use, then replaying nothing; the catalogue cache on.
    let replica = PgReplica::start().await.expect("a primary and a replica");
    let (primary, read) = (replica.primary_url(), replica.replica_url());
    let app = TestApp::spawn_with(move |key| match key {
        "DATABASE_URL" => Some(primary.clone()),
        "DATABASE_READ_URL" => Some(read.clone()),
        "DATABASE_READ_MAX_LAG_MS" => Some("60000".to_owned()),
        _ => None,
    })
    .await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Four Ways to Forgiveness", "9.00").await;
    replica
        .wait_for_replay(Duration::from_secs(10))
        .await
        .unwrap();
    until_replica_in_use(&app, true, Duration::from_secs(5)).await;
    until_cache_in_use(&app).await;
    app.client.get_book().id(book.id).send().await.unwrap();
    replica.pause_replay().await.unwrap();

    // Act: a write the replica does not replay; the cache is emptied for it.
    admin
        .update_book()
        .id(book.id)
        .body(types::BookUpdate {
            title: Some("Five Ways to Forgiveness".parse().unwrap()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let added = app.book(&admin, "The Telling", "9.00").await;

    // Assert: anonymous reads, misses now, come from the primary and see the writes,
    // then keep seeing them from the cache.
    for _ in 0..2 {
        let read = app.client.get_book().id(book.id).send().await.unwrap();
        assert_eq!(read.title, "Five Ways to Forgiveness");
        app.client.get_book().id(added.id).send().await.unwrap();
    }
    replica.resume_replay().await.unwrap();
}
