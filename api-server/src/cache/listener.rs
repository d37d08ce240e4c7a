//! Hearing of the writes of other servers (PostgreSQL).
//!
//! Triggers call `pg_notify(channel, …)` in the writing transaction, which PostgreSQL
//! delivers to every listener when it commits: on `authors` and `books` the channel
//! [`CATALOGUE`], on `users` [`ACCOUNTS`]. Each server listens on a connection of its
//! own (named [`APPLICATION_NAME`], for operators) and empties the cache of a channel on
//! every notification on it.
//!
//! A notification sent while the connection is down is lost, so the caches are used only
//! while the connection is known to be alive:
//! - when it fails (an error, or the end of the stream), the caches are out of use and
//!   emptied at once; a new connection is made, with backoff, and once it `LISTEN`s the
//!   caches are emptied again (what was missed meanwhile is unknown) and used again;
//! - a connection can also die silently (a network partition leaves no error to read):
//!   it is asked a trivial query every [`HEARTBEAT`], and each answer renews a lease of
//!   [`super::LEASE`], past which the caches are out of use until the next answer. A
//!   write is so never hidden for longer than the lease, however the connection fails.

use std::hash::Hash;
use std::time::Duration;

use sea_query::{Expr, PostgresQueryBuilder, Query};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::{Coherent, Weigh};

/// The channel of the catalogue's writes (`migrations/postgres/*_catalogue_notify.sql`).
pub const CATALOGUE: &str = "catalogue";

/// The channel of the accounts' writes (`migrations/postgres/*_accounts_notify.sql`).
pub const ACCOUNTS: &str = "accounts";

/// The `application_name` of the listening connection, as `pg_stat_activity` shows it.
pub const APPLICATION_NAME: &str = "bookstore-cache-listener";

/// How often the listening connection is asked whether it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(250);

/// How long it has to answer.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(500);

/// The pause before connecting again, doubled after each failure up to the most.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MOST: Duration = Duration::from_secs(5);

/// A cache the listener keeps coherent.
pub trait Listening: Send + Sync {
    /// The listening connection is up (again).
    fn listening(&self);
    /// The listening connection proved alive now.
    fn alive(&self);
    /// The listening connection is lost.
    fn deaf(&self);
    /// What the cache holds was written.
    fn invalidate(&self);
}

impl<K, V> Listening for Coherent<K, V>
where
    K: Eq + Hash + Clone + Send + Sync,
    V: Weigh + Clone + Send + Sync,
{
    fn listening(&self) {
        Coherent::listening(self);
    }
    fn alive(&self) {
        Coherent::alive(self);
    }
    fn deaf(&self) {
        Coherent::deaf(self);
    }
    fn invalidate(&self) {
        Coherent::invalidate(self);
    }
}

/// The caches to keep coherent, each with the channel its writes are notified on.
pub type Subscribers = Vec<(&'static str, Box<dyn Listening>)>;

/// Listens for the notifications of `caches` and keeps each coherent with them, for as
/// long as the task runs (it is aborted at shutdown).
pub async fn run(caches: Subscribers, options: PgConnectOptions) {
    let mut backoff = BACKOFF_FIRST;
    let mut reported = false;
    let every = |event: fn(&dyn Listening)| {
        for (_, cache) in &caches {
            event(cache.as_ref());
        }
    };
    loop {
        match listen(&options, &caches).await {
            Ok(listener) => {
                every(|cache| cache.listening());
                if reported {
                    tracing::info!("listening for writes again; caches in use");
                }
                backoff = BACKOFF_FIRST;
                let why = follow(&caches, listener).await;
                every(|cache| cache.deaf());
                tracing::warn!(
                    reason = %why,
                    "lost the connection listening for writes; reading from the database \
                     until it is back"
                );
                reported = true;
                // Reconnect at once the first time: the database is likely still there.
                continue;
            }
            Err(err) => {
                if !reported {
                    tracing::warn!(
                        error = %err,
                        "cannot listen for writes; reading from the database until it can"
                    );
                    reported = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MOST);
    }
}

/// A new connection that listens on the channels of `caches`.
async fn listen(
    options: &PgConnectOptions,
    caches: &Subscribers,
) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(HEARTBEAT_TIMEOUT * 4)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection is for `run` to replace, after it has emptied the caches.
    listener.eager_reconnect(false);
    let mut channels: Vec<&str> = caches.iter().map(|(channel, _)| *channel).collect();
    channels.sort_unstable();
    channels.dedup();
    listener.listen_all(channels).await?;
    Ok(listener)
}

/// What the loop in [`follow`] waits for.
enum Event {
    Notified(Result<Option<sqlx::postgres::PgNotification>, sqlx::Error>),
    Heartbeat,
}

/// Empties the caches of each notification's channel, and renews the leases of all on
/// each heartbeat, until the connection fails; then why.
async fn follow(caches: &Subscribers, mut listener: PgListener) -> String {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ping = Query::select().expr(Expr::val(1)).to_owned();
    let ping = ping.to_string(PostgresQueryBuilder);
    loop {
        let event = tokio::select! {
            notified = listener.try_recv() => Event::Notified(notified),
            _ = heartbeat.tick() => Event::Heartbeat,
        };
        match event {
            Event::Notified(Ok(Some(notification))) => caches
                .iter()
                .filter(|(channel, _)| *channel == notification.channel())
                .for_each(|(_, cache)| cache.invalidate()),
            Event::Notified(Ok(None)) => return "the connection closed".to_owned(),
            Event::Notified(Err(err)) => return err.to_string(),
            Event::Heartbeat => {
                let answer = tokio::time::timeout(
                    HEARTBEAT_TIMEOUT,
                    sqlx::raw_sql(AssertSqlSafe(ping.clone())).execute(&mut listener),
                )
                .await;
                match answer {
                    Ok(Ok(_)) => caches.iter().for_each(|(_, cache)| cache.alive()),
                    Ok(Err(err)) => return err.to_string(),
                    Err(_) => return format!("no answer within {HEARTBEAT_TIMEOUT:?}"),
                }
            }
        }
    }
}
