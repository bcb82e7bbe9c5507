//! More than a hundred malformed submissions across this forms: each is answered 4xx
//! with a message beside the field (or a plain error page when the form itself is unreadable),
//! never 5xx, and nothing is stored.

use reqwest::StatusCode;

use crate::helpers::{TestApp, csrf_in};
use crate::on_both_backends;

on_both_backends!(malformed_inputs_are_refused_beside_the_field);

const BAD_PHONES: &[&str] = &[
    "",
    "   ",
    "abc",
    "1380013800",
    "138001380000",
    "23800138000",
    "12800138000",
    "+1 138 0013 8000",
    "+86",
    "１３８００１３８０００",
    "13800138000' OR '1'='1",
    "<script>alert(1)</script>",
    "138\u{0}00138000",
    "13800138000\n13900139000",
    "99999999999999999999999999999999999999",
    "١٣٨٠٠١٣٨٠٠٠",
    "138.0013.800",
    "null",
];

const BAD_CODES: &[&str] =
    &["", " ", "12345", "1234567", "abcdef", "12a456", "１２３４５６", "-12345", "12345\u{0}", "999999999999999999999"];

struct Case {
    page: &'static str,
    action: &'static str,
    fields: Vec<(&'static str, String)>,
    field: &'static str,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let f = |pairs: &[(&'static str, &str)]| pairs.iter().map(|(k, v)| (*k, v.to_string())).collect::<Vec<_>>();
    for phone in BAD_PHONES {
        cases.push(Case {
            page: "/login",
            action: "/login",
            fields: f(&[("method", "sms"), ("action", "send_code"), ("phone", phone)]),
            field: "phone",
        });
        cases.push(Case {
            page: "/register",
            action: "/register",
            fields: f(&[("action", "send_code"), ("phone", phone)]),
            field: "phone",
        });
        cases.push(Case {
            page: "/login",
            action: "/login",
            fields: f(&[("method", "sms"), ("action", "login"), ("phone", phone), ("code", "123456")]),
            field: "phone",
        });
        cases.push(Case {
            page: "/login?method=password",
            action: "/login",
            fields: f(&[("method", "password"), ("action", "login"), ("phone", phone), ("password", "long-enough-pw")]),
            field: "phone",
        });
    }
    for code in BAD_CODES {
        cases.push(Case {
            page: "/login",
            action: "/login",
            fields: f(&[("method", "sms"), ("action", "login"), ("phone", "13800138040"), ("code", code)]),
            field: "code",
        });
        let register = [("action", "register"), ("phone", "13800138040"), ("code", *code), ("agree", "on")];
        cases.push(Case { page: "/register", action: "/register", fields: f(&register), field: "code" });
    }
    for password in ["", &"x".repeat(129)] {
        cases.push(Case {
            page: "/login?method=password",
            action: "/login",
            fields: f(&[("method", "password"), ("action", "login"), ("phone", "13800138040"), ("password", password)]),
            field: "password",
        });
    }
    let long = "p".repeat(200);
    for (password, password2, field) in [
        ("short", "short", "password"),
        ("1234567", "1234567", "password"),
        ("tab\tinside!", "tab\tinside!", "password"),
        (long.as_str(), long.as_str(), "password"),
        ("long-enough-1", "long-enough-2", "password2"),
        ("long-enough-1", "", "password2"),
        ("", "long-enough-1", "password"),
    ] {
        let fields = [
            ("action", "register"),
            ("phone", "13800138040"),
            ("code", "123456"),
            ("password", password),
            ("password2", password2),
            ("agree", "on"),
        ];
        cases.push(Case { page: "/register", action: "/register", fields: f(&fields), field });
    }
    let too_long = "名".repeat(21);
    for nickname in [too_long.as_str(), "bad\u{7}bell", "a\u{202E}b", "zero\u{200B}width", "line\nbreak"] {
        let fields = [
            ("action", "register"),
            ("phone", "13800138040"),
            ("code", "123456"),
            ("nickname", nickname),
            ("agree", "on"),
        ];
        cases.push(Case { page: "/register", action: "/register", fields: f(&fields), field: "nickname" });
    }
    for agree in ["", "off", "yes", "1"] {
        let fields = [("action", "register"), ("phone", "13800138040"), ("code", "123456"), ("agree", agree)];
        cases.push(Case { page: "/register", action: "/register", fields: f(&fields), field: "agree" });
    }
    cases
}

async fn malformed_inputs_are_refused_beside_the_field(app: TestApp) {
    let cases = cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    for case in &cases {
        let fields: Vec<(&str, &str)> = case.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = app.submit(case.page, case.action, &fields).await;
        let status = response.status();
        let html = response.text().await.unwrap();
        assert!(status.is_client_error(), "{status} for {:?}", case.fields);
        let control = case.fields.iter().any(|(_, v)| kedian::domain::text::has_forbidden_control(v));
        if control {
            // Refused at the edge, before any field's check, by a page that says why.
            assert!(html.contains("控制字符"), "no word on control characters for {:?}", case.fields);
            continue;
        }
        assert!(
            html.contains(&format!("id=\"{}-error\"", case.field)),
            "no message beside {} for {:?}",
            case.field,
            case.fields
        );
        assert!(!html.contains("<script>alert(1)</script>"), "input echoed unescaped");
    }
    assert_eq!(app.count("users").await, 1, "only the demo admin");
    assert_eq!(app.count("sms_codes").await, 0);
    assert_eq!(app.count("login_failures").await, 0);

    // Unreadable forms: still 4xx pages, never 5xx.
    let (_, html) = app.get_html("/login").await;
    let token = csrf_in(&html);
    for body in [
        format!("csrf_token={token}&phone=1&phone=2&action=send_code"),
        format!("csrf_token={token}&phone=%FF%FE&action=send_code"),
        format!("csrf_token={token}&{}", "a=b&".repeat(20_000)),
    ] {
        let response = app
            .client
            .post(app.url("/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        assert!(response.text().await.unwrap().contains("<html"), "a page, not a bare status");
    }

    // The nickname form of a logged-in user.
    app.login_by_code("13800138041").await;
    let users = app.count("users").await;
    for nickname in ["", "   ", &"名".repeat(21), "rtl\u{202E}x"] {
        let response = app.submit("/me", "/me", &[("nickname", nickname)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{nickname:?}");
        assert!(response.text().await.unwrap().contains("id=\"nickname-error\""));
    }
    let nickname: String = sqlx::query_scalar("SELECT nickname FROM users WHERE phone = '13800138041'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(nickname, "学员8041", "unchanged");
    assert_eq!(app.count("users").await, users);

    let response = app.submit("/language", "/language", &[("lang", "klingon")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Control characters (NUL, which PostgreSQL cannot store, and the rest of C0 but tab and line
    // ends) are refused at the edge with a page that says why, in forms, uploads and queries.
    let complaints = app.count("complaints").await;
    for bad in ["a\0b", "a\u{b}b", "a\u{1b}[31mb"] {
        let refused = app.submit("/me", "/me", &[("nickname", bad)]).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(refused.text().await.unwrap().contains("控制字符"), "{bad:?}: says why");
        let description = format!("课程内容和介绍不符{bad}，请处理一下");
        let fields = [("category", "other"), ("description", description.as_str()), ("phone", "13800138041")];
        let multipart = app.submit_multipart("/complaints/new", "/complaints/new", &fields, vec![]).await;
        assert_eq!(multipart.status(), StatusCode::BAD_REQUEST, "{bad:?} in a complaint");
        assert!(multipart.text().await.unwrap().contains("控制字符"));
    }
    let nickname: String = sqlx::query_scalar("SELECT nickname FROM users WHERE phone = '13800138041'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(nickname, "学员8041", "unchanged");
    assert_eq!(app.count("complaints").await, complaints, "nothing filed");
    let fine =
        [("category", "other"), ("description", "第一行\r\n\t第二行：课程内容和介绍不符"), ("phone", "13800138041")];
    let filed = app.submit_multipart("/complaints/new", "/complaints/new", &fine, vec![]).await;
    assert_eq!(filed.status(), StatusCode::SEE_OTHER, "tabs and line ends are text");
    for (path, status) in [
        ("/courses?q=%00", StatusCode::BAD_REQUEST),
        ("/courses?q=excel%00", StatusCode::BAD_REQUEST),
        ("/courses?q=%1B", StatusCode::BAD_REQUEST),
        ("/courses/excel%00", StatusCode::NOT_FOUND),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert!(response.text().await.unwrap().contains("<html"), "{path}: a page");
    }
    assert_eq!(app.get("/courses?q=a%09b").await.status(), StatusCode::OK, "a tab is fine");
    let staff = app.staff().await;
    for path in ["/admin/users?q=%00", "/admin/orders?q=%00"] {
        assert_eq!(staff.get(path).await.status(), StatusCode::BAD_REQUEST, "{path}");
    }
}
