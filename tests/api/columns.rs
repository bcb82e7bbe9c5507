//! Columns (专栏): a course whose issues keep coming. Staff plan it; buyers get every issue that
//! comes out after they paid; its page says how many are out.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::catalog_admin::create_course_as;
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(an_issue_published_after_purchase_is_open_to_the_buyer);

const COLUMN: &str = "weekly-notes";

async fn an_issue_published_after_purchase_is_open_to_the_buyer(app: TestApp) {
    app.make_staff("13900000041", Role::Operator).await;
    let staff = app.staff_as("13900000041").await;
    let editor = create_course_as(&app, &staff, (COLUMN, "产品周记", "column"), ("59", "")).await;
    let plan = format!("{editor}/column");
    assert!(staff.get_html(&editor).await.1.contains(&format!("href=\"{plan}\"")), "the editor links to the plan");
    let refused = staff.submit(&plan, &plan, &[("planned", "0"), ("schedule", " ")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"planned-error\"") && html.contains("id=\"schedule-error\""));
    let id = editor.trim_start_matches("/admin/courses/");
    let planned = format!("course_columns WHERE course_id = {id}");
    assert_eq!(app.count(&planned).await, 0, "bad input changes nothing");
    let saved = staff.submit(&plan, &plan, &[("planned", "40"), ("schedule", "每周三更新")]).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let chapters = format!("{editor}/chapters");
    assert_eq!(staff.submit(&editor, &chapters, &[("title", "第一季")]).await.status(), StatusCode::SEE_OTHER);
    let chapter: i64 =
        sqlx::query_scalar("SELECT id FROM chapters WHERE title = '第一季'").fetch_one(app.db.read()).await.unwrap();
    let chapter = chapter.to_string();
    let lessons = format!("{editor}/lessons");
    let add = |title: &'static str| {
        let fields = [
            ("chapter_id", chapter.clone()),
            ("title", title.to_string()),
            ("kind", "article".to_string()),
            ("minutes", "8".to_string()),
        ];
        let (staff, editor, lessons) = (&staff, editor.clone(), lessons.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(staff.submit(&editor, &lessons, &fields).await.status(), StatusCode::SEE_OTHER);
        }
    };
    add("第 1 期：需求从哪里来").await;
    let publish = format!("{editor}/publication");
    assert_eq!(staff.submit(&editor, &publish, &[("action", "publish")]).await.status(), StatusCode::SEE_OTHER);

    let (_, page) = app.get_html(&format!("/courses/{COLUMN}")).await;
    assert!(page.contains("已更新 1 / 40 期") && page.contains("每周三更新") && page.contains("专栏"));
    assert!(page.contains("之后每一期更新也都包含在内"), "what buying includes");
    app.login_by_code("13800138701").await;
    app.bought(COLUMN).await;
    let outsider = app.another_browser();
    outsider.login_by_code("13800138702").await;

    // The next issue comes out a week later.
    add("第 2 期：访谈二十个用户之后").await;
    let second: kedian::domain::LessonId =
        sqlx::query_scalar("SELECT id FROM lessons WHERE title = '第 2 期：访谈二十个用户之后'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    let (_, page) = app.get_html(&format!("/courses/{COLUMN}")).await;
    assert!(page.contains("已更新 2 / 40 期") && page.contains("访谈二十个用户之后"));
    assert_eq!(app.report_progress(COLUMN, second, 0, 480).await, StatusCode::NO_CONTENT, "open to the buyer");
    assert_ne!(outsider.report_progress(COLUMN, second, 0, 480).await, StatusCode::NO_CONTENT, "not to others");
    let (_, lesson) = app.get_html(&format!("/courses/{COLUMN}/lessons/{second}")).await;
    assert!(!lesson.contains("/buy\""), "no buy button for the buyer");
}
