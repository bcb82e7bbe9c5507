//! Certificates (#33): earned by finishing every lesson and passing the final exam; claimed
//! under a chosen name; an image, a PDF for its holder and a public verify page with nothing
//! else about them; staff design it per course and revoke one, which its page then says.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::on_both_backends;

const COURSE: &str = "excel-data-analysis";

on_both_backends!(a_certificate_is_earned_verified_and_revoked);

async fn learner(app: &TestApp, phone: &str) -> TestApp {
    let browser = app.another_browser();
    browser.login_by_code(phone).await;
    browser
}

async fn a_certificate_is_earned_verified_and_revoked(app: TestApp) {
    let course = app.course_id(COURSE).await;
    let staff = app.staff().await;
    let added = crate::quizzes::add_question(
        &staff,
        course,
        &[("kind", "truefalse"), ("body", "透视表会改动原始数据。"), ("key", "错"), ("points", "1")],
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let bank = format!("/admin/courses/{course}/quizzes");
    let exam = [("quiz_lesson", ""), ("title", "结业考试"), ("pass_percent", "100")];
    assert_eq!(staff.submit(&bank, &bank, &exam).await.status(), StatusCode::SEE_OTHER);
    let quiz: i64 = sqlx::query_scalar("SELECT id FROM quizzes").fetch_one(app.db.read()).await.unwrap();

    let phone = "13800139501";
    let buyer = learner(&app, phone).await;
    buyer.bought(COURSE).await;
    let page = format!("/courses/{COURSE}/certificate");
    let (status, html) = buyer.get_html(&page).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("还有 7 节课没有学完") && html.contains("需要通过结业考试"), "{html}");
    // A certificate for an unfinished course is refused and nothing is issued.
    let forged = buyer.submit("/me", &page, &[("name", "王小明")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("certificates").await, 0);

    crate::stats::finish_course(&app, &buyer, COURSE).await;
    let (status, html) = buyer.get_html(&page).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        !html.contains("节课没有学完") && html.contains("需要通过结业考试"),
        "the lessons are done, the exam is not"
    );
    let (_, course_page) = buyer.get_html(&format!("/courses/{COURSE}")).await;
    assert!(course_page.contains(&format!("href=\"{page}\"")), "a finished course links its certificate");
    let quiz_page = format!("/quizzes/{quiz}");
    let at = location(&buyer.submit(&quiz_page, &format!("{quiz_page}/attempts"), &[]).await);
    let question: i64 = sqlx::query_scalar("SELECT id FROM quiz_questions").fetch_one(app.db.read()).await.unwrap();
    buyer.submit(&at, &at, &[(&format!("q{question}"), "false"), ("submit", "1")]).await;

    let (status, html) = buyer.get_html(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"name\""), "the name to print");
    let empty = buyer.submit(&page, &page, &[("name", "  ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert!(empty.text().await.unwrap().contains("id=\"name-error\""));
    let long = buyer.submit(&page, &page, &[("name", &"名".repeat(21))]).await;
    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("certificates").await, 0);
    let claimed = buyer.submit(&page, &page, &[("name", "王小明")]).await;
    assert_eq!(location(&claimed), page);
    assert_eq!(buyer.submit("/me", &page, &[("name", "李四")]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("certificates").await, 1, "one certificate, whatever the taps");
    let code: String = sqlx::query_scalar("SELECT code FROM certificates").fetch_one(app.db.read()).await.unwrap();
    let (_, html) = buyer.get_html(&page).await;
    assert!(html.contains(&format!("/certificates/{code}.png")) && html.contains(&format!("/certificates/{code}.pdf")));

    // The verify page, for anyone: the certificate and nothing about its holder beyond it.
    let stranger = app.another_browser();
    let verify = format!("/certificates/{code}");
    let (status, html) = stranger.get_html(&verify).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("有效的结业证书") && html.contains("王小明") && html.contains("Excel 数据分析实战"));
    assert!(!html.contains(phone) && !html.contains(&phone[7..]), "no phone, not even masked");
    assert_eq!(stranger.get("/certificates/NOSUCHCODE23").await.status(), StatusCode::NOT_FOUND);
    let png = stranger.get(&format!("{verify}.png")).await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    let picture = image::load_from_memory(&png.bytes().await.unwrap()).unwrap();
    assert_eq!((picture.width(), picture.height()), (1600, 1131));

    // The PDF is its holder's.
    let pdf = buyer.get(&format!("{verify}.pdf")).await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    let other = learner(&app, "13800139502").await;
    assert_eq!(other.get(&format!("{verify}.pdf")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(stranger.get(&format!("{verify}.pdf")).await.status(), StatusCode::SEE_OTHER, "sign in first");

    // Staff design it: a bad position is said beside it; a seal picture is taken.
    let design = format!("/admin/courses/{course}/certificate");
    let layout = |seal_top: &'static str| {
        [
            ("title", "结业证书"),
            ("name_top", "40"),
            ("course_top", "52"),
            ("date_top", "78"),
            ("seal_left", "70"),
            ("seal_top", seal_top),
        ]
    };
    let bad = staff.submit(&design, &design, &layout("120")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("id=\"seal_top-error\""));
    assert_eq!(staff.submit(&design, &design, &layout("60")).await.status(), StatusCode::SEE_OTHER);
    let seal = crate::shop_settings::png(300, 300);
    let uploaded =
        staff.submit_multipart(&design, &format!("{design}/seal"), &[], vec![("seal", "seal.png", seal)]).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let stored: String =
        sqlx::query_scalar("SELECT seal FROM certificate_designs").fetch_one(app.db.read()).await.unwrap();
    assert!(stored.starts_with(&format!("certificate-seal-{course}-")), "{stored}");
    let preview = staff.get(&format!("{design}/preview.png")).await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert_eq!(buyer.get(&format!("{design}/preview.png")).await.status(), StatusCode::FORBIDDEN, "staff only");

    // Revoked: said why, on the verify page and the holder's; no picture or PDF any more.
    let id: i64 = sqlx::query_scalar("SELECT id FROM certificates").fetch_one(app.db.read()).await.unwrap();
    let revoke = format!("/admin/certificates/{id}/revoke");
    let no_reason = staff.submit(&design, &revoke, &[("reason", " ")]).await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    assert!(no_reason.text().await.unwrap().contains("id=\"reason-error\""));
    assert_eq!(staff.submit(&design, &revoke, &[("reason", "考试作弊")]).await.status(), StatusCode::SEE_OTHER);
    let (_, html) = stranger.get_html(&verify).await;
    assert!(html.contains("已被撤销") && html.contains("考试作弊") && !html.contains("有效的结业证书"));
    assert_eq!(stranger.get(&format!("{verify}.png")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(buyer.get(&format!("{verify}.pdf")).await.status(), StatusCode::NOT_FOUND);
    let (_, html) = buyer.get_html(&page).await;
    assert!(html.contains("这张证书已被撤销"));
    assert_eq!(staff.submit(&design, &revoke, &[("reason", "再次")]).await.status(), StatusCode::NOT_FOUND);
}
