//! Alipay against the local simulator, on both backends.

use std::collections::BTreeMap;

use kedian::domain::Fen;
use kedian::domain::time::{now, shanghai_seconds};
use kedian::pay::signing::private_key_from_pem;
use kedian::pay::{RefundRequest, RefundState};
use reqwest::StatusCode;

use crate::alipay_sim::{AlipaySim, fixture};
use crate::helpers::{Backend, TestApp, csrf_in, location, spawn_app_with};

const PC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
const WECHAT: &str =
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47";

async fn alipay_app(backend: Backend) -> Option<(TestApp, AlipaySim)> {
    let sim = AlipaySim::start().await;
    let app = spawn_app_with(backend, |s| s.alipay_config = Some(sim.write_config(&s.data_dir))).await?;
    Some((app, sim))
}

crate::on_both_backends!(
    setup = alipay_app;
    wap_pay_in_a_mobile_browser,
    page_pay_on_a_pc,
    inside_wechat_a_guide_replaces_alipay,
    forged_notifications_are_refused,
    lost_notification_found_by_query_and_expiry_closes_the_trade,
    lost_notification_found_when_the_buyer_returns,
    refunds_go_through_the_api,
    a_learners_refund_goes_back_through_alipay,
);

async fn get_as(app: &TestApp, ua: &str, path: &str) -> String {
    app.client.get(app.url(path)).header("User-Agent", ua).send().await.unwrap().text().await.unwrap()
}

async fn choose(app: &TestApp, ua: &str, order_no: &str, channel: &str) -> reqwest::Response {
    let page = format!("/orders/{order_no}/pay");
    let token = csrf_in(&get_as(app, ua, &page).await);
    app.client
        .post(app.url(&page))
        .header("User-Agent", ua)
        .form(&[("csrf_token", token.as_str()), ("channel", channel)])
        .send()
        .await
        .unwrap()
}

/// Follows the shop's redirect to the gateway, as the buyer's browser does.
async fn to_cashier(app: &TestApp, ua: &str, order_no: &str, channel: &str) -> String {
    let response = choose(app, ua, order_no, channel).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let url = location(&response);
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the gateway accepted the signed request");
    url
}

async fn deliver(app: &TestApp, fields: &BTreeMap<String, String>) -> (StatusCode, String) {
    let response = app.client.post(app.url("/pay/notify/alipay")).form(fields).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn wap_pay_in_a_mobile_browser((app, sim): (TestApp, AlipaySim)) {
    app.login_by_code("13800138100").await;
    let order_no = app.order_for("excel-data-analysis").await;
    let html = get_as(&app, PHONE, &format!("/orders/{order_no}/pay")).await;
    assert!(
        html.contains("value=\"alipay_wap\"") && html.contains("支付宝") && !html.contains("value=\"alipay_page\"")
    );
    let url = to_cashier(&app, PHONE, &order_no, "alipay_wap").await;
    assert!(url.starts_with(&sim.gateway_url) && url.contains("method=alipay.trade.wap.pay"), "{url}");
    let trade = sim.trade(&order_no).unwrap();
    assert_eq!((trade.total_amount.as_str(), trade.product_code.as_str()), ("199.00", "QUICK_WAP_WAY"));
    assert_eq!(trade.method, "alipay.trade.wap.pay", "the gateway saw the WAP method in the signed request");
    assert_eq!(trade.notify_url, "http://kedian.test/pay/notify/alipay");
    assert_eq!(trade.return_url, format!("http://kedian.test/orders/{order_no}/return"));
    sim.pay(&order_no, Some(&app.url("/pay/notify/alipay"))).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(html.contains("支付宝") && html.contains("开始学习") && html.contains(">2026112122001"));
}

async fn page_pay_on_a_pc((app, sim): (TestApp, AlipaySim)) {
    app.login_by_code("13800138101").await;
    let order_no = app.order_for("python-zero-to-one").await;
    let url = to_cashier(&app, PC, &order_no, "alipay_page").await;
    assert!(url.contains("method=alipay.trade.page.pay"));
    let trade = sim.trade(&order_no).unwrap();
    assert_eq!(
        (trade.method.as_str(), trade.product_code.as_str()),
        ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY")
    );
    sim.pay(&order_no, Some(&app.url("/pay/notify/alipay"))).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
}

async fn inside_wechat_a_guide_replaces_alipay((app, _sim): (TestApp, AlipaySim)) {
    app.login_by_code("13800138102").await;
    let order_no = app.order_for("excel-data-analysis").await;
    let html = get_as(&app, WECHAT, &format!("/orders/{order_no}/pay")).await;
    assert!(!html.contains("value=\"alipay_wap\"") && !html.contains("value=\"alipay_page\""));
    assert!(html.contains("在浏览器打开"), "explains how to leave WeChat to use Alipay");
}

async fn forged_notifications_are_refused((app, sim): (TestApp, AlipaySim)) {
    app.login_by_code("13800138103").await;
    let order_no = app.order_for("excel-data-analysis").await;
    to_cashier(&app, PHONE, &order_no, "alipay_wap").await;
    let mut trade = sim.trade(&order_no).unwrap();
    trade.trade_no = Some("2026112122001999999999".into());
    let s = &sim.state;
    let alipay = sim.alipay_key().clone();
    let forger = private_key_from_pem(&fixture("app_private_key.pem")).unwrap();
    let good = s.notification(&order_no, &trade, &alipay, |_| {});
    let mut changed_after_signing = good.clone();
    changed_after_signing.insert("total_amount".into(), "0.01".into());
    let mut unsigned = good.clone();
    unsigned.remove("sign");
    let mut rsa1 = good.clone();
    rsa1.insert("sign_type".into(), "RSA".into());
    let cases = [
        ("changed after signing", changed_after_signing),
        ("no signature", unsigned),
        ("sign_type RSA", rsa1),
        ("wrong key", s.notification(&order_no, &trade, &forger, |_| {})),
        (
            "wrong app_id",
            s.notification(&order_no, &trade, &alipay, |p| {
                p.insert("app_id".into(), "2021000000000000".into());
            }),
        ),
        (
            "wrong seller_id",
            s.notification(&order_no, &trade, &alipay, |p| {
                p.insert("seller_id".into(), "2088000000000000".into());
            }),
        ),
        (
            "amount mismatch",
            s.notification(&order_no, &trade, &alipay, |p| {
                p.insert("total_amount".into(), "198.00".into());
            }),
        ),
        ("unknown order", s.notification("20260101ABCDEFGHJKLM", &trade, &alipay, |_| {})),
        (
            "sent an hour ago",
            s.notification(&order_no, &trade, &alipay, |p| {
                p.insert("notify_time".into(), shanghai_seconds(now() - 3600));
            }),
        ),
        (
            "sent in the future",
            s.notification(&order_no, &trade, &alipay, |p| {
                p.insert("notify_time".into(), shanghai_seconds(now() + 3600));
            }),
        ),
        (
            "no time",
            s.notification(&order_no, &trade, &alipay, |p| {
                p.remove("notify_time");
            }),
        ),
    ];
    for (what, fields) in &cases {
        let (status, body) = deliver(&app, fields).await;
        assert!(status.is_client_error(), "{what}: {status}");
        assert_ne!(body, "success", "{what}");
    }
    assert_eq!(app.order_status(&order_no).await, "pending");
    assert_eq!(app.count("payments").await, 0);
    // A verified notification that is not a payment is acknowledged and changes nothing.
    let waiting = s.notification(&order_no, &trade, &alipay, |p| {
        p.insert("trade_status".into(), "WAIT_BUYER_PAY".into());
    });
    assert_eq!(deliver(&app, &waiting).await.1, "success");
    assert_eq!(app.order_status(&order_no).await, "pending");
    assert_eq!(deliver(&app, &good).await.1, "success");
    assert_eq!(app.order_status(&order_no).await, "paid");
}

async fn lost_notification_found_by_query_and_expiry_closes_the_trade((app, sim): (TestApp, AlipaySim)) {
    app.login_by_code("13800138104").await;
    let lost = app.order_for("excel-data-analysis").await;
    to_cashier(&app, PHONE, &lost, "alipay_wap").await;
    let unpaid = app.order_for("python-zero-to-one").await;
    to_cashier(&app, PHONE, &unpaid, "alipay_wap").await;
    let never_opened = app.order_for("economics-in-15-minutes").await;
    choose(&app, PHONE, &never_opened, "alipay_wap").await;
    sim.pay(&lost, None).await;
    app.run_order_jobs(now() + kedian::jobs::orders::RECONCILE_AFTER_SECS + 1).await;
    assert_eq!(app.order_status(&lost).await, "paid", "found by a signed query");
    app.run_order_jobs(now() + 31 * 60).await;
    assert_eq!(app.order_status(&unpaid).await, "closed");
    assert_eq!(sim.trade(&unpaid).unwrap().status, "TRADE_CLOSED");
    assert_eq!(app.order_status(&never_opened).await, "closed", "a trade Alipay never saw closes too");
}

/// Back from Alipay's cashier with the notification lost: the return page asks Alipay, and the
/// buyer lands on 支付成功.
async fn lost_notification_found_when_the_buyer_returns((app, sim): (TestApp, AlipaySim)) {
    app.login_by_code("13800138105").await;
    let order_no = app.order_for("excel-data-analysis").await;
    to_cashier(&app, PHONE, &order_no, "alipay_wap").await;
    sim.pay(&order_no, None).await;
    let landed = app.returned_from_cashier(&order_no).await;
    assert_eq!(landed, format!("/orders/{order_no}/done"), "found by a signed query on the return");
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert_eq!(app.count("entitlements").await, 1);
}

async fn refunds_go_through_the_api((app, sim): (TestApp, AlipaySim)) {
    let provider = app.providers.get("alipay").unwrap().clone();
    let req = RefundRequest {
        order_no: "20261121ABCDEFGHJKLM",
        out_refund_no: "R1",
        amount: Fen(990),
        order_amount: Fen(19900),
        reason: "测试",
    };
    assert_eq!(provider.refund(&req).await.unwrap(), RefundState::Succeeded);
    assert_eq!(sim.state.refunds.lock().unwrap().get("R1").map(String::as_str), Some("9.90"));
    assert_eq!(provider.query_refund("20261121ABCDEFGHJKLM", "R1").await.unwrap(), RefundState::Succeeded);
    assert_eq!(provider.query_refund("20261121ABCDEFGHJKLM", "R2").await.unwrap(), RefundState::Processing);
}

async fn a_learners_refund_goes_back_through_alipay((app, sim): (TestApp, AlipaySim)) {
    app.login_by_code("13800138106").await;
    let order_no = app.order_for("excel-data-analysis").await;
    to_cashier(&app, PHONE, &order_no, "alipay_wap").await;
    sim.pay(&order_no, Some(&app.url("/pay/notify/alipay"))).await;
    let asked = app.request_refund(&order_no, "quality", vec![]).await;
    let refund_no = location(&asked).trim_start_matches("/refunds/").to_string();
    let staff = app.staff().await;
    let detail = format!("/admin/refunds/{refund_no}");
    let approve = format!("{detail}/approve");
    staff.submit(&detail, &approve, &[("amount", "50"), ("note", "按未学部分协商")]).await;
    assert_eq!(
        sim.state.refunds.lock().unwrap().get(&refund_no).map(String::as_str),
        Some("50.00"),
        "out_request_no is the refund number"
    );
    assert_eq!(app.order_status(&order_no).await, "partially_refunded");
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("已退款") && page.contains("¥50.00"));
}
