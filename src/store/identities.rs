//! Outside identities of an account: the WeChat unionid (the same person across the mini program
//! and the official account) and openids.

use super::Db;
use crate::domain::UserId;

pub const UNIONID: &str = "wechat_unionid";
/// The official account's openid.
pub const OPENID_OA: &str = "wechat_openid_oa";
/// The open platform website application's openid (PC QR sign-in).
pub const OPENID_WEB: &str = "wechat_openid_web";
/// The mini program's openid (from its export or sync).
pub const OPENID_MP: &str = "wechat_openid_mp";

/// The account holding any of these (provider, value) identities, unionid first.
pub async fn find_user(db: &Db, ids: &[(&str, &str)]) -> Result<Option<UserId>, sqlx::Error> {
    for (provider, value) in ids {
        let found: Option<UserId> =
            sqlx::query_scalar("SELECT user_id FROM user_identities WHERE provider = $1 AND value = $2")
                .bind(provider)
                .bind(value)
                .fetch_optional(db.read())
                .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Links identities to an account; one already linked to someone else stays theirs.
pub async fn link(db: &Db, user_id: UserId, ids: &[(&str, &str)], now: i64) -> Result<(), sqlx::Error> {
    for (provider, value) in ids {
        sqlx::query(
            "INSERT INTO user_identities (user_id, provider, value, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider, value) DO NOTHING",
        )
        .bind(user_id)
        .bind(provider)
        .bind(value)
        .bind(now)
        .execute(db.write())
        .await?;
    }
    Ok(())
}

/// Some account is known by a unionid alone (imported from the mini program, never signed in
/// here): an unknown openid may be one of them, which only the consented sign-in can tell.
pub async fn unionid_without_openid(db: &Db) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT u.user_id FROM user_identities u WHERE u.provider = $1 AND NOT EXISTS \
         (SELECT 1 FROM user_identities o WHERE o.user_id = u.user_id AND o.provider = $2) LIMIT 1",
    )
    .bind(UNIONID)
    .bind(OPENID_OA)
    .fetch_optional(db.read())
    .await?;
    Ok(found.is_some())
}

pub async fn has_wechat(db: &Db, user_id: UserId) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_identities WHERE user_id = $1 AND provider IN ('wechat_unionid', 'wechat_openid_oa')",
    )
    .bind(user_id)
    .fetch_one(db.read())
    .await?;
    Ok(n > 0)
}
