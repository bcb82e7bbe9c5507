use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::cookie::Jar;

use crate::helpers::{TestApp, client, location};
use crate::on_both_backends;

on_both_backends!(
    session_is_renewed_at_login,
    copied_cookie_is_dead_after_logout,
    cookie_flags_are_strict,
    absolute_lifetime_ends_a_session,
    page_views_write_nothing_to_sessions,
    visitors_on_the_login_page_store_no_session,
);

/// A second browser that sends exactly this cookie header.
async fn me_with_cookie(app: &TestApp, cookie: &str) -> reqwest::Response {
    client(Arc::new(Jar::default())).get(app.url("/me")).header("Cookie", cookie).send().await.unwrap()
}

async fn session_is_renewed_at_login(app: TestApp) {
    let (_, html) = app.get_html("/login").await;
    let token_before = crate::helpers::csrf_in(&html);
    let before = app.session_cookie().expect("the login form starts a session");
    app.login_by_code("13800138020").await;
    let after = app.session_cookie().expect("logged-in session");
    assert_ne!(before, after, "a new session id at login");
    assert_eq!(me_with_cookie(&app, &after).await.status(), StatusCode::OK);
    let stale = me_with_cookie(&app, &before).await;
    assert_eq!(stale.status(), StatusCode::SEE_OTHER, "the pre-login cookie is not logged in");
    // The logged-in session has a CSRF token of its own.
    let page = client(Arc::new(Jar::default())).get(app.url("/me")).header("Cookie", &after).send().await.unwrap();
    let token_after = crate::helpers::csrf_in(&page.text().await.unwrap());
    assert_ne!(token_after, token_before, "a new CSRF token at login");
}

type SessionRow = (String, String, i64);

async fn session_rows(app: &TestApp) -> Vec<SessionRow> {
    sqlx::query_as("SELECT id, state, expires_at FROM sessions ORDER BY id").fetch_all(app.db.read()).await.unwrap()
}

async fn page_views_write_nothing_to_sessions(app: TestApp) {
    app.login_by_code("13800138024").await;
    let order_no = app.order_for("excel-data-analysis").await;
    app.pay_sandbox(&order_no).await;
    let before = session_rows(&app).await;
    assert!(!before.is_empty());
    for path in ["/me", "/me/courses", "/orders", "/courses/excel-data-analysis", "/", &format!("/orders/{order_no}")] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(session_rows(&app).await, before, "no write, not even the expiry");
    // Once the last extension is old enough, the next view pushes the expiry back (one write).
    app.age_sessions("seen", kedian::auth::session::EXTEND_EVERY_SECS + 1).await;
    sqlx::query("UPDATE sessions SET expires_at = expires_at - 100").execute(app.db.write()).await.unwrap();
    app.db.sessions_changed();
    let aged = session_rows(&app).await;
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    let extended = session_rows(&app).await;
    assert_eq!(extended.len(), aged.len());
    assert!(extended.iter().zip(&aged).all(|(new, old)| new.0 == old.0 && new.2 > old.2), "expiry extended");
    // Revocation is still exact: logging out ends it at once.
    let copied = app.session_cookie().unwrap();
    app.logout().await;
    assert_eq!(me_with_cookie(&app, &copied).await.status(), StatusCode::SEE_OTHER);
}

async fn visitors_on_the_login_page_store_no_session(app: TestApp) {
    let before = app.count("sessions").await;
    for _ in 0..20 {
        let fresh = client(Arc::new(Jar::default()));
        for path in ["/login", "/register"] {
            let page = fresh.get(app.url(path)).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            if path == "/login" {
                assert!(page.headers().get("set-cookie").is_some(), "the form's token travels in the cookie");
            }
        }
    }
    assert_eq!(app.count("sessions").await, before, "no row per visitor");
    // The stateless token works for the form it was made for, and only with its cookie.
    let (_, html) = app.get_html("/login").await;
    let token = crate::helpers::csrf_in(&html);
    let stranger = client(Arc::new(Jar::default()));
    let forged = stranger
        .post(app.url("/login"))
        .form(&[("csrf_token", token.as_str()), ("method", "sms"), ("phone", "13800138025"), ("code", "123456")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a token without its cookie is refused");
    let done = app.login_by_code("13800138025").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    assert_eq!(app.count("sessions").await, before + 1, "the login stores one session");
}

async fn copied_cookie_is_dead_after_logout(app: TestApp) {
    app.login_by_code("13800138021").await;
    let copied = app.session_cookie().unwrap();
    let sessions = app.count("sessions").await;
    app.logout().await;
    assert_eq!(app.count("sessions").await, sessions - 1, "purged on the server");
    let replay = me_with_cookie(&app, &copied).await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replay), "/login?next=%2Fme");
    let home = client(Arc::new(Jar::default())).get(app.url("/")).header("Cookie", &copied).send().await.unwrap();
    let html = home.text().await.unwrap();
    assert!(
        html.contains(">登录<") && !html.contains("class=\"nav-me nav-main\""),
        "replayed cookie shows a logged-out page"
    );
}

async fn cookie_flags_are_strict(app: TestApp) {
    let response = app.get("/login").await;
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("kedian_session="));
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    assert!(set_cookie.contains("Max-Age=604800"), "7-day idle timeout: {set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain HTTP in development");
    // Anonymous catalog pages start no session.
    let fresh = client(Arc::new(Jar::default()));
    let page = fresh.get(app.url("/courses/excel-data-analysis")).send().await.unwrap();
    assert!(page.headers().get("set-cookie").is_none());
    // The session row holds only a hash of the cookie's key.
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions").fetch_all(app.db.read()).await.unwrap();
    assert!(ids.iter().all(|id| id.len() == 64 && !set_cookie.contains(id.as_str())));
}

async fn absolute_lifetime_ends_a_session(app: TestApp) {
    app.login_by_code("13800138022").await;
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    // The login time stored in the session, 31 days ago.
    app.age_sessions("auth_at", 31 * 86_400).await;
    assert_eq!(app.get("/me").await.status(), StatusCode::SEE_OTHER, "past the 30-day lifetime");
}

#[tokio::test]
async fn cookie_is_secure_when_configured() {
    let app =
        crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| s.cookie_secure = true).await.unwrap();
    let response = app.get("/login").await;
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
}

#[tokio::test]
async fn sessions_live_in_redis_when_configured() {
    let Ok(url) = std::env::var("KEDIAN_TEST_REDIS_URL") else {
        crate::helpers::skip("KEDIAN_TEST_REDIS_URL is not set");
        return;
    };
    let app =
        crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| s.redis_url = Some(url)).await.unwrap();
    assert!(app.get("/readyz").await.text().await.unwrap().contains("redis: ok"), "readiness asks Redis");
    app.login_by_code("13800138023").await;
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    assert_eq!(app.count("sessions").await, 0, "nothing in the database");
    let copied = app.session_cookie().unwrap();
    app.logout().await;
    assert_eq!(me_with_cookie(&app, &copied).await.status(), StatusCode::SEE_OTHER, "purged from Redis");
}

/// Behind HTTPS the shop sends HSTS on every response and its cookie is Secure and host-only;
/// on plain HTTP (a lab) neither, since browsers would drop a Secure cookie there.
#[tokio::test]
async fn behind_https_cookies_are_host_only_and_hsts_is_sent() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.public_url = "https://shop.example".into();
        s.cookie_secure = true;
        s.allow_sandbox = true;
    })
    .await
    .expect("app");
    for path in ["/login", "/", "/static/css/site.css", "/healthz", "/no-such-page"] {
        let response = app.get(path).await;
        if path == "/login" {
            let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
            assert!(set_cookie.starts_with("__Host-kedian_session="), "{set_cookie}");
            assert!(
                set_cookie.contains("; Secure") && set_cookie.contains("Path=/") && !set_cookie.contains("Domain=")
            );
        }
        let hsts = response.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(hsts.as_deref(), Some("max-age=31536000"), "{path}");
    }
    let lab = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("app");
    assert!(lab.get("/").await.headers().get("strict-transport-security").is_none());
}
