//! The `kedian` binary as an operator runs it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

fn kedian(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kedian"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEDIAN_DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "info");
    cmd
}

#[tokio::test]
async fn migrate_and_create_admin_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = kedian(dir.path()).arg("migrate").env("KEDIAN_COLOUR", "blue").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("schema created"), "{stdout}");
    assert!(stdout.contains("unknown KEDIAN_ variable") && stdout.contains("KEDIAN_COLOUR"), "{stdout}");
    let again = kedian(dir.path()).arg("migrate").output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("schema up to date"));

    let mut child = kedian(dir.path())
        .args(["user", "create-admin", "--phone", "+86 137 0000 0001"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"admin-password-1\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("137****0001") && !stdout.contains("admin-password-1"), "{stdout}");

    let short = kedian(dir.path())
        .args(["user", "create-admin", "--phone", "13700000002"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"short\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(!short.status.success(), "a short password is refused");
    let bad_phone = kedian(dir.path()).args(["user", "create-admin", "--phone", "12345"]).output().unwrap();
    assert!(!bad_phone.status.success());

    // The admin signs in with that password and an authenticator code, and reaches the back office.
    let url = format!("sqlite://{}/data/kedian.db", dir.path().display());
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| s.database_url = url).await.unwrap();
    let first = staff_sign_in(&app, "13700000001", "admin-password-1").await;
    assert!(first.is_some(), "the first sign-in enrols an authenticator");
    let stdout = kedian(dir.path()).args(["user", "reset-totp", "--phone", "13700000001"]).output().unwrap();
    assert!(stdout.status.success(), "{stdout:?}");
    assert!(staff_sign_in(&app, "13700000001", "admin-password-1").await.is_some(), "enrols again after a reset");
    let learner = kedian(dir.path()).args(["user", "reset-totp", "--phone", "13700000009"]).output().unwrap();
    assert!(!learner.status.success(), "only staff have an authenticator");
}

/// Signs in to the back office in a new browser; returns the secret when it had to enrol.
async fn staff_sign_in(app: &crate::helpers::TestApp, phone: &str, password: &str) -> Option<String> {
    let browser = app.another_browser();
    let sent = browser.submit("/admin/login", "/admin/login", &[("phone", phone), ("password", password)]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "password accepted");
    let (_, page) = browser.get_html("/admin/login/verify").await;
    let secret = crate::helpers::totp_secret_in(&page);
    let code = crate::helpers::totp_code(secret.as_deref().expect("enrolment page"), kedian::domain::time::now());
    let done = browser.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
    assert_eq!(done.status(), StatusCode::OK, "enrolled: the recovery codes");
    assert_eq!(browser.get("/admin").await.status(), StatusCode::OK);
    secret
}

/// Starts `kedian serve` on a free port, logs in as the admin made from the command line,
/// then stops it with SIGTERM and expects a clean exit.
#[tokio::test]
async fn serve_logs_where_it_listens_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child =
        kedian(dir.path()).arg("serve").env("KEDIAN_LISTEN", "127.0.0.1:0").stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let mut port = None;
    let mut demo_password = None;
    while port.is_none() && started.elapsed() < Duration::from_secs(30) {
        let Some(Ok(line)) = lines.next() else { break };
        assert!(!line.contains('\u{1b}'), "no colour codes when stdout is not a terminal: {line:?}");
        if line.contains("demo admin") && line.contains("13800000000") {
            demo_password =
                line.split("password ").nth(1).and_then(|rest| rest.split_whitespace().next()).map(String::from);
        }
        if let Some(rest) = line.split("port=").nth(1) {
            port = rest.split_whitespace().next().and_then(|p| p.parse::<u16>().ok());
        }
    }
    let port = port.expect("the log says where the shop listens");
    let demo_password = demo_password.expect("the log says how to sign in as the demo admin");
    std::thread::spawn(move || for _ in lines {});

    let home = reqwest::get(format!("http://127.0.0.1:{port}/")).await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Excel 数据分析实战"), "demo catalog");
    // The password from the log opens the back office's first step, as the README says.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = crate::helpers::client(jar);
    let login = format!("http://127.0.0.1:{port}/admin/login");
    let page = browser.get(&login).send().await.unwrap().text().await.unwrap();
    let token = crate::helpers::csrf_in(&page);
    let form = [("csrf_token", token.as_str()), ("phone", "13800000000"), ("password", demo_password.as_str())];
    let sent = browser.post(&login).form(&form).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert!(crate::helpers::location(&sent).starts_with("/admin/login/verify"), "the demo password works");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(dir.path().join("data/kedian.db").exists());
    assert!(dir.path().join("data/session.key").exists());
}

/// `log_format = "json"`: one JSON object per line, and one line per request with its request id,
/// route pattern (never the path with its query), status and latency.
#[tokio::test]
async fn json_logs_say_one_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = kedian(dir.path())
        .arg("serve")
        .env("KEDIAN_LISTEN", "127.0.0.1:0")
        .env("KEDIAN_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    let mut port = None;
    while port.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the shop says where it listens");
        port = line["port"].as_u64();
    }
    let port = port.unwrap();
    let page =
        reqwest::get(format!("http://127.0.0.1:{port}/courses/excel-data-analysis?secret=s3cr3t")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let request = loop {
        let line = rx.recv_timeout(Duration::from_secs(10)).expect("a line for the request");
        if line["message"] == "request" && line["route"] == "/courses/{slug}" {
            break line;
        }
    };
    assert_eq!(request["status"], 200);
    assert_eq!(request["method"], "GET");
    assert!(request["latency_ms"].is_u64(), "{request}");
    assert!(request["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{request}");
    assert!(!request.to_string().contains("s3cr3t"), "the query is not logged: {request}");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

crate::on_both_backends!(a_password_set_from_the_command_line_ends_old_sessions);

/// `kedian user create-admin` on an existing account sets a new password: a session signed in
/// with the old one no longer opens the back office. On PostgreSQL the command tells the running
/// instances as it ends (their copies would otherwise last a minute); on SQLite it cannot, and
/// the caches' 10 s decide.
async fn a_password_set_from_the_command_line_ends_old_sessions(app: crate::helpers::TestApp) {
    let staff = app.staff().await;
    assert_eq!(staff.get("/admin").await.status(), StatusCode::OK);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kedian"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEDIAN_DATA_DIR", &app.data_dir)
        .env("KEDIAN_DATABASE_URL", &app.database_url)
        .args(["user", "create-admin", "--phone", crate::helpers::ADMIN_PHONE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a-new-admin-password-2\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let wait = match app.db.backend() {
        kedian::store::Backend::Postgres => Duration::from_secs(3),
        kedian::store::Backend::Sqlite => Duration::from_secs(30),
    };
    let deadline = Instant::now() + wait;
    loop {
        let status = staff.get("/admin").await.status();
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::SEE_OTHER, "sent to sign in again");
            break;
        }
        assert!(Instant::now() < deadline, "the old session still opens /admin");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
