//! Refunds and platform complaints through WeChat Pay, against the local simulator: refund
//! notifications (twice), retries under the same out_refund_no, ABNORMAL refunds, and
//! COMPLAINT.CREATE landing in the shop's queue and answered from it.

use kedian::domain::time::now;
use kedian::pay::wechatpay::crypto;
use kedian::services::refunds::Refunder;
use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::wechat_sim::{RefundAnswer, WechatSim, fixture};
use crate::wechatpay::{PHONE, choose, deliver, wechat_app};

crate::on_both_backends!(
    setup = |backend| wechat_app(backend, crate::wechat_sim::Mode::PublicKey);
    a_refund_completes_on_its_notification_once,
    failed_calls_are_retried_under_the_same_refund_number,
    an_abnormal_refund_waits_for_staff_and_is_retried,
    a_platform_complaint_is_answered_from_the_shop,
);

/// Logs in, buys the ¥199 course with WeChat H5 and returns the order number.
async fn paid_with_wechat(app: &TestApp, sim: &WechatSim, phone: &str) -> String {
    app.login_by_code(phone).await;
    let order_no = app.order_for("excel-data-analysis").await;
    assert_eq!(choose(app, PHONE, &order_no, "wechat_h5").await.status(), StatusCode::SEE_OTHER);
    sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
    order_no
}

/// The learner asks, staff approve in full; returns the refund number and the staff's browser.
async fn asked_and_approved(app: &TestApp, order_no: &str) -> (String, TestApp) {
    let response = app.request_refund(order_no, "quality", vec![]).await;
    let refund_no = location(&response).trim_start_matches("/refunds/").to_string();
    let staff = app.staff().await;
    let detail = format!("/admin/refunds/{refund_no}");
    let approved = staff.submit(&detail, &format!("{detail}/approve"), &[("amount", "199"), ("note", "")]).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    (refund_no, staff)
}

async fn refund_status(app: &TestApp, refund_no: &str) -> String {
    sqlx::query_scalar("SELECT status FROM refund_requests WHERE refund_no = $1")
        .bind(refund_no)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn run_refund_job(app: &TestApp, at: i64) {
    let refunder = Refunder { db: app.db.clone(), providers: app.providers.clone() };
    kedian::jobs::refunds::run_once(&refunder, at).await.expect("refund job");
}

async fn a_refund_completes_on_its_notification_once((app, sim): (TestApp, WechatSim)) {
    let order_no = paid_with_wechat(&app, &sim, "13800138030").await;
    sim.state.refund_answers.lock().unwrap().push(RefundAnswer::Processing);
    let (refund_no, _) = asked_and_approved(&app, &order_no).await;
    assert_eq!(refund_status(&app, &refund_no).await, "refunding");
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("退款中") && page.contains("支付平台处理中"), "the learner sees it in progress");

    let event = sim.state.refund_event("REFUND.SUCCESS", &order_no, &refund_no);
    for _ in 0..2 {
        let (status, _) = deliver(&app, &event).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "acknowledged every time");
    }
    assert_eq!(refund_status(&app, &refund_no).await, "refunded");
    assert_eq!(app.order_status(&order_no).await, "refunded");
    assert_eq!(
        *sim.state.refund_calls.lock().unwrap(),
        vec![refund_no.clone()],
        "one call, the refund number as out_refund_no"
    );
    let completions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refund_events WHERE kind = 'refunded'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(completions, 1, "the duplicate notification changed nothing");
    assert_eq!(app.count("user_messages").await, 1);
    app.deliver_texts().await;
    let sent = app.sms.sent.lock().unwrap().clone();
    let refunded = sent.iter().filter(|(_, t)| t.contains(&refund_no) && t.contains("已于")).count();
    assert_eq!(refunded, 1, "one text says the money is back: {sent:?}");
}

async fn failed_calls_are_retried_under_the_same_refund_number((app, sim): (TestApp, WechatSim)) {
    let order_no = paid_with_wechat(&app, &sim, "13800138031").await;
    sim.state.refund_answers.lock().unwrap().extend([RefundAnswer::SystemError, RefundAnswer::SystemError]);
    let (refund_no, _) = asked_and_approved(&app, &order_no).await;
    assert_eq!(refund_status(&app, &refund_no).await, "refunding", "a gateway error leaves it in flight");
    run_refund_job(&app, now()).await;
    assert_eq!(sim.state.refund_calls.lock().unwrap().len(), 1, "the job waits a minute before retrying");
    run_refund_job(&app, now() + 120).await;
    assert_eq!(refund_status(&app, &refund_no).await, "refunding");
    run_refund_job(&app, now() + 240).await;
    assert_eq!(refund_status(&app, &refund_no).await, "refunded");
    let calls = sim.state.refund_calls.lock().unwrap().clone();
    assert_eq!(calls, vec![refund_no.clone(); 3], "every try reuses the out_refund_no");
    assert_eq!(sim.state.refunds.lock().unwrap().len(), 1, "the gateway refunded once");
}

async fn an_abnormal_refund_waits_for_staff_and_is_retried((app, sim): (TestApp, WechatSim)) {
    let order_no = paid_with_wechat(&app, &sim, "13800138032").await;
    sim.state.refund_answers.lock().unwrap().push(RefundAnswer::Processing);
    let (refund_no, staff) = asked_and_approved(&app, &order_no).await;
    let (status, _) = deliver(&app, &sim.state.refund_event("REFUND.ABNORMAL", &order_no, &refund_no)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(refund_status(&app, &refund_no).await, "failed");
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("退款异常，客服处理中"));
    let detail = format!("/admin/refunds/{refund_no}");
    let (_, staff_page) = staff.get_html(&detail).await;
    assert!(staff_page.contains("ABNORMAL") && staff_page.contains("用同一退款编号重试"));
    let retried = staff.submit(&detail, &format!("{detail}/retry"), &[]).await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    assert_eq!(refund_status(&app, &refund_no).await, "refunded");
    assert_eq!(*sim.state.refund_calls.lock().unwrap(), vec![refund_no.clone(); 2]);
    assert_eq!(app.order_status(&order_no).await, "refunded");
    assert!(crate::backoffice::audit_actions(&app).await.contains(&"refund.retry".to_string()));
}

async fn a_platform_complaint_is_answered_from_the_shop((app, sim): (TestApp, WechatSim)) {
    let order_no = paid_with_wechat(&app, &sim, "13800138033").await;
    let complaint_id = "200201820261121000000001";
    // A notification signed with another key is refused and creates nothing.
    let wrong_key = crypto::private_key_from_pem(&fixture("merchant_key.pem")).unwrap();
    let resource = serde_json::json!({ "complaint_id": complaint_id, "action_type": "CREATE_COMPLAINT" });
    let forged =
        sim.state.any_event("COMPLAINT.CREATE", "payscore", &resource, &wrong_key, &sim.state.platform_serial, now());
    let (status, _) = deliver(&app, &forged).await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(app.count("complaints").await, 0);

    let event = sim.state.complain(complaint_id, &order_no, "买了以后一直看不了");
    for _ in 0..2 {
        let (status, _) = deliver(&app, &event).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    assert_eq!(app.count("complaints").await, 1, "a repeated notification is one complaint");
    assert_eq!(app.count("complaint_messages").await, 1);
    let (complaint_no, source): (String, String) =
        sqlx::query_as("SELECT complaint_no, source FROM complaints").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(source, "wechatpay");
    let (_, mine) = app.get_html("/complaints").await;
    assert!(mine.contains(&complaint_no), "matched to the buyer through the order");

    let staff = app.staff().await;
    let (_, queue) = staff.get_html("/admin/complaints").await;
    assert!(queue.contains(&complaint_no) && queue.contains("微信支付投诉"), "in the same queue as the shop's own");
    let detail = format!("/admin/complaints/{complaint_no}");
    let (_, page) = staff.get_html(&detail).await;
    assert!(page.contains("买了以后一直看不了") && page.contains(&order_no));
    let reply =
        staff.submit(&detail, &format!("{detail}/reply"), &[("body", "已为你全额退款，抱歉"), ("resolve", "1")]).await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        *sim.state.complaint_replies.lock().unwrap(),
        vec![(complaint_id.to_string(), "已为你全额退款，抱歉".to_string())],
        "the reply reached the platform"
    );
    assert_eq!(*sim.state.complaints_completed.lock().unwrap(), vec![complaint_id.to_string()]);
    let (_, page) = app.get_html(&format!("/complaints/{complaint_no}")).await;
    assert!(page.contains("已解决") && page.contains("已为你全额退款"));
}
