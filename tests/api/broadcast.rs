//! Text messages to everyone or to a course's buyers: with the shop's link and the opt-out line,
//! skipping learners who opted out (on their own page) and banned ones, sent in the background.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(broadcasts_reach_those_who_want_them);

const PAGE: &str = "/admin/broadcast";

async fn texts_to(app: &TestApp, phone: &str, containing: &str) -> usize {
    app.sms.sent.lock().unwrap().iter().filter(|(to, text)| to == phone && text.contains(containing)).count()
}

pub(crate) async fn wait_until_sent(app: &TestApp) {
    for _ in 0..100 {
        let sending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sms_broadcasts WHERE status = 'sending'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
        if sending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the broadcast did not finish");
}

async fn broadcasts_reach_those_who_want_them(app: TestApp) {
    let buyer = app.another_browser();
    buyer.login_by_code("13800138961").await;
    buyer.bought("excel-data-analysis").await;
    let other = app.another_browser();
    other.login_by_code("13800138962").await;
    let quiet = app.another_browser();
    quiet.login_by_code("13800138963").await;
    let (_, me) = quiet.get_html("/me").await;
    assert!(me.contains("退订通知短信"));
    assert_eq!(quiet.submit("/me", "/me/sms", &[("receive", "0")]).await.status(), StatusCode::SEE_OTHER);
    let (_, me) = quiet.get_html("/me").await;
    assert!(me.contains("你已退订"));
    let banned = app.another_browser();
    banned.login_by_code("13800138964").await;
    let banned_id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13800138964'").fetch_one(app.db.read()).await.unwrap();
    sqlx::query("UPDATE users SET status = 'banned' WHERE id = $1")
        .bind(banned_id)
        .execute(app.db.write())
        .await
        .unwrap();
    app.db.users_changed();

    app.make_staff("13900000001", Role::Operator).await;
    let staff = app.staff_as("13900000001").await;
    let unsigned = staff.submit(PAGE, PAGE, &[("text", "课程已搬家")]).await;
    assert_eq!(unsigned.status(), StatusCode::BAD_REQUEST);
    assert!(unsigned.text().await.unwrap().contains("签名"));

    let sent = staff.submit(PAGE, PAGE, &[("text", "【课店】小程序暂停服务，课程已搬到网页版")]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    wait_until_sent(&app).await;
    let marker = "课程已搬到网页版 http://kedian.test 回T退订";
    assert_eq!(texts_to(&app, "13800138961", marker).await, 1, "the link and the opt-out line are added");
    assert_eq!(texts_to(&app, "13800138962", marker).await, 1);
    assert_eq!(texts_to(&app, "13800138963", marker).await, 0, "opted out");
    assert_eq!(texts_to(&app, "13800138964", marker).await, 0, "banned");
    assert_eq!(texts_to(&app, "13900000001", marker).await, 0, "staff are not learners");
    let (_, list) = staff.get_html(PAGE).await;
    assert!(list.contains("2/2"), "progress shown");

    let course: i64 = sqlx::query_scalar("SELECT id FROM courses WHERE slug = 'excel-data-analysis'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    quiet.submit("/me", "/me/sms", &[("receive", "1")]).await;
    staff.submit(PAGE, PAGE, &[("course", &course.to_string()), ("text", "【课店】Excel 课第 9 课已上线")]).await;
    wait_until_sent(&app).await;
    assert_eq!(texts_to(&app, "13800138961", "第 9 课已上线").await, 1, "the buyer");
    assert_eq!(texts_to(&app, "13800138962", "第 9 课已上线").await, 0, "not a buyer");
    assert_eq!(audit_actions(&app).await.iter().filter(|a| *a == "broadcast.send").count(), 2);
}
