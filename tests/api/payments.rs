//! Notifications: exactly-once fulfilment, forgeries refused, lost ones reconciled, late ones kept.

use kedian::domain::time::now;
use kedian::pay::sandbox::{NONCE_HEADER, SIGNATURE_HEADER, SandboxNotification, SignedNotification, TIMESTAMP_HEADER};
use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    fifty_identical_notifications_pay_once,
    forged_notifications_change_nothing,
    a_lost_notification_is_completed_by_reconciliation,
    a_lost_notification_is_paid_when_the_buyer_returns,
    a_lost_notification_is_not_starved_by_abandoned_payments,
    a_payment_that_loses_the_race_with_expiry_is_kept_for_refund,
    expiry_closes_unpaid_orders_but_not_paid_ones,
);

/// Logs in, buys the Excel course and starts a sandbox payment; returns the order number.
async fn started_order(app: &TestApp, phone: &str) -> String {
    app.login_by_code(phone).await;
    let order_no = app.order_for("excel-data-analysis").await;
    app.choose_sandbox(&order_no).await;
    order_no
}

pub(crate) fn wire(order_no: &str, amount_fen: i64) -> SandboxNotification {
    SandboxNotification {
        out_trade_no: order_no.into(),
        transaction_id: format!("SBXTEST{order_no}"),
        trade_state: "SUCCESS".into(),
        amount_fen,
        currency: "CNY".into(),
        paid_at: now(),
    }
}

pub(crate) async fn deliver(app: &TestApp, signed: &SignedNotification) -> (StatusCode, String) {
    let mut request = app.client.post(app.url("/pay/notify/sandbox")).body(signed.body.clone());
    for (name, value) in &signed.headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn fifty_identical_notifications_pay_once(app: TestApp) {
    let order_no = started_order(&app, "13800138070").await;
    let signed = app.sandbox_gateway().signed(&wire(&order_no, 19900), now()).unwrap();
    let answers = futures_util::future::join_all((0..50).map(|_| deliver(&app, &signed))).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert!(body.contains("SUCCESS"));
    }
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.count("entitlements").await, 1);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_notifications WHERE verdict = 'applied'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(applied, 1);
    assert_eq!(app.count("payment_notifications").await, 50, "every one kept for audit");
    let learners: i64 = sqlx::query_scalar("SELECT learner_count FROM courses WHERE slug = 'excel-data-analysis'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(learners, 12851, "counted once");
}

async fn forged_notifications_change_nothing(app: TestApp) {
    let order_no = started_order(&app, "13800138071").await;
    let gateway = app.sandbox_gateway();
    let good = gateway.signed(&wire(&order_no, 19900), now()).unwrap();

    let mut flipped = good.body.clone().into_bytes();
    let at = flipped.iter().position(|b| *b == b'9').unwrap();
    flipped[at] = b'8';
    let flipped = SignedNotification { headers: good.headers.clone(), body: String::from_utf8(flipped).unwrap() };

    let mut wrong_signature = SignedNotification { headers: good.headers.clone(), body: good.body.clone() };
    wrong_signature.headers.retain(|(n, _)| *n != SIGNATURE_HEADER);
    wrong_signature.headers.push((SIGNATURE_HEADER, "0".repeat(64)));

    let mut no_nonce = SignedNotification { headers: good.headers.clone(), body: good.body.clone() };
    no_nonce.headers.retain(|(n, _)| *n != NONCE_HEADER);

    let stale = gateway.signed(&wire(&order_no, 19900), now() - 301).unwrap();
    let future = gateway.signed(&wire(&order_no, 19900), now() + 400).unwrap();
    let other_key = kedian::pay::sandbox::Sandbox::new(b"not the shop's key".to_vec(), app.db.clone());
    let wrong_key = other_key.signed(&wire(&order_no, 19900), now()).unwrap();
    let wrong_amount = gateway.signed(&wire(&order_no, 19800), now()).unwrap();
    let unknown_order = gateway.signed(&wire("20260101ABCDEFGHJKLM", 19900), now()).unwrap();
    let mut other_currency = wire(&order_no, 19900);
    other_currency.currency = "USD".into();
    let other_currency = gateway.signed(&other_currency, now()).unwrap();
    let garbage = gateway
        .signed(&wire(&order_no, 19900), now())
        .map(|s| SignedNotification { headers: s.headers, body: "{".into() })
        .unwrap();

    for (what, forged) in [
        ("flipped byte", &flipped),
        ("wrong signature", &wrong_signature),
        ("missing nonce", &no_nonce),
        ("stale timestamp", &stale),
        ("future timestamp", &future),
        ("wrong key", &wrong_key),
        ("amount mismatch", &wrong_amount),
        ("unknown order", &unknown_order),
        ("other currency", &other_currency),
        ("body changed", &garbage),
    ] {
        let (status, body) = deliver(&app, forged).await;
        assert!(status.is_client_error(), "{what}: {status}");
        assert!(!body.contains("SUCCESS"), "{what} answered success");
    }
    assert_eq!(app.order_status(&order_no).await, "pending");
    assert_eq!(app.count("payments").await, 0);
    assert_eq!(app.count("entitlements").await, 0);
    let rejected: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_notifications WHERE verdict LIKE 'rejected%'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(rejected, 10, "each forgery kept with its verdict");
    // An unknown provider is not a thing.
    let response = app.client.post(app.url("/pay/notify/paypal")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // And the genuine one still works afterwards.
    assert_eq!(deliver(&app, &good).await.0, StatusCode::OK);
    assert_eq!(app.order_status(&order_no).await, "paid");
    let _ = TIMESTAMP_HEADER;

    // Junk is kept only as its start, and rejected posts are pruned while the applied one stays.
    let junk = app.client.post(app.url("/pay/notify/sandbox")).body("A".repeat(64 * 1024)).send().await.unwrap();
    assert!(junk.status().is_client_error());
    let longest: i64 =
        sqlx::query_scalar("SELECT MAX(LENGTH(body)) FROM payment_notifications WHERE verdict LIKE 'rejected%'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert!(longest <= 2_100, "a rejected body of {longest} characters was kept");
    use kedian::store::payment_notifications::{REJECTED_KEEP_SECS, prune_rejected};
    assert_eq!(prune_rejected(&app.db, now()).await.unwrap(), 0, "nothing old yet, and fewer than the most kept");
    assert_eq!(prune_rejected(&app.db, now() + REJECTED_KEEP_SECS + 1).await.unwrap(), 11);
    let kept: Vec<String> =
        sqlx::query_scalar("SELECT verdict FROM payment_notifications").fetch_all(app.db.read()).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(!kept[0].starts_with("rejected"), "{kept:?}");

    // One address posting junk is not heard after 30 refusals in ten minutes: nothing more is
    // verified or stored (11 of its posts were refused above).
    let post_junk = || app.client.post(app.url("/pay/notify/sandbox")).body("junk").send();
    let mut refused = 11;
    let held = loop {
        let response = post_junk().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break response;
        }
        assert!(response.status().is_client_error());
        refused += 1;
        assert!(refused <= 30, "still heard after {refused} refusals");
    };
    assert_eq!(refused, 30);
    assert!(held.headers().contains_key("retry-after"));
    for _ in 0..10 {
        assert_eq!(post_junk().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_notifications WHERE verdict LIKE 'rejected%'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(stored, 19, "only the heard junk is kept");
}

/// A buyer who never comes back: the reconciliation job finds the payment.
async fn a_lost_notification_is_completed_by_reconciliation(app: TestApp) {
    let order_no = started_order(&app, "13800138072").await;
    let response = app.cashier(&order_no, "confirm_lost").await;
    assert_eq!(crate::helpers::location(&response), format!("/orders/{order_no}/return"));
    assert_eq!(app.order_status(&order_no).await, "pending");
    // Too early to ask the gateway.
    app.run_order_jobs(now()).await;
    assert_eq!(app.order_status(&order_no).await, "pending");
    app.run_order_jobs(now() + kedian::jobs::orders::RECONCILE_AFTER_SECS + 1).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert_eq!(app.count("entitlements").await, 1);
    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(html.contains("开始学习"));
}

/// A buyer back from the cashier whose payment's notification was lost: the gateway is asked
/// at once, so the return page turns into 支付成功 without waiting for reconciliation. Before
/// they pay, the page waits and never takes the browser's word.
async fn a_lost_notification_is_paid_when_the_buyer_returns(app: TestApp) {
    let order_no = started_order(&app, "13800138073").await;
    let (status, html) = app.get_html(&format!("/orders/{order_no}/return")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("正在确认支付结果") && html.contains("http-equiv=\"refresh\""),
        "not paid at the gateway: the page waits, never trusting the browser"
    );
    assert_eq!(app.order_status(&order_no).await, "pending");
    let response = app.cashier(&order_no, "confirm_lost").await;
    let back = crate::helpers::location(&response);
    assert_eq!(back, format!("/orders/{order_no}/return"));
    // The page's next refresh asks again (a refresh at once is held back a few seconds).
    let landed = app.returned_from_cashier(&order_no).await;
    assert_eq!(landed, format!("/orders/{order_no}/done"), "paid on the buyer's return");
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert_eq!(app.count("entitlements").await, 1);
    assert_eq!(app.count("payments").await, 1);
}

/// 150 older payments that were started and abandoned stand ahead of the one whose notification
/// was lost; the paid order still completes within two job intervals.
async fn a_lost_notification_is_not_starved_by_abandoned_payments(app: TestApp) {
    let abandoned = started_order(&app, "13800138074").await;
    let paid = app.order_for("python-zero-to-one").await;
    app.choose_sandbox(&paid).await;
    let start = now();
    let mut tx = app.db.write().begin().await.unwrap();
    for i in 0..150 {
        let user_id: i64 = sqlx::query_scalar(
            "INSERT INTO users (phone, nickname, role, created_at, updated_at) VALUES ($1, 'x', 'learner', $2, $2) RETURNING id",
        )
        .bind(format!("1390000{i:04}"))
        .bind(start - 3600)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        // Copies of a real started payment, begun earlier, still within their 30 minutes.
        sqlx::query(
            "INSERT INTO orders (order_no, user_id, course_id, item_title, item_kind, price_fen, discount_fen, amount_fen, \
             non_refundable, refund_window_days, refund_max_consumed_pct, refund_terms_shown, status, created_at, \
             expires_at, pay_provider, pay_channel, updated_at, reconcile_at) \
             SELECT $1, $2, course_id, item_title, item_kind, price_fen, discount_fen, amount_fen, non_refundable, \
             refund_window_days, refund_max_consumed_pct, refund_terms_shown, 'pending', $3, $4, pay_provider, \
             pay_channel, $3, $5 FROM orders WHERE order_no = $6",
        )
        .bind(format!("{abandoned}{i:03}"))
        .bind(user_id)
        .bind(start - 600 + i)
        .bind(start + 1800)
        .bind(start - 480 + i)
        .bind(&abandoned)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(crate::helpers::location(&app.cashier(&paid, "confirm_lost").await), format!("/orders/{paid}/return"));
    let interval = 30;
    let first_run = start + kedian::jobs::orders::RECONCILE_AFTER_SECS + 1;
    app.run_order_jobs(first_run).await;
    app.run_order_jobs(first_run + interval).await;
    assert_eq!(app.order_status(&paid).await, "paid", "reached within two job intervals");
    // Every abandoned one was asked about once, and waits longer before the next question.
    let (checked, next_due): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), MIN(reconcile_at) FROM orders WHERE status = 'pending' AND reconcile_checks = 1",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    assert_eq!(checked, 151, "the 150 copies and the first abandoned order");
    assert!(next_due >= first_run + 60);
    assert_eq!(app.order_status(&abandoned).await, "pending");
}

async fn a_payment_that_loses_the_race_with_expiry_is_kept_for_refund(app: TestApp) {
    let order_no = started_order(&app, "13800138073").await;
    // The buyer pays at the gateway just as the order expires; the expiry job commits first.
    let late = app.sandbox_gateway().signed(&wire(&order_no, 19900), now()).unwrap();
    app.run_order_jobs(now() + 31 * 60).await;
    assert_eq!(app.order_status(&order_no).await, "closed");
    let (status, body) = deliver(&app, &late).await;
    assert_eq!(status, StatusCode::OK, "recorded, so the gateway need not retry: {body}");
    assert_eq!(app.order_status(&order_no).await, "closed");
    assert_eq!(app.count("entitlements").await, 0, "no access without a paid order");
    let late_payments = kedian::store::orders::late_payments(&app.db, 10).await.unwrap();
    assert_eq!(late_payments.len(), 1);
    assert_eq!(late_payments[0].order_no, order_no);
    assert_eq!(late_payments[0].amount.0, 19900);
    // Staff see it in the back office, queued for the automatic refund.
    let staff = app.staff().await;
    let (_, html) = staff.get_html("/admin").await;
    assert!(
        html.contains("迟到的付款")
            && html.contains(&order_no)
            && html.contains("¥199.00")
            && html.contains("等待退款")
    );
    // The next job run refunds it, once, under a refund number that retries reuse.
    app.run_order_jobs(now()).await;
    app.run_order_jobs(now()).await;
    let refunds: Vec<(String, i64)> =
        sqlx::query_as("SELECT out_refund_no, amount_fen FROM sandbox_refunds").fetch_all(app.db.read()).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].1, 19900);
    let late = kedian::store::orders::late_payments(&app.db, 10).await.unwrap();
    assert_eq!(late[0].refund_state, Some(kedian::domain::payment::LateRefundState::Succeeded));
    assert_eq!(late[0].refund_no.as_deref(), Some(refunds[0].0.as_str()));
    let (_, html) = staff.get_html("/admin").await;
    assert!(html.contains("已退款"));
}

async fn expiry_closes_unpaid_orders_but_not_paid_ones(app: TestApp) {
    let unpaid = started_order(&app, "13800138074").await;
    let paid = app.order_for("python-zero-to-one").await;
    app.pay_sandbox(&paid).await;
    assert_eq!(app.order_status(&paid).await, "paid");
    app.run_order_jobs(now() + 29 * 60).await;
    assert_eq!(app.order_status(&unpaid).await, "pending", "30 minutes to pay");
    app.run_order_jobs(now() + 31 * 60).await;
    assert_eq!(app.order_status(&unpaid).await, "closed");
    assert_eq!(app.order_status(&paid).await, "paid");
    let reason: String = sqlx::query_scalar("SELECT close_reason FROM orders WHERE order_no = $1")
        .bind(&unpaid)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(reason, "expired");
}

#[tokio::test]
async fn sandbox_is_refused_in_production_unless_allowed() {
    use crate::helpers::{Backend, spawn_app_with};
    let https = |s: &mut kedian::config::Settings| s.public_url = "https://shop.example".into();
    let app = spawn_app_with(Backend::Sqlite, https).await.unwrap();
    assert!(app.providers.is_empty(), "no sandbox money in production");
    let allowed = spawn_app_with(Backend::Sqlite, |s| {
        https(s);
        s.allow_sandbox = true;
    })
    .await
    .unwrap();
    assert!(allowed.providers.get("sandbox").is_some());
}
