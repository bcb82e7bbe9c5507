//! Binding a phone number to a WeChat-only account (an imported or synced buyer known by
//! unionid). A number nobody has becomes the account's; a number another account has folds the
//! WeChat-only account into that one, in one transaction: what each side owns ends up on the
//! phone's account, and the WeChat-only account is retired.

use std::collections::BTreeMap;

use super::Db;
use super::users::WECHAT_ONLY_PREFIX;
use crate::domain::{Phone, UserId};

/// Tables whose rows follow their owner, with the columns that may hold a row only once per
/// owner: a row the phone's account already has the like of stays behind.
const OWNED: [(&str, &[&str]); 26] = [
    ("orders", &[]),
    ("entitlements", &["course_id"]),
    ("lesson_progress", &["lesson_id"]),
    ("learner_days", &["day"]),
    ("refund_requests", &[]),
    ("complaints", &[]),
    ("attachments", &[]),
    ("user_messages", &[]),
    ("user_identities", &[]),
    ("membership_terms", &[]),
    ("coupon_redemptions", &[]),
    ("reviews", &["course_id"]),
    ("review_reports", &["review_id"]),
    ("group_members", &["group_id"]),
    ("check_ins", &["course_id", "day"]),
    ("homework", &["lesson_id"]),
    ("lesson_questions", &[]),
    ("lesson_answers", &[]),
    ("learner_notes", &[]),
    ("quiz_attempts", &[]),
    ("certificates", &["course_id"]),
    ("moderation_items", &[]),
    ("referral_bindings", &[""]),
    ("receipt_claims", &[]),
    ("logins", &[]),
    ("phone_prompts", &[""]),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// The number was free: it is this account's now.
    Set,
    /// The number had an account: this one was folded into it.
    Merged { into: UserId, moved: BTreeMap<&'static str, u64> },
    /// The number's account cannot take it (banned or deleted), or this account has a number.
    Refused,
}

/// Binds `phone` to the WeChat-only account `user`; the SMS code to that phone was checked.
pub async fn bind(db: &Db, user: UserId, phone: &Phone, now: i64) -> Result<Bound, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let holder: Option<(i64, String)> = sqlx::query_as("SELECT id, status FROM users WHERE phone = $1")
        .bind(phone.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let bound = match holder {
        None => {
            let set = sqlx::query("UPDATE users SET phone = $1, updated_at = $2 WHERE id = $3 AND phone LIKE $4")
                .bind(phone.as_str())
                .bind(now)
                .bind(user)
                .bind(format!("{WECHAT_ONLY_PREFIX}%"))
                .execute(&mut *tx)
                .await?;
            if set.rows_affected() == 1 { Bound::Set } else { Bound::Refused }
        }
        Some((into, status)) if into != user.0 && status != "banned" && status != "deleted" => {
            let retired = sqlx::query(
                "UPDATE users SET status = 'deleted', session_version = session_version + 1, updated_at = $1 \
                 WHERE id = $2 AND phone LIKE $3 AND status <> 'deleted'",
            )
            .bind(now)
            .bind(user)
            .bind(format!("{WECHAT_ONLY_PREFIX}%"))
            .execute(&mut *tx)
            .await?;
            if retired.rows_affected() == 1 {
                let moved = move_owned(&mut tx, user.0, into, now).await?;
                sqlx::query(
                    "INSERT INTO account_merges (from_user_id, into_user_id, moved, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(user)
                .bind(into)
                .bind(serde_json::to_string(&moved).unwrap_or_default())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Bound::Merged { into: UserId(into), moved }
            } else {
                Bound::Refused
            }
        }
        Some(_) => Bound::Refused,
    };
    if bound == Bound::Refused {
        return Ok(bound);
    }
    tx.commit().await?;
    db.users_changed();
    db.sessions_changed();
    db.access_changed();
    for topic in [super::Topic::Orders, super::Topic::Progress] {
        db.changed(topic);
    }
    Ok(bound)
}

async fn move_owned(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    from: i64,
    into: i64,
    now: i64,
) -> Result<BTreeMap<&'static str, u64>, sqlx::Error> {
    // A pending order for a course the phone's account is also paying for is closed, not moved.
    sqlx::query(
        "UPDATE orders SET status = 'closed', close_reason = 'merged', closed_at = $1, updated_at = $1 \
         WHERE user_id = $2 AND status = 'pending' AND EXISTS \
         (SELECT 1 FROM orders x WHERE x.user_id = $3 AND x.course_id = orders.course_id AND x.status = 'pending')",
    )
    .bind(now)
    .bind(from)
    .bind(into)
    .execute(&mut **tx)
    .await?;
    // Their coupons go back, as for any closed order.
    sqlx::query(
        "UPDATE coupon_redemptions SET status = 'released', updated_at = $1 WHERE status = 'reserved' AND order_id IN \
         (SELECT id FROM orders WHERE user_id = $2 AND status = 'closed' AND close_reason = 'merged')",
    )
    .bind(now)
    .bind(from)
    .execute(&mut **tx)
    .await?;
    let mut moved = BTreeMap::new();
    for (table, once_per) in OWNED {
        let guard = match once_per {
            [] => String::new(),
            [""] => format!(" AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.user_id = $1)"),
            columns => {
                let same: Vec<String> = columns.iter().map(|c| format!(" AND x.{c} = {table}.{c}")).collect();
                format!(" AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.user_id = $1{})", same.concat())
            }
        };
        let sql = format!("UPDATE {table} SET user_id = $1 WHERE user_id = $2{guard}");
        let done = sqlx::query(&sql).bind(into).bind(from).execute(&mut **tx).await?;
        if done.rows_affected() > 0 {
            moved.insert(table, done.rows_affected());
        }
    }
    Ok(moved)
}

/// Whether the WeChat-only account has been asked for a phone; asks (records it) when not.
pub async fn ask_once(db: &Db, user: UserId, now: i64) -> Result<bool, sqlx::Error> {
    let asked = sqlx::query("INSERT INTO phone_prompts (user_id, asked_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(asked.rows_affected() == 1)
}
