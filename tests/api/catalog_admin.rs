//! The course editor: an operator creates a course as a draft, fills its syllabus, publishes it
//! now or on a schedule, edits it, and the public pages follow at once; each change is audited.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::{TestApp, location};
use crate::on_both_backends;

on_both_backends!(
    an_operator_builds_and_publishes_a_course,
    courses_go_on_sale_on_schedule,
    a_limited_time_price_counts_down_and_ends,
    categories_and_instructors
);

async fn ids(app: &TestApp) -> (String, String) {
    let category: i64 = sqlx::query_scalar("SELECT MIN(id) FROM categories").fetch_one(app.db.read()).await.unwrap();
    let instructor: i64 = sqlx::query_scalar("SELECT MIN(id) FROM instructors").fetch_one(app.db.read()).await.unwrap();
    (category.to_string(), instructor.to_string())
}

async fn operator(app: &TestApp) -> TestApp {
    app.make_staff("13900000001", Role::Operator).await;
    app.staff_as("13900000001").await
}

async fn create_course(app: &TestApp, staff: &TestApp, slug: &str, title: &str) -> String {
    create_course_as(app, staff, (slug, title, "recorded"), ("129.00", "199")).await
}

/// Fills in the course editor for a new draft: (slug, title, kind) at (price, original price) in
/// yuan. Returns its editor's address.
pub(crate) async fn create_course_as(
    app: &TestApp,
    staff: &TestApp,
    (slug, title, kind): (&str, &str, &str),
    (price, original): (&str, &str),
) -> String {
    let (category, instructor) = ids(app).await;
    let fields = [
        ("title", title),
        ("subtitle", "三周写出第一个命令行工具"),
        ("slug", slug),
        ("kind", kind),
        ("category_id", category.as_str()),
        ("instructor_id", instructor.as_str()),
        ("price", price),
        ("original_price", original),
        ("position", "0"),
        ("description", "从所有权讲起，**每一课**都有练习。"),
        ("outcomes", "读懂借用检查器\n写出命令行工具"),
        ("audience", "有一门语言基础的开发者"),
        ("refund_window_days", "7"),
        ("refund_max_consumed_pct", "20"),
    ];
    let created = staff.submit("/admin/courses/new", "/admin/courses/new", &fields).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    location(&created)
}

async fn an_operator_builds_and_publishes_a_course(app: TestApp) {
    let staff = operator(&app).await;
    let empty = staff.submit("/admin/courses/new", "/admin/courses/new", &[("price", "abc")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let page = empty.text().await.unwrap();
    assert!(
        page.contains("id=\"title-error\"")
            && page.contains("id=\"price-error\"")
            && page.contains("id=\"slug-error\"")
    );
    assert_eq!(app.count("courses").await, 11, "nothing saved");

    let editor = create_course(&app, &staff, "rust-cli", "Rust 命令行实战").await;
    assert!(editor.starts_with("/admin/courses/"));
    assert_eq!(app.get("/courses/rust-cli").await.status(), StatusCode::NOT_FOUND, "a draft is not on sale");
    let (category, instructor) = ids(&app).await;
    let dup = staff
        .submit(
            "/admin/courses/new",
            "/admin/courses/new",
            &[
                ("title", "另一门"),
                ("slug", "rust-cli"),
                ("kind", "recorded"),
                ("category_id", &category),
                ("instructor_id", &instructor),
                ("price", "1"),
                ("description", "x"),
                ("refund_window_days", "7"),
                ("refund_max_consumed_pct", "20"),
            ],
        )
        .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    assert!(dup.text().await.unwrap().contains("这个链接名已被其他课程使用"));

    // The syllabus: two chapters, lessons, a free preview, a reorder.
    let id = editor.trim_start_matches("/admin/courses/").to_string();
    let chapters = format!("/admin/courses/{id}/chapters");
    assert_eq!(staff.submit(&editor, &chapters, &[("title", " ")]).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(staff.submit(&editor, &chapters, &[("title", "第一章 所有权")]).await.status(), StatusCode::SEE_OTHER);
    let chapter_id: i64 = sqlx::query_scalar("SELECT id FROM chapters WHERE title = '第一章 所有权'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let lessons = format!("/admin/courses/{id}/lessons");
    let chapter = chapter_id.to_string();
    let add = |title: &'static str, preview: &'static str| {
        let (editor, lessons, chapter) = (editor.clone(), lessons.clone(), chapter.clone());
        let staff = &staff;
        async move {
            staff
                .submit(
                    &editor,
                    &lessons,
                    &[
                        ("chapter_id", chapter.as_str()),
                        ("title", title),
                        ("kind", "video"),
                        ("minutes", "12"),
                        ("free_preview", preview),
                    ],
                )
                .await
                .status()
        }
    };
    assert_eq!(add("借用与生命周期", "").await, StatusCode::SEE_OTHER);
    assert_eq!(add("为什么要有所有权", "1").await, StatusCode::SEE_OTHER);
    let bad_minutes = staff
        .submit(&editor, &lessons, &[("chapter_id", &chapter), ("title", "x"), ("kind", "video"), ("minutes", "abc")])
        .await;
    assert_eq!(bad_minutes.status(), StatusCode::BAD_REQUEST);
    let second: i64 = sqlx::query_scalar("SELECT id FROM lessons WHERE title = '为什么要有所有权'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let moved = staff.submit(&editor, &format!("/admin/lessons/{second}"), &[("move", "up")]).await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    let renamed_lesson = staff
        .submit(
            &editor,
            &format!("/admin/lessons/{second}"),
            &[("title", "为什么要有所有权？"), ("kind", "video"), ("minutes", "15"), ("free_preview", "1")],
        )
        .await;
    assert_eq!(renamed_lesson.status(), StatusCode::SEE_OTHER);
    let content = format!("/admin/lessons/{second}/content");
    let lesson_page = format!("/admin/lessons/{second}");
    let bad_link = staff.submit(&lesson_page, &content, &[("notes", "x"), ("live_url", "http://live.example")]).await;
    assert_eq!(bad_link.status(), StatusCode::BAD_REQUEST);
    let notes = staff.submit(&lesson_page, &content, &[("notes", "本课练习：写一个 greet 函数")]).await;
    assert_eq!(notes.status(), StatusCode::SEE_OTHER);
    let chapter_page = format!("/admin/chapters/{chapter_id}");
    assert_eq!(
        staff.submit(&editor, &chapter_page, &[("title", "第一章 所有权与借用")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(staff.submit(&editor, &chapter_page, &[("move", "down")]).await.status(), StatusCode::SEE_OTHER);

    let publish = format!("/admin/courses/{id}/publication");
    assert_eq!(staff.submit(&editor, &publish, &[("action", "publish")]).await.status(), StatusCode::SEE_OTHER);
    let (status, public) = app.get_html("/courses/rust-cli").await;
    assert_eq!(status, StatusCode::OK, "published: on sale at once");
    assert!(public.contains("Rust 命令行实战") && public.contains("¥129.00"));
    assert!(public.contains("第一章 所有权与借用") && public.contains("15:00"), "renamed chapter, edited lesson");
    let first = public.find("为什么要有所有权？").expect("the moved lesson");
    let then = public.find("借用与生命周期").expect("the other lesson");
    assert!(first < then, "the reorder shows on the course page");
    let (_, catalog) = app.get_html("/courses").await;
    assert!(catalog.contains("/courses/rust-cli"));
    let (_, preview) = app.get_html(&format!("/courses/rust-cli/lessons/{second}")).await;
    assert!(preview.contains("本课练习：写一个 greet 函数"), "the lesson's notes show under the free preview");

    // An edit shows at once, even on pages cached for visitors.
    let (_, form) = staff.get_html(&editor).await;
    assert!(form.contains("value=\"Rust 命令行实战\""));
    let (category, instructor) = ids(&app).await;
    let edited = staff
        .submit(
            &editor,
            &editor,
            &[
                ("title", "Rust 命令行实战（第二版）"),
                ("slug", "rust-cli"),
                ("kind", "recorded"),
                ("category_id", &category),
                ("instructor_id", &instructor),
                ("price", "99"),
                ("original_price", "199"),
                ("description", "新版"),
                ("refund_window_days", "7"),
                ("refund_max_consumed_pct", "20"),
                ("non_refundable", "1"),
                ("featured", "1"),
                ("position", "-1"),
            ],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER);
    let (_, public) = app.get_html("/courses/rust-cli").await;
    assert!(public.contains("Rust 命令行实战（第二版）") && public.contains("¥99.00"));
    assert!(public.contains("不支持退款"), "the non-refundable mark shows");
    let (_, home) = app.get_html("/courses").await;
    let ours = home.find("/courses/rust-cli").unwrap();
    assert!(home.find("/courses/excel-data-analysis").is_some_and(|other| ours < other), "sort order -1 comes first");

    let buyer = app.another_browser();
    buyer.login_by_code("13800138901").await;
    buyer.bought("rust-cli").await;
    assert_eq!(staff.submit(&editor, &publish, &[("action", "unpublish")]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/courses/rust-cli").await.status(), StatusCode::NOT_FOUND, "off sale at once");
    let preview = format!("/courses/rust-cli/lessons/{second}");
    assert_eq!(app.get(&preview).await.status(), StatusCode::NOT_FOUND, "no more free previews");
    let (_, mine) = buyer.get_html("/me/courses").await;
    assert!(mine.contains("Rust 命令行实战（第二版）"), "the buyer still has it");
    assert_eq!(buyer.get(&preview).await.status(), StatusCode::OK, "and can still learn");

    let actions = audit_actions(&app).await;
    for action in [
        "course.create",
        "course.chapter_add",
        "course.chapter_rename",
        "course.chapter_move",
        "course.lesson_update",
        "lesson.content",
        "course.lesson_add",
        "course.lesson_move",
        "course.publication",
        "course.update",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| *a == "course.lesson_add").count(), 2, "refused posts are not audited");
}

async fn courses_go_on_sale_on_schedule(app: TestApp) {
    let staff = operator(&app).await;
    let editor = create_course(&app, &staff, "go-async", "Go 并发编程").await;
    let id = editor.trim_start_matches("/admin/courses/").to_string();
    let publish = format!("/admin/courses/{id}/publication");
    let past = staff.submit(&editor, &publish, &[("action", "schedule"), ("at", "2020-01-01T09:00")]).await;
    assert_eq!(past.status(), StatusCode::BAD_REQUEST);
    assert!(past.text().await.unwrap().contains("请选择一个将来的时间"));
    let soon = kedian::domain::time::shanghai_datetime_value(kedian::domain::time::now() + 3600);
    let scheduled = staff.submit(&editor, &publish, &[("action", "schedule"), ("at", &soon)]).await;
    assert_eq!(scheduled.status(), StatusCode::SEE_OTHER);
    let (_, list) = staff.get_html("/admin/courses").await;
    assert!(list.contains("定时上架"));
    app.run_order_jobs(kedian::domain::time::now()).await;
    assert_eq!(app.get("/courses/go-async").await.status(), StatusCode::NOT_FOUND, "not yet");
    app.run_order_jobs(kedian::domain::time::now() + 3700).await;
    assert_eq!(app.get("/courses/go-async").await.status(), StatusCode::OK, "on sale when the time comes");
}

async fn amount_of(app: &TestApp, order_no: &str) -> i64 {
    sqlx::query_scalar("SELECT amount_fen FROM orders WHERE order_no = $1")
        .bind(order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn save_sale_end(app: &TestApp, staff: &TestApp, editor: &str, end: &str) -> reqwest::Response {
    let (category, instructor) = ids(app).await;
    let fields = [
        ("title", "Go 并发编程"),
        ("slug", "go-async"),
        ("kind", "recorded"),
        ("category_id", category.as_str()),
        ("instructor_id", instructor.as_str()),
        ("price", "129.00"),
        ("original_price", "199"),
        ("sale_ends_at", end),
        ("description", "从 goroutine 讲起。"),
        ("refund_window_days", "7"),
        ("refund_max_consumed_pct", "20"),
    ];
    staff.submit(editor, editor, &fields).await
}

/// 限时价: the operator sets when the discount ends; the course page counts down to it; after it
/// the course sells at its original price, even before the job has written that down.
async fn a_limited_time_price_counts_down_and_ends(app: TestApp) {
    use kedian::domain::time::{now, shanghai_datetime_value};
    let staff = operator(&app).await;
    let editor = create_course(&app, &staff, "go-async", "Go 并发编程").await;
    let id = editor.trim_start_matches("/admin/courses/").to_string();
    let (_, form) = staff.get_html(&editor).await;
    assert!(form.contains("name=\"sale_ends_at\"") && form.contains("type=\"datetime-local\""));
    let past = save_sale_end(&app, &staff, &editor, "2020-01-01T09:00").await;
    assert_eq!(past.status(), StatusCode::BAD_REQUEST);
    assert!(past.text().await.unwrap().contains("请选择一个将来的结束时间"), "said beside the field");
    let unchanged: Option<i64> = sqlx::query_scalar("SELECT sale_ends_at FROM courses WHERE slug = 'go-async'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(unchanged, None, "a refused form changes nothing");
    let end = now() + 3600;
    assert_eq!(
        save_sale_end(&app, &staff, &editor, &shanghai_datetime_value(end)).await.status(),
        StatusCode::SEE_OTHER
    );
    let (_, form) = staff.get_html(&editor).await;
    assert!(form.contains(&shanghai_datetime_value(end)), "the editor shows the end it saved");
    assert!(form.contains("已保存，前台页面已更新"), "and says it was saved, once");
    assert!(!staff.get_html(&editor).await.1.contains("已保存，前台页面已更新"));
    let publish = format!("/admin/courses/{id}/publication");
    assert_eq!(staff.submit(&editor, &publish, &[("action", "publish")]).await.status(), StatusCode::SEE_OTHER);

    let (_, page) = app.get_html("/courses/go-async").await;
    let minute_end = end - end.rem_euclid(60);
    assert!(page.contains("sale-ends") && page.contains("限时价"), "the page counts down");
    assert!(page.contains(&format!("data-until=\"{minute_end}\"")), "to the minute saved");
    let (_, cards) = app.get_html("/courses?q=%E5%B9%B6%E5%8F%91").await;
    assert!(cards.contains("Go 并发编程") && cards.contains("badge sale"), "its card says 限时价");
    app.login_by_code("13800138300").await;
    let during = app.order_for("go-async").await;
    assert_eq!(amount_of(&app, &during).await, 12900, "the limited-time price while it lasts");

    // Past the end, before the job: a new order is at the original price already.
    sqlx::query("UPDATE courses SET sale_ends_at = $1 WHERE slug = 'go-async'")
        .bind(now() - 1)
        .execute(app.db.write())
        .await
        .unwrap();
    app.catalog.reload(&app.db).await.unwrap();
    let buyer = app.another_browser();
    buyer.login_by_code("13800138301").await;
    assert_eq!(amount_of(&app, &buyer.order_for("go-async").await).await, 19900, "no sale price after its end");
    assert_eq!(amount_of(&app, &during).await, 12900, "an order made during the sale keeps its price");

    // The job puts the original price back for good, and the page stops counting.
    app.run_order_jobs(now()).await;
    let (price, left): (i64, Option<i64>) =
        sqlx::query_as("SELECT price_fen, sale_ends_at FROM courses WHERE slug = 'go-async'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!((price, left), (19900, None));
    let (_, page) = app.get_html("/courses/go-async").await;
    assert!(!page.contains("sale-ends") && page.contains("¥199.00"));
    let (_, cards) = app.get_html("/courses?q=%E5%B9%B6%E5%8F%91").await;
    assert!(cards.contains("Go 并发编程") && !cards.contains("badge sale"));
}

async fn categories_and_instructors(app: TestApp) {
    let staff = operator(&app).await;
    let page = "/admin/categories";
    let bad = staff.submit(page, page, &[("name", "设计"), ("slug", "设 计")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let added = staff.submit(page, page, &[("name", "设计"), ("slug", "design"), ("position", "9")]).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let (_, catalog) = app.get_html("/courses").await;
    assert!(catalog.contains("设计"), "the new category shows on the catalog at once");
    let taken = staff.submit(page, page, &[("name", "又一个"), ("slug", "design")]).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM categories WHERE slug = 'design'").fetch_one(app.db.read()).await.unwrap();
    let renamed =
        staff.submit(page, &format!("/admin/categories/{id}"), &[("name", "平面设计"), ("position", "9")]).await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let (_, catalog) = app.get_html("/courses").await;
    assert!(catalog.contains("平面设计"));

    let empty = staff.submit(page, "/admin/instructors", &[("instructor_name", " ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let teacher = staff
        .submit(
            page,
            "/admin/instructors",
            &[("instructor_name", "林老师"), ("instructor_title", "资深设计师"), ("bio", "十年品牌设计经验")],
        )
        .await;
    assert_eq!(teacher.status(), StatusCode::SEE_OTHER);
    let (_, editor) = staff.get_html("/admin/courses/new").await;
    assert!(editor.contains(">林老师</option>") && editor.contains(">平面设计</option>"), "the editor offers them");
    let teacher_id: i64 =
        sqlx::query_scalar("SELECT id FROM instructors WHERE name = '林老师'").fetch_one(app.db.read()).await.unwrap();
    let edited = staff
        .submit(
            page,
            &format!("/admin/instructors/{teacher_id}"),
            &[("name", "林晓老师"), ("title", "品牌设计师"), ("bio", "")],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER);
    let actions = audit_actions(&app).await;
    for action in ["category.add", "category.update", "instructor.add", "instructor.update"] {
        assert_eq!(actions.iter().filter(|a| *a == action).count(), 1, "{action}");
    }
}
