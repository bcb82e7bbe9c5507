//! Writing checked rows in batches (one transaction per batch). What exists already is looked up
//! once, so each row is an insert, an update of what changed, or nothing: a second run of the
//! same export writes nothing.
//!
//! Safety rules: a phone already registered is merged, never duplicated; an entitlement that was
//! revoked in the shop (a refund, staff) is never granted again by an import; progress made in
//! the shop after the export is never overwritten by older imported progress.

use std::collections::{HashMap, HashSet};

use sqlx::{Any, Row, Transaction};

use super::{Dataset, Entity, Report, Shop};
use crate::domain::media::is_complete;
use crate::domain::order::new_order_no;
use crate::domain::time::now;
use crate::store::Db;
use crate::store::users::default_nickname;

const BATCH: usize = 1000;

/// Progress for a person watching (a bar in a terminal, nothing on the web).
pub trait Progress: Sync {
    fn start(&self, _phase: &str, _total: u64) {}
    fn advance(&self, _done: u64) {}
    fn finish(&self) {}
}

pub struct Silent;

impl Progress for Silent {}

struct CourseInfo {
    title: String,
    kind: String,
    non_refundable: i64,
    window_days: i64,
    max_pct: i64,
}

pub async fn all(
    db: &Db,
    data: &Dataset,
    shop: &Shop,
    report: &mut Report,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let mut mapped = shop.mappings.clone();
    mappings(db, data, shop, &mut mapped, report, progress).await?;
    let ids = users(db, data, report, progress).await?;
    orders(db, data, &mapped, &ids, report, progress).await?;
    entitlements(db, data, &mapped, &ids, report, progress).await?;
    lesson_progress(db, data, shop, &mapped, &ids, report, progress).await?;
    Ok(())
}

async fn mappings(
    db: &Db,
    data: &Dataset,
    shop: &Shop,
    mapped: &mut HashMap<String, i64>,
    report: &mut Report,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    progress.start("courses", data.mappings.len() as u64);
    let mut batch = Batch::begin(db).await?;
    for m in &data.mappings {
        let Some(course) = shop.courses.get(&m.row.course_slug) else { continue };
        let counts = report.counts(Entity::Courses);
        match mapped.get(&m.row.product_id) {
            Some(id) if *id == course.id => counts.unchanged += 1,
            before => {
                if before.is_some() {
                    counts.updated += 1
                } else {
                    counts.inserted += 1
                }
                sqlx::query(
                    "INSERT INTO course_mappings (product_id, course_id, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (product_id) DO UPDATE SET course_id = excluded.course_id, updated_at = excluded.updated_at",
                )
                .bind(&m.row.product_id)
                .bind(course.id)
                .bind(now())
                .execute(&mut **batch.tx()?)
                .await?;
                mapped.insert(m.row.product_id.clone(), course.id);
            }
        }
        progress.advance(1);
    }
    batch.finish().await?;
    progress.finish();
    Ok(())
}

/// One transaction per `BATCH` rows. The write pool may hold a single connection (SQLite), so a
/// batch is committed before the next one begins.
struct Batch<'a> {
    db: &'a Db,
    tx: Option<Transaction<'static, Any>>,
    rows: usize,
}

impl<'a> Batch<'a> {
    async fn begin(db: &'a Db) -> anyhow::Result<Batch<'a>> {
        Ok(Batch { db, tx: Some(db.write().begin().await?), rows: 0 })
    }

    fn tx(&mut self) -> anyhow::Result<&mut Transaction<'static, Any>> {
        self.tx.as_mut().ok_or_else(|| anyhow::anyhow!("import batch already finished"))
    }

    async fn row_done(&mut self) -> anyhow::Result<()> {
        self.rows += 1;
        if self.rows % BATCH == 0 {
            if let Some(tx) = self.tx.take() {
                tx.commit().await?;
                self.committed();
            }
            self.tx = Some(self.db.write().begin().await?);
        }
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
            self.committed();
        }
        Ok(())
    }

    /// Accounts and access may have changed: in-memory copies are stale.
    fn committed(&self) {
        self.db.users_changed();
        self.db.access_changed();
    }
}

/// Creates the accounts that do not exist and adds WeChat identities; returns phone → user id.
async fn users(
    db: &Db,
    data: &Dataset,
    report: &mut Report,
    progress: &dyn Progress,
) -> anyhow::Result<HashMap<String, i64>> {
    let mut ids: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>("SELECT phone, id FROM users")
        .fetch_all(db.read())
        .await?
        .into_iter()
        .collect();
    progress.start("users", data.users.len() as u64);
    let at = now();
    let mut batch = Batch::begin(db).await?;
    for u in &data.users {
        let phone = u.row.phone.as_str();
        let (user_id, existed) = match ids.get(phone) {
            Some(id) => (*id, true),
            None => {
                let nickname =
                    if u.row.nickname.is_empty() { default_nickname(&u.row.phone) } else { u.row.nickname.clone() };
                let created = u.row.created_at.unwrap_or(at);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (phone, nickname, role, created_at, updated_at) VALUES ($1, $2, 'learner', $3, $4) RETURNING id",
                )
                .bind(phone)
                .bind(&nickname)
                .bind(created)
                .bind(at)
                .fetch_one(&mut **batch.tx()?)
                .await?;
                ids.insert(phone.to_string(), id);
                (id, false)
            }
        };
        let mut added = false;
        for (provider, value) in [("wechat_unionid", &u.row.unionid), ("wechat_openid_mp", &u.row.openid)] {
            if value.is_empty() {
                continue;
            }
            let done = sqlx::query(
                "INSERT INTO user_identities (user_id, provider, value, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (provider, value) DO NOTHING",
            )
            .bind(user_id)
            .bind(provider)
            .bind(value)
            .bind(at)
            .execute(&mut **batch.tx()?)
            .await?;
            added |= done.rows_affected() == 1;
        }
        let counts = report.counts(Entity::Users);
        match (existed, added) {
            (false, _) => counts.inserted += 1,
            (true, true) => counts.updated += 1,
            (true, false) => counts.unchanged += 1,
        }
        progress.advance(1);
        batch.row_done().await?;
    }
    batch.finish().await?;
    progress.finish();
    Ok(ids)
}

async fn course_info(db: &Db) -> anyhow::Result<HashMap<i64, CourseInfo>> {
    let rows =
        sqlx::query("SELECT id, title, kind, non_refundable, refund_window_days, refund_max_consumed_pct FROM courses")
            .fetch_all(db.read())
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                CourseInfo {
                    title: r.try_get("title")?,
                    kind: r.try_get("kind")?,
                    non_refundable: r.try_get("non_refundable")?,
                    window_days: r.try_get("refund_window_days")?,
                    max_pct: r.try_get("refund_max_consumed_pct")?,
                },
            ))
        })
        .collect()
}

/// Grants the course for an order unless the learner ever had it revoked; or takes back what
/// this order granted.
async fn order_access(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
    course_id: i64,
    order_id: i64,
    grants: bool,
    at: i64,
) -> Result<(), sqlx::Error> {
    if grants {
        sqlx::query(
            "INSERT INTO entitlements (user_id, course_id, source, order_id, granted_at) VALUES ($1, $2, 'import', $3, $4) \
             ON CONFLICT (user_id, course_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(course_id)
        .bind(order_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query("UPDATE entitlements SET revoked_at = $1 WHERE order_id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn orders(
    db: &Db,
    data: &Dataset,
    mapped: &HashMap<String, i64>,
    ids: &HashMap<String, i64>,
    report: &mut Report,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let existing: HashMap<String, (i64, String, i64, i64)> = sqlx::query(
        "SELECT id, external_id, status, amount_fen, refunded_fen FROM orders WHERE external_id IS NOT NULL",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get::<String, _>("external_id")?,
            (r.try_get("id")?, r.try_get("status")?, r.try_get("amount_fen")?, r.try_get("refunded_fen")?),
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let courses = course_info(db).await?;
    progress.start("orders", data.orders.len() as u64);
    let at = now();
    let mut batch = Batch::begin(db).await?;
    for o in &data.orders {
        let row = &o.row;
        let (Some(user_id), Some(course_id)) = (ids.get(row.phone.as_str()), mapped.get(&row.product_id)) else {
            continue;
        };
        let Some(course) = courses.get(course_id) else { continue };
        let external = format!("mp:{}", row.order_id);
        let counts = report.counts(Entity::Orders);
        match existing.get(&external) {
            Some((_, status, amount, refunded))
                if status == row.status.as_str() && *amount == row.amount.0 && *refunded == row.refunded.0 =>
            {
                counts.unchanged += 1;
            }
            Some((order_id, ..)) => {
                counts.updated += 1;
                sqlx::query(
                    "UPDATE orders SET status = $1, amount_fen = $2, refunded_fen = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(row.status.as_str())
                .bind(row.amount.0)
                .bind(row.refunded.0)
                .bind(at)
                .bind(order_id)
                .execute(&mut **batch.tx()?)
                .await?;
                order_access(batch.tx()?, *user_id, *course_id, *order_id, row.status.grants_access(), at).await?;
            }
            None => {
                counts.inserted += 1;
                let order_id: i64 = sqlx::query_scalar(
                    "INSERT INTO orders (order_no, user_id, course_id, item_title, item_kind, price_fen, discount_fen, amount_fen, \
                     non_refundable, refund_window_days, refund_max_consumed_pct, refund_terms_shown, status, created_at, \
                     expires_at, paid_at, pay_channel, provider_txn_id, refunded_fen, updated_at, external_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $6, $7, $8, $9, '', $10, $11, $11, $11, $12, $13, $14, $15, $16) RETURNING id",
                )
                .bind(new_order_no(row.paid_at))
                .bind(user_id)
                .bind(course_id)
                .bind(&course.title)
                .bind(&course.kind)
                .bind(row.amount.0)
                .bind(course.non_refundable)
                .bind(course.window_days)
                .bind(course.max_pct)
                .bind(row.status.as_str())
                .bind(row.paid_at)
                .bind(format!("miniprogram:{}", row.provider))
                .bind(&row.transaction_id)
                .bind(row.refunded.0)
                .bind(at)
                .bind(&external)
                .fetch_one(&mut **batch.tx()?)
                .await?;
                order_access(batch.tx()?, *user_id, *course_id, order_id, row.status.grants_access(), row.paid_at)
                    .await?;
            }
        }
        progress.advance(1);
        batch.row_done().await?;
    }
    batch.finish().await?;
    progress.finish();
    Ok(())
}

async fn entitlements(
    db: &Db,
    data: &Dataset,
    mapped: &HashMap<String, i64>,
    ids: &HashMap<String, i64>,
    report: &mut Report,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    progress.start("entitlements", data.entitlements.len() as u64);
    let at = now();
    let mut batch = Batch::begin(db).await?;
    for e in &data.entitlements {
        let (Some(user_id), Some(course_id)) = (ids.get(e.row.phone.as_str()), mapped.get(&e.row.product_id)) else {
            continue;
        };
        let done = if e.row.revoked {
            sqlx::query(
                "UPDATE entitlements SET revoked_at = $1 WHERE user_id = $2 AND course_id = $3 AND source = 'import' AND revoked_at IS NULL",
            )
            .bind(at)
            .bind(user_id)
            .bind(course_id)
            .execute(&mut **batch.tx()?)
            .await?
        } else {
            sqlx::query(
                "INSERT INTO entitlements (user_id, course_id, source, granted_at) VALUES ($1, $2, 'import', $3) \
                 ON CONFLICT (user_id, course_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(course_id)
            .bind(e.row.granted_at.unwrap_or(at))
            .execute(&mut **batch.tx()?)
            .await?
        };
        let counts = report.counts(Entity::Entitlements);
        match (done.rows_affected(), e.row.revoked) {
            (0, _) => counts.unchanged += 1,
            (_, true) => counts.updated += 1,
            (_, false) => counts.inserted += 1,
        }
        progress.advance(1);
        batch.row_done().await?;
    }
    batch.finish().await?;
    progress.finish();
    Ok(())
}

async fn lesson_progress(
    db: &Db,
    data: &Dataset,
    shop: &Shop,
    mapped: &HashMap<String, i64>,
    ids: &HashMap<String, i64>,
    report: &mut Report,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let existing: HashSet<(i64, i64)> =
        sqlx::query_as::<_, (i64, i64)>("SELECT user_id, lesson_id FROM lesson_progress")
            .fetch_all(db.read())
            .await?
            .into_iter()
            .collect();
    let lessons: HashMap<i64, &Vec<(i64, i64)>> = shop.courses.values().map(|c| (c.id, &c.lessons)).collect();
    let furthest = match db.backend() {
        crate::store::Backend::Sqlite => "MAX(lesson_progress.furthest_secs, excluded.furthest_secs)",
        crate::store::Backend::Postgres => "GREATEST(lesson_progress.furthest_secs, excluded.furthest_secs)",
    };
    // Older imported progress never overwrites what the learner did here since.
    let sql = format!(
        "INSERT INTO lesson_progress (user_id, lesson_id, course_id, last_position_secs, furthest_secs, duration_secs, completed_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7) \
         ON CONFLICT (user_id, lesson_id) DO UPDATE SET last_position_secs = excluded.last_position_secs, \
         furthest_secs = {furthest}, completed_at = COALESCE(lesson_progress.completed_at, excluded.completed_at), \
         updated_at = excluded.updated_at WHERE lesson_progress.updated_at < excluded.updated_at"
    );
    progress.start("progress", data.progress.len() as u64);
    let at = now();
    let mut batch = Batch::begin(db).await?;
    for p in &data.progress {
        let row = &p.row;
        let (Some(user_id), Some(course_id)) = (ids.get(row.phone.as_str()), mapped.get(&row.product_id)) else {
            continue;
        };
        let Some((lesson_id, duration)) = lessons.get(course_id).and_then(|l| l.get(row.lesson_no - 1)).copied() else {
            continue;
        };
        let position = if duration > 0 { row.position_secs.min(duration) } else { row.position_secs };
        let completed = row.completed || is_complete(position, duration);
        let updated = row.updated_at.unwrap_or(at);
        let done = sqlx::query(&sql)
            .bind(user_id)
            .bind(lesson_id)
            .bind(course_id)
            .bind(position)
            .bind(duration)
            .bind(completed.then_some(updated))
            .bind(updated)
            .execute(&mut **batch.tx()?)
            .await?;
        let counts = report.counts(Entity::Progress);
        match (done.rows_affected(), existing.contains(&(*user_id, lesson_id))) {
            (0, _) => counts.unchanged += 1,
            (_, true) => counts.updated += 1,
            (_, false) => counts.inserted += 1,
        }
        progress.advance(1);
        batch.row_done().await?;
    }
    batch.finish().await?;
    progress.finish();
    Ok(())
}
