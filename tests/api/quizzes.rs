//! Quizzes and exams (#33): staff build a question bank and set a lesson's quiz and the final
//! exam; a buyer answers (saved as they go), hands in and sees what was right and why; staff
//! grade short answers and see which questions most get wrong. Forged answers, forged scores,
//! late hand-ins and attempts past the limit change nothing.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;

const COURSE: &str = "excel-data-analysis";

on_both_backends!(
    a_quiz_is_answered_graded_and_explained,
    a_timed_exam_closes_at_its_deadline,
    only_a_quiz_nobody_took_can_be_deleted
);

async fn learner(app: &TestApp, phone: &str) -> TestApp {
    let browser = app.another_browser();
    browser.login_by_code(phone).await;
    browser
}

pub(crate) async fn add_question(staff: &TestApp, course: i64, fields: &[(&str, &str)]) -> reqwest::Response {
    let bank = format!("/admin/courses/{course}/quizzes");
    staff.submit(&bank, &format!("/admin/courses/{course}/quiz-questions"), fields).await
}

async fn question_id(app: &TestApp, body: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM quiz_questions WHERE body = $1")
        .bind(body)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn response_of(app: &TestApp, attempt: i64, question: i64) -> String {
    sqlx::query_scalar("SELECT response FROM attempt_answers WHERE attempt_id = $1 AND question_id = $2")
        .bind(attempt)
        .bind(question)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn attempt_row(app: &TestApp, attempt: i64) -> (String, Option<i64>, i64, Option<i64>) {
    sqlx::query_as("SELECT status, score, max_score, passed FROM quiz_attempts WHERE id = $1")
        .bind(attempt)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

fn attempt_of(response: &reqwest::Response) -> i64 {
    let to = location(response);
    to.strip_prefix("/attempts/").and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("not an attempt: {to}"))
}

async fn a_quiz_is_answered_graded_and_explained(app: TestApp) {
    let course = app.course_id(COURSE).await;
    let lesson = app.first_paid_lesson(COURSE).await;
    let lesson_text = lesson.to_string();
    let staff = app.staff().await;

    // Staff's mistakes are said beside their field and store nothing.
    let bad_key = add_question(
        &staff,
        course,
        &[
            ("kind", "single"),
            ("lesson", &lesson_text),
            ("body", "哪个是绝对引用？"),
            ("choices", "A1\n$A$1"),
            ("key", "C"),
            ("points", "1"),
        ],
    )
    .await;
    assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);
    assert!(bad_key.text().await.unwrap().contains("id=\"key-error\""));
    let other_course_lesson = app.first_paid_lesson("python-zero-to-one").await.to_string();
    let foreign = add_question(
        &staff,
        course,
        &[("kind", "short"), ("lesson", &other_course_lesson), ("body", "别的课"), ("points", "1")],
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert!(foreign.text().await.unwrap().contains("id=\"lesson-error\""));
    assert_eq!(app.count("quiz_questions").await, 0);

    let questions: [&[(&str, &str)]; 5] = [
        &[
            ("kind", "single"),
            ("body", "哪个是绝对引用？"),
            ("choices", "A1\n$A$1\nA$1"),
            ("key", "B"),
            ("explanation", "行列都锁定才是绝对引用"),
        ],
        &[
            ("kind", "multiple"),
            ("body", "哪些函数能查找？"),
            ("choices", "VLOOKUP\nSUM\nXLOOKUP"),
            ("key", "AC"),
            ("explanation", "SUM 只求和"),
        ],
        &[("kind", "truefalse"), ("body", "数据透视表会改动原始数据。"), ("key", "错")],
        &[("kind", "blank"), ("body", "若 $x^2 = 4$ 且 x > 0，则 x 等于几？"), ("key", "2\n二")],
        &[("kind", "short"), ("body", "说说你会怎样整理一张乱表。"), ("points", "2")],
    ];
    for fields in questions {
        let mut fields = fields.to_vec();
        fields.push(("lesson", &lesson_text));
        if !fields.iter().any(|(k, _)| *k == "points") {
            fields.push(("points", "1"));
        }
        let added = add_question(&staff, course, &fields).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER, "{fields:?}");
    }
    let bank = format!("/admin/courses/{course}/quizzes");
    let settings = |pass| {
        [("quiz_lesson", lesson_text.as_str()), ("title", "第一节小测"), ("pass_percent", pass), ("max_attempts", "2")]
    };
    let refused = staff.submit(&bank, &bank, &settings("101")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("id=\"pass_percent-error\""));
    assert_eq!(app.count("quizzes").await, 0);
    assert_eq!(staff.submit(&bank, &bank, &settings("60")).await.status(), StatusCode::SEE_OTHER);
    let quiz: i64 = sqlx::query_scalar("SELECT id FROM quizzes").fetch_one(app.db.read()).await.unwrap();
    let quiz_page = format!("/quizzes/{quiz}");

    // Not bought: refused, and a forged start makes no attempt.
    let buyer = learner(&app, "13800139401").await;
    let (status, page) = buyer.get_html(&quiz_page).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("购买课程后才能参加"));
    let forged_start = buyer.submit(&format!("/courses/{COURSE}"), &format!("{quiz_page}/attempts"), &[]).await;
    assert_eq!(forged_start.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("quiz_attempts").await, 0);

    buyer.bought(COURSE).await;
    let (_, lesson_page) = buyer.get_html(&format!("/courses/{COURSE}/lessons/{lesson}")).await;
    assert!(lesson_page.contains(&format!("href=\"{quiz_page}\"")), "the lesson links its quiz");
    let (status, page) = buyer.get_html(&quiz_page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("5 题") && page.contains("还可作答 2 次"), "{page}");
    let started = buyer.submit(&quiz_page, &format!("{quiz_page}/attempts"), &[]).await;
    let attempt = attempt_of(&started);
    let at = format!("/attempts/{attempt}");
    // Starting again (from a tab opened earlier) resumes the open attempt.
    assert_eq!(attempt_of(&buyer.submit("/me", &format!("{quiz_page}/attempts"), &[]).await), attempt);

    let (status, form) = buyer.get_html(&at).await;
    assert_eq!(status, StatusCode::OK);
    let form = unescape(&form);
    assert!(form.contains("<math") && form.contains("哪个是绝对引用？"), "formulas as MathML");
    for secret in ["行列都锁定", "SUM 只求和", "正确答案"] {
        assert!(!form.contains(secret), "the form carries no key or explanation: {secret}");
    }

    let single = question_id(&app, "哪个是绝对引用？").await;
    let multiple = question_id(&app, "哪些函数能查找？").await;
    let truth = question_id(&app, "数据透视表会改动原始数据。").await;
    let blank = question_id(&app, "若 $x^2 = 4$ 且 x > 0，则 x 等于几？").await;
    let short = question_id(&app, "说说你会怎样整理一张乱表。").await;
    let (q_single, q_multiple, q_truth, q_blank, q_short) =
        (format!("q{single}"), format!("q{multiple}"), format!("q{truth}"), format!("q{blank}"), format!("q{short}"));

    // Saved as the learner goes (the page's script posts `autosave`).
    let saved = buyer.submit(&at, &at, &[(&q_single, "1"), ("autosave", "1")]).await;
    assert_eq!(saved.status(), StatusCode::NO_CONTENT);
    assert_eq!(response_of(&app, attempt, single).await, "1");

    // A question not in the attempt, or a choice the question lacks: refused, nothing saved.
    let forged = buyer.submit(&at, &at, &[(&q_single, "0"), ("q999999", "0")]).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(forged.text().await.unwrap().contains("不属于这次作答"));
    let no_choice = buyer.submit(&at, &at, &[(&q_single, "7"), (&q_truth, "false")]).await;
    assert_eq!(no_choice.status(), StatusCode::BAD_REQUEST);
    assert!(no_choice.text().await.unwrap().contains(&format!("id=\"q{single}-error\"")));
    assert_eq!(response_of(&app, attempt, single).await, "1");
    assert_eq!(response_of(&app, attempt, truth).await, "");

    // Handed in with a forged score: graded on the server alone.
    let handed = buyer
        .submit(
            &at,
            &at,
            &[
                (&q_single, "1"),
                (&q_multiple, "0"),
                (&q_truth, "false"),
                (&q_blank, "２"),
                (&q_short, "先删空行，再统一格式"),
                ("score", "100"),
                ("submit", "1"),
            ],
        )
        .await;
    assert_eq!(location(&handed), at);
    assert_eq!(attempt_row(&app, attempt).await, ("pending".into(), Some(3), 6, None), "3 of 4 objective points");
    let (_, result) = buyer.get_html(&at).await;
    let result = unescape(&result);
    assert!(result.contains("待老师批改") && result.contains("行列都锁定才是绝对引用") && result.contains("正确答案"));

    // Handed in: a later post changes nothing.
    let again = buyer.submit("/me", &at, &[(&q_single, "0"), ("submit", "1")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("已经交卷"));
    assert_eq!(response_of(&app, attempt, single).await, "1");

    // Another learner cannot see or answer it.
    let other = learner(&app, "13800139402").await;
    other.bought(COURSE).await;
    assert_eq!(other.get(&at).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(other.submit(&quiz_page, &at, &[(&q_single, "0")]).await.status(), StatusCode::NOT_FOUND);

    // Staff grade the short answer; the multiple choice tops the wrong list.
    let results = format!("/admin/quizzes/{quiz}");
    let (_, page) = staff.get_html(&results).await;
    assert!(page.contains("先删空行，再统一格式") && page.contains("待批改的简答题（1）"));
    let grade = format!("/admin/attempts/{attempt}/grade");
    let short_text = short.to_string();
    let over = staff.submit(&results, &grade, &[("question", &short_text), ("points", "3")]).await;
    assert_eq!(over.status(), StatusCode::BAD_REQUEST);
    assert!(over.text().await.unwrap().contains("得分是 0 到 2 之间的整数"));
    let graded = staff.submit(&results, &grade, &[("question", &short_text), ("points", "2")]).await;
    assert_eq!(graded.status(), StatusCode::SEE_OTHER);
    assert_eq!(attempt_row(&app, attempt).await, ("graded".into(), Some(5), 6, Some(1)), "5/6 passes 60%");
    let twice = staff.submit(&results, &grade, &[("question", &short_text), ("points", "0")]).await;
    assert_eq!(twice.status(), StatusCode::NOT_FOUND, "graded once");
    let (_, page) = staff.get_html(&results).await;
    let by_question = &page[page.find("各题情况").unwrap()..];
    let first_row = by_question.find("<tbody>").map(|i| &by_question[i..]).unwrap();
    assert!(
        first_row.contains("哪些函数能查找？")
            && first_row.find("哪些函数能查找？") < first_row.find("哪个是绝对引用？")
    );
    let (_, result) = buyer.get_html(&at).await;
    assert!(result.contains("已通过") && result.contains("5</strong> / 6"), "{result}");
    let told: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_messages WHERE kind = 'quiz_graded' AND link = $1")
        .bind(&at)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(told, 1, "the learner is told the final score");
    let (_, page) = staff.get_html(&results).await;
    assert!(page.contains("1 人参加，交卷 1 次，通过 1 次"), "the results' summary");
    let (_, editing) = staff.get_html(&format!("{bank}?quiz={quiz}")).await;
    assert!(
        editing.contains("value=\"第一节小测\"") && editing.contains(&format!("<option value=\"{lesson}\" selected"))
    );

    // The second and last attempt; then no more.
    let second = attempt_of(&buyer.submit(&quiz_page, &format!("{quiz_page}/attempts"), &[]).await);
    assert_ne!(second, attempt);
    let second_at = format!("/attempts/{second}");
    buyer.submit(&second_at, &second_at, &[("submit", "1")]).await;
    assert_eq!(attempt_row(&app, second).await.0, "pending", "a short answer waits for staff even when empty");
    let third = buyer.submit("/me", &format!("{quiz_page}/attempts"), &[]).await;
    assert_eq!(third.status(), StatusCode::CONFLICT);
    assert!(third.text().await.unwrap().contains("作答次数已用完"));
    assert_eq!(app.count("quiz_attempts").await, 2);

    // A lesson that opens later: its quiz waits for it too.
    let scheduled = crate::learning::schedule(&staff, kedian::domain::LessonId(lesson), "5", "").await;
    assert_eq!(scheduled.status(), StatusCode::SEE_OTHER);
    let classmate = learner(&app, "13800139404").await;
    classmate.bought(COURSE).await;
    let (status, page) = classmate.get_html(&quiz_page).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("本节解锁后才能参加"));
    let refused = classmate.submit("/me", &format!("{quiz_page}/attempts"), &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("quiz_attempts").await, 2);
}

async fn a_timed_exam_closes_at_its_deadline(app: TestApp) {
    let course = app.course_id(COURSE).await;
    let staff = app.staff().await;
    for (body, key) in [("Excel 的文件扩展名是？", "xlsx\n.xlsx"), ("求和函数叫什么？", "SUM")] {
        let added =
            add_question(&staff, course, &[("kind", "blank"), ("body", body), ("key", key), ("points", "1")]).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
    }
    let bank = format!("/admin/courses/{course}/quizzes");
    let exam = [
        ("quiz_lesson", ""),
        ("title", "结业考试"),
        ("draw_count", "1"),
        ("time_limit", "10"),
        ("pass_percent", "100"),
    ];
    assert_eq!(staff.submit(&bank, &bank, &exam).await.status(), StatusCode::SEE_OTHER);
    let quiz: i64 = sqlx::query_scalar("SELECT id FROM quizzes").fetch_one(app.db.read()).await.unwrap();

    let buyer = learner(&app, "13800139403").await;
    buyer.bought(COURSE).await;
    let (_, course_page) = buyer.get_html(&format!("/courses/{COURSE}")).await;
    assert!(course_page.contains(&format!("href=\"/quizzes/{quiz}\"")), "the course page links its exam");
    let quiz_page = format!("/quizzes/{quiz}");
    let (_, page) = buyer.get_html(&quiz_page).await;
    assert!(page.contains("10 分钟") && page.contains("1 题"), "{page}");
    let attempt = attempt_of(&buyer.submit(&quiz_page, &format!("{quiz_page}/attempts"), &[]).await);
    let at = format!("/attempts/{attempt}");
    let drawn: Vec<i64> = sqlx::query_scalar("SELECT question_id FROM attempt_answers WHERE attempt_id = $1")
        .bind(attempt)
        .fetch_all(app.db.read())
        .await
        .unwrap();
    assert_eq!(drawn.len(), 1, "one question drawn");
    let field = format!("q{}", drawn[0]);
    let (_, form) = buyer.get_html(&at).await;
    assert!(form.contains("data-until="), "the time left is shown");
    assert_eq!(buyer.submit(&at, &at, &[(&field, "SUM"), ("autosave", "1")]).await.status(), StatusCode::NO_CONTENT);

    // Eleven minutes pass (the attempt's clock moved back, past the grace for a tap in flight).
    sqlx::query("UPDATE quiz_attempts SET started_at = started_at - 660, deadline = deadline - 660 WHERE id = $1")
        .bind(attempt)
        .execute(app.db.write())
        .await
        .unwrap();
    // Sent from the page loaded before time ran out (its token taken from 我的: the attempt's own
    // page would show the closed result now).
    let late = buyer.submit("/me", &at, &[(&field, "xlsx"), ("submit", "1")]).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    assert!(late.text().await.unwrap().contains("作答时间已到"));
    assert_eq!(response_of(&app, attempt, drawn[0]).await, "SUM", "the late answer changed nothing");
    let (status, _, _, _) = attempt_row(&app, attempt).await;
    assert_eq!(status, "graded", "closed with what was saved in time");
    let (_, result) = buyer.get_html(&at).await;
    assert!(result.contains("正确答案") || result.contains("正确"), "the result is shown");
}

async fn only_a_quiz_nobody_took_can_be_deleted(app: TestApp) {
    let course = app.course_id(COURSE).await;
    let lessons: Vec<String> = app
        .catalog
        .snapshot()
        .course(COURSE)
        .unwrap()
        .lessons()
        .filter(|l| !l.free_preview)
        .take(2)
        .map(|l| l.id.to_string())
        .collect();
    let staff = app.staff().await;
    let bank = format!("/admin/courses/{course}/quizzes");
    for (lesson, body) in [(&lessons[0], "第一节的题"), (&lessons[1], "第二节的题")] {
        let fields = [("kind", "blank"), ("lesson", lesson.as_str()), ("body", body), ("key", "SUM"), ("points", "1")];
        assert_eq!(add_question(&staff, course, &fields).await.status(), StatusCode::SEE_OTHER);
        let quiz = [("quiz_lesson", lesson.as_str()), ("title", body), ("pass_percent", "60")];
        assert_eq!(staff.submit(&bank, &bank, &quiz).await.status(), StatusCode::SEE_OTHER);
    }
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM quizzes ORDER BY id").fetch_all(app.db.read()).await.unwrap();
    let (taken, untouched) = (ids[0], ids[1]);
    let buyer = learner(&app, "13800139404").await;
    buyer.bought(COURSE).await;
    let quiz_page = format!("/quizzes/{taken}");
    buyer.submit(&quiz_page, &format!("{quiz_page}/attempts"), &[]).await;

    let (_, results) = staff.get_html(&format!("/admin/quizzes/{taken}")).await;
    assert!(!results.contains("/delete\""), "no delete button once someone took it");
    let refused = staff.submit("/admin", &format!("/admin/quizzes/{taken}/delete"), &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("已经有学员作答过这个测验，不能删除"));
    let page = format!("/admin/quizzes/{untouched}");
    let stale = app.catalog.snapshot().quiz(kedian::domain::QuizId(untouched)).unwrap().1.clone();
    let deleted = staff.submit(&page, &format!("{page}/delete"), &[]).await;
    assert_eq!(location(&deleted), bank);
    assert_eq!(app.count("quizzes").await, 1);
    assert_eq!(app.count("quiz_questions").await, 2, "its question stays in the bank");
    let (_, lesson_page) = buyer.get_html(&format!("/courses/{COURSE}/lessons/{}", lessons[1])).await;
    assert!(!lesson_page.contains(&format!("/quizzes/{untouched}")), "the lesson no longer links it");
    assert_eq!(buyer.get(&page.replace("/admin", "")).await.status(), StatusCode::NOT_FOUND);
    // A start that read the quiz just before it went (a catalog copy not yet reloaded) is refused.
    let user: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13800139404'").fetch_one(app.db.read()).await.unwrap();
    let started = kedian::store::quizzes::start(
        &app.db,
        kedian::domain::CourseId(course),
        &stale,
        kedian::domain::UserId(user),
        kedian::domain::time::now(),
    )
    .await
    .unwrap();
    assert_eq!(started, Err(kedian::store::quizzes::StartRefused::Deleted));
}
