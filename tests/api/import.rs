//! Importing the mini program's export: the documented example files, a dry run that writes
//! nothing, an import that a second run leaves alone, changed rows updated, a registered phone
//! merged, bad rows reported with file, line and reason; and the imported buyer logs in by SMS
//! and finds the course where the export left off.

use std::path::{Path, PathBuf};

use kedian::import::{Report, Silent, run};
use reqwest::StatusCode;

use crate::helpers::{TestApp, unescape};
use crate::on_both_backends;

on_both_backends!(
    the_example_export_imports_once_and_buyers_find_their_courses,
    bad_rows_are_reported_and_skipped,
    admins_import_from_the_back_office,
    an_import_places_learners_in_their_cohorts
);

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/import")
}

async fn import(app: &TestApp, path: &Path, dry_run: bool) -> Report {
    run(&app.db, path, dry_run, &Silent).await.expect("import runs")
}

fn counts(r: &Report) -> Vec<(u64, u64, u64, u64)> {
    [&r.courses, &r.users, &r.orders, &r.entitlements, &r.progress]
        .iter()
        .map(|c| (c.inserted, c.updated, c.unchanged, c.rejected))
        .collect()
}

async fn the_example_export_imports_once_and_buyers_find_their_courses(app: TestApp) {
    // 13900139002 registered here before the takedown: the import merges, never duplicates.
    let early = app.another_browser();
    early.login_by_code("13900139002").await;
    let users_before = app.count("users").await;

    let dry = import(&app, &examples(), true).await;
    assert_eq!(dry.total_rejected(), 0, "{}", dry.text());
    assert_eq!((dry.users.read, dry.orders.read, dry.progress.read), (3, 3, 3));
    assert_eq!(app.count("users").await, users_before, "a dry run writes nothing");
    assert_eq!(app.count("orders").await, 0);

    let first = import(&app, &examples(), false).await;
    assert_eq!(first.total_rejected(), 0, "{}", first.text());
    assert_eq!(
        counts(&first),
        vec![(2, 0, 0, 0), (2, 1, 0, 0), (3, 0, 0, 0), (1, 0, 0, 0), (3, 0, 0, 0)],
        "{}",
        first.text()
    );
    assert_eq!(app.count("users").await, users_before + 2, "two new accounts, one merged");
    let again = import(&app, &examples(), false).await;
    assert_eq!(
        counts(&again),
        vec![(0, 0, 2, 0), (0, 0, 3, 0), (0, 0, 3, 0), (0, 0, 1, 0), (0, 0, 3, 0)],
        "a second run changes nothing: {}",
        again.text()
    );
    assert_eq!(app.count("orders").await, 3);

    // The merged learner now owns the Excel course; the refunded Python order gives nothing.
    let (_, mine) = early.get_html("/me/courses").await;
    assert!(mine.contains("href=\"/courses/excel-data-analysis\"") && !mine.contains("python-zero-to-one"));
    let (_, orders) = early.get_html("/orders").await;
    assert!(orders.contains("Excel 数据分析实战") && orders.contains("¥199.00"), "imported orders are in the history");

    // A changed row is updated: the mini program refunded 小林 after the first export.
    let dir = tempfile::tempdir().unwrap();
    for file in ["manifest.json", "courses.csv", "users.csv", "entitlements.jsonl", "progress.csv"] {
        std::fs::copy(examples().join(file), dir.path().join(file)).unwrap();
    }
    let orders_csv = std::fs::read_to_string(examples().join("orders.csv"))
        .unwrap()
        .replace("4200002025030200001,paid,", "4200002025030200001,refunded,199.00");
    std::fs::write(dir.path().join("orders.csv"), orders_csv).unwrap();
    let changed = import(&app, dir.path(), false).await;
    assert_eq!((changed.orders.updated, changed.orders.unchanged), (1, 2), "{}", changed.text());

    // 13900139003 logs in by SMS for the first time here and resumes where the export left off.
    let buyer = app.another_browser();
    let response = buyer.login_by_code("13900139003").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, mine) = buyer.get_html("/me/courses").await;
    assert!(mine.contains("href=\"/courses/python-zero-to-one\""), "the imported course is there");
    let first_lesson: i64 = sqlx::query_scalar(
        "SELECT l.id FROM lessons l JOIN chapters ch ON ch.id = l.chapter_id JOIN courses c ON c.id = l.course_id \
         WHERE c.slug = 'python-zero-to-one' ORDER BY ch.position, ch.id, l.position, l.id LIMIT 1",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    let (status, lesson) = buyer.get_html(&format!("/courses/python-zero-to-one/lessons/{first_lesson}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(unescape(&lesson).contains("data-resume=\"30\""), "resumes at the exported position");
    let identities: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_identities").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(identities, 4, "two unionids and two openids kept for WeChat sign-in");
}

async fn bad_rows_are_reported_and_skipped(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("courses.csv"),
        "product_id,course_slug\np1,excel-data-analysis\np2,no-such-course\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("users.csv"), "phone,nickname\n13900139101,甲\n12345,乙\n13900139102,丙\n").unwrap();
    std::fs::write(
        dir.path().join("orders.jsonl"),
        [
            r#"{"order_id":"A1","phone":"13900139101","product_id":"p1","amount":"99.00","paid_at":"2025-01-01 10:00"}"#,
            r#"{"order_id":"A2","phone":"13900139101","product_id":"p2","amount":"99.00","paid_at":"2025-01-01 10:00"}"#,
            r#"{"order_id":"A3","phone":"13700000000","product_id":"p1","amount":"99.00","paid_at":"2025-01-01 10:00"}"#,
            r#"{"order_id":"A4","phone":"13900139102","product_id":"p1","amount":"abc","paid_at":"2025-01-01 10:00"}"#,
            r#"not json"#,
            r#"{"order_id":"A1","phone":"13900139102","product_id":"p1","amount":"99.00","paid_at":"2025-01-01 10:00"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("progress.csv"), "phone,product_id,lesson_no\n13900139101,p1,999\n").unwrap();
    let report = import(&app, dir.path(), false).await;
    let text = report.text();
    for expected in [
        "rejected courses.csv:3: course_slug: no course no-such-course in the shop",
        "rejected users.csv:3: phone: not a mainland mobile number (12345)",
        "rejected orders.jsonl:2: product_id: p2 has no course mapping",
        "rejected orders.jsonl:3: phone: 13700000000 is neither in users nor registered",
        "rejected orders.jsonl:4: amount: not an amount in yuan",
        "rejected orders.jsonl:5: not a JSON object",
        "rejected orders.jsonl:6: order_id: A1 twice in the export",
        "rejected progress.csv:2: lesson_no: the course has",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    assert_eq!((report.users.inserted, report.orders.inserted), (2, 1), "{text}");
    assert_eq!(app.count("orders").await, 1, "only the good order");

    // More rows than one write batch (1,000): batches follow one another on SQLite's single writer.
    let many = tempfile::tempdir().unwrap();
    let users: String = (0..1500).map(|i| format!("139{:08}\n", 20_000_000 + i)).collect();
    std::fs::write(many.path().join("users.csv"), format!("phone\n{users}")).unwrap();
    let report = import(&app, many.path(), false).await;
    assert_eq!(report.users.inserted, 1500, "{}", report.text());

    let newer = tempfile::tempdir().unwrap();
    std::fs::write(newer.path().join("manifest.json"), r#"{"version": 2}"#).unwrap();
    std::fs::write(newer.path().join("users.csv"), "phone\n13900139103\n").unwrap();
    let refused = run(&app.db, newer.path(), true, &Silent).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("version 2")), "a newer format is refused whole");
}

async fn admins_import_from_the_back_office(app: TestApp) {
    let admin = app.staff().await;
    let files: Vec<(&str, &str, Vec<u8>)> =
        ["courses.csv", "users.csv", "orders.csv", "entitlements.jsonl", "progress.csv"]
            .iter()
            .map(|name| ("files", *name, std::fs::read(examples().join(name)).unwrap()))
            .collect();
    let page = "/admin/import";
    let checked = admin.submit_multipart(page, page, &[("dry_run", "1")], files.clone()).await;
    assert_eq!(checked.status(), StatusCode::OK);
    let html = checked.text().await.unwrap();
    assert!(html.contains("检查结果（未写入）") && html.contains("id=\"import-report\""));
    assert_eq!(app.count("orders").await, 0, "checked only");
    let done = admin.submit_multipart(page, page, &[], files).await;
    let html = done.text().await.unwrap();
    assert!(html.contains("导入完成"), "{html}");
    assert_eq!(app.count("orders").await, 3);
    let binary =
        admin.submit_multipart(page, page, &[], vec![("files", "users.csv", b"\x89PNG\r\n\x1a\n\0\0".to_vec())]).await;
    assert_eq!(binary.status(), StatusCode::BAD_REQUEST);
    let actions = crate::backoffice::audit_actions(&app).await;
    assert_eq!(actions.iter().filter(|a| *a == "import.run").count(), 1, "the real import is audited");
}

/// `kedian import` as an operator runs it: the dry run's report on standard output, exit 0 for a
/// clean export and 2 when rows were rejected.
#[tokio::test]
async fn the_command_reports_and_signals_rejections() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.unwrap();
    let kedian = |path: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kedian"))
            .args(["import", path.to_str().unwrap(), "--dry-run"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KEDIAN_DATA_DIR", &app.data_dir)
            .output()
            .unwrap()
    };
    let clean = kedian(&examples());
    let text = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{text}");
    assert!(text.contains("dry run: nothing written") && text.contains("orders"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "phone\n12345\n").unwrap();
    let bad = kedian(dir.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("rejected users.csv:2: phone"));
    assert_eq!(app.count("orders").await, 0);
}

async fn an_import_places_learners_in_their_cohorts(app: TestApp) {
    let course = kedian::domain::CourseId(app.course_id("excel-data-analysis").await);
    let at = kedian::domain::time::now();
    let mut cohorts = Vec::new();
    for (name, starts) in [("春季营", at - 3 * 86_400), ("秋季营", at + 30 * 86_400)] {
        let new = kedian::store::cohorts::NewCohort {
            name,
            starts_at: kedian::domain::cohort::start_of_day(starts),
            capacity: 1,
            sale_starts_at: at - 10 * 86_400,
            sale_ends_at: at + 10 * 86_400,
        };
        cohorts.push(kedian::store::cohorts::create(&app.db, course, &new, at).await.unwrap());
    }
    app.catalog.reload(&app.db).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("courses.csv", "product_id,course_slug\np1,excel-data-analysis\n");
    write("users.csv", "phone,nickname\n13900139301,甲\n13900139302,乙\n13900139303,丙\n13900139304,丁\n");
    write(
        "orders.csv",
        "order_id,phone,product_id,amount,paid_at,cohort\n\
         C1,13900139301,p1,99.00,2026-11-01 10:00,春季营\n\
         C2,13900139302,p1,99.00,2026-11-01 10:00,春季营\n\
         C3,13900139303,p1,99.00,2026-11-01 10:00,冬季营\n",
    );
    write("entitlements.csv", "phone,product_id,cohort\n13900139304,p1,秋季营\n");
    let report = import(&app, dir.path(), false).await;
    assert_eq!((report.orders.inserted, report.orders.rejected), (2, 1), "{}", report.text());
    assert!(report.text().contains("no cohort named 冬季营"), "{}", report.text());
    let placed: Vec<(String, Option<kedian::domain::CohortId>)> = sqlx::query_as(
        "SELECT u.phone, e.cohort_id FROM entitlements e JOIN users u ON u.id = e.user_id ORDER BY u.phone",
    )
    .fetch_all(app.db.read())
    .await
    .unwrap();
    let (spring, autumn) = (Some(cohorts[0]), Some(cohorts[1]));
    assert_eq!(
        placed,
        vec![("13900139301".into(), spring), ("13900139302".into(), spring), ("13900139304".into(), autumn)],
        "seats are not checked: the mini program sold them"
    );
    let with_cohort: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE cohort_id IS NOT NULL")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(with_cohort, 2);
    // The shop's own placement wins over a later import naming another cohort.
    write("entitlements.csv", "phone,product_id,cohort\n13900139301,p1,秋季营\n");
    import(&app, dir.path(), false).await;
    let kept: Option<kedian::domain::CohortId> = sqlx::query_scalar(
        "SELECT e.cohort_id FROM entitlements e JOIN users u ON u.id = e.user_id WHERE u.phone = '13900139301'",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    assert_eq!(kept, spring);
    // The learner finds the cohort on the course page, and its lessons count from its start.
    let learner = app.another_browser();
    learner.login_by_code("13900139301").await;
    let (_, page) = learner.get_html("/courses/excel-data-analysis").await;
    assert!(page.contains("我的营期") && page.contains("春季营"));
}
