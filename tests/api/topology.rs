//! Self-tests of the server topologies in `bookstore_tests::topology`: each starts one and
//! proves with real clients (sqlx, the redis crate) that it is what it claims, then that
//! dropping it leaves nothing behind. Each prints how long its topology took to start.
//!
//! A test whose programs are missing prints why and passes, unless `TEST_REQUIRE_TOPOLOGY`
//! is set (scripts/test.sh sets it): then it fails.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bookstore_tests::topology::{
    PgBouncer, PgBouncerOptions, PgReplica, RedisCluster, SENTINEL_DOWN_AFTER, SENTINEL_MASTER,
    Sentinel, TlsPostgres, TlsRedis, Tool, available, pgbouncer_version, redis_connect,
};
use redis::AsyncTypedCommands;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

/// Prints how long a topology took to start.
fn started(what: &str, since: Instant) {
    eprintln!("{what} started in {:.2?}", since.elapsed());
}

/// Asserts that a dropped topology left neither its directory nor a listening server.
async fn assert_gone(dir: &Path, ports: &[u16]) {
    assert!(!dir.exists(), "{} is still there", dir.display());
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", *port)).await.is_err(),
            "something still listens on port {port}"
        );
    }
}

#[tokio::test]
async fn tls_postgres_takes_verified_tls_and_refuses_plain_tcp_and_a_wrong_ca() {
    if !available(&[Tool::Openssl, Tool::Postgres]) {
        return;
    }
    let since = Instant::now();
    let pg = TlsPostgres::start().await.expect("TLS PostgreSQL starts");
    started("TlsPostgres", since);

    let mut conn = PgConnection::connect(&pg.url())
        .await
        .expect("sslmode=verify-full with the CA connects");
    let (ssl, version): (bool, String) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(ssl, "the session is encrypted");
    eprintln!("verify-full session: {version}");
    conn.close().await.unwrap();
    let ca_cert = pg.ca().cert();
    PgConnection::connect(&pg.url_with("verify-ca", Some(&ca_cert)))
        .await
        .expect("sslmode=verify-ca with the CA connects");

    let plain = PgConnection::connect(&pg.plain_url())
        .await
        .expect_err("a connection without TLS is refused");
    let message = plain.to_string();
    assert!(
        message.contains("no pg_hba.conf entry") && message.contains("no encryption"),
        "{message}"
    );

    let other = pg.ca().other().await.unwrap();
    for mode in ["verify-full", "verify-ca"] {
        let wrong = PgConnection::connect(&pg.url_with(mode, Some(&other.cert())))
            .await
            .expect_err("a certificate from another CA does not verify");
        // sqlx reports rustls' verdict as an I/O error.
        let message = format!("{wrong:?}");
        assert!(message.contains("UnknownIssuer"), "{mode}: {message}");
        eprintln!("{mode} with another CA: {wrong}");
    }

    let (dir, port) = (pg.dir().to_owned(), pg.port());
    drop(pg);
    assert_gone(&dir, &[port]).await;
}

#[tokio::test]
async fn tls_redis_takes_tls_with_a_password_and_refuses_the_rest() {
    if !available(&[Tool::Openssl, Tool::RedisServer]) {
        return;
    }
    let since = Instant::now();
    let redis = TlsRedis::start().await.expect("TLS Redis starts");
    started("TlsRedis", since);
    let ca = redis.ca_cert();

    let mut conn = redis_connect(&redis.url(), Some(&ca))
        .await
        .expect("rediss:// as the ACL user with the CA connects");
    conn.set("tls:key", "over TLS").await.unwrap();
    assert_eq!(
        conn.get("tls:key").await.unwrap().as_deref(),
        Some("over TLS")
    );
    let user: String = redis::cmd("ACL")
        .arg("WHOAMI")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(user, "bookstore");

    let mut conn = redis_connect(&redis.default_user_url(), Some(&ca))
        .await
        .expect("rediss:// with the default user's password connects");
    let user: String = redis::cmd("ACL")
        .arg("WHOAMI")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(user, "default");

    let anonymous = match redis_connect(&redis.url_without_password(), Some(&ca)).await {
        Err(err) => err.to_string(),
        Ok(mut conn) => conn
            .get("tls:key")
            .await
            .expect_err("no password, no commands")
            .to_string(),
    };
    assert!(anonymous.contains("NOAUTH"), "{anonymous}");

    let wrong_password = redis
        .url()
        .replace(bookstore_tests::topology::TLS_REDIS_PASSWORD, "wrong");
    let wrong = redis_connect(&wrong_password, Some(&ca))
        .await
        .expect_err("a wrong password is refused")
        .to_string();
    // The redis crate turns the server's WRONGPASS into its own AuthenticationFailed.
    assert!(wrong.contains("AuthenticationFailed"), "{wrong}");

    let plain = redis_connect(&redis.plain_url(), None).await;
    let plain = match plain {
        Err(err) => err.to_string(),
        Ok(mut conn) => redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .expect_err("plain TCP to the TLS port fails")
            .to_string(),
    };
    eprintln!("plain TCP: {plain}");

    let other = redis.ca().other().await.unwrap();
    let wrong_ca = redis_connect(&redis.url(), Some(&other.cert()))
        .await
        .expect_err("a certificate from another CA does not verify")
        .to_string();
    assert!(wrong_ca.contains("certificate"), "{wrong_ca}");
    eprintln!("another CA: {wrong_ca}");

    let (dir, port) = (redis.dir().to_owned(), redis.port());
    drop(redis);
    assert_gone(&dir, &[port]).await;
}

#[tokio::test]
async fn redis_cluster_serves_through_failover_slot_migration_and_a_killed_master() {
    if !available(&[Tool::RedisServer, Tool::RedisCli]) {
        return;
    }
    let since = Instant::now();
    let mut cluster = RedisCluster::start().await.expect("the cluster starts");
    started("RedisCluster (3 masters, 3 replicas)", since);

    for (node, url) in cluster.urls().iter().enumerate() {
        let mut conn = cluster.connect(node).await.unwrap();
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(info.contains("cluster_state:ok"), "{url}: {info}");
    }
    assert_eq!(cluster.masters().await.unwrap().len(), 3);

    let client = redis::cluster::ClusterClient::builder(cluster.urls())
        .connection_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut conn = client.get_async_connection().await.unwrap();
    for i in 0..100 {
        conn.set(format!("book:{i}"), i).await.unwrap();
    }
    for i in 0..100 {
        let value = conn.get(format!("book:{i}")).await.unwrap();
        assert_eq!(value, Some(i.to_string()));
    }

    // A manual failover: the replica takes over and the client follows.
    let key = "book:7";
    let slot = cluster.key_slot(key).await.unwrap();
    let master = cluster.master_of_slot(slot).await.unwrap();
    let since = Instant::now();
    let promoted = cluster.failover(master).await.expect("failover");
    eprintln!(
        "failover of node {master} to node {promoted} took {:.2?}",
        since.elapsed()
    );
    assert_ne!(promoted, master);
    assert_eq!(cluster.master_of_slot(slot).await.unwrap(), promoted);
    assert_eq!(conn.get(key).await.unwrap().as_deref(), Some("7"));
    conn.set(key, "after failover").await.unwrap();

    // The slot moves to another master, with its keys; the client follows again.
    let to = cluster
        .masters()
        .await
        .unwrap()
        .into_iter()
        .find(|node| *node != promoted)
        .unwrap();
    let since = Instant::now();
    let moved = cluster
        .migrate_slot(slot, promoted, to)
        .await
        .expect("migration");
    eprintln!(
        "slot {slot} ({moved} keys) moved to node {to} in {:.2?}",
        since.elapsed()
    );
    assert!(moved >= 1);
    assert_eq!(cluster.master_of_slot(slot).await.unwrap(), to);
    assert_eq!(
        conn.get(key).await.unwrap().as_deref(),
        Some("after failover")
    );
    let mut direct = cluster.connect(to).await.unwrap();
    assert_eq!(
        direct.get(key).await.unwrap().as_deref(),
        Some("after failover")
    );

    // The master that now holds the key dies; its replica is promoted after the node
    // timeout, and the key is still there.
    let victim = cluster.master_of_slot(slot).await.unwrap();
    let since = Instant::now();
    cluster.kill(victim);
    cluster.wait_until_ok().await.expect("the cluster recovers");
    eprintln!(
        "killed master node {victim}: cluster_state:ok again after {:.2?}",
        since.elapsed()
    );
    let survivor = cluster.master_of_slot(slot).await.unwrap();
    assert_ne!(survivor, victim);
    let value = retry(Duration::from_secs(20), || {
        let mut conn = conn.clone();
        async move { conn.get(key).await }
    })
    .await;
    assert_eq!(value.as_deref(), Some("after failover"));

    let (dir, ports) = (
        cluster.dir().to_owned(),
        (0..cluster.len())
            .map(|node| cluster.port(node))
            .collect::<Vec<_>>(),
    );
    drop(conn);
    drop(cluster);
    assert_gone(&dir, &ports).await;
}

/// Calls `op` until it succeeds, for at most `limit`.
async fn retry<T, E: std::fmt::Display, Fut>(limit: Duration, mut op: impl FnMut() -> Fut) -> T
where
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let since = Instant::now();
    loop {
        match op().await {
            Ok(value) => return value,
            Err(err) if since.elapsed() < limit => {
                eprintln!("retrying: {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("still failing after {limit:?}: {err}"),
        }
    }
}

#[tokio::test]
async fn sentinel_promotes_the_replica_when_the_master_is_killed() {
    if !available(&[Tool::RedisServer]) {
        return;
    }
    let since = Instant::now();
    let mut sentinel = Sentinel::start().await.expect("Sentinel starts");
    started("Sentinel (master, replica, 3 sentinels)", since);

    let first = sentinel.current_master().await.unwrap();
    assert_eq!(
        format!("redis://{first}"),
        sentinel.server_urls()[0],
        "the master is the one started as master"
    );
    let sentinel_urls = sentinel.sentinel_urls();
    let master_client = || {
        redis::sentinel::SentinelClient::build(
            sentinel_urls.clone(),
            SENTINEL_MASTER,
            None,
            redis::sentinel::SentinelServerType::Master,
        )
        .unwrap()
    };
    let mut conn = master_client().get_async_connection().await.unwrap();
    conn.set("sentinel:key", "before failover").await.unwrap();
    // Acknowledged by the replica before the master dies.
    let replicas: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(replicas, 1);

    let since = Instant::now();
    let killed = sentinel.kill_master().await.unwrap();
    let new = sentinel
        .wait_for_failover(&killed, SENTINEL_DOWN_AFTER + Duration::from_secs(30))
        .await
        .expect("the sentinels fail over");
    let took = since.elapsed();
    eprintln!(
        "master {killed} killed: sentinels named {new} after {took:.2?} \
         (down-after-milliseconds {SENTINEL_DOWN_AFTER:?})"
    );
    assert_ne!(new, killed);
    assert!(
        took < SENTINEL_DOWN_AFTER + Duration::from_secs(10),
        "failover took {took:?}"
    );

    let mut conn = master_client().get_async_connection().await.unwrap();
    assert_eq!(
        conn.get("sentinel:key").await.unwrap().as_deref(),
        Some("before failover")
    );
    conn.set("sentinel:key", "after failover").await.unwrap();

    let dir = sentinel.dir().to_owned();
    drop(sentinel);
    assert_gone(&dir, &[]).await;
}

#[tokio::test]
async fn pg_replica_replays_the_primarys_writes_and_reports_its_lag() {
    if !available(&[Tool::Postgres]) {
        return;
    }
    let since = Instant::now();
    let mut pg = PgReplica::start().await.expect("primary and replica start");
    started("PgReplica (primary + streaming replica)", since);

    let mut primary = PgConnection::connect(&pg.primary_url()).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE replicated (id int PRIMARY KEY, note text NOT NULL); \
         INSERT INTO replicated VALUES (1, 'written on the primary')",
    )
    .execute(&mut primary)
    .await
    .unwrap();
    let took = pg
        .wait_for_replay(Duration::from_secs(10))
        .await
        .expect("the replica catches up");
    eprintln!("replica caught up in {took:.2?}");

    let mut replica = PgConnection::connect(&pg.replica_url()).await.unwrap();
    let read = |id: i32| {
        sqlx::query_scalar::<_, String>("SELECT note FROM replicated WHERE id = $1").bind(id)
    };
    assert_eq!(
        read(1)
            .fetch_optional(&mut replica)
            .await
            .unwrap()
            .as_deref(),
        Some("written on the primary")
    );
    let refused = sqlx::raw_sql("INSERT INTO replicated VALUES (9, 'no')")
        .execute(&mut replica)
        .await
        .expect_err("the replica is read-only")
        .to_string();
    assert!(refused.contains("read-only"), "{refused}");

    // pg_stat_statements shows where a query ran: on the replica, not on the primary.
    let ran = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
             WHERE query LIKE 'SELECT note FROM replicated%'",
        )
    };
    assert!(ran().fetch_one(&mut replica).await.unwrap() >= 1);
    assert_eq!(ran().fetch_one(&mut primary).await.unwrap(), 0);

    let lag = pg.replay_lag().await.unwrap();
    eprintln!("lag after catching up: {lag:?}");
    // Not exactly 0: the primary logs small records of its own now and then (snapshots of
    // running transactions for hot standbys).
    assert!(lag.bytes < 8192, "{lag:?}");
    assert!(lag.since_last_replayed_commit.is_some());

    // Paused replay: the replica falls behind by what the primary writes.
    pg.pause_replay().await.unwrap();
    sqlx::raw_sql("INSERT INTO replicated VALUES (2, 'while paused')")
        .execute(&mut primary)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lag = pg.replay_lag().await.unwrap();
    eprintln!("lag with replay paused: {lag:?}");
    assert!(lag.bytes > 0);
    assert_eq!(read(2).fetch_optional(&mut replica).await.unwrap(), None);
    pg.resume_replay().await.unwrap();
    pg.wait_for_replay(Duration::from_secs(10)).await.unwrap();
    assert!(
        read(2)
            .fetch_optional(&mut replica)
            .await
            .unwrap()
            .is_some()
    );

    // A stopped replica refuses connections, then catches up when it starts again.
    drop(replica);
    pg.stop_replica().await;
    assert!(PgConnection::connect(&pg.replica_url()).await.is_err());
    sqlx::raw_sql("INSERT INTO replicated VALUES (3, 'while stopped')")
        .execute(&mut primary)
        .await
        .unwrap();
    let since = Instant::now();
    pg.start_replica().await.expect("the replica starts again");
    pg.wait_for_replay(Duration::from_secs(30)).await.unwrap();
    eprintln!("replica restarted and caught up in {:.2?}", since.elapsed());
    let mut replica = PgConnection::connect(&pg.replica_url()).await.unwrap();
    assert!(
        read(3)
            .fetch_optional(&mut replica)
            .await
            .unwrap()
            .is_some()
    );

    let dir = pg.dir().to_owned();
    drop((primary, replica));
    drop(pg);
    assert_gone(&dir, &[]).await;
}

/// How sqlx sends a query through PgBouncer in [`pgbouncer_transaction_pooling_and_sqlx`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Statement {
    /// sqlx's default: a named prepared statement, cached per connection.
    Cached,
    /// A named prepared statement on a connection whose statement cache is off
    /// (`statement_cache_capacity(0)`): prepared anew, under a new name, every time.
    Uncached,
    /// `.persistent(false)`: the unnamed prepared statement.
    Unnamed,
    /// The default, inside an explicit transaction.
    CachedInTransaction,
    /// `.persistent(false)`, inside an explicit transaction.
    UnnamedInTransaction,
    /// `raw_sql`: the simple query protocol (no parameters).
    Simple,
}

/// What a burst of queries gave: correct answers, wrong answers and errors by message.
#[derive(Debug, Default)]
struct Outcome {
    ok: usize,
    wrong: usize,
    errors: BTreeMap<String, usize>,
}

impl Outcome {
    fn failed(&self) -> usize {
        self.wrong + self.errors.values().sum::<usize>()
    }
}

/// `TASKS` tasks, each on a connection of its own, send `QUERIES` queries each the way
/// `statement` says, all through PgBouncer at once.
async fn burst(url: &str, statement: Statement) -> Outcome {
    const TASKS: usize = 16;
    const QUERIES: usize = 40;
    let mut options: PgConnectOptions = url.parse().unwrap();
    if statement == Statement::Uncached {
        options = options.statement_cache_capacity(0);
    }
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(TASKS).unwrap())
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .expect("connecting through PgBouncer");
    let outcome = Arc::new(std::sync::Mutex::new(Outcome::default()));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (pool, outcome) = (pool.clone(), Arc::clone(&outcome));
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.acquire().await.expect("a pooled connection");
            for i in 0..QUERIES {
                // Each task has a statement of its own and asks for rows of its own, so a
                // statement run with another task's parameters, or another task's
                // statement, shows as a wrong answer.
                let id = task * QUERIES + i + 1;
                let answer = tokio::time::timeout(
                    Duration::from_secs(5),
                    ask(&mut conn, statement, task, id),
                )
                .await;
                let mut outcome = outcome.lock().unwrap();
                match answer {
                    Ok(Ok(answer)) if answer == format!("item {id} for task {task}") => {
                        outcome.ok += 1;
                    }
                    Ok(Ok(_)) => outcome.wrong += 1,
                    Ok(Err(err)) => *outcome.errors.entry(normalise(&err)).or_default() += 1,
                    Err(_) => {
                        *outcome
                            .errors
                            .entry("no answer within 5 s".to_owned())
                            .or_default() += 1;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    pool.close().await;
    Arc::try_unwrap(outcome).unwrap().into_inner().unwrap()
}

async fn ask(
    conn: &mut PgConnection,
    statement: Statement,
    task: usize,
    id: usize,
) -> Result<String, sqlx::Error> {
    let sql = format!("SELECT name || ' for task {task}' FROM items WHERE id = ");
    let id = i32::try_from(id).unwrap();
    let query = |persistent: bool| {
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("{sql}$1")))
            .bind(id)
            .persistent(persistent)
    };
    match statement {
        Statement::Cached | Statement::Uncached => query(true).fetch_one(conn).await,
        Statement::Unnamed => query(false).fetch_one(conn).await,
        Statement::CachedInTransaction | Statement::UnnamedInTransaction => {
            let persistent = statement == Statement::CachedInTransaction;
            let mut tx = conn.begin().await?;
            let first = query(persistent).fetch_one(&mut *tx).await?;
            // A second statement in the same transaction, on the same server connection.
            let second = query(persistent).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(if first == second { first } else { second })
        }
        Statement::Simple => {
            use sqlx::Row;
            let row = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("{sql}{id}")))
                .fetch_one(conn)
                .await?;
            row.try_get(0)
        }
    }
}

/// An error message without the statement number, so that alike errors count together.
fn normalise(err: &sqlx::Error) -> String {
    let message = err.to_string();
    let mut normal = String::with_capacity(message.len());
    let mut digits = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !digits {
                normal.push('N');
            }
            digits = true;
        } else {
            normal.push(c);
            digits = false;
        }
    }
    normal
}

/// What sqlx 0.9 does through PgBouncer in transaction pooling mode, measured: which ways
/// of sending a query survive many concurrent clients sharing few server connections.
#[tokio::test]
async fn pgbouncer_transaction_pooling_and_sqlx() {
    if !available(&[Tool::Postgres, Tool::PgBouncer]) {
        return;
    }
    let version = pgbouncer_version().unwrap();
    let since = Instant::now();
    // Few server connections for many clients, so that consecutive messages of one client
    // often land on different server connections, as they would under load.
    let options = PgBouncerOptions {
        pool_size: 2,
        ..PgBouncerOptions::default()
    };
    let bouncer = PgBouncer::start_with_own_postgres(&options)
        .await
        .expect("PgBouncer and PostgreSQL start");
    started(
        &format!("PgBouncer {version:?} (transaction pooling) with its PostgreSQL"),
        since,
    );
    let mut direct = PgConnection::connect(bouncer.upstream_url()).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL); \
         INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 1000) i",
    )
    .execute(&mut direct)
    .await
    .unwrap();

    let mut outcomes = BTreeMap::new();
    for statement in [
        Statement::Simple,
        Statement::Cached,
        Statement::Uncached,
        Statement::Unnamed,
        Statement::CachedInTransaction,
        Statement::UnnamedInTransaction,
    ] {
        let outcome = burst(&bouncer.url(), statement).await;
        eprintln!("{statement:?}: {outcome:#?}");
        outcomes.insert(format!("{statement:?}"), outcome);
    }
    let failed = |statement: Statement| outcomes[&format!("{statement:?}")].failed();

    // The simple protocol and unnamed statements inside an explicit transaction are safe:
    // the client keeps its server connection from BEGIN to COMMIT...
    assert_eq!(failed(Statement::Simple), 0);
    assert_eq!(failed(Statement::UnnamedInTransaction), 0);
    // ...but before 1.21 PgBouncer does not track prepared statements, so sqlx's named
    // ones break, in a transaction or not: prepared on one server connection, then used on
    // another, or prepared under a name another client has already used there.
    // Unnamed ones outside a transaction break too, mostly silently: sqlx 0.9 sends
    // Parse/Describe/Sync, waits, then Bind/Execute/Sync, and PgBouncer may hand the two
    // halves to different server connections, where the Bind runs whatever another client
    // last parsed there, with this client's parameters: a wrong answer, not an error.
    if version < (1, 21, 0) {
        for statement in [
            Statement::Cached,
            Statement::Uncached,
            Statement::CachedInTransaction,
            Statement::Unnamed,
        ] {
            assert!(failed(statement) > 0, "{statement:?} never failed");
        }
    }

    // A PgBouncer that does not ignore `extra_float_digits` refuses every sqlx connection.
    let strict = PgBouncer::start_with(
        bouncer.upstream_url(),
        &PgBouncerOptions {
            ignore_startup_parameters: Vec::new(),
            ..PgBouncerOptions::default()
        },
    )
    .await
    .unwrap();
    let refused = PgConnection::connect(&strict.url())
        .await
        .expect_err("unknown startup parameter")
        .to_string();
    assert!(refused.contains("extra_float_digits"), "{refused}");

    let dir = bouncer.dir().to_owned();
    let port = bouncer.port();
    drop((direct, strict));
    drop(bouncer);
    assert_gone(&dir, &[port]).await;
}

#[tokio::test]
async fn a_panicking_test_leaves_no_server_and_no_directory_behind() {
    if !available(&[Tool::Openssl, Tool::RedisServer]) {
        return;
    }
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let test = tokio::spawn(async move {
        let redis = TlsRedis::start().await.unwrap();
        sender.send((redis.dir().to_owned(), redis.port())).unwrap();
        panic!("a test fails while its topology runs");
    });
    assert!(test.await.unwrap_err().is_panic());
    let (dir, port) = receiver.await.unwrap();
    assert_gone(&dir, &[port]).await;
}

/// The `bookstore-topology` binary: it prints the variables once the topology is up, and
/// stops it when its standard input closes or when it gets SIGTERM.
#[tokio::test]
async fn topology_binary_prints_its_variables_and_cleans_up() {
    if !available(&[Tool::Openssl, Tool::RedisServer]) {
        return;
    }
    for stop_by_signal in [false, true] {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bookstore-topology"));
        command
            .arg("tls-redis")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if stop_by_signal {
            command.arg("--until-signal").stdin(Stdio::null());
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut vars = BTreeMap::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            let (key, value) = line.split_once('=').expect("KEY=value lines");
            vars.insert(key.to_owned(), value.to_owned());
            if key == "TOPOLOGY_READY" {
                break;
            }
        }
        let url = &vars["TEST_REDIS_URL"];
        let ca = PathBuf::from(&vars["TEST_REDIS_CA_CERT"]);
        let dir = PathBuf::from(&vars["TOPOLOGY_DIR"]);
        let mut conn = redis_connect(url, Some(&ca)).await.unwrap();
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        assert_eq!(pong, "PONG");
        drop(conn);

        if stop_by_signal {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        } else {
            drop(child.stdin.take());
        }
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("the binary exits")
            .unwrap();
        assert!(status.success(), "{status}");
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        assert_gone(&dir, &[port]).await;
    }
}
