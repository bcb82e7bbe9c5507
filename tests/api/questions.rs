//! Questions under lessons (问答) and learners' notes (#33): asked and answered by buyers and
//! staff, the asker told, the best answer picked, held and hidden posts; notes at a moment of the
//! media, private to their author; nothing for anyone who may not learn the course.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;

const COURSE: &str = "excel-data-analysis";

on_both_backends!(questions_are_answered_and_the_asker_told, notes_sit_at_a_moment_and_stay_private);

async fn learner(app: &TestApp, phone: &str) -> TestApp {
    let browser = app.another_browser();
    browser.login_by_code(phone).await;
    browser
}

async fn messages_of(app: &TestApp, phone: &str, kind: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_messages m JOIN users u ON u.id = m.user_id WHERE u.phone = $1 AND m.kind = $2",
    )
    .bind(phone)
    .bind(kind)
    .fetch_one(app.db.read())
    .await
    .unwrap()
}

async fn questions_are_answered_and_the_asker_told(app: TestApp) {
    let lesson = app.first_paid_lesson(COURSE).await;
    let page = format!("/courses/{COURSE}/lessons/{lesson}/questions");
    let asker = learner(&app, "13800139301").await;

    // Not bought: told so, and a forged post changes nothing.
    let (status, locked) = asker.get_html(&page).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(locked.contains("购买这门课后") && locked.contains(&format!("href=\"/courses/{COURSE}\"")));
    let (_, lesson_page) = asker.get_html(&format!("/courses/{COURSE}/lessons/{lesson}")).await;
    assert!(!lesson_page.contains(&page), "no way in from a locked lesson");
    let forged = asker.submit(&format!("/courses/{COURSE}"), &page, &[("body", "能便宜点吗")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("lesson_questions").await, 0);

    asker.bought(COURSE).await;
    let (_, lesson_page) = asker.get_html(&format!("/courses/{COURSE}/lessons/{lesson}")).await;
    assert!(lesson_page.contains(&page), "the lesson links its questions");
    let empty = asker.submit(&page, &page, &[("body", "  ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert!(empty.text().await.unwrap().contains("id=\"question-error\""));
    let long = asker.submit(&page, &page, &[("body", &"问".repeat(1001))]).await;
    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
    assert!(long.text().await.unwrap().contains("最多 1000 个字"));
    assert_eq!(app.count("lesson_questions").await, 0);

    let asked = asker.submit(&page, &page, &[("body", "为什么这里要用绝对引用 $A$1？")]).await;
    let at_question = location(&asked);
    assert!(at_question.starts_with(&format!("{page}#question-")), "{at_question}");
    let question: i64 = at_question.rsplit('-').next().unwrap().parse().unwrap();

    // Another buyer sees it and answers; the asker is told on the site (and by text, having agreed).
    let agreed = asker.submit("/me", "/me/reminders", &[("receive", "1")]).await;
    assert_eq!(agreed.status(), StatusCode::SEE_OTHER);
    let classmate = learner(&app, "13800139302").await;
    classmate.bought(COURSE).await;
    let (_, theirs) = classmate.get_html(&page).await;
    assert!(unescape(&theirs).contains("为什么这里要用绝对引用 $A$1？"));
    let answers = format!("/questions/{question}/answers");
    let blank = classmate.submit(&page, &answers, &[("body", "")]).await;
    assert_eq!(blank.status(), StatusCode::BAD_REQUEST);
    assert!(blank.text().await.unwrap().contains("id=\"answer-error\""), "the error beside that answer's form");
    let answered = classmate.submit(&page, &answers, &[("body", "拖动公式时 $A$1 不会跟着变")]).await;
    assert_eq!(location(&answered), at_question);
    assert_eq!(messages_of(&app, "13800139301", "question_answered").await, 1);
    let (_, inbox) = asker.get_html("/me/messages").await;
    assert!(inbox.contains("下的提问有了新回答"), "the message says what happened");
    app.deliver_texts().await;
    let texted = app
        .sms
        .sent
        .lock()
        .unwrap()
        .iter()
        .any(|(phone, text)| phone == "13800139301" && text.contains("提问有了新回答"));
    assert!(texted, "a reminder by text, as the asker agreed");
    // Answering one's own question tells nobody.
    asker.submit(&page, &answers, &[("body", "明白了，谢谢")]).await;
    assert_eq!(messages_of(&app, "13800139301", "question_answered").await, 1);

    // Staff answer from the back office with a badge; the asker hears of it.
    let staff = app.staff().await;
    let (_, queue) = staff.get_html("/admin/questions").await;
    assert!(unescape(&queue).contains("绝对引用 $A$1") && queue.contains("等待老师回答"));
    let staff_answer = format!("/admin/questions/{question}/answer");
    let refused = staff.submit("/admin/questions", &staff_answer, &[("body", " ")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let sent = staff.submit("/admin/questions", &staff_answer, &[("body", "对，锁定行和列；只锁行写 A$1")]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(messages_of(&app, "13800139301", "question_answered").await, 2);
    let (_, queue) = staff.get_html("/admin/questions").await;
    assert!(queue.contains("老师已回答"));
    let (_, seen) = asker.get_html(&page).await;
    assert!(seen.contains("badge staff") && unescape(&seen).contains("只锁行写 A$1"), "{seen}");

    // Only the asker (or staff) picks the best answer; it then comes first.
    let best_id: i64 = sqlx::query_scalar("SELECT id FROM lesson_answers WHERE body LIKE '拖动公式%'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let not_theirs = classmate.submit(&page, &format!("/answers/{best_id}/best"), &[]).await;
    assert_eq!(not_theirs.status(), StatusCode::FORBIDDEN);
    let picked = asker.submit(&page, &format!("/answers/{best_id}/best"), &[]).await;
    assert_eq!(picked.status(), StatusCode::SEE_OTHER);
    let (_, seen) = asker.get_html(&page).await;
    let first_answer = seen.find("<li id=\"answer-").unwrap();
    assert!(
        seen[first_answer..].starts_with(&format!("<li id=\"answer-{best_id}\" class=\"answer best\"")),
        "the best answer first"
    );
    assert!(seen.contains("最佳回答"));

    // Staff hide an answer: gone from the page and no longer the best.
    let hidden =
        staff.submit("/admin/questions", &format!("/admin/answers/{best_id}/status"), &[("decision", "hide")]).await;
    assert_eq!(hidden.status(), StatusCode::SEE_OTHER);
    let (_, seen) = classmate.get_html(&page).await;
    assert!(!seen.contains("拖动公式时") && !seen.contains("answer best"));
    let forged = classmate.submit(&page, &format!("/answers/{best_id}/best"), &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // A question with a held word waits for staff: its author sees it, others do not.
    staff.submit("/admin/content", "/admin/content/keywords", &[("word", "加微信"), ("action", "hold")]).await;
    let held = classmate.submit(&page, &page, &[("body", "加微信发我表格模板？")]).await;
    assert_eq!(held.status(), StatusCode::SEE_OTHER);
    let (_, own) = classmate.get_html(&page).await;
    assert!(own.contains("表格模板") && own.contains("待审核"));
    let (_, others) = asker.get_html(&page).await;
    assert!(!others.contains("表格模板"));
    let held_id: i64 = sqlx::query_scalar("SELECT id FROM lesson_questions WHERE status = 'held'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let answer_held = asker.submit(&page, &format!("/questions/{held_id}/answers"), &[("body", "我也想要")]).await;
    assert_eq!(answer_held.status(), StatusCode::NOT_FOUND, "a held question cannot be answered by others");
    let (_, moderation) = staff.get_html("/admin/content").await;
    assert!(moderation.contains("课程提问"));
    let item: i64 = sqlx::query_scalar("SELECT id FROM moderation_items WHERE kind = 'question'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let approved =
        staff.submit("/admin/content", &format!("/admin/content/items/{item}"), &[("decision", "approve")]).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let (_, others) = asker.get_html(&page).await;
    assert!(others.contains("表格模板"), "shown once approved");

    // An answer the filter held tells the asker once staff approve it.
    let told = messages_of(&app, "13800139302", "question_answered").await;
    let held_answer = asker.submit(&page, &format!("/questions/{held_id}/answers"), &[("body", "加微信发你")]).await;
    assert_eq!(held_answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(messages_of(&app, "13800139302", "question_answered").await, told, "not while held");
    let item: i64 = sqlx::query_scalar("SELECT id FROM moderation_items WHERE kind = 'answer'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    staff.submit("/admin/content", &format!("/admin/content/items/{item}"), &[("decision", "approve")]).await;
    assert_eq!(messages_of(&app, "13800139302", "question_answered").await, told + 1, "told once shown");

    // Staff hide the whole question.
    staff.submit("/admin/questions", &format!("/admin/questions/{held_id}/status"), &[("decision", "hide")]).await;
    let (_, others) = asker.get_html(&page).await;
    assert!(!others.contains("表格模板"));
}

async fn notes_sit_at_a_moment_and_stay_private(app: TestApp) {
    let lesson = app.first_paid_lesson(COURSE).await;
    let duration: i64 = sqlx::query_scalar("SELECT duration_secs FROM lessons WHERE id = $1")
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert!(duration > 65, "the demo lesson is long enough for this test");
    let lesson_url = format!("/courses/{COURSE}/lessons/{lesson}");
    let notes = format!("{lesson_url}/notes");
    let me = learner(&app, "13800139311").await;
    let refused = me.submit("/me", &notes, &[("at", "1:05"), ("body", "要点")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "not bought");
    me.bought(COURSE).await;

    let (_, page) = me.get_html(&lesson_url).await;
    assert!(
        page.contains("data-note-at") && page.contains(&format!("action=\"{notes}\"")),
        "the note form under the player"
    );
    for (at, body, field) in
        [("1:75", "要点", "at"), (&format!("{}", duration + 1), "要点", "at"), ("1:05", "", "note")]
    {
        let bad = me.submit(&lesson_url, &notes, &[("at", at), ("body", body), ("back", "lesson")]).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{at} {body}");
        assert!(bad.text().await.unwrap().contains(&format!("id=\"{field}-error\"")), "{at} {body}");
    }
    assert_eq!(app.count("learner_notes").await, 0);

    let saved = me
        .submit(&lesson_url, &notes, &[("at", "1:05"), ("body", "VLOOKUP 第四个参数写 FALSE"), ("back", "lesson")])
        .await;
    assert_eq!(location(&saved), format!("{lesson_url}?t=65#note-form"), "back to the player at the note");
    let (_, page) = me.get_html(&format!("{lesson_url}?t=65")).await;
    assert!(page.contains("data-resume=\"65\""), "the player opens at the note's moment");
    let (_, page) = me.get_html(&format!("{lesson_url}?t=99999")).await;
    assert!(!page.contains("data-resume=\"99999\""), "a moment past the end is ignored");
    me.submit(&lesson_url, &notes, &[("at", ""), ("body", "开头先讲了数据源")]).await;

    let (_, all) = me.get_html("/me/notes").await;
    assert!(
        all.contains("VLOOKUP 第四个参数写 FALSE")
            && all.contains(&format!("{lesson_url}?t=65"))
            && all.contains(">1:05<")
    );
    assert!(all.find("开头先讲了数据源").unwrap() < all.find("VLOOKUP 第四个").unwrap(), "in the order of the media");

    let classmate = learner(&app, "13800139312").await;
    classmate.bought(COURSE).await;
    let (_, theirs) = classmate.get_html(&format!("{lesson_url}/questions")).await;
    assert!(!theirs.contains("VLOOKUP 第四个参数"), "notes are their author's only");
    let (_, theirs) = classmate.get_html("/me/notes").await;
    assert!(!theirs.contains("VLOOKUP 第四个参数"));
    let note: i64 =
        sqlx::query_scalar("SELECT id FROM learner_notes WHERE at_secs = 65").fetch_one(app.db.read()).await.unwrap();
    let stolen = classmate.submit("/me", &format!("/notes/{note}/delete"), &[]).await;
    assert_eq!(stolen.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("learner_notes").await, 2);
    let deleted = me.submit("/me/notes", &format!("/notes/{note}/delete"), &[("back", "all")]).await;
    assert_eq!(location(&deleted), "/me/notes");
    assert_eq!(app.count("learner_notes").await, 1);
}
