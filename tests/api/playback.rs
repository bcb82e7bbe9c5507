//! The learner's first minute in a real browser: lessons uploaded through the back office and
//! packaged by it play in Chromium (HLS through hls.js under the shop's own CSP, HD/SD, audio,
//! and the demo's MP4), resume where the learner left off, a preview ends in a paywall, and the
//! pay page never outlives its order.

use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::browser::{browser_login, choose_language, console_errors, snap, start_browser, start_browser_as, until};
use crate::helpers::{Backend, TestApp, spawn_app};

const WECHAT_ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 \
     (KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.120 Mobile Safari/537.36 XWEB/1220099 MMWEBSDK/20240301 \
     MicroMessenger/8.0.48.2580(0x28003036) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64";

/// A 12-second clip made by ffmpeg: video of `size` with a tone, or (`size` None) AAC audio.
fn clip(dir: &std::path::Path, name: &str, size: Option<&str>) -> Vec<u8> {
    let path = dir.join(name);
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg.args(["-loglevel", "error", "-y"]);
    if let Some(size) = size {
        ffmpeg.args(["-f", "lavfi", "-i", &format!("testsrc=size={size}:rate=25:duration=12")]);
    }
    ffmpeg.args(["-f", "lavfi", "-i", "sine=frequency=440:duration=12"]);
    if size.is_some() {
        ffmpeg.args(["-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast"]);
    }
    let made = ffmpeg.args(["-c:a", "aac", "-shortest"]).arg(&path).status().expect("ffmpeg runs");
    assert!(made.success(), "ffmpeg made {name}");
    std::fs::read(&path).expect("the clip")
}

/// Uploads `bytes` as a lesson's media through the course editor's form, as staff do.
async fn upload(staff: &TestApp, app: &TestApp, lesson: kedian::domain::LessonId, name: &str, bytes: Vec<u8>) {
    let course: i64 = sqlx::query_scalar("SELECT course_id FROM lessons WHERE id = $1")
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let sent = staff
        .submit_multipart(
            &format!("/admin/courses/{course}"),
            &format!("/admin/lessons/{lesson}/media"),
            &[],
            vec![("media", name, bytes)],
        )
        .await;
    assert_eq!(sent.status(), reqwest::StatusCode::SEE_OTHER, "upload of {name} taken");
}

/// Waits (with a deadline) for the back office's background packaging to switch the lesson to HLS.
async fn packaged(app: &TestApp, lesson: kedian::domain::LessonId) {
    for _ in 0..600 {
        let dir: Option<String> = sqlx::query_scalar("SELECT hls_dir FROM lessons WHERE id = $1")
            .bind(lesson)
            .fetch_one(app.db.read())
            .await
            .unwrap();
        if dir.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("lesson {lesson} was not packaged as HLS within a minute");
}

/// Plays the page's media (muted) until `currentTime` passes `secs`, polling with a deadline.
/// Returns [currentTime, the source's scheme, error box hidden] or what went wrong.
pub(crate) async fn play_until(client: &Client, secs: f64) -> Value {
    let script = format!(
        "const done = arguments[arguments.length - 1]; const v = document.getElementById('media'); v.muted = true; \
         const box = document.getElementById('player-error'); const until = Date.now() + 25000; \
         const tick = () => {{ \
           if (v.currentTime >= {secs}) return done([v.currentTime, v.currentSrc.split(':')[0], box.hidden]); \
           if (Date.now() > until) return done(['timeout', v.currentTime, v.readyState, v.error && v.error.code, box.hidden]); \
           setTimeout(tick, 100); }}; \
         const p = v.play(); if (p) p.catch(e => {{ if (String(e).indexOf('interrupted') < 0) done(['play failed', String(e)]); }}); \
         tick();"
    );
    client.execute_async(&script, vec![]).await.unwrap()
}

fn lessons_of(app: &TestApp, slug: &str) -> Vec<(kedian::domain::LessonId, bool)> {
    let catalog = app.catalog.snapshot();
    catalog.course(slug).unwrap().lessons().map(|l| (l.id, l.free_preview)).collect()
}

/// Every media kind an operator uploads plays to 3 s in Chromium as a phone in WeChat on Android:
/// HD/SD HLS, single HLS, an uploaded audio file, and the demo's MP4 and audio.
#[tokio::test]
async fn uploaded_lessons_play_in_chromium() {
    if !kedian::media::package::ffmpeg_available() {
        crate::helpers::skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)");
        return;
    }
    let Some((_driver, client)) = start_browser_as(375, 812, Some(WECHAT_ANDROID_UA)).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.make_staff("13900000001", kedian::domain::staff::Role::Operator).await;
    let staff = app.staff_as("13900000001").await;
    let video: Vec<kedian::domain::LessonId> =
        lessons_of(&app, "excel-data-analysis").into_iter().filter(|l| !l.1).map(|l| l.0).collect();
    let audio: Vec<kedian::domain::LessonId> =
        lessons_of(&app, "economics-in-15-minutes").into_iter().filter(|l| !l.1).map(|l| l.0).collect();
    let (hd_sd, single, demo_mp4) = (video[0], video[1], video[2]);
    let (uploaded_audio, demo_audio) = (audio[0], audio[1]);
    upload(&staff, &app, hd_sd, "第一课.mp4", clip(&app.data_dir, "hd.mp4", Some("1280x720"))).await;
    upload(&staff, &app, single, "第二课.mp4", clip(&app.data_dir, "small.mp4", Some("320x180"))).await;
    upload(&staff, &app, uploaded_audio, "第一集.m4a", clip(&app.data_dir, "tone.m4a", None)).await;
    packaged(&app, hd_sd).await;
    packaged(&app, single).await;

    browser_login(&client, &app, "13800138160").await;
    // The same learner on another device (a code a minute later).
    app.age_codes(61).await;
    app.login_by_code("13800138160").await;
    for slug in ["excel-data-analysis", "economics-in-15-minutes"] {
        let order_no = app.order_for(slug).await;
        app.pay_sandbox(&order_no).await;
    }
    let cases = [
        ("excel-data-analysis", hd_sd, "blob", "hls-hd-sd"),
        ("excel-data-analysis", single, "blob", "hls-single"),
        ("excel-data-analysis", demo_mp4, "http", "mp4-demo"),
        ("economics-in-15-minutes", uploaded_audio, "http", "audio-upload"),
        ("economics-in-15-minutes", demo_audio, "http", "audio-demo"),
    ];
    for (slug, lesson, scheme, tag) in cases {
        client.goto(&app.url(&format!("/courses/{slug}/lessons/{lesson}"))).await.unwrap();
        client.wait().for_element(Locator::Id("media")).await.unwrap();
        // Every kind to 3 s (the demo's files are 6 and 8 s long, the uploads 12).
        let target = 3.0;
        let played = play_until(&client, target).await;
        assert!(played[0].as_f64().is_some_and(|t| t >= target), "{tag}: did not play: {played}");
        assert_eq!(played[1], json!(scheme), "{tag}: played from {played}");
        assert_eq!(played[2], json!(true), "{tag}: no error shown");
        if tag == "hls-hd-sd" {
            let quality = client
                .execute(
                    "return [document.querySelector('[data-quality-pick]').hidden, \
                     document.querySelectorAll('[data-quality] option').length]",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(quality, json!([false, 3]), "自动 / 高清 / 标清 offered");
        }
        snap(&client, &format!("play-{tag}-375.png")).await;
        let errors = console_errors(&client).await;
        assert!(errors.is_empty(), "{tag}: console errors (a CSP refusal shows here) {errors:?}");
    }

    // A lesson whose media cannot be had shows why and 重试, and the failure reaches the log.
    let media_key: Option<String> = sqlx::query_scalar("SELECT media_key FROM lessons WHERE id = $1")
        .bind(demo_mp4)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    sqlx::query("UPDATE lessons SET media_key = 'demo/missing.mp4' WHERE id = $1")
        .bind(demo_mp4)
        .execute(app.db.write())
        .await
        .unwrap();
    app.db.lessons_changed();
    client.goto(&app.url(&format!("/courses/excel-data-analysis/lessons/{demo_mp4}"))).await.unwrap();
    until(&client, "return !document.getElementById('player-error').hidden", "the error box").await;
    let retry = client.find(Locator::Css("#player-error [data-retry]")).await.unwrap();
    assert_eq!(retry.text().await.unwrap(), "重试");
    snap(&client, "play-failed-375.png").await;
    sqlx::query("UPDATE lessons SET media_key = $1 WHERE id = $2")
        .bind(media_key)
        .bind(demo_mp4)
        .execute(app.db.write())
        .await
        .unwrap();
    app.db.lessons_changed();
    retry.click().await.unwrap();
    until(&client, "const v = document.getElementById('media'); return v.currentTime > 0.5", "retry plays").await;
    assert_eq!(
        client.execute("return document.getElementById('player-error').hidden", vec![]).await.unwrap(),
        json!(true),
        "重试 hides the error once it plays"
    );
    // The deliberate 404 is the only console error.
    let errors = console_errors(&client).await;
    assert!(errors.iter().all(|e| e.contains("404")), "{errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// The stored position is where the player stands when the page opens (HLS, MP4 and audio),
/// leaving before playing does not overwrite it, and pausing often is never refused.
#[tokio::test]
async fn lessons_resume_where_the_learner_left_off() {
    if !kedian::media::package::ffmpeg_available() {
        crate::helpers::skip("ffmpeg is not installed (Debian: apt-get install ffmpeg)");
        return;
    }
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.make_staff("13900000001", kedian::domain::staff::Role::Operator).await;
    let staff = app.staff_as("13900000001").await;
    let video: Vec<kedian::domain::LessonId> =
        lessons_of(&app, "excel-data-analysis").into_iter().filter(|l| !l.1).map(|l| l.0).collect();
    let audio = lessons_of(&app, "economics-in-15-minutes").into_iter().find(|l| !l.1).unwrap().0;
    upload(&staff, &app, video[0], "第一课.mp4", clip(&app.data_dir, "small.mp4", Some("320x180"))).await;
    packaged(&app, video[0]).await;

    browser_login(&client, &app, "13800138161").await;
    // The same learner on another device (a code a minute later).
    app.age_codes(61).await;
    app.login_by_code("13800138161").await;
    for slug in ["excel-data-analysis", "economics-in-15-minutes"] {
        let order_no = app.order_for(slug).await;
        app.pay_sandbox(&order_no).await;
    }
    // (slug, lesson, stored position, its duration): the demo clips are 6 s of video, 8 s of audio.
    let cases = [
        ("excel-data-analysis", video[0], 5, 12, "hls"),
        ("excel-data-analysis", video[1], 2, 6, "mp4"),
        ("economics-in-15-minutes", audio, 3, 8, "audio"),
    ];
    for (slug, lesson, at, duration, tag) in cases {
        let page = format!("/courses/{slug}/lessons/{lesson}");
        let sent = app.report_progress(slug, lesson, at, duration).await;
        assert_eq!(sent, reqwest::StatusCode::NO_CONTENT);

        client.goto(&app.url(&page)).await.unwrap();
        client.wait().for_element(Locator::Id("media")).await.unwrap();
        let script = format!("return document.getElementById('media').currentTime >= {at} - 0.3");
        until(&client, &script, &format!("{tag}: the player stands at the stored {at} s")).await;
        let toast = client.find(Locator::Id("resume-toast")).await.unwrap().text().await.unwrap();
        assert!(toast.contains(&format!("0:0{at}")), "{tag}: {toast}");
        snap(&client, &format!("resume-{tag}-375.png")).await;

        // Leaving without playing reports nothing: the stored position stays.
        client.goto(&app.url("/me/courses")).await.unwrap();
        app.flush_progress().await;
        let stored: i64 = sqlx::query_scalar("SELECT last_position_secs FROM lesson_progress WHERE lesson_id = $1")
            .bind(lesson)
            .fetch_one(app.db.read())
            .await
            .unwrap();
        assert_eq!(stored, at, "{tag}: leaving before playing kept the position");
    }

    // Played on from the stored position, paused and played five times quickly: every report is
    // taken (none refused), and the last position is the one kept.
    let (slug, lesson) = ("excel-data-analysis", video[0]);
    client.goto(&app.url(&format!("/courses/{slug}/lessons/{lesson}"))).await.unwrap();
    client.wait().for_element(Locator::Id("media")).await.unwrap();
    until(&client, "return document.getElementById('media').currentTime >= 4.7", "resumed").await;
    let played = play_until(&client, 6.0).await;
    assert!(played[0].as_f64().is_some_and(|t| t >= 6.0), "{played}");
    let statuses = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; const v = document.getElementById('media'); \
             const seen = []; const orig = window.fetch; \
             window.fetch = (u, o) => orig(u, o).then(r => { if (String(u).indexOf('/progress/') >= 0) seen.push(r.status); return r; }); \
             let n = 0; const flip = () => { if (n++ >= 10) { v.pause(); return setTimeout(() => done(seen), 500); } \
               if (v.paused) { v.play(); } else { v.pause(); } setTimeout(flip, 50); }; flip();",
            vec![],
        )
        .await
        .unwrap();
    let statuses: Vec<i64> = statuses.as_array().unwrap().iter().filter_map(Value::as_i64).collect();
    assert!(!statuses.is_empty() && statuses.iter().all(|s| *s == 204), "reports taken: {statuses:?}");
    let now_at = client.execute("return document.getElementById('media').currentTime", vec![]).await.unwrap();
    app.flush_progress().await;
    let stored: i64 = sqlx::query_scalar("SELECT last_position_secs FROM lesson_progress WHERE lesson_id = $1")
        .bind(lesson)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    // Reports sent within the same second may arrive in either order: the kept one is within a second.
    let last = now_at.as_f64().unwrap().floor() as i64;
    assert!((last - 1..=last).contains(&stored), "the last pause is what is kept: {stored} for {last}");
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// A free preview carries the course's buy bar, and its end a calm paywall with the price;
/// a locked lesson offers 登录后购买 to a visitor and 立即购买 to a learner. Phone and PC, both
/// languages.
#[tokio::test]
async fn a_preview_leads_to_buying() {
    for (width, lang) in [(375, "zh-CN"), (375, "en"), (1280, "zh-CN"), (1280, "en")] {
        let Some((_driver, client)) = start_browser(width, 812).await else { return };
        let app = spawn_app(Backend::Sqlite).await.unwrap();
        let lessons = lessons_of(&app, "excel-data-analysis");
        let preview = lessons.iter().find(|l| l.1).unwrap().0;
        let locked = lessons.iter().find(|l| !l.1).unwrap().0;
        let tag = format!("{lang}-{width}");
        client.goto(&app.url(&format!("/language?next=/courses/excel-data-analysis/lessons/{preview}"))).await.unwrap();
        client.find(Locator::Css(&format!("button[value='{lang}']"))).await.unwrap().click().await.unwrap();
        let bar = client.wait().for_element(Locator::Css(".lesson-buy .button.primary")).await.unwrap();
        let (buy_text, login_text) =
            if lang == "en" { ("Buy now", "Sign in to buy") } else { ("立即购买", "登录后购买") };
        assert_eq!(bar.text().await.unwrap(), login_text);
        assert!(bar.attr("href").await.unwrap().unwrap_or_default().contains("buy=excel-data-analysis"));
        let price = client.find(Locator::Css(".lesson-buy .buy-price")).await.unwrap().text().await.unwrap();
        assert!(price.contains("¥199"), "{tag}: the price beside the button: {price}");
        let wide = client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
        assert!(wide.as_u64().unwrap_or(9999) <= u64::from(width), "{tag}: scrolls sideways ({wide})");
        // The preview plays to its end: the paywall, with the price and the same way to buy.
        client
            .execute(
                "const v = document.getElementById('media'); v.muted = true; \
                 const go = () => { v.currentTime = Math.max(0, v.duration - 0.5); v.play(); }; \
                 if (v.readyState >= 1) go(); else v.addEventListener('loadedmetadata', go);",
                vec![],
            )
            .await
            .unwrap();
        until(&client, "return !document.getElementById('paywall').hidden", "the paywall").await;
        let wall = client.find(Locator::Id("paywall")).await.unwrap().text().await.unwrap();
        assert!(wall.contains("¥199") && wall.contains(login_text), "{tag}: {wall}");
        snap(&client, &format!("preview-paywall-{tag}.png")).await;
        let tall = client
            .execute("return document.querySelector('#paywall .button.primary').getBoundingClientRect().height", vec![])
            .await
            .unwrap();
        assert!(tall.as_f64().unwrap_or(0.0) >= 44.0, "{tag}: a touch target");

        client.goto(&app.url(&format!("/courses/excel-data-analysis/lessons/{locked}"))).await.unwrap();
        let locked_button = client.wait().for_element(Locator::Css(".locked .button.primary")).await.unwrap();
        assert_eq!(locked_button.text().await.unwrap(), login_text, "{tag}: a visitor signs in to buy");
        snap(&client, &format!("lesson-locked-visitor-{tag}.png")).await;
        if width == 375 && lang == "zh-CN" {
            // Signed in, the same lesson buys in one tap: straight to the pay page.
            browser_login(&client, &app, "13800138162").await;
            client.goto(&app.url(&format!("/courses/excel-data-analysis/lessons/{locked}"))).await.unwrap();
            let buy = client.wait().for_element(Locator::Css(".locked .button.primary")).await.unwrap();
            assert_eq!(buy.text().await.unwrap(), buy_text);
            snap(&client, &format!("lesson-locked-learner-{tag}.png")).await;
            buy.click().await.unwrap();
            client.wait().for_element(Locator::Css(".pay-now")).await.unwrap();
            assert!(client.current_url().await.unwrap().path().ends_with("/pay"));
        }
        let errors = console_errors(&client).await;
        assert!(errors.is_empty(), "{tag}: console errors {errors:?}");
        let _ = client.close().await; // cleanup: the checks above are the test
    }
}

/// Back after paying never shows a live pay page; a pay page whose time runs out disables its
/// button; an expired order says why and buys again.
#[tokio::test]
async fn the_pay_page_never_outlives_its_order() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    browser_login(&client, &app, "13800138163").await;
    client.goto(&app.url("/courses/excel-data-analysis")).await.unwrap();
    client.find(Locator::Css(".buy-bar .button.primary")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".pay-now")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("button[value=confirm]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".order-done .button.primary")).await.unwrap();
    snap(&client, "paid-done-375.png").await;
    client.back().await.unwrap();
    client.back().await.unwrap();
    until(&client, "return !location.pathname.endsWith('/pay')", "back after paying leaves the pay page").await;
    let there = client.current_url().await.unwrap();
    assert!(there.path().starts_with("/orders/"), "on the order: {there}");
    snap(&client, "paid-back-375.png").await;

    // Another order, two seconds from its deadline: the countdown runs out and 立即支付 goes dim.
    client.goto(&app.url("/courses/python-zero-to-one")).await.unwrap();
    client.find(Locator::Css(".buy-bar .button.primary")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".pay-now")).await.unwrap();
    let url = client.current_url().await.unwrap();
    let order_no = url.path().trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    sqlx::query("UPDATE orders SET expires_at = $1 WHERE order_no = $2")
        .bind(kedian::domain::time::now() + 2)
        .bind(&order_no)
        .execute(app.db.write())
        .await
        .unwrap();
    client.refresh().await.unwrap();
    client.wait().for_element(Locator::Css(".pay-now")).await.unwrap();
    until(&client, "return document.querySelector('.pay-now').disabled", "the pay button disabled at the deadline")
        .await;
    let timer = client.find(Locator::Css(".deadline")).await.unwrap().text().await.unwrap();
    assert!(timer.contains("超时"), "{timer}");
    snap(&client, "pay-expired-375.png").await;
    // The order, opened now, says why it closed and offers 重新购买, which makes a payable order.
    client.goto(&app.url(&format!("/orders/{order_no}"))).await.unwrap();
    let again = client.wait().for_element(Locator::Css(".closed-why .button.primary")).await.unwrap();
    let why = client.find(Locator::Css(".closed-why")).await.unwrap().text().await.unwrap();
    assert!(why.contains("超过支付时限"), "{why}");
    snap(&client, "order-expired-375.png").await;
    again.click().await.unwrap();
    client.wait().for_element(Locator::Css(".pay-now")).await.unwrap();
    let new_url = client.current_url().await.unwrap();
    assert!(!new_url.path().contains(&order_no), "a new order: {new_url}");
    let enabled = client.execute("return !document.querySelector('.pay-now').disabled", vec![]).await.unwrap();
    assert_eq!(enabled, json!(true));
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// At 320 px, the narrowest phone in use, every buy bar's buttons show their whole label in both
/// languages (English ones are longer), and stay touch targets.
#[tokio::test]
async fn buy_bars_fit_the_narrowest_phone() {
    let Some((_driver, client)) = start_browser(320, 640).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let preview = lessons_of(&app, "excel-data-analysis").into_iter().find(|l| l.1).unwrap().0;
    for lang in ["zh-CN", "en"] {
        choose_language(&client, &app, lang, "/").await;
        for (tag, path) in [
            ("course", "/courses/excel-data-analysis".to_string()),
            ("lesson", format!("/courses/excel-data-analysis/lessons/{preview}")),
            ("plan", "/courses/annual-membership".to_string()),
        ] {
            client.goto(&app.url(&path)).await.unwrap();
            client.wait().for_element(Locator::Css(".buy-bar .button")).await.unwrap();
            snap(&client, &format!("buybar-{tag}-{lang}-320.png")).await;
            let clipped = client
                .execute(
                    "return [...document.querySelectorAll('.buy-bar .button')].filter(b => b.offsetParent) \
                       .map(b => [b.textContent.trim(), b.scrollWidth > b.clientWidth + 1, b.getBoundingClientRect().height, \
                                  b.getBoundingClientRect().right])",
                    vec![],
                )
                .await
                .unwrap();
            for b in clipped.as_array().unwrap() {
                assert_eq!(b[1], json!(false), "{path} ({lang}): \"{}\" is clipped", b[0]);
                assert!(b[2].as_f64().unwrap_or(0.0) >= 44.0, "{path} ({lang}): {b}");
                assert!(b[3].as_f64().unwrap_or(999.0) <= 320.0, "{path} ({lang}): off the screen: {b}");
            }
        }
    }
    let _ = client.close().await; // cleanup: the checks above are the test
}
