use std::convert::Infallible;

use uuid::Uuid;

use super::{CatalogueCache, Key};
use crate::domain::Freshness;
use crate::representation::Representation;
use crate::settings::CatalogueCacheSettings;

fn settings(max_entries: usize, max_bytes: usize) -> CatalogueCacheSettings {
    CatalogueCacheSettings {
        enabled: true,
        max_entries,
        max_bytes,
    }
}

fn local() -> CatalogueCache {
    CatalogueCache::catalogue(&settings(100, 1 << 20), false)
}

fn value(text: &str) -> Representation {
    Representation::of(&serde_json::json!({ "title": text }))
}

/// A read through the cache that answers `text` from the "database".
async fn read(cache: &CatalogueCache, key: &Key, text: &str) -> Representation {
    let text = text.to_owned();
    let read = cache
        .read(key.clone(), Freshness::MayLag, |_| async move {
            Ok::<_, Infallible>(serde_json::json!({ "title": text }))
        })
        .await;
    match read {
        Ok(representation) => representation,
        Err(never) => match never {},
    }
}

#[tokio::test]
async fn a_second_read_is_a_hit_until_the_catalogue_is_written() {
    let cache = local();
    let key = Key::Book(Uuid::new_v4());
    read(&cache, &key, "A Wizard of Earthsea").await;
    let hit = read(&cache, &key, "changed in the database").await;
    assert_eq!(hit.etag, value("A Wizard of Earthsea").etag);
    assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));

    cache.invalidate();
    let after = read(&cache, &key, "changed in the database").await;
    assert_eq!(after.etag, value("changed in the database").etag);
}

#[test]
fn a_read_that_began_before_a_write_is_never_kept() {
    let cache = local();
    let key = Key::Book(Uuid::new_v4());
    // The read starts, the write lands and empties the cache, the read ends.
    let ticket = cache.ticket();
    cache.invalidate();
    cache.fill(ticket, key.clone(), value("before the write"));
    assert!(cache.get(&key).is_none());
    // A read that starts after the write is kept.
    let ticket = cache.ticket();
    cache.fill(ticket, key.clone(), value("after the write"));
    assert_eq!(
        cache.get(&key).map(|r| r.etag),
        Some(value("after the write").etag)
    );
}

#[test]
fn an_entry_kept_as_a_write_lands_is_not_served() {
    let cache = local();
    let key = Key::Author(Uuid::new_v4());
    let ticket = cache.ticket();
    cache.fill(ticket, key.clone(), value("old"));
    // What a write concurrent with the insertion leaves: an entry of the last generation.
    cache.invalidate();
    let inner = cache.0.as_ref().unwrap();
    inner.entries.insert(
        key.clone(),
        super::Entry {
            generation: ticket.0,
            value: value("old"),
        },
    );
    assert!(cache.get(&key).is_none());
}

#[test]
fn a_shared_cache_is_unused_until_it_listens_and_after_it_stops() {
    let cache = CatalogueCache::catalogue(&settings(100, 1 << 20), true);
    let key = Key::Book(Uuid::new_v4());
    cache.fill(cache.ticket(), key.clone(), value("unheard"));
    assert!(cache.get(&key).is_none());

    cache.listening();
    cache.fill(cache.ticket(), key.clone(), value("heard"));
    assert!(cache.get(&key).is_some());

    cache.deaf();
    assert!(cache.get(&key).is_none());
    cache.listening();
    assert!(cache.get(&key).is_none(), "emptied again once listening");
}

#[test]
fn entries_and_bytes_are_bounded() {
    let cache = CatalogueCache::catalogue(&settings(64, 64 * 1024), false);
    for n in 0..1000 {
        let page = Key::Page("books", format!("offset {n}"));
        cache.fill(cache.ticket(), page, value(&"x".repeat(n)));
    }
    let stats = cache.stats();
    assert!(stats.entries <= 64, "{stats:?}");
    assert!(stats.evictions > 0, "{stats:?}");
}

#[test]
fn off_keeps_nothing() {
    for cache in [
        CatalogueCache::off(),
        CatalogueCache::catalogue(&settings(0, 1 << 20), false),
        CatalogueCache::catalogue(
            &CatalogueCacheSettings {
                enabled: false,
                max_entries: 100,
                max_bytes: 1 << 20,
            },
            false,
        ),
    ] {
        let key = Key::Book(Uuid::new_v4());
        cache.fill(cache.ticket(), key.clone(), value("x"));
        assert!(cache.get(&key).is_none());
        assert!(!cache.is_on());
    }
}

/// A value that weighs what its text does.
#[derive(Clone, Debug, PartialEq)]
struct Named(String);

impl super::Weigh for Named {
    fn bytes(&self) -> usize {
        self.0.len()
    }
}

#[tokio::test]
async fn read_through_keeps_what_it_finds_and_never_an_absence() {
    let cache = super::Coherent::<Uuid, Named>::new(
        "test",
        super::Bounds {
            max_entries: 10,
            max_bytes: 1 << 10,
        },
        false,
    );
    let id = Uuid::new_v4();
    let read = |found: Option<&str>| {
        let found = found.map(|text| Named(text.to_owned()));
        cache.read_through(id, move || async move { Ok::<_, Infallible>(found) })
    };
    assert_eq!(read(None).await, Ok(None));
    assert_eq!(read(Some("Tenar")).await, Ok(Some(Named("Tenar".into()))));
    assert_eq!(read(None).await, Ok(Some(Named("Tenar".into()))), "a hit");
    assert_eq!((cache.stats().hits, cache.stats().misses), (1, 2));

    cache.invalidate();
    assert_eq!(read(Some("Arha")).await, Ok(Some(Named("Arha".into()))));
}
