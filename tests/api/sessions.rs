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
    // The pre-login session itself is gone from the server: its CSRF token is not served again.
    let page = client(Arc::new(Jar::default())).get(app.url("/login")).header("Cookie", &before).send().await.unwrap();
    let token_with_old_cookie = crate::helpers::csrf_in(&page.text().await.unwrap());
    assert_ne!(token_with_old_cookie, token_before, "the old session was deleted at login");
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
    assert!(html.contains(">登录<") && !html.contains(">我的<"), "replayed cookie shows a logged-out page");
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
    // Rewrite the login time stored in the session to 31 days ago.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, state FROM sessions").fetch_all(app.db.read()).await.unwrap();
    for (id, state) in rows {
        let mut map: std::collections::HashMap<String, String> = serde_json::from_str(&state).unwrap();
        if map.contains_key("auth_at") {
            let old = kedian::domain::time::now() - 31 * 86_400;
            map.insert("auth_at".into(), old.to_string());
            sqlx::query("UPDATE sessions SET state = $1 WHERE id = $2")
                .bind(serde_json::to_string(&map).unwrap())
                .bind(id)
                .execute(app.db.write())
                .await
                .unwrap();
        }
    }
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
    app.login_by_code("13800138023").await;
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    assert_eq!(app.count("sessions").await, 0, "nothing in the database");
    let copied = app.session_cookie().unwrap();
    app.logout().await;
    assert_eq!(me_with_cookie(&app, &copied).await.status(), StatusCode::SEE_OTHER, "purged from Redis");
}
