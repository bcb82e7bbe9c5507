//! Group-buy (拼团) as buyers and staff use it: staff set an offer; a buyer opens a group and
//! pays, others join from its page; when the last seat is paid everyone learns. A group that
//! does not fill is refunded, each payment once at the gateway however often the job runs or a
//! notification repeats; ten buyers paying for the last seat at once make one member.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;
use crate::payments::{deliver, wire};

const COURSE: &str = "excel-data-analysis"; // ¥199
const GROUP_FEN: i64 = 9900;

on_both_backends!(
    a_group_fills_and_everyone_learns,
    an_unfilled_group_is_refunded_once,
    ten_buyers_pay_for_the_last_seat_at_once,
    staff_offers_are_checked_and_owners_cannot_join,
    a_seat_replacing_a_pending_order_gives_its_coupon_back,
);

fn now() -> i64 {
    kedian::domain::time::now()
}

/// Staff put the course on a group offer of `size` at ¥99, 24 hours to fill.
async fn offer(app: &TestApp, size: &str) -> TestApp {
    let staff = app.staff().await;
    let page = format!("/admin/courses/{}/group", app.course_id(COURSE).await);
    let fields = [
        ("price", "99"),
        ("size", size),
        ("fill_hours", "24"),
        ("starts_at", ""),
        ("ends_at", "2099-01-01T00:00"),
        ("action", "save"),
    ];
    let saved = staff.submit(&page, &page, &fields).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    staff
}

async fn learner(app: &TestApp, phone: &str) -> TestApp {
    let browser = app.another_browser();
    browser.login_by_code(phone).await;
    browser
}

/// Presses a group button (open or join) and starts a sandbox payment; returns the order number.
async fn seat_order(browser: &TestApp, page: &str, action: &str) -> String {
    let pressed = browser.submit(page, action, &[]).await;
    assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
    let pay = location(&pressed);
    assert!(pay.ends_with("/pay"), "to the pay page, not {pay}");
    let order_no = pay.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    browser.choose_sandbox(&order_no).await;
    order_no
}

/// The gateway's notification that the order was paid (at the group price).
async fn paid(app: &TestApp, order_no: &str) -> kedian::pay::sandbox::SignedNotification {
    let signed = app.sandbox_gateway().signed(&wire(order_no, GROUP_FEN), now()).unwrap();
    let (status, body) = deliver(app, &signed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    signed
}

async fn group_of(app: &TestApp, order_no: &str) -> i64 {
    sqlx::query_scalar("SELECT group_id FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn may_learn(browser: &TestApp) -> bool {
    let lesson = browser.first_paid_lesson(COURSE).await;
    let (_, html) = browser.get_html(&format!("/courses/{COURSE}/lessons/{lesson}")).await;
    !html.contains("class=\"panel locked\"")
}

/// A page as a signed-in visitor sees it now (visitors' pages may be a minute old).
async fn second_look(app: &TestApp, path: &str) -> (StatusCode, String) {
    learner(app, "13800139199").await.get_html(path).await
}

async fn a_group_fills_and_everyone_learns(app: TestApp) {
    offer(&app, "3").await;
    let course_page = format!("/courses/{COURSE}");
    let (_, page) = app.get_html(&course_page).await;
    assert!(unescape(&page).contains("拼团价 ¥99.00，3 人成团"), "the course page shows the offer");
    let opener = learner(&app, "13800139101").await;
    let first = seat_order(&opener, &course_page, &format!("{course_page}/group")).await;
    let group = group_of(&app, &first).await;
    assert_eq!(
        opener.get(&format!("/groups/{group}")).await.status(),
        StatusCode::NOT_FOUND,
        "not public before it is paid"
    );
    paid(&app, &first).await;
    assert!(!may_learn(&opener).await, "nobody learns before the group fills");
    let group_page = format!("/groups/{group}");
    let (_, shown) = app.get_html(&group_page).await;
    assert!(unescape(&shown).contains("还差 2 人成团") && shown.contains("data-until"), "seats left and the time left");
    let (_, listed) = second_look(&app, &course_page).await;
    assert!(listed.contains(&format!("href=\"/groups/{group}\"")), "the course page lists the open group");

    let second = learner(&app, "13800139102").await;
    let two = seat_order(&second, &group_page, &format!("{group_page}/join")).await;
    paid(&app, &two).await;
    let (_, shown) = second.get_html(&group_page).await;
    assert!(shown.contains("你已参团"), "a member sees they are in");
    // …and invites friends: a poster whose QR code opens the group, and a link to copy.
    assert!(shown.contains("邀请好友") && shown.contains("复制链接"));
    assert!(shown.contains(&format!("src=\"/groups/{group}/poster.png\"")));
    if kedian::media::poster::font().is_some() {
        let file = location(&second.get(&format!("/groups/{group}/poster.png")).await);
        let bytes = second.get(&file).await.bytes().await.unwrap();
        let mut prepared = rqrr::PreparedImage::prepare(image::load_from_memory(&bytes).unwrap().to_luma8());
        let (_, content) = prepared.detect_grids()[0].decode().unwrap();
        assert_eq!(content, format!("http://kedian.test/groups/{group}"), "the poster's code opens the group");
    }
    assert!(!may_learn(&second).await);
    let (_, course) = second.get_html(&course_page).await;
    assert!(
        course.contains(&format!("href=\"/groups/{group}\"")) && !course.contains(&format!("{course_page}/buy")),
        "a member waits for the group, not buys again"
    );
    let third = learner(&app, "13800139103").await;
    let three = seat_order(&third, &group_page, &format!("{group_page}/join")).await;
    paid(&app, &three).await;
    for member in [&opener, &second, &third] {
        assert!(may_learn(member).await, "the last seat opens the course to every member");
    }
    let (_, shown) = app.get_html(&group_page).await;
    assert!(shown.contains("已成团"));
    let (_, messages) = opener.get_html("/me/messages").await;
    assert!(messages.contains("拼团成功"), "members are told");
    let late = learner(&app, "13800139104").await;
    let refused = late.submit("/me", &format!("{group_page}/join"), &[]).await;
    assert_eq!(location(&refused), group_page, "a full group takes nobody more");
    assert_eq!(app.count("sandbox_refunds").await, 0);
}

async fn an_unfilled_group_is_refunded_once(app: TestApp) {
    offer(&app, "3").await;
    let course_page = format!("/courses/{COURSE}");
    let opener = learner(&app, "13800139111").await;
    let first = seat_order(&opener, &course_page, &format!("{course_page}/group")).await;
    paid(&app, &first).await;
    let group = group_of(&app, &first).await;
    let group_page = format!("/groups/{group}");
    let second = learner(&app, "13800139112").await;
    let two = seat_order(&second, &group_page, &format!("{group_page}/join")).await;
    let notice = paid(&app, &two).await;

    // The time runs out one seat short; the job runs twice and the gateway repeats a notice.
    sqlx::query("UPDATE group_buys SET deadline = $1 WHERE id = $2")
        .bind(now() - 1)
        .bind(group)
        .execute(app.db.write())
        .await
        .unwrap();
    app.run_order_jobs(now()).await;
    let (status, _) = deliver(&app, &notice).await;
    assert_eq!(status, StatusCode::OK, "a repeated notice is acknowledged and changes nothing");
    app.run_order_jobs(now()).await;
    let refunds: Vec<(String, i64)> =
        sqlx::query_as("SELECT out_refund_no, amount_fen FROM sandbox_refunds ORDER BY out_refund_no")
            .fetch_all(app.db.read())
            .await
            .unwrap();
    assert_eq!(refunds.len(), 2, "each payment refunded once: {refunds:?}");
    assert!(refunds.iter().all(|(_, amount)| *amount == GROUP_FEN), "in full");
    for order in [&first, &two] {
        assert_eq!(app.order_status(order).await, "refunded");
    }
    assert!(!may_learn(&opener).await && !may_learn(&second).await);
    let (_, shown) = app.get_html(&group_page).await;
    assert!(shown.contains("未成团"), "the group page says what happened");
    let (_, messages) = second.get_html("/me/messages").await;
    assert!(messages.contains("拼团未成团"), "members are told");
    app.run_order_jobs(now() + 3600).await;
    assert_eq!(app.count("sandbox_refunds").await, 2, "later runs refund nothing again");
}

async fn ten_buyers_pay_for_the_last_seat_at_once(app: TestApp) {
    offer(&app, "2").await;
    let course_page = format!("/courses/{COURSE}");
    let opener = learner(&app, "13800139121").await;
    let first = seat_order(&opener, &course_page, &format!("{course_page}/group")).await;
    paid(&app, &first).await;
    let group_page = format!("/groups/{}", group_of(&app, &first).await);
    let mut orders = Vec::new();
    for i in 0..10 {
        let buyer = learner(&app, &format!("1380013913{i}")).await;
        orders.push(seat_order(&buyer, &group_page, &format!("{group_page}/join")).await);
    }
    let notices: Vec<_> = orders
        .iter()
        .map(|order_no| app.sandbox_gateway().signed(&wire(order_no, GROUP_FEN), now()).unwrap())
        .collect();
    let answers = futures_util::future::join_all(notices.iter().map(|n| deliver(&app, n))).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK), "{answers:?}");
    let joined: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE status = 'joined'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(joined, 2, "the opener and exactly one of the ten");
    app.run_order_jobs(now()).await;
    app.run_order_jobs(now()).await;
    assert_eq!(app.count("sandbox_refunds").await, 9, "the nine others are refunded, once each");
    let granted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM entitlements WHERE revoked_at IS NULL")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(granted, 2, "two members learn");
}

async fn staff_offers_are_checked_and_owners_cannot_join(app: TestApp) {
    let staff = app.staff().await;
    let page = format!("/admin/courses/{}/group", app.course_id(COURSE).await);
    let bad = [
        ("price", "299"),
        ("size", "11"),
        ("fill_hours", "0"),
        ("starts_at", ""),
        ("ends_at", "2020-01-01T00:00"),
        ("action", "save"),
    ];
    let refused = staff.submit(&page, &page, &bad).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    for field in ["price", "size", "fill_hours", "ends_at"] {
        assert!(html.contains(&format!("id=\"{field}-error\"")), "{field} is named");
    }
    assert_eq!(app.count("group_offers").await, 0, "nothing saved");
    offer(&app, "3").await;
    let course_page = format!("/courses/{COURSE}");
    let owner = learner(&app, "13800139141").await;
    owner.bought(COURSE).await;
    let opener = learner(&app, "13800139142").await;
    let first = seat_order(&opener, &course_page, &format!("{course_page}/group")).await;
    paid(&app, &first).await;
    let group_page = format!("/groups/{}", group_of(&app, &first).await);
    let (_, shown) = owner.get_html(&group_page).await;
    assert!(shown.contains("你已拥有这门课程"), "an owner is told, not sold a seat");
    let pressed = owner.submit("/me", &format!("{group_page}/join"), &[]).await;
    assert_eq!(location(&pressed), group_page);
    let again = opener.submit("/me", &format!("{group_page}/join"), &[]).await;
    assert_eq!(location(&again), group_page, "one seat per buyer");
    let ended = staff.submit(&page, &page, &[("action", "remove")]).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    let (_, course) = second_look(&app, &course_page).await;
    assert!(!course.contains("/group\""), "the offer is gone from the course page");
}

/// Opening a group closes the buyer's pending order for the course; a coupon it held goes back,
/// as when any order closes unpaid, so the next buyer can use a one-off coupon.
async fn a_seat_replacing_a_pending_order_gives_its_coupon_back(app: TestApp) {
    offer(&app, "3").await;
    let coupon = kedian::store::coupons::NewCoupon {
        code: "ONLYONE",
        name: "限一张",
        value: kedian::domain::coupon::CouponValue::Fixed(kedian::domain::Fen(1000)),
        min_spend: kedian::domain::Fen(0),
        valid_from: now() - 60,
        valid_until: now() + 86_400,
        total_limit: Some(1),
        per_user_limit: None,
        course_id: None,
        new_buyers_only: false,
    };
    kedian::store::coupons::create(&app.db, &coupon, now()).await.unwrap().unwrap();
    let buyer = learner(&app, "13800139111").await;
    let pending = buyer.order_for(COURSE).await;
    assert_eq!(apply_coupon(&buyer, &pending).await, StatusCode::SEE_OTHER);
    let course_page = format!("/courses/{COURSE}");
    seat_order(&buyer, &course_page, &format!("{course_page}/group")).await;
    assert_eq!(buyer.order_status(&pending).await, "closed", "replaced by the seat's order");
    let other = learner(&app, "13800139112").await;
    let theirs = other.order_for(COURSE).await;
    assert_eq!(apply_coupon(&other, &theirs).await, StatusCode::SEE_OTHER, "the coupon came back");
}

async fn apply_coupon(browser: &TestApp, order_no: &str) -> StatusCode {
    let page = format!("/orders/{order_no}/pay");
    let form = [("code", "ONLYONE"), ("action", "apply")];
    browser.submit(&page, &format!("/orders/{order_no}/coupon"), &form).await.status()
}
