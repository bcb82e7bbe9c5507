//! Backups: a snapshot taken while orders keep arriving holds every order committed before it
//! began; `verify` checks it; `restore` refuses to overwrite a database without --force and then
//! puts the backup in place; retention prunes; PostgreSQL goes through pg_dump.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

/// One paid order straight into the table, as fast as the database takes it.
async fn write_order(app: &TestApp, n: i64) -> i64 {
    let user: i64 = sqlx::query_scalar("SELECT MIN(id) FROM users").fetch_one(app.db.read()).await.unwrap();
    let course: i64 = sqlx::query_scalar("SELECT MIN(id) FROM courses").fetch_one(app.db.read()).await.unwrap();
    sqlx::query_scalar(
        "INSERT INTO orders (order_no, user_id, course_id, item_title, item_kind, price_fen, amount_fen, non_refundable, \
         refund_window_days, refund_max_consumed_pct, refund_terms_shown, status, created_at, expires_at, paid_at, updated_at) \
         VALUES ($1, $2, $3, 'x', 'recorded', 100, 100, 0, 7, 20, '', 'paid', $4, $4, $4, $4) RETURNING id",
    )
    .bind(format!("20261121BACKUP{n:06}"))
    .bind(user)
    .bind(course)
    .bind(kedian::domain::time::now())
    .fetch_one(app.db.write())
    .await
    .unwrap()
}

fn kedian(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kedian"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEDIAN_DATA_DIR", data_dir)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_backup_under_load_holds_every_order_committed_before_it_began() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let last_committed = Arc::new(AtomicI64::new(0));
    let writer = {
        let (app, running, last) = (app.another_browser(), running.clone(), last_committed.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::SeqCst) {
                n += 1;
                let id = write_order(&app, n).await;
                last.store(id, Ordering::SeqCst);
            }
            n
        })
    };
    while last_committed.load(Ordering::SeqCst) < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = last_committed.load(Ordering::SeqCst);
    let settings = crate::helpers::test_settings(&app.data_dir, &app.database_url);
    let dir = app.data_dir.join("backups");
    let made = kedian::backup::make(&app.db, &settings, &dir, kedian::domain::time::now()).await.unwrap();
    running.store(false, Ordering::SeqCst);
    let written = writer.await.unwrap();
    let total = app.count("orders").await;
    assert_eq!(total, written, "no order written while the backup ran was lost or blocked for good");

    let verified = kedian::backup::verify(&made.database).await.unwrap();
    assert_eq!(verified.integrity, "ok");
    let url = format!("sqlite://{}?mode=ro", made.database.display());
    let mut copy = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id <= $1")
        .bind(before)
        .fetch_one(&mut copy)
        .await
        .unwrap();
    assert_eq!(kept, before, "every order committed before the backup began is in it");
    assert!(made.files.as_ref().is_some_and(|f| f.exists()), "and the uploaded files are archived");

    // The command line: verify prints the counts; restore refuses, then replaces with --force.
    let out = kedian(&app.data_dir, &["backup", "verify", made.database.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("integrity: ok") && text.contains("orders"), "{text}");
    let junk = app.data_dir.join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    assert!(!kedian(&app.data_dir, &["backup", "verify", junk.to_str().unwrap()]).status.success());

    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::write(restored_dir.path().join("kedian.db"), b"live").unwrap();
    let refused = kedian(restored_dir.path(), &["restore", made.database.to_str().unwrap()]);
    assert!(!refused.status.success(), "a live database is not overwritten without --force");
    assert_eq!(std::fs::read(restored_dir.path().join("kedian.db")).unwrap(), b"live");
    let forced = kedian(restored_dir.path(), &["restore", "--force", made.database.to_str().unwrap()]);
    assert!(forced.status.success(), "{forced:?}");
    let aside = std::fs::read_dir(restored_dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("kedian.db.before-restore-"));
    assert!(aside, "the replaced database is kept aside");
    let restored = spawn_app_with(Backend::Sqlite, |s| {
        s.database_url = format!("sqlite://{}/kedian.db", restored_dir.path().display());
    })
    .await
    .unwrap();
    assert!(restored.count("orders").await >= before, "the restored shop has the orders");
    assert_eq!(restored.get("/courses/excel-data-analysis").await.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn the_backup_command_writes_prunes_and_dumps_postgres() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let out = kedian(&app.data_dir, &["backup"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("database: ") && text.contains(".db") && text.contains("files: "), "{text}");
    // Fifty backups a day old apiece: retention keeps at most 14 days and the newest.
    let dir = app.data_dir.join("backups");
    for k in 1..=50 {
        let old = dir.join(format!("kedian-old{k:02}.db"));
        std::fs::write(&old, b"x").unwrap();
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(k * 86_400);
        std::fs::File::options().write(true).open(&old).unwrap().set_modified(when).unwrap();
    }
    let pruned = kedian::backup::prune(&dir, kedian::domain::time::now()).unwrap();
    let left = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "db")))
        .count();
    assert!(pruned >= 36 && left <= 15, "pruned {pruned}, left {left}");

    match spawn_app(Backend::Postgres).await {
        Some(pg) => {
            let settings = crate::helpers::test_settings(&pg.data_dir, &pg.database_url);
            let made =
                kedian::backup::make(&pg.db, &settings, &pg.data_dir.join("backups"), kedian::domain::time::now())
                    .await
                    .expect("pg_dump runs");
            let listed = Command::new("pg_restore").arg("--list").arg(&made.database).output().unwrap();
            assert!(listed.status.success(), "the dump is readable by pg_restore");
            assert!(String::from_utf8_lossy(&listed.stdout).contains("TABLE DATA public orders"));
        }
        None => crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set"),
    }
}

/// On PostgreSQL, scheduled backups are made by the instance holding the `backups` lease: while
/// another instance holds it, this one makes none.
#[tokio::test]
async fn scheduled_postgres_backups_run_on_one_instance() {
    let Some(pg) = spawn_app(Backend::Postgres).await else {
        return crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set");
    };
    let settings = crate::helpers::test_settings(&pg.data_dir, &pg.database_url);
    let hour = std::time::Duration::from_secs(3600);
    let now = kedian::domain::time::now();
    sqlx::query("INSERT INTO job_leases (job, holder, expires_at) VALUES ('backups', 'another-instance', $1)")
        .bind(now + 600)
        .execute(pg.db.write())
        .await
        .unwrap();
    let skipped = kedian::backup::scheduled_once(&pg.db, &settings, hour, now).await.unwrap();
    assert!(skipped.is_none(), "another instance holds the backups");
    // The other instance stopped renewing: its lease lapses, and this one takes the backups over.
    sqlx::query("UPDATE job_leases SET expires_at = $1 WHERE job = 'backups'")
        .bind(now - 1)
        .execute(pg.db.write())
        .await
        .unwrap();
    let taken = kedian::backup::scheduled_once(&pg.db, &settings, hour, now).await.unwrap();
    let (made, _) = taken.expect("its lease lapsed");
    assert!(made.database.extension().is_some_and(|x| x == "pgdump"), "{}", made.database.display());
    assert!(made.database.exists());
    let holder: String = sqlx::query_scalar("SELECT holder FROM job_leases WHERE job = 'backups'")
        .fetch_one(pg.db.read())
        .await
        .unwrap();
    assert_eq!(holder, kedian::jobs::instance_id());
}
