use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;

on_both_backends!(
    register_with_code_and_password_then_log_in_both_ways,
    login_by_code_creates_an_account_for_a_new_number,
    phone_formats_are_normalized,
    wrong_code_counts_down_then_burns,
    expired_code_is_refused,
    code_is_single_use,
    register_refuses_a_taken_number,
    nickname_can_be_changed,
    admin_area_is_guarded,
    next_cannot_leave_the_site,
);

async fn register_with_code_and_password_then_log_in_both_ways(app: TestApp) {
    let response = app.register("13912345678", "s3cret-pass", "小林").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/me");
    let (status, html) = app.get_html("/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("139****5678") && html.contains("小林") && html.contains("已设置"));
    assert!(!html.contains("13912345678"), "the full number is never shown");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE phone = '13912345678'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    assert_eq!(app.logout().await.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&app.get("/me").await), "/login?next=%2Fme");

    let wrong = app.login_by_password("13912345678", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.text().await.unwrap().contains("手机号或密码不正确"));
    let unknown = app.login_by_password("13700000001", "s3cret-pass").await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST, "same answer for an unknown number");
    assert!(unknown.text().await.unwrap().contains("手机号或密码不正确"));

    let ok = app.login_by_password("139 1234 5678", "s3cret-pass").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    app.logout().await;

    app.age_codes(61).await;
    let ok = app.login_by_code("13912345678").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("users").await, 2, "the demo admin and this learner");
}

async fn login_by_code_creates_an_account_for_a_new_number(app: TestApp) {
    let response = app.login_by_code("13800138000").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = app.get_html("/me").await;
    assert!(html.contains("138****8000") && html.contains("学员8000") && html.contains("未设置"));
    // The console-style message carries the code and says how long it lasts.
    let sent = app.sms.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "13800138000");
    assert!(sent[0].1.contains("5 分钟"));
}

async fn phone_formats_are_normalized(app: TestApp) {
    for input in ["+86 138-0013-8001", "0086 13800138001", "138 0013 8001"] {
        let response = app.login_by_code(input).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{input}");
        app.logout().await;
        app.age_codes(61).await;
    }
    assert_eq!(app.count("users").await, 2, "one learner, whatever the format");
}

async fn code_form(app: &TestApp, phone: &str, code: &str) -> reqwest::Response {
    app.submit("/login", "/login", &[("method", "sms"), ("action", "login"), ("phone", phone), ("code", code)]).await
}

fn wrong_code_for(right: &str) -> String {
    if right == "000000" { "000001".into() } else { "000000".into() }
}

async fn wrong_code_counts_down_then_burns(app: TestApp) {
    app.request_code("/login", "13800138002").await;
    let right = app.last_code("13800138002").unwrap();
    let wrong = wrong_code_for(&right);
    for left in (1..=4).rev() {
        let response = code_form(&app, "13800138002", &wrong).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.text().await.unwrap().contains(&format!("还可以再试 {left} 次")));
    }
    let fifth = code_form(&app, "13800138002", &wrong).await;
    assert!(fifth.text().await.unwrap().contains("已失效"));
    // Burned: even the right code no longer works.
    let response = code_form(&app, "13800138002", &right).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("已失效"));
    assert_eq!(app.count("users").await, 1);
}

async fn expired_code_is_refused(app: TestApp) {
    app.request_code("/login", "13800138003").await;
    let code = app.last_code("13800138003").unwrap();
    app.age_codes(5 * 60).await;
    let response = code_form(&app, "13800138003", &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("验证码已过期"));
    assert_eq!(app.count("users").await, 1);
    // Just inside five minutes it still works.
    app.request_code("/login", "13800138003").await;
    let code = app.last_code("13800138003").unwrap();
    app.age_codes(5 * 60 - 5).await;
    assert_eq!(code_form(&app, "13800138003", &code).await.status(), StatusCode::SEE_OTHER);
}

async fn code_is_single_use(app: TestApp) {
    assert_eq!(app.login_by_code("13800138004").await.status(), StatusCode::SEE_OTHER);
    let code = app.last_code("13800138004").unwrap();
    app.logout().await;
    let again = code_form(&app, "13800138004", &code).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("请先获取验证码"));
    let never_sent = code_form(&app, "13800138099", "123456").await;
    assert!(never_sent.text().await.unwrap().contains("请先获取验证码"));
}

async fn register_refuses_a_taken_number(app: TestApp) {
    assert_eq!(app.register("13800138005", "", "").await.status(), StatusCode::SEE_OTHER);
    app.logout().await;
    app.age_codes(61).await;
    let again = app.register("13800138005", "another-pass", "").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("该手机号已注册"));
    assert_eq!(app.count("users").await, 2);
}

async fn nickname_can_be_changed(app: TestApp) {
    app.login_by_code("13800138006").await;
    let response = app.submit("/me", "/me", &[("nickname", "  新昵称 ")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/me");
    let (_, html) = app.get_html("/me").await;
    assert!(html.contains("value=\"新昵称\"") && html.contains("已保存"));
    let (_, again) = app.get_html("/me").await;
    assert!(!again.contains("已保存"), "the notice shows once");
    let (_, forged) = app.get_html("/me?saved=1").await;
    assert!(!forged.contains("已保存"), "a link cannot claim something was saved");
    let bad = app.submit("/me", "/me", &[("nickname", &"长".repeat(21))]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("昵称最多 20 个字"));
    // Markup in a nickname is shown as text, never run.
    app.submit("/me", "/me", &[("nickname", "<b>x</b>")]).await;
    let (_, html) = app.get_html("/me").await;
    assert!(!html.contains("<b>x</b>") && unescape(&html).contains("value=\"<b>x</b>\""));
}

async fn admin_area_is_guarded(app: TestApp) {
    assert_eq!(location(&app.get("/admin").await), "/admin/login?next=%2Fadmin");
    app.login_by_code("13800138007").await;
    let (status, html) = app.get_html("/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("无权访问"));
    app.logout().await;
    app.age_codes(61).await;
    // The demo admin logging in by SMS is a learner session: the back office wants both factors.
    app.login_by_code("13800000000").await;
    assert!(location(&app.get("/admin").await).starts_with("/admin/login"));
    let staff = app.staff().await;
    let (status, html) = staff.get_html("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("管理后台"));
}

/// Logs in by code with a `next` field; returns where the shop sends the browser.
async fn login_with_next(app: &TestApp, phone: &str, next: &str) -> String {
    app.age_codes(61).await;
    app.request_code("/login", phone).await;
    let code = app.last_code(phone).unwrap();
    let fields = [("method", "sms"), ("action", "login"), ("phone", phone), ("code", &code), ("next", next)];
    let response = app.submit("/login", "/login", &fields).await;
    app.logout().await;
    location(&response)
}

async fn next_cannot_leave_the_site(app: TestApp) {
    assert_eq!(login_with_next(&app, "13800138008", "//evil.example/x").await, "/me");
    assert_eq!(login_with_next(&app, "13800138008", "https://evil.example/").await, "/me");
    assert_eq!(
        login_with_next(&app, "13800138008", "/courses/excel-data-analysis").await,
        "/courses/excel-data-analysis"
    );
}
