//! actix-session's `SessionStore` over the application database: the default session store.
//! The cookie holds a random key; the table holds its SHA-256, so a copy of the database does
//! not hand out live sessions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use anyhow::Context;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

use super::Db;
use crate::domain::time::now;

type State = HashMap<String, String>;

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
}

/// Sessions kept in memory, whichever store holds them (`auth::session_store`): a page view then
/// reads no session. Used while `Db::copies_usable`; a session changed or ended on one instance is
/// announced (`changes::Change::Session`) and the others forget it.
#[derive(Clone)]
pub struct SessionCache {
    db: Db,
    entries: Arc<RwLock<Cache>>,
    /// One read of a session at a time when it is not in memory.
    flights: Arc<super::cache::LoadLocks<String>>,
}

#[derive(Default)]
struct Cache {
    /// `Topic::Sessions`' epoch when these entries were read.
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

/// A session unused this long is let go from memory (it is read from its store when it comes back).
const IDLE_SECS: i64 = 60;

/// Sessions kept in memory at most; past it, the oldest half is let go (they are read again
/// from their store when used).
const CACHE_MAX: usize = 200_000;

impl SessionCache {
    pub fn new(db: Db) -> Self {
        SessionCache { db, entries: Arc::default(), flights: Arc::default() }
    }

    /// Lets go of sessions unused for `IDLE_SECS`, and of expired ones.
    pub fn sweep(&self) {
        let now = now();
        if let Ok(mut cache) = self.entries.write() {
            cache.entries.retain(|_, c| c.expires_at > now && now - c.used.load(Ordering::Relaxed) < IDLE_SECS);
            cache.entries.shrink_to_fit();
        }
    }

    /// The session's state and expiry, when it is in memory and current.
    pub fn get(&self, id: &str) -> Option<(State, i64)> {
        if !self.db.copies_usable() {
            return None;
        }
        let cache = self.entries.read().ok()?;
        if cache.epoch != self.db.epoch(super::Topic::Sessions) {
            return None;
        }
        let now = now();
        let c = cache.entries.get(id).filter(|c| c.expires_at > now)?;
        c.used.store(now, Ordering::Relaxed);
        Some((c.state.clone(), c.expires_at))
    }

    /// Either this request reads session `id` from its store (Some), or it waited for the one that
    /// did; then look in memory again.
    pub async fn load_or_wait(&self, id: &String) -> Option<super::cache::Loading<'_, String>> {
        if !self.db.copies_usable() {
            return None;
        }
        self.flights.load_or_wait(id).await
    }

    /// Keeps `state` for session `id` until `expires_at`.
    pub fn put(&self, id: String, state: State, expires_at: i64) {
        self.set(id, Some(Cached::new(state, expires_at)));
    }

    /// Forgets session `id` here.
    pub fn forget(&self, id: String) {
        self.set(id, None);
    }

    /// Forgets session `id` here and on every other instance.
    pub fn forget_everywhere(&self, id: String) {
        self.db.tell_others(super::changes::Change::Session(id.clone()));
        self.forget(id);
    }

    /// A keep-alive of `state` to `expires_at` that a concurrent request of the same session has
    /// just written: nothing to store.
    pub fn keep_alive_done(&self, id: &str, state: &State, expires_at: i64) -> bool {
        self.get(id).is_some_and(|(cached, cached_expiry)| {
            only_seen_differs(&cached, state) && cached_expiry + EXTENDED_WITHIN_SECS >= expires_at
        })
    }

    fn set(&self, id: String, entry: Option<Cached>) {
        let Ok(mut cache) = self.entries.write() else { return };
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
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db }
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now()).execute(self.db.write()).await?;
        Ok(done.rows_affected())
    }

    /// The session's state and expiry, unless it has expired.
    pub async fn load_with_expiry(&self, session_key: &SessionKey) -> Result<Option<(State, i64)>, LoadError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT state, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(hash_key(session_key.as_ref()))
                .bind(now())
                .fetch_optional(self.db.read())
                .await
                .map_err(|e| LoadError::Other(e.into()))?;
        let Some((body, expires_at)) = row else { return Ok(None) };
        let state: State = serde_json::from_str(&body).context("session state").map_err(LoadError::Deserialization)?;
        Ok(Some((state, expires_at)))
    }

    async fn insert(&self, state: &State, ttl: &Duration) -> anyhow::Result<SessionKey> {
        let body = serde_json::to_string(state)?;
        let key: String = rand::thread_rng().sample_iter(&Alphanumeric).take(64).map(char::from).collect();
        sqlx::query("INSERT INTO sessions (id, state, expires_at) VALUES ($1, $2, $3)")
            .bind(hash_key(&key))
            .bind(body)
            .bind(expiry(ttl))
            .execute(self.db.write())
            .await?;
        SessionKey::try_from(key).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

pub fn hash_key(key: &str) -> String {
    crate::domain::text::hex_lower(&Sha256::digest(key.as_bytes()))
}

pub fn expiry(ttl: &Duration) -> i64 {
    now() + ttl.whole_seconds()
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        Ok(self.load_with_expiry(session_key).await?.map(|(state, _)| state))
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        self.insert(&state, ttl).await.map_err(SaveError::Other)
    }

    async fn update(&self, session_key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let body = serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let done = sqlx::query("UPDATE sessions SET state = $1, expires_at = $2 WHERE id = $3 AND expires_at > $4")
            .bind(body)
            .bind(expiry(ttl))
            .bind(hash_key(session_key.as_ref()))
            .bind(now())
            .execute(self.db.write())
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        if done.rows_affected() == 1 {
            Ok(session_key)
        } else {
            // Expired or purged meanwhile: never resurrect the old key, start a new session.
            self.insert(&state, ttl).await.map_err(UpdateError::Other)
        }
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id = $2 AND expires_at > $3")
            .bind(expiry(ttl))
            .bind(hash_key(session_key.as_ref()))
            .bind(now())
            .execute(self.db.write())
            .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(hash_key(session_key.as_ref()))
            .execute(self.db.write())
            .await?;
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
