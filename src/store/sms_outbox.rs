//! The SMS outbox: a text is a row committed with the change it tells about, sent later by
//! `jobs::sms` with retries. Its `event_key` is unique, so one event is one text however often
//! it is enqueued; a row is claimed (queued → sending) by one sender only.

use serde_json::{Map, Value};
use sqlx::{Any, Transaction};

use super::Db;
use crate::domain::outbox::OutboxStatus;
use crate::domain::sms::Kind;
use crate::domain::{BroadcastId, Phone, TextId};

/// Tries before a transient failure is given up.
pub const MAX_ATTEMPTS: i64 = 5;

#[derive(Debug, Clone)]
pub struct Queued {
    pub id: TextId,
    pub kind: Option<Kind>,
    pub phone: String,
    pub params: Vec<(String, String)>,
    pub broadcast_id: Option<BroadcastId>,
    pub attempts: i64,
}

fn params_json(params: &[(&str, &str)]) -> String {
    let map: Map<String, Value> = params.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    Value::Object(map).to_string()
}

/// Enqueues inside the caller's transaction. An event already enqueued is left as it is; an
/// account with no number (WeChat-only, deleted) gets no text.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    event_key: &str,
    kind: Kind,
    phone: &str,
    params: &[(&str, &str)],
    broadcast_id: Option<BroadcastId>,
    now: i64,
) -> Result<(), sqlx::Error> {
    if Phone::parse(phone).is_err() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO sms_outbox (event_key, kind, phone, params, broadcast_id, status, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6, $6) ON CONFLICT (event_key) DO NOTHING",
    )
    .bind(event_key)
    .bind(kind.as_str())
    .bind(phone)
    .bind(params_json(params))
    .bind(broadcast_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A text sent at once (a code): recorded for the failure counts, never sent from here.
pub struct Attempt<'a> {
    pub kind: Kind,
    pub phone: &'a str,
    pub provider: &'a str,
    pub send_id: &'a str,
    pub error: Option<(&'a str, &'a str)>,
}

pub async fn record_direct(db: &Db, attempt: &Attempt<'_>, now: i64) -> Result<(), sqlx::Error> {
    let mut nonce = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let (status, code, message) = match attempt.error {
        None => (OutboxStatus::Sent, None, None),
        Some((code, message)) => (OutboxStatus::Failed, Some(code), Some(message)),
    };
    sqlx::query(
        "INSERT INTO sms_outbox (event_key, kind, phone, params, status, attempts, next_attempt_at, provider, send_id, \
         error_code, error_message, created_at, updated_at, sent_at) \
         VALUES ($1, $2, $3, '{}', $4, 1, $5, $6, $7, $8, $9, $5, $5, $10)",
    )
    .bind(format!("direct:{now}:{}", hex::encode(nonce)))
    .bind(attempt.kind.as_str())
    .bind(attempt.phone)
    .bind(status.as_str())
    .bind(now)
    .bind(attempt.provider)
    .bind(attempt.send_id)
    .bind(code)
    .bind(message)
    .bind((status == OutboxStatus::Sent).then_some(now))
    .execute(db.write())
    .await?;
    Ok(())
}

/// An outbox row as stored: its kind by key, its parameters as a JSON object.
#[derive(sqlx::FromRow)]
struct QueuedRow {
    id: TextId,
    kind: String,
    phone: String,
    params: String,
    broadcast_id: Option<BroadcastId>,
    attempts: i64,
}

impl From<QueuedRow> for Queued {
    fn from(row: QueuedRow) -> Queued {
        let params = match serde_json::from_str::<Value>(&row.params) {
            Ok(Value::Object(map)) => {
                map.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect()
            }
            _ => Vec::new(),
        };
        Queued {
            id: row.id,
            kind: Kind::parse(&row.kind),
            phone: row.phone,
            params,
            broadcast_id: row.broadcast_id,
            attempts: row.attempts,
        }
    }
}

/// Claims up to `limit` due rows for this sender: each moves from queued to sending once, so two
/// senders never send the same row.
pub async fn claim_due(db: &Db, now: i64, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
    let rows: Vec<QueuedRow> = sqlx::query_as(
        "SELECT id, kind, phone, params, broadcast_id, attempts FROM sms_outbox \
         WHERE status = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let mut item = Queued::from(row);
        let done = sqlx::query(
            "UPDATE sms_outbox SET status = 'sending', attempts = attempts + 1, updated_at = $1 \
             WHERE id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(item.id)
        .execute(db.write())
        .await?;
        if done.rows_affected() == 1 {
            item.attempts += 1;
            claimed.push(item);
        }
    }
    Ok(claimed)
}

pub async fn mark_sent(db: &Db, id: TextId, provider: &str, send_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sms_outbox SET status = 'sent', provider = $1, send_id = $2, error_code = NULL, error_message = NULL, \
         sent_at = $3, updated_at = $3 WHERE id = $4",
    )
    .bind(provider)
    .bind(send_id)
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(())
}

/// A refusal: queued again at `retry_at`, or failed for good when there is none.
pub async fn mark_failed(
    db: &Db,
    id: TextId,
    provider: &str,
    code: &str,
    message: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sms_outbox SET status = $1, next_attempt_at = $2, provider = $3, error_code = $4, error_message = $5, \
         updated_at = $6 WHERE id = $7",
    )
    .bind(if retry_at.is_some() { OutboxStatus::Queued } else { OutboxStatus::Failed }.as_str())
    .bind(retry_at.unwrap_or(now))
    .bind(provider)
    .bind(code)
    .bind(message.chars().take(300).collect::<String>())
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(())
}

/// A live sender settles a row within seconds (providers time out after 5); one `sending` for
/// longer was handed to a provider by a process that then stopped.
pub const INTERRUPTED_AFTER_SECS: i64 = 300;

/// Rows a stopped process left mid-send. Each may have reached the phone, so it is not sent
/// again (never twice); staff see it as uncertain.
pub async fn settle_interrupted(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sms_outbox SET status = 'uncertain', error_code = 'interrupted', updated_at = $1 \
         WHERE status = 'sending' AND updated_at < $2",
    )
    .bind(now)
    .bind(now - INTERRUPTED_AFTER_SECS)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected())
}

/// A broadcast's counts from its rows; done when none is waiting.
pub async fn update_broadcast(db: &Db, broadcast_id: BroadcastId, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sms_broadcasts SET \
         sent = (SELECT COUNT(*) FROM sms_outbox WHERE broadcast_id = $1 AND status = 'sent'), \
         failed = (SELECT COUNT(*) FROM sms_outbox WHERE broadcast_id = $1 AND status IN ('failed', 'uncertain')), \
         status = CASE WHEN EXISTS (SELECT 1 FROM sms_outbox WHERE broadcast_id = $1 AND status IN ('queued', 'sending')) \
                  THEN 'sending' ELSE 'done' END, \
         finished_at = CASE WHEN EXISTS (SELECT 1 FROM sms_outbox WHERE broadcast_id = $1 AND status IN ('queued', 'sending')) \
                  THEN NULL ELSE $2 END \
         WHERE id = $1",
    )
    .bind(broadcast_id)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Texts that did not reach a provider, per Shanghai day and kind, newest day first.
#[derive(Debug, Clone)]
pub struct FailureCount {
    pub day: String,
    day_number: i64,
    pub kind: Kind,
    pub failed: i64,
    pub sent: i64,
    pub last_error: String,
}

pub async fn failures_by_day(db: &Db, since: i64) -> Result<Vec<FailureCount>, sqlx::Error> {
    // Shanghai days as numbers (UTC+8, no daylight saving), counted by the database.
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT (created_at + 28800) / 86400 AS day, kind, status, COUNT(*) AS n FROM sms_outbox \
         WHERE created_at >= $1 AND status IN ('sent', 'failed', 'uncertain') GROUP BY 1, 2, 3",
    )
    .bind(since)
    .fetch_all(db.read())
    .await?;
    let recent_errors: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT (created_at + 28800) / 86400 AS day, kind, COALESCE(provider, '') AS provider, \
         COALESCE(error_code, '') AS error_code FROM sms_outbox \
         WHERE created_at >= $1 AND status IN ('failed', 'uncertain') ORDER BY id DESC LIMIT 200",
    )
    .bind(since)
    .fetch_all(db.read())
    .await?;
    let mut out: Vec<FailureCount> = Vec::new();
    let word = |e: crate::domain::words::UnknownWord| sqlx::Error::Decode(Box::new(e));
    for (day, kind, status, n) in rows {
        let kind = Kind::try_from(kind).map_err(word)?;
        let index = match out.iter().position(|c| c.day_number == day && c.kind == kind) {
            Some(i) => i,
            None => {
                out.push(FailureCount {
                    day: crate::domain::time::shanghai_date(day * 86_400),
                    day_number: day,
                    kind,
                    failed: 0,
                    sent: 0,
                    last_error: String::new(),
                });
                out.len() - 1
            }
        };
        match OutboxStatus::try_from(status).map_err(word)? {
            OutboxStatus::Sent => out[index].sent += n,
            OutboxStatus::Failed | OutboxStatus::Uncertain => out[index].failed += n,
            OutboxStatus::Queued | OutboxStatus::Sending => {}
        }
    }
    for (day, kind, provider, code) in recent_errors {
        let kind = Kind::try_from(kind).map_err(word)?;
        if let Some(entry) = out.iter_mut().find(|c| c.day_number == day && c.kind == kind && c.last_error.is_empty()) {
            entry.last_error = format!("{provider} {code}").trim().to_string();
        }
    }
    out.retain(|c| c.failed > 0);
    out.sort_by(|a, b| b.day_number.cmp(&a.day_number).then(a.kind.as_str().cmp(b.kind.as_str())));
    Ok(out)
}
