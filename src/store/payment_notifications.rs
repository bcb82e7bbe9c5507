//! Every provider notification as it arrived (headers without credentials, the body) with what
//! the shop made of it: the audit trail of money that came in.

use sqlx::{Any, Executor};

use super::Db;

/// A notification as it arrived: who sent it, its headers (as JSON, without credentials) and body.
#[derive(Clone, Copy)]
pub struct Arrival<'a> {
    pub provider: &'a str,
    pub headers_json: &'a str,
    pub body: &'a str,
}

pub async fn record(
    db: &Db,
    arrival: &Arrival<'_>,
    verdict: &str,
    order_no: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    record_in(db.write(), arrival, verdict, order_no, now).await
}

/// In the transaction of what the notification changed (a payment), so both stay or neither.
pub async fn record_in<'e>(
    executor: impl Executor<'e, Database = Any>,
    arrival: &Arrival<'_>,
    verdict: &str,
    order_no: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_notifications (provider, received_at, headers, body, verdict, order_no) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(arrival.provider)
    .bind(now)
    .bind(arrival.headers_json)
    .bind(arrival.body)
    .bind(verdict)
    .bind(order_no)
    .execute(executor)
    .await?;
    Ok(())
}

/// A rejected notification keeps this much of its body.
pub const REJECTED_BODY_CHARS: usize = 2_048;
/// Rejected notifications are kept this long, and at most this many.
pub const REJECTED_KEEP_SECS: i64 = 30 * 86_400;
pub const REJECTED_KEEP_ROWS: i64 = 10_000;

/// The start of a body, saying how long the whole was when it is cut.
pub fn excerpt(body: &str) -> String {
    let total = body.chars().count();
    if total <= REJECTED_BODY_CHARS {
        return body.to_string();
    }
    let start: String = body.chars().take(REJECTED_BODY_CHARS).collect();
    format!("{start}…[{total} characters in all]")
}

/// Forgets rejected notifications past their time, and the oldest beyond the most kept. The
/// ones the shop acted on stay: they are the trail of money that came in.
pub async fn prune_rejected(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let old = sqlx::query("DELETE FROM payment_notifications WHERE verdict LIKE 'rejected%' AND received_at < $1")
        .bind(now - REJECTED_KEEP_SECS)
        .execute(db.write())
        .await?
        .rows_affected();
    let beyond = sqlx::query(
        "DELETE FROM payment_notifications WHERE verdict LIKE 'rejected%' AND id < \
         (SELECT COALESCE(MIN(id), 0) FROM (SELECT id FROM payment_notifications WHERE verdict LIKE 'rejected%' \
          ORDER BY id DESC LIMIT $1) newest)",
    )
    .bind(REJECTED_KEEP_ROWS)
    .execute(db.write())
    .await?
    .rows_affected();
    Ok(old + beyond)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_and_say_so() {
        assert_eq!(excerpt("short"), "short");
        let long = "x".repeat(REJECTED_BODY_CHARS + 10);
        let cut = excerpt(&long);
        assert!(
            cut.starts_with(&"x".repeat(REJECTED_BODY_CHARS))
                && cut.ends_with(&format!("[{} characters in all]", long.len()))
        );
        assert_eq!(
            excerpt(&"字".repeat(REJECTED_BODY_CHARS)),
            "字".repeat(REJECTED_BODY_CHARS),
            "characters, not bytes"
        );
    }
}
