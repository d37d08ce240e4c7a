//! The catalogue cache: the public representations of books and authors (one item, and
//! pages of the lists), kept in memory as they are sent, so that a catalogue read that
//! hits costs neither the database nor serialisation.
//!
//! Coherence rules:
//! - Only reads that may lag (anonymous ones) use the cache; a read with credentials
//!   always goes to the primary, so an administrator reads back their own writes.
//! - A miss reads from the primary, never from the read replica: a lagging replica could
//!   otherwise put back a value from before a write the cache was just emptied for.
//! - Any write of the catalogue empties the whole cache (a book's write changes its page
//!   of every list, the totals, and so on; writes are rare next to reads, and "all of
//!   it" is obviously correct where a finer rule would have to be proven so). The server
//!   that writes empties it before answering; on PostgreSQL, triggers on `authors` and
//!   `books` raise a notification in the writing transaction, which every server listens
//!   for ([`listener`]) and empties its cache on.
//! - Entries carry the generation they were read in; emptying moves to the next
//!   generation first, and only entries of the current generation are served, so a
//!   read that raced with a write can never be served after it.
//! - On PostgreSQL the cache is used only while its listening connection is known to
//!   be alive (see [`listener`]); otherwise every read goes to the database.

mod entries;
pub mod listener;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use entries::Key;
use entries::{Entries, Entry, bounded};

use crate::domain::Freshness;
use crate::representation::Representation;
use crate::settings::CatalogueCacheSettings;

/// How long the cache stays in use after its listening connection last proved alive.
pub const LEASE: Duration = Duration::from_secs(1);

/// The catalogue cache of one server, cheap to clone.
#[derive(Clone)]
pub struct CatalogueCache(Option<Arc<Inner>>);

struct Inner {
    entries: Entries,
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

/// The cache's counters, for the metrics.
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

/// The generation a miss was read in: [`CatalogueCache::fill`] keeps its answer only
/// if nothing was written since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl CatalogueCache {
    /// The cache of `settings`; `shared` when other servers may write the same database
    /// (PostgreSQL), in which case it is not used until [`CatalogueCache::listening`].
    pub fn new(settings: &CatalogueCacheSettings, shared: bool) -> Self {
        if !settings.enabled || settings.max_entries == 0 || settings.max_bytes == 0 {
            return Self(None);
        }
        let evictions = Arc::new(AtomicU64::new(0));
        let entries = match bounded(settings, Arc::clone(&evictions)) {
            Ok(entries) => entries,
            Err(err) => {
                tracing::error!(
                    error = format!("{err:#}"),
                    "the catalogue cache cannot be built; it is off"
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

    /// A cache that is off: every read goes to the database.
    pub fn off() -> Self {
        Self(None)
    }

    /// Whether the cache is on (it may still be out of use while not listening).
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Whether a notification listener must keep this cache coherent.
    pub fn needs_listener(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|inner| inner.alive_ms.is_some())
    }

    /// The answer to a read of `freshness` for `key`: from the cache on a hit; else
    /// `read` runs (with the freshness it must have) and its answer is kept when it may
    /// be. Errors are never kept.
    pub async fn read<T, E, F, Fut>(
        &self,
        key: Key,
        freshness: Freshness,
        read: F,
    ) -> Result<Representation, E>
    where
        T: poem_openapi::types::ToJSON,
        F: FnOnce(Freshness) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let inner = match &self.0 {
            Some(inner) if freshness == Freshness::MayLag && inner.in_use() => inner,
            _ => return Ok(Representation::of(&read(freshness).await?)),
        };
        let ticket = Ticket(inner.generation.load(Ordering::Acquire));
        if let Some(entry) = inner.entries.get(&key)
            && entry.generation == ticket.0
        {
            inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(entry.representation);
        }
        inner.misses.fetch_add(1, Ordering::Relaxed);
        // From the primary: see the module's rules.
        let representation = Representation::of(&read(Freshness::Latest).await?);
        self.fill(ticket, key, representation.clone());
        Ok(representation)
    }

    /// Keeps `representation`, read in the generation of `ticket`, unless the catalogue
    /// was written since. A write that lands between the check and the insertion is
    /// caught by the check after it (and by the generation every lookup compares).
    pub fn fill(&self, ticket: Ticket, key: Key, representation: Representation) {
        let Some(inner) = &self.0 else { return };
        if inner.generation.load(Ordering::Acquire) != ticket.0 || !inner.in_use() {
            return;
        }
        let entry = Entry {
            generation: ticket.0,
            representation,
        };
        inner.entries.insert(key.clone(), entry);
        if inner.generation.load(Ordering::Acquire) != ticket.0 {
            inner
                .entries
                .remove_if(&key, |entry| entry.generation == ticket.0);
        }
    }

    /// The generation reads start in now.
    pub fn ticket(&self) -> Ticket {
        Ticket(
            self.0
                .as_ref()
                .map_or(0, |inner| inner.generation.load(Ordering::Acquire)),
        )
    }

    /// The representation kept for `key`, if it is current and the cache in use.
    pub fn get(&self, key: &Key) -> Option<Representation> {
        let inner = self.0.as_ref().filter(|inner| inner.in_use())?;
        let generation = inner.generation.load(Ordering::Acquire);
        let entry = inner.entries.get(key)?;
        (entry.generation == generation).then_some(entry.representation)
    }

    /// Forgets everything: the catalogue was written (or may have been, unheard).
    pub fn invalidate(&self) {
        if let Some(inner) = &self.0 {
            inner.invalidate();
        }
    }

    /// After a write of the catalogue with this outcome: forgets everything unless the
    /// write was refused before it could change anything (by a rule, a precondition or
    /// a constraint). A write that failed otherwise (timed out, say) may have committed.
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

impl Inner {
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
