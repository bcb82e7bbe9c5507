//! The session store chosen at start-up (the application database, or Redis), with one rule on
//! top: a visitor whose session holds nothing but a CSRF token (someone looking at `/login`)
//! stores nothing on the server. Their token travels inside the session key itself, which only
//! ever reaches the browser in the encrypted, authenticated session cookie.

use std::collections::HashMap;

use actix_session::storage::{LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;

use crate::store::sessions::DbSessionStore;

type State = HashMap<String, String>;

/// Session keys that carry a visitor's CSRF token instead of naming a stored session.
const VISITOR_PREFIX: &str = "v.";

#[derive(Clone)]
pub enum Sessions {
    Db(DbSessionStore),
    Redis(RedisSessionStore),
}

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
    async fn store_new(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        match self {
            Sessions::Db(s) => s.save(state, ttl).await,
            Sessions::Redis(s) => s.save(state, ttl).await,
        }
    }
}

impl SessionStore for Sessions {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        if let Some(state) = visitor_state(key) {
            return Ok(Some(state));
        }
        match self {
            Sessions::Db(s) => s.load(key).await,
            Sessions::Redis(s) => s.load(key).await,
        }
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
        match self {
            Sessions::Db(s) => s.update(key, state, ttl).await,
            Sessions::Redis(s) => s.update(key, state, ttl).await,
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        if visitor_state(key).is_some() {
            return Ok(());
        }
        match self {
            Sessions::Db(s) => s.update_ttl(key, ttl).await,
            Sessions::Redis(s) => s.update_ttl(key, ttl).await,
        }
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        if visitor_state(key).is_some() {
            return Ok(());
        }
        match self {
            Sessions::Db(s) => s.delete(key).await,
            Sessions::Redis(s) => s.delete(key).await,
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
