//! Signing in with WeChat inside the WeChat browser, against the simulator's OAuth: a buyer
//! imported with a unionid taps once and is in; an unknown WeChat is linked at the next phone
//! login and taps once after that; refusing consent leaves the phone login.

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, location};
use crate::wechat_sim::{Mode, WechatSim};
use crate::wechatpay::wechat_app;

const WECHAT: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47";

mod journeys {
    use super::*;

    async fn run(backend: Backend) {
        match wechat_app(backend, Mode::PublicKey).await {
            Some((app, sim)) => super::from_a_shared_link_to_a_playing_lesson(app, sim).await,
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
pub(crate) async fn tap(app: &TestApp, code: &str) -> reqwest::Response {
    // Inside WeChat the login page starts the silent look-up; declined or unknown, the page
    // comes back with the button.
    let page =
        app.client.get(app.url("/login?next=%2Fme%2Fcourses")).header("User-Agent", WECHAT).send().await.unwrap();
    assert_eq!(location(&page), "/login/wechat?silent=1&next=%2Fme%2Fcourses");
    let html = app
        .client
        .get(app.url("/login?next=%2Fme%2Fcourses&wechat=declined"))
        .header("User-Agent", WECHAT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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

/// Follows redirects as the WeChat browser does, across the shop and WeChat's OAuth pages (the
/// shop's public address stands for the test server). Returns the last response.
async fn follow(app: &TestApp, mut response: reqwest::Response) -> reqwest::Response {
    for _ in 0..10 {
        if !response.status().is_redirection() {
            return response;
        }
        let to = location(&response).replace("http://kedian.test", &app.url(""));
        let url = if to.starts_with("http") { to } else { app.url(&to) };
        response = app.client.get(url).header("User-Agent", WECHAT).send().await.unwrap();
    }
    panic!("too many redirects");
}

/// A tap on a link (GET) or a form's button (POST with the page's CSRF token), followed through.
async fn tap_link(app: &TestApp, href: &str) -> reqwest::Response {
    let response =
        app.client.get(app.url(&href.replace("&amp;", "&"))).header("User-Agent", WECHAT).send().await.unwrap();
    follow(app, response).await
}

fn path_of(response: &reqwest::Response) -> String {
    let url = response.url();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn href_in(html: &str, class: &str) -> String {
    let at = html.find(class).unwrap_or_else(|| panic!("no {class}"));
    let start = html[at..].find("href=\"").unwrap() + at + 6;
    html[start..].split('"').next().unwrap().to_string()
}

/// From a course link shared in WeChat to a playing first lesson: five taps for a learner the
/// shop knows by their WeChat (no consent screen), seven for a new one (counting the payment
/// sheet's 确认支付 and the player's ▶).
async fn from_a_shared_link_to_a_playing_lesson(app: TestApp, sim: WechatSim) {
    let slug = "excel-data-analysis";
    // A learner who signed in with WeChat before: their openid is linked.
    let known = app.another_browser();
    known.login_by_code("13800138975").await;
    let uid: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13800138975'").fetch_one(app.db.read()).await.unwrap();
    kedian::store::identities::link(
        &app.db,
        kedian::domain::UserId(uid),
        &[(kedian::store::identities::OPENID_OA, "o_sim_back")],
        kedian::domain::time::now(),
    )
    .await
    .unwrap();

    for (who, phone, expected) in [("back", "13800138975", 5), ("fresh", "13800138976", 7)] {
        *sim.state.wechat_user.lock().unwrap() = who.into();
        sim.state.oauth_scopes.lock().unwrap().clear();
        let learner = app.another_browser();
        let mut taps = 0;
        let (_, course) = {
            let r = learner
                .client
                .get(app.url(&format!("/courses/{slug}")))
                .header("User-Agent", WECHAT)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        };
        // 立即购买
        taps += 1;
        let buy = course
            .split("href=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap())
            .find(|h| h.contains("buy=excel-data-analysis"))
            .expect("立即购买 on the course page")
            .to_string();
        let mut page = tap_link(&learner, &buy).await;
        if who == "fresh" {
            assert!(path_of(&page).starts_with("/login?"), "a new learner signs in by phone: {}", path_of(&page));
            assert!(path_of(&page).contains("wechat=pending") && path_of(&page).contains("buy=excel-data-analysis"));
            let html = page.text().await.unwrap();
            assert!(html.contains("autocomplete=\"one-time-code\""), "the SMS code can be filled in by the phone");
            // 获取验证码, then 登录 with the code (typing is not a tap).
            taps += 1;
            let sent = learner
                .request_code(&format!("/login?next=%2Fcourses%2F{slug}&buy={slug}&wechat=pending"), phone)
                .await;
            assert_eq!(sent.status(), StatusCode::OK);
            let code = app.last_code(phone).unwrap();
            let login_page = sent.text().await.unwrap();
            assert!(login_page.contains("autofocus"), "the code field takes focus once the code is sent");
            taps += 1;
            let form = [
                ("csrf_token", crate::helpers::csrf_in(&login_page)),
                ("method", "sms".into()),
                ("next", format!("/courses/{slug}")),
                ("buy", slug.into()),
                ("phone", phone.into()),
                ("code", code),
                ("action", "login".into()),
            ];
            let response =
                learner.client.post(app.url("/login")).header("User-Agent", WECHAT).form(&form).send().await.unwrap();
            page = follow(&learner, response).await;
        }
        let pay_path = path_of(&page);
        assert!(pay_path.ends_with("/pay"), "{who}: on the pay page: {pay_path}");
        let scopes = sim.state.oauth_scopes.lock().unwrap().clone();
        assert_eq!(scopes, vec!["snsapi_base".to_string()], "{who}: no consent screen");
        let order_no = pay_path.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
        // 立即支付: the JSAPI page, with no second OAuth round trip (the openid is known).
        taps += 1;
        let jsapi = crate::wechatpay::choose(&learner, WECHAT, &order_no, "wechat_jsapi").await;
        assert_eq!(jsapi.status(), StatusCode::OK, "{who}: straight to WeChat's pay sheet");
        assert_eq!(sim.state.oauth_scopes.lock().unwrap().len(), 1);
        // 确认支付 in WeChat's sheet; the bridge then opens the return page.
        taps += 1;
        sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
        let done = tap_link(&learner, &format!("/orders/{order_no}/return")).await;
        assert!(path_of(&done).ends_with("/done"), "{who}: {}", path_of(&done));
        let html = done.text().await.unwrap();
        // 去学习
        taps += 1;
        let lesson = tap_link(&learner, &href_in(&html, "order-done")).await;
        assert!(path_of(&lesson).starts_with(&format!("/courses/{slug}/lessons/")));
        let html = crate::helpers::unescape(&lesson.text().await.unwrap());
        // ▶: the lesson's media answers.
        taps += 1;
        let media = html.split("data-mp4=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        assert_eq!(learner.get(&media).await.status(), StatusCode::OK);
        assert_eq!(taps, expected, "{who}: taps from the shared link to a playing lesson");
    }

    // A buyer the mini program's export knows by unionid only: the silent look-up finds no one,
    // so WeChat asks their consent once (which gives the unionid), and they are in, on to paying.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "phone,unionid\n13900139309,u_sim_mp9\n").unwrap();
    kedian::import::run(&app.db, dir.path(), false, &kedian::import::Silent).await.unwrap();
    *sim.state.wechat_user.lock().unwrap() = "mp9".into();
    sim.state.oauth_scopes.lock().unwrap().clear();
    let imported = app.another_browser();
    let page = tap_link(&imported, &format!("/login?next=%2Fcourses%2F{slug}&buy={slug}")).await;
    assert!(path_of(&page).ends_with("/pay"), "{}", path_of(&page));
    assert_eq!(*sim.state.oauth_scopes.lock().unwrap(), vec!["snsapi_base".to_string(), "snsapi_userinfo".into()]);
    let (_, me) = imported.get_html("/me").await;
    assert!(me.contains("139****9309"), "signed in as the imported buyer");
}

mod share_cards {
    use super::*;

    async fn run(backend: Backend) {
        match wechat_app(backend, Mode::PublicKey).await {
            Some((app, sim)) => super::pages_inside_wechat_get_a_signed_share_card(app, sim).await,
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

/// A course, group or referral page inside WeChat gets its JS-SDK `wx.config`, signed over the
/// simulator's ticket for that page's URL; the ticket is fetched once; other sites' URLs are refused.
async fn pages_inside_wechat_get_a_signed_share_card(app: TestApp, sim: WechatSim) {
    let (_, page) = app.get_html("/courses/excel-data-analysis").await;
    assert!(page.contains("/static/js/share.js?v=") && page.contains("data-sdk=\"/static/vendor/jweixin.js?v="));
    // A shop without the official account's secret has no share cards: the script is left out.
    let plain = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let (_, page) = plain.get_html("/courses/excel-data-analysis").await;
    assert!(!page.contains("js/share.js"), "no share script (and no 404 for its config) without WeChat");
    let url = "http://kedian.test/courses/excel-data-analysis?ref=ABCD2345";
    let mut seen = Vec::new();
    for _ in 0..2 {
        let q = serde_urlencoded::to_string([("url", url)]).unwrap();
        let response = app.get(&format!("/wechat/share-config?{q}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let config: serde_json::Value = response.json().await.unwrap();
        assert_eq!(config["appId"], crate::wechat_sim::APPID);
        let (nonce, timestamp) = (config["nonceStr"].as_str().unwrap(), config["timestamp"].as_i64().unwrap());
        let plain = format!(
            "jsapi_ticket={}&noncestr={nonce}&timestamp={timestamp}&url={url}",
            crate::wechat_sim::JSAPI_TICKET
        );
        let expected = hex::encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, plain.as_bytes()));
        assert_eq!(config["signature"], expected.as_str(), "signed as WeChat checks it");
        seen.push(nonce.to_string());
    }
    assert_ne!(seen[0], seen[1], "a fresh nonce each time");
    assert_eq!(*sim.state.tickets_issued.lock().unwrap(), 1, "the ticket is kept, not fetched per page");
    for bad in ["https://evil.example/courses/x", "http://kedian.test.evil.example/", "javascript:alert(1)"] {
        let q = serde_urlencoded::to_string([("url", bad)]).unwrap();
        assert_eq!(app.get(&format!("/wechat/share-config?{q}")).await.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}
