use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::cookie::Jar;

use crate::helpers::{TestApp, client, csrf_in};
use crate::on_both_backends;

on_both_backends!(forms_without_the_right_token_change_nothing, foreign_origin_is_refused, logout_needs_a_token);

async fn forms_without_the_right_token_change_nothing(app: TestApp) {
    app.get("/login").await;
    for fields in [
        vec![("method", "sms"), ("action", "send_code"), ("phone", "13800138030")],
        vec![("csrf_token", ""), ("method", "sms"), ("action", "send_code"), ("phone", "13800138030")],
        vec![("csrf_token", "0000"), ("method", "sms"), ("action", "send_code"), ("phone", "13800138030")],
    ] {
        let response = app.post_raw("/login", &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let html = response.text().await.unwrap();
        assert!(html.contains("页面已过期") && html.contains("刷新页面"), "{html}");
    }
    // A token from another visitor's session is no good either.
    let other = client(Arc::new(Jar::default()));
    let html = other.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let stolen = csrf_in(&html);
    let response = app
        .post_raw(
            "/login",
            &[("csrf_token", &stolen), ("method", "sms"), ("action", "send_code"), ("phone", "13800138030")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.sms_count(), 0);
    assert_eq!(app.count("sms_codes").await, 0);
}

async fn foreign_origin_is_refused(app: TestApp) {
    let (_, html) = app.get_html("/login").await;
    let token = csrf_in(&html);
    let form = [("csrf_token", token.as_str()), ("method", "sms"), ("action", "send_code"), ("phone", "13800138031")];
    let response =
        app.client.post(app.url("/login")).header("Origin", "https://evil.example").form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.sms_count(), 0);
    let response =
        app.client.post(app.url("/login")).header("Origin", app.address.clone()).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "own origin passes");
    assert_eq!(app.sms_count(), 1);
}

async fn logout_needs_a_token(app: TestApp) {
    app.login_by_code("13800138032").await;
    let response = app.post_raw("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK, "still logged in");
    // Logging out by GET is not a thing.
    assert_ne!(app.get("/logout").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
}
