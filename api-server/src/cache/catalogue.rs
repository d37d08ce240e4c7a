//! The catalogue cache: the public representations of books and authors (one item, and
//! pages of the lists), kept in memory as they are sent, so that a catalogue read that
//! hits costs neither the database nor serialisation.
//!
//! Beside the module's rules:
//! - Only reads that may lag (anonymous ones) use the cache; a read with credentials
//!   always goes to the primary, so an administrator reads back their own writes.
//! - A miss reads from the primary, never from the read replica: a lagging replica could
//!   otherwise put back a value from before a write the cache was just emptied for.
//! - Any write of the catalogue empties it: a book's write changes its page of every
//!   list, the totals, and so on.

use uuid::Uuid;

use super::{Bounds, Coherent, Lookup, Weigh};
use crate::domain::Freshness;
use crate::representation::Representation;
use crate::settings::CatalogueCacheSettings;

/// What a cached representation is the answer to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Author(Uuid),
    Book(Uuid),
    /// A page of a list: the list's name and its normalised parameters (filters, limit,
    /// offset, cursor), exactly as the repository is asked for them.
    Page(&'static str, String),
}

/// The catalogue cache of one server.
pub type CatalogueCache = Coherent<Key, Representation>;

impl Weigh for Representation {
    fn bytes(&self) -> usize {
        self.body.len()
    }
}

impl CatalogueCache {
    /// The catalogue cache of `settings`; `shared` when other servers may write the same
    /// database (PostgreSQL).
    pub fn catalogue(settings: &CatalogueCacheSettings, shared: bool) -> Self {
        if !settings.enabled {
            return Self::off();
        }
        let bounds = Bounds {
            max_entries: settings.max_entries,
            max_bytes: settings.max_bytes,
        };
        Self::new("catalogue", bounds, shared)
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
        if freshness != Freshness::MayLag {
            return Ok(Representation::of(&read(freshness).await?));
        }
        match self.lookup(&key) {
            Lookup::Hit(representation) => Ok(representation),
            Lookup::Miss(ticket) => {
                // From the primary: see the module's rules.
                let representation = Representation::of(&read(Freshness::Latest).await?);
                self.fill(ticket, key, representation.clone());
                Ok(representation)
            }
            Lookup::Unused => Ok(Representation::of(&read(freshness).await?)),
        }
    }
}
