//! Migrations keep their promise: a released migration never changes (its checksum is on file),
//! and a database made by the released ones, with data in it, upgrades and keeps the data.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kedian::store::Db;
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;

use crate::helpers::{Backend, fresh_postgres_database, skip};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// `checksums.txt`: path → (released, hash).
fn on_file() -> BTreeMap<String, (bool, String)> {
    let text = std::fs::read_to_string(dir().join("checksums.txt")).expect("migrations/checksums.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert!(parts.len() == 3 && ["released", "pending"].contains(&parts[0]), "bad line: {line}");
            (parts[2].to_string(), (parts[0] == "released", parts[1].to_string()))
        })
        .collect()
}

fn files(dialect: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir().join(dialect))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn released_migrations_never_change() {
    let listed = on_file();
    for dialect in ["sqlite", "postgres"] {
        let mut seen_pending = false;
        for name in files(dialect) {
            let path = format!("{dialect}/{name}");
            let (released, hash) = listed.get(&path).unwrap_or_else(|| panic!("{path} is not in checksums.txt"));
            let actual = hex::encode(Sha256::digest(std::fs::read(dir().join(&path)).unwrap()));
            if *released {
                assert_eq!(&actual, hash, "{path} was released and changed: write a new migration instead");
                assert!(!seen_pending, "{path} is released but comes after a pending one");
            } else {
                assert_eq!(&actual, hash, "{path} changed: update its line in checksums.txt");
                seen_pending = true;
            }
        }
    }
    assert_eq!(files("sqlite"), files("postgres"), "both dialects have the same migrations");
    for path in listed.keys() {
        assert!(dir().join(path).exists(), "checksums.txt names {path}, which is gone");
    }
}

/// The baseline only: the oldest database a shop can have (migrations/README.md), which every
/// later migration, released or pending, must upgrade with its data.
async fn baseline_migrator(dialect: &str) -> Migrator {
    let all = Migrator::new(dir().join(dialect)).await.expect("read migrations");
    let baseline = all.migrations.iter().min_by_key(|m| m.version).cloned().expect("a baseline");
    assert!(baseline.description.contains("baseline"), "the first migration is the baseline");
    let released = on_file();
    assert!(
        released
            .iter()
            .any(|(p, (r, _))| *r && p.starts_with(dialect) && p.contains(&format!("/{}_", baseline.version))),
        "the baseline is released"
    );
    Migrator { migrations: Cow::Owned(vec![baseline]), ..Migrator::DEFAULT }
}

#[tokio::test]
async fn a_released_sqlite_database_upgrades_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    upgrades(Backend::Sqlite, &format!("sqlite://{}/kedian.db", dir.path().display())).await;
}

#[tokio::test]
async fn a_released_postgres_database_upgrades_with_its_data() {
    match fresh_postgres_database().await {
        Some(url) => upgrades(Backend::Postgres, &url).await,
        None => skip("KEDIAN_TEST_POSTGRES_URL is not set"),
    }
}

async fn upgrades(backend: Backend, url: &str) {
    let dialect = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    let db = Db::connect(url).await.unwrap();
    baseline_migrator(dialect).await.run(db.write()).await.expect("the baseline");
    // What a shop made at the baseline holds: its demo course (with the old drawn cover), a
    // learner, and a paid order.
    let exec = |sql: &'static str| async { sqlx::query(sql).execute(db.write()).await.expect(sql) };
    exec("INSERT INTO categories (slug, name) VALUES ('career', '职场技能')").await;
    exec("INSERT INTO instructors (name, title, bio, avatar_url) VALUES ('林晓', '', '', '')").await;
    exec(
        "INSERT INTO courses (slug, kind, category_id, instructor_id, title, subtitle, description, cover_url, \
         price_fen, original_price_fen, learner_count, outcomes, audience, non_refundable, featured, published, \
         created_at, updated_at) VALUES ('excel-data-analysis', 'recorded', 1, 1, 'Excel 数据分析实战', '', '', \
         '/static/covers/excel-data-analysis.svg', 19900, 39900, 1, '', '', 0, 1, 1, 1, 1)",
    )
    .await;
    exec("INSERT INTO users (phone, nickname, created_at, updated_at) VALUES ('13800138000', '学员', 1, 1)").await;
    exec(
        "INSERT INTO orders (order_no, user_id, course_id, item_title, item_kind, price_fen, amount_fen, non_refundable, \
         refund_window_days, refund_max_consumed_pct, refund_terms_shown, status, created_at, expires_at, paid_at, \
         updated_at) VALUES ('20261121UPGRADE0001', 1, 1, 'Excel 数据分析实战', 'recorded', 19900, 19900, 0, 7, 20, \
         '', 'paid', 1, 1, 1, 1)",
    )
    .await;

    assert!(!db.migrate().await.expect("the current migrations"), "an existing database is not new");
    let (status, amount): (String, i64) =
        sqlx::query_as("SELECT status, amount_fen FROM orders WHERE order_no = '20261121UPGRADE0001'")
            .fetch_one(db.read())
            .await
            .unwrap();
    assert_eq!((status.as_str(), amount), ("paid", 19900), "the paid order is kept as it was");
    let (cover, sale_ends): (String, Option<i64>) =
        sqlx::query_as("SELECT cover_url, sale_ends_at FROM courses WHERE slug = 'excel-data-analysis'")
            .fetch_one(db.read())
            .await
            .unwrap();
    assert_eq!(cover, "/static/covers/excel-data-analysis-1280.jpg", "the demo cover moved to its photograph");
    assert_eq!(sale_ends, None, "no limited-time price until an operator sets one");
    assert!(!db.migrate().await.unwrap(), "running again changes nothing");
    db.close().await;
}
