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
//! - a connection can also die silently (a network partition leaves no error to read),
//!   or answer queries while notifications never reach it (through a pooler in
//!   transaction mode): every [`HEARTBEAT`] it sends a notification to itself, on a
//!   channel of its own, and each one that arrives renews a lease of [`super::LEASE`],
//!   past which the caches are out of use until the next; past the lease the connection
//!   is replaced. A write is so never hidden for longer than the lease, however the
//!   connection fails. A new connection is used only once its first one has arrived.

use std::hash::Hash;
use std::time::{Duration, Instant};

use sea_query::{Func, PostgresQueryBuilder, Query};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};
use uuid::Uuid;

use super::{Coherent, LEASE, Weigh};

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
            Ok((listener, probe)) => {
                every(|cache| cache.listening());
                if reported {
                    tracing::info!("listening for writes again; caches in use");
                }
                backoff = BACKOFF_FIRST;
                let why = follow(&caches, listener, probe).await;
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

/// A new connection that listens on the channels of `caches`, once a notification of its
/// own has arrived on it.
async fn listen(
    options: &PgConnectOptions,
    caches: &Subscribers,
) -> anyhow::Result<(PgListener, Probe)> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(HEARTBEAT_TIMEOUT * 4)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection is for `run` to replace, after it has emptied the caches.
    listener.eager_reconnect(false);
    let mut probe = Probe::new();
    let mut channels: Vec<&str> = caches.iter().map(|(channel, _)| *channel).collect();
    channels.push(&probe.channel);
    channels.sort_unstable();
    channels.dedup();
    listener.listen_all(channels).await?;
    probe
        .send(&mut listener)
        .await
        .map_err(anyhow::Error::msg)?;
    let arrived = tokio::time::timeout(LEASE, async {
        loop {
            match listener.try_recv().await? {
                Some(notification) if probe.is_last(&notification) => return Ok(()),
                // The caches are emptied once this connection is in use.
                Some(_) => {}
                None => anyhow::bail!("the connection closed"),
            }
        }
    })
    .await;
    match arrived {
        Ok(outcome) => outcome.map(|()| (listener, probe)),
        Err(_) => anyhow::bail!(
            "a notification sent on the listening connection did not arrive within {LEASE:?}: \
             a connection through a transaction-pooling PgBouncer cannot listen \
             (DATABASE_MIGRATION_URL names PostgreSQL itself)"
        ),
    }
}

/// Notifications the listening connection sends itself on a channel of its own: one that
/// arrives proves that every notification committed before it has arrived too
/// (PostgreSQL delivers them in commit order), which a mere answer to a query would not
/// prove (a pooler in between answers queries but drops notifications).
struct Probe {
    channel: String,
    /// The number of the last one sent, its payload.
    sent: u64,
}

impl Probe {
    fn new() -> Self {
        Self {
            channel: format!("bookstore_probe_{}", Uuid::new_v4().simple()),
            sent: 0,
        }
    }

    /// Sends the next one on `listener`.
    async fn send(&mut self, listener: &mut PgListener) -> Result<(), String> {
        self.sent += 1;
        let stmt = Query::select()
            .expr(
                Func::cust("pg_notify")
                    .arg(self.channel.as_str())
                    .arg(self.sent.to_string()),
            )
            .to_owned();
        let sql = stmt.to_string(PostgresQueryBuilder);
        let answer = tokio::time::timeout(
            HEARTBEAT_TIMEOUT,
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(listener),
        )
        .await;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {HEARTBEAT_TIMEOUT:?}")),
        }
    }

    /// Whether `notification` is one of these.
    fn is_own(&self, notification: &PgNotification) -> bool {
        notification.channel() == self.channel
    }

    /// Whether `notification` is the last one sent.
    fn is_last(&self, notification: &PgNotification) -> bool {
        self.is_own(notification) && notification.payload() == self.sent.to_string()
    }
}

/// What the loop in [`follow`] waits for.
enum Event {
    Notified(Result<Option<PgNotification>, sqlx::Error>),
    Heartbeat,
}

/// Empties the caches of each notification's channel, and renews the leases of all when
/// the last probe arrives, sending one each heartbeat, until the connection fails or its
/// probes stop arriving; then why.
async fn follow(caches: &Subscribers, mut listener: PgListener, mut probe: Probe) -> String {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    loop {
        let event = tokio::select! {
            notified = listener.try_recv() => Event::Notified(notified),
            _ = heartbeat.tick() => Event::Heartbeat,
        };
        match event {
            Event::Notified(Ok(Some(notification))) if probe.is_own(&notification) => {
                if probe.is_last(&notification) {
                    heard = Instant::now();
                    caches.iter().for_each(|(_, cache)| cache.alive());
                }
            }
            Event::Notified(Ok(Some(notification))) => caches
                .iter()
                .filter(|(channel, _)| *channel == notification.channel())
                .for_each(|(_, cache)| cache.invalidate()),
            Event::Notified(Ok(None)) => return "the connection closed".to_owned(),
            Event::Notified(Err(err)) => return err.to_string(),
            Event::Heartbeat => {
                if heard.elapsed() > LEASE {
                    return format!("its own notifications stopped arriving for {LEASE:?}");
                }
                if let Err(why) = probe.send(&mut listener).await {
                    return why;
                }
            }
        }
    }
}
