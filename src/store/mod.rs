//! Database access. One SQL dialect subset with `$N` placeholders runs on SQLite and PostgreSQL
//! through sqlx's `Any` driver; the backend is chosen once from the URL.

pub mod agreements;
pub mod announcements;
pub mod attachments;
pub mod audit;
pub mod broadcasts;
pub mod cache;
pub mod catalog;
pub mod certificates;
pub mod changes;
pub mod checkins;
pub mod claims;
pub mod cohorts;
pub mod commissions;
pub mod complaints;
pub mod consultations;
pub mod coupons;
pub mod course_admin;
pub mod demo;
pub mod dialect;
pub mod distributors;
pub mod entitlements;
pub mod gifts;
pub mod groups;
pub mod homework;
pub mod identities;
pub mod invoices;
pub mod learner_notes;
pub mod leases;
pub mod lesson_files;
pub mod lessons;
pub mod limits;
pub mod memberships;
pub mod messages;
pub mod moderation;
pub mod order_search;
pub mod orders;
pub mod payment_notifications;
pub mod payouts;
pub mod personal_data;
pub mod phone_binding;
pub mod profit_splits;
pub mod progress_buffer;
pub mod questions;
pub mod quizzes;
pub mod redeem;
pub mod refunds;
pub mod reminders;
pub mod reviews;
mod rows;
pub mod sales_days;
pub mod sessions;
pub mod shared;
pub mod shop_settings;
pub mod sms;
pub mod sms_outbox;
pub mod staff;
pub mod stats;
pub mod switchover;
pub mod syllabus;
pub mod sync;
pub mod users;
pub mod wechat_outbox;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Two handles on one database. On SQLite, `write` holds a single connection, so every write
/// transaction is the only writer and read-then-write never fails on a lock upgrade; on
/// PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    copies: Arc<Copies>,
}

/// What in-memory copies (`cache`) rely on.
struct Copies {
    /// Tells this instance's announcements from the others'.
    instance: u64,
    /// One counter per `Topic`, bumped after each write of it (in this process, or announced by
    /// another instance).
    epochs: [AtomicU64; Topic::COUNT],
    /// PostgreSQL: this instance hears the others' writes (`changes`) right now. Only then may it
    /// use copies; SQLite has one instance and always may.
    hearing: AtomicBool,
    /// PostgreSQL: where this instance's writes are queued to be announced to the others.
    others: OnceLock<tokio::sync::mpsc::UnboundedSender<changes::Change>>,
    /// PostgreSQL, in a process that does not announce as it goes (the `kedian` CLI): what it
    /// changed, announced when it closes the database (`Db::close`).
    unsent: Mutex<BTreeSet<changes::Change>>,
}

impl Default for Copies {
    fn default() -> Self {
        Copies {
            instance: rand::random(),
            epochs: Default::default(),
            hearing: AtomicBool::new(false),
            others: OnceLock::new(),
            unsent: Mutex::default(),
        }
    }
}

/// What an in-memory copy may be of; each has its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Topic {
    /// `users` and `user_messages` (the account and its unread count).
    Users,
    /// `entitlements`: who may learn what.
    Access,
    /// `lessons` content and `hls_keys`.
    Lessons,
    /// `sessions` rows changed other than through the session store (tests do).
    Sessions,
    /// `lesson_progress`.
    Progress,
    /// `orders`.
    Orders,
}

impl Topic {
    const COUNT: usize = 6;
    pub const ALL: [Topic; Topic::COUNT] =
        [Topic::Users, Topic::Access, Topic::Lessons, Topic::Sessions, Topic::Progress, Topic::Orders];
}

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres") {
            let options = AnyConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = postgres_pool().connect_with(options).await.context("cannot connect to PostgreSQL")?;
            return Ok(Db { read: pool.clone(), write: pool, backend: Backend::Postgres, copies: Arc::default() });
        }
        let url = sqlite_url(url)?;
        let options = AnyConnectOptions::from_str(&url).context("invalid SQLite URL")?;
        let write = sqlite_pool(1).connect_with(options.clone()).await.context("cannot open SQLite")?;
        // journal_mode is a property of the file: set it once, before the readers open.
        sqlx::query("PRAGMA journal_mode = WAL").execute(&write).await?;
        let read = sqlite_pool(4).connect_with(options).await?;
        Ok(Db { read, write, backend: Backend::Sqlite, copies: Arc::default() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Call after a write of `topic`: in-memory copies made before it are not used again, here
    /// and (once announced) on every other instance.
    pub fn changed(&self, topic: Topic) {
        self.changed_here(topic);
        self.tell_others(changes::Change::Topic(topic));
    }

    /// Bumps `topic`'s epoch in this instance only (for a change another instance announced).
    pub fn changed_here(&self, topic: Topic) {
        self.copies.epochs[topic as usize].fetch_add(1, Ordering::AcqRel);
    }

    pub fn epoch(&self, topic: Topic) -> u64 {
        self.copies.epochs[topic as usize].load(Ordering::Acquire)
    }

    /// In-memory copies may be used: always on SQLite; on PostgreSQL while this instance hears
    /// the others' announcements.
    pub fn copies_usable(&self) -> bool {
        self.backend == Backend::Sqlite || self.copies.hearing.load(Ordering::Acquire)
    }

    /// PostgreSQL: whether the others' announcements reach this instance now. Starting to hear
    /// again drops every copy first, since announcements may have been missed meanwhile.
    pub fn hearing(&self, yes: bool) {
        if yes {
            for topic in Topic::ALL {
                self.changed_here(topic);
            }
        }
        self.copies.hearing.store(yes, Ordering::Release);
    }

    /// Queues `change` for the other instances (PostgreSQL, once `changes::spawn_teller` runs).
    pub fn tell_others(&self, change: changes::Change) {
        if let Some(others) = self.copies.others.get() {
            let _ = others.send(change);
        } else if self.backend == Backend::Postgres
            && let Ok(mut unsent) = self.copies.unsent.lock()
        {
            unsent.insert(change);
        }
    }

    /// How long an in-memory copy is used before it is read again even though no change to it
    /// was heard. On SQLite the `kedian` CLI writes the same file and cannot tell the server. On
    /// PostgreSQL every process announces its writes (the CLI when it closes the database), so
    /// this bounds only what is written outside Kedian (by hand, with psql).
    pub fn copy_ttl(&self) -> Duration {
        match self.backend {
            Backend::Sqlite => Duration::from_secs(10),
            Backend::Postgres => Duration::from_secs(60),
        }
    }

    pub fn users_changed(&self) {
        self.changed(Topic::Users);
    }

    pub fn access_changed(&self) {
        self.changed(Topic::Access);
    }

    pub fn lessons_changed(&self) {
        self.changed(Topic::Lessons);
    }

    pub fn sessions_changed(&self) {
        self.changed(Topic::Sessions);
    }

    pub fn orders_changed(&self) {
        self.changed(Topic::Orders);
    }

    /// For queries that only read.
    pub fn read(&self) -> &AnyPool {
        &self.read
    }

    /// For every statement or transaction that writes.
    pub fn write(&self) -> &AnyPool {
        &self.write
    }

    /// Applies pending migrations. Returns true when the database had none applied before, that
    /// is, when it is new.
    pub async fn migrate(&self) -> anyhow::Result<bool> {
        let applied: Result<i64, _> =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&self.write).await;
        let is_new = !matches!(applied, Ok(n) if n > 0);
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATE_SQLITE,
            Backend::Postgres => &MIGRATE_POSTGRES,
        };
        migrator.run(&self.write).await.context("running migrations")?;
        Ok(is_new)
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        self.read.execute("SELECT 1").await?;
        Ok(())
    }

    /// The changes recorded while nothing announced them (`Copies::unsent`), taken.
    fn take_unsent(&self) -> BTreeSet<changes::Change> {
        self.copies.unsent.lock().map(|mut u| std::mem::take(&mut *u)).unwrap_or_default()
    }

    /// Announces what a process without a teller (the CLI) changed, then closes.
    pub async fn close(&self) {
        let unsent = self.take_unsent();
        if !unsent.is_empty()
            && let Err(e) = changes::send_now(self, &unsent).await
        {
            tracing::warn!(error = %e, "the running instances were not told of these changes; they see them within a minute");
        }
        self.read.close().await;
        self.write.close().await;
    }
}

/// The one way a stateful row changes state: `UPDATE <table> SET status = <to>[, <assignments>]
/// WHERE id = $<id_param> AND status IN (<from>)`. Refused, in every build, unless every move is
/// allowed; the states written into the SQL are the enum's own words, never input.
pub(crate) fn status_update_sql<S: crate::domain::status::Status>(
    table: &str,
    from: &[S],
    to: S,
    assignments: &str,
    id_param: usize,
) -> Result<String, sqlx::Error> {
    if from.is_empty() || !from.iter().all(|f| f.can_become(to)) {
        return Err(sqlx::Error::Protocol(format!("illegal {table} transition {from:?} -> {to:?}")));
    }
    let from: Vec<String> = from.iter().map(|s| format!("'{}'", s.word())).collect();
    let assignments = if assignments.is_empty() { String::new() } else { format!(", {assignments}") };
    Ok(format!(
        "UPDATE {table} SET status = '{}'{assignments} WHERE id = ${id_param} AND status IN ({})",
        to.word(),
        from.join(", ")
    ))
}

/// SQLite connections live in this process: nothing to test before lending one out. The pool's
/// test is a round trip to the connection's thread before every statement, the one writer's too.
fn sqlite_pool(max: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().max_connections(max).test_before_acquire(false);
    options.acquire_timeout(Duration::from_secs(15)).after_connect(|conn, _meta| {
        Box::pin(async move {
            for pragma in ["PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL", "PRAGMA busy_timeout = 5000"] {
                conn.execute(pragma).await?;
            }
            Ok(())
        })
    })
}

/// A PostgreSQL connection used moments ago is alive: pinging it before every use (sqlx's
/// default) is one more round trip per query, and under load each round trip waits for a core.
/// One idle for a while (a restart of the server may have ended it) is pinged first, and
/// replaced if dead. Under load the pool's connections are never idle that long.
fn postgres_pool() -> AnyPoolOptions {
    const PING_AFTER_IDLE: Duration = Duration::from_secs(2);
    let options = AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10));
    options.test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for >= PING_AFTER_IDLE {
                sqlx::Connection::ping(conn).await?;
            }
            Ok(true)
        })
    })
}

/// `sqlite://data/kedian.db` → the same with `mode=rwc`, after creating the file's directory.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).context("not a sqlite URL")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if !params.iter().any(|p| p.starts_with("mode=")) {
        params.push("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{}", params.join("&")))
}

/// `($1, $2), ($3, $4), …`: the placeholders of a multi-row `VALUES` of `rows` rows of `per_row`
/// values each, bound row after row.
pub fn values_list(rows: usize, per_row: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=per_row).map(|c| format!("${}", r * per_row + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, $2, …, $n`: the placeholders of an `IN (…)` list.
pub fn in_list(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// True when a write failed on a unique constraint (the database is the judge of uniqueness).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_list(1, 1), "($1)");
        assert_eq!(in_list(3), "$1, $2, $3");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/k.db", dir.path().display());
        let fixed = sqlite_url(&url).unwrap();
        assert!(fixed.ends_with("/sub/k.db?mode=rwc"), "{fixed}");
        assert!(dir.path().join("sub").is_dir());
        assert!(sqlite_url("sqlite://x.db?mode=ro").unwrap().ends_with("?mode=ro"));
    }
}
