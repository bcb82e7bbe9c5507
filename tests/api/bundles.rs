//! Bundles (组合课): staff put courses in a bundle, a learner buys it at one price and owns each
//! course, and a refund counts the lessons learned across all of them.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::catalog_admin::create_course_as;
use crate::helpers::{TestApp, location};
use crate::on_both_backends;
use crate::refunds::refund_no_from;
use crate::stats::finish_lessons;

on_both_backends!(
    setup = automatic;
    a_bundle_is_made_bought_and_refunded_by_what_was_learned,
);
on_both_backends!(the_mini_programs_bundle_orders_give_its_courses);

async fn automatic(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, |s| s.refund_auto_approve_fen = 1_000_000).await
}

pub(crate) const BUNDLE: &str = "office-duo";

/// Makes and publishes the bundle through the back office; returns its id.
pub(crate) async fn make_bundle(app: &TestApp) -> i64 {
    app.make_staff("13900000031", Role::Operator).await;
    let staff = app.staff_as("13900000031").await;
    let editor = create_course_as(app, &staff, (BUNDLE, "职场双修组合", "bundle"), ("239", "298")).await;
    let id: i64 = editor.trim_start_matches("/admin/courses/").parse().unwrap();
    let page = format!("/admin/courses/{id}/bundle");
    let (status, editor) = staff.get_html(&format!("/admin/courses/{id}")).await;
    assert!(status == StatusCode::OK && editor.contains(&format!("href=\"{page}\"")), "the editor links to it");
    // Bad lists are refused beside the field and change nothing.
    for (typed, message) in [
        ("excel-data-analysis", "至少要包含 2 门"),
        ("excel-data-analysis annual-membership", "没有可以放进组合课的课程“annual-membership”"),
        ("excel-data-analysis, excel-data-analysis", "只能放一次"),
    ] {
        let refused = staff.submit(&page, &page, &[("courses", typed)]).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{typed}");
        let html = refused.text().await.unwrap();
        assert!(html.contains("id=\"courses-error\"") && html.contains(message), "{typed}: {message}");
    }
    let items = format!("bundle_items WHERE bundle_id = {id}");
    assert_eq!(app.count(&items).await, 0);
    let saved = staff.submit(&page, &page, &[("courses", "excel-data-analysis\neconomics-in-15-minutes")]).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count(&items).await, 2);
    let editor = format!("/admin/courses/{id}");
    let publish = format!("{editor}/publication");
    assert_eq!(staff.submit(&editor, &publish, &[("action", "publish")]).await.status(), StatusCode::SEE_OTHER);
    id
}

async fn a_bundle_is_made_bought_and_refunded_by_what_was_learned(app: TestApp) {
    make_bundle(&app).await;
    let (status, page) = app.get_html(&format!("/courses/{BUNDLE}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("包含 2 门课程") && page.contains("Excel 数据分析实战") && page.contains("¥239.00"));
    assert!(page.contains("单独购买共 ¥298.00"), "what the courses cost one by one");
    assert!(page.contains("2 门课程 · 共 12 节"), "7 + 5 lessons");

    // A learner who bought Excel on its own, then the bundle.
    let phone = "13800138601";
    app.login_by_code(phone).await;
    let excel = app.bought("excel-data-analysis").await;
    let order_no = app.bought(BUNDLE).await;
    assert!(app.owns(phone, "economics-in-15-minutes").await, "the bundle's courses are theirs");
    assert_eq!(location(&app.get(&format!("/orders/{order_no}/done")).await), "", "a done page, not a redirect");
    let (_, mine) = app.get_html("/me/courses").await;
    assert!(mine.contains("经济学") && mine.contains("Excel"));
    assert!(!mine.contains("职场双修组合"), "the bundle shows as its courses");
    let (_, bundle_page) = app.get_html(&format!("/courses/{BUNDLE}")).await;
    assert!(bundle_page.contains("href=\"/me/courses\""), "owned: learn from 我的课程");
    let again = app.submit("/me", &format!("/courses/{BUNDLE}/buy"), &[]).await;
    assert_eq!(again.status(), StatusCode::OK, "a bundle owned is not bought twice");
    assert_eq!(app.count("orders WHERE item_kind = 'bundle'").await, 1);

    // Two of its twelve lessons learned: 16%, under the 20% the terms allow.
    finish_lessons(&app, &app, "economics-in-15-minutes", 2).await;
    let (_, form) = app.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(form.contains("¥239.00"), "a full refund is offered: {form}");
    let refund_no = refund_no_from(&app.request_refund(&order_no, "bought_by_mistake", vec![]).await);
    let (_, refund) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(refund.contains("已退款"), "approved at once");
    assert_eq!(app.order_status(&order_no).await, "refunded");
    assert!(!app.owns(phone, "economics-in-15-minutes").await, "the bundle's course goes with it");
    assert!(!app.owns(phone, BUNDLE).await);
    assert!(app.owns(phone, "excel-data-analysis").await, "the course bought on its own stays");
    assert_eq!(app.order_status(&excel).await, "paid");

    // Another learner finishes one course of the bundle: 5 of 12 lessons, 41%, over the limit,
    // though the bundle's own page has no lessons and the other course was never opened.
    let other = app.another_browser();
    other.login_by_code("13800138602").await;
    let second = other.bought(BUNDLE).await;
    finish_lessons(&other, &other, "economics-in-15-minutes", 5).await;
    let (_, form) = other.get_html(&format!("/orders/{second}/refund")).await;
    assert!(form.contains("学习进度已达 41%"), "consumption across the bundle's courses: {form}");
}

async fn the_mini_programs_bundle_orders_give_its_courses(app: TestApp) {
    make_bundle(&app).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("courses.csv"), format!("product_id,course_slug\nb1,{BUNDLE}\n")).unwrap();
    std::fs::write(dir.path().join("users.csv"), "phone,nickname\n13900139201,甲\n").unwrap();
    let order = |id: &str, status: &str| {
        format!(
            r#"{{"order_id":"{id}","phone":"13900139201","product_id":"b1","amount":"239.00","paid_at":"2025-01-01 10:00","status":"{status}"}}"#
        )
    };
    std::fs::write(dir.path().join("orders.jsonl"), order("B1", "paid")).unwrap();
    let report = kedian::import::run(&app.db, dir.path(), false, &kedian::import::Silent).await.unwrap();
    assert_eq!(report.orders.inserted, 1);
    for slug in [BUNDLE, "excel-data-analysis", "economics-in-15-minutes"] {
        assert!(app.owns("13900139201", slug).await, "{slug}");
    }
    // Refunded in the mini program later: the next import takes every course back.
    std::fs::write(dir.path().join("orders.jsonl"), order("B1", "refunded")).unwrap();
    kedian::import::run(&app.db, dir.path(), false, &kedian::import::Silent).await.unwrap();
    for slug in [BUNDLE, "excel-data-analysis", "economics-in-15-minutes"] {
        assert!(!app.owns("13900139201", slug).await, "{slug}");
    }
}
