//! HLS: ffmpeg makes a few seconds of video, `kedian media package` encrypts it, the segments
//! decrypt with the key the shop serves to an owner, and a non-owner gets no key.

use std::process::Command;

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use reqwest::StatusCode;

use crate::helpers::{TestApp, unescape};
use crate::on_both_backends;

on_both_backends!(packaged_lessons_stream_encrypted_hls);

fn attr(text: &str, name: &str) -> String {
    text.split(&format!("{name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string()
}

async fn packaged_lessons_stream_encrypted_hls(app: TestApp) {
    if !kedian::media::package::ffmpeg_available() {
        crate::helpers::skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)");
        return;
    }
    let clip = app.data_dir.join("clip.mp4");
    make_clip(&clip, "160x90");
    let catalog = app.catalog.snapshot();
    let course = catalog.course("excel-data-analysis").unwrap();
    let paid = course.lessons().find(|l| !l.free_preview).unwrap().id;

    assert!(package(&app, paid, &clip).contains("encrypted segments"));
    let leftovers =
        walk(&app.data_dir).into_iter().filter(|p| p.ends_with("enc.key") || p.ends_with(".keyinfo")).count();
    assert_eq!(leftovers, 0, "the key exists only in the database");

    app.login_by_code("13800138120").await;
    let order_no = app.order_for("excel-data-analysis").await;
    app.pay_sandbox(&order_no).await;
    let page = unescape(&app.get_html(&format!("/courses/excel-data-analysis/lessons/{paid}")).await.1);
    assert!(page.contains("/static/vendor/hls.min.js"), "hls.js for browsers without native HLS");
    assert!(page.contains("data-mp4=\"/media/") && page.contains("main.mp4"), "MP4 stays as the fallback");
    assert!(
        !page
            .contains("<video id=\"media\" controls playsinline preload=\"metadata\" controlslist=\"nodownload\" src="),
        "the player picks HLS or the MP4, not both"
    );
    let playlist_url = attr(&page, "data-hls");
    let playlist_response = app.get(&playlist_url).await;
    assert_eq!(playlist_response.status(), StatusCode::OK);
    assert_eq!(playlist_response.headers().get("content-type").unwrap(), "application/vnd.apple.mpegurl");
    let playlist = playlist_response.text().await.unwrap();
    let key_line = playlist.lines().find(|l| l.starts_with("#EXT-X-KEY")).expect("an encrypted playlist");
    assert!(key_line.contains("METHOD=AES-128"));
    let base = playlist_url.rsplit_once('/').unwrap().0.to_string();
    let key_uri = attr(key_line, "URI");
    let iv_hex = key_line.split("IV=0x").nth(1).unwrap().trim();
    let segment = playlist.lines().find(|l| l.starts_with("seg")).unwrap();
    assert!(key_uri.starts_with("key?u=") && segment.contains("?u="), "every URI is signed for this viewer");

    decrypts(&app, &base, &key_uri, iv_hex, segment).await;

    // A 720p source is packaged twice, HD and SD, under a master playlist the player offers as 清晰度.
    let clip = app.data_dir.join("clip720.mp4");
    make_clip(&clip, "1280x720");
    package(&app, paid, &clip);
    // Re-encrypted by another process while the server runs: the new playlist and the new key
    // are served together at once, not after the cache's TTL.
    let master = app.get(&playlist_url).await.text().await.unwrap();
    let variants: Vec<&str> = master.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    assert_eq!(variants.len(), 2, "{master}");
    assert!(variants[0].starts_with("hd.m3u8?u=") && variants[1].starts_with("sd.m3u8?u="), "{master}");
    assert!(master.contains("RESOLUTION=1280x720") && master.contains("RESOLUTION=640x360"), "{master}");
    for (variant, prefix) in variants.iter().zip(["hd", "sd"]) {
        let playlist = app.get(&format!("{base}/{variant}")).await.text().await.unwrap();
        let key_line = playlist.lines().find(|l| l.starts_with("#EXT-X-KEY")).expect("each rendition is encrypted");
        let segment = playlist.lines().find(|l| l.starts_with(prefix)).expect("its own segments");
        assert!(segment.contains("?u="), "signed");
        decrypts(&app, &base, &attr(key_line, "URI"), key_line.split("IV=0x").nth(1).unwrap().trim(), segment).await;
    }
    let unsigned = app.get(&format!("{base}/hd.m3u8")).await;
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN, "a rendition's playlist needs the viewer's signature");

    // A learner who does not own the course gets no key, even with a correctly signed URL.
    app.logout().await;
    app.age_codes(61).await;
    app.login_by_code("13800138121").await;
    let stranger: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13800138121'").fetch_one(app.db.read()).await.unwrap();
    let master = kedian::config::load_or_create_session_key(&app.data_dir.join("session.key")).unwrap();
    let grant = kedian::domain::media::Grant {
        user_id: stranger,
        lesson_id: paid,
        expires_at: kedian::domain::time::now() + 60,
    };
    let query = kedian::domain::media::sign_query(&kedian::startup::derive(&master, b"kedian media urls"), &grant);
    for file in ["key", "index.m3u8", "hd.m3u8", "sd000.ts"] {
        assert_eq!(app.get(&format!("/media/{paid}/{file}?{query}")).await.status(), StatusCode::FORBIDDEN, "{file}");
    }
}

fn make_clip(path: &std::path::Path, size: &str) {
    let made = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=10:duration=2"))
        .args(["-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

fn package(app: &TestApp, lesson: kedian::domain::LessonId, clip: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kedian"))
        .args(["media", "package", &lesson.to_string(), "--input"])
        .arg(clip)
        .env("KEDIAN_DATA_DIR", &app.data_dir)
        .env("KEDIAN_DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fetches the key and a segment as the player would, and decrypts the segment to MPEG-TS.
async fn decrypts(app: &TestApp, base: &str, key_uri: &str, iv_hex: &str, segment: &str) {
    let key = app.get(&format!("{base}/{key_uri}")).await.bytes().await.unwrap();
    assert_eq!(key.len(), 16);
    let encrypted = app.get(&format!("{base}/{segment}")).await.bytes().await.unwrap().to_vec();
    // Plain MPEG-TS starts every 188-byte packet with 0x47; ciphertext does so by chance only
    // (its first byte alone would, once in 256 segments).
    let plain_ts = encrypted.chunks(188).all(|packet| packet[0] == 0x47);
    assert!(!encrypted.is_empty() && !plain_ts, "segments are not plain MPEG-TS");
    let iv: [u8; 16] = hex::decode(iv_hex).unwrap().try_into().unwrap();
    let key: [u8; 16] = key.as_ref().try_into().unwrap();
    let mut buf = encrypted.clone();
    let plain = cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .expect("decrypts with the served key");
    assert_eq!(plain[0], 0x47, "MPEG-TS sync byte after decryption");
    assert_eq!(plain.len() % 188, 0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
