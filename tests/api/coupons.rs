//! Coupons on the pay page: every rule, reserved while pending, consumed when paid, released
//! when the order closes unpaid.

use kedian::domain::Fen;
use kedian::domain::coupon::CouponValue;
use kedian::domain::time::now;
use kedian::store::coupons::{self, NewCoupon};
use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    fixed_and_percentage_coupons_change_what_is_paid,
    coupon_rules_are_enforced_beside_the_field,
    limited_coupons_are_reserved_consumed_and_released,
    a_coupon_cannot_change_once_payment_started,
    a_coupon_that_covers_the_price_completes_the_order,
    a_coupon_of_a_kind_never_written_is_an_error_not_a_discount,
);

async fn add_coupon(app: &TestApp, code: &str, value: CouponValue, tweak: impl FnOnce(&mut NewCoupon)) {
    let mut c = NewCoupon {
        code,
        name: code,
        value,
        min_spend: Fen(0),
        valid_from: now() - 60,
        valid_until: now() + 86_400,
        total_limit: None,
        per_user_limit: None,
        course_id: None,
        new_buyers_only: false,
    };
    tweak(&mut c);
    coupons::create(&app.db, &c, now()).await.unwrap().expect("a new code");
}

async fn apply(app: &TestApp, order_no: &str, code: &str) -> (StatusCode, String) {
    let page = format!("/orders/{order_no}/pay");
    let response =
        app.submit(&page, &format!("/orders/{order_no}/coupon"), &[("code", code), ("action", "apply")]).await;
    let status = response.status();
    if status == StatusCode::SEE_OTHER {
        return (status, app.get_html(&page).await.1);
    }
    (status, response.text().await.unwrap())
}

async fn fixed_and_percentage_coupons_change_what_is_paid(app: TestApp) {
    add_coupon(&app, "SAVE50", CouponValue::Fixed(Fen(5000)), |_| {}).await;
    add_coupon(&app, "OFF20", CouponValue::PercentOff(20), |_| {}).await;
    app.login_by_code("13800138080").await;
    let order_no = app.order_for("excel-data-analysis").await;

    let (status, html) = apply(&app, &order_no, " save50 ").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "codes are trimmed and case-insensitive");
    assert!(html.contains("-¥50.00") && html.contains("¥149.00"), "breakdown recomputed on the server");
    // Swapping for another coupon: 20% of ¥199.00 is ¥39.80.
    let (_, html) = apply(&app, &order_no, "OFF20").await;
    assert!(html.contains("-¥39.80") && html.contains("¥159.20"));
    assert_eq!(app.count("coupon_redemptions").await, 1, "one coupon per order");

    app.pay_sandbox(&order_no).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
    let (amount, discount): (i64, i64) =
        sqlx::query_as("SELECT amount_fen, discount_fen FROM orders WHERE order_no = $1")
            .bind(&order_no)
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!((amount, discount), (15920, 3980));
    let paid: i64 = sqlx::query_scalar("SELECT amount_fen FROM payments").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(paid, 15920, "the gateway was asked for what was due");
    let state: String =
        sqlx::query_scalar("SELECT status FROM coupon_redemptions").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(state, "consumed");
    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(html.contains("-¥39.80") && html.contains("¥159.20"));
}

async fn coupon_rules_are_enforced_beside_the_field(app: TestApp) {
    let python: i64 = sqlx::query_scalar("SELECT id FROM courses WHERE slug = 'python-zero-to-one'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    add_coupon(&app, "BIGSPEND", CouponValue::Fixed(Fen(1000)), |c| c.min_spend = Fen(50000)).await;
    add_coupon(&app, "EXACT", CouponValue::Fixed(Fen(1000)), |c| c.min_spend = Fen(19900)).await;
    add_coupon(&app, "OLD", CouponValue::Fixed(Fen(1000)), |c| c.valid_until = now() - 1).await;
    add_coupon(&app, "SOON", CouponValue::Fixed(Fen(1000)), |c| c.valid_from = now() + 3600).await;
    add_coupon(&app, "PYONLY", CouponValue::Fixed(Fen(1000)), |c| c.course_id = Some(kedian::domain::CourseId(python)))
        .await;
    app.login_by_code("13800138081").await;
    let order_no = app.order_for("excel-data-analysis").await;
    for (code, message) in [
        ("BIGSPEND", "满 ¥500.00 才能使用"),
        ("OLD", "已过期"),
        ("SOON", "还没到使用时间"),
        ("PYONLY", "不能用于这门课程"),
        ("NOSUCH", "优惠券不存在"),
        ("", "请输入优惠券码"),
        (&"X".repeat(40), "优惠券不存在"),
    ] {
        let (status, html) = apply(&app, &order_no, code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{code}");
        assert!(html.contains("id=\"code-error\"") && html.contains(message), "{code}: {message}");
        assert!(html.contains("¥199.00"));
    }
    assert_eq!(app.count("coupon_redemptions").await, 0);
    let (status, html) = apply(&app, &order_no, "EXACT").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "exactly the minimum spend qualifies");
    assert!(html.contains("¥189.00"));
    // Removing it restores the price.
    let page = format!("/orders/{order_no}/pay");
    app.submit(&page, &format!("/orders/{order_no}/coupon"), &[("action", "remove")]).await;
    let (_, html) = app.get_html(&page).await;
    assert!(!html.contains("-¥0.00") && html.contains("¥199.00"), "no discount row, the full price due");
    let state: String =
        sqlx::query_scalar("SELECT status FROM coupon_redemptions").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(state, "released");
}

async fn limited_coupons_are_reserved_consumed_and_released(app: TestApp) {
    add_coupon(&app, "ONLYONE", CouponValue::Fixed(Fen(1000)), |c| c.total_limit = Some(1)).await;
    add_coupon(&app, "ONCEEACH", CouponValue::Fixed(Fen(1000)), |c| c.per_user_limit = Some(1)).await;
    app.login_by_code("13800138082").await;
    let first = app.order_for("excel-data-analysis").await;
    assert_eq!(apply(&app, &first, "ONLYONE").await.0, StatusCode::SEE_OTHER);
    app.logout().await;
    app.age_codes(61).await;

    app.login_by_code("13800138083").await;
    let second = app.order_for("excel-data-analysis").await;
    let (status, html) = apply(&app, &second, "ONLYONE").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("已被领完"), "held by the first buyer's pending order");
    app.logout().await;
    app.age_codes(61).await;

    // The first buyer cancels: the coupon comes back.
    app.login_by_code("13800138082").await;
    app.submit(&format!("/orders/{first}"), &format!("/orders/{first}/cancel"), &[]).await;
    // Per-user limit: paid once, refused on the next order.
    let paid = app.order_for("python-zero-to-one").await;
    assert_eq!(apply(&app, &paid, "ONCEEACH").await.0, StatusCode::SEE_OTHER);
    app.pay_sandbox(&paid).await;
    let next = app.order_for("economics-in-15-minutes").await;
    let (status, html) = apply(&app, &next, "ONCEEACH").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("你已经用过这张优惠券了"));
    app.logout().await;
    app.age_codes(61).await;

    app.login_by_code("13800138083").await;
    assert_eq!(apply(&app, &second, "ONLYONE").await.0, StatusCode::SEE_OTHER, "released by the cancel");
}

async fn a_coupon_cannot_change_once_payment_started(app: TestApp) {
    add_coupon(&app, "LATE", CouponValue::Fixed(Fen(1000)), |_| {}).await;
    app.login_by_code("13800138084").await;
    let order_no = app.order_for("excel-data-analysis").await;
    app.choose_sandbox(&order_no).await;
    let (status, html) = apply(&app, &order_no, "LATE").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("已经开始支付"));
    app.cashier(&order_no, "confirm").await;
    let paid: i64 = sqlx::query_scalar("SELECT amount_fen FROM payments").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(paid, 19900);
}

async fn a_coupon_that_covers_the_price_completes_the_order(app: TestApp) {
    add_coupon(&app, "GIFT", CouponValue::PercentOff(100), |_| {}).await;
    app.login_by_code("13800138085").await;
    let order_no = app.order_for("economics-in-15-minutes").await;
    let (_, html) = apply(&app, &order_no, "GIFT").await;
    assert!(html.contains("-¥99.00"));
    let page = format!("/orders/{order_no}/pay");
    let response = app.submit(&page, &page, &[("channel", "sandbox")]).await;
    assert_eq!(crate::helpers::location(&response), format!("/orders/{order_no}/done"));
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert_eq!(app.count("entitlements").await, 1);
    let state: String =
        sqlx::query_scalar("SELECT status FROM coupon_redemptions").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(state, "consumed");
}

/// A kind word the shop never writes cannot be stored (the table checks it), and the read
/// refuses one too instead of quietly making it a fixed discount of `value` fen.
async fn a_coupon_of_a_kind_never_written_is_an_error_not_a_discount(app: TestApp) {
    add_coupon(&app, "ODDKIND", CouponValue::PercentOff(10), |_| {}).await;
    let stored = sqlx::query("UPDATE coupons SET kind = 'bogus' WHERE code = 'ODDKIND'").execute(app.db.write()).await;
    assert!(stored.is_err(), "the table refuses a kind it does not know");
    let found = coupons::find_by_code(&app.db, "ODDKIND").await.unwrap().expect("the coupon");
    assert_eq!(found.rule.value, CouponValue::PercentOff(10));
}
