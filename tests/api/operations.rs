use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    healthz_checks_the_database,
    readyz_names_what_is_down,
    security_headers_are_sent,
    one_instance_holds_each_job_until_it_stops_renewing,
);

/// With several instances on one database, a job's lease has one holder; it renews while it
/// runs, and once it stops renewing another instance takes the job over.
async fn one_instance_holds_each_job_until_it_stops_renewing(app: TestApp) {
    use kedian::store::leases::take;
    let t = 1_796_011_200;
    assert!(take(&app.db, "nightly-report", "instance-a", t, 60).await.unwrap(), "the first instance takes it");
    assert!(!take(&app.db, "nightly-report", "instance-b", t + 1, 60).await.unwrap(), "the second waits");
    assert!(take(&app.db, "weekly-digest", "instance-b", t + 1, 60).await.unwrap(), "another job is free");
    assert!(take(&app.db, "nightly-report", "instance-a", t + 30, 60).await.unwrap(), "the holder renews");
    assert!(!take(&app.db, "nightly-report", "instance-b", t + 89, 60).await.unwrap(), "renewed: still a's");
    assert!(
        take(&app.db, "nightly-report", "instance-b", t + 90, 60).await.unwrap(),
        "a stopped renewing: b takes over"
    );
    assert!(!take(&app.db, "nightly-report", "instance-a", t + 91, 60).await.unwrap(), "and a, back, waits");
    let holders: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM job_leases WHERE job IN ('nightly-report', 'weekly-digest')")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!(holders, 2, "one row per job");
    // The shop's own jobs run under leases on PostgreSQL; SQLite, one instance by design, writes none.
    let jobs = "SELECT job FROM job_leases WHERE job IN ('orders', 'refunds', 'sms') ORDER BY job";
    let mut held: Vec<String> = Vec::new();
    for _ in 0..100 {
        held = sqlx::query_scalar(jobs).fetch_all(app.db.read()).await.unwrap();
        if held.len() == 3 || app.db.backend() == kedian::store::Backend::Sqlite {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    match app.db.backend() {
        kedian::store::Backend::Postgres => assert_eq!(held, ["orders", "refunds", "sms"]),
        kedian::store::Backend::Sqlite => assert!(held.is_empty(), "{held:?}"),
    }
}
on_both_backends!(
    setup = |backend| spawn_app_with(backend, |s| s.metrics_token = Some("scrape-token-0123456789".into()));
    metrics_are_served_to_the_token_bearer_only,
);

/// Prometheus text for the bearer of `metrics_token`: requests by route and status with latency
/// buckets, sales, the database pool.
async fn metrics_are_served_to_the_token_bearer_only(app: TestApp) {
    let metrics = |auth: Option<&'static str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(metrics(Some("Bearer wrong")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
    // Counted under its pattern, the second time too (when the worker remembers the path's route).
    for _ in 0..2 {
        assert_eq!(app.get("/courses/excel-data-analysis").await.status(), StatusCode::OK);
    }
    app.login_by_code("13800138401").await;
    let order_no = app.order_for("excel-data-analysis").await;
    app.pay_sandbox(&order_no).await;
    let response = metrics(Some("Bearer scrape-token-0123456789")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let text = response.text().await.unwrap();
    for expected in [
        "http_requests_total{route=\"/\",status=\"200\"}",
        "http_request_duration_seconds_bucket{route=\"/\",le=\"0.005\"}",
        "http_requests_total{route=\"/courses/{slug}\",status=\"200\"}",
        "orders_created_total{free=\"false\"}",
        "orders_paid_total{provider=\"sandbox\"}",
        "payment_notifications_total{provider=\"sandbox\",verdict=\"applied\"}",
        "db_pool_connections{pool=\"read\"}",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    assert!(!text.contains(&order_no), "no order numbers in labels");
}

async fn healthz_checks_the_database(app: TestApp) {
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND, "no metrics without a token");
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    app.db.close().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// Readiness asks every dependency and names the one that failed, in plain text.
async fn readyz_names_what_is_down(app: TestApp) {
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.headers()["cache-control"], "no-store");
    assert_eq!(ready.text().await.unwrap(), "database: ok\nstorage: ok\n", "no Redis line without Redis");
    app.db.close().await;
    let down = app.get("/readyz").await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers()["content-type"].to_str().unwrap().starts_with("text/plain"), "not an HTML error page");
    assert_eq!(down.text().await.unwrap(), "database: unavailable\nstorage: ok\n");
}

async fn security_headers_are_sent(app: TestApp) {
    let response = app.get("/").await;
    let h = response.headers();
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert!(h.get("content-security-policy").unwrap().to_str().unwrap().contains("default-src 'self'"));
    let css = app.get("/static/css/site.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/css"));
    assert_eq!(css.headers()["cache-control"], "public, max-age=3600", "unversioned: an hour");
    // Pages link static files by content version, cached for a year as immutable.
    let html = app.get("/").await.text().await.unwrap();
    let versioned = html.split("href=\"/static/css/site.css?v=").nth(1).and_then(|r| r.split('"').next()).unwrap();
    let css = app.get(&format!("/static/css/site.css?v={versioned}")).await;
    assert_eq!(css.headers()["cache-control"], "public, max-age=31536000, immutable");
    let bytes = css.bytes().await.unwrap();
    use sha2::Digest;
    assert_eq!(hex::encode(&sha2::Sha256::digest(&bytes)[..5]), versioned, "the version is the content's");
}

#[tokio::test]
async fn demo_catalog_only_in_a_new_database_and_only_when_asked() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.demo = false).await.unwrap();
    assert_eq!(app.count("courses").await, 0);
    assert_eq!(app.count("users").await, 0);
    let (status, html) = app.get_html("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("还没有上架的课程"));

    // Restarting on an existing database never loads the demo again.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/kedian.db", dir.path().display());
    let settings = crate::helpers::test_settings(dir.path(), &url);
    let first = kedian::startup::prepare_database(&settings).await.unwrap();
    let courses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM courses").fetch_one(first.read()).await.unwrap();
    assert!(courses >= 8);
    sqlx::query("DELETE FROM consultation_slots").execute(first.write()).await.unwrap();
    sqlx::query("DELETE FROM bundle_items").execute(first.write()).await.unwrap();
    sqlx::query("DELETE FROM course_columns").execute(first.write()).await.unwrap();
    sqlx::query("DELETE FROM lessons").execute(first.write()).await.unwrap();
    sqlx::query("DELETE FROM chapters").execute(first.write()).await.unwrap();
    sqlx::query("DELETE FROM courses").execute(first.write()).await.unwrap();
    first.close().await;
    let second = kedian::startup::prepare_database(&settings).await.unwrap();
    let courses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM courses").fetch_one(second.read()).await.unwrap();
    assert_eq!(courses, 0, "the demo is not reloaded into an existing database");
}

#[tokio::test]
async fn session_key_is_generated_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.key");
    let first = kedian::config::load_or_create_session_key(&path).unwrap();
    let second = kedian::config::load_or_create_session_key(&path).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_full_sync() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(app.db.write()).await.unwrap();
    assert_eq!(sync, 2, "FULL");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(fk, 1);
}

/// Two instances on one PostgreSQL database: a change staff make on one shows on the other within
/// a second (announced on a channel), not at its next periodic refresh.
#[tokio::test]
async fn changes_on_one_instance_show_on_another_within_a_second() {
    let Some(first) = crate::helpers::spawn_app(Backend::Postgres).await else {
        return crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set");
    };
    let url = first.database_url.clone();
    // The second instance's periodic refresh is an hour away: only the announcement can reach it.
    let second = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = url;
        s.job_interval_secs = 3600;
    })
    .await
    .expect("a second instance");
    let shows = |needle: &'static str, path: &'static str| {
        let second = &second;
        eventually_within_a_second(move || async move { second.get_html(path).await.1.contains(needle) })
    };
    assert!(!shows("设计与排版", "/courses").await);
    let staff = first.staff().await;
    let page = "/admin/categories";
    let added = staff.submit(page, page, &[("name", "设计与排版"), ("slug", "design"), ("position", "9")]).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert!(shows("设计与排版", "/courses").await, "the catalog edit reached the other instance within a second");
    let on = staff
        .submit("/admin/takedown", "/admin/takedown", &[("mode", "on"), ("message", "小程序维护中，请在本站学习")])
        .await;
    assert_eq!(on.status(), StatusCode::SEE_OTHER);
    assert!(shows("小程序维护中，请在本站学习", "/").await, "and so did takedown mode");
}

/// Two instances on one PostgreSQL database, sharing its sessions: a learner's signed-in pages on
/// one follow within a second what happened through the other, though each keeps the account,
/// what it owns and its membership in memory: a course bought, a nickname changed, a refund that
/// takes the course back, a membership bought and one that ends with its refund.
#[tokio::test]
async fn signed_in_pages_follow_changes_made_on_another_instance() {
    let auto_refund = |s: &mut kedian::config::Settings| s.refund_auto_approve_fen = 1_000_000;
    let Some(first) = spawn_app_with(Backend::Postgres, auto_refund).await else {
        return crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set");
    };
    let (url, dir) = (first.database_url.clone(), first.data_dir.clone());
    // The same data directory: the same session key, so one cookie is good on both.
    let second = spawn_app_with(Backend::Postgres, |s| {
        auto_refund(s);
        s.database_url = url;
        s.data_dir = dir;
        s.job_interval_secs = 3600;
    })
    .await
    .expect("a second instance");
    let phone = "13700000201";
    first.login_by_code(phone).await;
    let on_second = first.browser.at(&second.address);
    let lesson_id = first.first_paid_lesson("excel-data-analysis").await;
    let lesson = format!("/courses/excel-data-analysis/lessons/{lesson_id}");
    let plays = |path: String| {
        let on_second = &on_second;
        async move { on_second.get_html(&path).await.1.contains("src=\"/media/") }
    };
    // The second instance reads the learner's account and access once, and keeps them.
    for _ in 0..2 {
        assert!(!plays(lesson.clone()).await, "not bought yet");
        assert_eq!(on_second.get_html("/me").await.0, StatusCode::OK);
    }

    let order_no = first.bought("excel-data-analysis").await;
    assert!(eventually_within_a_second(|| plays(lesson.clone())).await, "the course bought through the first instance");

    // The second instance now keeps the learner's progress (none yet); a position reported
    // through the first replaces that copy once it is written.
    let resumes_at = |secs: i64| {
        let (on_second, lesson) = (&on_second, lesson.clone());
        async move { on_second.get_html(&lesson).await.1.contains(&format!("data-resume=\"{secs}\"")) }
    };
    assert!(resumes_at(0).await, "nothing watched yet");
    let reported = first.report_progress("excel-data-analysis", kedian::domain::LessonId(lesson_id), 3, 600).await;
    assert_eq!(reported, StatusCode::NO_CONTENT);
    first.flush_progress().await;
    assert!(eventually_within_a_second(|| resumes_at(3)).await, "the position reported through the first instance");

    let renamed = first.submit("/me", "/me", &[("nickname", "换了名字的学员")]).await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let shows_name = || async { on_second.get_html("/me").await.1.contains("换了名字的学员") };
    assert!(eventually_within_a_second(shows_name).await, "the nickname changed through the first instance");

    let refunded = first.request_refund(&order_no, "quality", vec![]).await;
    assert_eq!(refunded.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.order_status(&order_no).await, "refunded");
    assert!(
        eventually_within_a_second(|| async { !plays(lesson.clone()).await }).await,
        "the refund took the course back"
    );

    let membership = first.bought("annual-membership").await;
    assert!(eventually_within_a_second(|| plays(lesson.clone())).await, "the membership opens the course");
    let cancelled = first.request_refund(&membership, "quality", vec![]).await;
    let refund_no = crate::refunds::refund_no_from(&cancelled);
    // A membership's refund waits for staff; they approve the amount the shop proposes.
    let detail = format!("/admin/refunds/{refund_no}");
    let staff = first.staff().await;
    let (_, page) = staff.get_html(&detail).await;
    let amount = page
        .split("name=\"amount\" type=\"text\" inputmode=\"decimal\" value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next());
    let amount = amount.expect("the proposed amount").to_string();
    let approved = staff.submit(&detail, &format!("{detail}/approve"), &[("amount", &amount), ("note", "")]).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.order_status(&membership).await, "refunded");
    assert!(
        eventually_within_a_second(|| async { !plays(lesson.clone()).await }).await,
        "the membership ended with its refund"
    );
}

/// Asks `check` every 50 ms for a second at most; whether it came true.
async fn eventually_within_a_second<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..20 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}
