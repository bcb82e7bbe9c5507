//! The keyword filter: words that reject a learner's text or hold it for review; staff approve,
//! hide and restore what was held; muted learners keep their name.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::{TestApp, location};
use crate::on_both_backends;

on_both_backends!(the_keyword_filter_rejects_and_holds);

const PAGE: &str = "/admin/content";

async fn nickname(app: &TestApp, phone: &str) -> String {
    sqlx::query_scalar("SELECT nickname FROM users WHERE phone = $1")
        .bind(phone)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn held_ids(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM moderation_items WHERE status = 'held' ORDER BY id")
        .fetch_all(app.db.read())
        .await
        .unwrap()
}

async fn the_keyword_filter_rejects_and_holds(app: TestApp) {
    app.make_staff("13900000002", Role::Support).await;
    let support = app.staff_as("13900000002").await;
    let keywords = "/admin/content/keywords";
    assert_eq!(
        support.submit(PAGE, keywords, &[("word", " ,. "), ("action", "hold")]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        support.submit(PAGE, keywords, &[("word", "加微信"), ("action", "hold")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        support.submit(PAGE, keywords, &[("word", "傻瓜"), ("action", "reject")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        support.submit(PAGE, keywords, &[("word", "傻瓜"), ("action", "hold")]).await.status(),
        StatusCode::CONFLICT
    );

    let phone = "13800138801";
    let learner = app.another_browser();
    learner.login_by_code(phone).await;
    let before = nickname(&app, phone).await;
    let rejected = learner.submit("/me", "/me", &[("nickname", "傻 瓜老师")]).await;
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    assert!(rejected.text().await.unwrap().contains("不允许的词"));
    let held = learner.submit("/me", "/me", &[("nickname", "加微信学Excel")]).await;
    assert_eq!(location(&held), "/me");
    let (_, me) = learner.get_html("/me").await;
    assert!(me.contains("审核通过后生效"));
    assert_eq!(nickname(&app, phone).await, before, "a held name waits");
    let (_, queue) = support.get_html(PAGE).await;
    assert!(queue.contains("加微信学Excel") && queue.contains("<mark>加微信</mark>"));
    let first = held_ids(&app).await[0];
    let approve = support.submit(PAGE, &format!("/admin/content/items/{first}"), &[("decision", "approve")]).await;
    assert_eq!(approve.status(), StatusCode::SEE_OTHER);
    assert_eq!(nickname(&app, phone).await, "加微信学Excel", "approved: applied");

    learner.submit("/me", "/me", &[("nickname", "VX加 微信")]).await;
    let second = held_ids(&app).await[0];
    support.submit(PAGE, &format!("/admin/content/items/{second}"), &[("decision", "hide")]).await;
    assert_eq!(nickname(&app, phone).await, "加微信学Excel", "hidden: not applied");
    support.submit(PAGE, &format!("/admin/content/items/{second}"), &[("decision", "restore")]).await;
    assert_eq!(nickname(&app, phone).await, "VX加 微信", "restored");

    // Complaints: a rejecting word is refused, a holding one goes through and is listed.
    let complain = |text: &'static str| {
        let learner = &learner;
        async move {
            learner
                .submit_multipart(
                    "/complaints/new",
                    "/complaints/new",
                    &[("category", "other"), ("description", text), ("phone", phone)],
                    vec![],
                )
                .await
        }
    };
    let refused = complain("你们客服都是傻瓜，气死我了").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("complaints").await, 0);
    let through = complain("老师让我加 微信 退款，这样合规吗").await;
    assert_eq!(through.status(), StatusCode::SEE_OTHER);
    let no = location(&through).trim_start_matches("/complaints/").to_string();
    let (_, queue) = support.get_html(PAGE).await;
    assert!(queue.contains(&format!("href=\"/admin/complaints/{no}\"")), "held complaint text links to the case");

    // A muted learner keeps their name.
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = $1").bind(phone).fetch_one(app.db.read()).await.unwrap();
    let page = format!("/admin/users/{id}");
    support.submit(&page, &format!("{page}/status"), &[("status", "muted"), ("reason", "刷广告")]).await;
    let muted = learner.submit("/me", "/me", &[("nickname", "新名字")]).await;
    assert_eq!(muted.status(), StatusCode::FORBIDDEN);
    assert!(muted.text().await.unwrap().contains("已被禁言"));

    let word: i64 = sqlx::query_scalar("SELECT id FROM content_keywords WHERE word = '傻瓜'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let removed = support.submit(PAGE, &format!("/admin/content/keywords/{word}/delete"), &[]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let unblocked = complain("你们客服都是傻瓜，气死我了").await;
    assert_eq!(unblocked.status(), StatusCode::SEE_OTHER, "a removed word no longer rejects");

    let actions = audit_actions(&app).await;
    assert_eq!(actions.iter().filter(|a| *a == "content.keyword_remove").count(), 1);
    assert_eq!(actions.iter().filter(|a| *a == "content.keyword_add").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "content.decide").count(), 3);
}
