use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, csrf_in, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    one_code_per_phone_per_minute,
    a_busy_phone_asks_for_the_puzzle,
    a_busy_address_asks_for_the_puzzle,
    ten_wrong_passwords_lock_password_login,
    the_owner_gets_in_by_sms_during_a_lock,
    concurrent_requests_cannot_slip_past_a_limit,
    strangers_cannot_burn_or_block_the_owners_code,
    strangers_cannot_lock_staff_out,
);

async fn concurrent_requests_cannot_slip_past_a_limit(app: TestApp) {
    let (_, html) = app.get_html("/login").await;
    let token = crate::helpers::csrf_in(&html);
    let form = [("csrf_token", token.as_str()), ("method", "sms"), ("action", "send_code"), ("phone", "13800138014")];
    let requests = (0..10).map(|_| app.client.post(app.url("/login")).form(&form).send());
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(requests).await.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 9);
    assert_eq!(app.count("sms_codes").await, 1);
    assert_eq!(app.sms_count(), 1);
}

async fn one_code_per_phone_per_minute(app: TestApp) {
    assert_eq!(app.request_code("/login", "13800138010").await.status(), StatusCode::OK);
    let again = app.request_code("/register", "13800138010").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(again.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    let wait: i64 = again.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let html = again.text().await.unwrap();
    assert!(html.contains("验证码发送太频繁") && html.contains("秒后再试"), "{html}");
    assert_eq!(app.sms_count(), 1);
    assert_eq!(app.count("sms_codes").await, 1);
    app.age_codes(60).await;
    assert_eq!(app.request_code("/login", "13800138010").await.status(), StatusCode::OK);
}

/// Three codes to a phone in a day, then the slider puzzle: its pictures are this session's, a
/// miss draws a new one, a fit sends the code. Twenty a day is the cap, solved or not.
async fn a_busy_phone_asks_for_the_puzzle(app: TestApp) {
    let phone = "13800138011";
    for _ in 0..3 {
        assert_eq!(app.request_code("/login", phone).await.status(), StatusCode::OK);
        app.age_codes(61).await;
    }
    let asked = app.request_code("/login", phone).await;
    assert_eq!(asked.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = asked.text().await.unwrap();
    assert!(html.contains("安全验证") && html.contains("请先拖动滑块"), "{html}");
    assert!(html.contains(r#"name="slide" type="range""#));
    assert_eq!(app.sms_count(), 3, "no text without the puzzle");
    let nonce = html.split("/human-check/").nth(1).and_then(|s| s.split('/').next()).unwrap().to_string();
    for part in ["scene", "piece"] {
        let picture = app.get(&format!("/human-check/{nonce}/{part}.png")).await;
        assert_eq!(picture.status(), StatusCode::OK);
        assert_eq!(picture.headers()["content-type"], "image/png");
        assert_eq!(picture.headers()["cache-control"], "no-store");
        assert!(image::load_from_memory(&picture.bytes().await.unwrap()).is_ok());
    }
    assert_eq!(
        app.another_browser().get(&format!("/human-check/{nonce}/scene.png")).await.status(),
        StatusCode::NOT_FOUND,
        "another session's puzzle is not shown"
    );

    // A miss: refused, and a new picture.
    let x: u32 = app.puzzle_answer(&html).await.parse().unwrap();
    let wrong = (x + 40).to_string();
    let missed = app
        .submit("/login", "/login", &[("method", "sms"), ("action", "send_code"), ("phone", phone), ("slide", &wrong)])
        .await;
    assert_eq!(missed.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = missed.text().await.unwrap();
    assert!(html.contains("拼图没有对准缺口"), "{html}");
    assert!(!html.contains(&nonce), "a new picture");
    assert_eq!(app.get(&format!("/human-check/{nonce}/scene.png")).await.status(), StatusCode::NOT_FOUND);
    // The same answer twice is no answer: the puzzle it answered is gone.
    let slide = app.puzzle_answer(&html).await;
    let fields = [("method", "sms"), ("action", "send_code"), ("phone", phone), ("slide", slide.as_str())];
    let fit = app.submit("/login", "/login", &fields).await;
    assert_eq!(fit.status(), StatusCode::OK, "a fit sends the code: {}", fit.text().await.unwrap());
    assert_eq!(app.sms_count(), 4);
    app.age_codes(61).await;
    assert_eq!(app.submit("/login", "/login", &fields).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.sms_count(), 4);

    // Solved each time, up to twenty a day.
    for _ in 4..20 {
        app.age_codes(61).await;
        assert_eq!(app.request_code_solving("/login", phone).await.0, StatusCode::OK);
    }
    app.age_codes(61).await;
    let (status, html) = app.request_code_solving("/login", phone).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("小时后再试"), "{html}");
    assert_eq!(app.sms_count(), 20);
    // Another number is not held by this one's cap (the address is busy by now: a puzzle).
    assert_eq!(app.request_code_solving("/login", "13800138012").await.0, StatusCode::OK);
}

/// Ten codes from one address in an hour, then everyone there solves the puzzle; forty is the cap.
async fn a_busy_address_asks_for_the_puzzle(app: TestApp) {
    for i in 0..10 {
        let phone = format!("138001381{i:02}");
        assert_eq!(app.request_code("/login", &phone).await.status(), StatusCode::OK, "{phone}");
    }
    let asked = app.another_browser().request_code("/register", "13800138150").await;
    assert_eq!(asked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(asked.text().await.unwrap().contains("安全验证"), "the register page asks too");
    for i in 10..40 {
        let phone = format!("138001381{i:02}");
        assert_eq!(app.request_code_solving("/login", &phone).await.0, StatusCode::OK, "{phone}");
    }
    let (status, html) = app.request_code_solving("/login", "13800138199").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("分钟后再试"), "{html}");
    assert_eq!(app.sms_count(), 40);
}

async fn ten_wrong_passwords_lock_password_login(owner: TestApp) {
    owner.register("13800138013", "right-password", "").await;
    owner.logout().await;
    // Guessed at from a browser that never signed in as that phone (the owner's is not paused).
    let app = owner.another_browser();
    for _ in 0..10 {
        let response = app.login_by_password("13800138013", "wrong-password").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let locked = app.login_by_password("13800138013", "right-password").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(locked.headers().get("retry-after").is_some());
    let html = locked.text().await.unwrap();
    assert!(html.contains("密码错误次数过多") && html.contains("短信验证码登录"), "{html}");
    assert_eq!(app.get("/me").await.status(), StatusCode::SEE_OTHER, "not logged in");
    assert!(html.contains("15 分钟后再试"), "the remaining wait is shown");
    // After 15 minutes the password works again.
    sqlx::query("UPDATE login_failures SET created_at = created_at - 900").execute(app.db.write()).await.unwrap();
    assert_eq!(app.login_by_password("13800138013", "right-password").await.status(), StatusCode::SEE_OTHER);
}

/// Whoever locked the password out, the phone's owner gets in by SMS code at once, and the code
/// ends the lock.
async fn the_owner_gets_in_by_sms_during_a_lock(owner: TestApp) {
    owner.register("13800138015", "right-password", "").await;
    owner.logout().await;
    // On a new device: the password is paused there too, and a code still gets the owner in.
    let app = owner.another_browser();
    for _ in 0..10 {
        app.login_by_password("13800138015", "guessing").await;
    }
    assert_eq!(app.login_by_password("13800138015", "right-password").await.status(), StatusCode::TOO_MANY_REQUESTS);
    app.age_codes(61).await;
    assert_eq!(app.login_by_code("13800138015").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    app.logout().await;
    assert_eq!(app.login_by_password("13800138015", "right-password").await.status(), StatusCode::SEE_OTHER);
}

async fn forwarded_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |s| s.trust_forwarded = true).await
}

mod one_source_cannot_guess_across_accounts {
    use super::*;
    #[tokio::test]
    async fn sqlite() {
        super::one_source_cannot_guess_across_accounts(forwarded_app(Backend::Sqlite).await.unwrap()).await
    }
    #[tokio::test]
    async fn postgres() {
        match forwarded_app(Backend::Postgres).await {
            Some(app) => super::one_source_cannot_guess_across_accounts(app).await,
            None => crate::helpers::skip("KEDIAN_TEST_POSTGRES_URL is not set"),
        }
    }
}

/// A password login posted from `ip` (the shop trusts X-Forwarded-For here, as behind a proxy).
async fn password_from(app: &TestApp, ip: &str, phone: &str, password: &str) -> reqwest::Response {
    let page = app.client.get(app.url("/login?method=password")).header("X-Forwarded-For", ip).send().await.unwrap();
    let token = csrf_in(&page.text().await.unwrap());
    let form = [
        ("csrf_token", token.as_str()),
        ("method", "password"),
        ("action", "login"),
        ("phone", phone),
        ("password", password),
    ];
    app.client.post(app.url("/login")).header("X-Forwarded-For", ip).form(&form).send().await.unwrap()
}

/// One address trying one password on each of many phones is stopped after 30 tries; its /24
/// (or /64) after 100. The limit is per source: other networks and SMS login are unaffected.
async fn one_source_cannot_guess_across_accounts(app: TestApp) {
    app.register("13800138016", "right-password", "").await;
    app.logout().await;
    let attacker = "203.0.113.7";
    for i in 0..30 {
        let response = password_from(&app, attacker, &format!("1390013{i:04}"), "123456").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "try {i}");
    }
    let refused = password_from(&app, attacker, "13900139999", "123456").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // What the client wrote itself (entries before the one the proxy appended, or a `Forwarded`
    // header) changes nothing: the address is still the attacker's.
    let forged = password_from(&app, &format!("198.51.100.20, {attacker}"), "13900139998", "123456").await;
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS, "a forged X-Forwarded-For entry");
    let page =
        app.client.get(app.url("/login?method=password")).header("X-Forwarded-For", attacker).send().await.unwrap();
    let token = csrf_in(&page.text().await.unwrap());
    let form = [
        ("csrf_token", token.as_str()),
        ("method", "password"),
        ("action", "login"),
        ("phone", "13900139997"),
        ("password", "1"),
    ];
    let forwarded = app
        .client
        .post(app.url("/login"))
        .header("Forwarded", "for=198.51.100.21")
        .header("X-Forwarded-For", attacker)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), StatusCode::TOO_MANY_REQUESTS, "a Forwarded header");
    assert!(refused.headers().get("retry-after").is_some());
    let html = refused.text().await.unwrap();
    assert!(html.contains("当前网络密码尝试过于频繁") && html.contains("分钟后再试"), "{html}");
    // Even a right password waits from that address; the account itself is not locked.
    assert_eq!(
        password_from(&app, attacker, "13800138016", "right-password").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        password_from(&app, "198.51.100.20", "13800138016", "right-password").await.status(),
        StatusCode::SEE_OTHER
    );
    app.logout().await;
    // A neighbour in the same /24 still may, until the network as a whole has failed 100 times.
    let neighbour = "203.0.113.99";
    assert_eq!(password_from(&app, neighbour, "13800138016", "wrong").await.status(), StatusCode::BAD_REQUEST);
    let mut tx = app.db.write().begin().await.unwrap();
    for i in 0..69 {
        sqlx::query("INSERT INTO auth_failures (ip, net, created_at) VALUES ($1, '203.0.113.0/24', $2)")
            .bind(format!("203.0.113.{}", 100 + i))
            .bind(kedian::domain::time::now())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(
        password_from(&app, neighbour, "13800138016", "right-password").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.count("login_failures").await, 1, "only the real account's one wrong password counts against it");
}

/// Strangers guessing at a phone's code guess at nothing: a code belongs to the browser that
/// asked for it. Strangers filling the phone's daily limit block each other, not the owner's
/// browser, which signed in as that phone before.
async fn strangers_cannot_burn_or_block_the_owners_code(app: TestApp) {
    let phone = "13800138019";
    app.login_by_code(phone).await;
    app.logout().await;
    app.age_codes(61).await;
    assert_eq!(app.request_code("/login", phone).await.status(), StatusCode::OK);
    let code = app.last_code(phone).unwrap();
    let stranger = app.another_browser();
    for guess in ["000000", "111111", "222222", "333333", "444444", &code] {
        let tried = stranger
            .submit("/login", "/login", &[("method", "sms"), ("action", "login"), ("phone", phone), ("code", guess)])
            .await;
        assert_eq!(tried.status(), StatusCode::BAD_REQUEST, "a stranger's browser has no code to use or burn");
    }
    let owner = app
        .submit("/login", "/login", &[("method", "sms"), ("action", "login"), ("phone", phone), ("code", &code)])
        .await;
    assert_eq!(owner.status(), StatusCode::SEE_OTHER, "the owner's code still works");
    app.logout().await;

    // A stranger's text makes three today: from now on, strangers must solve the puzzle...
    app.age_codes(61).await;
    assert_eq!(app.another_browser().request_code("/login", phone).await.status(), StatusCode::OK);
    app.age_codes(61).await;
    let blocked = app.another_browser().request_code("/login", phone).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "strangers are limited");
    assert!(blocked.text().await.unwrap().contains("安全验证"));
    // ...and so does the owner on a new phone, who then is not held behind the strangers' texts.
    let new_phone = app.another_browser();
    assert_eq!(new_phone.request_code_solving("/login", phone).await.0, StatusCode::OK);
    let code = app.last_code(phone).unwrap();
    let fields = [("method", "sms"), ("action", "login"), ("phone", phone), ("code", code.as_str())];
    assert_eq!(new_phone.submit("/login", "/login", &fields).await.status(), StatusCode::SEE_OTHER);
    // The owner's known browser gets one without any puzzle, and signs in with it.
    app.age_codes(61).await;
    assert_eq!(app.login_by_code(phone).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
}

/// Ten wrong passwords from strangers pause the staff account for everyone but the browser the
/// staff member signed in from before, which still gets in with the password and TOTP.
async fn strangers_cannot_lock_staff_out(app: TestApp) {
    use crate::helpers::{ADMIN_PHONE, STAFF_PASSWORD};
    let staff = app.staff().await;
    assert_eq!(staff.submit("/admin", "/admin/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    let guess = |password: &'static str| {
        let browser = app.another_browser();
        async move {
            browser.submit("/admin/login", "/admin/login", &[("phone", ADMIN_PHONE), ("password", password)]).await
        }
    };
    for _ in 0..10 {
        assert_eq!(guess("wrong-password").await.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(guess(STAFF_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS, "paused for strangers");
    // On a new device the staff member solves the puzzle and goes on to the second factor.
    let new_device = app.another_browser();
    let fields = [("phone", ADMIN_PHONE), ("password", STAFF_PASSWORD)];
    let paused = new_device.submit("/admin/login", "/admin/login", &fields).await;
    assert_eq!(paused.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = paused.text().await.unwrap();
    assert!(html.contains("安全验证"), "{html}");
    let slide = new_device.puzzle_answer(&html).await;
    let solved = [("phone", ADMIN_PHONE), ("password", STAFF_PASSWORD), ("slide", slide.as_str())];
    let through = new_device.submit("/admin/login", "/admin/login", &solved).await;
    assert_eq!(through.status(), StatusCode::SEE_OTHER);
    assert!(crate::helpers::location(&through).starts_with("/admin/login/verify"));
    let code = app.next_totp(ADMIN_PHONE).await;
    let second = new_device.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
    assert_eq!(second.status(), StatusCode::SEE_OTHER, "nor is the second factor held by the strangers' pause");
    assert_eq!(new_device.get("/admin").await.status(), StatusCode::OK);
    // A stranger's solved puzzle with a wrong password is still a wrong password.
    let stranger = app.another_browser();
    let html = stranger.submit("/admin/login", "/admin/login", &fields).await.text().await.unwrap();
    let slide = stranger.puzzle_answer(&html).await;
    let wrong = [("phone", ADMIN_PHONE), ("password", "wrong-password"), ("slide", slide.as_str())];
    assert_eq!(stranger.submit("/admin/login", "/admin/login", &wrong).await.status(), StatusCode::BAD_REQUEST);
    let back =
        staff.submit("/admin/login", "/admin/login", &[("phone", ADMIN_PHONE), ("password", STAFF_PASSWORD)]).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "the staff member's own browser is not");
    let code = app.next_totp(ADMIN_PHONE).await;
    let verified = staff.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
    assert_eq!(verified.status(), StatusCode::SEE_OTHER);
    assert_eq!(staff.get("/admin").await.status(), StatusCode::OK);
}

/// The puzzle as a person meets it: on a phone in WeChat in Chinese and on a PC in English, a
/// busy number asks for it, the piece follows the slider moved from the keyboard, and the code
/// goes out once it fits.
#[tokio::test]
async fn the_puzzle_in_a_browser() {
    for (width, ua, lang, phone, tag) in [
        (375, Some(crate::browser::WECHAT_UA), "zh-CN", "13800138441", "375-zh"),
        (1280, None, "en", "13800138442", "1280-en"),
    ] {
        solve_in_a_browser(width, ua, lang, phone, tag).await;
    }
}

async fn solve_in_a_browser(width: u32, ua: Option<&str>, lang: &str, phone: &str, tag: &str) {
    use crate::browser::{choose_language, console_errors, snap, start_browser_as};
    use fantoccini::Locator;
    let Some((_driver, client)) = start_browser_as(width, 812, ua).await else { return };
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await.unwrap();
    for _ in 0..3 {
        assert_eq!(app.another_browser().request_code("/login", phone).await.status(), StatusCode::OK);
        app.age_codes(61).await;
    }
    choose_language(&client, &app, lang, "/login").await;
    client.find(Locator::Id("phone")).await.unwrap().send_keys(phone).await.unwrap();
    client.find(Locator::Css("button[value=send_code]")).await.unwrap().click().await.unwrap();
    let slider = client.wait().for_element(Locator::Id("slide")).await.unwrap();
    let loaded = "return [...document.querySelectorAll('.puzzle img')].every(i => i.complete && i.naturalWidth > 0)";
    for _ in 0..100 {
        if client.execute(loaded, vec![]).await.unwrap() == serde_json::json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    snap(&client, &format!("puzzle-{tag}-asked.png")).await;
    let x: usize = app.puzzle_answer(&client.source().await.unwrap()).await.parse().unwrap();
    // The slider has focus; the arrow keys move it a pixel at a time, and the piece with it.
    slider.send_keys(&"\u{E014}".repeat(x)).await.unwrap();
    // Where the piece stands over the scene, in the scene's own 300 units however it is scaled.
    let at = client
        .execute(
            "const s = document.querySelector('.puzzle-scene').getBoundingClientRect(); \
             const p = document.querySelector('.puzzle-piece').getBoundingClientRect(); \
             return (p.left - s.left) * 300 / s.width",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((at - x as f64).abs() < 1.0, "the piece follows the slider into the gap: {at} for {x}");
    snap(&client, &format!("puzzle-{tag}-fitted.png")).await;
    let target: f64 = client
        .execute("return document.getElementById('slide').getBoundingClientRect().height", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(target >= 44.0, "the slider is a 44 px target: {target}");
    client.find(Locator::Css("button[value=send_code]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".notice")).await.unwrap();
    assert_eq!(app.sms_count(), 4, "the code went out once the piece fit");
    // The page that asked for the puzzle came with its 429, which Chromium logs; nothing else.
    let errors: Vec<String> =
        console_errors(&client).await.into_iter().filter(|e| !e.contains("/login - Failed to load resource")).collect();
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}
