//! Records from the sync API, applied by the import's writer: the same rows, checks and keys as
//! an export (docs/sync-api.md). Each record carries its event's time; a record whose newer event
//! was applied already is skipped, so a retried or late request changes nothing.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::read::json_fields;
use super::write::{Parsed, Run};
use super::{Entity, Report, Shop, parse};
use crate::domain::sync::{event_millis, replaces};
use crate::store::Db;

/// Lines in the report for rows derived from a record (its buyer), never shown.
const DERIVED: usize = usize::MAX;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RejectedRecord {
    pub index: usize,
    pub reason: String,
}

/// What a request did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub received: usize,
    /// Written or found already as the record says.
    pub applied: usize,
    /// A newer (or the same) event of the record was applied before.
    pub skipped: usize,
    pub rejected: Vec<RejectedRecord>,
    /// The newest event time among the records, in milliseconds.
    #[serde(skip)]
    pub newest_event_at: Option<i64>,
}

fn entity_of(kind: &str) -> Option<Entity> {
    Some(match kind {
        "course" => Entity::Courses,
        "user" => Entity::Users,
        "order" => Entity::Orders,
        "entitlement" => Entity::Entitlements,
        "progress" => Entity::Progress,
        _ => return None,
    })
}

/// The record a row updates: a second event of it replaces the first.
fn record_key(row: &Parsed) -> String {
    match row {
        Parsed::Mapping(m) => format!("course:{}", m.product_id),
        Parsed::User(u) => format!("user:{}", u.buyers().first().map(|b| b.key()).unwrap_or_default()),
        Parsed::Order(o) => format!("order:{}", o.order_id),
        Parsed::Entitlement(e) => format!("entitlement:{}:{}", e.buyer.key(), e.product_id),
        Parsed::Progress(p) => format!("progress:{}:{}:{}", p.buyer.key(), p.product_id, p.lesson_no),
    }
}

struct Checked {
    index: usize,
    entity: Entity,
    event_at: i64,
    key: String,
    row: Parsed,
    /// The buyer the record names, as a user row (a back end need not send the sign-up first).
    buyer: Option<Parsed>,
}

fn check(index: usize, record: Value) -> Result<Checked, String> {
    let Value::Object(mut object) = record else { return Err("a record is a JSON object".into()) };
    let kind = object.remove("type").and_then(|t| t.as_str().map(str::to_string)).unwrap_or_default();
    let entity =
        entity_of(&kind).ok_or_else(|| format!("type: user, order, entitlement, progress or course, not {kind:?}"))?;
    let event_text = match object.remove("event_at") {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let event_at = event_millis(&event_text).ok_or("event_at: missing, or not unix time or RFC 3339")?;
    for money in ["amount", "refunded_amount"] {
        if object.get(money).is_some_and(Value::is_number) {
            return Err(format!("{money}: a string in yuan, like \"199.00\" (a JSON number can lose fen)"));
        }
    }
    let fields = json_fields(object);
    let row = parse(entity, &fields)?;
    let buyer = match entity {
        Entity::Orders | Entity::Entitlements | Entity::Progress => {
            crate::domain::import::user(&fields).ok().map(Parsed::User)
        }
        _ => None,
    };
    Ok(Checked { index, entity, event_at, key: record_key(&row), row, buyer })
}

/// Records written per transaction on SQLite: how long a learner's sign-in may wait behind a
/// sync batch on its single writer. PostgreSQL has no such queue, and a commit per slice would
/// cost it most of its speed: it writes a batch in one transaction.
const SQLITE_ROWS_PER_TRANSACTION: usize = 5;

/// Checks and applies up to `domain::sync::MAX_RECORDS` records.
pub async fn apply(db: &Db, records: Vec<Value>) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome { received: records.len(), ..Outcome::default() };
    let mut newest: HashMap<String, Checked> = HashMap::new();
    for (index, record) in records.into_iter().enumerate() {
        let checked = match check(index, record) {
            Ok(c) => c,
            Err(reason) => {
                outcome.rejected.push(RejectedRecord { index, reason });
                continue;
            }
        };
        outcome.newest_event_at = outcome.newest_event_at.max(Some(checked.event_at));
        // Two events of one record in a batch: the newer one counts.
        match newest.get(&checked.key) {
            Some(kept) if !replaces(Some(kept.event_at), checked.event_at) => outcome.skipped += 1,
            Some(_) => {
                outcome.skipped += 1;
                newest.insert(checked.key.clone(), checked);
            }
            None => {
                newest.insert(checked.key.clone(), checked);
            }
        }
    }
    let keys: Vec<String> = newest.keys().cloned().collect();
    let stored = crate::store::sync::versions(db, &keys).await?;
    let mut by_entity: HashMap<Entity, Vec<(usize, Parsed)>> = HashMap::new();
    let mut versions: HashMap<usize, (String, i64)> = HashMap::new();
    for (key, checked) in newest {
        if !replaces(stored.get(&key).copied(), checked.event_at) {
            outcome.skipped += 1;
            continue;
        }
        if let Some(buyer) = checked.buyer {
            by_entity.entry(Entity::Users).or_default().push((DERIVED, buyer));
        }
        by_entity.entry(checked.entity).or_default().push((checked.index, checked.row));
        versions.insert(checked.index, (key, checked.event_at));
    }
    let by_entity_was_empty = by_entity.is_empty();
    let slice = match db.backend() {
        crate::store::Backend::Sqlite => SQLITE_ROWS_PER_TRANSACTION,
        crate::store::Backend::Postgres => crate::domain::sync::MAX_RECORDS,
    };
    let shop = Shop::load(db).await?;
    let mut run = Run::for_sync(db, &shop).await?;
    let mut report = Report::default();
    for entity in Entity::ALL {
        if let Some(mut rows) = by_entity.remove(&entity) {
            rows.sort_by_key(|(index, _)| *index);
            // Short transactions: on SQLite the learners' own writes (sign-ins, orders) wait for
            // the single writer, so a big batch is written in slices they can slip between.
            while !rows.is_empty() {
                let rest = rows.split_off(rows.len().min(slice));
                run.batch(entity, "sync", rows, &mut report).await?;
                rows = rest;
            }
        }
    }
    if !by_entity_was_empty {
        run.announce();
    }
    for rejected in report.rejected.into_iter().filter(|r| r.line != DERIVED) {
        versions.remove(&rejected.line);
        outcome.rejected.push(RejectedRecord { index: rejected.line, reason: rejected.reason });
    }
    outcome.rejected.sort_by_key(|r| r.index);
    outcome.applied = versions.len();
    let applied: Vec<(String, i64)> = versions.into_values().collect();
    crate::store::sync::save_versions(db, &applied).await?;
    Ok(outcome)
}
