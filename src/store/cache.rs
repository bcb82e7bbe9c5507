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
}

impl<K: Eq + Hash, V: Clone> EpochCache<K, V> {
    pub fn new(topic: Topic) -> Self {
        EpochCache { topic, entries: RwLock::default() }
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
        if let Ok(entries) = self.entries.read()
            && let Some(e) = entries.get(&key)
            && e.epoch == epoch
            && e.loaded.elapsed() < TTL
        {
            return Ok(e.value.clone());
        }
        // The epoch was read before the load: a write meanwhile makes this entry stale at once.
        let value = load().await?;
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.epoch == epoch && e.loaded.elapsed() < TTL);
            }
            if entries.len() < MAX_ENTRIES {
                entries.insert(key, Entry { value: value.clone(), epoch, loaded: Instant::now() });
            }
        }
        Ok(value)
    }
}
