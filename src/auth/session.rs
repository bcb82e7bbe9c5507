//! The typed session: who is logged in, since when, and the CSRF token.

use actix_session::Session;
use rand::RngCore;

use crate::domain::UserId;

const USER_ID: &str = "uid";
const AUTH_AT: &str = "auth_at";
pub const CSRF: &str = "csrf";
const VERSION: &str = "sv";
const SEEN: &str = crate::store::sessions::SEEN_KEY;

/// A logged-in session's expiry is pushed back at most this often: a page view usually writes
/// nothing, and the idle limit is kept to within this much.
pub const EXTEND_EVERY_SECS: i64 = 5 * 60;
const STAFF_PENDING: &str = "staff_pending";
/// The password step was taken with the slider puzzle solved (the account was paused).
const STAFF_SOLVED: &str = "staff_solved";
const STAFF_AT: &str = "staff_at";
const STAFF_SEEN: &str = "staff_seen";
const WECHAT_OPENID: &str = "wx_openid";
const WECHAT_OAUTH: &str = "wx_oauth";
const WECHAT_LOGIN: &str = "wx_login";

/// A WeChat sign-in under way: where it goes after, the course it continues to buy (or empty),
/// and whether it is the silent `snsapi_base` look-up (no consent screen).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WechatLogin {
    pub next: String,
    pub buy: String,
    pub silent: bool,
    /// The PC QR sign-in (the website application), not the official account's.
    #[serde(default)]
    pub qr: bool,
}
/// A distributor's `?ref=` followed before signing in: (code, when).
const REFERRAL: &str = "ref";
/// A coupon's shared link followed: its code, for the next pay page.
const COUPON: &str = "coupon";
const WECHAT_PENDING: &str = "wx_pending";
const FLASH: &str = "flash";

pub struct TypedSession<'a>(pub &'a Session);

impl TypedSession<'_> {
    /// A fresh session id (the old cookie stops working) holding the user and a new CSRF token.
    /// `version` is the account's session version: bumping it later ends this session.
    pub fn log_in(&self, user_id: UserId, version: i64, now: i64) -> anyhow::Result<()> {
        self.0.renew();
        self.0.remove(STAFF_PENDING);
        self.0.remove(STAFF_SOLVED);
        self.0.remove(STAFF_AT);
        self.0.remove(STAFF_SEEN);
        self.0.insert(USER_ID, user_id)?;
        self.0.insert(VERSION, version)?;
        self.0.insert(AUTH_AT, now)?;
        self.0.insert(SEEN, now)?;
        self.0.insert(CSRF, new_token())?;
        Ok(())
    }

    /// Marks the session used. It changes (and so is saved with a new expiry) only when the last
    /// mark is `EXTEND_EVERY_SECS` old.
    pub fn keep_alive(&self, now: i64) -> anyhow::Result<()> {
        let seen: i64 = self.0.get(SEEN).ok().flatten().unwrap_or(0);
        if now - seen >= EXTEND_EVERY_SECS {
            self.0.insert(SEEN, now)?;
        }
        Ok(())
    }

    /// A notice for the next page this visitor sees ("已保存"), by its translation key.
    pub fn set_flash(&self, key: &'static str) -> anyhow::Result<()> {
        self.0.insert(FLASH, key)?;
        Ok(())
    }

    /// The notice left for this page, taken so that it shows once. Looked at first: removing
    /// marks the session changed, and an ordinary page view must write nothing.
    pub fn take_flash(&self) -> Option<String> {
        let flash: String = self.0.get(FLASH).ok().flatten()?;
        self.0.remove(FLASH);
        Some(flash)
    }

    pub fn note_referral(&self, code: &str, at: i64) -> anyhow::Result<()> {
        self.0.insert(REFERRAL, (code, at))?;
        Ok(())
    }

    pub fn referral(&self) -> Option<(String, i64)> {
        self.0.get(REFERRAL).ok().flatten()
    }

    pub fn forget_referral(&self) {
        self.0.remove(REFERRAL);
    }

    pub fn note_coupon(&self, code: &str) -> anyhow::Result<()> {
        self.0.insert(COUPON, code)?;
        Ok(())
    }

    pub fn coupon(&self) -> Option<String> {
        self.0.get(COUPON).ok().flatten()
    }

    pub fn forget_coupon(&self) {
        self.0.remove(COUPON);
    }

    pub fn session_version(&self) -> i64 {
        self.0.get(VERSION).ok().flatten().unwrap_or(0)
    }

    /// The password was right: remember who is to give the second factor, and since when.
    /// `solved_puzzle`: the account was paused for strangers and this browser solved the puzzle,
    /// so the second factor's step is not held by that pause either.
    pub fn begin_staff_challenge(&self, user_id: UserId, now: i64, solved_puzzle: bool) -> anyhow::Result<()> {
        self.0.insert(STAFF_PENDING, (user_id, now))?;
        if solved_puzzle {
            self.0.insert(STAFF_SOLVED, true)?;
        } else {
            self.0.remove(STAFF_SOLVED);
        }
        Ok(())
    }

    /// Whether the password step was taken with the puzzle solved (see `begin_staff_challenge`).
    pub fn staff_challenge_solved(&self) -> bool {
        self.0.get(STAFF_SOLVED).ok().flatten().unwrap_or(false)
    }

    /// The account waiting for its second factor, if the password step was within 10 minutes.
    pub fn staff_challenge(&self, now: i64) -> Option<UserId> {
        let (user_id, at): (UserId, i64) = self.0.get(STAFF_PENDING).ok().flatten()?;
        (now - at < 600).then_some(user_id)
    }

    /// Both factors given: a fresh session that carries the staff sign-in time.
    pub fn log_in_staff(&self, user_id: UserId, version: i64, now: i64) -> anyhow::Result<()> {
        self.log_in(user_id, version, now)?;
        self.0.insert(STAFF_AT, now)?;
        self.0.insert(STAFF_SEEN, now)?;
        Ok(())
    }

    /// (signed in at, last seen at) of a staff session.
    pub fn staff_times(&self) -> Option<(i64, i64)> {
        let at = self.0.get(STAFF_AT).ok().flatten()?;
        let seen = self.0.get(STAFF_SEEN).ok().flatten()?;
        Some((at, seen))
    }

    pub fn touch_staff(&self, now: i64) -> anyhow::Result<()> {
        self.0.insert(STAFF_SEEN, now)?;
        Ok(())
    }

    /// Deletes the session on the server and the cookie in the browser.
    pub fn log_out(&self) {
        self.0.purge();
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.0.get(USER_ID).ok().flatten()
    }

    pub fn authenticated_at(&self) -> Option<i64> {
        self.0.get(AUTH_AT).ok().flatten()
    }

    pub fn csrf_token(&self) -> Option<String> {
        self.0.get(CSRF).ok().flatten()
    }

    /// The session's CSRF token, created on first use (this starts a session for a visitor).
    pub fn ensure_csrf_token(&self) -> anyhow::Result<String> {
        if let Some(token) = self.csrf_token() {
            return Ok(token);
        }
        let token = new_token();
        self.0.insert(CSRF, &token)?;
        Ok(token)
    }
}

impl TypedSession<'_> {
    /// The payer's openid for the official account, once OAuth has given it.
    pub fn wechat_openid(&self) -> Option<String> {
        self.0.get(WECHAT_OPENID).ok().flatten()
    }

    pub fn set_wechat_openid(&self, openid: &str) -> anyhow::Result<()> {
        self.0.insert(WECHAT_OPENID, openid)?;
        Ok(())
    }

    /// Remembers an OAuth round trip for this order; returns the `state` to send along.
    pub fn start_wechat_oauth(&self, order_no: &str) -> anyhow::Result<String> {
        let token = new_token();
        self.0.insert(WECHAT_OAUTH, format!("{token}:{order_no}"))?;
        Ok(token)
    }

    /// The order the OAuth round trip was for, if `state` is the one we sent (used once).
    pub fn finish_wechat_oauth(&self, state: &str) -> Option<String> {
        let stored: String = self.0.remove_as(WECHAT_OAUTH).and_then(Result::ok)?;
        let (token, order_no) = stored.split_once(':')?;
        use subtle::ConstantTimeEq;
        bool::from(token.as_bytes().ct_eq(state.as_bytes())).then(|| order_no.to_string())
    }
}

impl TypedSession<'_> {
    /// Remembers a WeChat sign-in round trip and what it is for; returns the `state`.
    pub fn start_wechat_login(&self, login: &WechatLogin) -> anyhow::Result<String> {
        let token = new_token();
        self.0.insert(WECHAT_LOGIN, (token.clone(), login))?;
        Ok(token)
    }

    /// What the sign-in was for, if `state` is the one we sent (used once).
    pub fn finish_wechat_login(&self, state: &str) -> Option<WechatLogin> {
        let (token, login): (String, WechatLogin) = self.0.remove_as(WECHAT_LOGIN).and_then(Result::ok)?;
        use subtle::ConstantTimeEq;
        bool::from(token.as_bytes().ct_eq(state.as_bytes())).then_some(login)
    }

    /// A WeChat identity (openid, unionid) no account has yet: linked at the next login.
    pub fn set_pending_wechat(&self, openid: &str, unionid: Option<&str>) -> anyhow::Result<()> {
        self.0.insert(WECHAT_PENDING, (openid.to_string(), unionid.map(String::from)))?;
        Ok(())
    }

    pub fn take_pending_wechat(&self) -> Option<(String, Option<String>)> {
        self.0.remove_as(WECHAT_PENDING).and_then(Result::ok)
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}
