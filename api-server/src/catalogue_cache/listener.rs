//! Hearing of the catalogue writes of other servers (PostgreSQL).
//!
//! Triggers on `authors` and `books` call `pg_notify('catalogue', …)` in the writing
//! transaction, which PostgreSQL delivers to every listener when it commits. Each server
//! listens on a connection of its own (named [`APPLICATION_NAME`], for operators) and
//! empties its cache on every notification.
//!
//! A notification sent while the connection is down is lost, so the cache is used only
//! while the connection is known to be alive:
//! - when it fails (an error, or the end of the stream), the cache is out of use and
//!   emptied at once; a new connection is made, with backoff, and once it `LISTEN`s the
//!   cache is emptied again (what was missed meanwhile is unknown) and used again;
//! - a connection can also die silently (a network partition leaves no error to read):
//!   it is asked a trivial query every [`HEARTBEAT`], and each answer renews a lease of
//!   [`super::LEASE`], past which the cache is out of use until the next answer. A
//!   write is so never hidden for longer than the lease, however the connection fails.

use std::time::Duration;

use sea_query::{Expr, PostgresQueryBuilder, Query};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::CatalogueCache;

/// The channel the triggers notify (`migrations/postgres/*_catalogue_notify.sql`).
pub const CHANNEL: &str = "catalogue";

/// The `application_name` of the listening connection, as `pg_stat_activity` shows it.
pub const APPLICATION_NAME: &str = "bookstore-catalogue-listener";

/// How often the listening connection is asked whether it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(250);

/// How long it has to answer.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(500);

/// The pause before connecting again, doubled after each failure up to the most.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MOST: Duration = Duration::from_secs(5);

/// Listens for the catalogue's notifications and keeps `cache` coherent with them, for
/// as long as the task runs (it is aborted at shutdown).
pub async fn run(cache: CatalogueCache, options: PgConnectOptions) {
    let mut backoff = BACKOFF_FIRST;
    let mut reported = false;
    loop {
        match listen(&options).await {
            Ok(listener) => {
                cache.listening();
                if reported {
                    tracing::info!("listening for catalogue writes again; catalogue cache in use");
                }
                backoff = BACKOFF_FIRST;
                let why = follow(&cache, listener).await;
                cache.deaf();
                tracing::warn!(
                    reason = %why,
                    "lost the connection listening for catalogue writes; reading the \
                     catalogue from the database until it is back"
                );
                reported = true;
                // Reconnect at once the first time: the database is likely still there.
                continue;
            }
            Err(err) => {
                if !reported {
                    tracing::warn!(
                        error = %err,
                        "cannot listen for catalogue writes; reading the catalogue from the \
                         database until it can"
                    );
                    reported = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MOST);
    }
}

/// A new connection that listens on [`CHANNEL`].
async fn listen(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(HEARTBEAT_TIMEOUT * 4)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection is for `run` to replace, after it has emptied the cache.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// What the loop in [`follow`] waits for.
enum Event {
    Notified(Result<Option<sqlx::postgres::PgNotification>, sqlx::Error>),
    Heartbeat,
}

/// Empties the cache on each notification and renews its lease on each heartbeat, until
/// the connection fails; then why.
async fn follow(cache: &CatalogueCache, mut listener: PgListener) -> String {
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
            Event::Notified(Ok(Some(_))) => cache.invalidate(),
            Event::Notified(Ok(None)) => return "the connection closed".to_owned(),
            Event::Notified(Err(err)) => return err.to_string(),
            Event::Heartbeat => {
                let answer = tokio::time::timeout(
                    HEARTBEAT_TIMEOUT,
                    sqlx::raw_sql(AssertSqlSafe(ping.clone())).execute(&mut listener),
                )
                .await;
                match answer {
                    Ok(Ok(_)) => cache.alive(),
                    Ok(Err(err)) => return err.to_string(),
                    Err(_) => return format!("no answer within {HEARTBEAT_TIMEOUT:?}"),
                }
            }
        }
    }
}
