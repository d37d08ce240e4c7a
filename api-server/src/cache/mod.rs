//! Caches of what the database holds, kept coherent with it: the catalogue's public
//! representations ([`catalogue`]) and the accounts that authenticate requests
//! (`users::AccountCache`).
//!
//! Coherence rules, shared by every cache here:
//! - Any write of what a cache holds empties the whole cache (writes are rare next to
//!   reads, and "all of it" is obviously correct where a finer rule would have to be
//!   proven so). The server that writes empties it before answering; on PostgreSQL,
//!   triggers raise a notification in the writing transaction, which every server
//!   listens for ([`listener`]) and empties its caches on.
//! - Entries carry the generation they were read in; emptying moves to the next
//!   generation first, and only entries of the current generation are served, so a
//!   read that raced with a write can never be served after it.
//! - On PostgreSQL a cache is used only while its listening connection is known to be
//!   alive (see [`listener`]); otherwise every read goes to the database.

pub mod catalogue;
mod entries;
pub mod listener;

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use catalogue::{CatalogueCache, Key};
pub use entries::Weigh;
use entries::{Entries, Entry, bounded};

/// How long a cache stays in use after its listening connection last proved alive.
pub const LEASE: Duration = Duration::from_secs(1);

/// A cache of values `V` by key `K`, coherent with the database by the module's rules;
/// cheap to clone.
pub struct Coherent<K, V>(Option<Arc<Inner<K, V>>>);

impl<K, V> Clone for Coherent<K, V> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

struct Inner<K, V> {
    entries: Entries<K, V>,
    generation: AtomicU64,
    /// Whether the cache may be used: always on SQLite; on PostgreSQL while listening.
    listening: AtomicBool,
    /// On PostgreSQL, when the listening connection last proved alive (milliseconds
    /// since `epoch`); `None` for a backend without other servers to hear from.
    alive_ms: Option<AtomicU64>,
    epoch: Instant,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    evictions: Arc<AtomicU64>,
}

/// How much a cache may hold; either bound 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_entries: usize,
    pub max_bytes: usize,
}

/// A cache's counters, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub invalidations: u64,
    pub evictions: u64,
    pub entries: u64,
    /// Whether it answers reads now (on PostgreSQL, while it listens for writes).
    pub in_use: bool,
}

/// What [`Coherent::lookup`] found.
enum Lookup<V> {
    /// The current value.
    Hit(V),
    /// Nothing current: read it, in the generation of the ticket.
    Miss(Ticket),
    /// The cache is off, or out of use.
    Unused,
}

/// The generation a miss was read in: [`Coherent::fill`] keeps its answer only if
/// nothing was written since.
#[derive(Debug, Clone, Copy)]
struct Ticket(u64);

impl<K, V> Coherent<K, V>
where
    K: Eq + Hash + Clone,
    V: Weigh + Clone,
{
    /// A cache within `bounds`; `shared` when other servers may write the same database
    /// (PostgreSQL), in which case it is not used until [`Coherent::listening`].
    pub fn new(name: &str, bounds: Bounds, shared: bool) -> Self {
        if bounds.max_entries == 0 || bounds.max_bytes == 0 {
            return Self(None);
        }
        let evictions = Arc::new(AtomicU64::new(0));
        let entries = match bounded(bounds, Arc::clone(&evictions)) {
            Ok(entries) => entries,
            Err(err) => {
                tracing::error!(
                    cache = name,
                    error = format!("{err:#}"),
                    "the cache cannot be built; it is off"
                );
                return Self(None);
            }
        };
        Self(Some(Arc::new(Inner {
            entries,
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(!shared),
            alive_ms: shared.then(|| AtomicU64::new(0)),
            epoch: Instant::now(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            evictions,
        })))
    }

    /// Looks `key` up, counting a hit or a miss while the cache is in use.
    fn lookup(&self, key: &K) -> Lookup<V> {
        let Some(inner) = self.0.as_ref().filter(|inner| inner.in_use()) else {
            return Lookup::Unused;
        };
        let generation = inner.generation.load(Ordering::Acquire);
        match inner.entries.get(key) {
            Some(entry) if entry.generation == generation => {
                inner.hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Hit(entry.value)
            }
            _ => {
                inner.misses.fetch_add(1, Ordering::Relaxed);
                Lookup::Miss(Ticket(generation))
            }
        }
    }

    /// The value of `key`: from the cache on a hit; else `read` runs, and what it finds
    /// is kept (an absence or an error never is).
    pub async fn read_through<E, F, Fut>(&self, key: K, read: F) -> Result<Option<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        match self.lookup(&key) {
            Lookup::Hit(value) => Ok(Some(value)),
            Lookup::Miss(ticket) => {
                let found = read().await?;
                if let Some(value) = &found {
                    self.fill(ticket, key, value.clone());
                }
                Ok(found)
            }
            Lookup::Unused => read().await,
        }
    }

    /// Keeps `value`, read in the generation of `ticket`, unless what it caches was
    /// written since. A write that lands between the check and the insertion is caught
    /// by the check after it (and by the generation every lookup compares).
    fn fill(&self, ticket: Ticket, key: K, value: V) {
        let Some(inner) = &self.0 else { return };
        if inner.generation.load(Ordering::Acquire) != ticket.0 || !inner.in_use() {
            return;
        }
        let entry = Entry {
            generation: ticket.0,
            value,
        };
        inner.entries.insert(key.clone(), entry);
        if inner.generation.load(Ordering::Acquire) != ticket.0 {
            inner
                .entries
                .remove_if(&key, |entry| entry.generation == ticket.0);
        }
    }

    /// The generation reads start in now.
    #[cfg(test)]
    fn ticket(&self) -> Ticket {
        Ticket(
            self.0
                .as_ref()
                .map_or(0, |inner| inner.generation.load(Ordering::Acquire)),
        )
    }

    /// The value kept for `key`, if it is current and the cache in use.
    #[cfg(test)]
    fn get(&self, key: &K) -> Option<V> {
        let inner = self.0.as_ref().filter(|inner| inner.in_use())?;
        let generation = inner.generation.load(Ordering::Acquire);
        let entry = inner.entries.get(key)?;
        (entry.generation == generation).then_some(entry.value)
    }

    /// A cache that is off: every read goes to the database.
    pub fn off() -> Self {
        Self(None)
    }

    /// Whether the cache is on (it may still be out of use while not listening).
    #[cfg(test)]
    fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Whether a notification listener must keep this cache coherent.
    pub fn needs_listener(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|inner| inner.alive_ms.is_some())
    }

    /// Forgets everything: what it caches was written (or may have been, unheard).
    pub fn invalidate(&self) {
        if let Some(inner) = &self.0 {
            inner.invalidate();
        }
    }

    /// After a write of what the cache holds, with this outcome: forgets everything
    /// unless the write was refused before it could change anything (by a rule, a
    /// precondition or a constraint). A write that failed otherwise (timed out, say) may
    /// have committed.
    pub fn after_write<T>(&self, outcome: &Result<T, crate::error::AppError>) {
        use crate::error::AppError;
        match outcome {
            Ok(_) | Err(AppError::Unavailable(_) | AppError::Internal(_)) => self.invalidate(),
            Err(_) => {}
        }
    }

    /// The listening connection is up (again): notifications may have been missed
    /// before, so forget everything, then use the cache.
    pub fn listening(&self) {
        if let Some(inner) = &self.0 {
            inner.invalidate();
            inner.renew();
            inner.listening.store(true, Ordering::Release);
        }
    }

    /// The listening connection proved alive now.
    pub fn alive(&self) {
        if let Some(inner) = &self.0 {
            // A lapsed lease may have hidden missed notifications: start afresh.
            if !inner.lease_holds() {
                inner.invalidate();
            }
            inner.renew();
        }
    }

    /// The listening connection is lost: stop using the cache, and forget everything.
    pub fn deaf(&self) {
        if let Some(inner) = &self.0 {
            inner.listening.store(false, Ordering::Release);
            inner.invalidate();
        }
    }

    /// The counters, for the metrics.
    pub fn stats(&self) -> Stats {
        let Some(inner) = &self.0 else {
            return Stats::default();
        };
        Stats {
            hits: inner.hits.load(Ordering::Relaxed),
            misses: inner.misses.load(Ordering::Relaxed),
            invalidations: inner.invalidations.load(Ordering::Relaxed),
            evictions: inner.evictions.load(Ordering::Relaxed),
            entries: inner.entries.len() as u64,
            in_use: inner.in_use(),
        }
    }
}

impl<K, V> Inner<K, V>
where
    K: Eq + Hash + Clone,
    V: Weigh + Clone,
{
    /// Whether lookups and fills may use the cache now.
    fn in_use(&self) -> bool {
        self.listening.load(Ordering::Acquire) && self.lease_holds()
    }

    fn lease_holds(&self) -> bool {
        let Some(alive_ms) = &self.alive_ms else {
            return true;
        };
        let since = self
            .now_ms()
            .saturating_sub(alive_ms.load(Ordering::Acquire));
        u128::from(since) < LEASE.as_millis()
    }

    fn renew(&self) {
        if let Some(alive_ms) = &self.alive_ms {
            alive_ms.store(self.now_ms(), Ordering::Release);
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The next generation first, so that no entry of the last one is served from now
    /// on, then the memory back.
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests;
