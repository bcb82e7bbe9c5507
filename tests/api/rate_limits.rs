use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, csrf_in, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    one_code_per_phone_per_minute,
    ten_codes_per_phone_per_day,
    twenty_codes_per_address_per_hour,
    ten_wrong_passwords_lock_password_login,
    the_owner_gets_in_by_sms_during_a_lock,
    concurrent_requests_cannot_slip_past_a_limit,
    strangers_cannot_burn_or_block_the_owners_code,
    strangers_cannot_lock_staff_out,
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

async fn ten_wrong_passwords_lock_password_login(owner: TestApp) {
    owner.register("13800138013", "right-password", "").await;
    owner.logout().await;
    // Guessed at from a browser that never signed in as that phone (the owner's is not paused).
    let app = owner.another_browser();
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
    assert!(html.contains("15 分钟后再试"), "the remaining wait is shown");
    // After 15 minutes the password works again.
    sqlx::query("UPDATE login_failures SET created_at = created_at - 900").execute(app.db.write()).await.unwrap();
    assert_eq!(app.login_by_password("13800138013", "right-password").await.status(), StatusCode::SEE_OTHER);
}

/// Whoever locked the password out, the phone's owner gets in by SMS code at once, and the code
/// ends the lock.
async fn the_owner_gets_in_by_sms_during_a_lock(owner: TestApp) {
    owner.register("13800138015", "right-password", "").await;
    owner.logout().await;
    // On a new device: the password is paused there too, and a code still gets the owner in.
    let app = owner.another_browser();
    for _ in 0..10 {
        app.login_by_password("13800138015", "guessing").await;
    }
    assert_eq!(app.login_by_password("13800138015", "right-password").await.status(), StatusCode::TOO_MANY_REQUESTS);
    app.age_codes(61).await;
    assert_eq!(app.login_by_code("13800138015").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    app.logout().await;
    assert_eq!(app.login_by_password("13800138015", "right-password").await.status(), StatusCode::SEE_OTHER);
}

async fn forwarded_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |s| s.trust_forwarded = true).await
}

mod one_source_cannot_guess_across_accounts {
    use super::*;
    #[tokio::test]
    async fn sqlite() {
        super::one_source_cannot_guess_across_accounts(forwarded_app(Backend::Sqlite).await.unwrap()).await
    }
    #[tokio::test]
    async fn postgres() {
        match forwarded_app(Backend::Postgres).await {
            Some(app) => super::one_source_cannot_guess_across_accounts(app).await,
            None => crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set"),
        }
    }
}

/// A password login posted from `ip` (the shop trusts X-Forwarded-For here, as behind a proxy).
async fn password_from(app: &TestApp, ip: &str, phone: &str, password: &str) -> reqwest::Response {
    let page = app.client.get(app.url("/login?method=password")).header("X-Forwarded-For", ip).send().await.unwrap();
    let token = csrf_in(&page.text().await.unwrap());
    let form = [
        ("csrf_token", token.as_str()),
        ("method", "password"),
        ("action", "login"),
        ("phone", phone),
        ("password", password),
    ];
    app.client.post(app.url("/login")).header("X-Forwarded-For", ip).form(&form).send().await.unwrap()
}

/// One address trying one password on each of many phones is stopped after 30 tries; its /24
/// (or /64) after 100. The limit is per source: other networks and SMS login are unaffected.
async fn one_source_cannot_guess_across_accounts(app: TestApp) {
    app.register("13800138016", "right-password", "").await;
    app.logout().await;
    let attacker = "203.0.113.7";
    for i in 0..30 {
        let response = password_from(&app, attacker, &format!("1390013{i:04}"), "123456").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "try {i}");
    }
    let refused = password_from(&app, attacker, "13900139999", "123456").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // What the client wrote itself (entries before the one the proxy appended, or a `Forwarded`
    // header) changes nothing: the address is still the attacker's.
    let forged = password_from(&app, &format!("198.51.100.20, {attacker}"), "13900139998", "123456").await;
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS, "a forged X-Forwarded-For entry");
    let page =
        app.client.get(app.url("/login?method=password")).header("X-Forwarded-For", attacker).send().await.unwrap();
    let token = csrf_in(&page.text().await.unwrap());
    let form = [
        ("csrf_token", token.as_str()),
        ("method", "password"),
        ("action", "login"),
        ("phone", "13900139997"),
        ("password", "1"),
    ];
    let forwarded = app
        .client
        .post(app.url("/login"))
        .header("Forwarded", "for=198.51.100.21")
        .header("X-Forwarded-For", attacker)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), StatusCode::TOO_MANY_REQUESTS, "a Forwarded header");
    assert!(refused.headers().get("retry-after").is_some());
    let html = refused.text().await.unwrap();
    assert!(html.contains("当前网络密码尝试过于频繁") && html.contains("分钟后再试"), "{html}");
    // Even a right password waits from that address; the account itself is not locked.
    assert_eq!(
        password_from(&app, attacker, "13800138016", "right-password").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        password_from(&app, "198.51.100.20", "13800138016", "right-password").await.status(),
        StatusCode::SEE_OTHER
    );
    app.logout().await;
    // A neighbour in the same /24 still may, until the network as a whole has failed 100 times.
    let neighbour = "203.0.113.99";
    assert_eq!(password_from(&app, neighbour, "13800138016", "wrong").await.status(), StatusCode::BAD_REQUEST);
    let mut tx = app.db.write().begin().await.unwrap();
    for i in 0..69 {
        sqlx::query("INSERT INTO auth_failures (ip, net, created_at) VALUES ($1, '203.0.113.0/24', $2)")
            .bind(format!("203.0.113.{}", 100 + i))
            .bind(kedian::domain::time::now())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(
        password_from(&app, neighbour, "13800138016", "right-password").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.count("login_failures").await, 1, "only the real account's one wrong password counts against it");
}

/// Strangers guessing at a phone's code guess at nothing: a code belongs to the browser that
/// asked for it. Strangers filling the phone's daily limit block each other, not the owner's
/// browser, which signed in as that phone before.
async fn strangers_cannot_burn_or_block_the_owners_code(app: TestApp) {
    let phone = "13800138019";
    app.login_by_code(phone).await;
    app.logout().await;
    app.age_codes(61).await;
    assert_eq!(app.request_code("/login", phone).await.status(), StatusCode::OK);
    let code = app.last_code(phone).unwrap();
    let stranger = app.another_browser();
    for guess in ["000000", "111111", "222222", "333333", "444444", &code] {
        let tried = stranger
            .submit("/login", "/login", &[("method", "sms"), ("action", "login"), ("phone", phone), ("code", guess)])
            .await;
        assert_eq!(tried.status(), StatusCode::BAD_REQUEST, "a stranger's browser has no code to use or burn");
    }
    let owner = app
        .submit("/login", "/login", &[("method", "sms"), ("action", "login"), ("phone", phone), ("code", &code)])
        .await;
    assert_eq!(owner.status(), StatusCode::SEE_OTHER, "the owner's code still works");
    app.logout().await;

    // Strangers use up the phone's ten texts a day (the owner had two of them)...
    for _ in 0..8 {
        app.age_codes(61).await;
        assert_eq!(app.another_browser().request_code("/login", phone).await.status(), StatusCode::OK);
    }
    app.age_codes(61).await;
    let blocked = app.another_browser().request_code("/login", phone).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "strangers are limited");
    // ...and the owner's browser still gets one, and signs in with it.
    assert_eq!(app.login_by_code(phone).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
}

/// Ten wrong passwords from strangers pause the staff account for everyone but the browser the
/// staff member signed in from before, which still gets in with the password and TOTP.
async fn strangers_cannot_lock_staff_out(app: TestApp) {
    use crate::helpers::{ADMIN_PHONE, STAFF_PASSWORD};
    let staff = app.staff().await;
    assert_eq!(staff.submit("/admin", "/admin/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    let guess = |password: &'static str| {
        let browser = app.another_browser();
        async move {
            browser.submit("/admin/login", "/admin/login", &[("phone", ADMIN_PHONE), ("password", password)]).await
        }
    };
    for _ in 0..10 {
        assert_eq!(guess("wrong-password").await.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(guess(STAFF_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS, "paused for strangers");
    let back =
        staff.submit("/admin/login", "/admin/login", &[("phone", ADMIN_PHONE), ("password", STAFF_PASSWORD)]).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "the staff member's own browser is not");
    let code = app.next_totp(ADMIN_PHONE).await;
    let verified = staff.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
    assert_eq!(verified.status(), StatusCode::SEE_OTHER);
    assert_eq!(staff.get("/admin").await.status(), StatusCode::OK);
}
