//! Rows kept in memory between requests, so that an ordinary page view reads little or nothing
//! from the database. Each cache belongs to a topic; every write of that topic in this process
//! bumps the topic's epoch (`Db::changed`), and an entry read under an older epoch is not used.
//! On PostgreSQL, other instances' writes are announced (`changes`) and bump the same epochs; copies
//! are used only while this instance hears those announcements. A copy is read again after
//! `Db::copy_ttl` all the same, for writes nobody announced.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::{Db, Topic};

const MAX_ENTRIES: usize = 100_000;

pub struct EpochCache<K, V> {
    topic: Topic,
    entries: RwLock<HashMap<K, Entry<V>>>,
    flights: LoadLocks<K>,
    /// Counts `forget` and `amend` calls: a load that saw another count before it started may
    /// have read a row from before the write that caused one, so it is not kept.
    forgets: AtomicU64,
}

struct Entry<V> {
    value: V,
    epoch: u64,
    /// When it is read again (`Db::copy_ttl` after it was loaded).
    stale_at: Instant,
    /// Past its TTL and being read again by one request; the others keep using this value
    /// meanwhile instead of all reading the same row at once.
    refreshing: bool,
}

/// One load per key at a time: when many requests miss the same key at once (a cold start, a
/// write that emptied the cache), one reads the row and the others wait for it and are all woken
/// together when it is in, instead of all queueing the same query on the database.
pub struct LoadLocks<K> {
    loading: Mutex<HashMap<K, Arc<tokio::sync::Notify>>>,
}

impl<K> Default for LoadLocks<K> {
    fn default() -> Self {
        LoadLocks { loading: Mutex::default() }
    }
}

/// The one request loading a key; dropping it (loaded or failed) wakes the others.
pub struct Loading<'a, K: Eq + Hash> {
    locks: &'a LoadLocks<K>,
    key: Option<K>,
    notify: Arc<tokio::sync::Notify>,
}

impl<K: Eq + Hash + Clone> LoadLocks<K> {
    /// Either this request loads `key` (Some), or it waited for the one that did (None): then
    /// the value is in the cache, unless that load failed.
    pub async fn load_or_wait(&self, key: &K) -> Option<Loading<'_, K>> {
        let (notify, leader) = match self.loading.lock() {
            Ok(mut loading) => match loading.get(key) {
                Some(n) => (n.clone(), false),
                None => {
                    let n = Arc::new(tokio::sync::Notify::new());
                    loading.insert(key.clone(), n.clone());
                    (n, true)
                }
            },
            Err(_) => (Arc::new(tokio::sync::Notify::new()), true),
        };
        if leader {
            return Some(Loading { locks: self, key: Some(key.clone()), notify });
        }
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // The load may have finished between the lookup and `enable`.
        let still_loading =
            self.loading.lock().map(|l| l.get(key).is_some_and(|n| Arc::ptr_eq(n, &notify))).unwrap_or(false);
        if still_loading {
            notified.await;
        }
        None
    }
}

impl<K: Eq + Hash> Drop for Loading<'_, K> {
    fn drop(&mut self) {
        if let (Some(key), Ok(mut loading)) = (self.key.take(), self.locks.loading.lock()) {
            loading.remove(&key);
        }
        self.notify.notify_waiters();
    }
}

impl<K: Eq + Hash + Clone, V: Clone> EpochCache<K, V> {
    pub fn new(topic: Topic) -> Self {
        EpochCache { topic, entries: RwLock::default(), flights: LoadLocks::default(), forgets: AtomicU64::new(0) }
    }

    /// Drops the copies of `keys` only (after a write of their rows), where `Db::changed` would
    /// drop every copy of the topic.
    pub fn forget(&self, keys: impl IntoIterator<Item = K>) {
        self.forgets.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.write() {
            for key in keys {
                entries.remove(&key);
            }
        }
    }

    /// After a write this process made and knows the effect of: `change` brings each copy of
    /// `keys` up to date in place (the other instances drop theirs). Like `forget`, it keeps no
    /// load that began before it.
    pub fn amend(&self, keys: impl IntoIterator<Item = K>, change: impl Fn(&K, &mut V)) {
        self.forgets.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.write() {
            for key in keys {
                if let Some(e) = entries.get_mut(&key) {
                    change(&key, &mut e.value);
                }
            }
        }
    }

    /// Lets go of entries past their TTL (they would be read again anyway): after a burst, memory
    /// goes back to what the learners active now need.
    pub fn sweep(&self) {
        if let Ok(mut entries) = self.entries.write() {
            let now = Instant::now();
            entries.retain(|_, e| now < e.stale_at);
            entries.shrink_to_fit();
        }
    }

    /// The value for `key`: from memory when it is current, else from `load` (and kept).
    pub async fn get_or_load<F, Fut>(&self, db: &Db, key: K, load: F) -> Result<V, sqlx::Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, sqlx::Error>>,
    {
        if !db.copies_usable() {
            return load().await;
        }
        let epoch = db.epoch(self.topic);
        let mut refreshing = false;
        if let Ok(entries) = self.entries.read()
            && let Some(e) = entries.get(&key)
            && e.epoch == epoch
        {
            if Instant::now() < e.stale_at || e.refreshing {
                return Ok(e.value.clone());
            }
            refreshing = true;
        }
        if refreshing
            && let Ok(mut entries) = self.entries.write()
            && let Some(e) = entries.get_mut(&key)
            && e.epoch == epoch
        {
            if e.refreshing {
                return Ok(e.value.clone());
            }
            e.refreshing = true;
        }
        let _loading = if refreshing { None } else { self.flights.load_or_wait(&key).await };
        if !refreshing
            && let Ok(entries) = self.entries.read()
            && let Some(e) = entries.get(&key)
            && e.epoch == epoch
            && Instant::now() < e.stale_at
        {
            // Loaded by the request this one waited for.
            return Ok(e.value.clone());
        }
        // The epoch was read before the load: a write meanwhile makes this entry stale at once.
        let forgets = self.forgets.load(Ordering::Acquire);
        let value = match load().await {
            Ok(value) => value,
            Err(e) => {
                if let Ok(mut entries) = self.entries.write() {
                    entries.remove(&key);
                }
                return Err(e);
            }
        };
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                let now = Instant::now();
                entries.retain(|_, e| e.epoch == epoch && now < e.stale_at);
            }
            if self.forgets.load(Ordering::Acquire) != forgets {
                // Not kept; nor is the old copy this load was refreshing.
                entries.remove(&key);
            } else if entries.len() < MAX_ENTRIES {
                let stale_at = Instant::now() + db.copy_ttl();
                let entry = Entry { value: value.clone(), epoch, stale_at, refreshing: false };
                entries.insert(key, entry);
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn values_are_kept_until_their_topic_changes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/c.db", dir.path().display())).await.unwrap();
        let cache: EpochCache<i64, u32> = EpochCache::new(Topic::Users);
        let loads = AtomicU32::new(0);
        let load = || async { Ok(loads.fetch_add(1, Ordering::SeqCst) + 1) };
        assert_eq!(cache.get_or_load(&db, 1, load).await.unwrap(), 1);
        assert_eq!(cache.get_or_load(&db, 1, load).await.unwrap(), 1, "kept");
        assert_eq!(cache.get_or_load(&db, 2, load).await.unwrap(), 2, "per key");
        db.changed(Topic::Access);
        assert_eq!(cache.get_or_load(&db, 1, load).await.unwrap(), 1, "another topic changed");
        db.changed(Topic::Users);
        assert_eq!(cache.get_or_load(&db, 1, load).await.unwrap(), 3, "read again after a write");
        let failed = cache.get_or_load(&db, 3, || async { Err(sqlx::Error::RowNotFound) }).await;
        assert!(failed.is_err());
        assert_eq!(cache.get_or_load(&db, 3, load).await.unwrap(), 4, "a failure is not kept");
    }

    #[tokio::test]
    async fn forgetting_a_key_drops_its_copy_only_and_no_load_from_before_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/c.db", dir.path().display())).await.unwrap();
        let cache: EpochCache<i64, u32> = EpochCache::new(Topic::Progress);
        let loads = AtomicU32::new(0);
        let load = || async { Ok(loads.fetch_add(1, Ordering::SeqCst) + 1) };
        assert_eq!(cache.get_or_load(&db, 1, load).await.unwrap(), 1);
        assert_eq!(cache.get_or_load(&db, 2, load).await.unwrap(), 2);
        cache.forget([1]);
        assert_eq!(cache.get_or_load(&db, 1, load).await.unwrap(), 3, "read again");
        assert_eq!(cache.get_or_load(&db, 2, load).await.unwrap(), 2, "another key is kept");
        // A load that began before a write (and its forget) may hold the old row: used once, not kept.
        let old = cache.get_or_load(&db, 4, || async {
            cache.forget([4]);
            Ok(40)
        });
        assert_eq!(old.await.unwrap(), 40);
        assert_eq!(cache.get_or_load(&db, 4, load).await.unwrap(), 4, "the load from before was not kept");
        assert_eq!(cache.get_or_load(&db, 4, load).await.unwrap(), 4, "the one after it is");
        cache.amend([4, 5], |key, value| *value += *key as u32 * 100);
        assert_eq!(cache.get_or_load(&db, 4, load).await.unwrap(), 404, "changed in place, not read again");
        assert_eq!(cache.get_or_load(&db, 5, load).await.unwrap(), 5, "a key without a copy is read");
    }
}
