//! Cohorts (营期, #33): staff open cohorts with seats and a sale window; a buyer picks one; a
//! full, closed or not-yet-open cohort is refused with its reason; scheduled lessons count from
//! the cohort's first day; staff see, move and message a cohort's learners.

use kedian::domain::time::{now, shanghai_date, shanghai_datetime_value};
use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::learning::schedule;
use crate::on_both_backends;

const COURSE: &str = "excel-data-analysis";

on_both_backends!(
    a_cohort_is_bought_and_counts_its_lessons_from_its_start,
    the_last_seat_goes_to_one_buyer,
    a_cohort_keeps_its_own_check_ins_homework_and_live_sessions,
    only_a_cohort_nobody_joined_can_be_deleted,
);

const DAY: i64 = 86_400;

/// Opens a cohort through the back office; its id.
async fn open_cohort(app: &TestApp, staff: &TestApp, name: &str, start_day: i64, seats: &str, sale: (i64, i64)) -> i64 {
    let page = format!("/admin/courses/{}/cohorts", app.course_id(COURSE).await);
    let fields = [
        ("name", name),
        ("starts_on", &shanghai_date(now() + start_day * DAY)),
        ("capacity", seats),
        ("sale_starts_at", &shanghai_datetime_value(now() + sale.0)),
        ("sale_ends_at", &shanghai_datetime_value(now() + sale.1)),
    ];
    let made = staff.submit(&page, &page, &fields).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER, "{}", made.text().await.unwrap_or_default());
    sqlx::query_scalar("SELECT id FROM cohorts WHERE name = $1").bind(name).fetch_one(app.db.read()).await.unwrap()
}

fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// 报名此期 as a page loaded earlier posts it (the token from 我的: a full cohort's page has no form).
async fn buy_in(app: &TestApp, cohort: &str) -> reqwest::Response {
    app.submit("/me", &format!("/courses/{COURSE}/buy"), &[("cohort", cohort)]).await
}

async fn cohort_of(app: &TestApp, phone: &str) -> Option<i64> {
    sqlx::query_scalar(
        "SELECT e.cohort_id FROM entitlements e JOIN users u ON u.id = e.user_id JOIN courses c ON c.id = e.course_id \
         WHERE u.phone = $1 AND c.slug = $2",
    )
    .bind(phone)
    .bind(COURSE)
    .fetch_one(app.db.read())
    .await
    .unwrap()
}

async fn a_cohort_is_bought_and_counts_its_lessons_from_its_start(app: TestApp) {
    let staff = app.staff().await;
    let page = format!("/admin/courses/{}/cohorts", app.course_id(COURSE).await);
    let bad = [
        ("name", ""),
        ("starts_on", "下周一"),
        ("capacity", "0"),
        ("sale_starts_at", "2027-01-02T10:00"),
        ("sale_ends_at", "2027-01-01T10:00"),
    ];
    let refused = staff.submit(&page, &page, &bad).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    for field in ["name", "starts_on", "capacity", "sale_ends_at"] {
        assert!(html.contains(&format!("id=\"{field}-error\"")), "{field}");
    }
    assert_eq!(app.count("cohorts").await, 0);
    // Started two days ago (late joiners welcome); next week's; one whose enrolment opens later.
    let first = open_cohort(&app, &staff, "第 1 期", -2, "30", (-5 * DAY, 5 * DAY)).await;
    let second = open_cohort(&app, &staff, "第 2 期", 7, "1", (-DAY, 6 * DAY)).await;
    let later = open_cohort(&app, &staff, "第 3 期", 30, "30", (3 * DAY, 20 * DAY)).await;
    // Two scheduled lessons: the cohort's day 2 and day 3 (day 0 is its first day).
    let catalog = app.catalog.snapshot();
    let paid: Vec<_> = catalog.course(COURSE).unwrap().lessons().filter(|l| !l.free_preview).map(|l| l.id).collect();
    let (day2, day3) = (paid[0], paid[1]);
    assert_eq!(schedule(&staff, day2, "2", "").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(schedule(&staff, day3, "3", "").await.status(), StatusCode::SEE_OTHER);

    let a = "13800139401";
    app.login_by_code(a).await;
    let (_, course_page) = app.get_html(&format!("/courses/{COURSE}")).await;
    assert!(
        course_page.contains("id=\"cohorts\"")
            && course_page.contains("剩余 30 席")
            && course_page.contains("尚未开始报名")
    );
    assert!(course_page.contains("href=\"#cohorts\""), "the buy bar leads to the cohorts");
    let unpicked = app.submit(&format!("/courses/{COURSE}"), &format!("/courses/{COURSE}/buy"), &[]).await;
    assert_eq!(unpicked.status(), StatusCode::BAD_REQUEST);
    assert!(unpicked.text().await.unwrap().contains("请先选择一期"));
    let early = buy_in(&app, &later.to_string()).await;
    assert_eq!(early.status(), StatusCode::CONFLICT);
    assert!(early.text().await.unwrap().contains("尚未开始报名"));
    assert_eq!(app.count("orders").await, 0, "nothing was ordered");

    let to_pay = location(&buy_in(&app, &first.to_string()).await);
    assert!(to_pay.ends_with("/pay"), "{to_pay}");
    app.pay_sandbox(to_pay.trim_start_matches("/orders/").trim_end_matches("/pay")).await;
    assert_eq!(cohort_of(&app, a).await, Some(first));
    let (_, course_page) = app.get_html(&format!("/courses/{COURSE}")).await;
    assert!(course_page.contains("我的营期") && course_page.contains("第 1 期"));
    let today_title = &catalog.course(COURSE).unwrap().lessons().find(|l| l.id == day2).unwrap().title;
    assert!(course_page.contains(&format!("今日课程：{today_title}")), "today's lesson is the cohort's day 2");
    let (_, mine) = app.get_html("/me/courses").await;
    assert!(
        mine.contains("第 1 期") && mine.contains(&format!("今日课程：{today_title}")),
        "我的课程 shows the cohort"
    );
    // Day 2 of the cohort opened at midnight; day 3 opens tomorrow, whatever the purchase time.
    let (_, open) = app.get_html(&format!("/courses/{COURSE}/lessons/{day2}")).await;
    assert!(open.contains("data-mp4=\"/media/"));
    let (_, shut) = app.get_html(&format!("/courses/{COURSE}/lessons/{day3}")).await;
    assert!(shut.contains("本节将于") && !shut.contains("data-mp4=\"/media/"));

    // The second cohort has one seat: a buyer's unpaid order holds it.
    let b = app.another_browser();
    b.login_by_code("13800139402").await;
    assert!(location(&buy_in(&b, &second.to_string()).await).ends_with("/pay"));
    let c = app.another_browser();
    c.login_by_code("13800139403").await;
    let full = buy_in(&c, &second.to_string()).await;
    assert_eq!(full.status(), StatusCode::CONFLICT);
    assert!(full.text().await.unwrap().contains("已报满"));
    let (_, seen) = c.get_html(&format!("/courses/{COURSE}")).await;
    assert!(seen.contains("剩余 0 席") && seen.contains("已报满"));

    // Staff see the cohort, move the learner to next week's, and message it.
    let (_, list) = staff.get_html(&page).await;
    assert!(list.contains("第 1 期") && list.contains("1 / 30"));
    let (_, one) = staff.get_html(&format!("/admin/cohorts/{first}")).await;
    assert!(one.contains("138****9401"));
    assert!(one.contains("第 2 期 · 剩余 0 席 / 共 1 席"), "the move's choices show the seats left");
    let user: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = $1").bind(a).fetch_one(app.db.read()).await.unwrap();
    let moved = staff
        .submit(
            &format!("/admin/cohorts/{first}"),
            &format!("/admin/cohorts/{first}/move"),
            &[("user", &user.to_string()), ("to", &second.to_string())],
        )
        .await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    assert_eq!(cohort_of(&app, a).await, Some(second));
    let (_, now_shut) = app.get_html(&format!("/courses/{COURSE}/lessons/{day2}")).await;
    assert!(now_shut.contains("本节将于"), "day 2 of next week's cohort has not come");
    let empty = staff
        .submit(&format!("/admin/cohorts/{second}"), &format!("/admin/cohorts/{second}/message"), &[("text", " ")])
        .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let sent = staff
        .submit(
            &format!("/admin/cohorts/{second}"),
            &format!("/admin/cohorts/{second}/message"),
            &[("text", "周一晚 8 点开营直播")],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let (_, inbox) = app.get_html("/me/messages").await;
    assert!(inbox.contains("周一晚 8 点开营直播"), "the cohort's learner is told");
    let (_, theirs) = c.get_html("/me/messages").await;
    assert!(!theirs.contains("开营直播"), "nobody outside it");

    // The held seat is paid: two learners now (one moved in by staff). Staff edit the cohort:
    // fewer seats than learners is refused; an earlier first day opens day 2 again.
    let b_order: String = sqlx::query_scalar("SELECT order_no FROM orders WHERE cohort_id = $1 AND status = 'pending'")
        .bind(second)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    b.pay_sandbox(&b_order).await;
    let edit = format!("/admin/cohorts/{second}");
    let fields = |seats: &'static str, start_day: i64| {
        vec![
            ("name".to_string(), "第 2 期（提前）".to_string()),
            ("starts_on".to_string(), shanghai_date(now() + start_day * DAY)),
            ("capacity".to_string(), seats.to_string()),
            ("sale_starts_at".to_string(), shanghai_datetime_value(now() - DAY)),
            ("sale_ends_at".to_string(), shanghai_datetime_value(now() + DAY)),
        ]
    };
    let too_few = fields("1", -3);
    let refused = staff.submit(&edit, &edit, &pairs(&too_few)).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("名额不能少于已报名的 2 人"));
    let earlier = fields("2", -3);
    assert_eq!(staff.submit(&edit, &edit, &pairs(&earlier)).await.status(), StatusCode::SEE_OTHER);
    let (_, reopened) = app.get_html(&format!("/courses/{COURSE}/lessons/{day2}")).await;
    assert!(reopened.contains("data-mp4=\"/media/"), "day 2 of a cohort that began three days ago");
    let (_, list) = staff.get_html(&page).await;
    assert!(list.contains("第 2 期（提前）") && list.contains("2 / 2"));
}

async fn the_last_seat_goes_to_one_buyer(app: TestApp) {
    let staff = app.staff().await;
    let cohort = open_cohort(&app, &staff, "小班", 3, "1", (-DAY, DAY)).await.to_string();
    let mut buyers = Vec::new();
    for i in 0..6 {
        let b = app.another_browser();
        let signed_in = b.login_by_code(&format!("1380013950{i}")).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "{}", signed_in.text().await.unwrap_or_default());
        buyers.push(b);
    }
    let tries = buyers.iter().map(|b| buy_in(b, &cohort));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(tries).await.iter().map(|r| r.status()).collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE cohort_id = $1")
        .bind(cohort.parse::<i64>().unwrap())
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(held, 1, "one seat, one order: {statuses:?}");
    assert!(
        won >= 1 && statuses.iter().all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
}

/// A learner who bought a seat in `cohort` and paid.
async fn joined(app: &TestApp, phone: &str, cohort: i64) -> TestApp {
    let b = app.another_browser();
    b.login_by_code(phone).await;
    let to_pay = location(&buy_in(&b, &cohort.to_string()).await);
    b.pay_sandbox(to_pay.trim_start_matches("/orders/").trim_end_matches("/pay")).await;
    b
}

async fn a_cohort_keeps_its_own_check_ins_homework_and_live_sessions(app: TestApp) {
    let staff = app.staff().await;
    let course_id = app.course_id(COURSE).await;
    let early = open_cohort(&app, &staff, "三月营", -2, "30", (-5 * DAY, 5 * DAY)).await;
    let late = open_cohort(&app, &staff, "四月营", 20, "30", (-5 * DAY, 5 * DAY)).await;
    // The course's challenge (for learners outside cohorts) starts next month: each cohort runs
    // its seven days from its own first day instead.
    let challenge = format!("/admin/courses/{course_id}/checkin");
    let fields = [
        ("first_day", shanghai_date(now() + 40 * DAY)),
        ("days", "7".into()),
        ("prompts", "今天学到了什么？".into()),
        ("action", "save".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(staff.submit(&challenge, &challenge, &fields).await.status(), StatusCode::SEE_OTHER);
    let (_, settings) = staff.get_html(&challenge).await;
    assert!(settings.contains("每一期的学员从本期开营日起打卡"), "staff are told how cohorts run it");
    let a = joined(&app, "13800139411", early).await;
    let b = joined(&app, "13800139412", late).await;
    let checkin = format!("/courses/{COURSE}/checkin");
    let (_, page) = a.get_html(&checkin).await;
    assert!(page.contains("第 3 天") && page.contains("三月营"), "day 3 of the cohort that began two days ago");
    assert_eq!(a.submit(&checkin, &checkin, &[("body", "三月营第三天")]).await.status(), StatusCode::SEE_OTHER);
    // Its page has no form yet: a post as a page loaded earlier sends it (the token from 我的).
    let not_yet = b.submit("/me", &checkin, &[("body", "四月营抢跑")]).await;
    assert_eq!(not_yet.status(), StatusCode::BAD_REQUEST, "the later cohort has not started");
    assert!(not_yet.text().await.unwrap().contains("打卡活动还没开始"));
    let posted: Option<i64> =
        sqlx::query_scalar("SELECT cohort_id FROM check_ins").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(posted, Some(early), "the post carries its cohort");
    // A third learner in the same cohort sees the post on the cohort's wall; the later cohort does not.
    let c = joined(&app, "13800139413", early).await;
    let (_, wall) = c.get_html(&checkin).await;
    assert!(wall.contains("本期同学的打卡") && wall.contains("三月营第三天"));
    let (_, other) = b.get_html(&checkin).await;
    assert!(other.contains("本期同学的打卡") && !other.contains("三月营第三天"), "another cohort's wall");

    // Homework carries the cohort: staff see each cohort's queue, and its count per learner.
    let lesson = app.first_paid_lesson(COURSE).await;
    let editor = format!("/admin/lessons/{lesson}");
    let content =
        [("body", ""), ("notes", ""), ("live_url", ""), ("starts_at", ""), ("assignment", "交一张透视表截图")];
    assert_eq!(staff.submit(&editor, &format!("{editor}/content"), &content).await.status(), StatusCode::SEE_OTHER);
    let homework = format!("/courses/{COURSE}/lessons/{lesson}/homework");
    let sent = a.submit_multipart(&homework, &homework, &[("body", "三月营的作业")], vec![]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let (_, queue) = staff.get_html(&format!("/admin/homework?cohort={early}")).await;
    assert!(queue.contains("三月营的作业") && queue.contains("三月营"));
    let (_, queue) = staff.get_html(&format!("/admin/homework?cohort={late}")).await;
    assert!(!queue.contains("三月营的作业"), "another cohort's queue");
    assert_eq!(staff.get("/admin/homework?cohort=abc").await.status(), StatusCode::NOT_FOUND);
    let (_, roster) = staff.get_html(&format!("/admin/cohorts/{early}")).await;
    assert!(roster.contains("<td>1</td><td>1</td>"), "one check-in, one homework");

    // A live lesson at the course's time; the early cohort holds it in half an hour, in its own room.
    let live = app.catalog.snapshot().course(COURSE).unwrap().lessons().nth(3).unwrap().id;
    // Made a live lesson (no recording yet), as the syllabus editor does.
    sqlx::query("UPDATE lessons SET kind = 'live', media_key = NULL, hls_dir = NULL WHERE id = $1")
        .bind(live)
        .execute(app.db.write())
        .await
        .unwrap();
    let editor = format!("/admin/lessons/{live}");
    let own_time = shanghai_datetime_value(now() + 3 * DAY);
    let content = [
        ("body", ""),
        ("notes", ""),
        ("live_url", "https://live.example.com/all"),
        ("starts_at", own_time.as_str()),
        ("assignment", ""),
    ];
    assert_eq!(staff.submit(&editor, &format!("{editor}/content"), &content).await.status(), StatusCode::SEE_OTHER);
    let cohort_page = format!("/admin/cohorts/{early}");
    let action = format!("{cohort_page}/live/{live}");
    let bad = staff.submit(&cohort_page, &action, &[("starts_at", "明晚八点"), ("live_url", "http://x")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains(&format!("id=\"live-at-{live}-error\""))
            && html.contains(&format!("id=\"live-url-{live}-error\""))
    );
    assert_eq!(app.count("cohort_live_sessions").await, 0, "nothing stored");
    let soon = now() + 10 * 60;
    let fields = [("starts_at", shanghai_datetime_value(soon)), ("live_url", "https://live.example.com/march".into())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(staff.submit(&cohort_page, &action, &fields).await.status(), StatusCode::SEE_OTHER);
    let lesson_page = format!("/courses/{COURSE}/lessons/{live}");
    let (_, mine) = a.get_html(&lesson_page).await;
    assert!(
        mine.contains(&kedian::domain::time::shanghai_minutes(soon)) && mine.contains("https://live.example.com/march"),
        "the cohort's time and room (open ten minutes before)"
    );
    let (_, theirs) = b.get_html(&lesson_page).await;
    assert!(
        theirs.contains(&kedian::domain::time::shanghai_minutes(now() + 3 * DAY).chars().take(10).collect::<String>())
            && !theirs.contains("live.example.com/march"),
        "another cohort keeps the lesson's own time"
    );
    // The reminder goes to the cohort holding it now, not to the cohort that holds it in three days.
    let leads = kedian::jobs::reminders::Leads { membership_days: 3, event_secs: 3600 };
    kedian::jobs::reminders::run_once(&app.db, &app.catalog, leads, now()).await.unwrap();
    let reminded: Vec<String> = sqlx::query_scalar(
        "SELECT u.phone FROM user_messages m JOIN users u ON u.id = m.user_id WHERE m.kind = 'live_starting' ORDER BY u.phone",
    )
    .fetch_all(app.db.read())
    .await
    .unwrap();
    assert_eq!(reminded, vec!["13800139411".to_string(), "13800139413".to_string()]);
    // Cleared: back to the lesson's own time.
    assert_eq!(
        staff.submit(&cohort_page, &action, &[("starts_at", ""), ("live_url", "")]).await.status(),
        StatusCode::SEE_OTHER
    );
    let (_, back) = a.get_html(&lesson_page).await;
    assert!(!back.contains("live.example.com/march"));
    assert_eq!(app.count("cohort_live_sessions").await, 0);
}

async fn only_a_cohort_nobody_joined_can_be_deleted(app: TestApp) {
    let staff = app.staff().await;
    let course_id = app.course_id(COURSE).await;
    let taken = open_cohort(&app, &staff, "有人的营", 3, "30", (-DAY, DAY)).await;
    let empty = open_cohort(&app, &staff, "空营", 10, "30", (-DAY, DAY)).await;
    joined(&app, "13800139421", taken).await;
    let page = format!("/admin/cohorts/{taken}");
    let refused = staff.submit(&page, &format!("{page}/delete"), &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("已有学员报名或下单，不能删除"));
    let page = format!("/admin/cohorts/{empty}");
    let deleted = staff.submit(&page, &format!("{page}/delete"), &[]).await;
    assert_eq!(location(&deleted), format!("/admin/courses/{course_id}/cohorts"));
    assert_eq!(app.count("cohorts").await, 1);
    assert_eq!(staff.get(&page).await.status(), StatusCode::NOT_FOUND);
    let (_, course_page) = app.get_html(&format!("/courses/{COURSE}")).await;
    assert!(course_page.contains("有人的营") && !course_page.contains("空营"), "gone from the course page");
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'cohort.delete'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(audited, 1);
}
