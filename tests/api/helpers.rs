//! `spawn_app` starts the real server on port 0 with a fresh database (SQLite in a temp dir, or
//! a new PostgreSQL database when KEDIAN_TEST_POSTGRES_URL is set) and a cookie-keeping client
//! that does not follow redirects. Helpers read like the user's story.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use kedian::catalog::CatalogCache;
use kedian::config::Settings;
use kedian::domain::Phone;
use kedian::pay::Providers;
use kedian::sms::SmsSender;
use kedian::startup::{Application, SESSION_COOKIE};
use kedian::store::Db;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Response, StatusCode};
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each test on SQLite and again on PostgreSQL. A test takes a `TestApp`; with
/// `setup = <fn(Backend) -> impl Future<Output = Option<T>>>;` it takes what the setup makes
/// instead (a tuple is taken apart in the test's parameters). A setup answers None when its
/// backend or service is not configured, and the run is skipped (a failure in CI).
#[macro_export]
macro_rules! on_both_backends {
    (setup = $setup:expr; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run(backend: $crate::helpers::Backend) {
                match ($setup)(backend).await {
                    Some(fixture) => super::$name(fixture).await,
                    None => $crate::helpers::skip(&format!("{backend:?} is not configured (KEDIAN_TEST_POSTGRES_URL)")),
                }
            }

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {
        $crate::on_both_backends!(setup = $crate::helpers::spawn_app; $($name),*);
    };
}

/// The backend itself, for tests that start their own app: None for PostgreSQL when it is not
/// configured.
pub async fn configured(backend: Backend) -> Option<Backend> {
    let postgres = std::env::var("KEDIAN_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    (backend == Backend::Sqlite || postgres).then_some(backend)
}

/// Prints a skip notice, or fails when CI demands every suite (KEDIAN_TEST_REQUIRE_ALL=1).
pub fn skip(why: &str) {
    if std::env::var("KEDIAN_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("required suite cannot run: {why}");
    }
    eprintln!("skipped: {why}");
}

/// Keeps every text message instead of sending it.
#[derive(Default)]
pub struct RecordingSms {
    pub sent: Mutex<Vec<(String, String)>>,
}

impl SmsSender for RecordingSms {
    fn send<'a>(
        &'a self,
        phone: &'a Phone,
        message: &'a kedian::domain::sms::Message,
    ) -> BoxFuture<'a, Result<kedian::sms::Receipt, kedian::sms::SendError>> {
        Box::pin(async move {
            self.sent.lock().unwrap().push((phone.as_str().to_string(), message.text.clone()));
            Ok(kedian::sms::Receipt { provider: "recording", send_id: String::new() })
        })
    }
}

pub struct TestApp {
    /// This test's browser (its cookies) on this shop; `app.client`, `app.submit(…)` reach it.
    pub browser: Browser,
    pub sms: Arc<RecordingSms>,
    pub db: Db,
    pub catalog: CatalogCache,
    pub providers: Providers,
    /// Progress reports waiting for their batch.
    pub progress: Arc<kedian::store::progress_buffer::ProgressBuffer>,
    pub data_dir: std::path::PathBuf,
    pub database_url: String,
    /// TOTP secrets enrolled in this shop, by phone, with the last time step used.
    pub totp: Arc<Mutex<HashMap<String, (String, i64)>>>,
    _dir: Arc<tempfile::TempDir>,
}

pub const ADMIN_PHONE: &str = "13800000000";
pub const STAFF_PASSWORD: &str = "staff-pass-2026";

/// The code an authenticator app shows for `secret` at unix time `t`.
pub fn totp_code(secret: &str, t: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().expect("base32 secret");
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).expect("totp").generate(t as u64)
}

/// The base32 secret an enrolment page shows for typing in by hand.
pub fn totp_secret_in(html: &str) -> Option<String> {
    let marker = "id=\"totp-secret\">";
    let start = html.find(marker)? + marker.len();
    html[start..].split('<').next().map(String::from)
}

pub fn test_settings(dir: &std::path::Path, database_url: &str) -> Settings {
    let env: HashMap<String, String> = [
        ("KEDIAN_LISTEN", "127.0.0.1:0".to_string()),
        ("KEDIAN_DATA_DIR", dir.display().to_string()),
        ("KEDIAN_DATABASE_URL", database_url.to_string()),
        ("KEDIAN_PUBLIC_URL", "http://kedian.test".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Settings::from_sources(None, &env).expect("test settings")
}

/// A new, empty PostgreSQL database for one test.
pub async fn fresh_postgres_database() -> Option<String> {
    let base = std::env::var("KEDIAN_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())?;
    let name = format!("kedian_test_{}", hex::encode(rand::random::<[u8; 8]>()));
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to KEDIAN_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create test database");
    let _ = admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("database URL with a path");
    Some(format!("{prefix}/{name}"))
}

/// Warnings and errors only, unless RUST_LOG asks for more.
fn init_test_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    init_test_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}/kedian.db", dir.path().display()),
        Backend::Postgres => fresh_postgres_database().await?,
    };
    let mut settings = test_settings(dir.path(), &url);
    adjust(&mut settings);
    let database_url = settings.database_url.clone();
    let sms = Arc::new(RecordingSms::default());
    // With SMS providers configured (a simulator), the shop builds its own senders.
    let app = if settings.sms_config.is_some() {
        Application::build(settings).await.expect("application builds")
    } else {
        Application::build_with_sms(settings, sms.clone()).await.expect("application builds")
    };
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    let catalog = app.catalog();
    let providers = app.providers();
    let progress = app.progress();
    let data_dir = dir.path().to_path_buf();
    tokio::spawn(app.run_until_stopped());
    let jar = Arc::new(Jar::default());
    Some(TestApp {
        browser: Browser { client: client(jar.clone()), jar, address },
        sms,
        db,
        catalog,
        providers,
        progress,
        data_dir,
        database_url,
        totp: Arc::default(),
        _dir: Arc::new(dir),
    })
}

/// One browser: its own cookies, on one address (a test's shop, or nginx in front of several).
pub struct Browser {
    pub address: String,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
}

impl std::ops::Deref for TestApp {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl Browser {
    pub fn new(address: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        Browser { address: address.to_string(), client: client(jar.clone()), jar }
    }

    /// The same cookies (the same browser), on another address of the same host.
    pub fn at(&self, address: &str) -> Browser {
        Browser { address: address.to_string(), client: self.client.clone(), jar: self.jar.clone() }
    }

    /// Posts a multipart form (with files) the way a browser does, with the page's CSRF token.
    pub async fn submit_multipart(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        files: Vec<(&str, &str, Vec<u8>)>,
    ) -> Response {
        let (_, html) = self.get_html(page).await;
        let mut form = reqwest::multipart::Form::new().text("csrf_token", csrf_in(&html));
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        for (field, file_name, bytes) in files {
            form =
                form.part(field.to_string(), reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()));
        }
        self.client.post(self.url(action)).multipart(form).send().await.expect("POST multipart")
    }

    /// Asks for a refund of an order; returns the response (a redirect to the request's page).
    pub async fn request_refund(&self, order_no: &str, reason: &str, files: Vec<(&str, &str, Vec<u8>)>) -> Response {
        let page = format!("/orders/{order_no}/refund");
        self.submit_multipart(&page, &page, &[("reason", reason), ("detail", "")], files).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    /// Posts a form the way a browser does: fetch the page, take its CSRF token, submit.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let (_, html) = self.get_html(page).await;
        let token = csrf_in(&html);
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        self.client.post(self.url(action)).form(&form).send().await.expect("POST")
    }

    pub async fn post_raw(&self, action: &str, fields: &[(&str, &str)]) -> Response {
        self.client.post(self.url(action)).form(fields).send().await.expect("POST")
    }

    /// The cookie header this client would send now.
    pub fn cookie_header(&self) -> String {
        let url = self.address.parse().expect("url");
        self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(String::from)).unwrap_or_default()
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.cookie_header().split("; ").find(|c| c.starts_with(&format!("{SESSION_COOKIE}="))).map(String::from)
    }

    pub async fn login_by_password(&self, phone: &str, password: &str) -> Response {
        self.submit(
            "/login?method=password",
            "/login",
            &[("method", "password"), ("action", "login"), ("phone", phone), ("password", password)],
        )
        .await
    }

    pub async fn logout(&self) -> Response {
        self.submit("/me", "/logout", &[]).await
    }

    /// Presses the buy button on a course page; returns the response to the POST.
    pub async fn buy(&self, slug: &str) -> Response {
        let page = format!("/courses/{slug}");
        self.submit(&page, &format!("{page}/buy"), &[]).await
    }

    /// Buys and returns the new (or reused) order number.
    pub async fn order_for(&self, slug: &str) -> String {
        let response = self.buy(slug).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "buy {slug}");
        let to = location(&response);
        to.trim_start_matches("/orders/").trim_end_matches("/pay").to_string()
    }

    /// On the pay page, chooses the sandbox; returns the response (a redirect to the cashier).
    pub async fn choose_sandbox(&self, order_no: &str) -> Response {
        let page = format!("/orders/{order_no}/pay");
        self.submit(&page, &page, &[("channel", "sandbox")]).await
    }

    /// At the sandbox cashier, presses a button (`confirm`, `confirm_lost`, `cancel`).
    pub async fn cashier(&self, order_no: &str, action: &str) -> Response {
        let page = format!("/pay/sandbox/{order_no}");
        self.submit(&page, &page, &[("action", action)]).await
    }

    /// The whole way from the pay page to a confirmed sandbox payment.
    pub async fn pay_sandbox(&self, order_no: &str) -> Response {
        let to_cashier = self.choose_sandbox(order_no).await;
        assert_eq!(location(&to_cashier), format!("/pay/sandbox/{order_no}"));
        self.cashier(order_no, "confirm").await
    }
}

pub fn client(jar: Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_provider(jar).build().expect("client")
}

/// The value of `name="csrf_token"` in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF token") + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_string()
}

/// HTML as text: askama writes `&` as `&#38;` and so on.
pub fn unescape(html: &str) -> String {
    [
        ("&#38;", "&"),
        ("&#60;", "<"),
        ("&#62;", ">"),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
    ]
    .iter()
    .fold(html.to_string(), |text, (from, to)| text.replace(from, to))
}

pub fn location(response: &Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

impl TestApp {
    /// Where the return page sends the buyer back from the cashier once it has an answer (it
    /// waits, refreshing, while the payment is unconfirmed).
    pub async fn returned_from_cashier(&self, order_no: &str) -> String {
        let back = format!("/orders/{order_no}/return");
        eventually_some("an answer on the return page", || async {
            Some(location(&self.get(&back).await)).filter(|landed| !landed.is_empty())
        })
        .await
    }

    /// The same shop seen from another browser (its own cookies).
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            browser: Browser::new(&self.address),
            sms: self.sms.clone(),
            db: self.db.clone(),
            catalog: self.catalog.clone(),
            providers: self.providers.clone(),
            progress: self.progress.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            totp: self.totp.clone(),
            _dir: self._dir.clone(),
        }
    }

    /// Moves a time stored in every session that has it `secs` into the past, as if the clock had
    /// moved on (the default store keeps sessions in the database).
    pub async fn age_sessions(&self, key: &str, secs: i64) {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, state FROM sessions").fetch_all(self.db.read()).await.expect("sessions");
        for (id, state) in rows {
            let mut map: HashMap<String, String> = serde_json::from_str(&state).expect("session state");
            let Some(value) = map.get(key) else { continue };
            let aged = value.parse::<i64>().expect("a time") - secs;
            map.insert(key.to_string(), aged.to_string());
            sqlx::query("UPDATE sessions SET state = $1 WHERE id = $2")
                .bind(serde_json::to_string(&map).expect("json"))
                .bind(id)
                .execute(self.db.write())
                .await
                .expect("age session");
        }
        self.db.sessions_changed();
    }

    /// Reports a learning position for a lesson the way its page does (the page's CSRF token,
    /// JSON); the status the shop answered.
    pub async fn report_progress(
        &self,
        slug: &str,
        lesson: kedian::domain::LessonId,
        position: i64,
        duration: i64,
    ) -> StatusCode {
        let html = unescape(&self.get_html(&format!("/courses/{slug}/lessons/{lesson}")).await.1);
        let token = html.split("data-csrf=\"").nth(1).and_then(|t| t.split('"').next()).map(str::to_string);
        let token = token.unwrap_or_else(|| csrf_in(&html));
        self.client
            .post(self.url(&format!("/progress/{lesson}")))
            .header("Content-Type", "application/json")
            .header("X-CSRF-Token", token)
            .body(format!(r#"{{"position":{position},"duration":{duration}}}"#))
            .send()
            .await
            .expect("progress report")
            .status()
    }

    /// Writes the progress reports gathered so far, as the next batch would.
    pub async fn flush_progress(&self) {
        self.progress.flush(&self.db).await.expect("progress batch");
    }

    /// Writes the progress reports waiting, then moves every report `secs` into the past, as if
    /// the learners had watched on since: a report may credit only what could have played.
    pub async fn age_progress(&self, secs: i64) {
        self.flush_progress().await;
        sqlx::query("UPDATE lesson_progress SET updated_at = updated_at - $1")
            .bind(secs)
            .execute(self.db.write())
            .await
            .expect("age progress");
        self.db.changed(kedian::store::Topic::Progress);
    }

    /// Another browser, signed in to the back office as the demo admin (password, then TOTP).
    pub async fn staff(&self) -> TestApp {
        self.make_staff(ADMIN_PHONE, kedian::domain::staff::Role::Admin).await;
        self.staff_as(ADMIN_PHONE).await
    }

    /// Makes `phone` a staff member with `role` and the test staff password (fixture set-up). A
    /// phone that already is one is left alone: setting a password signs out its other sessions.
    pub async fn make_staff(&self, phone: &str, role: kedian::domain::staff::Role) {
        use kedian::store::users;
        let phone = Phone::parse(phone).expect("phone");
        let existing = users::find_by_phone(&self.db, &phone).await.expect("find");
        if let Some(user) = &existing {
            let same_password = kedian::auth::password::verify(STAFF_PASSWORD.into(), user.password_hash.clone());
            if user.role == role && same_password.await.expect("verify") {
                return;
            }
        }
        let hash = kedian::auth::password::hash(STAFF_PASSWORD.to_string()).await.expect("hash");
        let now = kedian::domain::time::now();
        match existing {
            Some(user) => users::set_password_and_role(&self.db, user.id, &hash, role, now).await.expect("update"),
            None => {
                users::create(&self.db, &phone, "员工", Some(&hash), role, now).await.expect("create");
            }
        }
    }

    /// The next TOTP code for an enrolled phone: never one already used (a code is good once).
    pub async fn next_totp(&self, phone: &str) -> String {
        loop {
            let now = kedian::domain::time::now();
            let current = now / 30;
            let picked = {
                let mut map = self.totp.lock().unwrap();
                let (secret, last) = map.get_mut(phone).expect("phone enrolled in this test");
                let step = current.max(*last + 1);
                (step <= current + 1).then(|| {
                    *last = step;
                    totp_code(secret, step * 30)
                })
            };
            match picked {
                Some(code) => return code,
                None => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            }
        }
    }

    /// Another browser that signs in as staff member `phone`, enrolling TOTP on first sign-in.
    pub async fn staff_as(&self, phone: &str) -> TestApp {
        let browser = self.another_browser();
        let sent =
            browser.submit("/admin/login", "/admin/login", &[("phone", phone), ("password", STAFF_PASSWORD)]).await;
        assert_eq!(sent.status(), StatusCode::SEE_OTHER, "password accepted");
        let (status, html) = browser.get_html("/admin/login/verify").await;
        assert_eq!(status, StatusCode::OK);
        if let Some(secret) = totp_secret_in(&html) {
            self.totp.lock().unwrap().insert(phone.to_string(), (secret, 0));
        }
        let code = self.next_totp(phone).await;
        let done = browser.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
        assert!(done.status() == StatusCode::SEE_OTHER || done.status() == StatusCode::OK, "TOTP accepted");
        browser
    }

    /// Buys `slug` and pays at the sandbox cashier; returns the order number.
    pub async fn bought(&self, slug: &str) -> String {
        let order_no = self.order_for(slug).await;
        self.pay_sandbox(&order_no).await;
        assert_eq!(self.order_status(&order_no).await, "paid");
        order_no
    }

    /// The newest code texted to `phone`.
    pub fn last_code(&self, phone: &str) -> Option<String> {
        let sent = self.sms.sent.lock().unwrap();
        let (_, text) = sent.iter().rev().find(|(p, _)| p == phone)?;
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        (digits.len() >= 6).then(|| digits[..6].to_string())
    }

    pub fn sms_count(&self) -> usize {
        self.sms.sent.lock().unwrap().len()
    }

    pub async fn request_code(&self, page: &str, phone: &str) -> Response {
        self.submit(page, page, &[("method", "sms"), ("action", "send_code"), ("phone", phone)]).await
    }

    /// Where the gap of the slider puzzle on `html` is, as a person sees it in the picture (the
    /// test reads it from the session store instead).
    pub async fn puzzle_answer(&self, html: &str) -> String {
        let nonce = html.split("/human-check/").nth(1).and_then(|s| s.split('/').next()).expect("a puzzle on the page");
        let states: Vec<String> =
            sqlx::query_scalar("SELECT state FROM sessions").fetch_all(self.db.read()).await.expect("sessions");
        for state in states {
            let map: HashMap<String, String> = serde_json::from_str(&state).expect("session state");
            let Some(puzzle) = map.get("human_check") else { continue };
            let puzzle: serde_json::Value = serde_json::from_str(puzzle).expect("a puzzle");
            if puzzle["nonce"] == nonce {
                return puzzle["x"].to_string();
            }
        }
        panic!("no session holds puzzle {nonce}");
    }

    /// Asks for a code, and when the page asks for the puzzle first, solves it and asks again.
    pub async fn request_code_solving(&self, page: &str, phone: &str) -> (StatusCode, String) {
        let first = self.request_code(page, phone).await;
        let status = first.status();
        let html = first.text().await.expect("page");
        if status != StatusCode::TOO_MANY_REQUESTS || !html.contains("/human-check/") {
            return (status, html);
        }
        let slide = self.puzzle_answer(&html).await;
        let fields = [("method", "sms"), ("action", "send_code"), ("phone", phone), ("slide", slide.as_str())];
        let again = self.submit(page, page, &fields).await;
        (again.status(), again.text().await.expect("page"))
    }

    /// Logs in by SMS code; returns the final response (a redirect when it worked).
    /// Every test browser shares one address, so a test signing many in meets the puzzle: it is
    /// solved as a person would.
    pub async fn login_by_code(&self, phone: &str) -> Response {
        let (sent, _) = self.request_code_solving("/login", phone).await;
        assert_eq!(sent, StatusCode::OK, "code sent");
        let normalized = Phone::parse(phone).expect("valid phone");
        let code = self.last_code(normalized.as_str()).expect("a code was texted");
        self.submit("/login", "/login", &[("method", "sms"), ("action", "login"), ("phone", phone), ("code", &code)])
            .await
    }

    /// Logs in by a code that reached the phone through the SMS simulators.
    pub async fn login_by_code_from(&self, sim: &crate::sms_sim::SmsSim, phone: &str) -> Response {
        self.age_codes(61).await;
        assert_eq!(self.request_code("/login", phone).await.status(), StatusCode::OK, "code sent");
        let code = sim.code_for(phone).expect("the code reached the phone");
        self.submit("/login", "/login", &[("method", "sms"), ("action", "login"), ("phone", phone), ("code", &code)])
            .await
    }

    pub async fn register(&self, phone: &str, password: &str, nickname: &str) -> Response {
        let sent = self.request_code("/register", phone).await;
        assert_eq!(sent.status(), StatusCode::OK, "code sent");
        let code = self.last_code(Phone::parse(phone).expect("phone").as_str()).expect("code");
        self.submit(
            "/register",
            "/register",
            &[
                ("action", "register"),
                ("phone", phone),
                ("code", &code),
                ("password", password),
                ("password2", password),
                ("nickname", nickname),
                ("agree", "on"),
            ],
        )
        .await
    }

    /// A course's id by its slug.
    pub async fn course_id(&self, slug: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM courses WHERE slug = $1")
            .bind(slug)
            .fetch_one(self.db.read())
            .await
            .expect("course")
    }

    /// The first lesson of a course that is not a free preview.
    pub async fn first_paid_lesson(&self, slug: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = $1 AND l.free_preview = 0 \
             ORDER BY l.id LIMIT 1",
        )
        .bind(slug)
        .fetch_one(self.db.read())
        .await
        .expect("a paid lesson")
    }

    pub async fn order_status(&self, order_no: &str) -> String {
        sqlx::query_scalar("SELECT status FROM orders WHERE order_no = $1")
            .bind(order_no)
            .fetch_one(self.db.read())
            .await
            .expect("order status")
    }

    /// A sandbox gateway with this shop's key, to sign notifications the way the cashier does.
    pub fn sandbox_gateway(&self) -> kedian::pay::sandbox::Sandbox {
        let master =
            kedian::config::load_or_create_session_key(&self.data_dir.join("session.key")).expect("session key");
        let key = kedian::startup::derive(&master, kedian::startup::SANDBOX_KEY_LABEL);
        kedian::pay::sandbox::Sandbox::new(key, self.db.clone())
    }

    /// Runs the order jobs once, as if at `now`.
    pub async fn run_order_jobs(&self, now: i64) {
        kedian::jobs::orders::run_once(&self.db, &self.providers, &self.catalog, now).await.expect("order jobs");
    }

    /// Waits (up to 10 s) until the SMS outbox job has handled every text that is due.
    pub async fn deliver_texts(&self) {
        for _ in 0..200 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sms_outbox WHERE status = 'sending' OR (status = 'queued' AND next_attempt_at <= $1)",
            )
            .bind(kedian::domain::time::now())
            .fetch_one(self.db.read())
            .await
            .expect("outbox");
            if waiting == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the SMS outbox did not empty");
    }

    /// The learner with this phone may learn the course now (bought or given, not revoked).
    pub async fn owns(&self, phone: &str, slug: &str) -> bool {
        let found: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM entitlements e JOIN users u ON u.id = e.user_id JOIN courses c ON c.id = e.course_id \
             WHERE u.phone = $1 AND c.slug = $2 AND e.revoked_at IS NULL",
        )
        .bind(phone)
        .bind(slug)
        .fetch_one(self.db.read())
        .await
        .expect("entitlements");
        found > 0
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(self.db.read()).await.expect("count")
    }

    /// Moves every stored SMS send back in time, as if `secs` had passed.
    pub async fn age_codes(&self, secs: i64) {
        sqlx::query("UPDATE sms_codes SET created_at = created_at - $1, expires_at = expires_at - $1")
            .bind(secs)
            .execute(self.db.write())
            .await
            .expect("age codes");
    }
}

/// Polls `check` every 50 ms for up to 20 s.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_some(what, || async { check().await.then_some(()) }).await
}

/// Polls `ask` every 50 ms for up to 20 s, until it gives an answer.
pub async fn eventually_some<T, F, Fut>(what: &str, ask: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(answer) = ask().await {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}
