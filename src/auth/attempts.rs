//! Limits on guessing a password or a staff second factor: per account (the lockout, which an
//! SMS code still gets past), and per source address and its network, so that one source
//! cannot try one password on each of many accounts.

use crate::domain::UserId;
use crate::domain::rate::{Limit, network_of};
use crate::store::{Db, limits};

/// Wrong guesses for one account before its password sign-in pauses.
pub const PASSWORD_FAILURES: Limit = Limit::new(10, 15 * 60);
/// Wrong guesses for one account, the pause lifted by solving the puzzle each time: the cap that
/// holds even for a stranger who solves puzzles by the dozen.
pub const PASSWORD_FAILURES_CHECKED: Limit = Limit::new(40, 15 * 60);
/// Wrong guesses from one address, whatever the accounts. Generous: mobile carriers put many
/// subscribers behind one address, and those still sign in by SMS code when it is reached.
pub const ADDRESS_FAILURES: Limit = Limit::new(30, 15 * 60);
/// Wrong guesses from one /24 (IPv4) or /64 (IPv6), against an attacker rotating addresses.
pub const NETWORK_FAILURES: Limit = Limit::new(100, 15 * 60);

/// Why another guess must wait, with the seconds left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Source(i64),
    /// The account's pause, which a solved puzzle gets past.
    Paused(i64),
    /// Past even the puzzle's cap.
    Account(i64),
}

impl Blocked {
    pub fn secs(self) -> i64 {
        match self {
            Blocked::Source(secs) | Blocked::Paused(secs) | Blocked::Account(secs) => secs,
        }
    }

    /// The message key: learners are told an SMS code still works; staff have no such way in.
    pub fn message_key(self, staff: bool) -> &'static str {
        match (self, staff) {
            (Blocked::Source(_), false) => "err_too_many_guesses_here",
            (Blocked::Account(_) | Blocked::Paused(_), false) => "err_password_locked",
            (Blocked::Source(_), true) => "err_staff_guesses_here",
            (Blocked::Account(_) | Blocked::Paused(_), true) => "err_staff_locked",
        }
    }
}

/// Whether a guess from `ip` at `user_id`'s account (if it is one) may be checked now. A browser
/// that signed in to the account before (`known_device`) is not held by the account's pause,
/// which strangers can fill; nor is a browser that solved the puzzle with this guess
/// (`human_checked`), up to `PASSWORD_FAILURES_CHECKED`. The limits on its address still hold.
pub async fn check(
    db: &Db,
    user_id: Option<UserId>,
    ip: &str,
    known_device: bool,
    human_checked: bool,
    now: i64,
) -> Result<Option<Blocked>, sqlx::Error> {
    let net = network_of(ip);
    let since = now - ADDRESS_FAILURES.window_secs.max(NETWORK_FAILURES.window_secs);
    let (by_ip, by_net) = limits::auth_failures_since(db, ip, &net, since).await?;
    if let Some(secs) = ADDRESS_FAILURES.retry_after(&by_ip, now).max(NETWORK_FAILURES.retry_after(&by_net, now)) {
        return Ok(Some(Blocked::Source(secs)));
    }
    if let Some(user_id) = user_id.filter(|_| !known_device) {
        let since = now - PASSWORD_FAILURES.window_secs.max(PASSWORD_FAILURES_CHECKED.window_secs);
        let failures = limits::login_failures_since(db, user_id, since).await?;
        if let Some(secs) = PASSWORD_FAILURES_CHECKED.retry_after(&failures, now) {
            return Ok(Some(Blocked::Account(secs)));
        }
        if let Some(secs) = PASSWORD_FAILURES.retry_after(&failures, now).filter(|_| !human_checked) {
            return Ok(Some(Blocked::Paused(secs)));
        }
    }
    Ok(None)
}

/// Counts a wrong guess against the source, and against the account when there is one.
pub async fn failed(db: &Db, user_id: Option<UserId>, ip: &str, now: i64) -> Result<(), sqlx::Error> {
    limits::record_auth_failure(db, ip, &network_of(ip), now).await?;
    if let Some(user_id) = user_id {
        limits::record_login_failure(db, user_id, ip, now).await?;
    }
    Ok(())
}
