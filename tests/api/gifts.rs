//! Gifts (送给朋友): a course bought for friends, one link per copy, each claimed once into the
//! friend's own order of amount 0; the giver's refund takes back only the unclaimed copies.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::on_both_backends;
use crate::refunds::{by_hand, refund_no_from};

on_both_backends!(
    a_gift_is_bought_and_each_copy_claimed_once,
    unread_links_and_posters_stay_private,
    friends_racing_for_one_copy_make_one_claim
);
on_both_backends!(
    setup = automatic;
    the_giver_gets_back_only_the_unclaimed_copies,
);
on_both_backends!(
    setup = by_hand;
    a_refused_refund_gives_the_copies_back,
);

const COURSE: &str = "excel-data-analysis"; // recorded, ¥199

async fn automatic(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, |s| s.refund_auto_approve_fen = 1_000_000).await
}

/// Fills in the gift form; returns the response to the POST.
async fn give(buyer: &TestApp, copies: &str, sender: &str) -> reqwest::Response {
    let page = format!("/courses/{COURSE}/gift");
    buyer.submit(&page, &page, &[("copies", copies), ("sender", sender)]).await
}

/// Buys `copies` as a gift signed `sender` and pays; returns the order number.
async fn paid_gift(buyer: &TestApp, copies: &str, sender: &str) -> String {
    let to = location(&give(buyer, copies, sender).await);
    let order_no = to.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    assert_eq!(to, format!("/orders/{order_no}/pay"));
    buyer.pay_sandbox(&order_no).await;
    assert_eq!(buyer.order_status(&order_no).await, "paid");
    order_no
}

/// The gift links on the buyer's order page, in order.
async fn links(buyer: &TestApp, order_no: &str) -> Vec<String> {
    let (status, html) = buyer.get_html(&format!("/orders/{order_no}")).await;
    assert_eq!(status, StatusCode::OK);
    html.split("value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|value| value.split_once("/gifts/").map(|(_, code)| format!("/gifts/{code}")))
        .collect()
}

/// Presses 领取 (with the session's CSRF token from 我的: a gift page that is no
/// longer open has no form, but a second tab may still post).
async fn claim(friend: &TestApp, link: &str) -> reqwest::Response {
    friend.submit("/me", &format!("{link}/claim"), &[]).await
}

async fn a_gift_is_bought_and_each_copy_claimed_once(app: TestApp) {
    let (_, course_page) = app.get_html(&format!("/courses/{COURSE}")).await;
    assert!(course_page.contains(&format!("href=\"/courses/{COURSE}/gift\"")) && course_page.contains("送给朋友"));
    let gift_form = app.get(&format!("/courses/{COURSE}/gift")).await;
    assert_eq!(location(&gift_form).split('?').next(), Some("/login"), "sign in first");
    app.login_by_code("13800138501").await;

    // Bad input is refused beside its field and makes no order.
    let bad = give(&app, "0", " ").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(html.contains("id=\"copies-error\"") && html.contains("id=\"sender-error\""));
    assert!(html.contains("请填写 1 到 50 之间的整数"));
    assert_eq!(app.count("orders").await, 0, "bad input changes nothing");

    let first = location(&give(&app, "2", "小王").await);
    assert_eq!(location(&give(&app, "2", "小王").await), first, "the same gift again is the same order");
    let order_no = first.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    let (_, pay) = app.get_html(&first).await;
    assert!(pay.contains("礼物 ×2") && pay.contains("小王") && pay.contains("¥398.00"), "copies, name and total");
    // Buying for themselves meanwhile is a separate order.
    let own = app.order_for(COURSE).await;
    assert_ne!(own, order_no);
    app.pay_sandbox(&order_no).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert_eq!(app.order_status(&own).await, "pending", "the buyer's own order is untouched");
    assert!(!app.owns("13800138501", COURSE).await, "a gift gives its buyer nothing to learn");
    assert_eq!(location(&app.get(&format!("/orders/{order_no}/done")).await), format!("/orders/{order_no}#gift-links"));
    let gift_links = links(&app, &order_no).await;
    assert_eq!(gift_links.len(), 2, "one link per copy");
    assert_ne!(gift_links[0], gift_links[1]);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM gifts ORDER BY seq").fetch_all(app.db.read()).await.unwrap();
    for link in &gift_links {
        let code = link.trim_start_matches("/gifts/");
        assert_eq!(code.len(), 16, "{code}");
        assert!(stored.contains(&kedian::domain::redeem::hash(code)), "kept as its hash only");
    }

    // A friend opens the link before signing in: who sent it and what, and nothing else.
    let friend = app.another_browser();
    let page = friend.get(&gift_links[0]).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-robots-tag"], "noindex");
    let html = page.text().await.unwrap();
    assert!(html.contains("小王 送你一门课") && html.contains("Excel") && html.contains("登录后领取"));
    assert!(!html.contains("13800138501") && !html.contains("8501"), "no personal data of the giver");
    friend.login_by_code("13800138502").await;
    let claimed = claim(&friend, &gift_links[0]).await;
    assert_eq!(claimed.status(), StatusCode::SEE_OTHER);
    let to = location(&claimed);
    let claim_no = to.trim_start_matches("/orders/").trim_end_matches("/done").to_string();
    assert_eq!(to, format!("/orders/{claim_no}/done"));
    let (amount, provider): (i64, String) =
        sqlx::query_as("SELECT amount_fen, pay_provider FROM orders WHERE order_no = $1")
            .bind(&claim_no)
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!((amount, provider.as_str()), (0, "gift"));
    assert!(app.owns("13800138502", COURSE).await, "the course is the friend's");
    let (_, mine) = friend.get_html("/me/courses").await;
    assert!(mine.contains("Excel"));
    let (_, claim_page) = friend.get_html(&format!("/orders/{claim_no}")).await;
    assert!(claim_page.contains("好友赠送") && claim_page.contains("小王") && claim_page.contains("不能由你申请退款"));
    assert_eq!(location(&friend.get(&format!("/orders/{claim_no}/refund")).await), format!("/orders/{claim_no}"));

    // Once: the same friend again is sent to the gift (theirs), anyone else is told it is taken,
    // and a friend who owns the course leaves the other copy for someone else.
    assert_eq!(location(&claim(&friend, &gift_links[0]).await), gift_links[0]);
    assert!(friend.get_html(&gift_links[0]).await.1.contains("这份礼物已经是你的了"));
    let third = app.another_browser();
    third.login_by_code("13800138503").await;
    let taken = claim(&third, &gift_links[0]).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert!(taken.text().await.unwrap().contains("已经被别人领取"));
    let owned = claim(&friend, &gift_links[1]).await;
    assert_eq!(owned.status(), StatusCode::CONFLICT);
    assert!(owned.text().await.unwrap().contains("你已经拥有这门课程"));
    assert_eq!(app.count("gifts WHERE claimed_by IS NOT NULL").await, 1);

    // The giver sees which copy went, to whom (masked) and when, and is told.
    let (_, order_page) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(order_page.contains("已领取") && order_page.contains("待领取") && order_page.contains("**"));
    assert!(!order_page.contains("开始学习"), "nothing to learn on a gift order");
    let (_, messages) = app.get_html("/me/messages").await;
    assert!(messages.contains("你送出的礼物已被领取"), "the giver is told");

    // Links that are not links.
    for junk in ["/gifts/AAAA", "/gifts/22222222222222222222", &gift_links[1].to_lowercase(), "/gifts/2222222222222222"]
    {
        assert_eq!(third.get(junk).await.status(), StatusCode::NOT_FOUND, "{junk}");
    }
}

async fn unread_links_and_posters_stay_private(app: TestApp) {
    app.login_by_code("13800138511").await;
    // An unpaid gift has no links to open.
    let to = location(&give(&app, "1", "Ann").await);
    let order_no = to.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    assert!(links(&app, &order_no).await.is_empty(), "no links before it is paid");
    let id: i64 = sqlx::query_scalar("SELECT id FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let code = kedian::domain::gift::link_code(&[0; 32], id, 0);
    assert_eq!(app.get(&format!("/gifts/{code}")).await.status(), StatusCode::NOT_FOUND);
    // A different number of copies replaces the pending gift.
    let again = location(&give(&app, "3", "Ann").await);
    assert_ne!(again, to);
    assert_eq!(app.order_status(&order_no).await, "closed");
    let order_no = again.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    app.pay_sandbox(&order_no).await;
    assert_eq!(links(&app, &order_no).await.len(), 3);

    let poster = app.get(&format!("/orders/{order_no}/gifts/0/poster.png")).await;
    if kedian::media::poster::font().is_some() {
        assert_eq!(poster.status(), StatusCode::OK);
        assert_eq!(poster.headers()["cache-control"], "private, no-store", "the poster carries the gift");
        assert!(poster.bytes().await.unwrap().starts_with(b"\x89PNG"));
    } else {
        assert_eq!(poster.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(app.get(&format!("/orders/{order_no}/gifts/9/poster.png")).await.status(), StatusCode::NOT_FOUND);
    let other = app.another_browser();
    other.login_by_code("13800138512").await;
    assert_eq!(other.get(&format!("/orders/{order_no}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(other.get(&format!("/orders/{order_no}/gifts/0/poster.png")).await.status(), StatusCode::NOT_FOUND);
    // A membership and a consultation are not given this way.
    for slug in ["annual-membership", "career-consultation", "no-such-course"] {
        let status = app.get(&format!("/courses/{slug}/gift")).await.status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{slug}");
    }
}

async fn the_giver_gets_back_only_the_unclaimed_copies(app: TestApp) {
    app.login_by_code("13800138521").await;
    let order_no = paid_gift(&app, "2", "老李").await;
    let gift_links = links(&app, &order_no).await;
    let friend = app.another_browser();
    friend.login_by_code("13800138522").await;
    assert_eq!(claim(&friend, &gift_links[0]).await.status(), StatusCode::SEE_OTHER);

    let (_, form) = app.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(form.contains("¥199.00") && form.contains("未领取"), "the open copy's share: {form}");
    let refund_no = refund_no_from(&app.request_refund(&order_no, "bought_by_mistake", vec![]).await);
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("已退款") && page.contains("¥199.00"), "approved at once for one copy");
    assert_eq!(app.order_status(&order_no).await, "partially_refunded");
    assert!(app.owns("13800138522", COURSE).await, "the claimed copy stays with the friend");

    // The refunded copy is gone; nothing more comes back.
    let late = app.another_browser();
    late.login_by_code("13800138523").await;
    let withdrawn = claim(&late, &gift_links[1]).await;
    assert_eq!(withdrawn.status(), StatusCode::CONFLICT);
    assert!(withdrawn.text().await.unwrap().contains("赠送人已收回"));
    let (_, form) = app.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(form.contains("没有可退的份数"), "nothing left for the giver");
    let (_, order_page) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(order_page.contains("已收回") && order_page.contains("已领取"));

    // A gift refunded before anyone claimed it: all of it comes back, and its link is dead.
    let lone = paid_gift(&app, "1", "老李").await;
    let link = links(&app, &lone).await.remove(0);
    let refund_no = refund_no_from(&app.request_refund(&lone, "bought_by_mistake", vec![]).await);
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("已退款") && page.contains("¥199.00"));
    assert_eq!(app.order_status(&lone).await, "refunded");
    let too_late = claim(&late, &link).await;
    assert_eq!(too_late.status(), StatusCode::CONFLICT);
    assert!(too_late.text().await.unwrap().contains("赠送人已收回"));
}

async fn friends_racing_for_one_copy_make_one_claim(app: TestApp) {
    app.login_by_code("13800138541").await;
    let order_no = paid_gift(&app, "1", "Lin").await;
    let link = links(&app, &order_no).await.remove(0);
    let mut friends = Vec::new();
    for i in 0..10 {
        let friend = app.another_browser();
        friend.login_by_code(&format!("138001386{i:02}")).await;
        let token = crate::helpers::csrf_in(&friend.get_html("/me").await.1);
        friends.push((friend, token));
    }
    let url = app.url(&format!("{link}/claim"));
    let claims =
        friends.iter().map(|(friend, token)| friend.client.post(&url).form(&[("csrf_token", token.as_str())]).send());
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(claims).await.into_iter().map(|r| r.unwrap().status()).collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    assert_eq!(won, 1, "one friend gets it: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(app.count("orders WHERE pay_provider = 'gift'").await, 1);
    assert_eq!(
        app.count(
            "entitlements WHERE source = 'order' AND order_id IN (SELECT id FROM orders WHERE pay_provider = 'gift')"
        )
        .await,
        1
    );
}

async fn a_refused_refund_gives_the_copies_back(app: TestApp) {
    app.login_by_code("13800138531").await;
    let order_no = paid_gift(&app, "1", "Chen").await;
    let link = links(&app, &order_no).await.remove(0);
    let refund_no = refund_no_from(&app.request_refund(&order_no, "quality", vec![]).await);
    let friend = app.another_browser();
    friend.login_by_code("13800138532").await;
    let held = claim(&friend, &link).await;
    assert_eq!(held.status(), StatusCode::CONFLICT, "taken back while the request is open");
    let staff = app.staff().await;
    let detail = format!("/admin/refunds/{refund_no}");
    let rejected = staff.submit(&detail, &format!("{detail}/reject"), &[("reason", "礼物已经发出去了")]).await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    assert_eq!(claim(&friend, &link).await.status(), StatusCode::SEE_OTHER, "given back by the rejection");
    assert!(friend.owns("13800138532", COURSE).await);
    let (_, form) = app.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(form.contains("没有可退的份数"), "a claimed gift is not refunded to its giver");
}
