//! Rows kept in memory between requests, so that an ordinary page view reads little or nothing
//! from the database. Each cache belongs to a topic; every write of that topic in this process
//! bumps the topic's epoch (`Db::changed`), and an entry read under an older epoch is not used.
//! Writes by another process (the `kedian` CLI) are seen within `TTL`. Only on SQLite, where this
//! process is the database's one web server; on PostgreSQL other instances write too, and every
//! request reads the database.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::{Backend, Db, Topic};

pub const TTL: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 100_000;

pub struct EpochCache<K, V> {
    topic: Topic,
    entries: RwLock<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    value: V,
    epoch: u64,
    loaded: Instant,
    /// Past its TTL and being read again by one request; the others keep using this value
    /// meanwhile instead of all reading the same row at once.
    refreshing: bool,
}

impl<K: Eq + Hash, V: Clone> EpochCache<K, V> {
    pub fn new(topic: Topic) -> Self {
        EpochCache { topic, entries: RwLock::default() }
    }

    /// Lets go of entries past their TTL (they would be read again anyway): after a burst, memory
    /// goes back to what the learners active now need.
    pub fn sweep(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|_, e| e.loaded.elapsed() < TTL);
            entries.shrink_to_fit();
        }
    }

    /// The value for `key`: from memory when it is current, else from `load` (and kept).
    pub async fn get_or_load<F, Fut>(&self, db: &Db, key: K, load: F) -> Result<V, sqlx::Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, sqlx::Error>>,
    {
        if db.backend() != Backend::Sqlite {
            return load().await;
        }
        let epoch = db.epoch(self.topic);
        let mut refreshing = false;
        if let Ok(entries) = self.entries.read()
            && let Some(e) = entries.get(&key)
            && e.epoch == epoch
        {
            if e.loaded.elapsed() < TTL || e.refreshing {
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
        // The epoch was read before the load: a write meanwhile makes this entry stale at once.
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
                entries.retain(|_, e| e.epoch == epoch && e.loaded.elapsed() < TTL);
            }
            if entries.len() < MAX_ENTRIES {
                let entry = Entry { value: value.clone(), epoch, loaded: Instant::now(), refreshing: false };
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
}
