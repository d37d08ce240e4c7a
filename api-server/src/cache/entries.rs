//! The entries of a cache, and the bounds on them.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};

use super::Bounds;

/// What a cached value weighs against a cache's `max_bytes`.
pub trait Weigh {
    /// About the bytes the value holds.
    fn bytes(&self) -> usize;
}

/// A value and the generation it was read in.
#[derive(Clone)]
pub(super) struct Entry<V> {
    pub(super) generation: u64,
    pub(super) value: V,
}

/// What an entry weighs: its value's bytes, but never less than a fixed share of the
/// budget, so that the entries are at most `max_entries` and their bytes at most
/// `max_bytes`.
#[derive(Clone)]
pub(super) struct Weight {
    min: u64,
}

impl<K, V: Weigh> Weighter<K, Entry<V>> for Weight {
    fn weight(&self, _key: &K, entry: &Entry<V>) -> u64 {
        (entry.value.bytes() as u64).max(self.min)
    }
}

/// Counts the entries evicted to make room.
#[derive(Clone)]
pub(super) struct Evictions(Arc<AtomicU64>);

impl<K, V> Lifecycle<K, Entry<V>> for Evictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: K, _entry: Entry<V>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The entries, bounded as `settings` say.
pub(super) type Entries<K, V> = Cache<K, Entry<V>, Weight, DefaultHashBuilder, Evictions>;

/// An empty map of entries within `bounds` (both non-zero), counting its evictions in
/// `evictions`.
pub(super) fn bounded<K, V>(
    bounds: Bounds,
    evictions: Arc<AtomicU64>,
) -> anyhow::Result<Entries<K, V>>
where
    K: Eq + Hash + Clone,
    V: Weigh + Clone,
{
    let max_bytes = bounds.max_bytes as u64;
    let max_entries = (bounds.max_entries as u64).max(1);
    let options = OptionsBuilder::new()
        .estimated_items_capacity(bounds.max_entries)
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
