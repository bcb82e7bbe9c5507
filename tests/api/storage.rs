//! Media and uploads in object storage: a real S3-protocol server (moto's, which `.ci/run`
//! starts; `KEDIAN_TEST_S3_URL`) behind a switchable proxy, so a test can take storage down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kedian::domain::staff::Role;
use reqwest::StatusCode;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Backend, TestApp, spawn_app_with, unescape};

const DEMO_VIDEO: &[u8] = include_bytes!("../../src/media/demo_media/video.mp4");

/// A TCP proxy to the S3 server that can refuse every connection (storage down).
struct Proxy {
    url: String,
    down: Arc<AtomicBool>,
}

async fn proxy(to: String) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let down = Arc::new(AtomicBool::new(false));
    let flag = down.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if flag.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let to = to.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Proxy { url, down }
}

struct Bucketed {
    app: TestApp,
    proxy: Proxy,
    s3: String,
    bucket: String,
}

async fn storage_app(backend: Backend) -> Option<Bucketed> {
    let Ok(s3) = std::env::var("KEDIAN_TEST_S3_URL") else {
        crate::helpers::skip("KEDIAN_TEST_S3_URL is not set (an S3-protocol server, e.g. moto_server)");
        return None;
    };
    if backend == Backend::Postgres && std::env::var("KEDIAN_TEST_POSTGRES_URL").is_err() {
        crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set");
        return None;
    }
    let bucket = format!("kedian-test-{}", hex::encode(rand::random::<[u8; 6]>()));
    let made = reqwest::Client::new().put(format!("{s3}/{bucket}")).send().await.expect("S3 server reachable");
    assert!(made.status().is_success(), "bucket created: {}", made.status());
    let proxy = proxy(s3.trim_start_matches("http://").trim_end_matches('/').to_string()).await;
    let endpoint = proxy.url.clone();
    let bucket_name = bucket.clone();
    let app = spawn_app_with(backend, move |s| {
        let path = s.data_dir.join("storage.toml");
        std::fs::write(
            &path,
            format!(
                "service = \"s3\"\nbucket = \"{bucket_name}\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\n\
                 access_key_id = \"test\"\nsecret_access_key = \"test\"\nroot = \"/shop\"\n"
            ),
        )
        .unwrap();
        s.storage_config = Some(path);
    })
    .await?;
    Some(Bucketed { app, proxy, s3, bucket })
}

crate::on_both_backends!(
    setup = storage_app;
    lessons_stream_from_the_bucket_with_ranges,
    uploads_go_to_the_bucket_and_an_outage_changes_nothing,
    covers_and_posters_are_served_from_the_bucket,
);

async fn covers_and_posters_are_served_from_the_bucket(b: Bucketed) {
    let app = &b.app;
    app.make_staff("13900000001", Role::Operator).await;
    let staff = app.staff_as("13900000001").await;
    let course: i64 = sqlx::query_scalar("SELECT id FROM courses WHERE slug = 'excel-data-analysis'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let editor = format!("/admin/courses/{course}");
    let picture = crate::shop_settings::png(1000, 1000);
    let done =
        staff.submit_multipart(&editor, &format!("{editor}/cover"), &[], vec![("cover", "c.png", picture)]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, page) = app.get_html("/courses/excel-data-analysis").await;
    let cover =
        page.split("class=\"course-cover\" src=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
    let name = cover.strip_prefix("/files/").unwrap();
    assert!(in_bucket_under(&b, "public", name).await.is_some(), "the cover is in the bucket");
    assert!(!app.data_dir.join("public").join(name).exists());
    let served = app.get(&cover).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert!(served.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(image::load_from_memory(&served.bytes().await.unwrap()).unwrap().width(), 1280);
    // Nothing but pictures under plain names: no way into the rest of the bucket.
    for path in ["/files/../media/demo/video.mp4", "/files/x.mp4", "/files/%2e%2e/media/demo/video.mp4"] {
        assert_eq!(app.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // A learner's evidence goes to the bucket's uploads/, and only its owner gets it back.
    let learner = app.another_browser();
    learner.login_by_code("13800138602").await;
    let order_no = learner.bought("excel-data-analysis").await;
    let asked = learner
        .request_refund(&order_no, "quality", vec![("evidence", "截图.png", crate::refunds::PNG.to_vec())])
        .await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let key: String = sqlx::query_scalar("SELECT storage_key FROM attachments").fetch_one(app.db.read()).await.unwrap();
    assert!(same(in_bucket_under(&b, "uploads", &key).await, crate::refunds::PNG), "the evidence is in the bucket");
    assert!(!app.data_dir.join("uploads").join(&key).exists());

    if kedian::media::poster::font().is_some() {
        let poster = app.get("/courses/excel-data-analysis/poster.png").await;
        let to = crate::helpers::location(&poster);
        assert!(to.starts_with("/files/posters/poster-"), "{to}");
        assert!(in_bucket_under(&b, "public", to.strip_prefix("/files/").unwrap()).await.is_some());
        let png = app.get(&to).await;
        assert_eq!(png.headers()["content-type"], "image/png");
    }
}

/// The object under `shop/media/` as the bucket holds it, read straight from the S3 server.
async fn in_bucket(b: &Bucketed, key: &str) -> Option<Vec<u8>> {
    in_bucket_under(b, "media", key).await
}

async fn in_bucket_under(b: &Bucketed, prefix: &str, key: &str) -> Option<Vec<u8>> {
    use kedian::media::storage::MediaStore;
    let cfg = kedian::media::object_store::StorageConfig {
        service: "s3".into(),
        bucket: b.bucket.clone(),
        endpoint: b.s3.clone(),
        region: Some("us-east-1".into()),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        root: "/shop".into(),
    };
    let store = kedian::media::object_store::ObjectStore::open(&cfg, prefix).unwrap();
    let len = store.len(key).await.unwrap()?;
    Some(store.read_range(key, 0, len.saturating_sub(1)).await.unwrap())
}

/// Compares by length and digest, so a failure does not print a whole video.
fn same(got: Option<Vec<u8>>, want: &[u8]) -> bool {
    use sha2::Digest;
    got.is_some_and(|g| g.len() == want.len() && sha2::Sha256::digest(&g) == sha2::Sha256::digest(want))
}

async fn free_media_url(app: &TestApp) -> String {
    let catalog = app.catalog.snapshot();
    let course = catalog.course("excel-data-analysis").unwrap();
    let free = course.lessons().find(|l| l.free_preview).unwrap().id;
    let (_, html) = app.get_html(&format!("/courses/excel-data-analysis/lessons/{free}")).await;
    let html = unescape(&html);
    format!("/media/{}", html.split("src=\"/media/").nth(1).unwrap().split('"').next().unwrap())
}

async fn lessons_stream_from_the_bucket_with_ranges(b: Bucketed) {
    let app = &b.app;
    assert!(same(in_bucket(&b, "demo/video.mp4").await, DEMO_VIDEO), "the demo media went up");
    assert!(!app.data_dir.join("media/demo/video.mp4").exists(), "nothing on the local disk");
    let url = free_media_url(app).await;
    let whole = app.get(&url).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-length"].to_str().unwrap(), DEMO_VIDEO.len().to_string());
    let etag = whole.headers()["etag"].to_str().unwrap().to_string();
    assert!(same(Some(whole.bytes().await.unwrap().to_vec()), DEMO_VIDEO));
    let part = app.client.get(app.url(&url)).header("Range", "bytes=100-4099").send().await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"].to_str().unwrap(), format!("bytes 100-4099/{}", DEMO_VIDEO.len()));
    assert!(same(Some(part.bytes().await.unwrap().to_vec()), &DEMO_VIDEO[100..4100]));
    let tail =
        app.client.get(app.url(&url)).header("Range", "bytes=-10").header("If-Range", &etag).send().await.unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert!(same(Some(tail.bytes().await.unwrap().to_vec()), &DEMO_VIDEO[DEMO_VIDEO.len() - 10..]));
    // The bucket is never handed out: the page's URL is the shop's, signed for the viewer.
    assert!(url.starts_with("/media/") && url.contains("&s="));
    let past_end = app.client.get(app.url(&url)).header("Range", "bytes=99999999-").send().await.unwrap();
    assert_eq!(past_end.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

async fn uploads_go_to_the_bucket_and_an_outage_changes_nothing(b: Bucketed) {
    let app = &b.app;
    app.make_staff("13900000001", Role::Operator).await;
    let staff = app.staff_as("13900000001").await;
    let course: i64 = sqlx::query_scalar("SELECT id FROM courses WHERE slug = 'excel-data-analysis'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let lesson: i64 = sqlx::query_scalar("SELECT MIN(id) FROM lessons WHERE course_id = $1 AND kind = 'video'")
        .bind(course)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let (editor, action) = (format!("/admin/courses/{course}"), format!("/admin/lessons/{lesson}/media"));
    let media_key = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT media_key FROM lessons WHERE id = $1")
            .bind(lesson)
            .fetch_one(app.db.read())
            .await
            .unwrap()
    };

    // Storage down: a clear page, and the lesson still points at its old, whole file.
    let before = media_key().await;
    b.proxy.down.store(true, Ordering::SeqCst);
    let refused =
        staff.submit_multipart(&editor, &action, &[], vec![("media", "lesson.mp4", DEMO_VIDEO.to_vec())]).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.text().await.unwrap().contains("存储暂时不可用"));
    assert_eq!(media_key().await, before, "nothing points at a half-written file");
    let url = free_media_url(app).await;
    let viewer = app.get(&url).await;
    assert_eq!(viewer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(viewer.headers().get("retry-after").is_some());
    assert!(viewer.text().await.unwrap().contains("不会丢失"));
    let readiness = app.get("/readyz").await;
    assert_eq!(readiness.status(), StatusCode::SERVICE_UNAVAILABLE, "not ready without storage");
    assert!(readiness.text().await.unwrap().contains("storage: unavailable"));
    b.proxy.down.store(false, Ordering::SeqCst);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK, "ready again once it answers");
    let listed = reqwest::get(format!("{}/{}?list-type=2&prefix=shop/media/lessons/", b.s3, b.bucket))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("<Key>"), "no partial object in the bucket: {listed}");

    // Back up: the upload goes to the bucket (multipart), and the lesson plays it.
    let uploaded =
        staff.submit_multipart(&editor, &action, &[], vec![("media", "lesson.mp4", DEMO_VIDEO.to_vec())]).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let key = media_key().await.expect("the lesson has its upload");
    assert!(key.starts_with(&format!("lessons/{lesson}/upload-")), "{key}");
    assert!(same(in_bucket(&b, &key).await, DEMO_VIDEO), "the upload is in the bucket, whole");
    assert!(!app.data_dir.join("media").join(&key).exists());

    // With ffmpeg, the upload is fetched from the bucket, packaged as encrypted HLS, and the
    // segments and playlist go back to the bucket.
    if !kedian::media::package::ffmpeg_available() {
        return crate::helpers::skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)");
    }
    let mut packaged = None;
    for _ in 0..300 {
        packaged = sqlx::query_scalar::<_, Option<String>>("SELECT hls_dir FROM lessons WHERE id = $1")
            .bind(lesson)
            .fetch_one(app.db.read())
            .await
            .unwrap();
        if packaged.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let dir = packaged.expect("packaged within 30 s");
    let playlist = in_bucket(&b, &format!("{dir}/index.m3u8")).await.expect("the playlist is in the bucket");
    assert!(String::from_utf8_lossy(&playlist).contains("seg000.ts"));
    assert!(in_bucket(&b, &format!("{dir}/seg000.ts")).await.is_some());
}

/// A scheduled backup also goes to the bucket; another machine restores it from there.
#[tokio::test]
async fn backups_go_off_site_and_restore_from_the_bucket() {
    let Some(b) = storage_app(Backend::Sqlite).await else { return };
    let app = &b.app;
    app.login_by_code("13800138601").await;
    let order_no = app.bought("excel-data-analysis").await;
    let mut settings = crate::helpers::test_settings(&app.data_dir, &app.database_url);
    settings.storage_config = Some(app.data_dir.join("storage.toml"));
    let now = kedian::domain::time::now();
    let (made, _) = kedian::backup::make_and_ship(&app.db, &settings, now).await.unwrap();
    let name = made.database.file_name().unwrap().to_str().unwrap().to_string();
    let store = kedian::backup::offsite(&settings).unwrap().unwrap();
    assert!(store.list().await.unwrap().contains(&name), "the backup is in the bucket");

    // Another machine: an empty data directory, the same bucket.
    let elsewhere = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/kedian.db", elsewhere.path().display());
    let mut there = crate::helpers::test_settings(elsewhere.path(), &url);
    there.storage_config = settings.storage_config.clone();
    let fetched = kedian::backup::fetch(&there, &name, &there.backups_dir()).await.unwrap();
    let restored = kedian::backup::restore(&there, &fetched, false, now).await.unwrap();
    let verified = kedian::backup::verify(&restored).await.unwrap();
    assert_eq!(verified.integrity, "ok");
    let db = kedian::store::Db::connect(&url).await.unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(db.read())
        .await
        .unwrap();
    assert_eq!(status, "paid", "the paid order came back from the bucket");
    assert!(kedian::backup::fetch(&there, "kedian-20200101-000000.db", &there.backups_dir()).await.is_err());
}

async fn accel_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |s| s.media_accel = true).await
}

crate::on_both_backends!(setup = accel_app; behind_nginx_the_shop_checks_and_hands_media_over);

/// With `media_accel` (the kit's nginx in front), a lesson GET that passes every check is answered
/// with an X-Accel-Redirect into the media directory's internal location and no bytes; a request
/// that fails a check is refused as before, with nothing handed over; HEAD is still the shop's.
async fn behind_nginx_the_shop_checks_and_hands_media_over(app: TestApp) {
    let url = free_media_url(&app).await;
    let handed = app.client.get(app.url(&url)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(handed.status(), StatusCode::OK);
    assert_eq!(handed.headers()["x-accel-redirect"], "/_kedian_media/demo/video.mp4");
    assert_eq!(handed.headers()["content-type"], "video/mp4");
    assert_eq!(handed.headers()["cache-control"], "private, no-store");
    assert!(
        handed.headers()["x-kedian-viewer"].to_str().unwrap().starts_with("ip:"),
        "a signed-out viewer is its address"
    );
    assert!(handed.headers().get("content-encoding").is_none(), "nginx would pass an encoding on to the bytes");
    assert!(handed.bytes().await.unwrap().is_empty());

    let head = app.client.head(app.url(&url)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().get("x-accel-redirect").is_none());
    assert_eq!(head.headers()["content-length"], DEMO_VIDEO.len().to_string());

    let forged = url.replace("&s=", "&s=0");
    let refused = app.get(&forged).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers().get("x-accel-redirect").is_none());
}
