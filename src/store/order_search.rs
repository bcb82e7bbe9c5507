//! The back office's view of orders: search, and an order's payments and notifications.

use super::Db;
use super::orders::{self, Order};
use crate::domain::order::OrderStatus;
use crate::domain::{CourseId, Fen, OrderId};

#[derive(Debug, Default, Clone)]
pub struct OrderQuery {
    /// An order number, or digits of the buyer's phone.
    pub text: String,
    pub course_id: Option<CourseId>,
    pub status: Option<OrderStatus>,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// The order columns, qualified for a join.
fn order_columns() -> String {
    orders::COLUMNS.split(", ").map(|c| format!("o.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// Matching orders with the buyer's phone, newest first. The text is an order number, or at
/// least 4 digits of a phone; each filter becomes a condition only when given, so that the
/// indexes serve it (an order number is one index lookup however many orders there are).
pub async fn search(db: &Db, q: &OrderQuery, limit: i64) -> Result<Vec<(Order, String)>, sqlx::Error> {
    let text = q.text.trim();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let mut conditions: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    let param = |value: Bind, binds: &mut Vec<Bind>| {
        binds.push(value);
        format!("${}", binds.len())
    };
    if !text.is_empty() {
        if crate::domain::order::looks_like_order_no(text) || digits.len() < 4 {
            conditions.push(format!("o.order_no = {}", param(Bind::Text(text.to_string()), &mut binds)));
        } else {
            let like = param(Bind::Text(format!("%{digits}%")), &mut binds);
            conditions.push(format!("o.user_id IN (SELECT id FROM users WHERE phone LIKE {like})"));
        }
    }
    if let Some(course_id) = q.course_id {
        conditions.push(format!("o.course_id = {}", param(Bind::Int(course_id.0), &mut binds)));
    }
    if let Some(status) = q.status {
        conditions.push(format!("o.status = {}", param(Bind::Text(status.as_str().to_string()), &mut binds)));
    }
    if let Some(from) = q.from {
        conditions.push(format!("o.created_at >= {}", param(Bind::Int(from), &mut binds)));
    }
    if let Some(until) = q.until {
        conditions.push(format!("o.created_at < {}", param(Bind::Int(until), &mut binds)));
    }
    let limit_param = param(Bind::Int(limit), &mut binds);
    let sql = format!(
        "SELECT {}, u.phone AS buyer_phone FROM orders o JOIN users u ON u.id = o.user_id \
         WHERE {} ORDER BY o.id DESC LIMIT {limit_param}",
        order_columns(),
        if conditions.is_empty() { "1 = 1".to_string() } else { conditions.join(" AND ") }
    );
    let mut query = sqlx::query_as::<_, Found>(&sql);
    for b in binds {
        query = match b {
            Bind::Text(t) => query.bind(t),
            Bind::Int(i) => query.bind(i),
        };
    }
    let rows = query.fetch_all(db.read()).await?;
    Ok(rows.into_iter().map(|f| (f.order, f.buyer_phone)).collect())
}

#[derive(sqlx::FromRow)]
struct Found {
    #[sqlx(flatten)]
    order: Order,
    buyer_phone: String,
}

enum Bind {
    Text(String),
    Int(i64),
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Payment {
    pub provider: String,
    pub txn_id: String,
    pub amount: Fen,
    pub outcome: String,
    pub paid_at: i64,
}

pub async fn payments_for(db: &Db, order_id: OrderId) -> Result<Vec<Payment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT provider, provider_txn_id AS txn_id, amount_fen AS amount, outcome, paid_at FROM payments \
         WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(db.read())
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
    pub provider: String,
    pub verdict: String,
    pub body: String,
    pub received_at: i64,
}

/// Payment notifications received for the order, as logged (newest first).
pub async fn notifications_for(db: &Db, order_no: &str, limit: i64) -> Result<Vec<Notification>, sqlx::Error> {
    let mut found: Vec<Notification> = sqlx::query_as(
        "SELECT provider, verdict, body, received_at FROM payment_notifications WHERE order_no = $1 \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(order_no)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    for n in &mut found {
        if let Some((cut, _)) = n.body.char_indices().nth(2000) {
            n.body.truncate(cut);
        }
    }
    Ok(found)
}
