//! Sessions in this process's memory: the store of the embedded default. Same
//! semantics as Redis (digests only, TTL, per-account index capped and pruned, counters),
//! but one process only, and every session ends when the process does.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Entry;

#[derive(Clone, Default)]
pub struct MemorySessions {
    inner: Arc<Mutex<Sessions>>,
}

#[derive(Default)]
struct Sessions {
    by_digest: HashMap<String, (Entry, Instant)>,
    /// Each account's sessions, ordered by expiry.
    by_user: HashMap<Uuid, BTreeSet<(Instant, String)>>,
    /// Named counters and when each expires.
    counters: HashMap<String, (u64, Instant)>,
    /// When to next sweep out expired sessions and counters, so memory stays bounded by
    /// live ones.
    next_sweep: Option<Instant>,
}

impl MemorySessions {
    pub fn insert(&self, digest: &str, entry: Entry, ttl: Duration, cap: usize) {
        let now = Instant::now();
        let expires = now + ttl;
        let mut sessions = self.lock();
        if sessions.next_sweep.is_none_or(|at| at <= now) {
            sessions.sweep(now);
            sessions.next_sweep = Some(now + ttl);
        }
        sessions
            .by_digest
            .insert(digest.to_owned(), (entry, expires));
        let index = sessions.by_user.entry(entry.user_id).or_default();
        index.retain(|(at, _)| *at > now);
        index.insert((expires, digest.to_owned()));
        let mut evicted = Vec::new();
        while cap > 0 && index.len() > cap {
            if let Some((_, oldest)) = index.pop_first() {
                evicted.push(oldest);
            }
        }
        for digest in evicted {
            sessions.by_digest.remove(&digest);
        }
    }

    pub fn get(&self, digest: &str) -> Option<Entry> {
        let sessions = self.lock();
        let &(entry, expires) = sessions.by_digest.get(digest)?;
        (Instant::now() < expires).then_some(entry)
    }

    pub fn replace(&self, digest: &str, entry: Entry) {
        if let Some(stored) = self.lock().by_digest.get_mut(digest) {
            stored.0 = entry;
        }
    }

    pub fn remove(&self, user_id: Uuid, digest: &str) {
        let mut sessions = self.lock();
        if let Some((_, expires)) = sessions.by_digest.remove(digest)
            && let Some(index) = sessions.by_user.get_mut(&user_id)
        {
            index.remove(&(expires, digest.to_owned()));
        }
    }

    pub fn remove_all(&self, user_id: Uuid, keep: Option<&str>) {
        let mut sessions = self.lock();
        let index = sessions.by_user.remove(&user_id).unwrap_or_default();
        let mut kept = BTreeSet::new();
        for (expires, digest) in index {
            if Some(digest.as_str()) == keep {
                kept.insert((expires, digest));
            } else {
                sessions.by_digest.remove(&digest);
            }
        }
        if !kept.is_empty() {
            sessions.by_user.insert(user_id, kept);
        }
    }

    /// Adds one to the counter `name` unless it has reached `limit`; `Err` holds the
    /// time left in its window.
    pub fn reserve(&self, name: &str, limit: u64, window: Duration) -> Result<(), Duration> {
        let now = Instant::now();
        let mut sessions = self.lock();
        let entry = sessions.live_counter(name, window, now);
        if entry.0 >= limit {
            return Err(entry.1 - now);
        }
        entry.0 += 1;
        Ok(())
    }

    /// Gives back one place taken by `reserve`.
    pub fn release(&self, name: &str) {
        let mut sessions = self.lock();
        if let Some(entry) = sessions.counters.get_mut(name) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// Adds one to the counter `name`, which expires `window` after its first
    /// increment; returns the new count.
    pub fn increment(&self, name: &str, window: Duration) -> u64 {
        let now = Instant::now();
        let mut sessions = self.lock();
        let entry = sessions.live_counter(name, window, now);
        entry.0 += 1;
        entry.0
    }

    /// The counter `name`, 0 when it is not set.
    pub fn counter(&self, name: &str) -> u64 {
        let now = Instant::now();
        let sessions = self.lock();
        sessions
            .counters
            .get(name)
            .filter(|(_, expires)| *expires > now)
            .map_or(0, |(count, _)| *count)
    }

    pub fn reset(&self, name: &str) {
        self.lock().counters.remove(name);
    }

    /// The map stays consistent even if a holder panicked: every update is a single
    /// insert or remove, so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, Sessions> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Sessions {
    /// The counter `name`, started afresh (at 0, expiring `window` from now) when it is
    /// not set or its window has passed.
    fn live_counter(&mut self, name: &str, window: Duration, now: Instant) -> &mut (u64, Instant) {
        let entry = self
            .counters
            .entry(name.to_owned())
            .or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry
    }

    fn sweep(&mut self, now: Instant) {
        self.by_digest.retain(|_, (_, expires)| *expires > now);
        self.counters.retain(|_, (_, expires)| *expires > now);
        self.by_user.retain(|_, index| {
            index.retain(|(expires, _)| *expires > now);
            !index.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use uuid::Uuid;

    use super::{Entry, MemorySessions};

    const HOUR: Duration = Duration::from_secs(3600);

    fn entry(user_id: Uuid) -> Entry {
        Entry {
            user_id,
            started: Utc::now(),
        }
    }

    #[test]
    fn a_session_is_found_until_revoked() {
        let store = MemorySessions::default();
        let user = Uuid::now_v7();
        store.insert("a", entry(user), HOUR, 0);
        assert_eq!(store.get("a").map(|e| e.user_id), Some(user));
        store.remove(user, "a");
        assert_eq!(store.get("a"), None);
    }

    #[test]
    fn an_expired_session_is_not_found_and_is_swept() {
        let store = MemorySessions::default();
        let user = Uuid::now_v7();
        store.insert("old", entry(user), Duration::ZERO, 0);
        assert_eq!(store.get("old"), None);
        store.insert("new", entry(user), HOUR, 0);
        let sessions = store.lock();
        assert!(!sessions.by_digest.contains_key("old"));
        assert_eq!(sessions.by_user[&user].len(), 1);
    }

    #[test]
    fn past_the_cap_the_oldest_sessions_of_an_account_end() {
        let store = MemorySessions::default();
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        for digest in ["a1", "a2", "a3"] {
            store.insert(digest, entry(alice), HOUR, 2);
            std::thread::sleep(Duration::from_millis(2));
        }
        store.insert("b1", entry(bob), HOUR, 2);
        assert_eq!(store.get("a1"), None);
        assert!(store.get("a2").is_some() && store.get("a3").is_some());
        assert!(store.get("b1").is_some());
        assert_eq!(store.lock().by_user[&alice].len(), 2);
    }

    #[test]
    fn reservations_stop_at_the_limit_and_can_be_given_back() {
        let store = MemorySessions::default();
        assert_eq!(store.reserve("k", 2, HOUR), Ok(()));
        assert_eq!(store.reserve("k", 2, HOUR), Ok(()));
        assert!(store.reserve("k", 2, HOUR).is_err());
        store.release("k");
        assert_eq!(store.reserve("k", 2, HOUR), Ok(()));
        assert_eq!(store.counter("k"), 2);
        store.reset("k");
        assert_eq!(store.counter("k"), 0);
    }

    #[test]
    fn counters_count_within_their_window() {
        let store = MemorySessions::default();
        assert_eq!(store.increment("k", HOUR), 1);
        assert_eq!(store.increment("k", HOUR), 2);
        store.increment("gone", Duration::ZERO);
        assert_eq!(store.counter("gone"), 0);
        assert_eq!(store.increment("gone", HOUR), 1);
    }

    #[test]
    fn revoking_all_keeps_only_the_named_session_of_that_user() {
        let store = MemorySessions::default();
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        store.insert("a1", entry(alice), HOUR, 0);
        store.insert("a2", entry(alice), HOUR, 0);
        store.insert("a3", entry(alice), HOUR, 0);
        store.insert("b1", entry(bob), HOUR, 0);
        store.remove_all(alice, Some("a2"));
        assert_eq!(store.get("a1"), None);
        assert!(store.get("a2").is_some());
        assert_eq!(store.get("a3"), None);
        assert!(store.get("b1").is_some());
        store.remove_all(alice, None);
        assert_eq!(store.get("a2"), None);
    }
}
