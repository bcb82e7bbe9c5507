//! Coupons staff make: the back-office form (bad input beside the field), changing terms,
//! switching off and on, counts per coupon with its orders and CSV, and the shared link that puts
//! the coupon on a buyer's next order.

use kedian::domain::staff::Role;
use kedian::domain::time::{now, shanghai_datetime_value};
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::{TestApp, location};
use crate::on_both_backends;

on_both_backends!(
    staff_make_a_coupon_and_its_link_discounts_the_next_order,
    terms_change_and_a_switched_off_coupon_is_refused,
    the_demo_coupon_is_for_first_purchases_and_fills_in_when_it_does_not_fit,
);

const PAGE: &str = "/admin/coupons";

async fn operator(app: &TestApp) -> TestApp {
    app.make_staff("13900000011", Role::Operator).await;
    app.staff_as("13900000011").await
}

/// The new-coupon form with good values, `change` applied.
fn form(change: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("code", "spring-30".to_string()),
        ("name", "春季立减".to_string()),
        ("kind", "fixed".to_string()),
        ("value", "30".to_string()),
        ("min_spend", "100".to_string()),
        ("course", String::new()),
        ("valid_from", String::new()),
        ("valid_until", shanghai_datetime_value(now() + 7 * 86_400)),
        ("total_limit", String::new()),
        ("per_user_limit", "1".to_string()),
    ];
    for (key, value) in change {
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some(field) => field.1 = value.clone(),
            None => fields.push((key, value.clone())),
        }
    }
    fields
}

async fn create(staff: &TestApp, change: &[(&'static str, String)]) -> reqwest::Response {
    let fields = form(change);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    staff.submit(PAGE, PAGE, &fields).await
}

async fn coupon_id(app: &TestApp, code: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM coupons WHERE code = $1").bind(code).fetch_one(app.db.read()).await.unwrap()
}

async fn staff_make_a_coupon_and_its_link_discounts_the_next_order(app: TestApp) {
    let staff = operator(&app).await;
    let (status, page) = staff.get_html(PAGE).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("XINREN20") && page.contains("立减 ¥20.00 · 满 ¥99.00 可用"), "the demo's coupon is listed");
    let coupons_before = app.count("coupons").await;

    let bad = create(&staff, &[("code", "x".into()), ("value", String::new()), ("course", "999999".into())]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    for field in ["code", "value", "course"] {
        assert!(html.contains(&format!("id=\"{field}-error\"")), "{field} is marked");
    }
    assert!(html.contains("券码须为 3–32 位") && html.contains("春季立减"), "the message, and the form kept");
    let past = create(&staff, &[("valid_until", shanghai_datetime_value(now() - 3600))]).await;
    assert_eq!(past.status(), StatusCode::BAD_REQUEST);
    assert!(past.text().await.unwrap().contains("结束时间须晚于开始时间和现在"));
    assert_eq!(app.count("coupons").await, coupons_before, "bad input changes nothing");

    let excel = app.course_id("excel-data-analysis").await.to_string();
    let made = create(&staff, &[("course", excel)]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let id = coupon_id(&app, "SPRING-30").await;
    assert_eq!(location(&made), format!("/admin/coupons/{id}"), "stored in capitals, as buyers' codes are compared");
    let again = create(&staff, &[("code", "Spring-30".into())]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("这个券码已被使用"));
    assert!(audit_actions(&app).await.contains(&"coupon.create".to_string()));

    let (_, detail) = staff.get_html(&format!("/admin/coupons/{id}")).await;
    assert!(detail.contains("/coupons/SPRING-30\"") && detail.contains("Excel"), "the link to share, and the course");

    // A visitor follows the link, signs in, and buys: the coupon is on the order already.
    let buyer = app.another_browser();
    let (status, landing) = buyer.get_html("/coupons/spring-30").await;
    assert_eq!(status, StatusCode::OK);
    assert!(landing.contains("立减 ¥30.00") && landing.contains("满 ¥100.00 可用"), "what it gives, in words");
    assert!(landing.contains("href=\"/courses/excel-data-analysis\""), "on to the course it is for");
    buyer.login_by_code("13800138301").await;
    let order_no = buyer.order_for("excel-data-analysis").await;
    let (_, pay) = buyer.get_html(&format!("/orders/{order_no}/pay")).await;
    assert!(pay.contains("-¥30.00") && pay.contains("¥169.00"), "no code to type");
    buyer.pay_sandbox(&order_no).await;
    assert_eq!(app.order_status(&order_no).await, "paid");

    let (_, detail) = staff.get_html(&format!("/admin/coupons/{id}")).await;
    assert!(detail.contains(&order_no) && detail.contains("138****8301"), "the order and its masked buyer");
    assert!(detail.contains("已使用 1") && detail.contains("待支付占用 0"));
    let (_, list) = staff.get_html(PAGE).await;
    assert!(list.contains("生效中") && list.contains("href=\"/admin/coupons.csv\""));
    let all = staff.get("/admin/coupons.csv").await;
    assert_eq!(all.status(), StatusCode::OK);
    let all = all.text().await.unwrap();
    let row = all.lines().find(|l| l.starts_with("SPRING-30,")).unwrap_or_default();
    assert!(
        all.starts_with("\u{feff}券码,") && row.ends_with(",0,1,0,生效中"),
        "each coupon with its use counts: {row}"
    );
    let csv = staff.get(&format!("/admin/coupons/{id}/orders.csv")).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with('\u{feff}') && text.contains(&order_no) && text.contains("138****8301,已使用,30.00,169.00")
    );

    // Not for support staff, nor for learners.
    app.make_staff("13900000012", Role::Support).await;
    let support = app.staff_as("13900000012").await;
    assert_eq!(support.get(PAGE).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(buyer.get(PAGE).await.status(), StatusCode::FORBIDDEN);
    let fields = form(&[("code", "SUPPORT-1".into())]);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(support.submit("/admin/orders", PAGE, &fields).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(buyer.get("/coupons/NO-SUCH").await.status(), StatusCode::NOT_FOUND);
}

async fn terms_change_and_a_switched_off_coupon_is_refused(app: TestApp) {
    let staff = operator(&app).await;
    assert_eq!(
        create(&staff, &[("code", "TEAM".into()), ("kind", "percent".into()), ("value", "10".into())]).await.status(),
        StatusCode::SEE_OTHER
    );
    let id = coupon_id(&app, "TEAM").await;
    let page = format!("/admin/coupons/{id}");
    let (_, html) = staff.get_html(&page).await;
    assert!(html.contains("减 10%") && html.contains("全部课程"));
    let until = shanghai_datetime_value(now() + 86_400);
    let from = shanghai_datetime_value(now() - 60);
    let edit = |total: &'static str| {
        vec![
            ("name", "团队"),
            ("valid_from", from.as_str()),
            ("valid_until", until.as_str()),
            ("total_limit", total),
            ("per_user_limit", ""),
        ]
    };
    let bad = staff.submit(&page, &page, &edit("0")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("id=\"total_limit-error\""));
    let name: String =
        sqlx::query_scalar("SELECT name FROM coupons WHERE id = $1").bind(id).fetch_one(app.db.read()).await.unwrap();
    assert_eq!(name, "春季立减", "bad input changes nothing");
    assert_eq!(staff.submit(&page, &page, &edit("5")).await.status(), StatusCode::SEE_OTHER);
    let (_, html) = staff.get_html(PAGE).await;
    assert!(html.contains("团队") && html.contains("0 / 5"));

    let buyer = app.another_browser();
    buyer.login_by_code("13800138302").await;
    let order_no = buyer.order_for("excel-data-analysis").await;
    let pay = format!("/orders/{order_no}/pay");
    assert_eq!(staff.submit(&page, &format!("{page}/disable"), &[]).await.status(), StatusCode::SEE_OTHER);
    let refused =
        buyer.submit(&pay, &format!("/orders/{order_no}/coupon"), &[("code", "team"), ("action", "apply")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("这张优惠券已停用"));
    let (_, landing) = buyer.get_html("/coupons/TEAM").await;
    assert!(landing.contains("这张优惠券已停用") && !landing.contains("已为你记下"), "said, and not kept");
    assert_eq!(app.count("coupon_redemptions").await, 0);

    assert_eq!(staff.submit(&page, &format!("{page}/enable"), &[]).await.status(), StatusCode::SEE_OTHER);
    let applied =
        buyer.submit(&pay, &format!("/orders/{order_no}/coupon"), &[("code", "team"), ("action", "apply")]).await;
    assert_eq!(applied.status(), StatusCode::SEE_OTHER);
    let (_, html) = buyer.get_html(&pay).await;
    assert!(html.contains("-¥19.90") && html.contains("¥179.10"));
    let (_, html) = staff.get_html(&page).await;
    assert!(html.contains("待支付占用 1") && html.contains("1 / 5"));
    let actions = audit_actions(&app).await;
    for action in ["coupon.update", "coupon.disable", "coupon.enable"] {
        assert!(actions.contains(&action.to_string()), "{action} in the audit log");
    }
    // Switching on what is on changes nothing and logs nothing.
    staff.submit(&page, &format!("{page}/enable"), &[]).await;
    assert_eq!(audit_actions(&app).await.len(), actions.len());
    assert_eq!(staff.submit(&page, &format!("{page}/delete"), &[]).await.status(), StatusCode::NOT_FOUND);
}

async fn the_demo_coupon_is_for_first_purchases_and_fills_in_when_it_does_not_fit(app: TestApp) {
    // A returning buyer follows the demo's link: the coupon does not go on, and it waits in the field.
    let returning = app.another_browser();
    returning.login_by_code("13800138303").await;
    returning.bought("exam-english-sprint").await;
    let (status, landing) = returning.get_html("/coupons/XINREN20").await;
    assert_eq!(status, StatusCode::OK);
    assert!(landing.contains("仅限首次购买"));
    let order_no = returning.order_for("excel-data-analysis").await;
    let pay = format!("/orders/{order_no}/pay");
    let (_, html) = returning.get_html(&pay).await;
    assert!(html.contains("value=\"XINREN20\"") && html.contains("¥199.00") && !html.contains("-¥20.00"));
    let refused = returning
        .submit(&pay, &format!("/orders/{order_no}/coupon"), &[("code", "XINREN20"), ("action", "apply")])
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("仅限首次购买使用"));

    // A first-time buyer: below the minimum it waits in the field; above, it goes on.
    let first = app.another_browser();
    first.get_html("/coupons/XINREN20").await;
    first.login_by_code("13800138304").await;
    let cheap = first.order_for("product-manager-notes").await;
    let (_, html) = first.get_html(&format!("/orders/{cheap}/pay")).await;
    assert!(html.contains("value=\"XINREN20\"") && html.contains("¥49.00"), "filled in, not applied");
    let order_no = first.order_for("excel-data-analysis").await;
    let (_, html) = first.get_html(&format!("/orders/{order_no}/pay")).await;
    assert!(html.contains("-¥20.00") && html.contains("¥179.00"));
}
