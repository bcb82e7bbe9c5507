//! Distribution (推广员), as a learner, a distributor and staff use it: the programme is set in
//! the back office, a learner applies and is approved, a buyer follows the link and pays, the
//! commission is pending until the refund window closes, then settled; refunds take their share
//! back, before settlement or after (a negative entry); self-referrals and frozen distributors
//! earn nothing.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;
use crate::refunds::{by_hand, refund_no_from};

const COURSE: &str = "excel-data-analysis"; // ¥199, refunds within 7 days
const DAY: i64 = 86_400;

on_both_backends!(
    setup = by_hand;
    a_referred_purchase_earns_once_the_refund_window_closes,
    settled_commission_is_withdrawn_within_the_limits,
    a_course_rate_beats_the_default_within_the_cap,
    many_buyers_from_one_address_raise_a_flag,
    refunds_take_their_share_of_the_commission_back,
    own_purchases_frozen_distributors_and_a_closed_programme_earn_nothing,
);

/// The back office turns the programme on (10%, capped at 25%); a cap above 25% needs consent.
pub async fn open_programme(staff: &TestApp) {
    let page = "/admin/settings";
    let too_high = staff
        .submit(page, page, &[("distribution", "on"), ("distribution_rate", "10"), ("distribution_cap", "30")])
        .await;
    assert_eq!(too_high.status(), StatusCode::BAD_REQUEST);
    let html = unescape(&too_high.text().await.unwrap());
    assert!(html.contains("id=\"distribution_cap-error\"") && html.contains("最高 25%"), "the cap needs consent");
    let above_cap = staff.submit(page, page, &[("distribution", "on"), ("distribution_rate", "26")]).await;
    assert_eq!(above_cap.status(), StatusCode::BAD_REQUEST, "the rate never above the cap");
    let saved = staff
        .submit(
            page,
            page,
            &[
                ("distribution", "on"),
                ("distribution_rate", "10"),
                ("distribution_cap", "25"),
                ("distribution_window_days", "15"),
                ("distribution_rule", "last_click"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
}

pub async fn user_id(app: &TestApp, phone: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE phone = $1").bind(phone).fetch_one(app.db.read()).await.unwrap()
}

/// A learner applies from 我的 (a bad form first), staff approve; returns the browser and the
/// referral code shown in the centre.
pub async fn distributor(app: &TestApp, staff: &TestApp, phone: &str) -> (TestApp, String) {
    let me = app.another_browser();
    me.login_by_code(phone).await;
    let (_, home) = me.get_html("/me").await;
    assert!(home.contains("href=\"/me/distribution\""), "the centre is in 我的 while the programme runs");
    let centre = "/me/distribution";
    let bad = me
        .submit(centre, "/me/distribution/apply", &[("real_name", ""), ("contact_phone", "123"), ("reason", "")])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(html.contains("id=\"real_name-error\"") && html.contains("id=\"contact_phone-error\""));
    assert_eq!(app.count("distributors").await, 0, "a bad application changes nothing");
    let applied = me
        .submit(
            centre,
            "/me/distribution/apply",
            &[("real_name", "王小明"), ("contact_phone", phone), ("reason", "同事都想学 Excel")],
        )
        .await;
    assert_eq!(location(&applied), centre);
    let (_, waiting) = me.get_html(centre).await;
    assert!(waiting.contains("正在审核"));

    let id = user_id(app, phone).await;
    let (_, queue) = staff.get_html("/admin/distributors").await;
    assert!(queue.contains("同事都想学 Excel") && queue.contains("待审核"));
    let approve = format!("/admin/distributors/{id}");
    let approved = staff.submit("/admin/distributors", &approve, &[("decision", "approve"), ("note", "")]).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let (_, page) = me.get_html(centre).await;
    let code = page.split("/?ref=").nth(1).and_then(|r| r.get(..8)).expect("a referral link").to_string();
    assert!(page.contains("推荐的订单"));
    // Ready to send: the shop link and each course's own link with a copy button, and its poster.
    let page = crate::helpers::unescape(&page);
    assert!(page.contains("data-copy=\"dist-link\"") && page.contains("复制链接"));
    assert!(page.contains(&format!("value=\"http://kedian.test/courses/{COURSE}?ref={code}\"")), "a link per course");
    assert!(page.contains(&format!("href=\"/courses/{COURSE}/poster.png?ref={code}\"")), "a poster per course");
    assert!(!page.contains("?ref={code}\" 也可以"), "nobody is asked to edit links by hand");
    (me, code)
}

/// The distributor's own poster: the course page's share sheet offers it, and its QR code carries
/// the referral.
async fn poster_carries_the_referral(me: &TestApp, code: &str) {
    if kedian::media::poster::font().is_none() {
        crate::helpers::skip("no CJK font (Debian: fonts-noto-cjk)");
        return;
    }
    let (_, page) = me.get_html(&format!("/courses/{COURSE}")).await;
    let poster = format!("/courses/{COURSE}/poster.png?ref={code}");
    assert!(page.contains(&format!("src=\"{poster}\"")) && page.contains("专属海报"), "the share sheet is theirs");
    let file = location(&me.get(&poster).await);
    let bytes = me.get(&file).await.bytes().await.unwrap();
    let mut prepared = rqrr::PreparedImage::prepare(image::load_from_memory(&bytes).unwrap().to_luma8());
    let (_, content) = prepared.detect_grids()[0].decode().unwrap();
    assert_eq!(content, format!("http://kedian.test/courses/{COURSE}?ref={code}"));
    let plain = location(&me.get(&format!("/courses/{COURSE}/poster.png?ref=NOTACODE")).await);
    assert_ne!(plain, file, "an unknown code draws the shop's own poster");
}

pub async fn commission_of(app: &TestApp, order_no: &str) -> Option<(i64, String)> {
    sqlx::query_as(
        "SELECT c.amount_fen, c.state FROM commissions c JOIN orders o ON o.id = c.order_id WHERE o.order_no = $1",
    )
    .bind(order_no)
    .fetch_optional(app.db.read())
    .await
    .unwrap()
}

pub async fn ledger(app: &TestApp, order_no: &str) -> Vec<(String, i64, i64)> {
    sqlx::query_as(
        "SELECT e.kind, e.amount_fen, e.settled FROM commission_entries e JOIN orders o ON o.id = e.order_id \
         WHERE o.order_no = $1 ORDER BY e.id",
    )
    .bind(order_no)
    .fetch_all(app.db.read())
    .await
    .unwrap()
}

async fn balances(app: &TestApp, phone: &str) -> kedian::domain::commission::Balances {
    let id = kedian::domain::UserId(user_id(app, phone).await);
    kedian::store::commissions::balances(&app.db, id).await.unwrap()
}

fn yuan(fen: i64) -> kedian::domain::Fen {
    kedian::domain::Fen(fen)
}

async fn a_referred_purchase_earns_once_the_refund_window_closes(app: TestApp) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (me, code) = distributor(&app, &staff, "13800138201").await;
    poster_carries_the_referral(&me, &code).await;

    // A visitor follows the link, signs in later, and buys.
    let buyer = app.another_browser();
    assert_eq!(buyer.get(&format!("/courses/{COURSE}?ref={code}")).await.status(), StatusCode::OK);
    buyer.login_by_code("13800138202").await;
    let order_no = buyer.bought(COURSE).await;
    assert_eq!(commission_of(&app, &order_no).await, Some((1990, "pending".into())), "10% of ¥199, pending");
    let (_, centre) = me.get_html("/me/distribution").await;
    let centre = unescape(&centre);
    assert!(centre.contains("138****8202"), "the buyer is masked");
    assert!(centre.contains("¥19.90") && centre.contains("待结算"));
    assert_eq!(balances(&app, "13800138201").await.pending, yuan(1990));

    // Inside the refund window nothing settles; after it, once.
    let paid_at = kedian::domain::time::now();
    app.run_order_jobs(paid_at + 6 * DAY).await;
    assert_eq!(commission_of(&app, &order_no).await.unwrap().1, "pending");
    app.run_order_jobs(paid_at + 8 * DAY).await;
    app.run_order_jobs(paid_at + 9 * DAY).await;
    assert_eq!(commission_of(&app, &order_no).await.unwrap().1, "settled");
    assert_eq!(ledger(&app, &order_no).await, vec![("earned".into(), 1990, 0), ("settled".into(), 1990, 0)]);
    let b = balances(&app, "13800138201").await;
    assert_eq!((b.pending, b.available), (yuan(0), yuan(1990)));
    let (_, centre) = me.get_html("/me/distribution").await;
    assert!(unescape(&centre).contains("已结算"));

    // Twenty settlement runs at once (several instances, say) settle another order once.
    let second = app.another_browser();
    second.login_by_code("13800138203").await;
    second.get(&format!("/?ref={code}")).await;
    let order_no = second.bought(COURSE).await;
    let runs = (0..20).map(|_| kedian::store::commissions::settle_due(&app.db, paid_at + 8 * DAY, 100));
    let settled: u64 = futures_util::future::join_all(runs).await.into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(settled, 1, "one run settles it");
    assert_eq!(ledger(&app, &order_no).await.iter().filter(|(kind, ..)| kind == "settled").count(), 1);

    let (_, admin) = staff.get_html("/admin/distributors").await;
    let admin = unescape(&admin);
    assert!(admin.contains("应付佣金共 ¥39.80") && admin.contains("推广中"), "the liability and the figures");
    let csv = staff.get("/admin/distributors/ledger.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    assert!(csv.contains(&format!("获得佣金,19.90,待结算,{order_no}")), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(",结算,")).count(), 2, "two settlements: {csv}");
    assert_ne!(me.get("/admin/distributors/ledger.csv").await.status(), StatusCode::OK, "staff only");
}

async fn refunds_take_their_share_of_the_commission_back(app: TestApp) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (_, code) = distributor(&app, &staff, "13800138211").await;

    // A full refund inside the window: nothing is left to settle.
    let buyer = app.another_browser();
    buyer.login_by_code("13800138212").await;
    buyer.get(&format!("/courses/{COURSE}?ref={code}")).await;
    let order_no = buyer.bought(COURSE).await;
    let refund_no = refund_no_from(&buyer.request_refund(&order_no, "quality", vec![]).await);
    let detail = format!("/admin/refunds/{refund_no}");
    let done = staff.submit(&detail, &format!("{detail}/approve"), &[("amount", "199.00"), ("note", "")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.order_status(&order_no).await, "refunded");
    let now = kedian::domain::time::now();
    app.run_order_jobs(now + 8 * DAY).await;
    assert_eq!(
        ledger(&app, &order_no).await,
        vec![("earned".into(), 1990, 0), ("reversed".into(), 1990, 0), ("settled".into(), 0, 0)],
        "a refund inside the window leaves nothing to pay"
    );

    // Settled first, then refunded in part: a negative entry against what is available.
    let buyer = app.another_browser();
    buyer.login_by_code("13800138213").await;
    buyer.get(&format!("/?ref={code}")).await;
    let order_no = buyer.bought(COURSE).await;
    app.run_order_jobs(now + 8 * DAY).await;
    assert_eq!(balances(&app, "13800138211").await.available, yuan(1990));
    let refund_no = refund_no_from(&buyer.request_refund(&order_no, "quality", vec![]).await);
    let detail = format!("/admin/refunds/{refund_no}");
    let done =
        staff.submit(&detail, &format!("{detail}/approve"), &[("amount", "50.00"), ("note", "协商退一部分")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.order_status(&order_no).await, "partially_refunded");
    // 10% of ¥199 less 10% of the ¥149 left: ¥5.00 back.
    assert_eq!(ledger(&app, &order_no).await.last(), Some(&("reversed".to_string(), 500, 1)));
    let b = balances(&app, "13800138211").await;
    assert_eq!((b.pending, b.available), (yuan(0), yuan(1490)));
}

async fn own_purchases_frozen_distributors_and_a_closed_programme_earn_nothing(app: TestApp) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (me, code) = distributor(&app, &staff, "13800138221").await;

    // Buying through one's own link earns nothing.
    me.get(&format!("/courses/{COURSE}?ref={code}")).await;
    let own = me.bought(COURSE).await;
    assert_eq!(commission_of(&app, &own).await, None, "no self-referral");

    // A referred sale before the freeze: its commission waits while the distributor is frozen.
    let earlier = app.another_browser();
    earlier.login_by_code("13800138224").await;
    earlier.get(&format!("/?ref={code}")).await;
    let held = earlier.bought(COURSE).await;
    assert_eq!(commission_of(&app, &held).await, Some((1990, "pending".into())));

    // Frozen: staff must say why; the link still sells, and earns nothing.
    let id = user_id(&app, "13800138221").await;
    let action = format!("/admin/distributors/{id}");
    let silent = staff.submit("/admin/distributors", &action, &[("decision", "freeze"), ("note", "")]).await;
    assert_eq!(silent.status(), StatusCode::BAD_REQUEST);
    assert!(silent.text().await.unwrap().contains("请写明原因"));
    let frozen = staff
        .submit("/admin/distributors", &action, &[("decision", "freeze"), ("note", "同一 IP 大量购买，核查中")])
        .await;
    assert_eq!(frozen.status(), StatusCode::SEE_OTHER);
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'distributor.decide'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(audited, 2, "approval and freeze are in the audit log");
    let (_, centre) = me.get_html("/me/distribution").await;
    assert!(centre.contains("暂停"));
    let buyer = app.another_browser();
    buyer.login_by_code("13800138222").await;
    buyer.get(&format!("/courses/{COURSE}?ref={code}")).await;
    let order_no = buyer.bought(COURSE).await;
    assert_eq!(commission_of(&app, &order_no).await, None, "a frozen distributor earns nothing");

    let after_window = kedian::domain::time::now() + 8 * DAY;
    app.run_order_jobs(after_window).await;
    assert_eq!(commission_of(&app, &held).await.unwrap().1, "pending", "settlement waits while frozen");

    // Unfrozen: it settles; then the programme closed: links bind nobody and nothing is earned.
    staff.submit("/admin/distributors", &action, &[("decision", "unfreeze"), ("note", "核查无误")]).await;
    app.run_order_jobs(after_window).await;
    assert_eq!(commission_of(&app, &held).await.unwrap().1, "settled");
    let closed = staff.submit("/admin/settings", "/admin/settings", &[("distribution", "")]).await;
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);
    let late = app.another_browser();
    late.login_by_code("13800138223").await;
    late.get(&format!("/courses/{COURSE}?ref={code}")).await;
    let order_no = late.bought(COURSE).await;
    assert_eq!(commission_of(&app, &order_no).await, None);
    let (_, home) = late.get_html("/me").await;
    assert!(!home.contains("/me/distribution"), "no centre while the programme is closed");
}

async fn settled_commission_is_withdrawn_within_the_limits(app: TestApp) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (me, code) = distributor(&app, &staff, "13800138231").await;
    let centre = "/me/distribution";
    let withdraw = "/me/distribution/withdraw";
    // Nothing settled yet: nothing to withdraw.
    let early = me.submit(centre, withdraw, &[("amount", "10.00"), ("account", "支付宝 wang@example.com")]).await;
    assert_eq!(early.status(), StatusCode::BAD_REQUEST);
    assert!(early.text().await.unwrap().contains("超过了可提现金额"));

    for phone in ["13800138232", "13800138233"] {
        let buyer = app.another_browser();
        buyer.login_by_code(phone).await;
        buyer.get(&format!("/?ref={code}")).await;
        buyer.bought(COURSE).await;
    }
    app.run_order_jobs(kedian::domain::time::now() + 8 * DAY).await;
    assert_eq!(balances(&app, "13800138231").await.available, yuan(3980));

    // Bad forms say why beside the field and change nothing.
    for (amount, account, error) in [
        ("abc", "支付宝 wang@example.com", "请输入金额"),
        ("5.00", "支付宝 wang@example.com", "单笔提现最低 ¥10.00"),
        ("39.81", "支付宝 wang@example.com", "超过了可提现金额"),
        ("20.00", "", "请填写 100 字以内的收款账户"),
    ] {
        let bad = me.submit(centre, withdraw, &[("amount", amount), ("account", account)]).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{amount}");
        assert!(bad.text().await.unwrap().contains(error), "{amount}: {error}");
    }
    assert_eq!(app.count("payouts").await, 0);

    // Two requests at once for more than half each: only one fits.
    let (_, html) = me.get_html(centre).await;
    let token = crate::helpers::csrf_in(&html);
    let url = me.url(withdraw);
    let clicks = (0..2).map(|_| {
        let form = [("csrf_token", token.as_str()), ("amount", "30.00"), ("account", "支付宝 wang@example.com")];
        me.client.post(&url).form(&form).send()
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(clicks).await.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(app.count("payouts").await, 1, "the same money is not requested twice: {statuses:?}");
    let (_, page) = me.get_html(centre).await;
    assert!(unescape(&page).contains("可申请提现 ¥9.80") && page.contains("待转账"));

    // Staff transfer it and record the reference (required); the ledger pays it out once.
    let id: i64 = sqlx::query_scalar("SELECT id FROM payouts").fetch_one(app.db.read()).await.unwrap();
    let action = format!("/admin/payouts/{id}");
    let blank = staff.submit("/admin/distributors", &action, &[("decision", "paid"), ("reference", "")]).await;
    assert_eq!(blank.status(), StatusCode::BAD_REQUEST);
    assert!(blank.text().await.unwrap().contains("请填写转账流水号"));
    let paid =
        staff.submit("/admin/distributors", &action, &[("decision", "paid"), ("reference", "ALI20261207001")]).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    staff.submit("/admin/distributors", &action, &[("decision", "paid"), ("reference", "ALI20261207001")]).await;
    let b = balances(&app, "13800138231").await;
    assert_eq!((b.available, b.paid_out), (yuan(980), yuan(3000)), "paid out once");
    let (_, page) = me.get_html(centre).await;
    assert!(page.contains("已转账") && page.contains("ALI20261207001"));

    // The month's limit counts what was already withdrawn.
    let limit = staff
        .submit(
            "/admin/settings",
            "/admin/settings",
            &[
                ("distribution", "on"),
                ("distribution_rate", "10"),
                ("distribution_payout_min", "1.00"),
                ("distribution_payout_month", "35.00"),
            ],
        )
        .await;
    assert_eq!(limit.status(), StatusCode::SEE_OTHER);
    let over = me.submit(centre, withdraw, &[("amount", "5.01"), ("account", "支付宝 wang@example.com")]).await;
    assert_eq!(over.status(), StatusCode::BAD_REQUEST);
    assert!(over.text().await.unwrap().contains("本月提现合计不能超过 ¥35.00"));
    let fits = me.submit(centre, withdraw, &[("amount", "5.00"), ("account", "支付宝 wang@example.com")]).await;
    assert_eq!(fits.status(), StatusCode::SEE_OTHER, "exactly up to the limit");
}

/// Saves the Excel course in the editor with `commission` (everything else as it was).
async fn save_course_commission(app: &TestApp, staff: &TestApp, commission: &str) -> reqwest::Response {
    let (id, title, category, instructor, description): (i64, String, i64, i64, String) =
        sqlx::query_as("SELECT id, title, category_id, instructor_id, description FROM courses WHERE slug = $1")
            .bind(COURSE)
            .fetch_one(app.db.read())
            .await
            .unwrap();
    let editor = format!("/admin/courses/{id}");
    let (category, instructor) = (category.to_string(), instructor.to_string());
    let fields = [
        ("title", title.as_str()),
        ("slug", COURSE),
        ("kind", "recorded"),
        ("category_id", category.as_str()),
        ("instructor_id", instructor.as_str()),
        ("price", "199.00"),
        ("original_price", "399.00"),
        ("description", description.as_str()),
        ("refund_window_days", "7"),
        ("refund_max_consumed_pct", "20"),
        ("commission", commission),
    ];
    staff.submit(&editor, &editor, &fields).await
}

async fn a_course_rate_beats_the_default_within_the_cap(app: TestApp) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (_, code) = distributor(&app, &staff, "13800138241").await;
    let bad = save_course_commission(&app, &staff, "abc").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("id=\"commission-error\""));
    assert_eq!(save_course_commission(&app, &staff, "30").await.status(), StatusCode::SEE_OTHER);
    let buyer = app.another_browser();
    buyer.login_by_code("13800138242").await;
    buyer.get(&format!("/courses/{COURSE}?ref={code}")).await;
    let order_no = buyer.bought(COURSE).await;
    assert_eq!(commission_of(&app, &order_no).await, Some((4975, "pending".into())), "30% held to the 25% cap");
    assert_eq!(save_course_commission(&app, &staff, "5").await.status(), StatusCode::SEE_OTHER);
    let buyer = app.another_browser();
    buyer.login_by_code("13800138243").await;
    buyer.get(&format!("/courses/{COURSE}?ref={code}")).await;
    let order_no = buyer.bought(COURSE).await;
    assert_eq!(commission_of(&app, &order_no).await, Some((995, "pending".into())), "the course's own 5%");
}

async fn many_buyers_from_one_address_raise_a_flag(app: TestApp) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (_, code) = distributor(&app, &staff, "13800138251").await;
    let settings = |threshold: &'static str| {
        [("distribution", "on"), ("distribution_rate", "10"), ("risk_buyers_per_ip", threshold)]
    };
    let bad = staff.submit("/admin/settings", "/admin/settings", &settings("1")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("id=\"risk_buyers_per_ip-error\""));
    let saved = staff.submit("/admin/settings", "/admin/settings", &settings("3")).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    for n in 0..3 {
        let buyer = app.another_browser();
        buyer.login_by_code(&format!("1380013826{n}")).await;
        buyer.get(&format!("/?ref={code}")).await;
        buyer.bought(COURSE).await;
        let (_, page) = staff.get_html("/admin/distributors").await;
        assert_eq!(
            page.contains("同一 IP 多个买家"),
            n == 2,
            "flagged at the third buyer from one address (the setting)"
        );
    }
}
