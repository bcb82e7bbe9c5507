use reqwest::StatusCode;

use crate::helpers::{TestApp, unescape};
use crate::on_both_backends;

on_both_backends!(
    home_shows_featured_courses_and_categories,
    catalog_filters_searches_sorts_and_paginates,
    course_page_shows_everything_a_buyer_needs,
    unknown_course_gets_a_friendly_404,
    pages_are_share_ready,
    english_locale_from_accept_language,
    policy_pages_render,
    pagination_survives_filters,
    cached_pages_stay_per_language_and_per_visitor,
);

async fn cached_pages_stay_per_language_and_per_visitor(app: TestApp) {
    for _ in 0..2 {
        let (_, html) = app.get_html("/courses/excel-data-analysis").await;
        assert!(html.contains("你将学到") && html.contains(">登录<"));
    }
    let english =
        app.client.get(app.url("/courses/excel-data-analysis")).header("Accept-Language", "en").send().await.unwrap();
    assert_eq!(english.headers().get("vary").unwrap(), "Cookie, Accept-Language, Accept-Encoding");
    assert!(english.text().await.unwrap().contains("What you will learn"));
    app.login_by_code("13800138050").await;
    let (_, html) = app.get_html("/courses/excel-data-analysis").await;
    assert!(
        html.contains("class=\"nav-me nav-main\"") && !html.contains(">登录<"),
        "a logged-in page is never the cached one"
    );
    assert!(html.contains("action=\"/courses/excel-data-analysis/buy\""), "a buy form for the logged-in visitor");
}

async fn home_shows_featured_courses_and_categories(app: TestApp) {
    let (status, html) = app.get_html("/").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "精选推荐",
        "Excel 数据分析实战",
        "年度会员：全站课程畅学",
        "职场技能",
        "编程与数据",
        "人文通识",
        "¥199.00",
        "用户协议",
        "隐私政策",
        "退款政策",
    ] {
        assert!(html.contains(text), "home lacks {text}");
    }
    // The two lists do not repeat each other: no course shows twice.
    let listed = slugs(&html);
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(listed.len(), unique.len(), "a course listed twice on the home page: {listed:?}");
    assert!(listed.len() >= 4, "both sections have courses: {listed:?}");
}

/// Course slugs in the order the page lists them.
fn slugs(html: &str) -> Vec<String> {
    html.split("class=\"card-link\" href=\"/courses/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(String::from))
        .collect()
}

async fn catalog_filters_searches_sorts_and_paginates(app: TestApp) {
    let (status, html) = app.get_html("/courses").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("共 11 门课程"));
    assert_eq!(slugs(&html).len(), 11);
    assert_eq!(slugs(&html)[0], "excel-data-analysis", "newest first");

    let (_, html) = app.get_html("/courses?category=tech").await;
    assert_eq!(slugs(&html), ["python-zero-to-one"]);

    let (_, html) = app.get_html("/courses?q=%E7%BB%8F%E6%B5%8E%E5%AD%A6").await; // 经济学
    assert_eq!(slugs(&html), ["economics-in-15-minutes"]);
    let (_, html) = app.get_html("/courses?q=EXCEL").await;
    assert_eq!(slugs(&html), ["excel-data-analysis"], "case-insensitive title match");
    let (_, html) = app.get_html("/courses?q=%E8%87%AA%E5%8A%A8%E5%8C%96%E8%84%9A%E6%9C%AC").await; // 自动化脚本: subtitle only
    assert_eq!(slugs(&html), ["python-zero-to-one"]);
    let (status, html) = app.get_html("/courses?q=nothing-matches-this").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("没有找到相关课程"));

    let (_, html) = app.get_html("/courses?sort=price_asc").await;
    let order = slugs(&html);
    assert_eq!(order.first().map(String::as_str), Some("photography-composition"), "free first");
    assert_eq!(order.last().map(String::as_str), Some("annual-membership"));
    let (_, html) = app.get_html("/courses?sort=price_desc").await;
    assert_eq!(slugs(&html)[0], "annual-membership");
    let (_, html) = app.get_html("/courses?sort=popular").await;
    assert_eq!(slugs(&html)[..2], ["photography-composition", "economics-in-15-minutes"]);

    // Filters combine, and bad parameters fall back to defaults instead of failing.
    let (_, html) = app.get_html("/courses?category=career&sort=price_asc").await;
    assert_eq!(
        slugs(&html),
        [
            "product-manager-notes",
            "excel-data-analysis",
            "office-efficiency-bundle",
            "career-consultation",
            "annual-membership"
        ]
    );
    let (status, html) = app.get_html("/courses?sort=%3Cscript%3E&page=-1&category=").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(slugs(&html).len(), 11);
    assert!(!html.contains("<script>"));
}

async fn pagination_survives_filters(app: TestApp) {
    // Twelve courses per page: add enough courses to one category to need three pages.
    let category: i64 =
        sqlx::query_scalar("SELECT id FROM categories WHERE slug = 'tech'").fetch_one(app.db.read()).await.unwrap();
    let instructor: i64 = sqlx::query_scalar("SELECT MIN(id) FROM instructors").fetch_one(app.db.read()).await.unwrap();
    for i in 0..25i64 {
        sqlx::query(
            "INSERT INTO courses (slug, kind, category_id, instructor_id, title, subtitle, description, cover_url, \
             price_fen, original_price_fen, learner_count, outcomes, audience, created_at, updated_at) \
             VALUES ($1, 'recorded', $2, $3, $4, '练习', '', '/static/covers/python-zero-to-one-1280.jpg', $5, $5, 0, '', '', $6, $6)",
        )
        .bind(format!("drill-{i:02}"))
        .bind(category)
        .bind(instructor)
        .bind(format!("SQL 练习 {i:02}"))
        .bind(100 * (i + 1))
        .bind(1000 + i)
        .execute(app.db.write())
        .await
        .unwrap();
    }
    // The catalog is held in memory; writers reload it explicitly.
    let (_, html) = app.get_html("/courses?category=tech").await;
    assert!(html.contains("共 1 门课程"), "not visible before the reload");
    app.catalog.reload(&app.db).await.unwrap();

    let (_, html) = app.get_html("/courses?category=tech&sort=price_desc&q=%E7%BB%83%E4%B9%A0").await; // 练习
    assert!(html.contains("共 25 门课程"));
    assert_eq!(slugs(&html).len(), 12);
    assert_eq!(slugs(&html)[0], "drill-24");
    let html = unescape(&html);
    let next = "/courses?category=tech&q=%E7%BB%83%E4%B9%A0&sort=price_desc&page=2";
    assert!(html.contains(&format!("rel=\"next\" href=\"{next}\"")), "next link keeps the filters");
    let (_, html) = app.get_html("/courses?category=tech&q=%E7%BB%83%E4%B9%A0&sort=price_desc&page=3").await;
    assert_eq!(slugs(&html), ["drill-00"]);
    let html = unescape(&html);
    assert!(html.contains("rel=\"prev\" href=\"/courses?category=tech&q=%E7%BB%83%E4%B9%A0&sort=price_desc&page=2\""));
    assert!(!html.contains("rel=\"next\""));
    let (status, html) = app.get_html("/courses?category=tech&page=99").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("这一页没有更多课程了"));
}

async fn course_page_shows_everything_a_buyer_needs(app: TestApp) {
    let (status, html) = app.get_html("/courses/excel-data-analysis").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "Excel 数据分析实战",
        "从函数到透视表",
        "/static/covers/excel-data-analysis-1280.jpg",
        "¥199.00",
        "<s class=\"was\">原价 ¥399.00</s>",
        "12850 人已学",
        "你将学到",
        "熟练使用 VLOOKUP",
        "适合人群",
        "课程目录",
        "第一章 打好基础",
        "数据录入与表格规范",
        "18:00",
        "试看",
        "林晓",
        "前咨询公司数据分析经理",
        "购买后 7 天内、学习进度未超过 20% 可申请全额退款",
        "立即购买",
        "/login?next=%2Fcourses%2Fexcel-data-analysis",
    ] {
        assert!(html.contains(text), "course page lacks {text}");
    }
    // A live course lists its sessions in Beijing time; a promotion says "no refunds" up front.
    let (_, html) = app.get_html("/courses/short-video-bootcamp").await;
    assert!(html.contains("直播安排") && html.contains("20:00</time> 第 1 场"), "live schedule");
    let (_, html) = app.get_html("/courses/exam-english-sprint").await;
    assert!(html.contains("不支持退款：") && html.contains("购买后不支持退款"));
    let (_, html) = app.get_html("/courses/photography-composition").await;
    assert!(html.contains("免费领取"));
}

async fn unknown_course_gets_a_friendly_404(app: TestApp) {
    for path in ["/courses/no-such-course", "/no/such/page", "/courses/%00", "/pages/nothing"] {
        let (status, html) = app.get_html(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("页面不存在") && html.contains("返回首页"), "{path}: {html}");
    }
}

fn meta_content(html: &str, attr: &str, name: &str) -> Option<String> {
    let marker = format!("<meta {attr}=\"{name}\" content=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(String::from)
}

async fn pages_are_share_ready(app: TestApp) {
    for (path, canonical) in [
        ("/", "http://kedian.test/"),
        ("/courses?sort=popular&page=1", "http://kedian.test/courses?sort=popular"),
        ("/courses/python-zero-to-one", "http://kedian.test/courses/python-zero-to-one"),
    ] {
        let (_, html) = app.get_html(path).await;
        assert!(html.contains("<title>") && !html.contains("<title></title>"), "{path}");
        assert!(meta_content(&html, "name", "description").is_some_and(|d| !d.is_empty()), "{path}");
        for og in ["og:title", "og:description", "og:image", "og:url"] {
            let value = meta_content(&html, "property", og).unwrap_or_default();
            assert!(!value.is_empty(), "{path} lacks {og}");
        }
        assert_eq!(meta_content(&html, "property", "og:url").as_deref(), Some(canonical), "{path}");
        assert!(html.contains(&format!("<link rel=\"canonical\" href=\"{canonical}\">")), "{path}");
        // The share image is really there.
        let image = meta_content(&html, "property", "og:image").unwrap();
        let image_path = image.strip_prefix("http://kedian.test").expect("absolute on the public URL");
        assert_eq!(app.get(image_path).await.status(), StatusCode::OK, "{image}");
    }
    let (_, html) = app.get_html("/courses/python-zero-to-one").await;
    assert_eq!(
        meta_content(&html, "property", "og:image").as_deref(),
        Some("http://kedian.test/static/covers/python-zero-to-one-1280.jpg")
    );
}

async fn english_locale_from_accept_language(app: TestApp) {
    let html = app
        .client
        .get(app.url("/courses/excel-data-analysis"))
        .header("Accept-Language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("What you will learn") && html.contains("Full refund within 7 days"));
    // The language page sets a cookie that wins over the header.
    let response = app.submit("/language", "/language", &[("lang", "en"), ("next", "/courses")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::helpers::location(&response), "/courses");
    let (_, html) = app.get_html("/courses").await;
    assert!(html.contains("Courses") && html.contains("Price: low to high"));
}

async fn policy_pages_render(app: TestApp) {
    for (path, text) in
        [("/pages/agreement", "用户协议"), ("/pages/privacy", "隐私政策"), ("/pages/refund-policy", "促销商品")]
    {
        let (status, html) = app.get_html(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains(text), "{path}");
    }
}
