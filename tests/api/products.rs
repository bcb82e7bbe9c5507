//! Products that work as sold (#19): a membership opens its courses until it ends and a refund
//! ends it; a consultation is bought with a slot, moved, reminded of and refunded by its limit;
//! twenty buyers racing for one slot make one booking; reviews need study and pass the filter.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;

const PLAN: &str = "annual-membership"; // ¥698 a year, every course
const COURSE: &str = "excel-data-analysis";
const CONSULTATION: &str = "career-consultation"; // ¥500, slots at 20:00 from the day after tomorrow
const DAY: i64 = 86_400;

/// Eligible refunds are approved and sent at once.
async fn automatic(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, |s| s.refund_auto_approve_fen = 1_000_000).await
}

/// The shop refunds the current membership period pro rata too.
async fn pro_rata(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, |s| {
        s.refund_auto_approve_fen = 1_000_000;
        s.membership_refund_current_period = true;
    })
    .await
}

on_both_backends!(setup = pro_rata; cancelling_a_running_membership_refunds_the_days_left);

on_both_backends!(
    setup = automatic;
    a_membership_opens_courses_until_it_ends,
    renewing_extends_and_a_refund_of_the_period_ahead_is_full,
    members_only_courses_and_member_prices,
    a_consultation_is_booked_moved_and_refunded_by_its_limit,
    twenty_buyers_race_for_one_slot,
    twenty_browsers_race_for_one_slot,
    reminders_go_out_once,
    reviews_need_study_and_pass_the_filter,
    a_live_course_replays_its_sessions_and_refunds_the_ones_not_held,
    staff_set_plans_member_benefits_and_slots,
);

fn now() -> i64 {
    kedian::domain::time::now()
}

async fn learner(app: &TestApp, phone: &str) -> TestApp {
    let browser = app.another_browser();
    browser.login_by_code(phone).await;
    browser
}

/// Whether the lesson page lets this browser learn (the locked panel is absent).
async fn may_learn(browser: &TestApp, slug: &str, lesson: i64) -> bool {
    let (status, html) = browser.get_html(&format!("/courses/{slug}/lessons/{lesson}")).await;
    assert_eq!(status, StatusCode::OK);
    !html.contains("class=\"panel locked\"")
}

async fn terms(app: &TestApp, phone: &str) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT t.starts_at, t.ends_at FROM membership_terms t JOIN users u ON u.id = t.user_id WHERE u.phone = $1 ORDER BY t.id",
    )
    .bind(phone)
    .fetch_all(app.db.read())
    .await
    .unwrap()
}

/// Moves every term of the learner by `secs` (time passing), as the database would see it.
async fn shift_terms(app: &TestApp, phone: &str, secs: i64) {
    sqlx::query(
        "UPDATE membership_terms SET starts_at = starts_at + $1, ends_at = ends_at + $1 \
         WHERE user_id = (SELECT id FROM users WHERE phone = $2)",
    )
    .bind(secs)
    .bind(phone)
    .execute(app.db.write())
    .await
    .unwrap();
    app.db.access_changed();
}

async fn a_membership_opens_courses_until_it_ends(app: TestApp) {
    let phone = "13800139001";
    let me = learner(&app, phone).await;
    let lesson = app.first_paid_lesson(COURSE).await;
    assert!(!may_learn(&me, COURSE, lesson).await, "not a member yet");
    let bought_alone = me.bought("economics-in-15-minutes").await;
    me.bought(PLAN).await;
    assert!(may_learn(&me, COURSE, lesson).await, "the membership opens every course");
    let (_, course_page) = me.get_html(&format!("/courses/{COURSE}")).await;
    assert!(course_page.contains("会员免费学 · 开始学习"), "the course page offers learning as a member, not buying");
    assert!(!course_page.contains("开通会员") && !course_page.contains("已购买"), "no upsell, no claim to a purchase");
    let (_, mine) = me.get_html("/me").await;
    assert!(mine.contains("会员中") && mine.contains("有效期至"), "我的 shows the badge and the end");
    assert!(mine.contains("/me/courses#member"), "and leads to what it opens");
    // 我的课程: what was bought, then the 会员专区 with the membership's end and every course it opens.
    let (_, my_courses) = me.get_html("/me/courses").await;
    let zone = my_courses.split("id=\"member\"").nth(1).expect("a 会员专区 in 我的课程");
    assert!(zone.contains("会员专区") && zone.contains("有效期至"), "{zone}");
    assert!(zone.contains("Excel 数据分析实战") && !zone.contains("每天 15 分钟的经济学"), "bought courses stay above");
    assert!(!my_courses.contains("年度会员：全站课程畅学"), "the plan itself is not listed as a course");
    // The plan's own page: benefits and the courses it opens, no instructor, syllabus or preview.
    let (_, plan_page) = me.get_html(&format!("/courses/{PLAN}")).await;
    assert!(plan_page.contains("会员权益") && plan_page.contains("会员可学的课程"));
    assert!(plan_page.contains(&format!("href=\"/courses/{COURSE}\"")), "lists what it opens");
    assert!(
        !plan_page.contains("id=\"instructor\"")
            && !plan_page.contains("id=\"syllabus\"")
            && !plan_page.contains("免费试看")
    );
    let got = terms(&app, phone).await;
    assert_eq!(got.len(), 1);
    let (start, end) = got[0];
    assert!((365 * DAY..=366 * DAY).contains(&(end - start)), "a year, as Beijing calendar months");
    let bought = me.submit("/me", &format!("/courses/{COURSE}/buy"), &[]).await;
    assert_eq!(location(&bought), format!("/courses/{COURSE}"), "nothing to pay for a course the membership opens");

    // A second before the end the member still learns; at the end access stops, except for
    // what was bought on its own.
    shift_terms(&app, phone, -(end - now()) + 60).await;
    assert!(may_learn(&me, COURSE, lesson).await, "on the last day");
    shift_terms(&app, phone, -120).await;
    assert!(!may_learn(&me, COURSE, lesson).await, "over at the end");
    let photo = app.first_paid_lesson("economics-in-15-minutes").await;
    assert!(may_learn(&me, "economics-in-15-minutes", photo).await, "a course bought alone stays ({bought_alone})");
    let (_, mine) = me.get_html("/me").await;
    assert!(mine.contains("会员已到期"), "an expired member is told");
    let (_, plan_page) = me.get_html(&format!("/courses/{PLAN}")).await;
    assert!(plan_page.contains("续费会员"), "and offered renewal, not a lock");
    let staff = app.staff().await;
    let (_, members) = staff.get_html("/admin/members").await;
    assert!(
        members.contains("会员已到期") && members.contains("/admin/users/"),
        "the back office lists members and ends"
    );
}

async fn renewing_extends_and_a_refund_of_the_period_ahead_is_full(app: TestApp) {
    let phone = "13800139002";
    let me = learner(&app, phone).await;
    me.bought(PLAN).await;
    let renewal = me.order_for(PLAN).await;
    me.pay_sandbox(&renewal).await;
    let got = terms(&app, phone).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0, got[0].1, "the renewal starts where the first year ends");

    let (_, form) = me.get_html(&format!("/orders/{renewal}/refund")).await;
    assert!(unescape(&form).contains("尚未开始，全额退款"), "the engine gets the true start");
    let refunded = me.request_refund(&renewal, "quality", vec![]).await;
    assert_eq!(refunded.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.order_status(&renewal).await, "refunded");
    let got = terms(&app, phone).await;
    assert_eq!(got[1].0, got[1].1, "the refunded year never runs");
    let lesson = app.first_paid_lesson(COURSE).await;
    assert!(may_learn(&me, COURSE, lesson).await, "the current year goes on");

    // The current year is kept by default: nothing is due on it.
    let first: String = sqlx::query_scalar(
        "SELECT o.order_no FROM orders o JOIN users u ON u.id = o.user_id WHERE u.phone = $1 AND o.status = 'paid'",
    )
    .bind(phone)
    .fetch_one(app.db.read())
    .await
    .unwrap();
    let (_, form) = me.get_html(&format!("/orders/{first}/refund")).await;
    assert!(unescape(&form).contains("当前会员周期不退"), "the current period is not refunded");
}

async fn members_only_courses_and_member_prices(app: TestApp) {
    sqlx::query("UPDATE courses SET member_rule = 'only' WHERE slug = $1")
        .bind(COURSE)
        .execute(app.db.write())
        .await
        .unwrap();
    sqlx::query("UPDATE courses SET membership_scope = 'selected' WHERE slug = $1")
        .bind(PLAN)
        .execute(app.db.write())
        .await
        .unwrap();
    sqlx::query("UPDATE courses SET member_rule = 'price', member_price_fen = 4900 WHERE slug = 'python-zero-to-one'")
        .execute(app.db.write())
        .await
        .unwrap();
    app.catalog.reload(&app.db).await.unwrap();
    let (_, card_list) = app.get_html("/courses").await;
    assert!(card_list.contains("会员专享") && card_list.contains("会员价"), "cards carry the member badges");

    let me = learner(&app, "13800139003").await;
    let (_, page) = me.get_html(&format!("/courses/{COURSE}")).await;
    assert!(
        page.contains("开通会员") && !page.contains(&format!("/courses/{COURSE}/buy")),
        "members only: join, not buy"
    );
    let forged = me.submit("/me", &format!("/courses/{COURSE}/buy"), &[]).await;
    assert_eq!(location(&forged), format!("/courses/{COURSE}"), "a forged buy sells nothing");

    let full = me.order_for("python-zero-to-one").await;
    let (_, pay) = me.get_html(&format!("/orders/{full}/pay")).await;
    assert!(!pay.contains("¥49.00"), "no member price before joining");
    me.submit(&format!("/orders/{full}"), &format!("/orders/{full}/cancel"), &[]).await;
    me.bought(PLAN).await;
    let lesson = app.first_paid_lesson(COURSE).await;
    assert!(may_learn(&me, COURSE, lesson).await, "a selected plan opens a members-only course");
    let python = app.first_paid_lesson("python-zero-to-one").await;
    assert!(!may_learn(&me, "python-zero-to-one", python).await, "a member-price course is not free");
    let member = me.order_for("python-zero-to-one").await;
    let (_, pay) = me.get_html(&format!("/orders/{member}/pay")).await;
    assert!(pay.contains("¥49.00"), "members pay the member price");
}

async fn slot_ids(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT s.id FROM consultation_slots s JOIN courses c ON c.id = s.course_id WHERE c.slug = $1 ORDER BY s.starts_at",
    )
    .bind(CONSULTATION)
    .fetch_all(app.db.read())
    .await
    .unwrap()
}

async fn slot_order(app: &TestApp, slot: i64) -> Option<i64> {
    sqlx::query_scalar("SELECT order_id FROM consultation_slots WHERE id = $1")
        .bind(slot)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn book(me: &TestApp, slot: i64) -> reqwest::Response {
    let page = format!("/courses/{CONSULTATION}/book");
    me.submit(&page, &page, &[("slot_id", &slot.to_string())]).await
}

/// Books the `n`th open slot of the demo consultation and pays; returns the order number.
pub async fn book_and_pay(me: &TestApp, n: usize) -> String {
    let slot = slot_ids(me).await[n];
    let booked = book(me, slot).await;
    let order_no = location(&booked).trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    me.pay_sandbox(&order_no).await;
    order_no
}

async fn a_consultation_is_booked_moved_and_refunded_by_its_limit(app: TestApp) {
    let slots = slot_ids(&app).await;
    let me = learner(&app, "13800139004").await;
    let (_, page) = me.get_html(&format!("/courses/{CONSULTATION}")).await;
    assert!(page.contains(&format!("/courses/{CONSULTATION}/book")), "the course page books a time");
    let missing = book(&me, 0).await;
    assert_eq!(missing.status(), StatusCode::CONFLICT, "a slot that is not there");
    let empty =
        me.submit(&format!("/courses/{CONSULTATION}/book"), &format!("/courses/{CONSULTATION}/book"), &[]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert!(unescape(&empty.text().await.unwrap()).contains("id=\"slot_id-error\""), "the error sits by the field");

    let booked = book(&me, slots[0]).await;
    let pay = location(&booked);
    let order_no = pay.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    assert!(slot_order(&app, slots[0]).await.is_some(), "held while the order is pending");
    let other = learner(&app, "13800139005").await;
    assert_eq!(book(&other, slots[0]).await.status(), StatusCode::CONFLICT, "a held slot is not offered twice");
    me.pay_sandbox(&order_no).await;
    let (_, order) = me.get_html(&format!("/orders/{order_no}")).await;
    assert!(order.contains("预约时间") && order.contains("改约到其他时间"), "the booking and a way to move it");

    let order_page = format!("/orders/{order_no}");
    let move_to = format!("/orders/{order_no}/reschedule");
    let junk = me.submit(&order_page, &move_to, &[("slot_id", "明天")]).await;
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
    assert!(junk.text().await.unwrap().contains("id=\"slot_id-error\""), "the error by the field");
    let other_booking = book_and_pay(&other, 3).await;
    let taken = me.submit(&order_page, &move_to, &[("slot_id", &slots[3].to_string())]).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT, "a slot someone booked ({other_booking}) cannot be moved to");
    assert!(slot_order(&app, slots[0]).await.is_some(), "and the booking stays where it was");
    let moved = me
        .submit(
            &format!("/orders/{order_no}"),
            &format!("/orders/{order_no}/reschedule"),
            &[("slot_id", &slots[1].to_string())],
        )
        .await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    assert_eq!(slot_order(&app, slots[0]).await, None, "the old slot is free again");
    assert!(slot_order(&app, slots[1]).await.is_some());
    assert_eq!(book(&other, slots[0]).await.status(), StatusCode::SEE_OTHER, "and bookable by someone else");

    // More than 24 hours ahead: a full refund, and the slot is free again.
    let refunded = me.request_refund(&order_no, "quality", vec![]).await;
    assert_eq!(refunded.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.order_status(&order_no).await, "refunded");
    let page = format!("/courses/{CONSULTATION}/book");
    let (_, offered) = me.get_html(&page).await;
    assert!(offered.contains(&format!("value=\"{}\"", slots[1])), "a refunded booking frees its slot");

    // Inside the limit: no refund, and the meeting details show.
    let again = book(&me, slots[2]).await;
    let order_no = location(&again).trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    me.pay_sandbox(&order_no).await;
    sqlx::query("UPDATE consultation_slots SET starts_at = $1 WHERE id = $2")
        .bind(now() + 3600)
        .bind(slots[2])
        .execute(app.db.write())
        .await
        .unwrap();
    let (_, order) = me.get_html(&format!("/orders/{order_no}")).await;
    assert!(order.contains("腾讯会议") && !order.contains("改约到其他时间"), "details near the time; no moving");
    let (_, form) = me.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(unescape(&form).contains("不足 24 小时"), "the real slot time decides");
}

async fn twenty_buyers_race_for_one_slot(app: TestApp) {
    use kedian::domain::Fen;
    use kedian::store::{consultations, orders::NewOrder, users};
    let slot = slot_ids(&app).await[3];
    let course_id = kedian::domain::CourseId(app.course_id(CONSULTATION).await);
    let mut buyers = Vec::new();
    for i in 0..20 {
        let phone = kedian::domain::phone::Phone::parse(&format!("1390000{i:04}")).unwrap();
        buyers.push(
            users::create(&app.db, &phone, "买家", None, kedian::domain::staff::Role::Learner, now()).await.unwrap().id,
        );
    }
    let races = buyers.into_iter().map(|user_id| {
        let db = app.db.clone();
        tokio::spawn(async move {
            let new = NewOrder {
                user_id,
                course_id,
                title: "一对一职业规划咨询",
                kind: "consultation",
                price: Fen(50000),
                refund_terms: Default::default(),
                refund_terms_shown: "",
                ttl_secs: 1800,
                gift_copies: 0,
                gift_sender: "",
                cohort_id: None,
            };
            consultations::order_with_slot(&db, &new, kedian::domain::SlotId(slot), now(), now())
                .await
                .unwrap()
                .is_some()
        })
    });
    let won = futures_util::future::join_all(races).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1, "one booking");
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE item_kind = 'consultation'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(orders, 1, "the others left no order behind");
}

/// The same race through the site: twenty signed-in buyers press 预约并付款 on one slot at once.
async fn twenty_browsers_race_for_one_slot(app: TestApp) {
    let slot = slot_ids(&app).await[5];
    let mut buyers = Vec::new();
    for i in 0..20 {
        buyers.push(learner(&app, &format!("1370000{i:04}")).await);
    }
    let page = format!("/courses/{CONSULTATION}/book");
    let presses = buyers.iter().map(|b| {
        let (page, slot) = (page.clone(), slot.to_string());
        async move { b.submit(&page, &page, &[("slot_id", &slot)]).await.status() }
    });
    let answers = futures_util::future::join_all(presses).await;
    let won = answers.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    let refused = answers.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((won, refused), (1, 19), "one booking; everyone else is told the time was taken: {answers:?}");
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE item_kind = 'consultation'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(orders, 1, "the refused presses left no order behind");
}

async fn unread_of_kind(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM user_messages WHERE kind = $1")
        .bind(kind)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn reminders_go_out_once(app: TestApp) {
    let leads = kedian::jobs::reminders::Leads { membership_days: 7, event_secs: 3600 };
    let phone = "13800139006";
    let me = learner(&app, phone).await;
    let live = me.bought("short-video-bootcamp").await;
    me.bought(PLAN).await;
    let slots = slot_ids(&app).await;
    let booked = book(&me, slots[4]).await;
    let consult = location(&booked).trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    me.pay_sandbox(&consult).await;
    sqlx::query("UPDATE users SET sms_reminders = 0").execute(app.db.write()).await.unwrap();
    let agreed = me.submit("/me", "/me/reminders", &[("receive", "1")]).await;
    assert_eq!(agreed.status(), StatusCode::SEE_OTHER);

    // Time passes until three days before the membership ends.
    let (_, end) = terms(&app, phone).await[0];
    shift_terms(&app, phone, -(end - now()) + 3 * DAY).await;
    let at = now();
    let session: i64 = sqlx::query_scalar(
        "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = 'short-video-bootcamp' AND l.starts_at IS NOT NULL ORDER BY l.starts_at LIMIT 1",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    for (table, id) in [("lessons", session), ("consultation_slots", slots[4])] {
        sqlx::query(&format!("UPDATE {table} SET starts_at = $1 WHERE id = $2"))
            .bind(at + 1800)
            .bind(id)
            .execute(app.db.write())
            .await
            .unwrap();
    }
    app.catalog.reload(&app.db).await.unwrap();
    // A member who never bought the live course is reminded too: their membership opens it.
    let member = learner(&app, "13800139011").await;
    member.bought(PLAN).await;
    shift_terms(&app, "13800139011", -(end - now()) + 13 * DAY).await;
    let first = kedian::jobs::reminders::run_once(&app.db, &app.catalog, leads, at).await.unwrap();
    let second = kedian::jobs::reminders::run_once(&app.db, &app.catalog, leads, at).await.unwrap();
    assert_eq!(
        (first, second),
        (4, 0),
        "membership, live session (buyer and member) and consultation, once each ({live})"
    );
    for (kind, n) in [("membership_ending", 1), ("live_starting", 2), ("consultation_starting", 1)] {
        assert_eq!(unread_of_kind(&app, kind).await, n, "{kind}");
    }
    let (_, messages) = me.get_html("/me/messages").await;
    assert!(messages.contains("会员将于") && messages.contains("直播") && messages.contains("会议信息见订单"));
    app.deliver_texts().await;
    let texts = app.sms.sent.lock().unwrap().iter().filter(|(_, text)| text.contains("提醒")).count();
    assert_eq!(texts, 3, "by text too, as the learner agreed; not to the member who did not");
}

async fn reviews_need_study_and_pass_the_filter(app: TestApp) {
    let me = learner(&app, "13800139007").await;
    let page = format!("/courses/{COURSE}/review");
    let (_, form) = me.get_html(&page).await;
    assert!(form.contains("购买课程后才能评价"));
    me.bought(COURSE).await;
    let early = me.submit_multipart("/me", &page, &[("stars", "5"), ("body", "很好")], vec![]).await;
    assert_eq!(early.status(), StatusCode::FORBIDDEN, "not studied enough yet");
    crate::stats::finish_course(&app, &me, COURSE).await;
    let bad = me.submit_multipart(&page, &page, &[("stars", "6"), ("body", "")], vec![]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = unescape(&bad.text().await.unwrap());
    assert!(html.contains("id=\"stars-error\"") && html.contains("id=\"body-error\""), "errors by their fields");
    for (i, stars) in ["4", "5"].iter().enumerate() {
        let body = format!("讲得清楚，第 {i} 版");
        let photos = if i == 1 { vec![("photos", "截图.png", photo_png())] } else { vec![] };
        let saved = me.submit_multipart(&page, &page, &[("stars", stars), ("body", &body)], photos).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reviews").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(count, 1, "one review per buyer and course, edited");
    let not_a_picture = me
        .submit_multipart(
            &page,
            &page,
            &[("stars", "5"), ("body", "再改一次")],
            vec![("photos", "x.png", b"not a picture".to_vec())],
        )
        .await;
    assert_eq!(not_a_picture.status(), StatusCode::BAD_REQUEST);
    assert!(not_a_picture.text().await.unwrap().contains("id=\"photos-error\""), "a bad file is refused by its field");
    // A 60-megapixel PNG (a few hundred bytes that claim 7746×7746) is refused from its header.
    let huge = me
        .submit_multipart(
            &page,
            &page,
            &[("stars", "5"), ("body", "再改一次")],
            vec![("photos", "大图.png", png_claiming(7746, 7746))],
        )
        .await;
    assert_eq!(huge.status(), StatusCode::BAD_REQUEST);
    let html = huge.text().await.unwrap();
    assert!(html.contains("id=\"photos-error\"") && html.contains("图片太大"), "said beside the field");
    let (_, with_photos) = app.get_html(&format!("/courses/{COURSE}?reviews=photos")).await;
    let photo = with_photos
        .split("<img src=\"/reviews/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|p| format!("/reviews/{p}"));
    let photo = photo.expect("the 有图 filter lists the review with its photo");
    let served = app.get(&photo).await;
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    let bytes = served.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "kept as a re-encoded JPEG, not the file as sent");
    let (_, course) = app.get_html(&format!("/courses/{COURSE}?reviews=highest")).await;
    assert!(course.contains("第 1 版") && course.contains("1 条评价"), "listed on the course page");
    assert!(!course.contains("★ 5.0"), "no average below three reviews");

    let staff = app.staff().await;
    let held_word =
        staff.submit("/admin/content", "/admin/content/keywords", &[("word", "加微信"), ("action", "hold")]).await;
    assert_eq!(held_word.status(), StatusCode::SEE_OTHER);
    let other = learner(&app, "13800139008").await;
    other.bought(COURSE).await;
    crate::stats::finish_course(&app, &other, COURSE).await;
    let held = other.submit_multipart(&page, &page, &[("stars", "1"), ("body", "加微信领资料")], vec![]).await;
    assert_eq!(held.status(), StatusCode::SEE_OTHER);
    let (_, course) = app.get_html(&format!("/courses/{COURSE}?reviews=newest")).await;
    assert!(!course.contains("领资料"), "a held review waits for staff");
    let (_, held_queue) = staff.get_html("/admin/content").await;
    assert!(held_queue.contains("评价") && !held_queue.contains(">review<"), "the queue names a held review in words");

    let review: i64 = sqlx::query_scalar("SELECT id FROM reviews WHERE body = '讲得清楚，第 1 版'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let reported = other.submit(&format!("/courses/{COURSE}"), &format!("/reviews/{review}/report"), &[]).await;
    assert_eq!(reported.status(), StatusCode::SEE_OTHER);
    let (_, queue) = staff.get_html("/admin/reviews").await;
    assert!(queue.contains("1 次举报") && queue.contains("待审核"), "staff see reports and held reviews");
    let too_long = "长".repeat(501);
    let refused = staff
        .submit("/admin/reviews", &format!("/admin/reviews/{review}"), &[("decision", "reply"), ("reply", &too_long)])
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("id=\"reply-error\""), "the error by the reply");
    let replied = staff
        .submit("/admin/reviews", &format!("/admin/reviews/{review}"), &[("decision", "reply"), ("reply", "谢谢支持")])
        .await;
    assert_eq!(replied.status(), StatusCode::SEE_OTHER);
    let hidden = staff
        .submit("/admin/reviews", &format!("/admin/reviews/{review}"), &[("decision", "hide"), ("reply", "")])
        .await;
    assert_eq!(hidden.status(), StatusCode::SEE_OTHER);
    let (_, course) = app.get_html(&format!("/courses/{COURSE}?reviews=newest&x=1")).await;
    assert!(!course.contains("第 1 版"), "a hidden review is gone from the page");
    assert_eq!(app.get(&photo).await.status(), StatusCode::NOT_FOUND, "and so are its photos");
    assert_eq!(me.get(&photo).await.status(), StatusCode::OK, "except to their author");
    let (_, messages) = me.get_html("/me/messages").await;
    assert!(messages.contains("谢谢支持"), "the author hears the shop's reply");
    let export: serde_json::Value = me.get("/me/privacy/export").await.json().await.unwrap();
    assert_eq!(export["reviews"][0]["body"], "讲得清楚，第 1 版", "a learner's reviews are in their data export");
}

async fn a_live_course_replays_its_sessions_and_refunds_the_ones_not_held(app: TestApp) {
    let slug = "short-video-bootcamp";
    let me = learner(&app, "13800139009").await;
    let order_no = me.bought(slug).await;
    let sessions: Vec<i64> = sqlx::query_scalar(
        "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = $1 AND l.starts_at IS NOT NULL ORDER BY l.starts_at",
    )
    .bind(slug)
    .fetch_all(app.db.read())
    .await
    .unwrap();
    assert!(sessions.len() >= 2, "the demo's live course has sessions");
    let (_, before) = me.get_html(&format!("/courses/{slug}/lessons/{}", sessions[0])).await;
    assert!(!before.contains("<video"), "nothing to play before the session");
    // The first session was held yesterday, and staff attached its recording.
    sqlx::query("UPDATE lessons SET starts_at = $1, media_key = 'demo/video.mp4' WHERE id = $2")
        .bind(now() - DAY)
        .bind(sessions[0])
        .execute(app.db.write())
        .await
        .unwrap();
    app.catalog.reload(&app.db).await.unwrap();
    app.db.lessons_changed();
    let (_, replay) = me.get_html(&format!("/courses/{slug}/lessons/{}", sessions[0])).await;
    assert!(replay.contains("<video"), "the replay plays like a recorded lesson");
    let (_, form) = me.get_html(&format!("/orders/{order_no}/refund")).await;
    let total = sessions.len();
    assert!(unescape(&form).contains(&format!("1/{total}")), "refunded pro rata for the sessions not held");
}

async fn staff_set_plans_member_benefits_and_slots(app: TestApp) {
    let staff = app.staff().await;
    let category: i64 = sqlx::query_scalar("SELECT MIN(id) FROM categories").fetch_one(app.db.read()).await.unwrap();
    let instructor: i64 = sqlx::query_scalar("SELECT MIN(id) FROM instructors").fetch_one(app.db.read()).await.unwrap();
    let (category, instructor) = (category.to_string(), instructor.to_string());
    let course = |slug: &'static str, kind: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let mut fields = vec![
            ("title", "月卡会员"),
            ("slug", slug),
            ("kind", kind),
            ("category_id", category.as_str()),
            ("instructor_id", instructor.as_str()),
            ("price", "30"),
            ("description", "会员期内畅学标注的课程"),
            ("refund_window_days", "7"),
            ("refund_max_consumed_pct", "20"),
        ];
        fields.extend(extra);
        fields
    };
    let new = "/admin/courses/new";
    let plan = course("monthly", "membership", vec![("membership_period", "bogus")]);
    let refused = staff.submit(new, new, &plan).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("id=\"membership_period-error\""), "a period is needed");
    let plan = course("monthly", "membership", vec![("membership_period", "month"), ("membership_scope", "selected")]);
    assert_eq!(staff.submit(new, new, &plan).await.status(), StatusCode::SEE_OTHER);
    let saved: (Option<String>, String) =
        sqlx::query_as("SELECT membership_period, membership_scope FROM courses WHERE slug = 'monthly'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!(saved, (Some("month".to_string()), "selected".to_string()));

    let priced = course("sql-basics", "recorded", vec![("member_rule", "price"), ("member_price", "30")]);
    let refused = staff.submit(new, new, &priced).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(unescape(&refused.text().await.unwrap()).contains("请填写低于现价的会员价"), "the error by the field");
    let priced = course("sql-basics", "recorded", vec![("member_rule", "price"), ("member_price", "19.9")]);
    assert_eq!(staff.submit(new, new, &priced).await.status(), StatusCode::SEE_OTHER);
    let member_price: Option<i64> =
        sqlx::query_scalar("SELECT member_price_fen FROM courses WHERE slug = 'sql-basics'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!(member_price, Some(1990));

    // Slots: one in the past is refused by its field, a time taken twice is refused, a free one
    // is withdrawn, a booked one stays.
    let id = app.course_id(CONSULTATION).await;
    let page = format!("/admin/courses/{id}/slots");
    let past =
        staff.submit(&page, &page, &[("starts_at", "2020-01-01T20:00"), ("minutes", "60"), ("meeting", "")]).await;
    assert_eq!(past.status(), StatusCode::BAD_REQUEST);
    assert!(past.text().await.unwrap().contains("id=\"starts_at-error\""));
    let fields = [("starts_at", "2099-06-01T09:30"), ("minutes", "45"), ("meeting", "腾讯会议 888")];
    assert_eq!(staff.submit(&page, &page, &fields).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(staff.submit(&page, &page, &fields).await.status(), StatusCode::CONFLICT, "one slot per time");
    let added: (i64, i64) = sqlx::query_as("SELECT id, minutes FROM consultation_slots WHERE meeting = '腾讯会议 888'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(added.1, 45);
    let me = learner(&app, "13800139010").await;
    book_and_pay(&me, 0).await;
    let booked = slot_ids(&app).await[0];
    for slot in [added.0, booked] {
        let removed = staff.submit(&page, &format!("{page}/{slot}/delete"), &[]).await;
        assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    }
    let left: Vec<i64> = slot_ids(&app).await;
    assert!(!left.contains(&added.0) && left.contains(&booked), "a free slot is withdrawn, a booked one kept");
}

/// A small picture as a phone would send it.
/// A small PNG whose header claims `width`×`height` (its CRC made right for the new header).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = photo_png();
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = !bytes[12..29].iter().fold(!0u32, |mut c, b| {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        c
    });
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

pub fn photo_png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 160]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn cancelling_a_running_membership_refunds_the_days_left(app: TestApp) {
    let phone = "13800139012";
    let me = learner(&app, phone).await;
    let order_no = me.bought(PLAN).await;
    let (start, end) = terms(&app, phone).await[0];
    assert_eq!(end - start, 365 * DAY, "2026-11-30 to 2027-11-30");
    shift_terms(&app, phone, -73 * DAY).await; // 73 days used
    let lesson = app.first_paid_lesson(COURSE).await;
    assert!(may_learn(&me, COURSE, lesson).await);
    let (_, form) = me.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(unescape(&form).contains("¥558.40") && unescape(&form).contains("剩余的 292 天"), "698 × 292 / 365");
    let refunded = me.request_refund(&order_no, "quality", vec![]).await;
    assert_eq!(refunded.status(), StatusCode::SEE_OTHER);
    let paid_back: i64 = sqlx::query_scalar("SELECT refunded_fen FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(paid_back, 55_840);
    assert!(!may_learn(&me, COURSE, lesson).await, "cancelled: the membership ends with the refund");
    let (_, mine) = me.get_html("/me").await;
    assert!(mine.contains("会员已到期"));
}
