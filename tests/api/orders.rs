use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;

on_both_backends!(
    buy_pay_in_the_sandbox_and_start_learning,
    buying_while_logged_out_leads_to_login,
    a_second_click_reuses_the_pending_order,
    free_courses_are_claimed_without_payment,
    the_buyer_can_cancel_a_pending_order,
    another_users_order_is_a_404,
    order_history_is_paginated_newest_first,
    a_sale_counts_a_learner_without_reloading_the_catalog,
    an_order_past_its_deadline_says_why_and_offers_buying_again,
);

/// Past its deadline, before the expiry job has closed it, an order is closed to the buyer: the
/// pay page moves on, the order says why, its status says closed, and 重新购买 makes a new one.
async fn an_order_past_its_deadline_says_why_and_offers_buying_again(app: TestApp) {
    app.login_by_code("13800138069").await;
    let order_no = app.order_for("python-zero-to-one").await;
    let (_, pay) = app.get_html(&format!("/orders/{order_no}/pay")).await;
    assert!(pay.contains("data-disables=\".pay-now\""), "the countdown disables 立即支付 when it runs out");
    sqlx::query("UPDATE orders SET expires_at = $1 WHERE order_no = $2")
        .bind(kedian::domain::time::now() - 1)
        .bind(&order_no)
        .execute(app.db.write())
        .await
        .unwrap();
    assert_eq!(location(&app.get(&format!("/orders/{order_no}/pay")).await), format!("/orders/{order_no}"));
    assert_eq!(location(&app.get(&format!("/orders/{order_no}/done")).await), format!("/orders/{order_no}"));
    let status: serde_json::Value = app.get(&format!("/orders/{order_no}/status")).await.json().await.unwrap();
    assert_eq!(status["status"], "closed", "a restored pay page learns it is over");
    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(html.contains("已关闭") && html.contains("超过支付时限未付款") && html.contains("没有扣款"), "why");
    assert!(html.contains("重新购买") && !html.contains("去支付"), "buy again, not pay");
    let again = app.submit(&format!("/orders/{order_no}"), "/courses/python-zero-to-one/buy", &[]).await;
    assert!(location(&again).ends_with("/pay") && !location(&again).contains(&order_no), "a new order");
    let pay =
        app.submit(&format!("/orders/{order_no}"), &format!("/orders/{order_no}/pay"), &[("channel", "sandbox")]).await;
    assert_eq!(location(&pay), format!("/orders/{order_no}"), "the lapsed order takes no payment");
}

/// "N 人已学" moves with each sale in place: the catalog snapshot (and the page cache it holds
/// for visitors) is not thrown away and read again for it.
async fn a_sale_counts_a_learner_without_reloading_the_catalog(app: TestApp) {
    let before = app.catalog.snapshot();
    let count = before.course("excel-data-analysis").unwrap().learner_count();
    app.login_by_code("13800138069").await;
    let order_no = app.order_for("excel-data-analysis").await;
    app.pay_sandbox(&order_no).await;
    let after = app.catalog.snapshot();
    assert!(std::sync::Arc::ptr_eq(&before, &after), "the same snapshot: no reload for a sale");
    assert_eq!(after.course("excel-data-analysis").unwrap().learner_count(), count + 1);
    let stored: i64 = sqlx::query_scalar("SELECT learner_count FROM courses WHERE slug = 'excel-data-analysis'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(stored, count + 1, "and the database agrees");
    let (_, page) = app.get_html("/courses/excel-data-analysis").await;
    assert!(page.contains(&format!("{} 人已学", count + 1)), "the buyer's own page shows it");
}

async fn buy_pay_in_the_sandbox_and_start_learning(app: TestApp) {
    app.login_by_code("13800138060").await;
    let response = app.buy("excel-data-analysis").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let order_no = location(&response).trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    assert!(order_no.len() == 20 && order_no.starts_with("20"), "{order_no}");

    let (status, html) = app.get_html(&format!("/orders/{order_no}/pay")).await;
    assert_eq!(status, StatusCode::OK);
    for text in ["Excel 数据分析实战", "¥199.00", "模拟支付", "购买后 7 天内", "优惠券"] {
        assert!(html.contains(text), "pay page lacks {text}");
    }
    let to_cashier = app.choose_sandbox(&order_no).await;
    assert_eq!(location(&to_cashier), format!("/pay/sandbox/{order_no}"));
    let (_, cashier) = app.get_html(&format!("/pay/sandbox/{order_no}")).await;
    assert!(cashier.contains("模拟支付") && cashier.contains("确认支付") && cashier.contains("¥199.00"));

    let paid = app.cashier(&order_no, "confirm").await;
    assert_eq!(location(&paid), format!("/orders/{order_no}/return"));
    let back = app.get(&format!("/orders/{order_no}/return")).await;
    assert_eq!(location(&back), format!("/orders/{order_no}/done"), "paid: the return page moves on");
    let (_, done) = app.get_html(&format!("/orders/{order_no}/done")).await;
    let first = app.catalog.snapshot().course("excel-data-analysis").unwrap().lessons().next().unwrap().clone();
    assert!(done.contains("支付成功") && done.contains("去学习") && done.contains("¥199.00"), "the success screen");
    assert!(
        done.contains(&format!("/courses/excel-data-analysis/lessons/{}", first.id)) && done.contains(&first.title),
        "去学习 opens the first lesson, named"
    );

    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    for text in ["已支付", "开始学习", "实付金额", "¥199.00", "模拟支付", "SBX", "购买时的退款说明"]
    {
        assert!(html.contains(text), "order page lacks {text}");
    }
    assert!(!html.contains("取消订单"));
    let (_, course) = app.get_html("/courses/excel-data-analysis").await;
    assert!(course.contains("已购买 · 开始学习") && course.contains("12851 人已学"));
    // The page shows no buy button now; a stale tab posting the form is told the same.
    let again = app.submit("/me", "/courses/excel-data-analysis/buy", &[]).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.text().await.unwrap().contains("你已经拥有这门课程"));

    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.count("entitlements").await, 1);
    let verdicts: Vec<String> =
        sqlx::query_scalar("SELECT verdict FROM payment_notifications").fetch_all(app.db.read()).await.unwrap();
    assert_eq!(verdicts, ["applied"]);
    let (_, list) = app.get_html("/orders").await;
    assert!(list.contains(&order_no) && list.contains("已支付"));
}

async fn buying_while_logged_out_leads_to_login(app: TestApp) {
    let (_, html) = app.get_html("/courses/excel-data-analysis").await;
    assert!(!html.contains("/buy\""), "no buy form for visitors, a login link instead");
    let (_, login) = app.get_html("/login").await;
    let token = crate::helpers::csrf_in(&login);
    let response = app.post_raw("/courses/excel-data-analysis/buy", &[("csrf_token", &token)]).await;
    assert_eq!(location(&response), "/login?next=/courses/excel-data-analysis");
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(location(&app.get("/orders").await), "/login?next=%2Forders");

    // The login link says what was being bought, and logging in goes on to that order's pay page.
    let html = unescape(&html);
    let link = html.split("class=\"button primary\" href=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(link.starts_with("/login?next=") && link.ends_with("&buy=excel-data-analysis"), "{link}");
    let (_, page) = app.get_html(&link).await;
    assert!(page.contains("name=\"buy\" value=\"excel-data-analysis\""));
    app.request_code(&link, "13800138069").await;
    let code = app.last_code("13800138069").unwrap();
    let fields = [
        ("method", "sms"),
        ("action", "login"),
        ("phone", "13800138069"),
        ("code", code.as_str()),
        ("next", "/courses/excel-data-analysis"),
        ("buy", "excel-data-analysis"),
    ];
    let logged_in = app.submit(&link, "/login", &fields).await;
    let to = location(&logged_in);
    assert!(to.starts_with("/orders/") && to.ends_with("/pay"), "straight to the order: {to}");
    assert_eq!(app.count("orders").await, 1);
    // A course already owned, or no such course, just goes where login was asked to go.
    let other = app.another_browser();
    other.request_code("/login", "13800138068").await;
    let code = app.last_code("13800138068").unwrap();
    let fields = [
        ("method", "sms"),
        ("action", "login"),
        ("phone", "13800138068"),
        ("code", code.as_str()),
        ("next", "/courses"),
        ("buy", "no-such-course"),
    ];
    assert_eq!(location(&other.submit("/login", "/login", &fields).await), "/courses");
    assert_eq!(app.count("orders").await, 1);
}

async fn a_second_click_reuses_the_pending_order(app: TestApp) {
    app.login_by_code("13800138061").await;
    let first = app.order_for("python-zero-to-one").await;
    let second = app.order_for("python-zero-to-one").await;
    assert_eq!(first, second);
    assert_eq!(app.count("orders").await, 1);
    // A different course is a different order.
    assert_ne!(app.order_for("excel-data-analysis").await, first);
}

async fn free_courses_are_claimed_without_payment(app: TestApp) {
    app.login_by_code("13800138062").await;
    let response = app.buy("photography-composition").await;
    let to = location(&response);
    assert!(to.starts_with("/orders/") && to.ends_with("/done"), "{to}");
    let (_, done) = app.get_html(&to).await;
    assert!(done.contains("领取成功") && done.contains("去学习") && !done.contains("¥0.00"), "claimed, nothing to pay");
    let (_, html) = app.get_html(to.trim_end_matches("/done")).await;
    assert!(
        html.contains("已支付") && html.contains("开始学习") && html.contains("¥0.00") && html.contains("免费领取")
    );
    assert_eq!(app.count("entitlements").await, 1);
    assert_eq!(app.count("payments").await, 0, "no money moved");
}

async fn the_buyer_can_cancel_a_pending_order(app: TestApp) {
    app.login_by_code("13800138063").await;
    let order_no = app.order_for("python-zero-to-one").await;
    app.choose_sandbox(&order_no).await;
    let response = app.submit(&format!("/orders/{order_no}"), &format!("/orders/{order_no}/cancel"), &[]).await;
    assert_eq!(location(&response), format!("/orders/{order_no}"));
    assert_eq!(app.order_status(&order_no).await, "closed");
    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(html.contains("已关闭") && !html.contains("去支付"));
    assert!(html.contains("你已取消这笔订单") && html.contains("重新购买"), "why it closed, and buying again");
    let again = app.submit(&format!("/orders/{order_no}"), "/courses/python-zero-to-one/buy", &[]).await;
    let new_order = location(&again);
    assert!(new_order.ends_with("/pay") && !new_order.contains(&order_no), "重新购买 makes a new order: {new_order}");
    assert_eq!(location(&app.get(&format!("/orders/{order_no}/pay")).await), format!("/orders/{order_no}"));
    // The gateway was told too: the cashier no longer takes the money.
    assert_eq!(location(&app.get(&format!("/pay/sandbox/{order_no}")).await), format!("/orders/{order_no}"));
    let state: String = sqlx::query_scalar("SELECT state FROM sandbox_gateway WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(state, "closed");
    // Buying again makes a new order.
    assert_ne!(app.order_for("python-zero-to-one").await, order_no);
}

async fn another_users_order_is_a_404(app: TestApp) {
    app.login_by_code("13800138064").await;
    let order_no = app.order_for("python-zero-to-one").await;
    app.choose_sandbox(&order_no).await;
    app.logout().await;
    app.age_codes(61).await;
    app.login_by_code("13800138065").await;
    let missing = "20260101ABCDEFGHJKLM";
    for path in ["/orders/{}", "/orders/{}/pay", "/orders/{}/return", "/orders/{}/done", "/pay/sandbox/{}"] {
        let (theirs, theirs_html) = app.get_html(&path.replace("{}", &order_no)).await;
        let (none, none_html) = app.get_html(&path.replace("{}", missing)).await;
        assert_eq!((theirs, none), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND), "{path}");
        assert_eq!(theirs_html, none_html, "{path}: indistinguishable from a missing order");
    }
    let cancel = app.submit("/me", &format!("/orders/{order_no}/cancel"), &[]).await;
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    let pay = app.submit("/me", &format!("/pay/sandbox/{order_no}"), &[("action", "confirm")]).await;
    assert_eq!(pay.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.order_status(&order_no).await, "pending");
}

async fn order_history_is_paginated_newest_first(app: TestApp) {
    app.login_by_code("13800138066").await;
    let mut numbers = Vec::new();
    for _ in 0..23 {
        let no = app.order_for("python-zero-to-one").await;
        app.submit(&format!("/orders/{no}"), &format!("/orders/{no}/cancel"), &[]).await;
        numbers.push(no);
    }
    let (_, first) = app.get_html("/orders").await;
    let shown = |html: &str| html.matches("class=\"order-row\"").count();
    assert_eq!(shown(&first), 20);
    assert!(first.find(&numbers[22]).unwrap() < first.find(&numbers[21]).unwrap(), "newest first");
    assert!(unescape(&first).contains("rel=\"next\" href=\"/orders?page=2\""));
    let (_, second) = app.get_html("/orders?page=2").await;
    assert_eq!(shown(&second), 3);
    assert!(second.contains(&numbers[0]) && second.contains("已关闭"));
    let (status, junk) = app.get_html("/orders?page=abc").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown(&junk), 20);
}
