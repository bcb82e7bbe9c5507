//! The web app's files as a browser fetches them.

use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(manifest_worker_and_offline_page);

async fn manifest_worker_and_offline_page(app: TestApp) {
    let manifest = app.get("/manifest.webmanifest").await;
    assert_eq!(manifest.headers()["content-type"], "application/manifest+json");
    let m: serde_json::Value = manifest.json().await.unwrap();
    assert_eq!((m["start_url"].as_str(), m["display"].as_str()), (Some("/?source=pwa"), Some("standalone")));
    assert!(m["icons"].as_array().unwrap().iter().any(|i| i["sizes"] == "512x512"));
    let worker = app.get("/sw.js").await;
    assert_eq!(worker.status(), StatusCode::OK);
    assert_eq!(worker.headers()["cache-control"], "no-cache");
    let code = worker.text().await.unwrap();
    assert!(
        code.contains("'/offline'") && code.contains("url.pathname.startsWith('/static/')"),
        "caches the shell only"
    );
    let (status, offline) = app.get_html("/offline").await;
    assert_eq!(status, StatusCode::OK);
    assert!(offline.contains("网络不可用"));
    assert!(offline.contains("href=\"\">"), "重试 reloads the page the learner wanted, not /");
    assert!(
        !offline.contains("/login") && !offline.contains("href=\"/me\""),
        "kept for days: says nothing of who is signed in"
    );
    let (_, home) = app.get_html("/").await;
    assert!(home.contains("rel=\"manifest\"") && home.contains("src=\"/static/js/pwa.js?v="));
}
