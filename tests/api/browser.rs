//! Headless Chromium at 375x812 loads pages, saves screenshots under target/screenshots, and
//! fails on console errors. Skipped with a notice when chromedriver is missing; `.ci/run`
//! installs it so it always runs in CI.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, location, spawn_app};

pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver_path() -> Option<String> {
    let candidates = [std::env::var("CHROMEDRIVER").unwrap_or_default(), "/usr/bin/chromedriver".into()];
    candidates.into_iter().find(|p| !p.is_empty() && std::path::Path::new(p).exists())
}

/// Chrome's console messages since the last call (the legacy log endpoint chromedriver keeps).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

pub(crate) async fn start_browser(width: u32, height: u32) -> Option<(Driver, Client)> {
    start_browser_as(width, height, None).await
}

/// A browser with another user agent (the WeChat in-app browser's, say).
pub(crate) async fn start_browser_as(width: u32, height: u32, user_agent: Option<&str>) -> Option<(Driver, Client)> {
    start_browser_with(width, height, user_agent, &[]).await
}

/// A browser with more command-line switches (a test's own certificate, say).
pub(crate) async fn start_browser_with(
    width: u32,
    height: u32,
    user_agent: Option<&str>,
    switches: &[&str],
) -> Option<(Driver, Client)> {
    let Some(path) = chromedriver_path() else {
        crate::helpers::skip("no chromedriver (install Debian's chromium and chromium-driver)");
        return None;
    };
    // Two TLS backends are linked into the test binary; say which one WebDriver's client uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child =
        Command::new(path).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
    let driver = Driver(child);
    let mut caps = Capabilities::new();
    let mut options = json!({ "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--lang=zh-CN", "--hide-scrollbars", format!("--window-size={width},{height}"),
        "--autoplay-policy=no-user-gesture-required",
    ], "prefs": { "intl.accept_languages": "zh-CN,zh" } });
    for switch in switches {
        options["args"].as_array_mut().unwrap().push(json!(switch));
    }
    if width < 500 {
        // Headless windows are at least 500 px wide; a phone is emulated instead.
        options["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true } });
        if let Some(ua) = user_agent {
            options["mobileEmulation"]["userAgent"] = json!(ua);
        }
    } else if let Some(ua) = user_agent {
        options["args"].as_array_mut().unwrap().push(json!(format!("--user-agent={ua}")));
    }
    caps.insert("goog:chromeOptions".into(), options);
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..50 {
        if let Ok(client) = ClientBuilder::rustls().ok()?.capabilities(caps.clone()).connect(&url).await {
            return Some((driver, client));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

pub(crate) async fn console_errors(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(BrowserLog).await.expect("browser log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `rgb(r, g, b)` or `rgba(…)` as three channels, as browsers report computed colours.
fn rgb(css: &str) -> Vec<[f64; 3]> {
    css.split("rgb")
        .skip(1)
        .filter_map(|part| {
            let inner = part.trim_start_matches('a').strip_prefix('(')?.split(')').next()?;
            let v: Vec<f64> = inner.split(',').filter_map(|n| n.trim().parse().ok()).collect();
            (v.len() >= 3).then(|| [v[0], v[1], v[2]])
        })
        .collect()
}

/// WCAG 2 contrast ratio of two colours.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let lum = |c: [f64; 3]| {
        let f = |x: f64| {
            let x = x / 255.0;
            if x <= 0.03928 { x / 12.92 } else { ((x + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2])
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// The computed style `prop` of the first element matching `css`.
async fn style(client: &fantoccini::Client, css: &str, prop: &str) -> String {
    let script = format!("return getComputedStyle(document.querySelector('{css}')).getPropertyValue('{prop}')");
    client.execute(&script, vec![]).await.unwrap().as_str().unwrap_or_default().to_string()
}

/// The screenshot `name` of the page, then axe-core's audit of it: every page a browser test
/// looks at must have no accessibility violations.
/// Picks `lang` on the language page and waits until the browser is back on `next`'s path in
/// that language: the language
/// page has the same landmarks as the pages after it, so waiting on an element can return before
/// the form's navigation and race the test's next `goto`.
pub(crate) async fn choose_language(client: &Client, app: &crate::helpers::TestApp, lang: &str, next: &str) {
    client.goto(&app.url(&format!("/language?next={next}"))).await.unwrap();
    client.find(Locator::Css(&format!("button[value='{lang}']"))).await.unwrap().click().await.unwrap();
    let path = next.split('?').next().unwrap_or(next);
    for _ in 0..200 {
        let url = client.current_url().await.unwrap();
        let lang_now = client.execute("return document.documentElement.lang", vec![]).await.unwrap_or_default();
        if url.path() == path && lang_now == json!(lang) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the language form did not lead back to {next}");
}

pub(crate) async fn snap(client: &Client, name: &str) {
    save(name, &client.screenshot().await.unwrap());
    audit(client, name).await;
}

/// axe-core's script, from the npm package named by KEDIAN_TEST_AXE (`.ci/run` installs it).
fn axe_source() -> Option<&'static str> {
    static SOURCE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SOURCE
        .get_or_init(|| std::env::var("KEDIAN_TEST_AXE").ok().and_then(|path| std::fs::read_to_string(path).ok()))
        .as_deref()
}

/// Runs axe-core (WCAG 2.1 A and AA rules, and its best practices) on the page as it stands.
pub(crate) async fn audit(client: &Client, name: &str) {
    let Some(source) = axe_source() else {
        crate::helpers::skip("axe-core is not installed (KEDIAN_TEST_AXE: npm install axe-core, its axe.min.js)");
        return;
    };
    client.execute(&format!("{source}\n;return true"), vec![]).await.expect("axe-core loads");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations.map(v => \
               v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))) \
             .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let violations: Vec<String> =
        found.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
    assert!(violations.is_empty(), "{name}: axe-core violations {violations:#?}");
}

pub(crate) fn save(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(dir.join(name), png).expect("write screenshot");
}

#[tokio::test]
async fn phone_sized_pages_render_without_console_errors() {
    let Some((_driver, client)) = start_browser(375, 812).await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    // A purchase agreement: named beside 免费领取, and on the sign-in page that goes on to claim.
    let purchase = [("kind", "purchase"), ("title", "购买协议"), ("body", "## 一、课程\n\n课程为虚拟商品。")];
    app.staff().await.submit("/admin/agreements", "/admin/agreements", &purchase).await;
    for (name, path, must_show) in [
        ("home-375.png", "/", ".grid .card"),
        ("course-375.png", "/courses/excel-data-analysis", ".buy-bar .button.primary"),
        ("catalog-375.png", "/courses?category=career", ".grid .card"),
        ("login-375.png", "/login", "#phone"),
        ("course-free-375.png", "/courses/photography-composition", ".agreement-note a"),
        ("login-claim-375.png", "/login?buy=photography-composition", ".agreement-note a"),
    ] {
        client.goto(&app.url(path)).await.unwrap();
        let element = client.find(Locator::Css(must_show)).await.unwrap_or_else(|_| panic!("{path}: {must_show}"));
        assert!(element.is_displayed().await.unwrap(), "{path}: {must_show} hidden");
        // Nothing wider than the phone: no sideways scrolling.
        let overflow = client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
        assert!(overflow.as_u64().unwrap_or(9999) <= 375, "{path} scrolls sideways: {overflow}");
        snap(&client, name).await;
        let errors = console_errors(&client).await;
        assert!(errors.is_empty(), "{path}: console errors {errors:?}");
    }
    choose_language(&client, &app, "en", "/courses/photography-composition").await;
    let note = client.find(Locator::Css(".agreement-note")).await.unwrap().text().await.unwrap();
    assert!(note.starts_with("By getting it you accept the"), "{note}");
    snap(&client, "course-free-en-375.png").await;
    choose_language(&client, &app, "zh-CN", "/").await;
    // An audio lesson: the course's cover beside the title, skips and speed in the player.
    let catalog = app.catalog.snapshot();
    let audio = catalog.course("economics-in-15-minutes").unwrap().lessons().find(|l| l.free_preview).unwrap().id;
    client.goto(&app.url(&format!("/courses/economics-in-15-minutes/lessons/{audio}"))).await.unwrap();
    let cover = client.wait().for_element(Locator::Css(".player.audio .audio-cover")).await.unwrap();
    assert!(cover.is_displayed().await.unwrap());
    client.find(Locator::Css(".player.audio [data-skip='15']")).await.unwrap();
    client.find(Locator::Css(".player.audio [data-speed-select]")).await.unwrap();
    snap(&client, "audio-lesson-375.png").await;
    // A live course counts down to its next session, and a limited-time price to its end.
    client.goto(&app.url("/courses/short-video-bootcamp")).await.unwrap();
    let live = client.wait().for_element(Locator::Css(".next-live strong")).await.unwrap().text().await.unwrap();
    assert!(live.starts_with("距开播 ") && live.contains(':'), "a live countdown: {live}");
    snap(&client, "course-live-375.png").await;
    client.goto(&app.url("/courses/python-zero-to-one")).await.unwrap();
    let sale = client.wait().for_element(Locator::Css(".sale-ends strong")).await.unwrap().text().await.unwrap();
    assert!(
        sale.starts_with("限时价 · 还剩 2天 ") || sale.starts_with("限时价 · 还剩 3天 "),
        "a sale countdown: {sale}"
    );
    snap(&client, "course-sale-375.png").await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    // The buy button is a real touch target.
    client.goto(&app.url("/courses/excel-data-analysis")).await.unwrap();
    let height = client
        .execute("return document.querySelector('.buy-bar .button.primary').getBoundingClientRect().height", vec![])
        .await
        .unwrap();
    assert!(height.as_f64().unwrap_or(0.0) >= 44.0, "buy button {height}px");
    // The main colour pairs meet WCAG AA (4.5:1): prices on white, the buy button's label, the
    // hero's text over every stop of its gradient.
    let white = [255.0, 255.0, 255.0];
    let price = rgb(&style(&client, ".price-box .price", "color").await)[0];
    assert!(contrast(price, white) >= 4.5, "price on white: {:.2}", contrast(price, white));
    let button_bg = rgb(&style(&client, ".buy-bar .button.primary", "background-color").await)[0];
    let button_fg = rgb(&style(&client, ".buy-bar .button.primary", "color").await)[0];
    assert!(contrast(button_bg, button_fg) >= 4.5, "buy button: {:.2}", contrast(button_bg, button_fg));
    client.goto(&app.url("/")).await.unwrap();
    let text = rgb(&style(&client, ".hero p", "color").await)[0];
    for stop in rgb(&style(&client, ".hero", "background-image").await) {
        assert!(contrast(text, stop) >= 4.5, "hero text on {stop:?}: {:.2}", contrast(text, stop));
    }
    let _ = client.close().await; // cleanup: the checks above are the test
}

#[tokio::test]
async fn desktop_pages_render_without_console_errors() {
    let Some((_driver, client)) = start_browser(1280, 900).await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    for (name, path) in [("home-1280.png", "/"), ("course-1280.png", "/courses/short-video-bootcamp")] {
        client.goto(&app.url(path)).await.unwrap();
        if path.starts_with("/courses/") {
            client.find(Locator::Css(".share-sheet summary")).await.unwrap().click().await.unwrap();
            let sheet = client.find(Locator::Css(".share-sheet .sheet")).await.unwrap().text().await.unwrap();
            assert!(
                !sheet.contains("长按") && sheet.contains("下载海报"),
                "long-press is a phone gesture, not said on a PC: {sheet}"
            );
        }
        snap(&client, name).await;
        let errors = console_errors(&client).await;
        assert!(errors.is_empty(), "{path}: console errors {errors:?}");
    }
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// A new visitor on a phone logs in by SMS code and buys a course, with nothing but taps and typing.
#[tokio::test]
async fn phone_visitor_logs_in_and_buys_in_five_taps() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    client.goto(&app.url("/courses/excel-data-analysis")).await.unwrap();
    client.find(Locator::Css(".buy-bar .button.primary")).await.unwrap().click().await.unwrap();

    let phone = client.wait().for_element(Locator::Id("phone")).await.unwrap();
    phone.send_keys("138 0013").await.unwrap();
    client.find(Locator::Css("button[value=send_code]")).await.unwrap().click().await.unwrap();
    let error = client.wait().for_element(Locator::Id("phone-error")).await.unwrap();
    assert!(error.text().await.unwrap().contains("11 位"));
    snap(&client, "login-error-375.png").await;
    // Chrome logs the deliberate 400 as a failed load; drain the log before the happy path.
    let expected = console_errors(&client).await;
    assert!(expected.iter().all(|e| e.contains("400")), "{expected:?}");

    let phone = client.find(Locator::Id("phone")).await.unwrap();
    phone.clear().await.unwrap();
    phone.send_keys("138 0013 8000").await.unwrap();
    client.find(Locator::Css("button[value=send_code]")).await.unwrap().click().await.unwrap();
    let notice = client.wait().for_element(Locator::Css(".notice")).await.unwrap();
    assert!(notice.text().await.unwrap().contains("138****8000"));
    // 获取验证码 counts down its 60 s before it can be pressed again.
    let again = client.find(Locator::Css("button[value=send_code]")).await.unwrap();
    assert!(!again.is_enabled().await.unwrap(), "waits before another code");
    assert!(again.text().await.unwrap().contains("秒后重新获取"));
    let code = app.last_code("13800138000").expect("code texted");
    client.find(Locator::Id("code")).await.unwrap().send_keys(&code).await.unwrap();
    client.find(Locator::Css("button.primary[value=login]")).await.unwrap().click().await.unwrap();

    // Login goes straight on to the order it was for: no second 立即购买.
    let mut taps = 3;
    client.wait().for_element(Locator::Css(".channels button")).await.unwrap();
    snap(&client, "pay-375.png").await;
    let deadline = client.find(Locator::Css(".deadline")).await.unwrap().text().await.unwrap();
    assert!(deadline.contains("剩余 29:") || deadline.contains("剩余 30:"), "a live countdown: {deadline}");
    assert!(!client.source().await.unwrap().contains("-¥0.00"), "no −¥0.00 discount row");
    let url = client.current_url().await.unwrap();
    assert!(url.path().starts_with("/orders/") && url.path().ends_with("/pay"), "on the pay page: {url}");
    client.find(Locator::Css(".channels button")).await.unwrap().click().await.unwrap();
    taps += 1;
    client.wait().for_element(Locator::Css(".sandbox-label")).await.unwrap();
    snap(&client, "cashier-375.png").await;
    // The sandbox cashier's 确认支付 stands for the buyer confirming at the real gateway.
    client.find(Locator::Css("button[value=confirm]")).await.unwrap().click().await.unwrap();
    // Paying ends on 支付成功 with 去学习 and the lesson it opens, not on the order's details.
    let learn = client.wait().for_element(Locator::Css(".order-done .button.primary")).await.unwrap();
    assert_eq!(learn.text().await.unwrap(), "去学习");
    let page = client.source().await.unwrap();
    assert!(page.contains("支付成功") && page.contains("从「"), "the success screen names the first lesson");
    snap(&client, "order-paid-375.png").await;
    // 去学习 opens the first lesson itself, not a list to choose from.
    learn.click().await.unwrap();
    taps += 1;
    client.wait().for_element(Locator::Css(".lesson-page")).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert!(url.path().starts_with("/courses/excel-data-analysis/lessons/"), "in the lesson: {url}");
    assert_eq!(taps, 5, "立即购买, 获取验证码, 登录, 支付, 去学习 (plus the gateway's own confirm)");
    snap(&client, "first-lesson-375.png").await;

    client.goto(&app.url("/me")).await.unwrap();
    assert!(client.source().await.unwrap().contains("138****8000"));
    snap(&client, "me-375.png").await;
    // 我的数据与注销账号, in both languages, fits the phone.
    for (lang, name) in [("zh-CN", "privacy-375.png"), ("en", "privacy-en-375.png")] {
        client.goto(&app.url("/language?next=/me/privacy")).await.unwrap();
        client.find(Locator::Css(&format!("button[value='{lang}']"))).await.unwrap().click().await.unwrap();
        client.wait().for_element(Locator::Css("button.danger")).await.unwrap();
        let width = client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
        assert!(width.as_u64().unwrap_or(9999) <= 375, "/me/privacy ({lang}) scrolls sideways: {width}");
        let tall = client
            .execute("return document.querySelector('button.danger').getBoundingClientRect().height", vec![])
            .await
            .unwrap();
        assert!(tall.as_f64().unwrap_or(0.0) >= 44.0);
        snap(&client, name).await;
    }
    // English, with unread messages: the bar still fits the phone, and 我的/Me is on screen.
    let user: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13800138000'").fetch_one(app.db.read()).await.unwrap();
    sqlx::query("INSERT INTO user_messages (user_id, kind, ref_no, note, link, created_at) VALUES ($1, 'refund_rejected', 'R1', '', '/me/messages', $2)")
        .bind(user)
        .bind(kedian::domain::time::now())
        .execute(app.db.write())
        .await
        .unwrap();
    app.db.users_changed();
    for (path, name) in [
        ("/", "home-en-unread-375.png"),
        ("/courses/python-zero-to-one", "course-en-unread-375.png"),
        ("/me", "me-en-unread-375.png"),
    ] {
        client.goto(&app.url(path)).await.unwrap();
        client.wait().for_element(Locator::Css(".nav-msg")).await.unwrap();
        let width = client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
        assert!(width.as_u64().unwrap_or(9999) <= 375, "{path} in English scrolls sideways: {width}");
        // Me is at the thumb, in the tab bar (or, where a page has its own bottom bar, in the menu).
        let me = client
            .execute(
                "const t = document.querySelector('.tabbar a[href=\"/me\"]'); const r = t && t.getBoundingClientRect(); \
                 return r && r.width > 0 ? [r.right, r.bottom, r.height] : null",
                vec![],
            )
            .await
            .unwrap();
        if let Some(rect) = me.as_array() {
            let (right, bottom, height) =
                (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap(), rect[2].as_f64().unwrap());
            assert!(right <= 375.0 && bottom <= 812.0 && height >= 44.0, "the Me tab is on screen: {rect:?}");
        } else {
            assert!(
                client.find(Locator::Css(".buy-bar")).await.is_ok(),
                "{path}: no tab bar only where a page has its own bar"
            );
        }
        snap(&client, name).await;
    }
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// The demo video plays on a phone, and the watermark with the viewer's masked phone shows over it.
#[tokio::test]
async fn lesson_video_plays_with_a_watermark() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    browser_login(&client, &app, "13800138130").await;
    // The same learner buys from another device.
    app.age_codes(61).await;
    app.login_by_code("13800138130").await;
    let order_no = app.order_for("excel-data-analysis").await;
    app.pay_sandbox(&order_no).await;
    let catalog = app.catalog.snapshot();
    let lesson = catalog.course("excel-data-analysis").unwrap().lessons().find(|l| !l.free_preview).unwrap().id;
    client.goto(&app.url(&format!("/courses/excel-data-analysis/lessons/{lesson}"))).await.unwrap();
    let video = client.wait().for_element(Locator::Id("media")).await.unwrap();
    assert!(video.is_displayed().await.unwrap());
    let played = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; const v = document.getElementById('media'); v.muted = true; \
             v.play().then(() => setTimeout(() => done(v.currentTime), 1500)).catch(e => done('error: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    assert!(played.as_f64().is_some_and(|t| t > 0.2), "currentTime did not advance: {played}");
    let mark = client.find(Locator::Css(".watermark")).await.unwrap();
    assert!(mark.is_displayed().await.unwrap());
    assert!(mark.text().await.unwrap().contains("138****8130"));
    snap(&client, "lesson-375.png").await;
    // 15 s forward and back, and a speed that is kept for the next lesson.
    let at = |client: Client| async move {
        client.execute("return document.getElementById('media').currentTime", vec![]).await.unwrap().as_f64().unwrap()
    };
    client.execute("const v = document.getElementById('media'); v.pause(); v.currentTime = 1;", vec![]).await.unwrap();
    client.find(Locator::Css("[data-skip='15']")).await.unwrap().click().await.unwrap();
    let forward = at(client.clone()).await;
    assert!(forward > 1.0, "+15 s moves on (to the end of a short clip at most): {forward}");
    client.find(Locator::Css("[data-skip='-15']")).await.unwrap().click().await.unwrap();
    assert!(at(client.clone()).await < forward, "−15 s goes back");
    client.find(Locator::Css("[data-speed-select] option[value='1.5']")).await.unwrap().click().await.unwrap();
    client.refresh().await.unwrap();
    client.wait().for_element(Locator::Css("[data-speed-select]")).await.unwrap();
    let rate = client
        .execute(
            "return [document.getElementById('media').playbackRate, document.querySelector('[data-speed-select]').value]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rate, json!([1.5, "1.5"]), "the chosen speed is kept, and shown in the player");
    let inside = client
        .execute("return document.querySelector('[data-speed-select]').closest('.player') !== null", vec![])
        .await
        .unwrap();
    assert_eq!(inside, json!(true), "speed is part of the player");
    let height = client
        .execute("return document.querySelector(\"[data-skip='15']\").getBoundingClientRect().height", vec![])
        .await
        .unwrap();
    assert!(height.as_f64().unwrap_or(0.0) >= 44.0, "skip buttons are touch targets");
    snap(&client, "lesson-controls-375.png").await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// Waits (with a deadline) until `script` returns true.
pub(crate) async fn until(client: &Client, script: &str, what: &str) {
    for _ in 0..150 {
        if client.execute(script, vec![]).await.unwrap() == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 15 s");
}

/// Logs the browser in by SMS code through the login form.
pub(crate) async fn browser_login(client: &Client, app: &crate::helpers::TestApp, phone: &str) {
    client.goto(&app.url("/login")).await.unwrap();
    client.find(Locator::Id("phone")).await.unwrap().send_keys(phone).await.unwrap();
    client.find(Locator::Css("button[value=send_code]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".notice")).await.unwrap();
    let code = app.last_code(phone).expect("code texted");
    client.find(Locator::Id("code")).await.unwrap().send_keys(&code).await.unwrap();
    client.find(Locator::Css("button.primary[value=login]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".account")).await.unwrap();
}

/// Distribution switched on by a second admin, `distributor` approved, and `buyer` buying the
/// Excel course through the distributor's link.
async fn referral_fixture(app: &crate::helpers::TestApp, distributor: &str, buyer: &str) {
    app.make_staff("13900000002", kedian::domain::staff::Role::Admin).await;
    let staff = app.staff_as("13900000002").await;
    let on = [("distribution", "on"), ("distribution_rate", "10")];
    assert_eq!(staff.submit("/admin/settings", "/admin/settings", &on).await.status(), reqwest::StatusCode::SEE_OTHER);
    let me = app.another_browser();
    me.login_by_code(distributor).await;
    let apply = [("real_name", "王小明"), ("contact_phone", distributor), ("reason", "同事都想学 Excel")];
    me.submit("/me/distribution", "/me/distribution/apply", &apply).await;
    let id: i64 = sqlx::query_scalar("SELECT user_id FROM distributors").fetch_one(app.db.read()).await.unwrap();
    let decided =
        staff.submit("/admin/distributors", &format!("/admin/distributors/{id}"), &[("decision", "approve")]).await;
    assert_eq!(decided.status(), reqwest::StatusCode::SEE_OTHER);
    let code: String = sqlx::query_scalar("SELECT code FROM distributors").fetch_one(app.db.read()).await.unwrap();
    let friend = app.another_browser();
    friend.login_by_code(buyer).await;
    friend.get(&format!("/courses/excel-data-analysis?ref={code}")).await;
    friend.bought("excel-data-analysis").await;
}

/// The distributor centre on a phone: balances, the link and a referred order, with nothing
/// wider than the screen.
#[tokio::test]
async fn distributor_centre_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    referral_fixture(&app, "13800138160", "13800138161").await;
    app.age_codes(61).await;
    browser_login(&client, &app, "13800138160").await;
    client.goto(&app.url("/me")).await.unwrap();
    tap_in_view(&client, "a[href=\"/me/distribution\"]").await;
    client.wait().for_element(Locator::Id("dist-link")).await.unwrap();
    let page = client.source().await.unwrap();
    assert!(page.contains("¥19.90") && page.contains("138****8161") && page.contains("待结算"));
    snap(&client, "distributor-centre-375.png").await;
    let width: i64 =
        client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap().as_i64().unwrap();
    assert!(width <= 375, "no sideways scrolling: {width}px");
    client.goto(&app.url("/language?next=/me/distribution")).await.unwrap();
    client.find(Locator::Css("button[value='en']")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("dist-link")).await.unwrap();
    assert!(client.source().await.unwrap().contains("Referred orders"));
    snap(&client, "distributor-centre-en-375.png").await;
    let width: i64 =
        client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap().as_i64().unwrap();
    assert!(width <= 375, "no sideways scrolling in English: {width}px");
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// Each page on a phone in Chinese, then in English (the browser is signed in): waits for the
/// element that must show, checks nothing scrolls sideways, and saves `<shot>-<lang>-375.png`.
async fn phone_pages_in_both_languages(client: &Client, app: &crate::helpers::TestApp, pages: &[(String, &str, &str)]) {
    for lang in ["zh-CN", "en"] {
        if lang == "en" {
            client.goto(&app.url("/language?next=/me")).await.unwrap();
            client.find(Locator::Css("button[value='en']")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Css(".account")).await.unwrap();
        }
        for (path, must_show, shot) in pages {
            client.goto(&app.url(path)).await.unwrap();
            let element = client
                .wait()
                .for_element(Locator::Css(must_show))
                .await
                .unwrap_or_else(|_| panic!("{path}: {must_show}"));
            client
                .execute(
                    "arguments[0].scrollIntoView({block: 'center'})",
                    vec![serde_json::to_value(&element).unwrap()],
                )
                .await
                .unwrap();
            assert!(element.is_displayed().await.unwrap(), "{path}: {must_show} hidden");
            let width: i64 =
                client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap().as_i64().unwrap();
            assert!(width <= 375, "{path}: no sideways scrolling ({width}px)");
            snap(client, &format!("{shot}-{lang}-375.png")).await;
        }
    }
    let errors = console_errors(client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
}

/// On a phone, in both languages: the check-in page with its calendar and the homework page.
#[tokio::test]
async fn learning_together_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let staff = app.staff().await;
    let course = app.course_id("excel-data-analysis").await;
    let page = format!("/admin/courses/{course}/checkin");
    let first = kedian::domain::time::shanghai_date(kedian::domain::time::now() - 3 * 86_400);
    let fields = [
        ("first_day", first.as_str()),
        ("days", "14"),
        ("prompts", "今天用 Excel 解决了什么问题？"),
        ("action", "save"),
    ];
    staff.submit(&page, &page, &fields).await;
    let lesson = app.first_paid_lesson("excel-data-analysis").await;
    let editor = format!("/admin/lessons/{lesson}");
    let content = [
        ("body", ""),
        ("notes", ""),
        ("live_url", ""),
        ("starts_at", ""),
        ("assignment", "用 VLOOKUP 匹配两张表，提交截图和思路"),
    ];
    staff.submit(&editor, &format!("{editor}/content"), &content).await;
    let phone = "13800138190";
    browser_login(&client, &app, phone).await;
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    app.bought("excel-data-analysis").await;
    let checkin = "/courses/excel-data-analysis/checkin";
    app.submit(checkin, checkin, &[("body", "把上周的销售表做成了透视表")]).await;
    let homework = format!("/courses/excel-data-analysis/lessons/{lesson}/homework");
    let pages = [(checkin.to_string(), ".calendar li.done", "checkin"), (homework, "#body", "homework")];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// Scrolls an element to the middle of the screen (clear of the sticky bars) and taps it.
async fn tap_in_view(client: &Client, css: &str) {
    let element = client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}"));
    client
        .execute("arguments[0].scrollIntoView({block: 'center'})", vec![serde_json::to_value(&element).unwrap()])
        .await
        .unwrap();
    element.click().await.unwrap();
}

/// On a phone: a note taken while the lesson plays keeps the moment, and the learner's questions
/// page and notes; in both languages.
#[tokio::test]
async fn questions_and_notes_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let phone = "13800138195";
    browser_login(&client, &app, phone).await;
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    app.bought("excel-data-analysis").await;
    let lesson = app.first_paid_lesson("excel-data-analysis").await;
    let lesson_url = format!("/courses/excel-data-analysis/lessons/{lesson}");
    client.goto(&app.url(&lesson_url)).await.unwrap();
    client.wait().for_element(Locator::Id("media")).await.unwrap();
    let played = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; const v = document.getElementById('media'); v.muted = true; \
             v.play().then(() => { const t = () => v.currentTime >= 1.2 ? (v.pause(), done(v.currentTime)) : setTimeout(t, 100); t(); }) \
             .catch(e => done('error: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    assert!(played.as_f64().is_some_and(|t| t >= 1.2), "currentTime did not advance: {played}");
    // Opening 记笔记 fills in the moment the player is at.
    tap_in_view(&client, "#note-form summary").await;
    until(&client, "return document.getElementById('note-at').value === '0:01'", "the note's moment filled in").await;
    client.find(Locator::Id("note-body")).await.unwrap().send_keys("先选数据区域，再插入透视表").await.unwrap();
    snap(&client, "lesson-note-375.png").await;
    tap_in_view(&client, "[data-note-form] button[type=submit]").await;
    client.wait().for_element(Locator::Css(".flash")).await.unwrap();
    let resume = client.execute("return document.querySelector('.lesson-page').dataset.resume", vec![]).await.unwrap();
    assert_eq!(resume, json!("1"), "back at the player, at the note's moment");

    // A question asked by clicking; a classmate's answer and a teacher's.
    let qa = format!("{lesson_url}/questions");
    client.goto(&app.url(&qa)).await.unwrap();
    client
        .wait()
        .for_element(Locator::Id("question"))
        .await
        .unwrap()
        .send_keys("透视表的数据源更新后怎么刷新？")
        .await
        .unwrap();
    tap_in_view(&client, "#ask button[type=submit]").await;
    client.wait().for_element(Locator::Css(".qa-list .review")).await.unwrap();
    let question: i64 = sqlx::query_scalar("SELECT id FROM lesson_questions").fetch_one(app.db.read()).await.unwrap();
    let classmate = app.another_browser();
    classmate.login_by_code("13800138196").await;
    classmate.bought("excel-data-analysis").await;
    classmate.submit(&qa, &format!("/questions/{question}/answers"), &[("body", "右键透视表，点“刷新”")]).await;
    let staff = app.staff().await;
    let answer = [("body", "数据源是表格（Ctrl+T）时，新增的行也会算进去")];
    staff.submit("/admin/questions", &format!("/admin/questions/{question}/answer"), &answer).await;
    // A lesson scheduled three days after the purchase: its owner is told when it opens.
    let scheduled = app
        .catalog
        .snapshot()
        .course("excel-data-analysis")
        .unwrap()
        .lessons()
        .filter(|l| !l.free_preview)
        .nth(1)
        .unwrap()
        .id;
    crate::learning::schedule(&staff, scheduled, "3", "").await;
    let pages = [
        (format!("/courses/excel-data-analysis/lessons/{scheduled}"), "#scheduled", "lesson-scheduled"),
        ("/courses/excel-data-analysis".to_string(), ".tag-opens", "course-scheduled"),
        (qa.clone(), "#notes-title", "questions-top"),
        (qa.clone(), ".badge.staff", "questions"),
        ("/me/notes".to_string(), ".note-at", "notes"),
    ];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// On a phone: a finished course's certificate claimed by typing a name and tapping, its image
/// shown; the certificate and its public verify page in both languages.
#[tokio::test]
async fn a_certificate_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let phone = "13800138189";
    browser_login(&client, &app, phone).await;
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    app.bought("excel-data-analysis").await;
    crate::stats::finish_course(&app, &app, "excel-data-analysis").await;
    client.goto(&app.url("/courses/excel-data-analysis")).await.unwrap();
    tap_in_view(&client, "a[href='/courses/excel-data-analysis/certificate']").await;
    let name = client.wait().for_element(Locator::Id("name")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("王小明").await.unwrap();
    tap_in_view(&client, "form[action$='/certificate'] button[type=submit]").await;
    client.wait().for_element(Locator::Css(".certificate-figure img")).await.unwrap();
    until(
        &client,
        "const i = document.querySelector('.certificate-figure img'); return i.complete && i.naturalWidth === 1600",
        "the certificate drawn",
    )
    .await;
    snap(&client, "certificate-claimed-375.png").await;
    let code: String = sqlx::query_scalar("SELECT code FROM certificates").fetch_one(app.db.read()).await.unwrap();
    let pages = [
        ("/courses/excel-data-analysis/certificate".to_string(), ".cert-actions", "certificate"),
        (format!("/certificates/{code}"), ".verify-facts", "certificate-verify"),
    ];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// A lesson quiz (made through the store) and `app`'s attempt at it, handed in with a short answer.
async fn quiz_fixture(
    app: &crate::helpers::TestApp,
    course: kedian::domain::CourseId,
    lesson: kedian::domain::LessonId,
) -> i64 {
    use kedian::domain::quiz::{QuestionKind, QuizSettings};
    use kedian::store::quizzes::{self, NewQuestion};
    let now = kedian::domain::time::now();
    let choices = ["按月".to_string(), "按季度".to_string()];
    for (kind, body, choices, key) in [
        (QuestionKind::Single, "透视表里怎样按月汇总日期？", &choices[..], "0"),
        (QuestionKind::Short, "说说你会怎样整理一张乱表。", &[][..], ""),
    ] {
        let new = NewQuestion {
            lesson_id: Some(lesson),
            kind,
            body,
            choices,
            key,
            explanation: "右键日期字段，选“组合”。",
            points: 1,
        };
        quizzes::add_question(&app.db, course, &new, now).await.unwrap();
    }
    let settings = QuizSettings {
        title: "第一节小测".into(),
        draw_count: 0,
        time_limit_mins: None,
        pass_percent: 60,
        max_attempts: None,
    };
    let quiz = quizzes::save_quiz(&app.db, course, Some(lesson), &settings, now).await.unwrap();
    app.catalog.reload(&app.db).await.unwrap();
    let page = format!("/quizzes/{quiz}");
    let started = app.submit(&page, &format!("{page}/attempts"), &[]).await;
    let attempt = location(&started);
    app.submit(&attempt, &attempt, &[("submit", "1")]).await;
    quiz.0
}

/// On a phone: a timed lesson quiz answered by tapping and typing, saved in the background as it
/// goes, handed in, and its result with the explanations; the quiz and result pages in both
/// languages.
#[tokio::test]
async fn a_quiz_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let staff = app.staff().await;
    let course = app.course_id("excel-data-analysis").await;
    let lesson = app.first_paid_lesson("excel-data-analysis").await.to_string();
    for fields in [
        vec![
            ("kind", "single"),
            ("body", "哪个是**绝对引用**？"),
            ("choices", "A1\n$A$1（行列都锁定）\nA$1"),
            ("key", "B"),
            ("explanation", "行号和列标前都有 $ 才是绝对引用。"),
        ],
        vec![
            ("kind", "multiple"),
            ("body", "哪些函数能按条件查找？"),
            ("choices", "VLOOKUP\nSUM\nXLOOKUP"),
            ("key", "AC"),
        ],
        vec![("kind", "truefalse"), ("body", "数据透视表会改动原始数据。"), ("key", "错")],
        vec![("kind", "blank"), ("body", "若 $x^2 = 4$ 且 $x > 0$，则 $x =$ ？"), ("key", "2")],
        vec![("kind", "short"), ("body", "用一两句话说说你会怎样整理一张乱表。")],
    ] {
        let mut fields = fields;
        fields.extend([("lesson", lesson.as_str()), ("points", "1")]);
        crate::quizzes::add_question(&staff, course, &fields).await;
    }
    let bank = format!("/admin/courses/{course}/quizzes");
    let quiz =
        [("quiz_lesson", lesson.as_str()), ("title", "第一节小测"), ("time_limit", "15"), ("pass_percent", "60")];
    staff.submit(&bank, &bank, &quiz).await;
    let quiz: i64 = sqlx::query_scalar("SELECT id FROM quizzes").fetch_one(app.db.read()).await.unwrap();
    let phone = "13800138199";
    browser_login(&client, &app, phone).await;
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    app.bought("excel-data-analysis").await;

    client.goto(&app.url(&format!("/courses/excel-data-analysis/lessons/{lesson}"))).await.unwrap();
    tap_in_view(&client, &format!("a[href='/quizzes/{quiz}']")).await;
    tap_in_view(&client, &format!("form[action='/quizzes/{quiz}/attempts'] button")).await;
    client.wait().for_element(Locator::Id("quiz-form")).await.unwrap();
    tap_in_view(&client, ".quiz-item:nth-child(1) .choice:nth-of-type(2)").await;
    until(&client, "return document.getElementById('autosave-status').textContent !== ''", "saved in the background")
        .await;
    let saved: String = sqlx::query_scalar("SELECT response FROM attempt_answers WHERE position = 0")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(saved, "1", "the tapped choice was saved before handing in");
    tap_in_view(&client, ".quiz-item:nth-child(2) .choice:nth-of-type(1)").await;
    tap_in_view(&client, ".quiz-item:nth-child(2) .choice:nth-of-type(2)").await;
    tap_in_view(&client, ".quiz-item:nth-child(3) .choice:nth-of-type(2)").await;
    client.find(Locator::Css(".quiz-item:nth-child(4) input[type=text]")).await.unwrap().send_keys("2").await.unwrap();
    client
        .find(Locator::Css(".quiz-item:nth-child(5) textarea"))
        .await
        .unwrap()
        .send_keys("先删空行，再统一日期格式")
        .await
        .unwrap();
    let bar = client.find(Locator::Css(".quiz-bar")).await.unwrap();
    client
        .execute("arguments[0].scrollIntoView({block: 'start'})", vec![serde_json::to_value(&bar).unwrap()])
        .await
        .unwrap();
    until(
        &client,
        "return document.getElementById('answered').textContent.includes('5/5')",
        "the count follows the answers",
    )
    .await;
    snap(&client, "quiz-attempt-375.png").await;
    tap_in_view(&client, ".quiz-actions button[name=submit]").await;
    client.wait().for_element(Locator::Css(".quiz-score")).await.unwrap();
    snap(&client, "quiz-result-375.png").await;
    let attempt: i64 = sqlx::query_scalar("SELECT id FROM quiz_attempts").fetch_one(app.db.read()).await.unwrap();
    let (status, score): (String, Option<i64>) =
        sqlx::query_as("SELECT status, score FROM quiz_attempts WHERE id = $1")
            .bind(attempt)
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!((status.as_str(), score), ("pending", Some(3)), "three right, the short answer waits for staff");
    // A handout on the lesson, for its downloads.
    let editor = format!("/admin/lessons/{lesson}");
    let files = vec![("file", "第一讲讲义.pdf", crate::downloads::handout())];
    staff.submit_multipart(&editor, &format!("{editor}/files"), &[], files).await;
    let pages = [
        (format!("/courses/excel-data-analysis/lessons/{lesson}"), ".lesson-files-panel", "lesson-downloads"),
        (format!("/quizzes/{quiz}"), ".quiz-rules", "quiz"),
        (format!("/attempts/{attempt}"), ".explanation", "quiz-result"),
    ];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// On a phone, in both languages: a course sold in cohorts, its list with seats and reasons, and
/// a learner's own cohort with today's lesson; the back office's cohorts at 1280 px.
#[tokio::test]
async fn cohorts_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let staff = app.staff().await;
    let course_id = app.course_id("excel-data-analysis").await;
    let page = format!("/admin/courses/{course_id}/cohorts");
    let day = 86_400;
    let at = |secs: i64| kedian::domain::time::shanghai_datetime_value(kedian::domain::time::now() + secs);
    let date = |secs: i64| kedian::domain::time::shanghai_date(kedian::domain::time::now() + secs);
    for (name, start, seats, opens, closes) in [
        ("第 1 期", -2 * day, "30", -5 * day, 5 * day),
        ("第 2 期", 7 * day, "1", -day, 6 * day),
        ("第 3 期", 30 * day, "30", 3 * day, 20 * day),
    ] {
        let fields = [
            ("name", name),
            ("starts_on", &date(start)),
            ("capacity", seats),
            ("sale_starts_at", &at(opens)),
            ("sale_ends_at", &at(closes)),
        ];
        staff.submit(&page, &page, &fields).await;
    }
    let lesson = app.first_paid_lesson("excel-data-analysis").await;
    crate::learning::schedule(&staff, kedian::domain::LessonId(lesson), "2", "").await;
    let second: i64 =
        sqlx::query_scalar("SELECT id FROM cohorts WHERE name = '第 2 期'").fetch_one(app.db.read()).await.unwrap();
    // A check-in challenge each cohort runs from its first day; a classmate in 第 1 期 posted.
    let challenge = format!("/admin/courses/{course_id}/checkin");
    let fields = [("first_day", date(40 * day)), ("days", "21".into()), ("prompts", "今天学到了什么？".into())];
    let mut fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fields.push(("action", "save"));
    staff.submit(&challenge, &challenge, &fields).await;
    let first: i64 =
        sqlx::query_scalar("SELECT id FROM cohorts WHERE name = '第 1 期'").fetch_one(app.db.read()).await.unwrap();
    let classmate = app.another_browser();
    classmate.login_by_code("13800138196").await;
    let to_pay = crate::helpers::location(
        &classmate
            .submit(
                "/courses/excel-data-analysis",
                "/courses/excel-data-analysis/buy",
                &[("cohort", &first.to_string())],
            )
            .await,
    );
    classmate.pay_sandbox(to_pay.trim_start_matches("/orders/").trim_end_matches("/pay")).await;
    let checkin = "/courses/excel-data-analysis/checkin";
    classmate.submit(checkin, checkin, &[("body", "第三天：用透视表把三个月的销售按门店汇总了。")]).await;
    let other = app.another_browser();
    other.login_by_code("13800138197").await;
    other
        .submit("/courses/excel-data-analysis", "/courses/excel-data-analysis/buy", &[("cohort", &second.to_string())])
        .await;
    browser_login(&client, &app, "13800138198").await;
    let pages = [("/courses/excel-data-analysis#cohorts".to_string(), "#cohorts .cohort-list", "cohorts")];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    // Joined by tapping 报名此期 on the first cohort (in English now), then paid in the sandbox.
    client.goto(&app.url("/courses/excel-data-analysis")).await.unwrap();
    tap_in_view(&client, "#cohorts form button[type=submit]").await;
    client.wait().for_element(Locator::Css(".pay-choice")).await.unwrap();
    let order_no: String = sqlx::query_scalar("SELECT order_no FROM orders WHERE status = 'pending' AND cohort_id IS NOT NULL AND user_id = (SELECT id FROM users WHERE phone = '13800138198')")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    app.age_codes(61).await;
    app.login_by_code("13800138198").await;
    app.pay_sandbox(&order_no).await;
    client.goto(&app.url("/courses/excel-data-analysis")).await.unwrap();
    let mine = client.wait().for_element(Locator::Css(".my-cohort")).await.unwrap();
    client
        .execute("arguments[0].scrollIntoView({block: 'center'})", vec![serde_json::to_value(&mine).unwrap()])
        .await
        .unwrap();
    snap(&client, "cohort-mine-en-375.png").await;
    client.goto(&app.url("/me/courses")).await.unwrap();
    client.wait().for_element(Locator::Css(".cohort-today")).await.unwrap();
    snap(&client, "my-courses-cohort-en-375.png").await;
    // The cohort's check-in (back in Chinese first): day 3 of its own run, and the classmate's
    // post on its wall.
    client.goto(&app.url("/language?next=/me")).await.unwrap();
    client.find(Locator::Css("button[value='zh-CN']")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".account")).await.unwrap();
    let pages = [(checkin.to_string(), ".review-list .review-body", "checkin-cohort")];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// On a phone, in both languages: a course with a group offer, and a group's page with its
/// seats and time left; a joining buyer sees the join button.
#[tokio::test]
async fn group_buy_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let staff = app.staff().await;
    let course = app.course_id("excel-data-analysis").await;
    let page = format!("/admin/courses/{course}/group");
    let fields = [
        ("price", "99"),
        ("size", "3"),
        ("fill_hours", "24"),
        ("starts_at", ""),
        ("ends_at", "2099-01-01T00:00"),
        ("action", "save"),
    ];
    staff.submit(&page, &page, &fields).await;
    app.login_by_code("13800138180").await;
    let opened = app.submit("/courses/excel-data-analysis", "/courses/excel-data-analysis/group", &[]).await;
    let order_no =
        crate::helpers::location(&opened).trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    app.pay_sandbox(&order_no).await;
    let group: i64 = sqlx::query_scalar("SELECT group_id FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    browser_login(&client, &app, "13800138181").await;
    let pages = [
        ("/courses/excel-data-analysis".to_string(), ".group-offer .group-list a", "course-group"),
        (format!("/groups/{group}"), "form[action$='/join'] button", "group"),
    ];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    // The opener invites friends: a sheet with the group's poster and a link to copy.
    client.delete_all_cookies().await.unwrap();
    app.age_codes(61).await;
    browser_login(&client, &app, "13800138180").await;
    client.goto(&app.url(&format!("/groups/{group}"))).await.unwrap();
    client.wait().for_element(Locator::Css(".share-sheet.invite summary")).await.unwrap().click().await.unwrap();
    let mut loaded = json!(0);
    for _ in 0..100 {
        loaded = client.execute("return document.querySelector('.invite img').naturalWidth", vec![]).await.unwrap();
        if loaded.as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(loaded, json!(750), "the group's poster shows in the sheet");
    client
        .execute(
            "document.querySelector('.invite .sheet').scrollIntoView({block: 'end'}); window.scrollBy(0, 80)",
            vec![],
        )
        .await
        .unwrap();
    client.find(Locator::Css("[data-copy='group-link']")).await.unwrap().click().await.unwrap();
    snap(&client, "group-invite-375.png").await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// On a phone, in both languages: a consultation's booking page, the order with its booking,
/// a course page with reviews and member badges, and 我的 with the membership.
#[tokio::test]
async fn products_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let phone = "13800138170";
    browser_login(&client, &app, phone).await;
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    let member_order = app.bought("annual-membership").await;
    crate::stats::finish_course(&app, &app, "excel-data-analysis").await;
    let review = [("stars", "4"), ("body", "案例很实用，节奏稍快，建议边看边练。")];
    let photos = vec![("photos", "作业.png", crate::products::photo_png())];
    app.submit_multipart("/courses/excel-data-analysis/review", "/courses/excel-data-analysis/review", &review, photos)
        .await;
    let order_no = crate::products::book_and_pay(&app, 1).await;
    // An invoice asked for and waiting: the buyer may still correct it.
    let python = app.bought("python-zero-to-one").await;
    let invoice = format!("/orders/{python}/invoice");
    let asked = [("title_kind", "personal"), ("title", "张三"), ("tax_number", ""), ("email", "zhang@example.com")];
    assert_eq!(app.submit(&invoice, &invoice, &asked).await.status(), reqwest::StatusCode::SEE_OTHER);
    let pages = [
        ("/courses/career-consultation/book".to_string(), ".slots .choice", "book"),
        (format!("/orders/{order_no}"), "#booking", "order-booking"),
        ("/courses/excel-data-analysis#reviews".to_string(), ".review-list .review", "course-reviews"),
        ("/courses/excel-data-analysis/review".to_string(), "#body", "review-form"),
        ("/me".to_string(), ".member-card", "me-member"),
        ("/me/courses".to_string(), "#member .owned", "my-courses-member"),
        ("/courses/annual-membership".to_string(), "#opens .opens a", "plan"),
        ("/courses".to_string(), ".badge.member", "catalog-member"),
        ("/coupons/XINREN20".to_string(), ".coupon-offer", "coupon"),
        ("/redeem?course=excel-data-analysis".to_string(), "#code", "redeem"),
        (format!("/orders/{member_order}/invoice"), "#title", "invoice"),
        (invoice, "details summary", "invoice-waiting"),
        ("/agreements/user".to_string(), ".agreement-due button", "agreement"),
    ];
    // A user agreement published while the learner is signed in: every page asks until they agree.
    let staff = app.staff().await;
    let agreement =
        [("kind", "user"), ("title", "用户协议"), ("body", "## 一、总则\n\n使用本店的服务，即表示你同意本协议。")];
    staff.submit("/admin/agreements", "/admin/agreements", &agreement).await;
    // And a purchase agreement, named beside 免费领取 and 兑换.
    let purchase = [("kind", "purchase"), ("title", "购买协议"), ("body", "## 一、课程\n\n课程为虚拟商品。")];
    staff.submit("/admin/agreements", "/admin/agreements", &purchase).await;
    phone_pages_in_both_languages(&client, &app, &pages).await;
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// On a phone, in both languages: a course given as a gift (the form filled by clicking), its
/// links on the paid order, the gift page a friend opens, waiting and taken; and a bundle.
#[tokio::test]
async fn gifts_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let phone = "13800138180";
    browser_login(&client, &app, phone).await;
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    client.goto(&app.url("/courses/excel-data-analysis")).await.unwrap();
    client.find(Locator::Css("a.gift-button")).await.unwrap().click().await.unwrap();
    let copies = client.wait().for_element(Locator::Css("#copies")).await.unwrap();
    copies.clear().await.unwrap();
    copies.send_keys("2").await.unwrap();
    client.find(Locator::Css("form[action$='/gift'] button.primary")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".gift-note")).await.unwrap();
    let url = client.current_url().await.unwrap();
    let order_no = url.path().trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    assert!(client.source().await.unwrap().contains("¥398.00"), "two copies on the pay page");
    app.pay_sandbox(&order_no).await;
    let (_, html) = app.get_html(&format!("/orders/{order_no}")).await;
    let links: Vec<String> = html
        .split("value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|value| value.split_once("/gifts/").map(|(_, code)| format!("/gifts/{code}")))
        .collect();
    assert_eq!(links.len(), 2);
    let friend = app.another_browser();
    friend.login_by_code("13800138181").await;
    crate::bundles::make_bundle(&app).await;
    let claim = format!("{}/claim", links[1]);
    assert_eq!(friend.submit(&links[1], &claim, &[]).await.status(), reqwest::StatusCode::SEE_OTHER);
    let pages = [
        ("/courses/excel-data-analysis/gift".to_string(), "#copies", "gift-form"),
        (format!("/orders/{order_no}"), "#gift-links .copy-link", "gift-order"),
        (links[0].clone(), ".gift-page button.primary", "gift-open"),
        (links[1].clone(), ".gift-page .notice", "gift-taken"),
        (format!("/courses/{}#syllabus", crate::bundles::BUNDLE), ".bundle-courses", "bundle"),
    ];
    phone_pages_in_both_languages(&client, &app, &pages).await;
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// On a phone, a learner asks for a refund of a paid order, attaches a picture, and follows the
/// request on its timeline; the staff pages render on a PC.
#[tokio::test]
async fn phone_learner_asks_for_a_refund_and_sees_the_timeline() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.refund_auto_approve_fen = 0).await.unwrap();
    browser_login(&client, &app, "13800138131").await;
    app.age_codes(61).await;
    app.login_by_code("13800138131").await;
    let order_no = app.bought("excel-data-analysis").await;

    client.goto(&app.url(&format!("/orders/{order_no}"))).await.unwrap();
    client.find(Locator::Css(&format!("a[href=\"/orders/{order_no}/refund\"]"))).await.unwrap().click().await.unwrap();
    let quote = client.wait().for_element(Locator::Css(".refund-quote")).await.unwrap();
    assert!(quote.text().await.unwrap().contains("¥199.00"), "the amount is impossible to miss");
    client.find(Locator::Css("input[value=cannot_play]")).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("detail")).await.unwrap().send_keys("第二课一直加载不出来").await.unwrap();
    let picture = std::env::temp_dir().join(format!("kedian-evidence-{}.png", std::process::id()));
    std::fs::write(&picture, crate::refunds::PNG).unwrap();
    client.find(Locator::Id("evidence")).await.unwrap().send_keys(&picture.display().to_string()).await.unwrap();
    snap(&client, "refund-form-375.png").await;
    client.find(Locator::Css(".refund button.primary")).await.unwrap().click().await.unwrap();

    client.wait().for_element(Locator::Css(".timeline")).await.unwrap();
    let page = client.source().await.unwrap();
    assert!(
        page.contains("待审核") && page.contains("提交退款申请") && page.contains("kedian-evidence"),
        "status, timeline, evidence"
    );
    snap(&client, "refund-status-375.png").await;
    let width: i64 =
        client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap().as_i64().unwrap();
    assert!(width <= 375, "no sideways scrolling: {width}px");

    // Staff approve from another device; the learner's timeline shows the refund done.
    let refund_no: String =
        sqlx::query_scalar("SELECT refund_no FROM refund_requests").fetch_one(app.db.read()).await.unwrap();
    let staff = app.staff().await;
    let detail = format!("/admin/refunds/{refund_no}");
    staff.submit(&detail, &format!("{detail}/approve"), &[("amount", "199"), ("note", "")]).await;
    client.refresh().await.unwrap();
    let done = client.wait().for_element(Locator::Css(".status-refunded")).await.unwrap();
    assert_eq!(done.text().await.unwrap(), "已退款");
    snap(&client, "refund-done-375.png").await;
    let _ = std::fs::remove_file(&picture);
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// On a PC, the demo admin signs in with password and an authenticator code (enrolling it the
/// first time), and the dashboard, the course editor and the statistics render at 1280 px.
#[tokio::test]
async fn staff_sign_in_and_back_office_pages_on_a_pc() {
    let Some((_driver, client)) = start_browser(1280, 900).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.make_staff(crate::helpers::ADMIN_PHONE, kedian::domain::staff::Role::Admin).await;
    app.login_by_code("13800138140").await;
    let excel_order = app.bought("excel-data-analysis").await;
    let invoice_page = format!("/orders/{excel_order}/invoice");
    let asked = [
        ("title_kind", "company"),
        ("title", "某某科技有限公司"),
        ("tax_number", "91350100M000100Y43"),
        ("email", "finance@example.com"),
    ];
    app.submit(&invoice_page, &invoice_page, &asked).await;
    app.order_for("python-zero-to-one").await;

    client.goto(&app.url("/admin")).await.unwrap();
    client.wait().for_element(Locator::Id("password")).await.unwrap();
    let width = |css: &'static str| {
        let client = client.clone();
        async move {
            let script = format!("return document.querySelector('{css}').getBoundingClientRect().width");
            client.execute(&script, vec![]).await.unwrap().as_f64().unwrap_or(0.0)
        }
    };
    assert!(width("#password").await >= 280.0, "sign-in is not squeezed into the menu's column");
    snap(&client, "admin-login-1280.png").await;
    client.find(Locator::Id("phone")).await.unwrap().send_keys(crate::helpers::ADMIN_PHONE).await.unwrap();
    client.find(Locator::Id("password")).await.unwrap().send_keys(crate::helpers::STAFF_PASSWORD).await.unwrap();
    client.find(Locator::Css(".admin form button.primary")).await.unwrap().click().await.unwrap();
    let secret = client.wait().for_element(Locator::Id("totp-secret")).await.unwrap().text().await.unwrap();
    let qr = client.find(Locator::Css(".totp-qr img")).await.unwrap();
    let qr_width: i64 = client
        .execute("return arguments[0].naturalWidth", vec![serde_json::to_value(&qr).unwrap()])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(qr_width >= 200, "the QR code renders ({qr_width}px)");
    snap(&client, "admin-totp-enrol-1280.png").await;
    let code = crate::helpers::totp_code(&secret, kedian::domain::time::now());
    client.find(Locator::Id("code")).await.unwrap().send_keys(&code).await.unwrap();
    client.find(Locator::Css(".admin form button.primary")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".recovery-codes")).await.unwrap();
    assert!(width(".recovery-codes").await >= 280.0, "recovery codes get the page's width");
    let wrapped: bool = client
        .execute(
            "return [...document.querySelectorAll('.recovery-codes li')].some(li => li.getClientRects().length > 1 || li.scrollWidth > li.clientWidth)",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap_or(true);
    assert!(!wrapped, "no recovery code breaks mid-code");
    snap(&client, "admin-recovery-1280.png").await;
    client.find(Locator::Css(".admin a.button.primary")).await.unwrap().click().await.unwrap();

    client.wait().for_element(Locator::Css(".admin-nav")).await.unwrap();
    let page = client.source().await.unwrap();
    assert!(page.contains("¥199.00") && page.contains("退款审核"), "today's sales and the menu");
    snap(&client, "admin-dashboard-1280.png").await;
    // A distributor with a referred sale, and an application waiting, for the distributors page.
    referral_fixture(&app, "13800138150", "13800138151").await;
    let applicant = app.another_browser();
    applicant.login_by_code("13800138152").await;
    let apply = [("real_name", "李四"), ("contact_phone", "13800138152"), ("reason", "带过几期训练营的学员")];
    applicant.submit("/me/distribution", "/me/distribution/apply", &apply).await;

    let course_id = app.course_id("excel-data-analysis").await;
    let consultation_id = app.course_id("career-consultation").await;
    // A member, a booked consultation and a review, for the members, slots and reviews pages.
    app.bought("annual-membership").await;
    crate::products::book_and_pay(&app, 0).await;
    crate::stats::finish_course(&app, &app, "excel-data-analysis").await;
    let review = [("stars", "5"), ("body", "案例贴近工作，讲得很清楚")];
    app.submit_multipart("/courses/excel-data-analysis/review", "/courses/excel-data-analysis/review", &review, vec![])
        .await;
    // A gift of two copies, for the order page's copies; the demo's bundle and column.
    let gift = "/courses/excel-data-analysis/gift";
    let to_pay = location(&app.submit(gift, gift, &[("copies", "2"), ("sender", "小王")]).await);
    let gift_order = to_pay.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    app.pay_sandbox(&gift_order).await;
    let bundle_id = app.course_id("office-efficiency-bundle").await;
    let column_id = app.course_id("weekly-book-notes").await;
    // A cohort, for the cohorts pages (made through the store: this test's staff signs in by hand).
    let now = kedian::domain::time::now();
    let new = kedian::store::cohorts::NewCohort {
        name: "2027 春季第 1 期",
        starts_at: kedian::domain::cohort::start_of_day(now + 7 * 86_400),
        capacity: 50,
        sale_starts_at: now - 86_400,
        sale_ends_at: now + 6 * 86_400,
    };
    let course = kedian::domain::CourseId(course_id);
    let cohort = kedian::store::cohorts::create(&app.db, course, &new, now).await.unwrap();
    // A live lesson the cohort holds at its own time and in its own room.
    let live = app.catalog.snapshot().course("excel-data-analysis").unwrap().lessons().nth(4).unwrap().id;
    sqlx::query("UPDATE lessons SET kind = 'live', starts_at = $1 WHERE id = $2")
        .bind(now + 9 * 86_400)
        .bind(live)
        .execute(app.db.write())
        .await
        .unwrap();
    let (room, at) = ("https://live.example.com/spring-1", now + 10 * 86_400);
    kedian::store::cohorts::set_session(&app.db, cohort, live, at, Some(room)).await.unwrap();
    app.catalog.reload(&app.db).await.unwrap();
    // A learner's question under a lesson, for the questions page.
    let lesson = app.first_paid_lesson("excel-data-analysis").await;
    let qa = format!("/courses/excel-data-analysis/lessons/{lesson}/questions");
    app.submit(&qa, &qa, &[("body", "透视表怎么按月汇总？")]).await;
    // A lesson quiz with a short answer handed in, for the bank and the results pages.
    let quiz = quiz_fixture(&app, course, kedian::domain::LessonId(lesson)).await;
    for (path, shot) in [
        (format!("/admin/courses/{course_id}/quizzes"), "admin-quizzes-1280.png"),
        (format!("/admin/quizzes/{quiz}"), "admin-quiz-results-1280.png"),
        (format!("/admin/courses/{course_id}/certificate"), "admin-certificate-1280.png"),
        ("/admin/questions".to_string(), "admin-questions-1280.png"),
        (format!("/admin/courses/{course_id}/cohorts"), "admin-cohorts-1280.png"),
        (format!("/admin/cohorts/{cohort}"), "admin-cohort-1280.png"),
        (format!("/admin/cohorts/{cohort}#live-{live}"), "admin-cohort-live-1280.png"),
        (format!("/admin/homework?cohort={cohort}"), "admin-homework-cohort-1280.png"),
        (format!("/admin/orders/{gift_order}"), "admin-order-gift-1280.png"),
        (format!("/admin/courses/{bundle_id}/bundle"), "admin-bundle-1280.png"),
        (format!("/admin/courses/{column_id}/column"), "admin-column-1280.png"),
        (format!("/admin/courses/{course_id}"), "admin-course-editor-1280.png"),
        (format!("/admin/lessons/{lesson}"), "admin-lesson-1280.png"),
        ("/admin/stats".to_string(), "admin-stats-1280.png"),
        ("/admin/orders".to_string(), "admin-orders-1280.png"),
        ("/admin/sms".to_string(), "admin-sms-1280.png"),
        ("/admin/distributors".to_string(), "admin-distributors-1280.png"),
        ("/admin/members".to_string(), "admin-members-1280.png"),
        ("/admin/reviews".to_string(), "admin-reviews-1280.png"),
        (format!("/admin/courses/{consultation_id}/slots"), "admin-slots-1280.png"),
        (format!("/admin/courses/{course_id}/group"), "admin-group-1280.png"),
        (format!("/admin/courses/{course_id}/checkin"), "admin-checkin-1280.png"),
        ("/admin/homework".to_string(), "admin-homework-1280.png"),
        ("/admin/checkins".to_string(), "admin-checkins-1280.png"),
        ("/admin/settings".to_string(), "admin-settings-1280.png"),
        ("/admin/switchover".to_string(), "admin-switchover-1280.png"),
        ("/admin/switchover/funnel".to_string(), "admin-funnel-1280.png"),
        ("/admin/content".to_string(), "admin-content-1280.png"),
        ("/admin/announcements".to_string(), "admin-announcements-1280.png"),
        ("/admin/coupons".to_string(), "admin-coupons-1280.png"),
        ("/admin/invoices".to_string(), "admin-invoices-1280.png"),
        ("/admin/invoices/1".to_string(), "admin-invoice-1280.png"),
        ("/admin/agreements".to_string(), "admin-agreements-1280.png"),
    ] {
        client.goto(&app.url(&path)).await.unwrap();
        client.wait().for_element(Locator::Css(".admin-main h1")).await.unwrap();
        let width: i64 =
            client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap().as_i64().unwrap();
        assert!(width <= 1280, "{path}: no sideways scrolling ({width}px)");
        snap(&client, shot).await;
    }
    // A coupon made by clicking: the form's dates come filled in (from now, for 30 days).
    client.goto(&app.url("/admin/coupons")).await.unwrap();
    client.find(Locator::Id("code")).await.unwrap().send_keys("vip-50").await.unwrap();
    client.find(Locator::Id("name")).await.unwrap().send_keys("老学员回馈").await.unwrap();
    client.find(Locator::Css("#kind option[value='fixed']")).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("value")).await.unwrap().send_keys("50").await.unwrap();
    client.find(Locator::Css("form[action='/admin/coupons'] button.primary")).await.unwrap().click().await.unwrap();
    let title = client.wait().for_element(Locator::Css(".admin-main h1 code")).await.unwrap();
    assert_eq!(title.text().await.unwrap(), "VIP-50");
    assert!(client.source().await.unwrap().contains("/coupons/VIP-50"), "the link to share");
    snap(&client, "admin-coupon-1280.png").await;
    // A batch of redeem codes, also by clicking.
    client.goto(&app.url("/admin/redeem")).await.unwrap();
    client.find(Locator::Css(&format!("#course option[value='{course_id}']"))).await.unwrap().click().await.unwrap();
    client.find(Locator::Id("channel")).await.unwrap().send_keys("淘宝").await.unwrap();
    client.find(Locator::Css("form[action='/admin/redeem'] button.primary")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".admin-main a[href$='/codes.csv']")).await.unwrap();
    assert!(client.source().await.unwrap().contains("0 / 100"), "100 codes, none redeemed");
    snap(&client, "admin-redeem-batch-1280.png").await;
    client.goto(&app.url("/admin/redeem")).await.unwrap();
    client.wait().for_element(Locator::Css(".admin-main table")).await.unwrap();
    snap(&client, "admin-redeem-1280.png").await;
    // Issued by clicking, the invoice's page offers to replace a wrong file.
    let pdf = app.data_dir.join("发票.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\n%%EOF\n").unwrap();
    client.goto(&app.url("/admin/invoices/1")).await.unwrap();
    client.wait().for_element(Locator::Id("file")).await.unwrap().send_keys(&pdf.display().to_string()).await.unwrap();
    client.find(Locator::Id("number")).await.unwrap().send_keys("25442000000012345678").await.unwrap();
    client.find(Locator::Css("form[action$='/issue'] button")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("replace_file")).await.unwrap();
    snap(&client, "admin-invoice-issued-1280.png").await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// The shop installs as a web app: the manifest is valid with loadable icons, and the service
/// worker registers, activates and keeps the offline page (never personal pages or media).
#[tokio::test]
async fn the_shop_installs_as_a_web_app() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    client.goto(&app.url("/")).await.unwrap();
    let manifest = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const link = document.querySelector('link[rel=manifest]');
             fetch(link.href).then(r => r.json()).then(async m => {
               const icons = await Promise.all(m.icons.map(i => fetch(i.src).then(r => r.ok && r.headers.get('content-type'))));
               done({ name: m.name, display: m.display, start: m.start_url, icons });
             }).catch(e => done({ error: String(e) }));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(manifest["name"], "课店", "{manifest}");
    assert_eq!(manifest["display"], "standalone");
    assert!(manifest["icons"].as_array().unwrap().iter().all(|t| t == "image/png"), "icons load: {manifest}");
    let worker = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const activated = w => w.state === 'activated' ? Promise.resolve() : new Promise(ok =>
               w.addEventListener('statechange', () => { if (w.state === 'activated') ok(); }));
             navigator.serviceWorker.ready
               // `ready` can come while the worker is still activating (a loaded machine): wait it out.
               .then(reg => activated(reg.active).then(() => reg))
               .then(reg => caches.open('kedian-shell-v2').then(c => c.match('/offline')).then(hit =>
                 done({ state: reg.active && reg.active.state, scope: reg.scope, offline: !!hit })))
               .catch(e => done({ error: String(e) }));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(worker["state"], "activated", "{worker}");
    assert_eq!(worker["scope"], app.url("/"));
    assert_eq!(worker["offline"], true, "the offline page is kept");
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// The drill: import the mini program's export, switch takedown mode on, and a buyer from the
/// export logs in by SMS on a phone, sees the notice, finds the course and resumes the lesson at
/// the position the export recorded.
#[tokio::test]
async fn takedown_drill_on_a_phone() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let export = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/import");
    let report = kedian::import::run(&app.db, &export, false, &kedian::import::Silent).await.unwrap();
    assert_eq!(report.total_rejected(), 0, "{}", report.text());
    let staff = app.staff().await;
    // The readiness page for the example export: its three buyers all have phones.
    let (_, readiness) = staff.get_html("/admin/switchover").await;
    let figure = |label: &str| {
        let at = readiness.find(&format!("<dt>{label}</dt><dd>")).unwrap_or_else(|| panic!("{label}"));
        readiness[at..].split("<dd>").nth(1).unwrap().split('<').next().unwrap().to_string()
    };
    let reach = ["小程序已购学员", "可短信联系", "仅微信（无手机号）", "都联系不上"].map(figure);
    assert_eq!(reach, ["3", "3", "0", "0"].map(String::from));
    save("drill-readiness.html", readiness.as_bytes());
    let on = staff.submit("/admin/takedown", "/admin/takedown", &[("mode", "on"), ("message", "")]).await;
    assert_eq!(on.status(), reqwest::StatusCode::SEE_OTHER);

    client.goto(&app.url("/")).await.unwrap();
    let banner = client.wait().for_element(Locator::Css(".takedown-banner")).await.unwrap();
    assert!(banner.text().await.unwrap().contains("你购买的课程都在这里"));
    snap(&client, "drill-home-375.png").await;
    browser_login(&client, &app, "13900139003").await;
    client.goto(&app.url("/me/courses")).await.unwrap();
    let resume = client.wait().for_element(Locator::Css(".owned a.button.primary, a.button.primary")).await.unwrap();
    assert!(client.source().await.unwrap().contains("Python"), "the imported course is listed");
    snap(&client, "drill-my-courses-375.png").await;
    resume.click().await.unwrap();
    let player = client.wait().for_element(Locator::Css("[data-resume]")).await.unwrap();
    assert_eq!(player.attr("data-resume").await.unwrap().as_deref(), Some("30"), "where the export left off");
    // The player seeks once the media's length is known (the demo clips are short, so the
    // seek is checked only when the clip is longer than the saved position).
    let mut state = serde_json::Value::Null;
    for _ in 0..50 {
        state = client
            .execute(
                "const m = document.querySelector('video, audio'); return m ? [m.duration || 0, m.currentTime] : null",
                vec![],
            )
            .await
            .unwrap();
        if state.as_array().is_some_and(|s| s[0].as_f64().unwrap_or(0.0) > 0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some([duration, _]) = state.as_array().map(|s| [s[0].as_f64().unwrap_or(0.0), s[1].as_f64().unwrap_or(0.0)])
        && duration > 33.0
    {
        let resumed = "return document.querySelector('video, audio').currentTime >= 29";
        until(&client, resumed, "the player resumes at the stored 30 s").await;
    }
    assert!(client.source().await.unwrap().contains("takedown-banner"), "the notice is on the lesson page too");
    snap(&client, "drill-lesson-375.png").await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

pub(crate) const WECHAT_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                         Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";

/// The buying journey as a new visitor makes it, from the course page to the first lesson:
/// 立即购买, 获取验证码, 登录, pay, (the gateway's confirm), 开始学习. Every page fits the
/// width, shows no console errors, and is saved as a screenshot.
async fn walk(width: u32, lang: &str, ua: Option<&str>, phone: &str, tag: &str) {
    let Some((_driver, client)) = start_browser_as(width, 812, ua).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let check = |client: Client, shot: String| async move {
        let wide = client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
        assert!(wide.as_u64().unwrap_or(9999) <= u64::from(width), "{shot}: scrolls sideways ({wide})");
        snap(&client, &shot).await;
    };
    client.goto(&app.url("/language?next=/courses/excel-data-analysis")).await.unwrap();
    client.find(Locator::Css(&format!("button[value='{lang}']"))).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".buy-bar .button.primary")).await.unwrap();
    check(client.clone(), format!("walk-{tag}-1-course.png")).await;
    // 免费试看 beside the buy button, and tabs that lead to the course's sections.
    let try_free = client.find(Locator::Css(".buy-bar .try")).await.unwrap();
    assert!(try_free.attr("href").await.unwrap().unwrap_or_default().contains("/lessons/"));
    let tabs = client
        .execute("return [...document.querySelectorAll('.course-tabs a')].map(a => a.hash)", vec![])
        .await
        .unwrap();
    assert_eq!(tabs, json!(["#intro", "#syllabus", "#instructor", "#reviews"]));
    if width >= 1024 {
        // The buy box stays in view while the course is read.
        client.execute("window.scrollTo(0, document.documentElement.scrollHeight)", vec![]).await.unwrap();
        let in_view = "const top = document.querySelector('.buy-bar .button.primary').getBoundingClientRect().top; \
                       return top >= 0 && top < 812";
        until(&client, in_view, "the buy box stays on screen at the bottom").await;
        check(client.clone(), format!("walk-{tag}-1b-course-bottom.png")).await;
        client.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    }
    // The share poster opens in a sheet on the page, not as a bare PNG. A learner scrolls it above
    // the buy bar that stays at the bottom of a phone's screen.
    let summary = client.find(Locator::Css(".share-sheet summary")).await.unwrap();
    let at = vec![serde_json::to_value(&summary).unwrap()];
    client.execute("arguments[0].scrollIntoView({block: 'center'})", at).await.unwrap();
    summary.click().await.unwrap();
    let mut loaded = json!(0);
    for _ in 0..50 {
        loaded =
            client.execute("return document.querySelector('.share-sheet img').naturalWidth", vec![]).await.unwrap();
        if loaded.as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(loaded, json!(750), "the poster shows in the sheet");
    check(client.clone(), format!("walk-{tag}-1c-share.png")).await;
    client.find(Locator::Css(".share-sheet summary")).await.unwrap().click().await.unwrap();
    client.find(Locator::Css(".buy-bar .button.primary")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Id("phone")).await.unwrap().send_keys(phone).await.unwrap();
    client.find(Locator::Css("button[value=send_code]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".notice")).await.unwrap();
    let code = app.last_code(phone).expect("code texted");
    client.find(Locator::Id("code")).await.unwrap().send_keys(&code).await.unwrap();
    check(client.clone(), format!("walk-{tag}-2-login.png")).await;
    client.find(Locator::Css("button.primary[value=login]")).await.unwrap().click().await.unwrap();
    let pay = client.wait().for_element(Locator::Css(".channels button")).await.unwrap();
    let tall = client
        .execute("return document.querySelector('.channels button').getBoundingClientRect().height", vec![])
        .await
        .unwrap();
    assert!(tall.as_f64().unwrap_or(0.0) >= 44.0, "the pay button is a touch target");
    let choice = client
        .execute(
            "const c = document.querySelector('.pay-choice'); \
             return [c.getBoundingClientRect().height, document.querySelectorAll('.pay-choice input:checked').length, \
                     document.querySelectorAll('.channels button').length]",
            vec![],
        )
        .await
        .unwrap();
    assert!(choice[0].as_f64().unwrap_or(0.0) >= 44.0, "pay choices are touch targets: {choice}");
    assert_eq!(
        (choice[1].as_i64(), choice[2].as_i64()),
        (Some(1), Some(1)),
        "one choice made for the buyer, one 立即支付"
    );
    if lang == "en" {
        let terms = client.find(Locator::Css(".refund-terms")).await.unwrap().text().await.unwrap();
        assert!(terms.contains("refund") && !terms.contains("退款"), "terms in English: {terms}");
    }
    check(client.clone(), format!("walk-{tag}-3-pay.png")).await;
    pay.click().await.unwrap();
    client.wait().for_element(Locator::Css("button[value=confirm]")).await.unwrap().click().await.unwrap();
    let learn = client.wait().for_element(Locator::Css(".order-done .button.primary")).await.unwrap();
    check(client.clone(), format!("walk-{tag}-4-paid.png")).await;
    learn.click().await.unwrap();
    client.wait().for_element(Locator::Css(".lesson-page")).await.unwrap();
    check(client.clone(), format!("walk-{tag}-5-lesson.png")).await;
    let place = client
        .execute(
            "const p = document.querySelector('.player').getBoundingClientRect(); \
             const s = document.querySelector('.lesson-syllabus').getBoundingClientRect(); \
             return [p.left, p.right, s.left, s.top, p.top]",
            vec![],
        )
        .await
        .unwrap();
    let at = |i: usize| place[i].as_f64().unwrap_or(-1.0);
    if width >= 1024 {
        assert!(at(2) >= at(1) && at(3) < 400.0, "the syllabus stands beside the player: {place}");
    } else {
        assert!(at(0) == 0.0 && at(1) == f64::from(width), "the video runs edge to edge: {place}");
    }
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "{tag}: console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

#[tokio::test]
async fn the_buying_journey_in_wechat_and_in_english() {
    walk(375, "zh-CN", Some(WECHAT_UA), "13800138150", "wechat-375").await;
    walk(375, "en", None, "13800138151", "en-375").await;
}

#[tokio::test]
async fn the_buying_journey_on_a_pc_in_both_languages() {
    walk(1280, "zh-CN", None, "13800138152", "zh-1280").await;
    walk(1280, "en", None, "13800138153", "en-1280").await;
}

/// An article shows how far the reader is: a bar across the top that fills as they scroll.
#[tokio::test]
async fn articles_show_reading_progress() {
    let Some((_driver, client)) = start_browser(375, 812).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let catalog = app.catalog.snapshot();
    let article = catalog.course("product-manager-notes").unwrap().lessons().find(|l| l.free_preview).unwrap().id;
    browser_login(&client, &app, "13800138117").await;
    client.goto(&app.url(&format!("/courses/product-manager-notes/lessons/{article}"))).await.unwrap();
    client.wait().for_element(Locator::Id("read-bar")).await.unwrap();
    let share = |client: Client| async move {
        let script = "return document.getElementById('read-bar').getBoundingClientRect().width / \
                      document.querySelector('.read-progress').getBoundingClientRect().width";
        client.execute(script, vec![]).await.unwrap().as_f64().unwrap()
    };
    let top = share(client.clone()).await;
    assert!(top < 0.5, "the bar starts near empty: {top}");
    client.execute("window.scrollTo(0, document.documentElement.scrollHeight)", vec![]).await.unwrap();
    let filled = "const bar = document.getElementById('read-bar').getBoundingClientRect().width; \
                  return bar / document.querySelector('.read-progress').getBoundingClientRect().width > 0.95";
    until(&client, filled, "the bar fills as the reader scrolls").await;
    // Seeing the end reports it; the shop credits it at a reader's pace.
    let mut reported = None;
    for _ in 0..150 {
        app.flush_progress().await;
        reported = sqlx::query_scalar::<_, i64>("SELECT furthest_secs FROM lesson_progress WHERE lesson_id = $1")
            .bind(article)
            .fetch_optional(app.db.read())
            .await
            .unwrap();
        if reported.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reported.is_some_and(|share| share > 0), "the end was reported: {reported:?}");
    snap(&client, "article-375.png").await;
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}
