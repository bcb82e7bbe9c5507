//! The session store chosen at start-up (the application database, or Redis), with one rule on
//! top: a visitor whose session holds nothing but a CSRF token (someone looking at `/login`)
//! stores nothing on the server. Their token travels inside the session key itself, which only
//! ever reaches the browser in the encrypted, authenticated session cookie.

use std::collections::HashMap;

use actix_session::storage::{LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;

use crate::domain::time::now;
use crate::store::sessions::{DbSessionStore, SessionCache, expiry, hash_key};

type State = HashMap<String, String>;

/// Session keys that carry a visitor's CSRF token instead of naming a stored session.
const VISITOR_PREFIX: &str = "v.";

/// Where sessions are kept, with copies in memory (`SessionCache`) in front.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    cache: SessionCache,
}

#[derive(Clone)]
pub enum Store {
    Db(DbSessionStore),
    Redis(RedisSessionStore),
}

/// Redis does not say when a session it hands out expires: a copy read from it is trusted this
/// long, then read again.
const REDIS_COPY_SECS: i64 = 60;

/// The state of a visitor session, if that is all it is: the CSRF token's stored (JSON) form.
fn visitor_token(state: &State) -> Option<&str> {
    match (state.len(), state.get(crate::auth::session::CSRF)) {
        (1, Some(token)) if token.len() <= 128 && token.bytes().all(|b| b.is_ascii_graphic()) => Some(token),
        _ => None,
    }
}

fn visitor_key(token: &str) -> Result<SessionKey, anyhow::Error> {
    SessionKey::try_from(format!("{VISITOR_PREFIX}{token}")).map_err(|e| anyhow::anyhow!("{e}"))
}

fn visitor_state(key: &SessionKey) -> Option<State> {
    let token = key.as_ref().strip_prefix(VISITOR_PREFIX)?;
    Some(HashMap::from([(crate::auth::session::CSRF.to_string(), token.to_string())]))
}

impl Sessions {
    pub fn new(store: Store, cache: SessionCache) -> Self {
        Sessions { store, cache }
    }

    /// Lets go of copies no longer used.
    pub fn sweep(&self) {
        self.cache.sweep();
    }

    async fn store_new(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = match &self.store {
            Store::Db(s) => s.save(state.clone(), ttl).await?,
            Store::Redis(s) => s.save(state.clone(), ttl).await?,
        };
        self.cache.put(hash_key(key.as_ref()), state, expiry(ttl));
        Ok(key)
    }

    async fn load_stored(&self, key: &SessionKey) -> Result<Option<(State, i64)>, LoadError> {
        match &self.store {
            Store::Db(s) => s.load_with_expiry(key).await,
            Store::Redis(s) => Ok(s.load(key).await?.map(|state| (state, now() + REDIS_COPY_SECS))),
        }
    }
}

impl SessionStore for Sessions {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        if let Some(state) = visitor_state(key) {
            return Ok(Some(state));
        }
        let id = hash_key(key.as_ref());
        if let Some((state, _)) = self.cache.get(&id) {
            return Ok(Some(state));
        }
        let _loading = self.cache.load_or_wait(&id).await;
        if let Some((state, _)) = self.cache.get(&id) {
            return Ok(Some(state));
        }
        let Some((state, expires_at)) = self.load_stored(key).await? else { return Ok(None) };
        self.cache.put(id, state.clone(), expires_at);
        Ok(Some(state))
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        if let Some(token) = visitor_token(&state) {
            return visitor_key(token).map_err(SaveError::Other);
        }
        self.store_new(state, ttl).await
    }

    async fn update(&self, key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        if visitor_state(&key).is_some() {
            // A visitor session that now holds more than its token becomes a stored one.
            return self.save(state, ttl).await.map_err(|e| UpdateError::Other(e.into()));
        }
        let (id, expires_at) = (hash_key(key.as_ref()), expiry(ttl));
        if self.cache.keep_alive_done(&id, &state, expires_at) {
            return Ok(key);
        }
        // In memory first, so that the session's other requests in flight see it extended.
        self.cache.put(id.clone(), state.clone(), expires_at);
        let updated = match &self.store {
            Store::Db(s) => s.update(key, state.clone(), ttl).await,
            Store::Redis(s) => s.update(key, state.clone(), ttl).await,
        };
        self.cache.forget_everywhere(id);
        let new_key = updated?;
        // A session that expired meanwhile comes back under a new key, never the old one.
        self.cache.put(hash_key(new_key.as_ref()), state, expires_at);
        Ok(new_key)
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        if visitor_state(key).is_some() {
            return Ok(());
        }
        match &self.store {
            Store::Db(s) => s.update_ttl(key, ttl).await?,
            Store::Redis(s) => s.update_ttl(key, ttl).await?,
        }
        let id = hash_key(key.as_ref());
        if let Some((state, _)) = self.cache.get(&id) {
            self.cache.put(id, state, expiry(ttl));
        }
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        if visitor_state(key).is_some() {
            return Ok(());
        }
        // Forget it first: from here on no request may use it, whatever the store says.
        self.cache.forget_everywhere(hash_key(key.as_ref()));
        match &self.store {
            Store::Db(s) => s.delete(key).await,
            Store::Redis(s) => s.delete(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lone_token_is_a_visitor_session() {
        let csrf = crate::auth::session::CSRF.to_string();
        let lone = HashMap::from([(csrf.clone(), "\"abc123\"".to_string())]);
        assert_eq!(visitor_token(&lone), Some("\"abc123\""));
        let key = visitor_key("\"abc123\"").unwrap();
        assert_eq!(visitor_state(&key), Some(lone.clone()));
        let mut more = lone.clone();
        more.insert("uid".into(), "1".into());
        assert_eq!(visitor_token(&more), None);
        assert_eq!(visitor_token(&HashMap::new()), None);
        let odd = HashMap::from([(csrf, "a b".to_string())]);
        assert_eq!(visitor_token(&odd), None, "no spaces or control characters in a key");
        assert_eq!(visitor_state(&SessionKey::try_from("x".repeat(64)).unwrap()), None);
    }
}
