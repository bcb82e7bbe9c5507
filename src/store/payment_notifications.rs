//! Every provider notification as it arrived (headers without credentials, the body) with what
//! the shop made of it: the audit trail of money that came in.

use super::Db;

pub async fn record(
    db: &Db,
    provider: &str,
    headers_json: &str,
    body: &str,
    verdict: &str,
    order_no: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_notifications (provider, received_at, headers, body, verdict, order_no) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(provider)
    .bind(now)
    .bind(headers_json)
    .bind(body)
    .bind(verdict)
    .bind(order_no)
    .execute(db.write())
    .await?;
    Ok(())
}
