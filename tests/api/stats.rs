//! Statistics on a dataset made the way the shop makes it: three learners buy, one is refunded,
//! one order stays unpaid, one learner finishes a course. The page, its charts and the CSV
//! exports must show exactly those numbers.

use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(statistics_match_the_seeded_dataset, past_days_are_stored_and_refunds_restate_them);

async fn learner(app: &TestApp, phone: &str) -> TestApp {
    let browser = app.another_browser();
    browser.login_by_code(phone).await;
    browser
}

/// Reports every lesson of a course as watched to the end, as the player does: started, then
/// (ten minutes later, as far as the shop can tell) at the end.
pub(crate) async fn finish_course(app: &TestApp, browser: &TestApp, slug: &str) {
    finish_lessons(app, browser, slug, usize::MAX).await;
}

/// Watches the first `count` lessons of `slug` to the end.
pub(crate) async fn finish_lessons(app: &TestApp, browser: &TestApp, slug: &str, count: usize) {
    let lessons: Vec<kedian::domain::LessonId> = sqlx::query_scalar(
        "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = $1 ORDER BY l.id",
    )
    .bind(slug)
    .fetch_all(app.db.read())
    .await
    .unwrap();
    for position in [0, 600] {
        for &lesson in lessons.iter().take(count) {
            let sent = browser.report_progress(slug, lesson, position, 600).await;
            assert_eq!(sent, StatusCode::NO_CONTENT, "lesson {lesson}");
        }
        app.age_progress(600).await;
    }
}

async fn statistics_match_the_seeded_dataset(app: TestApp) {
    let one = learner(&app, "13800138501").await;
    let two = learner(&app, "13800138502").await;
    let three = learner(&app, "13800138503").await;
    one.bought("excel-data-analysis").await;
    let refunded = two.bought("excel-data-analysis").await;
    three.bought("python-zero-to-one").await;
    three.order_for("economics-in-15-minutes").await;
    finish_course(&app, &three, "python-zero-to-one").await;

    let admin = app.staff().await;
    let page = format!("/admin/orders/{refunded}");
    let done = admin.submit(&page, &format!("{page}/refund"), &[("amount", "199"), ("reason", "七天无理由")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    let (status, html) = admin.get_html("/admin/stats").await;
    assert_eq!(status, StatusCode::OK);
    let stat = |id: &str| {
        let marker = format!("id=\"{id}\">");
        html.split(&marker).nth(1).and_then(|rest| rest.split('<').next()).unwrap_or_default().to_string()
    };
    assert_eq!(stat("stat-revenue"), "¥697.00", "three paid orders");
    assert_eq!(stat("stat-paid"), "3");
    assert_eq!(stat("stat-conversion"), "75.0%", "3 of 4 orders paid");
    assert_eq!(stat("stat-refund-rate"), "33.3%", "1 of 3 paid orders refunded");
    assert_eq!(stat("stat-new-users"), "4", "three learners and the demo admin");
    assert_eq!(stat("stat-active"), "1 / 1", "one learner studied today and this week");
    assert!(html.contains("<svg class=\"chart\""), "charts are drawn on the server");
    assert!(html.contains("<title>") && html.contains(": ¥697.00</title>"), "today's bar carries its value");

    let courses = admin.get("/admin/stats?format=csv&table=courses").await.text().await.unwrap();
    let rows: Vec<&str> = courses.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(rows[0], "course,paid_orders,revenue_yuan,refunded_yuan,refund_rate,learners,completed,completion_rate");
    let excel = rows.iter().find(|r| r.contains(",2,398.00,")).expect("the Excel course");
    assert!(excel.ends_with(",2,398.00,199.00,50.0%,1,0,0.0%"), "{excel}");
    let python = rows.iter().find(|r| r.contains(",1,299.00,")).expect("the Python course");
    assert!(python.ends_with(",1,299.00,0.00,0.0%,1,1,100.0%"), "{python}: 完课率 100%");
    assert_eq!(rows.len(), 3, "only courses with sales or learners");

    let daily = admin.get("/admin/stats?format=csv").await.text().await.unwrap();
    let today = kedian::domain::time::shanghai_date(kedian::domain::time::now());
    let line = daily.lines().find(|l| l.starts_with(&today)).expect("today's row");
    assert_eq!(line, format!("{today},4,4,3,697.00,199.00,1"));
    assert_eq!(daily.lines().count(), 31, "a header and the last 30 days");

    let (_, before) = admin.get_html("/admin/stats?from=2020-01-01&to=2020-01-31").await;
    assert!(before.contains("id=\"stat-revenue\">¥0.00<"), "the range filters");
}

/// Days that are over are counted once and stored; a refund of an order paid on such a day makes
/// the day count again, so the page never shows a stale refund.
async fn past_days_are_stored_and_refunds_restate_them(app: TestApp) {
    let one = learner(&app, "13800138511").await;
    let two = learner(&app, "13800138512").await;
    let excel = one.bought("excel-data-analysis").await;
    two.bought("python-zero-to-one").await;
    // Both orders were made and paid three days ago.
    sqlx::query("UPDATE orders SET created_at = created_at - 259200, paid_at = paid_at - 259200")
        .execute(app.db.write())
        .await
        .unwrap();
    let day = kedian::domain::stats::shanghai_day(kedian::domain::time::now()) - 3;
    let date = kedian::domain::time::shanghai_date(kedian::domain::time::now() - 259_200);
    let stored = || async {
        let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sales_days_done WHERE day = $1")
            .bind(day)
            .fetch_one(app.db.read())
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sales_days WHERE day = $1")
            .bind(day)
            .fetch_one(app.db.read())
            .await
            .unwrap();
        (done, rows)
    };
    assert_eq!(stored().await, (0, 0), "nothing stored before anyone asks");

    let admin = app.staff().await;
    let daily = admin.get("/admin/stats?format=csv").await.text().await.unwrap();
    let line = daily.lines().find(|l| l.starts_with(&date)).expect("the day's row");
    assert!(line.starts_with(&format!("{date},")) && line.contains(",2,2,498.00,0.00,"), "{line}");
    assert_eq!(stored().await, (1, 2), "the day is stored: one row per course");
    assert!(stored().await.0 == 1);

    // Read from storage from now on: a change behind its back is not seen...
    sqlx::query("UPDATE orders SET amount_fen = amount_fen + 100").execute(app.db.write()).await.unwrap();
    let again = admin.get("/admin/stats?format=csv").await.text().await.unwrap();
    assert!(again.lines().any(|l| l.starts_with(&date) && l.contains(",498.00,")), "stored, not recounted");

    // ...but a refund of an order paid that day restates it.
    let page = format!("/admin/orders/{excel}");
    let done = admin.submit(&page, &format!("{page}/refund"), &[("amount", "200"), ("reason", "七天无理由")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(stored().await, (0, 0), "the refund forgot the day");
    let courses = admin.get("/admin/stats?format=csv&table=courses").await.text().await.unwrap();
    let excel_row = courses.lines().find(|r| r.contains(",1,200.00,")).expect("the Excel course, counted again");
    assert!(excel_row.contains(",1,200.00,200.00,100.0%,"), "{excel_row}");
    assert_eq!(stored().await, (1, 2));
}
