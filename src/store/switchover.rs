//! Who of the mini program's buyers (imported or synced) the shop can reach on the day: by SMS
//! (a real phone), by WeChat only (a unionid: the official account's sign-in and the PC QR
//! sign-in find them), or by neither (staff contact them another way).

use super::Db;
use super::identities::UNIONID;
use super::users::WECHAT_ONLY_PREFIX;
use crate::domain::UserId;
use crate::domain::funnel::Step;
use crate::domain::stats::{day_start, shanghai_day};

/// Accounts that came from the mini program: an imported or synced order or grant.
const BUYERS: &str = "SELECT u.id, u.phone FROM users u WHERE u.status <> 'deleted' AND (\
     EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.external_id LIKE 'mp:%') \
     OR EXISTS (SELECT 1 FROM entitlements e WHERE e.user_id = u.id AND e.source = 'import'))";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub buyers: i64,
    pub by_sms: i64,
    pub wechat_only: i64,
    pub neither: i64,
    /// Buyers who have signed in to the shop at least once.
    pub signed_in: i64,
}

pub async fn reach(db: &Db) -> Result<Reach, sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(*), \
         COALESCE(SUM(CASE WHEN b.phone NOT LIKE $1 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN b.phone LIKE $1 AND EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = b.id AND i.provider = $2) THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM logins l WHERE l.user_id = b.id) THEN 1 ELSE 0 END), 0) \
         FROM ({BUYERS}) b"
    );
    let (buyers, by_sms, wechat_only, signed_in): (i64, i64, i64, i64) =
        sqlx::query_as(&sql).bind(format!("{WECHAT_ONLY_PREFIX}%")).bind(UNIONID).fetch_one(db.read()).await?;
    Ok(Reach { buyers, by_sms, wechat_only, neither: buyers - by_sms - wechat_only, signed_in })
}

/// A buyer neither SMS nor WeChat sign-in reaches, for staff to contact.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unreachable {
    pub id: UserId,
    pub nickname: String,
    /// The mini program's openid: what its own customer service can look up.
    pub openid: String,
    /// The mini program's order ids, comma-separated.
    pub orders: String,
    pub paid_fen: i64,
}

pub async fn unreachable(db: &Db) -> Result<Vec<Unreachable>, sqlx::Error> {
    let sql = format!(
        "SELECT b.id, u.nickname, \
         COALESCE((SELECT MIN(i.value) FROM user_identities i WHERE i.user_id = b.id AND i.provider = 'wechat_openid_mp'), '') AS openid, \
         '' AS orders, \
         CAST(COALESCE((SELECT SUM(o.amount_fen - o.refunded_fen) FROM orders o WHERE o.user_id = b.id AND o.external_id LIKE 'mp:%'), 0) AS BIGINT) AS paid_fen \
         FROM ({BUYERS}) b JOIN users u ON u.id = b.id \
         WHERE b.phone LIKE $1 AND NOT EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = b.id AND i.provider = $2) \
         ORDER BY b.id"
    );
    let mut rows: Vec<Unreachable> =
        sqlx::query_as(&sql).bind(format!("{WECHAT_ONLY_PREFIX}%")).bind(UNIONID).fetch_all(db.read()).await?;
    for row in &mut rows {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT external_id FROM orders WHERE user_id = $1 AND external_id LIKE 'mp:%' ORDER BY id",
        )
        .bind(row.id)
        .fetch_all(db.read())
        .await?;
        row.orders = ids.iter().map(|e| e.trim_start_matches("mp:")).collect::<Vec<_>>().join(",");
    }
    Ok(rows)
}

/// What the mini program's buyers did, and what reached them, since `since`: (step, user, when).
pub async fn funnel_events(db: &Db, since: i64) -> Result<Vec<(Step, i64, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT 'signed_in', l.user_id, l.created_at FROM logins l \
           WHERE l.created_at >= $1 AND l.user_id IN (SELECT b.id FROM ({BUYERS}) b) \
         UNION ALL SELECT 'studied', d.user_id, d.day FROM learner_days d \
           WHERE d.day >= $2 AND d.user_id IN (SELECT b.id FROM ({BUYERS}) b) \
         UNION ALL SELECT 'claimed', c.user_id, c.created_at FROM receipt_claims c \
           WHERE c.created_at >= $1 AND c.undone_at IS NULL \
         UNION ALL SELECT 'refund', r.user_id, r.created_at FROM refund_requests r \
           WHERE r.created_at >= $1 AND r.user_id IN (SELECT b.id FROM ({BUYERS}) b) \
         UNION ALL SELECT 'sms', b.id, s.sent_at FROM sms_outbox s JOIN ({BUYERS}) b ON b.phone = s.phone \
           WHERE s.status = 'sent' AND s.sent_at >= $1 AND s.kind IN ('takedown_notice', 'marketing') \
         UNION ALL SELECT 'oa', w.user_id, w.sent_at FROM wechat_outbox w \
           WHERE w.status = 'sent' AND w.sent_at >= $1 AND w.user_id IS NOT NULL"
    );
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as(&sql).bind(since).bind(shanghai_day(since)).fetch_all(db.read()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, user, at)| {
            let step = match kind.as_str() {
                "signed_in" => Step::SignedIn,
                // learner_days holds a day number: it counts from that day's first second.
                "studied" => return Some((Step::Studied, user, day_start(at).max(since))),
                "claimed" => Step::Claimed,
                "refund" => Step::AskedRefund,
                "sms" => Step::ToldBySms,
                "oa" => Step::ToldByOfficialAccount,
                _ => return None,
            };
            Some((step, user, at))
        })
        .collect())
}

/// When takedown mode was last switched on: the back office's switch is in the audit log; the
/// command line's shows as the setting's own time while it is on.
pub async fn last_takedown_on(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    let audited: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM audit_log WHERE action = 'takedown.on'")
        .fetch_one(db.read())
        .await?;
    let setting: Option<i64> =
        sqlx::query_scalar("SELECT updated_at FROM shop_settings WHERE key = 'takedown' AND value = 'on'")
            .fetch_optional(db.read())
            .await?;
    Ok(audited.max(setting))
}
