//! Sales per Shanghai day and course, pre-aggregated: a day is counted from `orders` once, when
//! first asked for after it ended, and read from `sales_days` from then on. Days still open (today,
//! and a grace period after midnight for payments in flight) are always counted live. A refund of
//! an older order, or an import, deletes the days it changes.

use std::collections::BTreeMap;

use sqlx::{Any, Transaction};

use super::Db;
use crate::domain::CourseId;
use crate::domain::stats::{day_start, shanghai_day};

/// A day is stored only once it has been over this long (a payment begun before midnight may
/// still commit just after it).
const GRACE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct SalesDay {
    pub day: i64,
    pub course_id: CourseId,
    /// Orders made that day.
    pub orders: i64,
    /// Orders paid that day, what they brought in, and how many of them were refunded since (and
    /// how much).
    pub paid_orders: i64,
    pub revenue_fen: i64,
    pub refunded_orders: i64,
    pub refunded_fen: i64,
}

/// Sales of every day from `first` to `last` (Shanghai day numbers), by course.
pub async fn between(db: &Db, first: i64, last: i64, now: i64) -> Result<Vec<SalesDay>, sqlx::Error> {
    let open_from = shanghai_day(now - GRACE_SECS);
    let mut out = Vec::new();
    let closed_last = last.min(open_from - 1);
    if first <= closed_last {
        store_missing(db, first, closed_last).await?;
        let stored: Vec<SalesDay> = sqlx::query_as(
            "SELECT day, course_id, orders, paid_orders, revenue_fen, refunded_orders, refunded_fen FROM sales_days \
             WHERE day >= $1 AND day <= $2",
        )
        .bind(first)
        .bind(closed_last)
        .fetch_all(db.read())
        .await?;
        out.extend(stored);
    }
    let live_first = first.max(open_from);
    if live_first <= last {
        let mut conn = db.read().acquire().await?;
        out.extend(count(&mut conn, live_first, last).await?);
    }
    Ok(out)
}

/// Counts and stores the days in `first..=last` not stored yet, in one write transaction (so no
/// refund can change a day between its counting and its storing).
async fn store_missing(db: &Db, first: i64, last: i64) -> Result<(), sqlx::Error> {
    let done: Vec<i64> = sqlx::query_scalar("SELECT day FROM sales_days_done WHERE day >= $1 AND day <= $2")
        .bind(first)
        .bind(last)
        .fetch_all(db.read())
        .await?;
    if done.len() as i64 == last - first + 1 {
        return Ok(());
    }
    let mut tx = db.write().begin().await?;
    lock(db, &mut tx).await?;
    let done: Vec<i64> = sqlx::query_scalar("SELECT day FROM sales_days_done WHERE day >= $1 AND day <= $2")
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
    let missing: Vec<i64> = (first..=last).filter(|d| !done.contains(d)).collect();
    for (a, b) in runs(&missing) {
        let rows = count(&mut tx, a, b).await?;
        sqlx::query("DELETE FROM sales_days WHERE day >= $1 AND day <= $2").bind(a).bind(b).execute(&mut *tx).await?;
        for chunk in rows.chunks(100) {
            let sql = format!(
                "INSERT INTO sales_days (day, course_id, orders, paid_orders, revenue_fen, refunded_orders, refunded_fen) VALUES {}",
                super::values_list(chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql);
            for s in chunk {
                query = query
                    .bind(s.day)
                    .bind(s.course_id)
                    .bind(s.orders)
                    .bind(s.paid_orders)
                    .bind(s.revenue_fen)
                    .bind(s.refunded_orders)
                    .bind(s.refunded_fen);
            }
            query.execute(&mut *tx).await?;
        }
        let days: Vec<i64> = (a..=b).collect();
        for chunk in days.chunks(200) {
            let sql = format!("INSERT INTO sales_days_done (day) VALUES {}", super::values_list(chunk.len(), 1));
            let mut query = sqlx::query(&sql);
            for d in chunk {
                query = query.bind(*d);
            }
            query.execute(&mut *tx).await?;
        }
    }
    tx.commit().await
}

/// Consecutive runs in sorted days: [1, 2, 3, 7, 8] → (1, 3), (7, 8).
fn runs(days: &[i64]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == d => *end = d,
            _ => out.push((d, d)),
        }
    }
    out
}

/// Counts sales of `first..=last` from `orders`.
async fn count(conn: &mut sqlx::AnyConnection, first: i64, last: i64) -> Result<Vec<SalesDay>, sqlx::Error> {
    let (from, until) = (day_start(first), day_start(last + 1));
    let mut by_key: BTreeMap<(i64, CourseId), SalesDay> = BTreeMap::new();
    let made: Vec<(i64, CourseId, i64)> = sqlx::query_as(
        "SELECT (created_at + 28800) / 86400 AS day, course_id, COUNT(*) AS n FROM orders \
         WHERE created_at >= $1 AND created_at < $2 GROUP BY (created_at + 28800) / 86400, course_id",
    )
    .bind(from)
    .bind(until)
    .fetch_all(&mut *conn)
    .await?;
    for (day, course_id, n) in made {
        by_key.entry((day, course_id)).or_insert(SalesDay { day, course_id, ..SalesDay::default() }).orders = n;
    }
    let paid: Vec<(i64, CourseId, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT (paid_at + 28800) / 86400 AS day, course_id, COUNT(*) AS n, CAST(SUM(amount_fen) AS BIGINT) AS revenue, \
         CAST(SUM(refunded_fen) AS BIGINT) AS refunded, \
         CAST(SUM(CASE WHEN refunded_fen > 0 THEN 1 ELSE 0 END) AS BIGINT) AS refunded_orders \
         FROM orders WHERE paid_at >= $1 AND paid_at < $2 GROUP BY (paid_at + 28800) / 86400, course_id",
    )
    .bind(from)
    .bind(until)
    .fetch_all(&mut *conn)
    .await?;
    for (day, course_id, n, revenue, refunded, refunded_orders) in paid {
        let s = by_key.entry((day, course_id)).or_insert(SalesDay { day, course_id, ..SalesDay::default() });
        s.paid_orders = n;
        s.revenue_fen = revenue;
        s.refunded_fen = refunded;
        s.refunded_orders = refunded_orders;
    }
    Ok(by_key.into_values().collect())
}

/// Serializes storing and forgetting days on PostgreSQL (SQLite has one writer already).
async fn lock(db: &Db, tx: &mut Transaction<'static, Any>) -> Result<(), sqlx::Error> {
    super::dialect::lock(db.backend(), tx, "sales_days").await
}

/// Forgets the stored days that an order paid at `paid_at` counts in (its sales changed).
pub async fn forget_paid_day(db: &Db, tx: &mut Transaction<'static, Any>, paid_at: i64) -> Result<(), sqlx::Error> {
    lock(db, tx).await?;
    let day = shanghai_day(paid_at);
    sqlx::query("DELETE FROM sales_days_done WHERE day = $1").bind(day).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM sales_days WHERE day = $1").bind(day).execute(&mut **tx).await?;
    Ok(())
}

/// Forgets every stored day (an import may have changed any of them).
pub async fn forget_all(db: &Db, tx: &mut Transaction<'static, Any>) -> Result<(), sqlx::Error> {
    lock(db, tx).await?;
    sqlx::query("DELETE FROM sales_days_done").execute(&mut **tx).await?;
    sqlx::query("DELETE FROM sales_days").execute(&mut **tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn missing_days_group_into_runs() {
        assert_eq!(runs(&[]), vec![]);
        assert_eq!(runs(&[5]), vec![(5, 5)]);
        assert_eq!(runs(&[1, 2, 3, 7, 8, 10]), vec![(1, 3), (7, 8), (10, 10)]);
    }
}
