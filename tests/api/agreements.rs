//! Versioned agreements: the purchase agreement beside the pay button, recorded on the order by
//! paying and still readable after a newer version; a new user agreement asked once of signed-in
//! learners, and accepted by signing in; both in the learner's data export.

use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::{TestApp, location};
use crate::on_both_backends;

on_both_backends!(
    purchase_agreements_are_recorded_on_the_order,
    free_claims_and_redeemed_codes_accept_the_agreement_shown,
    a_new_user_agreement_is_asked_once
);

const PAGE: &str = "/admin/agreements";

async fn publish(staff: &TestApp, kind: &str, title: &str, body: &str) -> StatusCode {
    staff.submit(PAGE, PAGE, &[("kind", kind), ("title", title), ("body", body)]).await.status()
}

async fn acceptances(app: &TestApp) -> Vec<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT a.version, x.order_id FROM agreement_acceptances x JOIN agreements a ON a.id = x.agreement_id ORDER BY x.id",
    )
    .fetch_all(app.db.read())
    .await
    .unwrap()
}

async fn purchase_agreements_are_recorded_on_the_order(app: TestApp) {
    let staff = app.staff().await;
    let bad = staff.submit(PAGE, PAGE, &[("kind", "purchase"), ("title", "网课购买协议"), ("body", " ")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("id=\"body-error\""));
    assert_eq!(app.count("agreements").await, 0, "bad input changes nothing");
    let body = "## 第一条\n\n课程为虚拟商品，**开通后**按退款规则处理。\n\n<script>alert(1)</script>";
    assert_eq!(publish(&staff, "purchase", "网课购买协议", body).await, StatusCode::SEE_OTHER);
    assert!(audit_actions(&app).await.contains(&"agreement.publish".to_string()));

    let buyer = app.another_browser();
    buyer.login_by_code("13800138601").await;
    let order_no = buyer.order_for("excel-data-analysis").await;
    let (_, pay) = buyer.get_html(&format!("/orders/{order_no}/pay")).await;
    assert!(pay.contains("href=\"/agreements/purchase/1\"") && pay.contains("《网课购买协议》"), "beside the button");
    buyer.choose_sandbox(&order_no).await;
    buyer.pay_sandbox(&order_no).await;
    let order_id = order_id(&app, &order_no).await;
    assert_eq!(acceptances(&app).await, vec![(1, Some(order_id))], "once, however many times payment started");

    assert_eq!(publish(&staff, "purchase", "网课购买协议", "## 第一条\n\n新的条款。").await, StatusCode::SEE_OTHER);
    let (_, admin_order) = staff.get_html(&format!("/admin/orders/{order_no}")).await;
    assert!(
        admin_order.contains("href=\"/agreements/purchase/1\"") && admin_order.contains("第 1 版"),
        "what was accepted"
    );
    let (status, old) = buyer.get_html("/agreements/purchase/1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(old.contains("<strong>开通后</strong>") && old.contains("现行的是第 2 版"));
    assert!(!old.contains("<script>alert(1)"), "sanitised");
    let (_, current) = buyer.get_html("/agreements/purchase").await;
    assert!(current.contains("新的条款") && !current.contains("现行的是"));
    assert_eq!(buyer.get("/agreements/purchase/9").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(buyer.get("/agreements/privacy").await.status(), StatusCode::NOT_FOUND);
}

async fn order_id(app: &TestApp, order_no: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

/// An order that costs nothing (a free course claimed, a redeem code) is taken without the pay
/// page: the agreement is named beside the button that takes it, and recorded on the order.
async fn free_claims_and_redeemed_codes_accept_the_agreement_shown(app: TestApp) {
    const FREE: &str = "/courses/photography-composition";
    let visitor = app.another_browser();
    let (_, before) = visitor.get_html(FREE).await;
    assert!(!before.contains("agreement-note"), "no agreement published yet");
    let staff = app.staff().await;
    assert_eq!(publish(&staff, "purchase", "网课购买协议", "## 第一条\n\n条款。").await, StatusCode::SEE_OTHER);
    let (_, free) = visitor.get_html(FREE).await;
    assert!(
        free.contains("领取即表示你已阅读并同意<a href=\"/agreements/purchase/1\">《网课购买协议》</a>"),
        "beside 免费领取, at once (the visitors' copy of the page went with the old agreements)"
    );
    let (_, paid) = visitor.get_html("/courses/excel-data-analysis").await;
    assert!(!paid.contains("agreement-note"), "a paid course names it on the pay page");
    let (_, login) = visitor.get_html("/login?next=/courses/photography-composition&buy=photography-composition").await;
    assert!(login.contains("领取即表示你已阅读并同意"), "signing in goes on to claim it");

    let claimer = app.another_browser();
    claimer.login_by_code("13800138602").await;
    let claimed = claimer.buy("photography-composition").await;
    let order_no = location(&claimed).trim_start_matches("/orders/").trim_end_matches("/done").to_string();
    assert_eq!(acceptances(&app).await, vec![(1, Some(order_id(&app, &order_no).await))], "the claim accepted it");

    let operator = crate::redeem::operator(&app).await;
    let batch = crate::redeem::batch(&app, &operator, "1").await;
    let code = crate::redeem::export(&operator, batch).await[0].1.clone();
    let redeemer = app.another_browser();
    redeemer.login_by_code("13800138603").await;
    let (_, form) = redeemer.get_html("/redeem").await;
    assert!(form.contains("兑换即表示你已阅读并同意"), "beside 兑换");
    let (status, to) = crate::redeem::redeem(&redeemer, &code).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let redeemed = to.trim_start_matches("/orders/").trim_end_matches("/done");
    assert_eq!(
        acceptances(&app).await.last(),
        Some(&(1, Some(order_id(&app, redeemed).await))),
        "the code accepted it"
    );
    let (_, admin_order) = staff.get_html(&format!("/admin/orders/{redeemed}")).await;
    assert!(admin_order.contains("href=\"/agreements/purchase/1\""), "staff see what was accepted");
}

async fn a_new_user_agreement_is_asked_once(app: TestApp) {
    let learner = app.another_browser();
    learner.login_by_code("13800138611").await;
    let (_, me) = learner.get_html("/me").await;
    assert!(!me.contains("agreement-due"), "nothing published, nothing asked");

    let staff = app.staff().await;
    assert_eq!(publish(&staff, "user", "用户协议", "## 一、总则\n\n使用本店即表示同意。").await, StatusCode::SEE_OTHER);
    let (_, me) = learner.get_html("/me").await;
    assert!(me.contains("agreement-due") && me.contains("已更新为第 1 版"), "asked on the next page");
    let stale = learner.submit("/me", "/agreements/accept", &[("version", "7"), ("next", "/me")]).await;
    assert_eq!(location(&stale), "/me");
    assert!(acceptances(&app).await.is_empty(), "only the version shown is accepted");
    let accepted = learner.submit("/me", "/agreements/accept", &[("version", "1"), ("next", "/me")]).await;
    assert_eq!(location(&accepted), "/me");
    let (_, me) = learner.get_html("/me").await;
    assert!(!me.contains("agreement-due"), "asked once");
    assert_eq!(acceptances(&app).await, vec![(1, None)]);

    // Signing in after it was published accepts it (the sign-in page links to it).
    let newcomer = app.another_browser();
    newcomer.login_by_code("13800138612").await;
    let (_, home) = newcomer.get_html("/").await;
    assert!(!home.contains("agreement-due"));
    assert_eq!(acceptances(&app).await.len(), 2);
    assert_eq!(location(&newcomer.get("/pages/agreement").await), "/agreements/user");

    let export = learner.get("/me/privacy/export").await.text().await.unwrap();
    assert!(export.contains("agreements_accepted") && export.contains("用户协议"));

    assert_eq!(publish(&staff, "user", "用户协议", "## 一、总则\n\n第二版。").await, StatusCode::SEE_OTHER);
    let (_, me) = learner.get_html("/me").await;
    assert!(me.contains("已更新为第 2 版"), "a newer version is asked again");
}
