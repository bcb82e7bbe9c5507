//! Redeem codes: batches and their codes (only hashes), redeeming one into a paid order of amount
//! 0, and the wrong guesses counted per account and address.

use sqlx::Row;

use super::Db;
use super::orders::{self, NewOrder, Order};
use crate::domain::redeem::{CodeState, derive_code, hash};
use crate::domain::{CourseId, RedeemBatchId, UserId};

/// The provider word on an order a code paid for.
pub const PROVIDER: &str = "redeem";

/// Codes per INSERT: 3 bound values each, well under both databases' limits.
const CODES_PER_STATEMENT: usize = 1000;

pub struct NewBatch<'a> {
    pub course_id: CourseId,
    pub channel: &'a str,
    pub quantity: i64,
    pub valid_from: i64,
    pub valid_until: i64,
    pub created_by: UserId,
}

/// Makes a batch and its codes in one transaction: numbered 0.., derived from `key`, stored as
/// hashes.
pub async fn create_batch(db: &Db, new: &NewBatch<'_>, key: &[u8], now: i64) -> Result<RedeemBatchId, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    // The key check needs the id, so it is filled in once the row exists.
    let id: RedeemBatchId = sqlx::query_scalar(
        "INSERT INTO redeem_batches (course_id, channel, quantity, valid_from, valid_until, key_check, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, '', $6, $7) RETURNING id",
    )
    .bind(new.course_id)
    .bind(new.channel)
    .bind(new.quantity)
    .bind(new.valid_from)
    .bind(new.valid_until)
    .bind(new.created_by)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let seqs: Vec<i64> = (0..new.quantity).collect();
    for chunk in seqs.chunks(CODES_PER_STATEMENT) {
        let values = super::values_list(chunk.len(), 3);
        let sql = format!("INSERT INTO redeem_codes (batch_id, seq, code_hash) VALUES {values}");
        let mut query = sqlx::query(&sql);
        for &seq in chunk {
            query = query.bind(id).bind(seq).bind(hash(&derive_code(key, id.0, seq)));
        }
        query.execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE redeem_batches SET key_check = $1 WHERE id = $2")
        .bind(hash(&derive_code(key, id.0, 0)))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// A batch with how many of its codes were redeemed and how many staff switched off one by one.
#[derive(sqlx::FromRow)]
pub struct Batch {
    pub id: RedeemBatchId,
    pub course_id: CourseId,
    pub channel: String,
    pub quantity: i64,
    pub valid_from: i64,
    pub valid_until: i64,
    pub key_check: String,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub redeemed: i64,
    pub disabled_codes: i64,
}

const BATCH: &str = "SELECT b.id, b.course_id, b.channel, b.quantity, b.valid_from, b.valid_until, b.key_check, \
     b.disabled_at, b.created_at, \
     (SELECT COUNT(*) FROM redeem_codes c WHERE c.batch_id = b.id AND c.redeemed_at IS NOT NULL) AS redeemed, \
     (SELECT COUNT(*) FROM redeem_codes c WHERE c.batch_id = b.id AND c.disabled_at IS NOT NULL) AS disabled_codes \
     FROM redeem_batches b";

/// Every batch, newest first.
pub async fn batches(db: &Db) -> Result<Vec<Batch>, sqlx::Error> {
    sqlx::query_as(&format!("{BATCH} ORDER BY b.id DESC")).fetch_all(db.read()).await
}

pub async fn batch(db: &Db, id: RedeemBatchId) -> Result<Option<Batch>, sqlx::Error> {
    sqlx::query_as(&format!("{BATCH} WHERE b.id = $1")).bind(id).fetch_optional(db.read()).await
}

/// Switches a batch off (or on again); false when it already was, or is not there.
pub async fn set_batch_disabled(db: &Db, id: RedeemBatchId, disabled: bool, now: i64) -> Result<bool, sqlx::Error> {
    let done = if disabled {
        sqlx::query("UPDATE redeem_batches SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(db.write())
            .await?
    } else {
        sqlx::query("UPDATE redeem_batches SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL")
            .bind(id)
            .execute(db.write())
            .await?
    };
    Ok(done.rows_affected() == 1)
}

/// What became of switching one code off.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeSwitch {
    /// Off now; its number in the batch.
    Done(i64),
    /// Not a code of this batch.
    NotInBatch,
    Redeemed,
    AlreadyOff,
}

pub async fn disable_code(db: &Db, batch: RedeemBatchId, code_hash: &str, now: i64) -> Result<CodeSwitch, sqlx::Error> {
    let row =
        sqlx::query("SELECT seq, redeemed_at, disabled_at FROM redeem_codes WHERE batch_id = $1 AND code_hash = $2")
            .bind(batch)
            .bind(code_hash)
            .fetch_optional(db.write())
            .await?;
    let Some(row) = row else { return Ok(CodeSwitch::NotInBatch) };
    let seq: i64 = row.try_get(0)?;
    let (redeemed, disabled): (Option<i64>, Option<i64>) = (row.try_get(1)?, row.try_get(2)?);
    if redeemed.is_some() {
        return Ok(CodeSwitch::Redeemed);
    }
    if disabled.is_some() {
        return Ok(CodeSwitch::AlreadyOff);
    }
    let done = sqlx::query(
        "UPDATE redeem_codes SET disabled_at = $1 WHERE batch_id = $2 AND seq = $3 AND redeemed_at IS NULL AND disabled_at IS NULL",
    )
    .bind(now)
    .bind(batch)
    .bind(seq)
    .execute(db.write())
    .await?;
    Ok(if done.rows_affected() == 1 { CodeSwitch::Done(seq) } else { CodeSwitch::Redeemed })
}

/// A code found by its hash, with what decides whether it may be redeemed.
pub struct FoundCode {
    pub id: i64,
    pub batch_id: RedeemBatchId,
    pub course_id: CourseId,
    pub channel: String,
    pub state: CodeState,
}

pub async fn find(db: &Db, code_hash: &str) -> Result<Option<FoundCode>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, c.batch_id, b.course_id, b.channel, b.valid_from, b.valid_until, b.disabled_at, c.disabled_at, \
         c.redeemed_at FROM redeem_codes c JOIN redeem_batches b ON b.id = c.batch_id WHERE c.code_hash = $1",
    )
    .bind(code_hash)
    .fetch_optional(db.read())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(FoundCode {
        id: row.try_get(0)?,
        batch_id: row.try_get(1)?,
        course_id: row.try_get(2)?,
        channel: row.try_get(3)?,
        state: CodeState {
            valid_from: row.try_get(4)?,
            valid_until: row.try_get(5)?,
            batch_disabled: row.try_get::<Option<i64>, _>(6)?.is_some(),
            code_disabled: row.try_get::<Option<i64>, _>(7)?.is_some(),
            redeemed: row.try_get::<Option<i64>, _>(8)?.is_some(),
        },
    }))
}

/// Uses the code for `new` (an order of amount 0): the code is taken, the order paid and the
/// course granted, all in one transaction. None when the code was taken or switched off meanwhile.
pub async fn redeem(db: &Db, code_id: i64, new: &NewOrder<'_>, now: i64) -> Result<Option<Order>, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    // The order first, so the code is taken with it in one statement; a code gone meanwhile rolls
    // the order back.
    let order = orders::insert_claimed(db, &mut tx, new, PROVIDER, now).await?;
    let taken = sqlx::query(
        "UPDATE redeem_codes SET redeemed_at = $1, redeemed_by = $2, order_id = $3 \
         WHERE id = $4 AND redeemed_at IS NULL AND disabled_at IS NULL",
    )
    .bind(now)
    .bind(new.user_id)
    .bind(order.id)
    .bind(code_id)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    db.orders_changed();
    db.access_changed();
    Ok(Some(order))
}

/// The channel of the batch whose code paid for an order (for its page).
pub async fn channel_of_order(db: &Db, order_id: crate::domain::OrderId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT b.channel FROM redeem_codes c JOIN redeem_batches b ON b.id = c.batch_id WHERE c.order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(db.read())
    .await
}

/// A redeemed code of a batch: its number, who redeemed it (their stored phone), when, the order.
#[derive(sqlx::FromRow)]
pub struct Redeemed {
    pub seq: i64,
    pub phone: String,
    pub redeemed_at: i64,
    pub order_no: String,
}

/// The batch's redeemed codes, newest first; at most `limit`.
pub async fn redeemed(db: &Db, batch: RedeemBatchId, limit: i64) -> Result<Vec<Redeemed>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.seq, u.phone, c.redeemed_at, o.order_no FROM redeem_codes c \
         JOIN users u ON u.id = c.redeemed_by JOIN orders o ON o.id = c.order_id \
         WHERE c.batch_id = $1 AND c.redeemed_at IS NOT NULL ORDER BY c.redeemed_at DESC, c.seq LIMIT $2",
    )
    .bind(batch)
    .bind(limit)
    .fetch_all(db.read())
    .await
}

/// The batch's codes that are not plain unused ones: (number, redeemed at, switched off at).
pub async fn marked_codes(db: &Db, batch: RedeemBatchId) -> Result<Vec<(i64, Option<i64>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, redeemed_at, disabled_at FROM redeem_codes \
         WHERE batch_id = $1 AND (redeemed_at IS NOT NULL OR disabled_at IS NOT NULL) ORDER BY seq",
    )
    .bind(batch)
    .fetch_all(db.read())
    .await
}

/// A code that was not a code, against the account and the address.
pub async fn record_failure(db: &Db, user_id: UserId, ip: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO redeem_failures (user_id, ip, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(ip)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}

/// The times (oldest first) of wrong codes since `since`: by this account, and from this address.
pub async fn failures_since(
    db: &Db,
    user_id: UserId,
    ip: &str,
    since: i64,
) -> Result<(Vec<i64>, Vec<i64>), sqlx::Error> {
    let by_user = sqlx::query_scalar(
        "SELECT created_at FROM redeem_failures WHERE user_id = $1 AND created_at > $2 ORDER BY created_at",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(db.write())
    .await?;
    let by_ip = sqlx::query_scalar(
        "SELECT created_at FROM redeem_failures WHERE ip = $1 AND created_at > $2 ORDER BY created_at",
    )
    .bind(ip)
    .bind(since)
    .fetch_all(db.write())
    .await?;
    Ok((by_user, by_ip))
}

/// Wrong codes since `since`: how many, from how many accounts and from how many addresses.
pub async fn failure_counts(db: &Db, since: i64) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT user_id), COUNT(DISTINCT ip) FROM redeem_failures WHERE created_at > $1",
    )
    .bind(since)
    .fetch_one(db.read())
    .await
}

/// Forgets wrong codes older than `cutoff` (the cleanup job).
pub async fn delete_failures_before(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM redeem_failures WHERE created_at < $1")
        .bind(cutoff)
        .execute(db.write())
        .await?
        .rows_affected())
}
