//! WeChat Pay v3 against the local simulator, in both verification modes, on both backends.

use kedian::domain::Fen;
use kedian::domain::time::now;
use kedian::pay::wechatpay::crypto;
use kedian::pay::{RefundRequest, RefundState};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, csrf_in, location, spawn_app_with, unescape};
use crate::wechat_sim::{Event, Mode, WechatSim, fixture};

const PC: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
pub const PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36";
const WECHAT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI";

pub async fn wechat_app(backend: Backend, mode: Mode) -> Option<(TestApp, WechatSim)> {
    let sim = WechatSim::start(mode).await;
    let app = spawn_app_with(backend, |s| s.wechatpay_config = Some(sim.write_config(&s.data_dir))).await?;
    Some((app, sim))
}

/// Every test in certificate mode and in public-key mode, on both backends.
mod certificate {
    use super::*;
    crate::on_both_backends!(
        setup = |backend| wechat_app(backend, Mode::Certificate);
        native_qr_code_on_a_pc,
        h5_in_a_mobile_browser,
        jsapi_inside_wechat,
        forged_notifications_are_refused,
        lost_notification_found_by_query_and_expiry_closes_at_the_gateway,
        lost_notification_found_while_the_buyer_waits,
        refunds_go_through_the_api,
    );
}

mod public_key {
    use super::*;
    crate::on_both_backends!(
        setup = |backend| wechat_app(backend, Mode::PublicKey);
        native_qr_code_on_a_pc,
        h5_in_a_mobile_browser,
        jsapi_inside_wechat,
        forged_notifications_are_refused,
        lost_notification_found_by_query_and_expiry_closes_at_the_gateway,
        refunds_go_through_the_api,
    );
}

async fn get_as(app: &TestApp, ua: &str, path: &str) -> (StatusCode, String) {
    let response = app.client.get(app.url(path)).header("User-Agent", ua).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

pub async fn choose(app: &TestApp, ua: &str, order_no: &str, channel: &str) -> reqwest::Response {
    let page = format!("/orders/{order_no}/pay");
    let (_, html) = get_as(app, ua, &page).await;
    let token = csrf_in(&html);
    let form = [("csrf_token", token.as_str()), ("channel", channel)];
    app.client.post(app.url(&page)).header("User-Agent", ua).form(&form).send().await.unwrap()
}

pub async fn deliver(app: &TestApp, event: &Event) -> (StatusCode, String) {
    let mut request = app
        .client
        .post(app.url("/pay/notify/wechatpay"))
        .header("Content-Type", "application/json")
        .body(event.body.clone());
    for (name, value) in &event.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn native_qr_code_on_a_pc((app, sim): (TestApp, WechatSim)) {
    app.login_by_code("13800138090").await;
    let order_no = app.order_for("excel-data-analysis").await;
    let (_, html) = get_as(&app, PC, &format!("/orders/{order_no}/pay")).await;
    assert!(html.contains("value=\"wechat_native\"") && html.contains("微信扫码支付"));
    assert!(
        !html.contains("value=\"sandbox\"") && !html.contains("value=\"wechat_h5\""),
        "only what fits a PC, no sandbox"
    );

    let response = choose(&app, PC, &order_no, "wechat_native").await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("src=\"data:image/svg+xml;base64,") && html.contains("请用微信扫码支付"));
    assert!(
        html.contains(&format!("data-order-status=\"/orders/{order_no}/status\""))
            && html.contains("/static/js/poll.js")
    );
    let at_gateway = sim.order(&order_no).unwrap();
    assert_eq!((at_gateway.amount, at_gateway.trade_type.as_str()), (19900, "NATIVE"));
    assert_eq!(at_gateway.notify_url, "http://kedian.test/pay/notify/wechatpay");

    let status = app.get(&format!("/orders/{order_no}/status")).await.text().await.unwrap();
    assert_eq!(status, r#"{"status":"pending"}"#);
    sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
    let status = app.get(&format!("/orders/{order_no}/status")).await.text().await.unwrap();
    assert_eq!(status, r#"{"status":"paid"}"#);
    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(html.contains("已支付") && html.contains("开始学习") && html.contains(">42000"));
    assert_eq!(app.count("entitlements").await, 1);
    assert!(sim.state.refused.lock().unwrap().is_empty(), "every request was signed right");
}

async fn h5_in_a_mobile_browser((app, sim): (TestApp, WechatSim)) {
    app.login_by_code("13800138091").await;
    let order_no = app.order_for("excel-data-analysis").await;
    let (_, html) = get_as(&app, PHONE, &format!("/orders/{order_no}/pay")).await;
    assert!(html.contains("value=\"wechat_h5\"") && !html.contains("value=\"wechat_native\""));
    let response = choose(&app, PHONE, &order_no, "wechat_h5").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert!(to.starts_with("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx"), "{to}");
    let back = format!("redirect_url=http%3A%2F%2Fkedian.test%2Forders%2F{order_no}%2Freturn");
    assert!(to.ends_with(&back), "{to}");
    let at_gateway = sim.order(&order_no).unwrap();
    assert_eq!(at_gateway.trade_type, "H5");
    assert_eq!(at_gateway.client_ip.as_deref(), Some("127.0.0.1"));
    sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
}

async fn jsapi_inside_wechat((app, sim): (TestApp, WechatSim)) {
    app.login_by_code("13800138092").await;
    let order_no = app.order_for("excel-data-analysis").await;
    let (_, html) = get_as(&app, WECHAT, &format!("/orders/{order_no}/pay")).await;
    assert!(html.contains("value=\"wechat_jsapi\"") && !html.contains("value=\"wechat_h5\""));

    // First the openid, by the official account's silent OAuth.
    let response = choose(&app, WECHAT, &order_no, "wechat_jsapi").await;
    let to = location(&response);
    assert!(
        to.starts_with(&format!("{}/connect/oauth2/authorize?appid={}", sim.base_url, crate::wechat_sim::APPID)),
        "{to}"
    );
    assert!(
        to.contains("redirect_uri=http%3A%2F%2Fkedian.test%2Fpay%2Fwechat%2Foauth") && to.contains("scope=snsapi_base")
    );
    assert!(to.ends_with("#wechat_redirect"));
    let state = to.split("state=").nth(1).unwrap().split(['&', '#']).next().unwrap().to_string();
    assert!(sim.order(&order_no).is_none(), "nothing created at the gateway yet");
    let forged = app.get("/pay/wechat/oauth?code=C1&state=not-ours").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // The refused attempt used up the state; a new round trip starts over.
    let response = choose(&app, WECHAT, &order_no, "wechat_jsapi").await;
    let to = location(&response);
    let state2 = to.split("state=").nth(1).unwrap().split(['&', '#']).next().unwrap().to_string();
    assert_ne!(state, state2);
    let back = app.get(&format!("/pay/wechat/oauth?code=C1&state={state2}")).await;
    assert_eq!(location(&back), format!("/orders/{order_no}/pay?wechat=ready"));

    let response = choose(&app, WECHAT, &order_no, "wechat_jsapi").await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = unescape(&response.text().await.unwrap());
    let attr = |name: &str| html.split(&format!("{name}=\"")).nth(1).unwrap().split('"').next().unwrap().to_string();
    let (app_id, ts, nonce, package, sign) = (
        attr("data-app-id"),
        attr("data-time-stamp"),
        attr("data-nonce-str"),
        attr("data-package"),
        attr("data-pay-sign"),
    );
    assert_eq!(app_id, crate::wechat_sim::APPID);
    assert!(package.starts_with("prepay_id=wx"));
    assert_eq!(attr("data-sign-type"), "RSA");
    let merchant = crypto::public_key_from_pem(&fixture("merchant_pub.pem")).unwrap();
    assert!(
        crypto::verify(&merchant, &crypto::message(&[&app_id, &ts, &nonce, &package]), &sign),
        "paySign checks out"
    );
    assert_eq!(sim.order(&order_no).unwrap().openid.as_deref(), Some("o_sim_C1"));
    sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
}

async fn forged_notifications_are_refused((app, sim): (TestApp, WechatSim)) {
    app.login_by_code("13800138093").await;
    let order_no = app.order_for("excel-data-analysis").await;
    choose(&app, PC, &order_no, "wechat_native").await;
    let genuine = sim.order(&order_no).unwrap();
    let paid = crate::wechat_sim::SimOrder {
        state: "SUCCESS".into(),
        transaction_id: Some("4200000000000000001".into()),
        ..genuine
    };
    let s = &sim.state;
    let transaction = s.transaction_json(&order_no, &paid);
    let platform = crypto::private_key_from_pem(&fixture("platform_key.pem")).unwrap();
    let forger = crypto::private_key_from_pem(&fixture("forger_key.pem")).unwrap();

    let good = s.event(&transaction, &platform, &s.platform_serial, now());
    let mut flipped = good.body.clone().into_bytes();
    let at = flipped.len() / 2;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let flipped = Event { headers: good.headers.clone(), body: String::from_utf8(flipped).unwrap() };
    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut t = transaction.clone();
        change(&mut t);
        s.event(&t, &platform, &s.platform_serial, now())
    };
    let cases = [
        ("flipped body byte", flipped),
        ("wrong serial", s.event(&transaction, &platform, "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C", now())),
        ("stale timestamp", s.event(&transaction, &platform, &s.platform_serial, now() - 301)),
        ("wrong key", s.event(&transaction, &forger, &s.platform_serial, now())),
        ("amount mismatch", with(&|t| t["amount"]["total"] = json!(19800))),
        ("wrong appid", with(&|t| t["appid"] = json!("wx0000000000000000"))),
        ("wrong mchid", with(&|t| t["mchid"] = json!("1900000000"))),
        ("unknown order", with(&|t| t["out_trade_no"] = json!("20260101ABCDEFGHJKLM"))),
        ("no headers", Event { headers: vec![], body: good.body.clone() }),
    ];
    for (what, event) in &cases {
        let (status, body) = deliver(&app, event).await;
        assert!(status.is_client_error(), "{what}: {status} {body}");
        assert!(body.contains("FAIL"), "{what}: {body}");
    }
    assert_eq!(app.order_status(&order_no).await, "pending");
    assert_eq!(app.count("payments").await, 0);
    assert_eq!(app.count("entitlements").await, 0);
    let (status, _) = deliver(&app, &good).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.order_status(&order_no).await, "paid");
}

async fn lost_notification_found_by_query_and_expiry_closes_at_the_gateway((app, sim): (TestApp, WechatSim)) {
    app.login_by_code("13800138094").await;
    let lost = app.order_for("excel-data-analysis").await;
    choose(&app, PC, &lost, "wechat_native").await;
    let unpaid = app.order_for("python-zero-to-one").await;
    choose(&app, PC, &unpaid, "wechat_native").await;
    sim.pay(&lost, None).await;
    app.run_order_jobs(now() + kedian::jobs::orders::RECONCILE_AFTER_SECS + 1).await;
    assert_eq!(app.order_status(&lost).await, "paid", "found by a signed query");
    assert_eq!(app.order_status(&unpaid).await, "pending");
    app.run_order_jobs(now() + 31 * 60).await;
    assert_eq!(app.order_status(&unpaid).await, "closed");
    assert_eq!(sim.order(&unpaid).unwrap().state, "CLOSED", "closed at the gateway too");
}

/// The QR page's poll asks WeChat Pay when the buyer has paid and the notification is lost: the
/// order turns paid while they look at the page, not at the next reconciliation.
async fn lost_notification_found_while_the_buyer_waits((app, sim): (TestApp, WechatSim)) {
    app.login_by_code("13800138095").await;
    let order_no = app.order_for("excel-data-analysis").await;
    choose(&app, PC, &order_no, "wechat_native").await;
    let poll = format!("/orders/{order_no}/status");
    assert_eq!(app.get(&poll).await.text().await.unwrap(), r#"{"status":"pending"}"#);
    sim.pay(&order_no, None).await;
    let status = crate::helpers::eventually_some("an answer on the poll", || async {
        Some(app.get(&poll).await.text().await.unwrap()).filter(|s| s != r#"{"status":"pending"}"#)
    })
    .await;
    assert_eq!(status, r#"{"status":"paid"}"#, "found by a signed query on the poll");
    assert_eq!(app.count("entitlements").await, 1);
    assert!(sim.state.refused.lock().unwrap().is_empty(), "every request was signed right");
}

async fn refunds_go_through_the_api((app, sim): (TestApp, WechatSim)) {
    let provider = app.providers.get("wechatpay").unwrap().clone();
    let req = RefundRequest {
        order_no: "20261121ABCDEFGHJKLM",
        out_refund_no: "R20261121X",
        amount: Fen(500),
        order_amount: Fen(19900),
        reason: "测试",
    };
    assert_eq!(provider.refund(&req).await.unwrap(), RefundState::Succeeded);
    assert_eq!(provider.query_refund("20261121ABCDEFGHJKLM", "R20261121X").await.unwrap(), RefundState::Succeeded);
    assert_eq!(sim.state.refunds.lock().unwrap().get("R20261121X"), Some(&500));
    assert!(
        provider.query_refund("20261121ABCDEFGHJKLM", "R-unknown").await.is_ok_and(|s| s != RefundState::Succeeded)
    );
}

#[tokio::test]
async fn incomplete_configuration_is_not_offered() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        let path = s.data_dir.join("wechatpay.toml");
        std::fs::write(&path, "appid = \"wx1\"\n").unwrap();
        s.wechatpay_config = Some(path);
    })
    .await
    .unwrap();
    assert!(app.providers.get("wechatpay").is_none());
    app.login_by_code("13800138095").await;
    let order_no = app.order_for("excel-data-analysis").await;
    let (_, html) = app.get_html(&format!("/orders/{order_no}/pay")).await;
    assert!(html.contains("value=\"sandbox\"") && !html.contains("wechat"), "the sandbox stands in");
}

/// The gateway cannot be reached: the pay page says so and suggests another method, and that
/// other method then works (the failed attempt is closed, not left blocking the order).
#[tokio::test]
async fn after_a_failed_gateway_call_another_method_works() {
    let sim = WechatSim::start(Mode::Certificate).await;
    let alipay = crate::alipay_sim::AlipaySim::start().await;
    let app = spawn_app_with(Backend::Sqlite, |s| {
        let path = sim.write_config(&s.data_dir);
        let text = std::fs::read_to_string(&path).unwrap().replace(&sim.base_url, "http://127.0.0.1:9");
        std::fs::write(&path, text).unwrap();
        s.wechatpay_config = Some(path);
        s.alipay_config = Some(alipay.write_config(&s.data_dir));
    })
    .await
    .unwrap();
    app.login_by_code("13800138090").await;
    let order_no = app.order_for("excel-data-analysis").await;
    let page = format!("/orders/{order_no}/pay");
    let failed = app.submit(&page, &page, &[("channel", "wechat_native")]).await;
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    assert!(failed.text().await.unwrap().contains("换一种支付方式"));
    let switched = app.submit(&page, &page, &[("channel", "alipay_page")]).await;
    assert_eq!(switched.status(), StatusCode::SEE_OTHER, "the suggested switch is allowed");
    assert!(location(&switched).starts_with(&alipay.gateway_url), "on to Alipay's cashier");
    let provider: Option<String> = sqlx::query_scalar("SELECT pay_provider FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(provider.as_deref(), Some("alipay"));
}
