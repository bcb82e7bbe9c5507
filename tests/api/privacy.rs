//! 个人信息保护法: a learner downloads their data, and deletes their account (SMS-confirmed,
//! audited, signed out everywhere; orders kept, detached from the phone).

use kedian::domain::time::now;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, location, spawn_app_with};

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
    after_deletion_the_phone_is_nowhere,
);

async fn user_id(app: &TestApp, phone: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE phone = $1").bind(phone).fetch_one(app.db.read()).await.unwrap()
}

/// Reports a learning position the way the lesson page does.
async fn study(app: &TestApp, position: i64) {
    let catalog = app.catalog.snapshot();
    let lesson = catalog.course(SLUG).unwrap().lessons().find(|l| !l.free_preview).unwrap().id;
    assert_eq!(app.report_progress(SLUG, lesson, position, 100).await, StatusCode::NO_CONTENT);
}

async fn a_learner_downloads_everything_kept_about_them(app: TestApp) {
    assert_eq!(location(&app.get("/me/privacy/export").await), "/login?next=%2Fme%2Fprivacy");
    app.login_by_code("13800138301").await;
    let order_no = app.bought(SLUG).await;
    study(&app, 40).await;
    let lesson = app.first_paid_lesson(SLUG).await;
    let note = format!("/courses/{SLUG}/lessons/{lesson}/notes");
    let qa = format!("/courses/{SLUG}/lessons/{lesson}/questions");
    app.submit(&qa, &note, &[("at", "0:30"), ("body", "第一个透视表")]).await;
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
    assert_eq!(
        (data["notes"][0]["body"].as_str(), data["notes"][0]["at_secs"].as_i64()),
        (Some("第一个透视表"), Some(30))
    );

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
    // A question and a note under a lesson: theirs, so they go with the account.
    let lesson = app.first_paid_lesson(SLUG).await;
    let qa = format!("/courses/{SLUG}/lessons/{lesson}/questions");
    assert_eq!(app.submit(&qa, &qa, &[("body", "示例文件在哪里下载？")]).await.status(), StatusCode::SEE_OTHER);
    let note = format!("/courses/{SLUG}/lessons/{lesson}/notes");
    assert_eq!(app.submit(&qa, &note, &[("at", "0:10"), ("body", "记一下")]).await.status(), StatusCode::SEE_OTHER);
    // A gift signed with their real name, not yet claimed.
    let gift = "/courses/python-zero-to-one/gift";
    let to_pay = location(&app.submit(gift, gift, &[("copies", "1"), ("sender", "张小明")]).await);
    let gift_order = to_pay.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    app.pay_sandbox(&gift_order).await;
    let (_, gift_page) = app.get_html(&format!("/orders/{gift_order}")).await;
    let link = gift_page.split("/gifts/").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_string();
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
    for table in ["lesson_progress", "logins", "user_messages", "user_identities", "lesson_questions", "learner_notes"]
    {
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
    // The gift stays claimable, but no longer carries the name it was signed with.
    let signed: String = sqlx::query_scalar("SELECT gift_sender FROM orders WHERE order_no = $1")
        .bind(&gift_order)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(signed, "");
    let (_, friend_sees) = app.another_browser().get_html(&format!("/gifts/{link}")).await;
    assert!(friend_sees.contains("一位朋友 送你一门课") && !friend_sees.contains("张小明"));
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

/// Every table and text column the schema has, for a search of all the shop keeps.
async fn text_columns(app: &TestApp) -> Vec<(String, String)> {
    let sql = match app.db.backend() {
        kedian::store::Backend::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' \
             AND (p.type LIKE '%TEXT%' OR p.type LIKE '%CHAR%')"
        }
        kedian::store::Backend::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' \
             AND data_type IN ('text', 'character varying')"
        }
    };
    sqlx::query_as(sql).fetch_all(app.db.read()).await.unwrap()
}

/// A distributor with a payout account, texts sent and WeChat ids deletes their account; then a
/// search of every text column of every table finds their phone, name and ids nowhere. A new table
/// that keeps any of them without the deletion knowing fails here.
async fn after_deletion_the_phone_is_nowhere(app: TestApp) {
    let phone = "13800138309";
    app.make_staff("13900000002", kedian::domain::staff::Role::Admin).await;
    let staff = app.staff_as("13900000002").await;
    let on = [("distribution", "on"), ("distribution_rate", "10")];
    assert_eq!(staff.submit("/admin/settings", "/admin/settings", &on).await.status(), StatusCode::SEE_OTHER);
    app.login_by_code(phone).await;
    let id = user_id(&app, phone).await;
    let apply = [("real_name", "欧阳独一"), ("contact_phone", phone), ("reason", "同事都想学 Excel")];
    assert_eq!(app.submit("/me/distribution", "/me/distribution/apply", &apply).await.status(), StatusCode::SEE_OTHER);
    let decided =
        staff.submit("/admin/distributors", &format!("/admin/distributors/{id}"), &[("decision", "approve")]).await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    app.bought(SLUG).await;
    // Fixtures for what takes days to happen: a payout to their account, texts sent to them, and
    // their WeChat ids as the official account knows them.
    let at = now();
    let statements = [
        format!(
            "INSERT INTO payouts (distributor_id, amount_fen, status, account, requested_at) VALUES ({id}, 100, 'paid', 'alipay:{phone}', {at})"
        ),
        format!(
            "INSERT INTO sms_outbox (event_key, kind, phone, params, status, next_attempt_at, created_at, updated_at) VALUES ('t-{id}', 'refund_refunded', '{phone}', '{{\"no\":\"R1\"}}', 'sent', {at}, {at}, {at})"
        ),
        format!(
            "INSERT INTO user_identities (user_id, provider, value, created_at) VALUES ({id}, 'wechat_unionid', 'u_gone_{id}', {at})"
        ),
        format!("INSERT INTO oa_followers (openid, unionid, fetched_at) VALUES ('o_gone_{id}', 'u_gone_{id}', {at})"),
    ];
    for sql in &statements {
        sqlx::query(sql).execute(app.db.write()).await.unwrap();
    }
    let export = app.get("/me/privacy/export").await;
    let data: Value = export.json().await.unwrap();
    assert_eq!(data["distribution"]["application"][0]["real_name"], "欧阳独一", "the export has the application");
    assert_eq!(data["distribution"]["payouts"][0]["account"], format!("alipay:{phone}"));

    app.age_codes(61).await;
    delete_form(&app, &[("action", "send_code")]).await;
    let code = app.last_code(phone).unwrap();
    let done = delete_form(&app, &[("action", "delete"), ("code", &code), ("confirm", "on")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    let mut found = Vec::new();
    for (table, column) in text_columns(&app).await {
        for needle in [
            phone.to_string(),
            "****8309".to_string(),
            "欧阳独一".into(),
            format!("u_gone_{id}"),
            format!("o_gone_{id}"),
        ] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1");
            let n: i64 = sqlx::query_scalar(&sql).bind(format!("%{needle}%")).fetch_one(app.db.read()).await.unwrap();
            if n > 0 {
                found.push(format!("{table}.{column} has {needle}"));
            }
        }
    }
    assert!(found.is_empty(), "still kept after deletion: {found:?}");
    let payouts: i64 = sqlx::query_scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) FROM payouts")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(payouts, 100, "the books keep the amounts");
}
