//! Learning together (#20): a check-in challenge counted by Beijing days, its wall, the author's
//! delete and staff's hide; homework submitted, revised, reviewed with a message, and private to
//! its author and staff.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;

const COURSE: &str = "excel-data-analysis";

on_both_backends!(check_ins_count_by_beijing_day, homework_is_submitted_reviewed_and_private);

fn now() -> i64 {
    kedian::domain::time::now()
}

async fn learner(app: &TestApp, phone: &str) -> TestApp {
    let browser = app.another_browser();
    browser.login_by_code(phone).await;
    browser
}

async fn check_ins_count_by_beijing_day(app: TestApp) {
    let staff = app.staff().await;
    let page = format!("/admin/courses/{}/checkin", app.course_id(COURSE).await);
    let refused =
        staff.submit(&page, &page, &[("first_day", "明天"), ("days", "0"), ("prompts", " "), ("action", "save")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    for field in ["first_day", "days", "prompts"] {
        assert!(html.contains(&format!("id=\"{field}-error\"")), "{field}");
    }
    // The challenge began the day before yesterday, Beijing time.
    let first = kedian::domain::time::shanghai_date(now() - 2 * 86_400);
    let fields = [
        ("first_day", first.as_str()),
        ("days", "7"),
        ("prompts", "今天学到了什么？\n用一个公式解决一个真实问题"),
        ("action", "save"),
    ];
    assert_eq!(staff.submit(&page, &page, &fields).await.status(), StatusCode::SEE_OTHER);

    let outsider = learner(&app, "13800139201").await;
    let checkin = format!("/courses/{COURSE}/checkin");
    assert_eq!(outsider.get(&checkin).await.status(), StatusCode::NOT_FOUND, "only learners of the course take part");
    let me = learner(&app, "13800139202").await;
    me.bought(COURSE).await;
    let (status, html) = me.get_html(&checkin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("第 3 天") && html.contains("用一个公式解决一个真实问题"), "today's prompt");
    let empty = me.submit(&checkin, &checkin, &[("body", "  ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert!(empty.text().await.unwrap().contains("id=\"body-error\""));
    let posted = me.submit(&checkin, &checkin, &[("body", "汇总了本月门店销售")]).await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let again = me.submit("/me", &checkin, &[("body", "再打一次")]).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "once a day");
    assert!(unescape(&again.text().await.unwrap()).contains("今天已经打过卡了"));

    // Yesterday's post (as if made before Beijing midnight) and today's make a streak of two.
    let today = kedian::domain::checkin::day_number(now());
    sqlx::query("UPDATE check_ins SET day = $1").bind(today - 1).execute(app.db.write()).await.unwrap();
    let posted = me.submit(&checkin, &checkin, &[("body", "今天做了数据透视表")]).await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let (_, html) = me.get_html(&checkin).await;
    let html = unescape(&html);
    assert!(html.contains("<strong>2</strong><span>连续打卡天数"), "a two-day streak");
    assert!(html.contains("2/7"), "two of seven days");
    assert!(html.contains("未打卡"), "the first day is marked missed");

    let (_, wall) = outsider.get_html(&format!("/courses/{COURSE}")).await;
    assert!(wall.contains("今天做了数据透视表"), "the course page's wall");
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM check_ins ORDER BY day").fetch_all(app.db.read()).await.unwrap();
    let not_theirs = outsider.submit("/me", &format!("/checkins/{}/delete", ids[0]), &[]).await;
    assert_eq!(not_theirs.status(), StatusCode::NOT_FOUND, "only the author deletes");
    let deleted = me.submit(&checkin, &format!("/checkins/{}/delete", ids[0]), &[]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let hidden = staff.submit("/admin/checkins", &format!("/admin/checkins/{}", ids[1]), &[("decision", "hide")]).await;
    assert_eq!(hidden.status(), StatusCode::SEE_OTHER);
    let (_, wall) = outsider.get_html(&format!("/courses/{COURSE}#after")).await;
    assert!(
        !wall.contains("今天做了数据透视表") && !wall.contains("本月门店销售"),
        "deleted and hidden posts leave the wall"
    );
}

async fn homework_is_submitted_reviewed_and_private(app: TestApp) {
    let lesson = app.first_paid_lesson(COURSE).await;
    let staff = app.staff().await;
    let editor = format!("/admin/lessons/{lesson}");
    let saved = staff
        .submit(
            &editor,
            &format!("{editor}/content"),
            &[
                ("body", ""),
                ("notes", ""),
                ("live_url", ""),
                ("starts_at", ""),
                ("assignment", "用 VLOOKUP 匹配两张表，提交截图和思路"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let me = learner(&app, "13800139211").await;
    me.bought(COURSE).await;
    let (_, lesson_page) = me.get_html(&format!("/courses/{COURSE}/lessons/{lesson}")).await;
    let page = format!("/courses/{COURSE}/lessons/{lesson}/homework");
    assert!(lesson_page.contains(&page), "the lesson offers its homework");
    let empty = me.submit_multipart(&page, &page, &[("body", "")], vec![]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert!(empty.text().await.unwrap().contains("id=\"body-error\""));
    let sent = me
        .submit_multipart(
            &page,
            &page,
            &[("body", "先按工号排序，再用 VLOOKUP")],
            vec![("files", "思路.pdf", b"%PDF-1.4\n".to_vec())],
        )
        .await;
    assert_eq!(location(&sent), page);
    let revised = me.submit_multipart(&page, &page, &[("body", "改用 XLOOKUP，不用排序")], vec![]).await;
    assert_eq!(revised.status(), StatusCode::SEE_OTHER, "revised before review");
    assert_eq!(app.count("homework").await, 1, "one submission, revised");
    let (_, mine) = me.get_html(&page).await;
    assert!(mine.contains("改用 XLOOKUP") && mine.contains("思路.pdf"), "the text revised, the file kept");

    let (id, file): (i64, i64) = sqlx::query_as(
        "SELECT h.id, a.id FROM homework h JOIN attachments a ON a.owner_kind = 'homework' AND a.owner_id = h.id",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    let classmate = learner(&app, "13800139212").await;
    classmate.bought(COURSE).await;
    let file_url = format!("/homework/{id}/files/{file}");
    assert_eq!(classmate.get(&file_url).await.status(), StatusCode::NOT_FOUND, "another learner never sees it");
    let (_, theirs) = classmate.get_html(&page).await;
    assert!(!theirs.contains("XLOOKUP"), "their page shows only their own");
    assert_eq!(me.get(&file_url).await.status(), StatusCode::OK);
    assert_eq!(staff.get(&file_url).await.status(), StatusCode::OK, "staff read it");

    let (_, queue) = staff.get_html("/admin/homework").await;
    assert!(queue.contains("改用 XLOOKUP") && queue.contains("等待批改"), "in the staff queue");
    let ungraded =
        staff.submit("/admin/homework", &format!("/admin/homework/{id}"), &[("grade", ""), ("comment", "")]).await;
    assert_eq!(ungraded.status(), StatusCode::BAD_REQUEST);
    assert!(ungraded.text().await.unwrap().contains("id=\"grade-error\""));
    let reviewed = staff
        .submit(
            "/admin/homework",
            &format!("/admin/homework/{id}"),
            &[("grade", "优秀"), ("comment", "思路清楚，注意处理找不到的情况")],
        )
        .await;
    assert_eq!(reviewed.status(), StatusCode::SEE_OTHER);
    let (_, messages) = me.get_html("/me/messages").await;
    assert!(messages.contains("你的作业已批改：优秀"), "作业反馈 reaches the learner");
    let (_, mine) = me.get_html(&page).await;
    assert!(mine.contains("思路清楚") && !mine.contains("name=\"body\""), "the review shows; the form is gone");
    let export: serde_json::Value = me.get("/me/privacy/export").await.json().await.unwrap();
    assert_eq!(export["homework"][0]["grade"], "优秀", "homework is in the learner's data export");
    let late = me.submit_multipart("/me", &page, &[("body", "再改一下")], vec![]).await;
    assert_eq!(late.status(), StatusCode::CONFLICT, "a reviewed submission is final");
}
