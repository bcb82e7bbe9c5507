//! Signing in with WeChat inside the WeChat browser, against the simulator's OAuth: a buyer
//! imported with a unionid taps once and is in; an unknown WeChat is linked at the next phone
//! login and taps once after that; refusing consent leaves the phone login.

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, location};
use crate::wechat_sim::{Mode, WechatSim};
use crate::wechatpay::wechat_app;

const WECHAT: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47";

mod one_tap {
    use super::*;

    async fn run(backend: Backend) {
        match wechat_app(backend, Mode::PublicKey).await {
            Some((app, sim)) => super::wechat_sign_in(app, sim).await,
            None => crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set"),
        }
    }

    #[tokio::test]
    async fn sqlite() {
        run(Backend::Sqlite).await
    }

    #[tokio::test]
    async fn postgres() {
        run(Backend::Postgres).await
    }
}

/// Taps the WeChat button and comes back from WeChat's consent page with `code` (empty: declined).
async fn tap(app: &TestApp, code: &str) -> reqwest::Response {
    let page =
        app.client.get(app.url("/login?next=%2Fme%2Fcourses")).header("User-Agent", WECHAT).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("微信一键登录"), "the button shows inside WeChat");
    let start = app
        .client
        .get(app.url("/login/wechat?next=%2Fme%2Fcourses"))
        .header("User-Agent", WECHAT)
        .send()
        .await
        .unwrap();
    let to = location(&start);
    assert!(to.contains("scope=snsapi_userinfo"), "asks consent: {to}");
    let state = to.split("state=").nth(1).and_then(|s| s.split(['&', '#']).next()).unwrap().to_string();
    let back = format!("/login/wechat/callback?code={code}&state={state}");
    app.client.get(app.url(&back)).header("User-Agent", WECHAT).send().await.unwrap()
}

async fn wechat_sign_in(app: TestApp, _sim: WechatSim) {
    // Outside WeChat there is no button.
    let (_, pc) = app.get_html("/login").await;
    assert!(!pc.contains("微信一键登录"));

    // A buyer imported from the mini program with unionid u_sim_mp1.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "phone,unionid\n13900139301,u_sim_mp1\n").unwrap();
    let report = kedian::import::run(&app.db, dir.path(), false, &kedian::import::Silent).await.unwrap();
    assert_eq!(report.users.inserted, 1);
    let buyer = app.another_browser();
    let done = tap(&buyer, "mp1").await;
    assert_eq!(location(&done), "/me/courses", "one tap: signed in");
    let (_, me) = buyer.get_html("/me").await;
    assert!(me.contains("139****9301"), "as the imported buyer");

    // A WeChat nobody has: linked at the next phone login, one tap afterwards.
    let newcomer = app.another_browser();
    let pending = tap(&newcomer, "new1").await;
    assert_eq!(location(&pending), "/login?next=%2Fme%2Fcourses&wechat=pending");
    let (_, login) = newcomer.get_html(&location(&pending)).await;
    assert!(login.contains("这个微信还没有关联账号"));
    assert_eq!(newcomer.login_by_code("13800138971").await.status(), StatusCode::SEE_OTHER);
    let later = app.another_browser();
    assert_eq!(location(&tap(&later, "new1").await), "/me/courses");
    let (_, me) = later.get_html("/me").await;
    assert!(me.contains("138****8971"), "the same account");

    // No consent: back to the phone login.
    let shy = app.another_browser();
    assert_eq!(location(&tap(&shy, "").await), "/login?next=%2Fme%2Fcourses&wechat=declined");
    // A forged state is refused.
    let forged = app.another_browser().get("/login/wechat/callback?code=mp1&state=forged").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}
