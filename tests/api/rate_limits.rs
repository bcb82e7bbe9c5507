use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    one_code_per_phone_per_minute,
    ten_codes_per_phone_per_day,
    twenty_codes_per_address_per_hour,
    ten_wrong_passwords_lock_password_login,
    concurrent_requests_cannot_slip_past_a_limit,
);

async fn concurrent_requests_cannot_slip_past_a_limit(app: TestApp) {
    let (_, html) = app.get_html("/login").await;
    let token = crate::helpers::csrf_in(&html);
    let form = [("csrf_token", token.as_str()), ("method", "sms"), ("action", "send_code"), ("phone", "13800138014")];
    let requests = (0..10).map(|_| app.client.post(app.url("/login")).form(&form).send());
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(requests).await.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 9);
    assert_eq!(app.count("sms_codes").await, 1);
    assert_eq!(app.sms_count(), 1);
}

async fn one_code_per_phone_per_minute(app: TestApp) {
    assert_eq!(app.request_code("/login", "13800138010").await.status(), StatusCode::OK);
    let again = app.request_code("/register", "13800138010").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(again.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    let wait: i64 = again.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let html = again.text().await.unwrap();
    assert!(html.contains("验证码发送太频繁") && html.contains("秒后再试"), "{html}");
    assert_eq!(app.sms_count(), 1);
    assert_eq!(app.count("sms_codes").await, 1);
    app.age_codes(60).await;
    assert_eq!(app.request_code("/login", "13800138010").await.status(), StatusCode::OK);
}

async fn ten_codes_per_phone_per_day(app: TestApp) {
    for _ in 0..10 {
        assert_eq!(app.request_code("/login", "13800138011").await.status(), StatusCode::OK);
        app.age_codes(61).await;
    }
    let refused = app.request_code("/login", "13800138011").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.text().await.unwrap().contains("小时后再试"));
    assert_eq!(app.sms_count(), 10);
    // Another number is not affected.
    assert_eq!(app.request_code("/login", "13800138012").await.status(), StatusCode::OK);
}

async fn twenty_codes_per_address_per_hour(app: TestApp) {
    for i in 0..20 {
        let phone = format!("138001381{i:02}");
        assert_eq!(app.request_code("/login", &phone).await.status(), StatusCode::OK, "{phone}");
    }
    let refused = app.request_code("/login", "13800138199").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.text().await.unwrap().contains("分钟后再试"));
    assert_eq!(app.sms_count(), 20);
}

async fn ten_wrong_passwords_lock_password_login(app: TestApp) {
    app.register("13800138013", "right-password", "").await;
    app.logout().await;
    for _ in 0..10 {
        let response = app.login_by_password("13800138013", "wrong-password").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let locked = app.login_by_password("13800138013", "right-password").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(locked.headers().get("retry-after").is_some());
    let html = locked.text().await.unwrap();
    assert!(html.contains("密码错误次数过多") && html.contains("短信验证码登录"), "{html}");
    assert_eq!(app.get("/me").await.status(), StatusCode::SEE_OTHER, "not logged in");
    // SMS login still works, and after 15 minutes so does the password.
    app.age_codes(61).await;
    assert_eq!(app.login_by_code("13800138013").await.status(), StatusCode::SEE_OTHER);
    app.logout().await;
    sqlx::query("UPDATE login_failures SET created_at = created_at - 900").execute(app.db.write()).await.unwrap();
    assert_eq!(app.login_by_password("13800138013", "right-password").await.status(), StatusCode::SEE_OTHER);
}
