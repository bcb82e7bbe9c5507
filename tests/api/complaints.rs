//! Complaints from the footer link to a resolved case, content reports, and the staff queue with
//! its first-reply clock.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::on_both_backends;
use crate::refunds::PNG;

on_both_backends!(
    a_complaint_is_answered_and_resolved,
    reporting_a_lesson,
    bad_complaints_change_nothing,
    ten_complaints_a_day_at_most,
);

async fn complain(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.submit_multipart("/complaints/new", "/complaints/new", fields, vec![("images", "屏幕.png", PNG.to_vec())]).await
}

async fn a_complaint_is_answered_and_resolved(app: TestApp) {
    let (_, home) = app.get_html("/").await;
    assert!(home.contains("href=\"/complaints/new\""), "the footer of every page links to complaints");
    assert_eq!(location(&app.get("/complaints/new").await), "/login?next=%2Fcomplaints%2Fnew");

    app.login_by_code("13800138020").await;
    let order_no = app.bought("excel-data-analysis").await;
    let (status, form) = app.get_html(&format!("/complaints/new?order={order_no}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("value=\"13800138020\""), "the contact phone is prefilled");
    assert!(form.contains(&format!("value=\"{order_no}\" selected")), "the order is preselected");

    let sent = complain(
        &app,
        &[
            ("category", "course_quality"),
            ("order_no", &order_no),
            ("description", "第三课的视频没有声音"),
            ("phone", "13800138020"),
        ],
    )
    .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let page = location(&sent);
    let complaint_no = page.trim_start_matches("/complaints/").to_string();
    let (_, html) = app.get_html(&page).await;
    assert!(html.contains("待处理") && html.contains("第三课的视频没有声音") && html.contains("屏幕.png"));

    let staff = app.staff().await;
    let (_, queue) = staff.get_html("/admin/complaints").await;
    assert!(queue.contains(&complaint_no) && queue.contains("24 小时内需回复"), "the SLA clock runs");
    let (_, dashboard) = staff.get_html("/admin").await;
    assert!(dashboard.contains("条投诉待回复"));
    // A day and a bit later it is overdue and highlighted.
    sqlx::query("UPDATE complaints SET first_reply_due = first_reply_due - 25 * 3600 - 1800")
        .execute(app.db.write())
        .await
        .unwrap();
    let (_, queue) = staff.get_html("/admin/complaints").await;
    assert!(queue.contains("class=\"overdue\"") && queue.contains("已超时 2 小时"), "overdue ones stand out");
    let (_, dashboard) = staff.get_html("/admin").await;
    assert!(dashboard.contains("其中 1 条已超时"));

    let detail = format!("/admin/complaints/{complaint_no}");
    let empty = staff.submit(&detail, &format!("{detail}/reply"), &[("body", " ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let replied = staff.submit(&detail, &format!("{detail}/reply"), &[("body", "已修复音轨，请刷新后重试")]).await;
    assert_eq!(replied.status(), StatusCode::SEE_OTHER);
    let (_, html) = app.get_html(&page).await;
    assert!(html.contains("已回复") && html.contains("已修复音轨"), "the learner sees the reply");
    let (_, messages) = app.get_html("/me/messages").await;
    assert!(messages.contains(&complaint_no));

    let follow = app.submit(&page, &format!("{page}/messages"), &[("body", "还是没有声音")]).await;
    assert_eq!(follow.status(), StatusCode::SEE_OTHER);
    let (_, html) = app.get_html(&page).await;
    assert!(html.contains("待处理") && html.contains("还是没有声音"), "a follow-up waits for the shop again");

    // Staff link a refund of this learner and resolve.
    let refund = app.request_refund(&order_no, "quality", vec![]).await;
    let refund_no = location(&refund).trim_start_matches("/refunds/").to_string();
    let wrong =
        staff.submit(&detail, &format!("{detail}/link-refund"), &[("refund_no", "R20261122AAAAAAAAAAAA")]).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let linked = staff.submit(&detail, &format!("{detail}/link-refund"), &[("refund_no", &refund_no)]).await;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    staff.submit(&detail, &format!("{detail}/reply"), &[("body", "已为你办理退款"), ("resolve", "1")]).await;
    let (_, html) = app.get_html(&page).await;
    assert!(html.contains("已解决") && html.contains(&format!("/refunds/{refund_no}")));
    let (_, list) = app.get_html("/complaints").await;
    assert!(list.contains(&complaint_no));
    let (_, queue) = staff.get_html("/admin/complaints").await;
    assert!(!queue.contains(&complaint_no), "resolved ones leave the waiting queue");
    let actions: Vec<String> =
        crate::backoffice::audit_actions(&app).await.into_iter().filter(|a| a.starts_with("complaint.")).collect();
    assert_eq!(actions, ["complaint.reply", "complaint.link_refund", "complaint.resolve"], "each staff step audited");
}

async fn reporting_a_lesson(app: TestApp) {
    app.login_by_code("13800138021").await;
    let lesson_id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM lessons").fetch_one(app.db.read()).await.unwrap();
    let slug: String =
        sqlx::query_scalar("SELECT c.slug FROM courses c JOIN lessons l ON l.course_id = c.id WHERE l.id = $1")
            .bind(lesson_id)
            .fetch_one(app.db.read())
            .await
            .unwrap();
    let (_, lesson_page) = app.get_html(&format!("/courses/{slug}/lessons/{lesson_id}")).await;
    assert!(lesson_page.contains(&format!("/complaints/new?lesson={lesson_id}")), "every lesson has 举报");
    let form_page = format!("/complaints/new?lesson={lesson_id}");
    let (_, form) = app.get_html(&form_page).await;
    assert!(
        form.contains("value=\"content_report\" checked") && form.contains("举报内容："),
        "a report of this lesson"
    );
    let sent = app
        .submit_multipart(
            &form_page,
            "/complaints/new",
            &[
                ("category", "content_report"),
                ("lesson_id", &lesson_id.to_string()),
                ("description", "内容涉嫌抄袭"),
                ("phone", "13800138021"),
            ],
            vec![],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let stored: (String, Option<i64>) =
        sqlx::query_as("SELECT category, lesson_id FROM complaints").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(stored, ("content_report".to_string(), Some(lesson_id)));
}

async fn bad_complaints_change_nothing(app: TestApp) {
    app.login_by_code("13800138022").await;
    let other = app.another_browser();
    other.login_by_code("13800138023").await;
    let someone_elses = other.bought("excel-data-analysis").await;
    for (fields, error) in [
        (vec![("category", ""), ("description", "有问题需要处理"), ("phone", "13800138022")], "请选择问题类型"),
        (vec![("category", "other"), ("description", ""), ("phone", "13800138022")], "请填写内容"),
        (vec![("category", "other"), ("description", "短"), ("phone", "13800138022")], "请至少写 5 个字"),
        (vec![("category", "other"), ("description", "有问题需要处理"), ("phone", "123")], "手机号"),
        (
            vec![
                ("category", "payment"),
                ("order_no", &someone_elses),
                ("description", "有问题需要处理"),
                ("phone", "13800138022"),
            ],
            "请选择你自己的订单",
        ),
    ] {
        let response = complain(&app, &fields).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{error}");
        assert!(response.text().await.unwrap().contains(error), "{error}");
    }
    // A PDF is not a picture.
    let pdf = app
        .submit_multipart(
            "/complaints/new",
            "/complaints/new",
            &[("category", "other"), ("description", "有问题需要处理"), ("phone", "13800138022")],
            vec![("images", "a.pdf", b"%PDF-1.4\n".to_vec())],
        )
        .await;
    assert_eq!(pdf.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("complaints").await, 0);
    assert_eq!(app.count("attachments").await, 0);
}

/// A learner files at most ten complaints and thirty follow-ups in 24 hours; one more is refused
/// beside the field and stores nothing. Without signing in, nothing of the body is kept either.
async fn ten_complaints_a_day_at_most(app: TestApp) {
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", "none")
        .part("images", reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("a.png"));
    let anonymous = app.client.post(app.url("/complaints/new")).multipart(form).send().await.unwrap();
    let status = anonymous.status();
    assert!(status.is_client_error() || location(&anonymous).starts_with("/login"), "{status}");
    assert_eq!(app.count("complaints").await, 0);
    app.login_by_code("13800138029").await;
    let fields = [("category", "other"), ("description", "第三课的视频没有声音"), ("phone", "13800138029")];
    for i in 0..10 {
        assert_eq!(complain(&app, &fields).await.status(), StatusCode::SEE_OTHER, "complaint {i}");
    }
    let refused = complain(&app, &fields).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.text().await.unwrap().contains("id=\"description-error\""));
    assert_eq!(app.count("complaints").await, 10);
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(kept, 10, "the eleventh's picture was not kept");

    let complaint_no: String = sqlx::query_scalar("SELECT complaint_no FROM complaints ORDER BY id LIMIT 1")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let page = format!("/complaints/{complaint_no}");
    for i in 0..30 {
        let sent = app.submit(&page, &format!("{page}/messages"), &[("body", "还是没有声音")]).await;
        assert_eq!(sent.status(), StatusCode::SEE_OTHER, "follow-up {i}");
    }
    let refused = app.submit(&page, &format!("{page}/messages"), &[("body", "还是没有声音")]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"body-error\"") && html.contains("24 小时内最多补充 30 次"), "beside the field");
    assert_eq!(app.count("complaint_messages").await, 30);
}
