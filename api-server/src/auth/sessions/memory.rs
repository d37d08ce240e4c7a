//! Sessions in this process's memory: the store of the embedded default. Same
//! semantics as Redis (digests only, TTL, per-user revocation), but one process only,
//! and every session ends when the process does.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

#[derive(Clone, Default)]
pub struct MemorySessions {
    inner: Arc<Mutex<Sessions>>,
}

#[derive(Default)]
struct Sessions {
    by_digest: HashMap<String, (Uuid, Instant)>,
    by_user: HashMap<Uuid, HashSet<String>>,
    /// Named counters and when each expires.
    counters: HashMap<String, (u64, Instant)>,
    /// When to next sweep out expired sessions, so memory stays bounded by live ones.
    next_sweep: Option<Instant>,
}

impl MemorySessions {
    pub fn insert(&self, digest: &str, user_id: Uuid, ttl: Duration) {
        let now = Instant::now();
        let mut sessions = self.lock();
        if sessions.next_sweep.is_none_or(|at| at <= now) {
            sessions.sweep(now);
            sessions.next_sweep = Some(now + ttl);
        }
        sessions
            .by_digest
            .insert(digest.to_owned(), (user_id, now + ttl));
        sessions
            .by_user
            .entry(user_id)
            .or_default()
            .insert(digest.to_owned());
    }

    pub fn get(&self, digest: &str) -> Option<Uuid> {
        let sessions = self.lock();
        let &(user_id, expires) = sessions.by_digest.get(digest)?;
        (Instant::now() < expires).then_some(user_id)
    }

    pub fn remove(&self, user_id: Uuid, digest: &str) {
        let mut sessions = self.lock();
        sessions.by_digest.remove(digest);
        if let Some(digests) = sessions.by_user.get_mut(&user_id) {
            digests.remove(digest);
        }
    }

    pub fn remove_all(&self, user_id: Uuid, keep: Option<&str>) {
        let mut sessions = self.lock();
        let digests = sessions.by_user.remove(&user_id).unwrap_or_default();
        let mut kept = HashSet::new();
        for digest in digests {
            if Some(digest.as_str()) == keep {
                kept.insert(digest);
            } else {
                sessions.by_digest.remove(&digest);
            }
        }
        if !kept.is_empty() {
            sessions.by_user.insert(user_id, kept);
        }
    }

    /// Adds one to the counter `name`, which expires `window` after its first increment;
    /// returns the new count and the time left in the window.
    pub fn increment(&self, name: &str, window: Duration) -> (u64, Duration) {
        let now = Instant::now();
        let mut sessions = self.lock();
        let entry = sessions
            .counters
            .entry(name.to_owned())
            .or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
        (entry.0, entry.1 - now)
    }

    /// The counter `name` and the time left in its window, or `None` if it is not set.
    pub fn counter(&self, name: &str) -> Option<(u64, Duration)> {
        let now = Instant::now();
        let sessions = self.lock();
        let &(count, expires) = sessions.counters.get(name)?;
        (expires > now).then(|| (count, expires - now))
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
    fn sweep(&mut self, now: Instant) {
        self.by_digest.retain(|_, (_, expires)| *expires > now);
        self.counters.retain(|_, (_, expires)| *expires > now);
        let live = &self.by_digest;
        self.by_user.retain(|_, digests| {
            digests.retain(|d| live.contains_key(d));
            !digests.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::MemorySessions;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_session_is_found_until_revoked() {
        let store = MemorySessions::default();
        let user = Uuid::now_v7();
        store.insert("a", user, HOUR);
        assert_eq!(store.get("a"), Some(user));
        store.remove(user, "a");
        assert_eq!(store.get("a"), None);
    }

    #[test]
    fn an_expired_session_is_not_found_and_is_swept() {
        let store = MemorySessions::default();
        let user = Uuid::now_v7();
        store.insert("old", user, Duration::ZERO);
        assert_eq!(store.get("old"), None);
        store.insert("new", user, HOUR);
        let sessions = store.lock();
        assert!(!sessions.by_digest.contains_key("old"));
        assert_eq!(sessions.by_user[&user].len(), 1);
    }

    #[test]
    fn counters_count_within_their_window_and_reset() {
        let store = MemorySessions::default();
        assert_eq!(store.increment("k", HOUR).0, 1);
        assert_eq!(store.increment("k", HOUR).0, 2);
        assert_eq!(store.counter("k").map(|c| c.0), Some(2));
        store.reset("k");
        assert_eq!(store.counter("k"), None);
        store.increment("gone", Duration::ZERO);
        assert_eq!(store.counter("gone"), None);
        assert_eq!(store.increment("gone", HOUR).0, 1);
    }

    #[test]
    fn revoking_all_keeps_only_the_named_session_of_that_user() {
        let store = MemorySessions::default();
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        store.insert("a1", alice, HOUR);
        store.insert("a2", alice, HOUR);
        store.insert("a3", alice, HOUR);
        store.insert("b1", bob, HOUR);
        store.remove_all(alice, Some("a2"));
        assert_eq!(store.get("a1"), None);
        assert_eq!(store.get("a2"), Some(alice));
        assert_eq!(store.get("a3"), None);
        assert_eq!(store.get("b1"), Some(bob));
        store.remove_all(alice, None);
        assert_eq!(store.get("a2"), None);
    }
}
