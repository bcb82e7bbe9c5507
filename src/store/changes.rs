//! Changes other instances must see at once. On PostgreSQL:
//! - a write that changes the catalog or the shop's settings (banners, keywords, takedown mode
//!   included) is announced on `CATALOG` or `SETTINGS`, and every instance's listener reloads;
//! - every write of a cached topic (`Db::changed`), every learner whose progress was written and
//!   every session changed or ended is announced on `COPIES`, and the other instances stop using
//!   their copies of it. An instance
//!   uses copies only while its listener is connected (`Db::hearing`).
//!
//! SQLite has one instance; there nothing is sent.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::Connection;

use super::{Backend, Db, Topic};
use crate::domain::UserId;

/// Courses, lessons, categories, instructors.
pub const CATALOG: &str = "kedian_catalog";
/// Shop settings, banners, the keyword list, takedown mode.
pub const SETTINGS: &str = "kedian_settings";
/// Stale in-memory copies: `Change`s, as `payload` writes them.
pub const COPIES: &str = "kedian_copies";

/// PostgreSQL's limit on a notification's payload is 8,000 bytes.
const PAYLOAD_MAX: usize = 7_000;

pub async fn announce(db: &Db, channel: &str) -> Result<(), sqlx::Error> {
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')").bind(channel).execute(db.write()).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Every copy of this topic.
    Topic(Topic),
    /// One session, by the hash of its key (`store::sessions::hash_key`).
    Session(String),
    /// One learner's progress (written every second for the learners watching now: dropping
    /// every learner's copy each time would leave none in use).
    Progress(UserId),
}

/// The notifications that carry `changes` from `instance`: `<instance> t<topic> s<session>…`,
/// each under PostgreSQL's payload limit.
pub fn payloads(instance: u64, changes: &BTreeSet<Change>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = instance.to_string();
    for change in changes {
        let item = match change {
            Change::Topic(topic) => format!("t{}", *topic as usize),
            Change::Session(id) => format!("s{id}"),
            Change::Progress(id) => format!("p{id}"),
        };
        if current.len() + 1 + item.len() > PAYLOAD_MAX {
            out.push(std::mem::replace(&mut current, instance.to_string()));
        }
        current.push(' ');
        current.push_str(&item);
    }
    out.push(current);
    out
}

/// The sender and changes of a payload; unreadable items are skipped.
pub fn parse(payload: &str) -> Option<(u64, Vec<Change>)> {
    let mut items = payload.split(' ');
    let instance = items.next()?.parse().ok()?;
    let changes = items
        .filter_map(|item| match item.split_at_checked(1)? {
            ("t", n) => Topic::ALL.get(n.parse::<usize>().ok()?).map(|t| Change::Topic(*t)),
            ("s", id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(Change::Session(id.to_string()))
            }
            ("p", id) => id.parse().ok().map(|id| Change::Progress(UserId(id))),
            _ => None,
        })
        .collect();
    Some((instance, changes))
}

/// What a payload asks of this instance: nothing when it sent it itself.
pub fn heard(db: &Db, payload: &str) -> Vec<Change> {
    match parse(payload) {
        Some((from, changes)) if from != db.copies.instance => changes,
        _ => Vec::new(),
    }
}

/// PostgreSQL: from now on, this instance's `Db::changed` and `Db::tell_others` are announced,
/// in the order written, over a connection of their own (so a busy pool never holds them up).
pub fn spawn_teller(db: &Db, database_url: String) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Change>();
    if db.backend() != Backend::Postgres || db.copies.others.set(tx).is_err() {
        return;
    }
    // Writes made before it started (at start-up) go out first.
    for change in db.take_unsent() {
        db.tell_others(change);
    }
    let instance = db.copies.instance;
    tokio::spawn(async move {
        let mut conn: Option<sqlx::PgConnection> = None;
        while let Some(first) = rx.recv().await {
            let mut batch = BTreeSet::from([first]);
            while let Ok(more) = rx.try_recv() {
                batch.insert(more);
            }
            for payload in payloads(instance, &batch) {
                loop {
                    match send(&mut conn, &database_url, &payload).await {
                        Ok(()) => break,
                        Err(e) => {
                            conn = None;
                            tracing::warn!(error = %e, "announcing a change to the other instances failed; retrying");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        }
    });
}

/// Announces `changes` now, through the pool (a process without a teller, as it closes).
pub async fn send_now(db: &Db, changes: &BTreeSet<Change>) -> Result<(), sqlx::Error> {
    for payload in payloads(db.copies.instance, changes) {
        sqlx::query("SELECT pg_notify($1, $2)").bind(COPIES).bind(payload).execute(db.write()).await?;
    }
    Ok(())
}

async fn send(conn: &mut Option<sqlx::PgConnection>, url: &str, payload: &str) -> Result<(), sqlx::Error> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(sqlx::PgConnection::connect(url).await?),
    };
    sqlx::query("SELECT pg_notify($1, $2)").bind(COPIES).bind(payload).execute(c).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_under_the_limit() {
        let mut changes = BTreeSet::from([Change::Topic(Topic::Access), Change::Topic(Topic::Orders)]);
        let one = payloads(42, &changes);
        assert_eq!(one, vec!["42 t1 t5".to_string()]);
        assert_eq!(parse(&one[0]), Some((42, vec![Change::Topic(Topic::Access), Change::Topic(Topic::Orders)])));
        for i in 0..300 {
            changes.insert(Change::Session(format!("{i:064x}")));
            changes.insert(Change::Progress(UserId(i)));
        }
        let many = payloads(7, &changes);
        assert!(many.len() > 1, "split");
        assert!(many.iter().all(|p| p.len() <= PAYLOAD_MAX && p.starts_with("7 ")));
        let back: BTreeSet<Change> = many.iter().flat_map(|p| parse(p).map(|(_, c)| c).unwrap_or_default()).collect();
        assert_eq!(back, changes, "nothing lost or added");
    }

    #[test]
    fn unreadable_items_are_skipped() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("x t1"), None);
        assert_eq!(parse("9 t99 sZZ s t q1 t0"), Some((9, vec![Change::Topic(Topic::Users)])));
        assert_eq!(
            parse("9 p p12x p-3 p7"),
            Some((9, vec![Change::Progress(UserId(-3)), Change::Progress(UserId(7))]))
        );
    }
}
