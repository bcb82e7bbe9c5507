//! Uploads in the course editor: covers come out at the page sizes; lesson media is streamed to
//! disk within the configured limit, judged by its content, and packaged as HLS when ffmpeg is
//! there.

use std::process::Command;

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::TestApp;
use crate::shop_settings::png;

mod covers {
    use super::*;
    use crate::on_both_backends;

    on_both_backends!(covers_are_cropped_to_the_page_sizes);

    async fn covers_are_cropped_to_the_page_sizes(app: TestApp) {
        app.make_staff("13900000001", Role::Operator).await;
        let staff = app.staff_as("13900000001").await;
        let id = app.course_id("excel-data-analysis").await;
        let editor = format!("/admin/courses/{id}");
        let action = format!("{editor}/cover");
        let fake = staff
            .submit_multipart(&editor, &action, &[], vec![("cover", "a.png", b"<html>not a picture".to_vec())])
            .await;
        assert_eq!(fake.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(fake.text().await.unwrap().contains("id=\"cover-error\""));
        let broken =
            staff.submit_multipart(&editor, &action, &[], vec![("cover", "b.png", crate::refunds::PNG.to_vec())]).await;
        assert_eq!(broken.status(), StatusCode::UNPROCESSABLE_ENTITY, "a PNG header alone is not a picture");
        let huge = staff
            .submit_multipart(
                &editor,
                &action,
                &[],
                vec![("cover", "c.png", [png(10, 10), vec![0; 11 << 20]].concat())],
            )
            .await;
        assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

        let done = staff.submit_multipart(&editor, &action, &[], vec![("cover", "封面.png", png(1000, 1000))]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let (_, page) = app.get_html("/courses/excel-data-analysis").await;
        let big =
            page.split("class=\"course-cover\" src=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
        assert!(big.starts_with(&format!("/files/cover-{id}-")) && big.ends_with("-1280.jpg"), "{big}");
        let (_, cards) = app.get_html("/courses").await;
        let small = big.replace("-1280.jpg", "-640.jpg");
        assert!(cards.contains(&small), "cards use the small size");
        for (url, size) in [(&big, (1280, 720)), (&small, (640, 360))] {
            let file = app.get(url).await;
            assert!(file.headers()["cache-control"].to_str().unwrap().contains("immutable"));
            let shown = image::load_from_memory(&file.bytes().await.unwrap()).unwrap();
            assert_eq!((shown.width(), shown.height()), size);
        }
        assert_eq!(audit_actions(&app).await.iter().filter(|a| *a == "course.cover").count(), 1);
    }
}

/// A 1 MB limit, so the test can go over it without sending gigabytes.
mod lesson_media {
    use crate::helpers::{Backend, spawn_app_with};

    #[tokio::test]
    async fn sqlite() {
        let app = spawn_app_with(Backend::Sqlite, |s| s.media_upload_mb = 1).await.expect("app");
        super::lesson_media_is_limited_judged_and_packaged(app).await;
    }

    #[tokio::test]
    async fn postgres() {
        match spawn_app_with(Backend::Postgres, |s| s.media_upload_mb = 1).await {
            Some(app) => super::lesson_media_is_limited_judged_and_packaged(app).await,
            None => crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set"),
        }
    }
}

async fn lesson_media_is_limited_judged_and_packaged(app: TestApp) {
    app.make_staff("13900000001", Role::Operator).await;
    let staff = app.staff_as("13900000001").await;
    let id = app.course_id("excel-data-analysis").await;
    let lesson: i64 = sqlx::query_scalar("SELECT MIN(id) FROM lessons WHERE course_id = $1")
        .bind(id)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let editor = format!("/admin/courses/{id}");
    let action = format!("/admin/lessons/{lesson}/media");
    let before: Option<String> = sqlx::query_scalar("SELECT media_key FROM lessons WHERE id = $1")
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap();

    let script = staff
        .submit_multipart(&editor, &action, &[], vec![("media", "lesson.mp4", b"#!/bin/sh\nrm -rf /".to_vec())])
        .await;
    assert_eq!(script.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut big = b"\0\0\0\x20ftypisom\0\0\x02\0".to_vec();
    big.resize(1_300_000, 0);
    let too_big = staff.submit_multipart(&editor, &action, &[], vec![("media", "big.mp4", big)]).await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let after: Option<String> = sqlx::query_scalar("SELECT media_key FROM lessons WHERE id = $1")
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(after, before, "refused uploads change nothing");

    if !kedian::media::package::ffmpeg_available() {
        crate::helpers::skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)");
        return;
    }
    let clip = app.data_dir.join("upload.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x90:rate=10:duration=2",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(made.success());
    let bytes = std::fs::read(&clip).unwrap();
    let sent = staff.submit_multipart(&editor, &action, &[], vec![("media", "第一课.mp4", bytes)]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let key: Option<String> = sqlx::query_scalar("SELECT media_key FROM lessons WHERE id = $1")
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert!(key.as_deref().is_some_and(|k| k.starts_with(&format!("lessons/{lesson}/upload-")) && k.ends_with(".mp4")));
    let measured: Option<i64> = sqlx::query_scalar("SELECT media_duration_secs FROM lessons WHERE id = $1")
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(measured, Some(2), "the shop measures how long the upload plays");
    let mut packaged = None;
    for _ in 0..120 {
        packaged = sqlx::query_scalar::<_, Option<String>>("SELECT hls_dir FROM lessons WHERE id = $1")
            .bind(lesson)
            .fetch_one(app.db.read())
            .await
            .unwrap();
        if packaged.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(
        packaged.as_deref(),
        Some(format!("lessons/{lesson}/hls").as_str()),
        "packaged as HLS in the background"
    );
    assert_eq!(audit_actions(&app).await.iter().filter(|a| *a == "lesson.media").count(), 1);
}
