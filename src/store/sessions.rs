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

use super::Db;
use crate::domain::time::now;

type State = HashMap<String, String>;

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
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
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn expiry(ttl: &Duration) -> i64 {
    now() + ttl.whole_seconds()
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let body: Option<String> = sqlx::query_scalar("SELECT state FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(hash_key(session_key.as_ref()))
            .bind(now())
            .fetch_optional(self.db.read())
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        body.map(|b| serde_json::from_str(&b).context("session state")).transpose().map_err(LoadError::Deserialization)
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
