//! 个人信息保护法: a learner downloads their data, and deletes their account (SMS-confirmed,
//! audited, signed out everywhere; orders kept, detached from the phone).

use kedian::domain::time::now;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, location, spawn_app_with, unescape};

const SLUG: &str = "excel-data-analysis";

/// Refunds above 0 fen wait for staff here, so one can be left open.
async fn app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |s| s.refund_auto_approve_fen = 0).await
}

crate::on_both_backends!(
    setup = app;
    a_learner_downloads_everything_kept_about_them,
    deletion_needs_the_code_and_the_box_and_keeps_the_orders,
    deletion_waits_for_an_open_refund,
);

async fn user_id(app: &TestApp, phone: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE phone = $1").bind(phone).fetch_one(app.db.read()).await.unwrap()
}

/// Reports a learning position the way the lesson page does.
async fn study(app: &TestApp, position: i64) {
    let catalog = app.catalog.snapshot();
    let lesson = catalog.course(SLUG).unwrap().lessons().find(|l| !l.free_preview).unwrap().id;
    let html = unescape(&app.get_html(&format!("/courses/{SLUG}/lessons/{lesson}")).await.1);
    let token = html.split("data-csrf=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let response = app
        .client
        .post(app.url(&format!("/progress/{lesson}")))
        .header("Content-Type", "application/json")
        .header("X-CSRF-Token", token)
        .body(format!(r#"{{"position":{position},"duration":100}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

async fn a_learner_downloads_everything_kept_about_them(app: TestApp) {
    assert_eq!(location(&app.get("/me/privacy/export").await), "/login?next=%2Fme%2Fprivacy");
    app.login_by_code("13800138301").await;
    let order_no = app.bought(SLUG).await;
    study(&app, 40).await;
    let response = app.get("/me").await;
    assert_eq!(response.headers()["cache-control"], "private, no-store", "personal pages are never stored");
    let (status, me) = app.get_html("/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(me.contains("href=\"/me/privacy\""), "reachable from 我的");
    assert!(me.contains("<strong>1</strong><span>已购课程</span>"), "the 个人中心 counts what the learner has");
    let (status, page) = app.get_html("/me/privacy").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("下载我的数据") && page.contains("注销账号") && page.contains("依法保留"));

    let response = app.get("/me/privacy/export").await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_string();
    assert!(header("content-disposition").starts_with("attachment; filename=\"kedian-my-data-"));
    assert_eq!(header("cache-control"), "private, no-store");
    let data: Value = response.json().await.unwrap();
    assert_eq!(data["account"]["phone"], "13800138301");
    assert_eq!(data["orders"][0]["order_no"], order_no.as_str());
    assert_eq!(data["orders"][0]["status"], "paid");
    assert_eq!(data["learning_progress"][0]["last_position_secs"], 40, "progress reported a moment ago");
    assert!(data["logins"].as_array().is_some_and(|l| !l.is_empty()));

    // Someone else's export holds only their own account.
    let other = app.another_browser();
    other.login_by_code("13800138302").await;
    let theirs: Value = other.get("/me/privacy/export").await.json().await.unwrap();
    assert_eq!(theirs["account"]["phone"], "13800138302");
    assert_eq!(theirs["orders"].as_array().map(Vec::len), Some(0));
}

async fn delete_form(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.submit("/me/privacy", "/me/privacy/delete", fields).await
}

async fn deletion_needs_the_code_and_the_box_and_keeps_the_orders(app: TestApp) {
    let phone = "13800138303";
    app.login_by_code(phone).await;
    let id = user_id(&app, phone).await;
    let order_no = app.bought(SLUG).await;
    study(&app, 30).await;
    app.flush_progress().await;
    let second_device = app.another_browser();
    app.age_codes(61).await;
    second_device.login_by_code(phone).await;
    let payments = app.count("payments").await;

    // Nothing typed: both fields say what is missing, and nothing changes.
    let empty = delete_form(&app, &[("action", "delete")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let html = empty.text().await.unwrap();
    assert!(html.contains("id=\"code-error\"") && html.contains("请勾选确认"), "{html}");
    // A code must have been sent to the account's own phone.
    app.age_codes(61).await;
    let sent = delete_form(&app, &[("action", "send_code")]).await;
    assert_eq!(sent.status(), StatusCode::OK);
    let sent = sent.text().await.unwrap();
    assert!(sent.contains("138****8303"), "{sent}");
    let code = app.last_code(phone).expect("a code was texted");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = delete_form(&app, &[("action", "delete"), ("code", wrong), ("confirm", "on")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("验证码不正确"));
    let unticked = delete_form(&app, &[("action", "delete"), ("code", &code)]).await;
    assert_eq!(unticked.status(), StatusCode::BAD_REQUEST);
    let status: String =
        sqlx::query_scalar("SELECT status FROM users WHERE id = $1").bind(id).fetch_one(app.db.read()).await.unwrap();
    assert_eq!(status, "active", "nothing changed yet");

    let done = delete_form(&app, &[("action", "delete"), ("code", &code), ("confirm", "on")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", done.text().await.unwrap_or_default());
    let (status, page) = app.get_html("/me/privacy/deleted").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("账号已注销"));
    // Signed out here and on the other device.
    assert_eq!(app.get("/me").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(second_device.get("/me").await.status(), StatusCode::SEE_OTHER);

    let (stored_phone, nickname, hash): (String, String, Option<String>) =
        sqlx::query_as("SELECT phone, nickname, password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!(
        (stored_phone.as_str(), nickname.as_str(), hash),
        (format!("deleted:{id}").as_str(), "已注销用户", None)
    );
    for table in ["lesson_progress", "logins", "user_messages", "user_identities"] {
        let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1"))
            .bind(id)
            .fetch_one(app.db.read())
            .await
            .unwrap();
        assert_eq!(left, 0, "{table} removed");
    }
    let codes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sms_codes WHERE phone = $1")
        .bind(phone)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(codes, 0);
    // The order and its payment stay for the accounts, under the anonymized account.
    let owner: i64 = sqlx::query_scalar("SELECT user_id FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(owner, id);
    assert_eq!(app.count("payments").await, payments);
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'user.delete' AND target_id = $1")
            .bind(id.to_string())
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!(audited, 1);
    // Staff see the order under a deleted account, without the phone.
    let staff = app.staff().await;
    let (_, detail) = staff.get_html(&format!("/admin/orders?q={order_no}")).await;
    assert!(!detail.contains("138****8303") && !detail.contains(phone));

    // Staff see the account as deleted and cannot act on it.
    let (_, page) = staff.get_html(&format!("/admin/users/{id}")).await;
    assert!(page.contains("该账号已由本人注销") && !page.contains(&format!("/admin/users/{id}/grant")));
    let grant =
        staff.submit("/admin/settings", &format!("/admin/users/{id}/grant"), &[("course", "1"), ("reason", "x")]).await;
    assert_eq!(grant.status(), StatusCode::FORBIDDEN);

    // The phone can register again: a new, empty account.
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    assert_ne!(user_id(&app, phone).await, id);
    let (_, courses) = app.get_html("/me/courses").await;
    assert!(!courses.contains(&format!("/courses/{SLUG}/lessons/")), "purchases do not come back");
    let _ = now();
}

async fn deletion_waits_for_an_open_refund(app: TestApp) {
    let phone = "13800138304";
    app.login_by_code(phone).await;
    let order_no = app.bought(SLUG).await;
    let asked = app.request_refund(&order_no, "not_as_described", vec![]).await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    app.age_codes(61).await;
    delete_form(&app, &[("action", "send_code")]).await;
    let code = app.last_code(phone).unwrap();
    let refused = delete_form(&app, &[("action", "delete"), ("code", &code), ("confirm", "on")]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("退款正在处理中"));
    assert_eq!(app.get("/me").await.status(), StatusCode::OK, "still signed in, nothing deleted");
    let status: String = sqlx::query_scalar("SELECT status FROM users WHERE phone = $1")
        .bind(phone)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(status, "active");
}
