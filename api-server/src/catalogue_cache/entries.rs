//! The entries of the catalogue cache, and the bounds on them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};
use uuid::Uuid;

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

/// A representation and the generation it was read in.
#[derive(Clone)]
pub(super) struct Entry {
    pub(super) generation: u64,
    pub(super) representation: Representation,
}

/// What an entry weighs: its body's bytes, but never less than a fixed share of the
/// budget, so that the entries are at most `max_entries` and their bytes at most
/// `max_bytes`.
#[derive(Clone)]
pub(super) struct Weight {
    min: u64,
}

impl Weighter<Key, Entry> for Weight {
    fn weight(&self, _key: &Key, entry: &Entry) -> u64 {
        (entry.representation.body.len() as u64).max(self.min)
    }
}

/// Counts the entries evicted to make room.
#[derive(Clone)]
pub(super) struct Evictions(Arc<AtomicU64>);

impl Lifecycle<Key, Entry> for Evictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: Key, _entry: Entry) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The entries, bounded as `settings` say.
pub(super) type Entries = Cache<Key, Entry, Weight, DefaultHashBuilder, Evictions>;

/// An empty map of entries within the bounds of `settings` (both non-zero), counting its
/// evictions in `evictions`.
pub(super) fn bounded(
    settings: &CatalogueCacheSettings,
    evictions: Arc<AtomicU64>,
) -> anyhow::Result<Entries> {
    let max_bytes = settings.max_bytes as u64;
    let max_entries = (settings.max_entries as u64).max(1);
    let options = OptionsBuilder::new()
        .estimated_items_capacity(settings.max_entries)
        .weight_capacity(max_bytes)
        .build()?;
    Ok(Cache::with_options(
        options,
        Weight {
            min: max_bytes.div_ceil(max_entries),
        },
        DefaultHashBuilder::default(),
        Evictions(evictions),
    ))
}
