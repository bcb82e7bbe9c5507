//! The back office's view of orders: search, and an order's payments and notifications.

use sqlx::Row;

use super::Db;
use super::orders::{self, Order};
use crate::domain::Fen;
use crate::domain::order::OrderStatus;

#[derive(Debug, Default, Clone)]
pub struct OrderQuery {
    /// An order number, or digits of the buyer's phone.
    pub text: String,
    pub course_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// The order columns, qualified for a join.
fn order_columns() -> String {
    orders::COLUMNS.split(", ").map(|c| format!("o.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// Matching orders with the buyer's phone, newest first.
pub async fn search(db: &Db, q: &OrderQuery, limit: i64) -> Result<Vec<(Order, String)>, sqlx::Error> {
    let text = q.text.trim();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let sql = format!(
        "SELECT {}, u.phone AS buyer_phone FROM orders o JOIN users u ON u.id = o.user_id \
         WHERE ($1 = '' OR o.order_no = $1 OR ($2 <> '' AND u.phone LIKE $3)) AND ($4 = 0 OR o.course_id = $4) \
         AND ($5 = '' OR o.status = $5) AND o.created_at >= $6 AND o.created_at < $7 ORDER BY o.id DESC LIMIT $8",
        order_columns()
    );
    let rows = sqlx::query(&sql)
        .bind(text)
        .bind(if digits.len() >= 4 { digits.clone() } else { String::new() })
        .bind(format!("%{digits}%"))
        .bind(q.course_id.unwrap_or(0))
        .bind(q.status.map(|s| s.as_str()).unwrap_or(""))
        .bind(q.from.unwrap_or(0))
        .bind(q.until.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(|r| Ok((orders::from_row(r)?, r.try_get("buyer_phone")?))).collect()
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub provider: String,
    pub txn_id: String,
    pub amount: Fen,
    pub outcome: String,
    pub paid_at: i64,
}

pub async fn payments_for(db: &Db, order_id: i64) -> Result<Vec<Payment>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT provider, provider_txn_id, amount_fen, outcome, paid_at FROM payments WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Payment {
                provider: r.try_get("provider")?,
                txn_id: r.try_get("provider_txn_id")?,
                amount: Fen(r.try_get("amount_fen")?),
                outcome: r.try_get("outcome")?,
                paid_at: r.try_get("paid_at")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub provider: String,
    pub verdict: String,
    pub body: String,
    pub received_at: i64,
}

/// Payment notifications received for the order, as logged (newest first).
pub async fn notifications_for(db: &Db, order_no: &str, limit: i64) -> Result<Vec<Notification>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT provider, verdict, body, received_at FROM payment_notifications WHERE order_no = $1 \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(order_no)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Notification {
                provider: r.try_get("provider")?,
                verdict: r.try_get("verdict")?,
                body: r.try_get::<String, _>("body")?.chars().take(2000).collect(),
                received_at: r.try_get("received_at")?,
            })
        })
        .collect()
}
