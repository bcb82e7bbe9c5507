//! Learning: who gets pages, media and keys; signed URL tampering; ranges; traversal; progress.

use kedian::domain::LessonId;
use kedian::domain::media::{Grant, sign_query};
use kedian::domain::time::now;
use reqwest::StatusCode;

use crate::helpers::{TestApp, unescape};
use crate::on_both_backends;

on_both_backends!(
    entitlement_matrix,
    tampered_media_urls_are_refused,
    ranges_are_served_exactly,
    large_media_streams_exactly_and_lets_go,
    traversal_payloads_get_nothing,
    progress_is_kept_and_resumed,
    forged_reports_complete_nothing,
    articles_complete_at_a_readers_pace,
    articles_and_live_sessions_render,
    scheduled_lessons_open_day_by_day,
);

const SLUG: &str = "excel-data-analysis";

/// (free preview lesson id, paid lesson id) of the Excel course.
async fn lesson_ids(app: &TestApp) -> (LessonId, LessonId) {
    let catalog = app.catalog.snapshot();
    let course = catalog.course(SLUG).unwrap();
    let free = course.lessons().find(|l| l.free_preview).unwrap().id;
    let paid = course.lessons().find(|l| !l.free_preview).unwrap().id;
    (free, paid)
}

fn media_key(app: &TestApp) -> Vec<u8> {
    let master = kedian::config::load_or_create_session_key(&app.data_dir.join("session.key")).unwrap();
    kedian::startup::derive(&master, b"kedian media urls")
}

/// A correctly signed URL, as if the page had handed it out.
fn signed(app: &TestApp, user_id: i64, lesson_id: LessonId, file: &str) -> String {
    let grant = Grant { user_id, lesson_id, expires_at: now() + 600 };
    format!("/media/{lesson_id}/{file}?{}", sign_query(&media_key(app), &grant))
}

/// The media URL a lesson page hands out, if any.
async fn media_url_on_page(app: &TestApp, lesson_id: LessonId) -> Option<String> {
    let (status, html) = app.get_html(&format!("/courses/{SLUG}/lessons/{lesson_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let html = unescape(&html);
    // The MP4 rides in data-mp4 (the player picks it, or HLS); a video without HLS has it as src too.
    html.split("data-mp4=\"/media/").nth(1).map(|rest| format!("/media/{}", rest.split('"').next().unwrap()))
}

async fn user_id(app: &TestApp, phone: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE phone = $1").bind(phone).fetch_one(app.db.read()).await.unwrap()
}

async fn give_hls_key(app: &TestApp, lesson_id: LessonId) {
    kedian::store::lessons::set_hls(&app.db, lesson_id, "lessons/x/hls", &"11".repeat(16), now()).await.unwrap();
}

async fn entitlement_matrix(app: TestApp) {
    let (free, paid) = lesson_ids(&app).await;
    give_hls_key(&app, free).await;
    give_hls_key(&app, paid).await;
    let status = |r: reqwest::Response| r.status();

    // Anonymous.
    let url = media_url_on_page(&app, free).await.expect("a free preview plays for anyone");
    assert!(url.contains("u=0&"));
    assert_eq!(status(app.get(&url).await), StatusCode::OK);
    assert_eq!(status(app.get(&signed(&app, 0, free, "key")).await), StatusCode::OK);
    assert_eq!(media_url_on_page(&app, paid).await, None, "no media URL for a paid lesson");
    let (_, page) = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await;
    assert!(page.contains("购买课程后即可学习本节内容"));
    assert_eq!(status(app.get(&signed(&app, 0, paid, "main.mp4")).await), StatusCode::FORBIDDEN);
    assert_eq!(status(app.get(&signed(&app, 0, paid, "key")).await), StatusCode::FORBIDDEN);

    // Logged in, not an owner.
    app.login_by_code("13800138110").await;
    let me = user_id(&app, "13800138110").await;
    let url = media_url_on_page(&app, free).await.unwrap();
    assert!(url.contains(&format!("u={me}&")));
    assert_eq!(status(app.get(&url).await), StatusCode::OK);
    assert_eq!(media_url_on_page(&app, paid).await, None);
    assert_eq!(
        status(app.get(&signed(&app, me, paid, "main.mp4")).await),
        StatusCode::FORBIDDEN,
        "a valid signature is not an entitlement"
    );
    assert_eq!(status(app.get(&signed(&app, me, paid, "key")).await), StatusCode::FORBIDDEN);

    // Owner.
    let order_no = app.order_for(SLUG).await;
    app.pay_sandbox(&order_no).await;
    let url = media_url_on_page(&app, paid).await.expect("owners get the media");
    let video = app.get(&url).await;
    assert_eq!(video.status(), StatusCode::OK);
    assert_eq!(
        video.bytes().await.unwrap().len(),
        std::fs::metadata(app.data_dir.join("media/demo/video.mp4")).unwrap().len() as usize
    );
    let key = app.get(&signed(&app, me, paid, "key")).await;
    assert_eq!(key.status(), StatusCode::OK);
    assert_eq!(key.bytes().await.unwrap().as_ref(), [0x11u8; 16]);

    // Owner whose order was refunded: the entitlement is revoked and everything paid stops at once.
    sqlx::query("UPDATE entitlements SET revoked_at = $1").bind(now()).execute(app.db.write()).await.unwrap();
    app.db.access_changed();
    assert_eq!(status(app.get(&url).await), StatusCode::FORBIDDEN, "the URL they had stops working");
    assert_eq!(status(app.get(&signed(&app, me, paid, "key")).await), StatusCode::FORBIDDEN);
    assert_eq!(media_url_on_page(&app, paid).await, None);
    assert!(media_url_on_page(&app, free).await.is_some(), "free previews stay open");
}

async fn tampered_media_urls_are_refused(app: TestApp) {
    let (free, paid) = lesson_ids(&app).await;
    app.login_by_code("13800138111").await;
    let me = user_id(&app, "13800138111").await;
    let order_no = app.order_for(SLUG).await;
    app.pay_sandbox(&order_no).await;
    let url = media_url_on_page(&app, paid).await.unwrap();
    assert_eq!(app.get(&url).await.status(), StatusCode::OK);

    let key = media_key(&app);
    let expired = format!(
        "/media/{paid}/main.mp4?{}",
        sign_query(&key, &Grant { user_id: me, lesson_id: paid, expires_at: now() - 1 })
    );
    let other_lesson = url.replacen(&format!("/media/{paid}/"), &format!("/media/{free}/"), 1);
    let other_user = url.replacen(&format!("u={me}&"), &format!("u={}&", me + 1), 1);
    let anyone = url.replacen(&format!("u={me}&"), "u=0&", 1);
    let later = url.replacen("&e=", "&e=9", 1);
    let altered = {
        let (head, sig) = url.rsplit_once("s=").unwrap();
        let flipped: String = sig.chars().rev().collect();
        format!("{head}s={flipped}")
    };
    let unsigned = url.split('?').next().unwrap().to_string();
    for (what, bad) in [
        ("expired", expired),
        ("other lesson", other_lesson),
        ("other user", other_user),
        ("anyone", anyone),
        ("later expiry", later),
        ("altered signature", altered),
        ("no signature", unsigned),
    ] {
        let response = app.get(&bad).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        assert!(response.bytes().await.unwrap().len() < 5000, "{what}: nothing of the file");
    }
    // The owner's URL in someone else's browser, logged in or not.
    let stranger = crate::helpers::client(std::sync::Arc::new(reqwest::cookie::Jar::default()));
    assert_eq!(stranger.get(app.url(&url)).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    app.logout().await;
    app.age_codes(61).await;
    app.login_by_code("13800138112").await;
    assert_eq!(app.get(&url).await.status(), StatusCode::FORBIDDEN);
}

async fn ranges_are_served_exactly(app: TestApp) {
    let (free, _) = lesson_ids(&app).await;
    let url = media_url_on_page(&app, free).await.unwrap();
    let len = std::fs::metadata(app.data_dir.join("media/demo/video.mp4")).unwrap().len();
    let get = |range: &str| app.client.get(app.url(&url)).header("Range", range.to_string()).send();

    let full = app.get(&url).await;
    let h = full.headers();
    assert_eq!(h.get("content-type").unwrap(), "video/mp4");
    assert_eq!(h.get("cache-control").unwrap(), "private, no-store");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("content-disposition").unwrap(), "inline");
    assert_eq!(h.get("accept-ranges").unwrap(), "bytes");

    let first = get("bytes=0-99").await.unwrap();
    assert_eq!(first.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(first.headers().get("content-range").unwrap().to_str().unwrap(), format!("bytes 0-99/{len}"));
    assert_eq!(first.bytes().await.unwrap().len(), 100);
    let suffix = get("bytes=-10").await.unwrap();
    assert_eq!(
        suffix.headers().get("content-range").unwrap().to_str().unwrap(),
        format!("bytes {}-{}/{len}", len - 10, len - 1)
    );
    let open = get(&format!("bytes={}-", len - 5)).await.unwrap();
    assert_eq!(open.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(open.bytes().await.unwrap().len(), 5);
    for unsatisfiable in
        [format!("bytes={len}-"), "bytes=99999999999999999999999-".into(), "bytes=50-10".into(), "bytes=-0".into()]
    {
        let r = get(&unsatisfiable).await.unwrap();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{unsatisfiable}");
        assert_eq!(r.headers().get("content-range").unwrap().to_str().unwrap(), format!("bytes */{len}"));
    }
    let many = format!("bytes={}", vec!["0-1"; 3000].join(","));
    let r = app.client.get(app.url(&url)).header("Range", many).send().await.unwrap();
    assert!(r.status() == StatusCode::OK || r.status().is_client_error(), "{}", r.status());
    let head = app.client.head(app.url(&url)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers().get("content-length").unwrap().to_str().unwrap(), len.to_string());
    let head = app.client.head(app.url(&url)).header("Range", "bytes=0-9").send().await.unwrap();
    assert_eq!(head.status(), StatusCode::PARTIAL_CONTENT);
}

/// Open descriptors of this (test) process on `path`: the server runs in it.
fn open_handles(path: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return 0 };
    entries.flatten().filter(|e| std::fs::read_link(e.path()).is_ok_and(|target| target == path)).count()
}

async fn large_media_streams_exactly_and_lets_go(app: TestApp) {
    let (free, _) = lesson_ids(&app).await;
    let url = media_url_on_page(&app, free).await.unwrap();
    // Many times larger than any buffer on the way (storage chunks, actix's write buffer, and
    // the loopback socket buffers, so that the server is still reading when the client leaves).
    let file = app.data_dir.join("media/demo/video.mp4");
    let data: Vec<u8> = (0..40_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let file = file.canonicalize().unwrap();

    let full = app.get(&url).await;
    assert_eq!(full.status(), StatusCode::OK);
    let etag = full.headers().get("etag").expect("an ETag").to_str().unwrap().to_string();
    assert!(full.headers().get("last-modified").is_some());
    assert_eq!(full.headers().get("content-length").unwrap().to_str().unwrap(), data.len().to_string());
    assert!(full.bytes().await.unwrap() == data, "the whole file, byte for byte");

    let ranged = |range: String, if_range: Option<String>| {
        let mut r = app.client.get(app.url(&url)).header("Range", range);
        if let Some(v) = if_range {
            r = r.header("If-Range", v);
        }
        r.send()
    };
    let part = ranged("bytes=1000-4500000".into(), None).await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert!(part.bytes().await.unwrap() == data[1000..=4_500_000], "the range, byte for byte");
    let same = ranged("bytes=39999990-".into(), Some(etag.clone())).await.unwrap();
    assert_eq!(same.status(), StatusCode::PARTIAL_CONTENT, "If-Range with the current tag");
    assert!(same.bytes().await.unwrap() == data[39_999_990..]);
    let stale = ranged("bytes=0-9".into(), Some("\"an-older-version\"".into())).await.unwrap();
    assert_eq!(stale.status(), StatusCode::OK, "a changed file is sent whole");
    assert_eq!(stale.bytes().await.unwrap().len(), data.len());

    // A viewer that goes away mid-stream: the server drops the stream and closes the file.
    assert!(closes(&file).await, "finished downloads let go of the file");
    let mut response = app.get(&url).await;
    let first = response.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty() && first.len() < data.len());
    assert_eq!(open_handles(&file), 1, "streaming from the file, not from a copy in memory");
    drop(response);
    assert!(closes(&file).await, "the file is closed once the client has gone");
}

mod media_streams_are_limited_per_viewer_and_address {
    use crate::helpers::{Backend, spawn_app_with};
    async fn app(backend: Backend) -> Option<crate::helpers::TestApp> {
        spawn_app_with(backend, |s| {
            s.media_streams_per_viewer = 2;
            s.media_streams_per_ip = 3;
        })
        .await
    }
    #[tokio::test]
    async fn sqlite() {
        super::media_streams_are_limited_per_viewer_and_address(app(Backend::Sqlite).await.unwrap()).await
    }
    #[tokio::test]
    async fn postgres() {
        match app(Backend::Postgres).await {
            Some(app) => super::media_streams_are_limited_per_viewer_and_address(app).await,
            None => crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set"),
        }
    }
}

/// Two streams per viewer and three per address here: a third stream of the same viewer, or a
/// fourth from the address, gets 429 until one of the open ones ends.
async fn media_streams_are_limited_per_viewer_and_address(app: TestApp) {
    let (free, _) = lesson_ids(&app).await;
    let data = vec![7u8; 40_000_000];
    std::fs::write(app.data_dir.join("media/demo/video.mp4"), &data).unwrap();
    app.login_by_code("13800138115").await;
    let other = app.another_browser();
    other.login_by_code("13800138116").await;
    let mine = media_url_on_page(&app, free).await.unwrap();
    let theirs = media_url_on_page(&other, free).await.unwrap();

    let mut open = Vec::new();
    for _ in 0..2 {
        let response = app.get(&mine).await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let third = app.get(&mine).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS, "the viewer's limit");
    assert!(third.headers().get("retry-after").is_some());
    assert_eq!(app.client.head(app.url(&mine)).send().await.unwrap().status(), StatusCode::OK, "HEAD streams nothing");
    let theirs_open = other.get(&theirs).await;
    assert_eq!(theirs_open.status(), StatusCode::OK, "another viewer at the same address");
    assert_eq!(other.get(&theirs).await.status(), StatusCode::TOO_MANY_REQUESTS, "the address's limit");
    // A short range finishes at once and gives its slot back.
    drop(open.pop());
    // The server learns the client went away at its next write, and a finished range gives its
    // slot back as its last bytes leave, a moment after the client has them: poll, with a deadline.
    let range_once_a_slot_is_free = || async {
        let mut status = StatusCode::TOO_MANY_REQUESTS;
        for _ in 0..200 {
            status = app.client.get(app.url(&mine)).header("Range", "bytes=0-99").send().await.unwrap().status();
            if status != StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        status
    };
    assert_eq!(
        range_once_a_slot_is_free().await,
        StatusCode::PARTIAL_CONTENT,
        "a slot came back when a viewer went away"
    );
    assert_eq!(
        range_once_a_slot_is_free().await,
        StatusCode::PARTIAL_CONTENT,
        "and a finished range gives its slot back"
    );
    drop((open, theirs_open));
}

/// Waits up to 5 s for the server to close every handle on `path`.
async fn closes(path: &std::path::Path) -> bool {
    for _ in 0..50 {
        if open_handles(path) == 0 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

async fn traversal_payloads_get_nothing(app: TestApp) {
    let (free, _) = lesson_ids(&app).await;
    let url = media_url_on_page(&app, free).await.unwrap();
    let query = url.split_once('?').unwrap().1.to_string();
    for path in [
        format!("/media/{free}/..%2F..%2F..%2Fetc%2Fpasswd"),
        format!("/media/{free}/%2e%2e"),
        format!("/media/{free}/..%5Csession.key"),
        format!("/media/{free}/main.mp4%00.txt"),
        format!("/media/{free}/..%252Fsession.key"),
        "/media/..%2Fsession.key/main.mp4".into(),
        "/media/-1/main.mp4".into(),
        "/media/99999999999999999999/main.mp4".into(),
        format!("/media/{free}/session.key"),
        format!("/media/{free}/seg1.ts"),
        format!("/media/{free}/index.m3u8"),
        format!("/media/{free}/"),
    ] {
        let response = app.get(&format!("{path}?{query}")).await;
        let status = response.status();
        assert!(status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN, "{path}: {status}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("root:") && !body.contains("ftyp"), "{path} leaked");
    }
    for path in [
        "/courses/excel-data-analysis/lessons/..%2F1",
        "/courses/excel-data-analysis/lessons/abc",
        "/courses/python-zero-to-one/lessons/1",
    ] {
        assert_eq!(app.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

async fn progress_is_kept_and_resumed(app: TestApp) {
    let (free, paid) = lesson_ids(&app).await;
    app.login_by_code("13800138113").await;
    let post = |lesson: LessonId, token: Option<String>, body: &str| {
        let body = body.to_string();
        let mut r = app
            .client
            .post(app.url(&format!("/progress/{lesson}")))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.header("X-CSRF-Token", t);
        }
        r.send()
    };
    let (_, html) = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await;
    assert!(!html.contains("data-progress-url"), "nothing to report before buying");
    let token = crate::helpers::csrf_in(&app.get_html("/me").await.1);
    assert_eq!(
        post(paid, Some(token.clone()), r#"{"position":1,"duration":10}"#).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    let order_no = app.order_for(SLUG).await;
    app.pay_sandbox(&order_no).await;
    let html = unescape(&app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await.1);
    let token = html.split("data-csrf=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(
        post(paid, None, r#"{"position":30,"duration":100}"#).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "no CSRF header"
    );
    for bad in [
        r#"{"position":-1,"duration":100}"#,
        r#"{"position":500,"duration":100}"#,
        r#"{"position":1,"duration":0}"#,
        r#"{"position":"x"}"#,
        "not json",
    ] {
        assert_eq!(post(paid, Some(token.clone()), bad).await.unwrap().status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        post(paid, Some(token.clone()), r#"{"position":30,"duration":100}"#).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // A learner pausing and playing quickly reports again at once: taken, never refused.
    let body = r#"{"position":31,"duration":100}"#;
    assert_eq!(post(paid, Some(token.clone()), body).await.unwrap().status(), StatusCode::NO_CONTENT);
    // A minute later (as far as the shop can tell) they are near the end.
    app.age_progress(60).await;
    let body = r#"{"position":95,"duration":100}"#;
    assert_eq!(post(paid, Some(token.clone()), body).await.unwrap().status(), StatusCode::NO_CONTENT);
    let html = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await.1;
    assert!(html.contains("data-resume=\"95\""), "a report not yet written is seen at once");
    app.flush_progress().await;
    assert_eq!(
        post(paid, Some(token.clone()), r#"{"position":12,"duration":100}"#).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let html = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await.1;
    assert!(html.contains("data-resume=\"12\"") && html.contains("class=\"done\""), "resumes, completed stays");
    // Not flushed by hand: the background batch writes it within a few intervals.
    let mut stored = None;
    for _ in 0..50 {
        let row: Option<(i64, i64, Option<i64>)> =
            sqlx::query_as("SELECT last_position_secs, furthest_secs, completed_at FROM lesson_progress")
                .fetch_optional(app.db.read())
                .await
                .unwrap();
        if row.is_some_and(|r| r.0 == 12) {
            stored = row;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(stored.is_some(), "the batch was written");
    let (last, furthest, completed): (i64, i64, Option<i64>) =
        sqlx::query_as("SELECT last_position_secs, furthest_secs, completed_at FROM lesson_progress")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!((last, furthest), (12, 95));
    assert!(completed.is_some(), "90% watched counts as completed, and stays so");

    let html = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await.1;
    assert!(html.contains("data-resume=\"12\""), "resumes where they stopped");

    // While a batch is being written (held here behind a lock on the table), pages still see it.
    let mut hold = app.db.write().begin().await.unwrap();
    let lock = match app.db.backend() {
        kedian::store::Backend::Postgres => "LOCK TABLE lesson_progress IN EXCLUSIVE MODE",
        kedian::store::Backend::Sqlite => "UPDATE lesson_progress SET updated_at = updated_at WHERE 1 = 0",
    };
    sqlx::query(lock).execute(&mut *hold).await.unwrap();
    let body = r#"{"position":40,"duration":100}"#;
    assert_eq!(post(paid, Some(token.clone()), body).await.unwrap().status(), StatusCode::NO_CONTENT);
    let (progress, db) = (app.progress.clone(), app.db.clone());
    let flushing = tokio::spawn(async move { progress.flush(&db).await });
    crate::helpers::eventually("the report is taken into a batch", || async { app.progress.pending() == 0 }).await;
    let html = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await.1;
    assert!(html.contains("data-resume=\"40\""), "a batch being written is still seen");
    hold.rollback().await.unwrap();
    flushing.await.unwrap().unwrap();
    let html = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await.1;
    assert!(html.contains("data-resume=\"40\""), "and once it is written");
    assert!(html.contains("已学 1/7 节") && html.contains("class=\"done\""));
    let (_, mine) = app.get_html("/me/courses").await;
    assert!(mine.contains("Excel 数据分析实战") && mine.contains("已学 1/7 节") && mine.contains("继续学习"));
    let (_, course) = app.get_html(&format!("/courses/{SLUG}")).await;
    assert!(course.contains("已学 1/7 节"));
    assert!(
        course.contains(&format!("/courses/{SLUG}/lessons/{free}\">已购买")),
        "continue with the first lesson not yet done"
    );
}

/// A report is the browser's word: one saying a lesson was watched to the end, or that the lesson
/// is a second long, completes nothing; watching, as far as the shop can tell, does.
async fn forged_reports_complete_nothing(app: TestApp) {
    let (_, paid) = lesson_ids(&app).await;
    app.login_by_code("13800138115").await;
    let order_no = app.order_for(SLUG).await;
    app.pay_sandbox(&order_no).await;
    let other: LessonId = sqlx::query_scalar(
        "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id \
         WHERE c.slug = $1 AND l.id <> $2 AND l.kind = 'video' AND l.free_preview = 0 ORDER BY l.id LIMIT 1",
    )
    .bind(SLUG)
    .bind(paid)
    .fetch_one(app.db.read())
    .await
    .unwrap();
    // The shop measured this one's media: ten minutes.
    sqlx::query("UPDATE lessons SET media_duration_secs = 600 WHERE id = $1")
        .bind(other)
        .execute(app.db.write())
        .await
        .unwrap();
    app.db.lessons_changed();
    assert_eq!(app.report_progress(SLUG, paid, 3600, 3600).await, StatusCode::NO_CONTENT);
    assert_eq!(app.report_progress(SLUG, other, 1, 1).await, StatusCode::NO_CONTENT);
    app.flush_progress().await;
    let db = app.db.clone();
    let stored = |lesson: LessonId| {
        let db = db.clone();
        async move {
            sqlx::query_as::<_, (i64, i64, i64, Option<i64>)>(
            "SELECT last_position_secs, furthest_secs, duration_secs, completed_at FROM lesson_progress WHERE lesson_id = $1",
        )
        .bind(lesson)
        .fetch_one(db.read())
        .await
        .unwrap()
        }
    };
    assert_eq!(stored(paid).await, (3600, 30, 3600, None), "credited what 30 s could play");
    assert_eq!(stored(other).await, (1, 1, 600, None), "the measured duration, not the reported one");
    let (_, course) = app.get_html(&format!("/courses/{SLUG}")).await;
    assert!(course.contains("已学 0/7 节"), "nothing completed");
    // Ten minutes later (as far as the shop can tell), at the end: watched.
    app.age_progress(600).await;
    assert_eq!(app.report_progress(SLUG, other, 600, 600).await, StatusCode::NO_CONTENT);
    app.flush_progress().await;
    let (_, furthest, _, completed) = stored(other).await;
    assert!(furthest == 600 && completed.is_some(), "completed once it could have been watched");
}

async fn articles_complete_at_a_readers_pace(app: TestApp) {
    let slug = "product-manager-notes";
    let lesson = app.catalog.snapshot().course(slug).unwrap().lessons().find(|l| !l.free_preview).unwrap().id;
    // 6,000 characters: ten minutes at a brisk 600 a minute.
    sqlx::query("UPDATE lessons SET body = $1 WHERE id = $2")
        .bind("读".repeat(6000))
        .bind(lesson)
        .execute(app.db.write())
        .await
        .unwrap();
    app.db.lessons_changed();
    app.login_by_code("13800138116").await;
    app.bought(slug).await;
    let stored = || async {
        app.flush_progress().await;
        sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT furthest_secs, completed_at FROM lesson_progress WHERE lesson_id = $1",
        )
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap()
    };
    // Scrolled to the end at once: the first half-minute of reading counts, 5%.
    assert_eq!(app.report_progress(slug, lesson, 100, 100).await, StatusCode::NO_CONTENT);
    assert_eq!(stored().await, (5, None));
    // Reports every few seconds add no more than the time that passed allows.
    for _ in 0..5 {
        assert_eq!(app.report_progress(slug, lesson, 100, 100).await, StatusCode::NO_CONTENT);
    }
    let (share, completed) = stored().await;
    assert!(share < 50 && completed.is_none(), "a stream of reports is not reading: {share}");
    // Five minutes on the page later (at twice the brisk pace), the end is read.
    app.age_progress(300).await;
    assert_eq!(app.report_progress(slug, lesson, 100, 100).await, StatusCode::NO_CONTENT);
    let (share, completed) = stored().await;
    assert!(share == 100 && completed.is_some(), "completed once it could have been read: {share}");
    let (_, course) = app.get_html(&format!("/courses/{slug}")).await;
    assert!(course.contains("已学 1/"), "the course counts it");
}

async fn articles_and_live_sessions_render(app: TestApp) {
    let catalog = app.catalog.snapshot();
    let column = catalog.course("product-manager-notes").unwrap();
    let article = column.lessons().find(|l| l.free_preview).unwrap().id;
    let (_, html) = app.get_html(&format!("/courses/product-manager-notes/lessons/{article}")).await;
    assert!(
        html.contains("<h2>三个标准</h2>") && html.contains("<strong>做什么、为什么做、做到什么程度算完成</strong>")
    );
    assert!(html.contains("id=\"article-end\""));

    let live = catalog.course("short-video-bootcamp").unwrap();
    let session = live.lessons().find(|l| l.starts_at.is_some()).unwrap().id;
    app.login_by_code("13800138114").await;
    let order_no = app.order_for("short-video-bootcamp").await;
    app.pay_sandbox(&order_no).await;
    let (_, html) = app.get_html(&format!("/courses/short-video-bootcamp/lessons/{session}")).await;
    assert!(html.contains("即将开播") && html.contains("20:00"), "upcoming, in Beijing time");
}

/// Saves a lesson's schedule through the editor, as staff do.
pub(crate) async fn schedule(staff: &TestApp, lesson: LessonId, day: &str, at: &str) -> reqwest::Response {
    let editor = format!("/admin/lessons/{lesson}");
    let fields = [
        ("body", ""),
        ("notes", ""),
        ("live_url", ""),
        ("starts_at", ""),
        ("assignment", ""),
        ("unlock_day", day),
        ("unlock_at", at),
    ];
    staff.submit(&editor, &format!("{editor}/content"), &fields).await
}

/// Moves the learner's purchase back in time, as if `days` Beijing days had passed.
async fn age_purchase(app: &TestApp, user: i64, secs: i64) {
    sqlx::query("UPDATE entitlements SET granted_at = granted_at - $1 WHERE user_id = $2")
        .bind(secs)
        .bind(user)
        .execute(app.db.write())
        .await
        .unwrap();
    app.db.access_changed();
}

async fn scheduled_lessons_open_day_by_day(app: TestApp) {
    let (_, paid) = lesson_ids(&app).await;
    let staff = app.staff().await;
    for (day, at, field) in [
        ("-1", "", "unlock_day"),
        ("3651", "", "unlock_day"),
        ("2", "2027-01-01T20:00", "unlock_at"),
        ("", "明天", "unlock_at"),
    ] {
        let refused = schedule(&staff, paid, day, at).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{day} {at}");
        assert!(refused.text().await.unwrap().contains(&format!("id=\"{field}-error\"")), "{day} {at}");
    }
    assert_eq!(schedule(&staff, paid, "2", "").await.status(), StatusCode::SEE_OTHER);
    let (_, course_page) = app.get_html(&format!("/courses/{SLUG}")).await;
    assert!(course_page.contains("购买 2 天后解锁"), "the syllabus says when it opens");

    app.login_by_code("13800138501").await;
    app.bought(SLUG).await;
    let me = user_id(&app, "13800138501").await;
    let url = signed(&app, me, paid, "main.mp4");
    let (status, page) = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("本节将于") && page.contains("00:00（北京时间）解锁"), "the owner is told when");
    assert!(media_url_on_page(&app, paid).await.is_none(), "no media URL before its day");
    assert_eq!(app.get(&url).await.status(), StatusCode::FORBIDDEN, "nor the media, even correctly signed");
    let token = crate::helpers::csrf_in(&app.get_html("/me").await.1);
    let report = app
        .client
        .post(app.url(&format!("/progress/{paid}")))
        .header("Content-Type", "application/json")
        .header("X-CSRF-Token", token)
        .body(r#"{"position":30,"duration":600}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::FORBIDDEN, "nor progress");

    // A day later it is still shut (day 2 opens at 00:00 Beijing time two days after the purchase).
    age_purchase(&app, me, 86_400).await;
    assert!(media_url_on_page(&app, paid).await.is_none());
    age_purchase(&app, me, 86_400).await;
    assert!(media_url_on_page(&app, paid).await.is_some(), "open on its day");
    assert_eq!(app.get(&url).await.status(), StatusCode::OK);

    // A moment for everyone: shut until then whenever the learner bought, open after.
    let later = kedian::domain::time::shanghai_datetime_value(now() + 3 * 86_400);
    assert_eq!(schedule(&staff, paid, "", &later).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&url).await.status(), StatusCode::FORBIDDEN);
    let (_, page) = app.get_html(&format!("/courses/{SLUG}/lessons/{paid}")).await;
    assert!(page.contains(&later.replace('T', " ")), "{later}");
    let earlier = kedian::domain::time::shanghai_datetime_value(now() - 60);
    assert_eq!(schedule(&staff, paid, "", &earlier).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&url).await.status(), StatusCode::OK);
}
