//! actix-session's `SessionStore` over the application database: the default session store.
//! The cookie holds a random key; the table holds its SHA-256, so a copy of the database does
//! not hand out live sessions.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use anyhow::Context;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Backend, Db};
use crate::domain::time::now;

type State = HashMap<String, String>;

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    /// On SQLite every session write goes through this store in this one process, so the rows
    /// can be kept in memory too and a page view reads none. Not on PostgreSQL, where other
    /// instances may write (several instances keep sessions in Redis anyway).
    cache: Option<Arc<RwLock<Cache>>>,
    /// One read of a session at a time when it is not in memory.
    flights: Arc<super::cache::LoadLocks<String>>,
}

#[derive(Default)]
struct Cache {
    /// `Db::sessions_epoch` when these entries were read.
    epoch: u64,
    entries: HashMap<String, Cached>,
}

struct Cached {
    state: State,
    expires_at: i64,
    /// When it was last used (unix seconds): `sweep` lets go of it `IDLE_SECS` after.
    used: AtomicI64,
}

impl Cached {
    fn new(state: State, expires_at: i64) -> Cached {
        Cached { state, expires_at, used: AtomicI64::new(now()) }
    }
}

/// The key a logged-in session's keep-alive mark is kept under (`auth::session`).
pub const SEEN_KEY: &str = "seen";

/// A keep-alive within this long of the last extension is already done.
const EXTENDED_WITHIN_SECS: i64 = 60;

/// The two states are the same but for the keep-alive mark.
fn only_seen_differs(a: &State, b: &State) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| k == SEEN_KEY || b.get(k) == Some(v))
}

/// A session unused this long is let go from memory (it is read from the table when it comes back).
const IDLE_SECS: i64 = 60;

/// Sessions kept in memory at most; past it, the oldest half is let go (they are read again
/// from the table when used).
const CACHE_MAX: usize = 200_000;

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        let cache = (db.backend() == Backend::Sqlite).then(Arc::default);
        DbSessionStore { db, cache, flights: Arc::default() }
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        let now = now();
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(self.db.write()).await?;
        if let Some(cache) = &self.cache
            && let Ok(mut cache) = cache.write()
        {
            cache.entries.retain(|_, c| c.expires_at > now);
        }
        Ok(done.rows_affected())
    }

    /// Lets go of sessions unused for `IDLE_SECS`.
    pub fn sweep(&self) {
        let now = now();
        if let Some(cache) = &self.cache
            && let Ok(mut cache) = cache.write()
        {
            cache.entries.retain(|_, c| now - c.used.load(Ordering::Relaxed) < IDLE_SECS);
            cache.entries.shrink_to_fit();
        }
    }

    /// The session's state and expiry, when it is in memory and current.
    fn cached(&self, id: &str) -> Option<(State, i64)> {
        let cache = self.cache.as_ref()?.read().ok()?;
        if cache.epoch != self.db.epoch(super::Topic::Sessions) {
            return None;
        }
        let now = now();
        let c = cache.entries.get(id).filter(|c| c.expires_at > now)?;
        c.used.store(now, Ordering::Relaxed);
        Some((c.state.clone(), c.expires_at))
    }

    fn remember(&self, id: String, entry: Option<Cached>) {
        let Some(cache) = &self.cache else { return };
        let Ok(mut cache) = cache.write() else { return };
        let epoch = self.db.epoch(super::Topic::Sessions);
        if cache.epoch != epoch {
            cache.entries.clear();
            cache.epoch = epoch;
        }
        let entries = &mut cache.entries;
        match entry {
            Some(entry) => {
                if entries.len() >= CACHE_MAX {
                    let mut expiries: Vec<i64> = entries.values().map(|c| c.expires_at).collect();
                    let (_, median, _) = expiries.select_nth_unstable(CACHE_MAX / 2);
                    let median = *median;
                    entries.retain(|_, c| c.expires_at > median);
                }
                entries.insert(id, entry);
            }
            None => {
                entries.remove(&id);
            }
        }
    }

    async fn insert(&self, state: &State, ttl: &Duration) -> anyhow::Result<SessionKey> {
        let body = serde_json::to_string(state)?;
        let key: String = rand::thread_rng().sample_iter(&Alphanumeric).take(64).map(char::from).collect();
        let (id, expires_at) = (hash_key(&key), expiry(ttl));
        sqlx::query("INSERT INTO sessions (id, state, expires_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(body)
            .bind(expires_at)
            .execute(self.db.write())
            .await?;
        self.remember(id, Some(Cached::new(state.clone(), expires_at)));
        SessionKey::try_from(key).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn expiry(ttl: &Duration) -> i64 {
    now() + ttl.whole_seconds()
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let id = hash_key(session_key.as_ref());
        if let Some((state, _)) = self.cached(&id) {
            return Ok(Some(state));
        }
        let _loading = match self.cache {
            Some(_) => self.flights.load_or_wait(&id).await,
            None => None,
        };
        if let Some((state, _)) = self.cached(&id) {
            return Ok(Some(state));
        }
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT state, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(&id)
                .bind(now())
                .fetch_optional(self.db.read())
                .await
                .map_err(|e| LoadError::Other(e.into()))?;
        let Some((body, expires_at)) = row else { return Ok(None) };
        let state: State = serde_json::from_str(&body).context("session state").map_err(LoadError::Deserialization)?;
        self.remember(id, Some(Cached::new(state.clone(), expires_at)));
        Ok(Some(state))
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        self.insert(&state, ttl).await.map_err(SaveError::Other)
    }

    async fn update(&self, session_key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let body = serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let (id, expires_at) = (hash_key(session_key.as_ref()), expiry(ttl));
        if let Some((cached, cached_expiry)) = self.cached(&id)
            && only_seen_differs(&cached, &state)
            && cached_expiry + EXTENDED_WITHIN_SECS >= expires_at
        {
            // A keep-alive that a concurrent request of the same session has just written.
            return Ok(session_key);
        }
        // In memory first, so that the session's other requests in flight see it extended.
        self.remember(id.clone(), Some(Cached::new(state.clone(), expires_at)));
        let done = sqlx::query("UPDATE sessions SET state = $1, expires_at = $2 WHERE id = $3 AND expires_at > $4")
            .bind(body)
            .bind(expires_at)
            .bind(&id)
            .bind(now())
            .execute(self.db.write())
            .await;
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                self.remember(id, None);
                return Err(UpdateError::Other(e.into()));
            }
        };
        if done.rows_affected() == 1 {
            Ok(session_key)
        } else {
            self.remember(id, None);
            // Expired or purged meanwhile: never resurrect the old key, start a new session.
            self.insert(&state, ttl).await.map_err(UpdateError::Other)
        }
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let (id, expires_at) = (hash_key(session_key.as_ref()), expiry(ttl));
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id = $2 AND expires_at > $3")
            .bind(expires_at)
            .bind(&id)
            .bind(now())
            .execute(self.db.write())
            .await?;
        if let Some((state, _)) = self.cached(&id) {
            self.remember(id, Some(Cached::new(state, expires_at)));
        }
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let id = hash_key(session_key.as_ref());
        // Forget it first: from here on no request may use it, whatever the database says.
        self.remember(id.clone(), None);
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&id).execute(self.db.write()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keep_alive_differs_only_in_its_mark() {
        let base: State = [("uid", "1"), ("csrf", "\"t\""), (SEEN_KEY, "100")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut later = base.clone();
        later.insert(SEEN_KEY.into(), "400".into());
        assert!(only_seen_differs(&base, &later));
        let mut other = later.clone();
        other.insert("uid".into(), "2".into());
        assert!(!only_seen_differs(&base, &other), "another user");
        let mut more = later.clone();
        more.insert("staff_at".into(), "1".into());
        assert!(!only_seen_differs(&base, &more), "a key added");
    }
}
