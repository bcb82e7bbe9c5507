//! Announcements: a banner on every page (also on pages cached for visitors), closable, scheduled
//! and ended; messages to everyone or to a course's buyers, with the unread count in the header.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(a_banner_shows_everywhere_until_closed_or_ended, messages_reach_the_right_learners);

async fn operator(app: &TestApp) -> TestApp {
    app.make_staff("13900000001", Role::Operator).await;
    app.staff_as("13900000001").await
}

const PAGE: &str = "/admin/announcements";

async fn a_banner_shows_everywhere_until_closed_or_ended(app: TestApp) {
    let (_, before) = app.get_html("/").await;
    assert!(!before.contains("site-banner"), "no banner yet (and this page is now cached)");
    let staff = operator(&app).await;
    let bad =
        staff.submit(PAGE, "/admin/announcements/banner", &[("title", "点我"), ("link", "javascript:alert(1)")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("id=\"link-error\""));
    let empty = staff.submit(PAGE, "/admin/announcements/banner", &[("title", " ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);

    let later = kedian::domain::time::shanghai_datetime_value(kedian::domain::time::now() + 86_400);
    let scheduled =
        staff.submit(PAGE, "/admin/announcements/banner", &[("title", "明天开始的活动"), ("starts_at", &later)]).await;
    assert_eq!(scheduled.status(), StatusCode::SEE_OTHER);
    let (_, home) = app.get_html("/").await;
    assert!(!home.contains("明天开始的活动"), "a scheduled banner waits");

    let sent =
        staff.submit(PAGE, "/admin/announcements/banner", &[("title", "双十一全场 8 折"), ("link", "/courses")]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    for path in ["/", "/courses", "/courses/excel-data-analysis", "/login"] {
        let (_, html) = app.get_html(path).await;
        assert!(html.contains("双十一全场 8 折") && html.contains("href=\"/courses\""), "banner on {path}");
        assert!(
            html.contains("src=\"/static/js/banner.js?v=") && html.contains("\" defer></script>"),
            "closing needs no render-blocking script"
        );
    }
    let id: i64 = sqlx::query_scalar("SELECT id FROM announcements WHERE title = '双十一全场 8 折'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let closer = app.another_browser();
    closer.jar.add_cookie_str(&format!("kd_banner={id}; Path=/"), &app.address.parse().unwrap());
    let (_, closed) = closer.get_html("/").await;
    assert!(!closed.contains("双十一全场 8 折"), "a closed banner stays closed");

    let end = staff.submit(PAGE, &format!("/admin/announcements/{id}/end"), &[]).await;
    assert_eq!(end.status(), StatusCode::SEE_OTHER);
    let (_, after) = app.get_html("/").await;
    assert!(!after.contains("双十一全场 8 折"), "an ended banner is gone at once");
    let again = staff.submit(PAGE, &format!("/admin/announcements/{id}/end"), &[]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let actions = audit_actions(&app).await;
    assert_eq!(actions.iter().filter(|a| *a == "announcement.banner").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "announcement.end").count(), 1);
}

async fn messages_reach_the_right_learners(app: TestApp) {
    let buyer = app.another_browser();
    buyer.login_by_code("13800138601").await;
    buyer.bought("excel-data-analysis").await;
    let other = app.another_browser();
    other.login_by_code("13800138602").await;
    let staff = operator(&app).await;
    let course: i64 = sqlx::query_scalar("SELECT id FROM courses WHERE slug = 'excel-data-analysis'")
        .fetch_one(app.db.read())
        .await
        .unwrap();

    let empty = staff.submit(PAGE, "/admin/announcements/message", &[("subject", "x"), ("body", "")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let to_buyers = staff
        .submit(
            PAGE,
            "/admin/announcements/message",
            &[("course", &course.to_string()), ("subject", "第 3 课已更新"), ("body", "新增了数据透视表的练习文件。")],
        )
        .await;
    assert_eq!(to_buyers.status(), StatusCode::SEE_OTHER);
    let (_, list) = staff.get_html(PAGE).await;
    assert!(list.contains("第 3 课已更新") && list.contains("· 1<"), "one recipient");

    let (_, header) = buyer.get_html("/courses").await;
    assert!(header.contains("href=\"/me/messages\"") && header.contains("1 条未读"), "the unread count in the header");
    let (_, header) = other.get_html("/courses").await;
    assert!(!header.contains("条未读"), "not a buyer: nothing");

    let everyone = staff
        .submit(
            PAGE,
            "/admin/announcements/message",
            &[("subject", "服务升级通知"), ("body", "今晚 23:00 维护 10 分钟。")],
        )
        .await;
    assert_eq!(everyone.status(), StatusCode::SEE_OTHER);
    let (_, inbox) = buyer.get_html("/me/messages").await;
    assert!(
        inbox.contains("第 3 课已更新")
            && inbox.contains("新增了数据透视表的练习文件。")
            && inbox.contains("服务升级通知")
    );
    assert!(inbox.contains("2 条未读"));
    let read = buyer.submit("/me/messages", "/me/messages/read", &[]).await;
    assert_eq!(read.status(), StatusCode::SEE_OTHER);
    let (_, header) = buyer.get_html("/courses").await;
    assert!(!header.contains("条未读"), "all read");
    let (_, inbox) = other.get_html("/me/messages").await;
    assert!(inbox.contains("服务升级通知") && !inbox.contains("第 3 课已更新"));
    let staff_inbox: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_messages m JOIN users u ON u.id = m.user_id WHERE u.role <> 'learner'",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    assert_eq!(staff_inbox, 0, "messages go to learners");
    assert_eq!(audit_actions(&app).await.iter().filter(|a| *a == "announcement.message").count(), 2);
}
