//! The back office: staff sign-in with password and TOTP (enrolment, replay, recovery codes),
//! staff session limits, the role matrix, and support's work on orders and users, each change
//! leaving an audit entry.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::helpers::{ADMIN_PHONE, STAFF_PASSWORD, TestApp, location, totp_code, totp_secret_in, unescape};
use crate::on_both_backends;

on_both_backends!(
    staff_sign_in_needs_totp_and_recovery_codes_work,
    staff_guesses_are_limited_with_the_wait_shown,
    staff_sessions_end_when_idle_or_too_old,
    every_admin_route_checks_the_role,
    user_changing_routes_as_each_role,
    support_searches_closes_and_refunds_orders,
    support_manages_a_learner,
    admins_manage_staff,
);

pub async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id").fetch_all(app.db.read()).await.unwrap()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

/// Wrong second-factor codes pause the account's sign-in with the wait shown; wrong guesses from
/// one address pause sign-in from there, whichever staff account they aim at.
async fn staff_guesses_are_limited_with_the_wait_shown(app: TestApp) {
    app.make_staff(ADMIN_PHONE, kedian::domain::staff::Role::Admin).await;
    let browser = app.another_browser();
    assert_eq!(password_step(&browser, ADMIN_PHONE, STAFF_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    for _ in 0..10 {
        let wrong = browser.submit("/admin/login/verify", "/admin/login/verify", &[("code", "000000")]).await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    }
    let paused = browser.submit("/admin/login/verify", "/admin/login/verify", &[("code", "000000")]).await;
    assert_eq!(paused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(paused.headers().get("retry-after").is_some());
    let html = paused.text().await.unwrap();
    assert!(html.contains("已暂停登录") && html.contains("15 分钟后再试"), "{html}");
    let password_too = password_step(&app.another_browser(), ADMIN_PHONE, STAFF_PASSWORD).await;
    assert_eq!(password_too.status(), StatusCode::TOO_MANY_REQUESTS, "the account is paused for its password too");
    assert!(!password_too.text().await.unwrap().contains("短信验证码"), "staff are not offered SMS sign-in");
    // Twenty more misses at other staff phones from this address reach its limit of 30.
    for i in 0..20 {
        let miss = password_step(&app.another_browser(), &format!("1390014{i:04}"), "guess").await;
        assert_eq!(miss.status(), StatusCode::BAD_REQUEST, "miss {i}");
    }
    let here = password_step(&app.another_browser(), "13900150000", "guess").await;
    assert_eq!(here.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(here.text().await.unwrap().contains("当前网络尝试次数过多"));
}

async fn password_step(browser: &TestApp, phone: &str, password: &str) -> reqwest::Response {
    browser.submit("/admin/login", "/admin/login", &[("phone", phone), ("password", password)]).await
}

async fn staff_sign_in_needs_totp_and_recovery_codes_work(app: TestApp) {
    app.make_staff(ADMIN_PHONE, Role::Admin).await;
    let browser = app.another_browser();
    assert_eq!(location(&browser.get("/admin").await), "/admin/login?next=%2Fadmin");

    let wrong = password_step(&browser, ADMIN_PHONE, "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.text().await.unwrap().contains("手机号或密码不正确"));

    let right = password_step(&browser, ADMIN_PHONE, STAFF_PASSWORD).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert!(location(&right).starts_with("/admin/login/verify"));
    assert_eq!(browser.get("/admin").await.status(), StatusCode::SEE_OTHER, "a password alone does not open it");

    let (_, enrol) = browser.get_html("/admin/login/verify").await;
    assert!(enrol.contains("src=\"data:image/svg+xml;base64,"), "a QR code to scan");
    let secret = totp_secret_in(&enrol).expect("the secret for typing in");
    let (_, again) = browser.get_html("/admin/login/verify").await;
    assert_eq!(totp_secret_in(&again).as_deref(), Some(secret.as_str()), "a reload keeps the same secret");

    let now = kedian::domain::time::now();
    let bad = browser.submit("/admin/login/verify", "/admin/login/verify", &[("code", "12345")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("动态码不正确"));
    let code = totp_code(&secret, now);
    let enrolled = browser.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
    assert_eq!(enrolled.status(), StatusCode::OK);
    let page = enrolled.text().await.unwrap();
    assert!(page.contains("只显示这一次"));
    let codes: Vec<String> = page
        .split("<ul class=\"recovery-codes mono\">")
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .map(|list| list.split("<li>").skip(1).map(|li| li.trim_end_matches("</li>").to_string()).collect())
        .unwrap_or_default();
    assert_eq!(codes.len(), 10, "ten recovery codes");
    assert_eq!(browser.get("/admin").await.status(), StatusCode::OK, "both factors open the back office");
    assert_eq!(audit_count(&app, "staff.totp_enrol").await, 1);

    // The same code cannot be used twice, even from another browser.
    let thief = app.another_browser();
    password_step(&thief, ADMIN_PHONE, STAFF_PASSWORD).await;
    let (_, verify) = thief.get_html("/admin/login/verify").await;
    assert!(totp_secret_in(&verify).is_none(), "enrolled: no secret shown again");
    let replay = thief.submit("/admin/login/verify", "/admin/login/verify", &[("code", &code)]).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST, "a used code is refused");

    // A recovery code works once.
    let lost_phone = app.another_browser();
    password_step(&lost_phone, ADMIN_PHONE, STAFF_PASSWORD).await;
    let typed = codes[3].to_uppercase().replace('-', " ");
    let used = lost_phone.submit("/admin/login/verify", "/admin/login/verify", &[("recovery", &typed)]).await;
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    assert_eq!(lost_phone.get("/admin").await.status(), StatusCode::OK);
    let twice = app.another_browser();
    password_step(&twice, ADMIN_PHONE, STAFF_PASSWORD).await;
    let again = twice.submit("/admin/login/verify", "/admin/login/verify", &[("recovery", &codes[3])]).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("恢复码不正确"));

    // A learner with the right password is not staff.
    app.register("13800138111", "learner-pass-1", "学员").await;
    let learner = app.another_browser();
    let refused = password_step(&learner, "13800138111", "learner-pass-1").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("不是员工账号"));

    // Signing in with SMS on the learner login gives no back office.
    let sms = app.another_browser();
    sms.login_by_code(ADMIN_PHONE).await;
    assert!(location(&sms.get("/admin").await).starts_with("/admin/login"));
}

/// Rewrites a staff time stored in every session, as if the clock had moved on.
async fn age_staff_sessions(app: &TestApp, key: &str, secs: i64) {
    app.age_sessions(key, secs).await;
}

async fn staff_sessions_end_when_idle_or_too_old(app: TestApp) {
    let staff = app.staff().await;
    assert_eq!(staff.get("/admin").await.status(), StatusCode::OK);
    age_staff_sessions(&app, "staff_seen", 29 * 60).await;
    assert_eq!(staff.get("/admin").await.status(), StatusCode::OK, "29 idle minutes are fine, and reset the clock");
    age_staff_sessions(&app, "staff_seen", 31 * 60).await;
    let expired = staff.get("/admin/orders").await;
    assert_eq!(location(&expired), "/admin/login?next=%2Fadmin%2Forders&expired=1");
    assert!(location(&staff.get("/me").await).starts_with("/login"), "the whole session ended");
    let (_, page) = staff.get_html(&location(&expired)).await;
    assert!(page.contains("后台登录已过期"));

    let busy = app.staff_as(ADMIN_PHONE).await;
    age_staff_sessions(&app, "staff_at", 12 * 3600 + 60).await;
    assert_eq!(busy.get("/admin").await.status(), StatusCode::SEE_OTHER, "12 hours end it even when busy");
}

/// What a learner buys and asks about, for the staff pages to show.
struct Fixture {
    order_no: String,
    refund_no: String,
    complaint_no: String,
    learner_id: i64,
}

async fn fixture(app: &TestApp) -> Fixture {
    let learner = app.another_browser();
    learner.login_by_code("13800138200").await;
    let order_no = learner.bought("excel-data-analysis").await;
    let asked = learner.request_refund(&order_no, "quality", vec![]).await;
    let refund_no = location(&asked).trim_start_matches("/refunds/").to_string();
    let complained = learner
        .submit_multipart(
            "/complaints/new",
            "/complaints/new",
            &[("category", "other"), ("description", "客服回复太慢"), ("phone", "13800138200")],
            vec![],
        )
        .await;
    let complaint_no = location(&complained).trim_start_matches("/complaints/").to_string();
    let learner_id =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13800138200'").fetch_one(app.db.read()).await.unwrap();
    Fixture { order_no, refund_no, complaint_no, learner_id }
}

/// (path, who may open it) for every GET page of the back office.
fn pages(f: &Fixture) -> Vec<(String, &'static [Role])> {
    use Role::*;
    const ALL: &[Role] = &[Admin, Operator, Support];
    const SUPPORT: &[Role] = &[Admin, Support];
    const OPERATOR: &[Role] = &[Admin, Operator];
    const ADMIN: &[Role] = &[Admin];
    vec![
        ("/admin".into(), ALL),
        ("/admin/orders".into(), SUPPORT),
        ("/admin/orders?format=csv".into(), SUPPORT),
        (format!("/admin/orders/{}", f.order_no), SUPPORT),
        ("/admin/refunds".into(), SUPPORT),
        ("/admin/invoices".into(), SUPPORT),
        ("/admin/invoices.csv?status=all".into(), SUPPORT),
        (format!("/admin/refunds/{}", f.refund_no), SUPPORT),
        ("/admin/complaints".into(), SUPPORT),
        (format!("/admin/complaints/{}", f.complaint_no), SUPPORT),
        ("/admin/users".into(), SUPPORT),
        (format!("/admin/users/{}", f.learner_id), SUPPORT),
        ("/admin/content".into(), SUPPORT),
        ("/admin/courses".into(), OPERATOR),
        ("/admin/courses/new".into(), OPERATOR),
        ("/admin/courses/1".into(), OPERATOR),
        ("/admin/lessons/1".into(), OPERATOR),
        ("/admin/stats".into(), OPERATOR),
        ("/admin/categories".into(), OPERATOR),
        ("/admin/announcements".into(), OPERATOR),
        ("/admin/coupons".into(), OPERATOR),
        ("/admin/coupons.csv".into(), OPERATOR),
        ("/admin/coupons/1".into(), OPERATOR),
        ("/admin/coupons/1/orders.csv".into(), OPERATOR),
        ("/admin/redeem".into(), OPERATOR),
        ("/admin/takedown".into(), OPERATOR),
        ("/admin/broadcast".into(), OPERATOR),
        ("/admin/stats?format=csv&table=daily".into(), OPERATOR),
        ("/admin/staff".into(), ADMIN),
        ("/admin/audit".into(), ADMIN),
        ("/admin/settings".into(), ADMIN),
        ("/admin/agreements".into(), ADMIN),
        ("/admin/import".into(), ADMIN),
        ("/admin/checkins".into(), SUPPORT),
        ("/admin/reviews".into(), SUPPORT),
        ("/admin/members".into(), SUPPORT),
        ("/admin/distributors".into(), SUPPORT),
        ("/admin/distributors/ledger.csv".into(), SUPPORT),
        ("/admin/homework".into(), OPERATOR),
        ("/admin/questions".into(), OPERATOR),
        ("/admin/courses/1/cohorts".into(), OPERATOR),
        ("/admin/courses/1/quizzes".into(), OPERATOR),
        ("/admin/courses/1/certificate".into(), OPERATOR),
        ("/admin/courses/1/certificate/preview.png".into(), OPERATOR),
        ("/admin/sms".into(), OPERATOR),
        ("/admin/courses/1/checkin".into(), OPERATOR),
        ("/admin/courses/1/group".into(), OPERATOR),
        ("/admin/courses/7/slots".into(), OPERATOR),
        ("/admin/switchover".into(), ADMIN),
        ("/admin/switchover/funnel".into(), ADMIN),
        ("/admin/switchover/unreachable.csv".into(), ADMIN),
    ]
}

/// (path, who may ask) for pages of a thing that does not exist: 404 for those allowed, and the
/// role is checked before anything is looked up.
fn missing_things(f: &Fixture) -> Vec<(String, &'static [Role])> {
    use Role::*;
    const SUPPORT: &[Role] = &[Admin, Support];
    const OPERATOR: &[Role] = &[Admin, Operator];
    vec![
        (format!("/admin/complaints/{}/files/999", f.complaint_no), SUPPORT),
        (format!("/admin/refunds/{}/files/999", f.refund_no), SUPPORT),
        ("/admin/invoices/999".into(), SUPPORT),
        ("/admin/invoices/999/file".into(), SUPPORT),
        ("/admin/redeem/999".into(), OPERATOR),
        ("/admin/redeem/999/codes.csv".into(), OPERATOR),
        ("/admin/cohorts/999".into(), OPERATOR),
        ("/admin/quizzes/999".into(), OPERATOR),
        ("/admin/quiz-questions/999".into(), OPERATOR),
        // Course 1 is neither a bundle nor a column.
        ("/admin/courses/1/bundle".into(), OPERATOR),
        ("/admin/courses/1/column".into(), OPERATOR),
    ]
}

/// (action, who may post it) for every form of the back office; posted empty, so that nothing
/// changes for those allowed (they get a form error) and the rest get 403.
fn forms(f: &Fixture) -> Vec<(String, &'static [Role])> {
    use Role::*;
    const SUPPORT: &[Role] = &[Admin, Support];
    const OPERATOR: &[Role] = &[Admin, Operator];
    const ADMIN: &[Role] = &[Admin];
    let (o, r, c, u) = (&f.order_no, &f.refund_no, &f.complaint_no, f.learner_id);
    vec![
        (format!("/admin/orders/{o}/close"), SUPPORT),
        (format!("/admin/orders/{o}/refund"), SUPPORT),
        (format!("/admin/refunds/{r}/approve"), SUPPORT),
        (format!("/admin/refunds/{r}/reject"), SUPPORT),
        (format!("/admin/complaints/{c}/reply"), SUPPORT),
        (format!("/admin/complaints/{c}/link-refund"), SUPPORT),
        (format!("/admin/users/{u}/grant"), SUPPORT),
        (format!("/admin/users/{u}/revoke"), SUPPORT),
        (format!("/admin/users/{u}/status"), SUPPORT),
        (format!("/admin/refunds/{r}/retry"), SUPPORT),
        ("/admin/content/keywords".into(), SUPPORT),
        ("/admin/content/keywords/999/delete".into(), SUPPORT),
        ("/admin/content/items/999".into(), SUPPORT),
        ("/admin/courses/new".into(), OPERATOR),
        ("/admin/courses/1".into(), OPERATOR),
        ("/admin/courses/1/chapters".into(), OPERATOR),
        ("/admin/courses/1/publication".into(), OPERATOR),
        ("/admin/courses/1/lessons".into(), OPERATOR),
        ("/admin/chapters/1".into(), OPERATOR),
        ("/admin/lessons/1".into(), OPERATOR),
        ("/admin/announcements/banner".into(), OPERATOR),
        ("/admin/categories".into(), OPERATOR),
        ("/admin/categories/1".into(), OPERATOR),
        ("/admin/instructors".into(), OPERATOR),
        ("/admin/instructors/1".into(), OPERATOR),
        ("/admin/announcements/message".into(), OPERATOR),
        ("/admin/takedown".into(), OPERATOR),
        ("/admin/broadcast".into(), OPERATOR),
        ("/admin/courses/1/cover".into(), OPERATOR),
        ("/admin/lessons/1/media".into(), OPERATOR),
        ("/admin/announcements/999/end".into(), OPERATOR),
        ("/admin/coupons".into(), OPERATOR),
        ("/admin/coupons/1".into(), OPERATOR),
        ("/admin/coupons/999/disable".into(), OPERATOR),
        ("/admin/redeem".into(), OPERATOR),
        ("/admin/redeem/999/code".into(), OPERATOR),
        ("/admin/invoices/999/issue".into(), SUPPORT),
        ("/admin/invoices/999/replace".into(), SUPPORT),
        ("/admin/redeem/999/disable".into(), OPERATOR),
        ("/admin/staff".into(), ADMIN),
        (format!("/admin/staff/{u}/role"), ADMIN),
        (format!("/admin/staff/{u}/reset-totp"), ADMIN),
        ("/admin/settings/logo".into(), ADMIN),
        ("/admin/agreements".into(), ADMIN),
        ("/admin/import".into(), ADMIN),
        ("/admin/checkins/999".into(), SUPPORT),
        ("/admin/reviews/999".into(), SUPPORT),
        ("/admin/users/999999/sign-out".into(), SUPPORT),
        ("/admin/distributors/999999".into(), SUPPORT),
        ("/admin/payouts/999".into(), SUPPORT),
        ("/admin/homework/999".into(), OPERATOR),
        ("/admin/questions/999/answer".into(), OPERATOR),
        ("/admin/questions/999/status".into(), OPERATOR),
        ("/admin/answers/999/status".into(), OPERATOR),
        ("/admin/answers/999/best".into(), OPERATOR),
        ("/admin/courses/1/cohorts".into(), OPERATOR),
        ("/admin/cohorts/999".into(), OPERATOR),
        ("/admin/cohorts/999/move".into(), OPERATOR),
        ("/admin/cohorts/999/message".into(), OPERATOR),
        ("/admin/cohorts/999/live/1".into(), OPERATOR),
        ("/admin/cohorts/999/delete".into(), OPERATOR),
        ("/admin/courses/1/quizzes".into(), OPERATOR),
        ("/admin/courses/1/quiz-questions".into(), OPERATOR),
        ("/admin/quiz-questions/999".into(), OPERATOR),
        ("/admin/quiz-questions/999/retire".into(), OPERATOR),
        ("/admin/attempts/999/grade".into(), OPERATOR),
        ("/admin/quizzes/999/delete".into(), OPERATOR),
        ("/admin/courses/1/certificate".into(), OPERATOR),
        ("/admin/courses/1/certificate/seal".into(), OPERATOR),
        ("/admin/certificates/999/revoke".into(), OPERATOR),
        ("/admin/lessons/1/files".into(), OPERATOR),
        ("/admin/lesson-files/999/delete".into(), OPERATOR),
        ("/admin/courses/1/checkin".into(), OPERATOR),
        ("/admin/courses/1/group".into(), OPERATOR),
        ("/admin/courses/7/slots".into(), OPERATOR),
        ("/admin/courses/7/slots/999/delete".into(), OPERATOR),
        ("/admin/courses/7/slots/999/meeting".into(), OPERATOR),
        ("/admin/courses/1/bundle".into(), OPERATOR),
        ("/admin/courses/1/column".into(), OPERATOR),
        ("/admin/switchover/keys".into(), ADMIN),
        ("/admin/switchover/keys/999/revoke".into(), ADMIN),
        ("/admin/switchover/claims/999/undo".into(), ADMIN),
        ("/admin/switchover/followers".into(), ADMIN),
        ("/admin/switchover/test-sms".into(), ADMIN),
    ]
}

/// (action, who may post it) for forms where empty fields are a real change: settings go back to
/// their defaults, a lesson's notes or the takedown template are cleared.
fn emptying_forms() -> Vec<(String, &'static [Role])> {
    use Role::*;
    vec![
        ("/admin/lessons/1/content".into(), &[Admin, Operator]),
        ("/admin/settings".into(), &[Admin]),
        ("/admin/switchover/official-account".into(), &[Admin]),
    ]
}

/// Routes anyone may reach: signing in and out.
const OPEN_ADMIN_ROUTES: [&str; 3] = ["/admin/login", "/admin/login/verify", "/admin/logout"];

/// Every `#[get("/admin…")]` and `#[post("/admin…")]` in `src/routes/admin`, as (method, pattern).
fn registered_admin_routes() -> Vec<(&'static str, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes/admin");
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/routes/admin") {
        let source = std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        for (method, marker) in [("GET", "#[get(\"/admin"), ("POST", "#[post(\"/admin")] {
            for (at, _) in source.match_indices(marker) {
                let pattern = source[at + marker.len() - "/admin".len()..].split('"').next().unwrap_or_default();
                routes.push((method, pattern.to_string()));
            }
        }
    }
    routes
}

/// `path` (without its query) is an instance of `pattern`, `{…}` standing for one segment.
fn instance_of(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (pattern, path): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    pattern.len() == path.len() && pattern.iter().zip(&path).all(|(p, s)| p.starts_with('{') || p == s)
}

/// The role matrix below cannot fall behind the routes: a new admin route fails here until it
/// is listed with the roles that may use it.
#[test]
fn every_admin_route_is_in_the_role_matrix() {
    let f = Fixture { order_no: "O".into(), refund_no: "R".into(), complaint_no: "C".into(), learner_id: 7 };
    let gets: Vec<String> = pages(&f).into_iter().chain(missing_things(&f)).map(|(p, _)| p).collect();
    let posts: Vec<String> = forms(&f).into_iter().chain(emptying_forms()).map(|(p, _)| p).collect();
    let routes = registered_admin_routes();
    assert!(routes.len() > 90, "found the routes: {}", routes.len());
    let unlisted: Vec<String> = routes
        .iter()
        .filter(|(_, pattern)| !OPEN_ADMIN_ROUTES.contains(&pattern.as_str()))
        .filter(|(method, pattern)| {
            let listed = if *method == "GET" { &gets } else { &posts };
            !listed.iter().any(|path| instance_of(pattern, path))
        })
        .map(|(method, pattern)| format!("{method} {pattern}"))
        .collect();
    assert!(unlisted.is_empty(), "admin routes missing from the role matrix: {unlisted:#?}");
}

/// A back-office handler cannot forget its guard: every route but signing in and out takes a
/// `Staff<area::…>` argument, which checks the role before the form or the path is read.
#[test]
fn every_admin_handler_takes_the_staff_guard() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes/admin");
    let mut unguarded = Vec::new();
    let mut handlers = 0;
    for entry in std::fs::read_dir(&dir).expect("src/routes/admin") {
        let source = std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        for marker in ["#[get(\"/admin", "#[post(\"/admin"] {
            for (at, _) in source.match_indices(marker) {
                let route = source[at + marker.len() - "/admin".len()..].split('"').next().unwrap_or_default();
                let signature = source[at..].split(") -> ").next().unwrap_or_default();
                handlers += 1;
                if !OPEN_ADMIN_ROUTES.contains(&route) && !signature.contains("Staff<area::") {
                    unguarded.push(route.to_string());
                }
            }
        }
    }
    assert!(handlers > 90, "found the handlers: {handlers}");
    assert!(unguarded.is_empty(), "admin handlers without a Staff<area::…> argument: {unguarded:#?}");
}

/// The menu shows each role the pages it may open: each menu entry's area gives the same roles
/// as the matrix, which `every_admin_route_checks_the_role` holds each page's handler to.
#[test]
fn the_menu_and_the_pages_guard_the_same_areas() {
    let f = Fixture { order_no: "O".into(), refund_no: "R".into(), complaint_no: "C".into(), learner_id: 7 };
    let matrix = pages(&f);
    for (href, _, area) in kedian::domain::staff::BACK_OFFICE_MENU {
        let Some((_, allowed)) = matrix.iter().find(|(path, _)| path == href) else {
            panic!("menu page {href} is not in the role matrix")
        };
        for role in [Role::Learner, Role::Admin, Role::Operator, Role::Support] {
            assert_eq!(role.may(area), allowed.contains(&role), "{role:?} and {href}: the menu and the page disagree");
        }
    }
}

async fn every_admin_route_checks_the_role(app: TestApp) {
    let f = fixture(&app).await;
    let learner = app.another_browser();
    learner.login_by_code("13800138201").await;
    app.make_staff("13900000001", Role::Operator).await;
    app.make_staff("13900000002", Role::Support).await;
    let browsers = [
        (Role::Admin, app.staff().await),
        (Role::Operator, app.staff_as("13900000001").await),
        (Role::Support, app.staff_as("13900000002").await),
    ];
    let anonymous = app.another_browser();
    let (_, form) = learner.get_html("/complaints/new").await;
    let learner_token = crate::helpers::csrf_in(&form);
    for (path, allowed) in pages(&f) {
        let to_login = anonymous.get(&path).await;
        assert_eq!(to_login.status(), StatusCode::SEE_OTHER, "anonymous GET {path}");
        assert!(location(&to_login).starts_with("/admin/login?next="), "anonymous GET {path}");
        assert_eq!(learner.get(&path).await.status(), StatusCode::FORBIDDEN, "learner GET {path}");
        for (role, browser) in &browsers {
            let expected = if allowed.contains(role) { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(browser.get(&path).await.status(), expected, "{role:?} GET {path}");
        }
    }
    for (path, allowed) in missing_things(&f) {
        assert_eq!(learner.get(&path).await.status(), StatusCode::FORBIDDEN, "learner GET {path}");
        for (role, browser) in &browsers {
            let expected = if allowed.contains(role) { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
            assert_eq!(browser.get(&path).await.status(), expected, "{role:?} GET {path}");
        }
    }
    let audit_before = audit_actions(&app).await.len();
    for (path, allowed) in forms(&f) {
        // Refused by the CSRF check, or (upload forms, whose token sits in the multipart body)
        // sent to sign in first.
        let as_anonymous = anonymous.post_raw(&path, &[]).await;
        let to_login =
            as_anonymous.status() == StatusCode::SEE_OTHER && location(&as_anonymous).starts_with("/admin/login");
        assert!(as_anonymous.status() == StatusCode::FORBIDDEN || to_login, "anonymous POST {path}");
        let as_learner = learner.post_raw(&path, &[("csrf_token", &learner_token)]).await;
        assert_eq!(as_learner.status(), StatusCode::FORBIDDEN, "learner POST {path}");
        for (role, status) in post_as_each(&browsers, &path).await {
            if allowed.contains(&role) {
                let refused_or_noop = status.is_client_error() || status == StatusCode::SEE_OTHER;
                assert!(refused_or_noop && status != StatusCode::FORBIDDEN, "{role:?} POST {path}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
            }
        }
    }
    let audit = audit_actions(&app).await;
    assert_eq!(audit.len(), audit_before, "refused and invalid posts change nothing: {:?}", &audit[audit_before..]);
    for (path, allowed) in emptying_forms() {
        let as_learner = learner.post_raw(&path, &[("csrf_token", &learner_token)]).await;
        assert_eq!(as_learner.status(), StatusCode::FORBIDDEN, "learner POST {path}");
        for (role, status) in post_as_each(&browsers, &path).await {
            if allowed.contains(&role) {
                assert_eq!(status, StatusCode::SEE_OTHER, "{role:?} POST {path}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
            }
        }
    }
}

/// Each staff browser posts `path` empty but for a fresh CSRF token: the status each got.
async fn post_as_each(browsers: &[(Role, TestApp)], path: &str) -> Vec<(Role, StatusCode)> {
    let mut statuses = Vec::new();
    for (role, browser) in browsers {
        let (_, page) = browser.get_html("/admin").await;
        let token = crate::helpers::csrf_in(&page);
        statuses.push((*role, browser.post_raw(path, &[("csrf_token", &token)]).await.status()));
    }
    statuses
}

async fn support_searches_closes_and_refunds_orders(app: TestApp) {
    let learner = app.another_browser();
    learner.login_by_code("13800138300").await;
    let paid = learner.bought("excel-data-analysis").await;
    let pending = learner.order_for("python-zero-to-one").await;
    app.make_staff("13900000002", Role::Support).await;
    let support = app.staff_as("13900000002").await;

    let (_, by_phone) = support.get_html("/admin/orders?q=0138300").await;
    assert!(by_phone.contains(&paid) && by_phone.contains(&pending));
    let (_, by_no) = support.get_html(&format!("/admin/orders?q={paid}")).await;
    assert!(by_no.contains(&paid) && !by_no.contains(&pending));
    let (_, by_status) = support.get_html("/admin/orders?status=pending").await;
    assert!(by_status.contains(&pending) && !by_status.contains(&paid));
    let (_, by_course) = support.get_html("/admin/orders?course=python-zero-to-one").await;
    assert!(by_course.contains(&pending) && !by_course.contains(&paid));
    let today = kedian::domain::time::shanghai_date(kedian::domain::time::now());
    let (_, in_range) = support.get_html(&format!("/admin/orders?from={today}&to={today}")).await;
    assert!(in_range.contains(&paid));
    let (_, before) = support.get_html("/admin/orders?to=2020-01-01").await;
    assert!(!before.contains(&paid), "the date range filters");

    let csv = support.get("/admin/orders?q=0138300&format=csv").await;
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 3, "a header and the two orders");
    assert!(lines[0].starts_with("order_no,phone,item,status,amount_yuan"));
    let paid_line = lines.iter().find(|l| l.starts_with(&paid)).expect("the paid order");
    assert!(paid_line.contains(",13800138300,") && paid_line.contains(",paid,199.00,0.00,"), "{paid_line}");

    // Closing needs a reason; then the pending order is closed and audited.
    let page = format!("/admin/orders/{pending}");
    let no_reason = support.submit(&page, &format!("{page}/close"), &[("reason", " ")]).await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    assert!(no_reason.text().await.unwrap().contains("请填写原因"));
    assert_eq!(learner.order_status(&pending).await, "pending");
    let closed = support.submit(&page, &format!("{page}/close"), &[("reason", "用户电话要求取消")]).await;
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);
    assert_eq!(learner.order_status(&pending).await, "closed");
    let again = support.submit(&page, &format!("{page}/close"), &[("reason", "再关一次")]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // A manual refund: too much is refused; the right amount goes back and takes the course.
    let page = format!("/admin/orders/{paid}");
    let (_, detail) = support.get_html(&page).await;
    assert!(detail.contains("sandbox") && detail.contains("支付记录"));
    let too_much = support.submit(&page, &format!("{page}/refund"), &[("amount", "300"), ("reason", "重复购买")]).await;
    assert_eq!(too_much.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("sandbox_refunds").await, 0);
    let refunded = support.submit(&page, &format!("{page}/refund"), &[("amount", "199"), ("reason", "重复购买")]).await;
    assert_eq!(refunded.status(), StatusCode::SEE_OTHER);
    assert_eq!(learner.order_status(&paid).await, "refunded");
    assert_eq!(app.count("sandbox_refunds").await, 1);
    let (_, mine) = learner.get_html("/me/courses").await;
    assert!(!mine.contains("href=\"/courses/excel-data-analysis\""), "a full refund takes the course back");

    let actions = audit_actions(&app).await;
    assert!(actions.ends_with(&["order.close".to_string(), "order.refund".to_string()]), "{actions:?}");
    let admin = app.staff().await;
    let (_, log) = admin.get_html(&format!("/admin/audit?target=order:{pending}")).await;
    let log = unescape(&log);
    assert!(log.contains("order.close") && log.contains("用户电话要求取消") && log.contains("\"status\":\"pending\""));
    assert!(!log.contains("order.refund"), "filtered by target");
    let (_, by_action) = admin.get_html("/admin/audit?action=order").await;
    assert!(by_action.contains("order.close") && by_action.contains("order.refund"));
}

async fn support_manages_a_learner(app: TestApp) {
    let learner = app.another_browser();
    learner.login_by_code("13800138400").await;
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13800138400'").fetch_one(app.db.read()).await.unwrap();
    let course_id: i64 = sqlx::query_scalar("SELECT id FROM courses WHERE slug = 'python-zero-to-one'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    app.make_staff("13900000002", Role::Support).await;
    let support = app.staff_as("13900000002").await;
    let (_, found) = support.get_html("/admin/users?phone=0138400").await;
    assert!(found.contains(&format!("/admin/users/{id}")));

    let page = format!("/admin/users/{id}");
    let (_, detail) = support.get_html(&page).await;
    assert!(detail.contains("登录记录") && detail.contains("sms"), "the login history shows");
    let course = course_id.to_string();
    let no_reason = support.submit(&page, &format!("{page}/grant"), &[("course", &course), ("reason", "")]).await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    let has_course = || async {
        let (_, mine) = learner.get_html("/me/courses").await;
        mine.contains("href=\"/courses/python-zero-to-one\"")
    };
    assert!(!has_course().await, "not granted");
    let granted =
        support.submit(&page, &format!("{page}/grant"), &[("course", &course), ("reason", "直播抽奖赠送")]).await;
    assert_eq!(granted.status(), StatusCode::SEE_OTHER);
    assert!(has_course().await, "granted: the learner finds it in their courses");
    let twice = support.submit(&page, &format!("{page}/grant"), &[("course", &course), ("reason", "再送一次")]).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let revoked = support.submit(&page, &format!("{page}/revoke"), &[("course", &course), ("reason", "误操作")]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert!(!has_course().await, "revoked");

    let out = support.submit(&page, &format!("{page}/sign-out"), &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(location(&learner.get("/me").await).starts_with("/login"), "signed out everywhere");
    app.age_codes(61).await;
    learner.login_by_code("13800138400").await;
    assert_eq!(learner.get("/me").await.status(), StatusCode::OK, "and can log in again");

    let no_reason = support.submit(&page, &format!("{page}/status"), &[("status", "banned"), ("reason", "")]).await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    let banned =
        support.submit(&page, &format!("{page}/status"), &[("status", "banned"), ("reason", "恶意退款")]).await;
    assert_eq!(banned.status(), StatusCode::SEE_OTHER);
    assert!(location(&learner.get("/me").await).starts_with("/login"), "a ban ends the sessions");
    app.age_codes(61).await;
    let refused = learner.login_by_code("13800138400").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("该账号已被停用"));
    let restored = support.submit(&page, &format!("{page}/status"), &[("status", "active"), ("reason", "")]).await;
    assert_eq!(restored.status(), StatusCode::SEE_OTHER);

    // Support cannot act on staff accounts.
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE phone = $1")
        .bind(ADMIN_PHONE)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let admin_page = format!("/admin/users/{admin_id}");
    let refused =
        support.submit(&admin_page, &format!("{admin_page}/status"), &[("status", "banned"), ("reason", "x")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Nor grant or revoke courses on them, their own account included.
    let support_id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13900000002'").fetch_one(app.db.read()).await.unwrap();
    for target in [admin_page.clone(), format!("/admin/users/{support_id}")] {
        for action in ["grant", "revoke"] {
            let refused = support
                .submit(&page, &format!("{target}/{action}"), &[("course", &course), ("reason", "自己送自己")])
                .await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{target}/{action}");
        }
    }
    let staff_grants: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM entitlements e JOIN users u ON u.id = e.user_id WHERE u.role <> 'learner'",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    assert_eq!(staff_grants, 0);

    let actions: Vec<String> = audit_actions(&app).await.into_iter().filter(|a| a.starts_with("user.")).collect();
    let expected = ["user.grant", "user.revoke", "user.sign_out", "user.status", "user.status"];
    assert_eq!(actions, expected, "one audit entry per change, none for refused ones");
}

async fn admins_manage_staff(app: TestApp) {
    let admin = app.staff().await;
    let bad = admin
        .submit("/admin/staff", "/admin/staff", &[("phone", "123"), ("role", "operator"), ("password", "short")])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let page = bad.text().await.unwrap();
    assert!(page.contains("手机号") && page.contains("至少 8 位"), "errors by the fields");
    let added = admin
        .submit(
            "/admin/staff",
            "/admin/staff",
            &[("phone", "13900000005"), ("role", "operator"), ("password", STAFF_PASSWORD)],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let operator = app.staff_as("13900000005").await;
    assert_eq!(operator.get("/admin/courses").await.status(), StatusCode::OK);
    assert_eq!(operator.get("/admin/orders").await.status(), StatusCode::FORBIDDEN);
    let (_, nav) = operator.get_html("/admin").await;
    assert!(
        nav.contains("href=\"/admin/courses\"") && !nav.contains("href=\"/admin/orders\""),
        "the menu follows the role"
    );

    let id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE phone = '13900000005'").fetch_one(app.db.read()).await.unwrap();
    let role = admin.submit("/admin/staff", &format!("/admin/staff/{id}/role"), &[("role", "support")]).await;
    assert_eq!(role.status(), StatusCode::SEE_OTHER);
    assert!(location(&operator.get("/admin").await).starts_with("/admin/login"), "a role change signs them out");
    let reset = admin.submit("/admin/staff", &format!("/admin/staff/{id}/reset-totp"), &[]).await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    let again = app.another_browser();
    password_step(&again, "13900000005", STAFF_PASSWORD).await;
    let (_, verify) = again.get_html("/admin/login/verify").await;
    assert!(totp_secret_in(&verify).is_some(), "enrols again after a reset");

    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE phone = $1")
        .bind(ADMIN_PHONE)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let own = admin.submit("/admin/staff", &format!("/admin/staff/{admin_id}/role"), &[("role", "support")]).await;
    assert_eq!(own.status(), StatusCode::CONFLICT, "an admin cannot demote themselves");

    let actions = audit_actions(&app).await;
    for action in ["staff.add", "staff.role", "staff.totp_reset"] {
        assert_eq!(actions.iter().filter(|a| *a == action).count(), 1, "{action} in {actions:?}");
    }
}

type Fields<'a> = Vec<(&'a str, &'a str)>;

/// Every route that changes an account, posted with a valid form by each role at a learner, at
/// each kind of staff account and at the poster's own: support changes learners only, operators
/// nothing, admins everyone but their own role and status; only what is allowed leaves an audit
/// entry.
async fn user_changing_routes_as_each_role(app: TestApp) {
    use Role::*;
    let learner = app.another_browser();
    learner.login_by_code("13800138202").await;
    for (phone, role) in [("13900000001", Operator), ("13900000002", Support), ("13900000003", Admin)] {
        app.make_staff(phone, role).await;
    }
    let actors = [
        (Operator, "13900000001", app.staff_as("13900000001").await),
        (Support, "13900000002", app.staff_as("13900000002").await),
        (Admin, ADMIN_PHONE, app.staff().await),
    ];
    // (name, role of the account; None for a learner)
    let targets = [
        ("13800138202", None),
        ("13900000001", Some(Operator)),
        ("13900000002", Some(Support)),
        ("13900000003", Some(Admin)),
    ];
    let course = app.course_id("excel-data-analysis").await.to_string();
    let course = course.as_str();
    for (actor, actor_phone, browser) in &actors {
        let mut phones: Vec<(&str, Option<Role>)> = targets.to_vec();
        if *actor == Admin {
            phones.push((ADMIN_PHONE, Some(Admin)));
        }
        for (phone, target_role) in phones {
            let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE phone = $1")
                .bind(phone)
                .fetch_one(app.db.read())
                .await
                .unwrap();
            let own = phone == *actor_phone;
            let users_route = match actor {
                Operator => StatusCode::FORBIDDEN,
                Support if target_role.is_some() => StatusCode::FORBIDDEN,
                _ => StatusCode::SEE_OTHER,
            };
            let routes: Vec<(String, Fields, StatusCode)> = vec![
                (format!("/admin/users/{id}/grant"), vec![("course", course), ("reason", "补发")], users_route),
                (format!("/admin/users/{id}/revoke"), vec![("course", course), ("reason", "收回")], users_route),
                (
                    format!("/admin/users/{id}/status"),
                    vec![("status", "active"), ("reason", "核实")],
                    if own && *actor == Admin { StatusCode::FORBIDDEN } else { users_route },
                ),
                (
                    format!("/admin/staff/{id}/role"),
                    vec![("role", target_role.map_or("support", Role::as_str))],
                    match (actor, target_role) {
                        (Admin, None) => StatusCode::NOT_FOUND,
                        (Admin, _) if own => StatusCode::CONFLICT,
                        (Admin, _) => StatusCode::SEE_OTHER,
                        _ => StatusCode::FORBIDDEN,
                    },
                ),
                (
                    format!("/admin/staff/{id}/reset-totp"),
                    vec![],
                    match (actor, target_role) {
                        (Admin, None) => StatusCode::NOT_FOUND,
                        (Admin, _) => StatusCode::SEE_OTHER,
                        _ => StatusCode::FORBIDDEN,
                    },
                ),
                (format!("/admin/users/{id}/sign-out"), vec![], users_route),
            ];
            // An admin's own TOTP reset ends this browser's verified session, as signing out would.
            let routes =
                routes.into_iter().filter(|(path, ..)| !(own && *actor == Admin && path.ends_with("/sign-out")));
            for (path, fields, expected) in routes {
                let before = audit_actions(&app).await.len();
                let status = browser.submit("/admin", &path, &fields).await.status();
                assert_eq!(status, expected, "{actor:?} at {phone} ({target_role:?}): {path}");
                let added = audit_actions(&app).await.len() - before;
                let changed = usize::from(expected == StatusCode::SEE_OTHER);
                assert_eq!(added, changed, "{actor:?} at {phone}: {path} audit entries");
            }
        }
    }
}
