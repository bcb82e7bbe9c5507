//! The switchover (#28): buyers the mini program knew only by WeChat are imported and find their
//! courses by signing in with WeChat; the sync API keeps the shop in step, signed, idempotent and
//! in event order; the back office says who can be reached and when data last came.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, csrf_in, eventually, location, unescape};
use crate::wechat_sim::{Mode, WechatSim};
use crate::wechatpay::wechat_app;

mod wechat_only {
    use super::*;
    crate::on_both_backends!(
        setup = |backend| wechat_app(backend, Mode::PublicKey);
        a_buyer_without_a_phone_signs_in_with_wechat,
        binding_a_phone_merges_what_each_side_owns,
        takedown_tells_following_buyers_once,
    );
}

crate::on_both_backends!(
    setup = crate::helpers::configured;
    the_checklist_tests_sms_and_payments_live,
);

crate::on_both_backends!(
    sync_is_signed_idempotent_and_ordered,
    the_readiness_page_counts_who_can_be_reached,
    the_funnel_counts_buyers_coming_back,
    orders_are_claimed_by_receipt_once_and_staff_can_undo,
);

async fn course_title(app: &TestApp, slug: &str) -> String {
    sqlx::query_scalar("SELECT title FROM courses WHERE slug = $1").bind(slug).fetch_one(app.db.read()).await.unwrap()
}

async fn import(app: &TestApp, files: &[(&str, &str)]) -> kedian::import::Report {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    kedian::import::run(&app.db, dir.path(), false, &kedian::import::Silent).await.unwrap()
}

const WECHAT_ONLY_EXPORT: &[(&str, &str)] = &[
    ("courses.csv", "product_id,course_slug\np1,excel-data-analysis\n"),
    ("users.csv", "unionid,openid,nickname\nu_sim_mp7,om_mp7,小七\n,om_only8,\n"),
    (
        "orders.jsonl",
        "{\"order_id\":\"W7\",\"unionid\":\"u_sim_mp7\",\"product_id\":\"p1\",\"amount\":\"99.00\",\"paid_at\":\"2026-10-01 10:00\",\"transaction_id\":\"4200000007\"}\n\
         {\"order_id\":\"W8\",\"openid\":\"om_only8\",\"product_id\":\"p1\",\"amount\":\"99.00\",\"paid_at\":\"2026-10-02 10:00\"}\n",
    ),
];

async fn a_buyer_without_a_phone_signs_in_with_wechat((app, _sim): (TestApp, WechatSim)) {
    let report = import(&app, WECHAT_ONLY_EXPORT).await;
    assert_eq!((report.users.inserted, report.users.rejected), (2, 0), "{}", report.text());
    assert_eq!((report.orders.inserted, report.orders.rejected), (2, 0), "{}", report.text());
    let again = import(&app, WECHAT_ONLY_EXPORT).await;
    assert_eq!((again.users.unchanged, again.orders.unchanged), (2, 2), "a second run changes nothing");

    // In WeChat's browser: the silent look-up finds no one, the consented one gives the unionid.
    let buyer = app.another_browser();
    let done = crate::wechat_login::tap(&buyer, "mp7").await;
    assert_eq!(location(&done), "/me/phone?next=%2Fme%2Fcourses", "signed in, and asked once for a phone");
    let (status, ask) = buyer.get_html(&location(&done)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ask.contains("绑定手机号") && ask.contains("href=\"/me/courses\""), "skippable: {ask}");
    let (_, courses) = buyer.get_html("/me/courses").await;
    assert!(courses.contains(&course_title(&app, "excel-data-analysis").await), "their course is there");
    let (_, me) = buyer.get_html("/me").await;
    assert!(me.contains("小七"));
    assert!(!me.contains("wx:"), "no placeholder shown as a phone");

    // On a PC: the QR sign-in (the website application) gives the same unionid.
    let pc = app.another_browser();
    let (_, login) = pc.get_html("/login").await;
    assert!(login.contains("微信扫码登录") && !login.contains("微信一键登录"));
    let start = pc.get("/login/wechat/qr?next=%2Fme%2Fcourses").await;
    let to = location(&start);
    assert!(to.contains("/connect/qrconnect?") && to.contains("scope=snsapi_login"), "{to}");
    assert!(to.contains(crate::wechat_sim::WEB_APPID), "the website application's appid: {to}");
    let state = to.split("state=").nth(1).and_then(|s| s.split(['&', '#']).next()).unwrap().to_string();
    let back = pc.get(&format!("/login/wechat/callback?code=mp7&state={state}")).await;
    assert_eq!(location(&back), "/me/courses", "signed in by QR, not asked for a phone again");
    let (_, courses) = pc.get_html("/me/courses").await;
    assert!(courses.contains(&course_title(&app, "excel-data-analysis").await));
    // A WeChat nobody knows goes back to the phone login, with a word on how to claim.
    let stranger = app.another_browser();
    let to = location(&stranger.get("/login/wechat/qr").await);
    let state = to.split("state=").nth(1).and_then(|s| s.split(['&', '#']).next()).unwrap().to_string();
    let back = stranger.get(&format!("/login/wechat/callback?code=nobody&state={state}")).await;
    assert!(location(&back).contains("wechat=unknown"));
    let (_, login) = stranger.get_html(&location(&back)).await;
    assert!(login.contains("找回已购课程"));
    // A forged state is refused.
    assert_eq!(
        app.another_browser().get("/login/wechat/callback?code=mp7&state=x").await.status(),
        StatusCode::FORBIDDEN
    );

    // A broadcast to every learner skips the accounts without a number.
    app.another_browser().login_by_code("13800138556").await;
    let staff = app.staff().await;
    let sent = staff.submit("/admin/broadcast", "/admin/broadcast", &[("text", "【课店】课程已搬到网页版")]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    crate::broadcast::wait_until_sent(&app).await;
    let texts: Vec<String> = sqlx::query_scalar("SELECT phone FROM sms_outbox").fetch_all(app.db.read()).await.unwrap();
    assert!(!texts.is_empty() && texts.iter().all(|p| !p.starts_with("wx:")), "{texts:?}");
}

/// After a WeChat sign-in a buyer known only by unionid binds a phone by SMS code: a free number
/// becomes theirs; a number with an account (proved by that number's code) takes this account in,
/// courses, progress and the WeChat identity with it, and the WeChat-only account's sessions end.
async fn binding_a_phone_merges_what_each_side_owns((app, _sim): (TestApp, WechatSim)) {
    let export = [
        ("courses.csv", "product_id,course_slug\np1,excel-data-analysis\np2,python-zero-to-one\n"),
        (
            "users.csv",
            "phone,unionid,openid,nickname\n,u_sim_mp7,om_mp7,小七\n,u_sim_mp9,om_mp9,小九\n13800138777,,,老用户\n",
        ),
        (
            "orders.jsonl",
            "{\"order_id\":\"W7\",\"unionid\":\"u_sim_mp7\",\"product_id\":\"p1\",\"amount\":\"99.00\",\"paid_at\":\"2026-10-01 10:00\"}\n\
             {\"order_id\":\"W77\",\"phone\":\"13800138777\",\"product_id\":\"p2\",\"amount\":\"99.00\",\"paid_at\":\"2026-10-01 11:00\"}\n",
        ),
    ];
    import(&app, &export).await;

    // A free number: it becomes the account's, and the phone login finds the same courses.
    let nine = app.another_browser();
    let asked = location(&crate::wechat_login::tap(&nine, "mp9").await);
    assert!(asked.starts_with("/me/phone?"), "{asked}");
    let page = asked.as_str();
    let sent =
        nine.submit(page, "/me/phone", &[("action", "send_code"), ("phone", "13800138909"), ("next", "/me")]).await;
    assert_eq!(sent.status(), StatusCode::OK);
    let wrong = nine
        .submit(page, "/me/phone", &[("action", "bind"), ("phone", "13800138909"), ("code", "000000"), ("next", "/me")])
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST, "a wrong code is refused beside its field");
    assert!(wrong.text().await.unwrap().contains("id=\"code-error\""));
    let code = app.last_code("13800138909").unwrap();
    let bound = nine
        .submit(page, "/me/phone", &[("action", "bind"), ("phone", "13800138909"), ("code", &code), ("next", "/me")])
        .await;
    assert_eq!(location(&bound), "/me");
    let phone: String =
        sqlx::query_scalar("SELECT phone FROM users WHERE nickname = '小九'").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(phone, "13800138909");
    assert_eq!(nine.get("/me/phone").await.status(), StatusCode::SEE_OTHER, "nothing left to bind");

    // A number with an account: that account has its own course; the WeChat-only buyer has W7.
    let owner = app.another_browser();
    owner.login_by_code("13800138777").await;
    let seven = app.another_browser();
    let asked = location(&crate::wechat_login::tap(&seven, "mp7").await);
    let elsewhere = app.another_browser();
    crate::wechat_login::tap(&elsewhere, "mp7").await;
    assert_eq!(elsewhere.get("/me/courses").await.status(), StatusCode::OK, "a second WeChat session");
    app.age_codes(61).await;
    seven
        .submit(&asked, "/me/phone", &[("action", "send_code"), ("phone", "13800138777"), ("next", "/me/courses")])
        .await;
    let code = app.last_code("13800138777").unwrap();
    let merged = seven
        .submit(
            &asked,
            "/me/phone",
            &[("action", "bind"), ("phone", "13800138777"), ("code", &code), ("next", "/me/courses")],
        )
        .await;
    assert_eq!(location(&merged), "/me/courses");
    let (_, courses) = seven.get_html("/me/courses").await;
    for slug in ["excel-data-analysis", "python-zero-to-one"] {
        assert!(courses.contains(&course_title(&app, slug).await), "{slug} is on the merged account");
    }
    let (_, theirs) = owner.get_html("/me/courses").await;
    assert!(theirs.contains(&course_title(&app, "excel-data-analysis").await), "the phone's own session sees it too");
    assert_ne!(elsewhere.get("/me/courses").await.status(), StatusCode::OK, "the retired account's sessions end");
    // The WeChat identity moved: signing in with WeChat now opens the phone's account.
    let again = app.another_browser();
    assert_eq!(location(&crate::wechat_login::tap(&again, "mp7").await), "/me/courses", "no question this time");
    let (_, me) = again.get_html("/me").await;
    assert!(me.contains("138****8777"), "the phone's account");
    assert_eq!(app.count("account_merges").await, 1);
    let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'account.merge'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(audit, 1);
}

/// Switching takedown mode on tells the buyers who follow the official account, once a day,
/// through the template staff chose; followers are matched to buyers by unionid.
async fn takedown_tells_following_buyers_once((app, sim): (TestApp, WechatSim)) {
    import(&app, WECHAT_ONLY_EXPORT).await;
    *sim.state.followers.lock().unwrap() = vec![
        ("o_sim_mp7".into(), Some("u_sim_mp7".into())),
        ("o_sim_fan".into(), Some("u_sim_fan".into())),
        ("o_sim_nounion".into(), None),
    ];
    let staff = app.staff().await;
    let (_, page) = staff.get_html("/admin/switchover").await;
    assert!(page.contains("服务号通知") && page.contains("thing1"));
    let bad =
        staff.submit("/admin/switchover", "/admin/switchover/official-account", &[("template_id", "<script>")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("模板 ID 只含字母"), "the reason beside the field");
    let saved = staff
        .submit("/admin/switchover", "/admin/switchover/official-account", &[("template_id", "TPL_takedown-1")])
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let refresh = staff.submit("/admin/switchover", "/admin/switchover/followers", &[]).await;
    assert_eq!(refresh.status(), StatusCode::SEE_OTHER);
    eventually("the followers' refresh", || async { app.count("oa_followers").await == 3 }).await;
    let (_, page) = staff.get_html("/admin/switchover").await;
    assert!(page.contains("value=\"TPL_takedown-1\""));

    let switch = |mode: &'static str| {
        let staff = &staff;
        async move { staff.submit("/admin/takedown", "/admin/takedown", &[("mode", mode), ("message", "")]).await }
    };
    assert_eq!(switch("on").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("wechat_outbox").await, 1, "one buyer follows: one message");
    eventually("the template message", || async { sim.state.templates.lock().unwrap().len() == 1 }).await;
    let sent = sim.state.templates.lock().unwrap()[0].clone();
    assert_eq!(sent["touser"], "o_sim_mp7");
    assert_eq!(sent["template_id"], "TPL_takedown-1");
    assert!(sent["url"].as_str().unwrap().ends_with("/me/courses"), "{sent}");
    let notice = sent["data"]["thing1"]["value"].as_str().unwrap();
    assert!(!notice.is_empty() && notice.chars().count() <= 20, "{notice}");
    assert!(sent["data"]["time2"]["value"].as_str().is_some_and(|t| !t.is_empty()));
    // Thrown again the same day: nobody is told twice.
    assert_eq!(switch("off").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(switch("on").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("wechat_outbox").await, 1);
    eventually("the outbox settles", || async {
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wechat_outbox WHERE status <> 'sent'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
        open == 0
    })
    .await;
    assert_eq!(sim.state.templates.lock().unwrap().len(), 1);
    let (_, page) = staff.get_html("/admin/switchover").await;
    assert!(page.contains("takedown:"), "the notice is listed with its counts");

    // A service-notice broadcast goes to the followers too; a marketing one never does.
    let marketing = [("text", "【课店】双十二全场五折"), ("kind", "marketing"), ("course", "")];
    assert_eq!(staff.submit("/admin/broadcast", "/admin/broadcast", &marketing).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("wechat_outbox").await, 1, "no template message for marketing");
    let notice = [("text", "【课店】课程已搬到网页版"), ("kind", "takedown_notice"), ("course", "")];
    assert_eq!(staff.submit("/admin/broadcast", "/admin/broadcast", &notice).await.status(), StatusCode::SEE_OTHER);
    eventually("the broadcast's template message", || async { sim.state.templates.lock().unwrap().len() == 2 }).await;
    let sent = sim.state.templates.lock().unwrap()[1].clone();
    assert_eq!(sent["touser"], "o_sim_mp7");
    assert_eq!(sent["data"]["thing1"]["value"], "课程已搬到网页版", "without the SMS signature");
}

/// The funnel's total row: people per step, in the page's column order.
fn funnel_totals(html: &str) -> Vec<String> {
    let row = html.split("<tr class=\"total\">").nth(1).expect("the total row").split("</tr>").next().unwrap();
    row.split("<strong>").skip(1).map(|c| c.split('<').next().unwrap().to_string()).collect()
}

/// After the switch, the funnel counts the mini program's buyers who came back, each once, and
/// nobody else.
async fn the_funnel_counts_buyers_coming_back(app: TestApp) {
    import(
        &app,
        &[
            ("courses.csv", "product_id,course_slug\np1,excel-data-analysis\n"),
            ("users.csv", "phone\n13900139601\n13900139602\n13900139603\n"),
            (
                "orders.csv",
                "order_id,phone,product_id,amount,paid_at\n\
                 F1,13900139601,p1,10.00,2026-10-01\nF2,13900139602,p1,10.00,2026-10-01\nF3,13900139603,p1,10.00,2026-10-01\n",
            ),
        ],
    )
    .await;
    let staff = app.staff().await;
    let (status, html) = staff.get_html("/admin/switchover/funnel").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("还没有开启过下架模式") && html.contains("小程序买家共 3 人"), "{html}");
    let on = staff.submit("/admin/takedown", "/admin/takedown", &[("mode", "on"), ("message", "")]).await;
    assert_eq!(on.status(), StatusCode::SEE_OTHER);

    for phone in ["13900139601", "13900139602"] {
        app.another_browser().login_by_code(phone).await;
    }
    app.age_codes(61).await;
    app.another_browser().login_by_code("13900139601").await; // back again: still one person
    app.another_browser().login_by_code("13800138611").await; // a new learner, not a buyer
    let (_, html) = staff.get_html("/admin/switchover/funnel").await;
    assert!(html.contains("开启下架模式起"), "{html}");
    let totals = funnel_totals(&html);
    assert_eq!(totals.len(), 6, "{totals:?}");
    assert_eq!(totals[0], "2", "two of the three buyers signed in: {totals:?}");
    assert!(totals[1..].iter().all(|n| n == "0"), "{totals:?}");
    assert!(html.contains("66.7%"), "as a share of the buyers");
    // Learners never see it.
    let learner = app.another_browser();
    learner.login_by_code("13800138612").await;
    assert_ne!(learner.get("/admin/switchover/funnel").await.status(), StatusCode::OK);
}

/// Whether the checklist's line for `label` says ready.
fn ready(html: &str, label: &str) -> bool {
    let item = html.split("<li class=\"").find(|li| li.contains(&format!("<strong>{label}</strong>")));
    item.unwrap_or_else(|| panic!("{label} on the checklist")).starts_with("ok\"")
}

/// The checklist asks the payment gateway for an order and has the SMS provider text the staff
/// member a code they can compare; a shop with only the sandbox has no payments ready.
async fn the_checklist_tests_sms_and_payments_live(backend: crate::helpers::Backend) {
    use crate::sms_sim::{ALIYUN_SECRET, SmsSim};
    let sandbox_only = crate::helpers::spawn_app(backend).await.unwrap();
    let (_, html) = sandbox_only.staff().await.get_html("/admin/switchover").await;
    assert!(!ready(&html, "支付渠道") && html.contains("还没有配置微信支付或支付宝"), "the sandbox is not a gateway");

    let sms = SmsSim::start().await;
    let pay = WechatSim::start(Mode::PublicKey).await;
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.sms_config = Some(sms.write_config(&s.data_dir, "aliyun", ALIYUN_SECRET));
        s.wechatpay_config = Some(pay.write_config(&s.data_dir));
    })
    .await
    .unwrap();
    let staff = app.staff().await;
    let (_, html) = staff.get_html("/admin/switchover").await;
    assert!(ready(&html, "支付渠道"), "WeChat Pay answered the query");
    assert!(!ready(&html, "短信服务商") && html.contains("发送测试短信"), "configured, not yet tested");
    let sent = staff.submit("/admin/switchover", "/admin/switchover/test-sms", &[]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let to = location(&sent);
    let code = to.split("sms_test=").nth(1).and_then(|c| c.split('#').next()).unwrap().to_string();
    assert_eq!(sms.code_for(crate::helpers::ADMIN_PHONE), Some(code.clone()), "the text reached the staff phone");
    let (_, html) = staff.get_html(&to).await;
    assert!(html.contains(&format!("验证码 {code}")), "the page shows the code to compare");
    assert!(ready(&html, "短信服务商"));
    // A learner cannot make the shop send texts.
    let learner = app.another_browser();
    learner.login_by_code_from(&sms, "13800138613").await;
    let refused = learner.submit("/me", "/admin/switchover/test-sms", &[]).await;
    assert_ne!(refused.status(), StatusCode::SEE_OTHER);
}

/// A signed request to the sync API, as a mini program's back end sends it.
struct Signer {
    key_id: String,
    secret: String,
}

impl Signer {
    async fn send_with(
        &self,
        app: &TestApp,
        body: &str,
        nonce: &str,
        timestamp: i64,
        secret: &str,
    ) -> (StatusCode, Value) {
        let path = "/api/sync/v1/records";
        let ts = timestamp.to_string();
        let message = kedian::domain::sync::string_to_sign("POST", path, &ts, nonce, body.as_bytes());
        let signature = kedian::domain::sync::sign(secret, &message);
        let response = reqwest::Client::new()
            .post(app.url(path))
            .header("content-type", "application/json")
            .header("x-kedian-key", &self.key_id)
            .header("x-kedian-timestamp", ts)
            .header("x-kedian-nonce", nonce)
            .header("x-kedian-signature", signature)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, app: &TestApp, records: Value) -> (StatusCode, Value) {
        let body = json!({ "records": records }).to_string();
        let nonce = format!("n-{:032x}", rand::random::<u128>());
        self.send_with(app, &body, &nonce, kedian::domain::time::now(), &self.secret).await
    }
}

/// Creates a key in the back office and reads it off the page (shown this once).
async fn new_key(staff: &TestApp, label: &str) -> Signer {
    let made = staff.submit("/admin/switchover", "/admin/switchover/keys", &[("label", label)]).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let html = unescape(&made.text().await.unwrap());
    let grab = |id: &str| {
        let start = html.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        html[start..].split('<').next().unwrap().to_string()
    };
    Signer { key_id: grab("new-key-id"), secret: grab("new-key-secret") }
}

async fn order_state(app: &TestApp, external: &str) -> (String, i64) {
    sqlx::query_as("SELECT status, refunded_fen FROM orders WHERE external_id = $1")
        .bind(format!("mp:{external}"))
        .fetch_one(app.db.read())
        .await
        .unwrap()
}

async fn sync_is_signed_idempotent_and_ordered(app: TestApp) {
    let staff = app.staff().await;
    // A key needs a label.
    let (_, page) = staff.get_html("/admin/switchover").await;
    let no_label = staff.post_raw("/admin/switchover/keys", &[("csrf_token", &csrf_in(&page)), ("label", " ")]).await;
    assert_eq!(no_label.status(), StatusCode::BAD_REQUEST);
    assert!(no_label.text().await.unwrap().contains("请写上这个密钥给谁用"));
    let key = new_key(&staff, "小程序后端").await;

    // An order from a buyer the shop has never seen, known by the mini program's openid alone,
    // with its product mapping in the same batch.
    let paid = json!([
        {"type": "course", "event_at": "2026-12-01T10:00:00+08:00", "product_id": "p1", "course_slug": "excel-data-analysis"},
        {"type": "order", "event_at": "2026-12-01T10:00:01+08:00", "order_id": "S1", "openid": "om_sync1",
         "product_id": "p1", "amount": "99.00", "paid_at": "2026-12-01T10:00:00+08:00", "transaction_id": "4200000101"}
    ]);
    let (status, body) = key.send(&app, paid.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["applied"].as_i64(), body["rejected"].as_array().map(Vec::len)), (Some(2), Some(0)), "{body}");
    assert_eq!(order_state(&app, "S1").await, ("paid".to_string(), 0));
    let orders = app.count("orders").await;

    // The same events again (a retry) change nothing.
    let (status, body) = key.send(&app, paid.clone()).await;
    assert_eq!((status, body["applied"].as_i64(), body["skipped"].as_i64()), (StatusCode::OK, Some(0), Some(2)));
    assert_eq!(app.count("orders").await, orders);

    // A refund, then the older "paid" event arriving late: the refund stands.
    let refunded = json!([{"type": "order", "event_at": "2026-12-02T09:00:00+08:00", "order_id": "S1", "openid": "om_sync1",
        "product_id": "p1", "amount": "99.00", "refunded_amount": "99.00", "paid_at": "2026-12-01T10:00:00+08:00"}]);
    assert_eq!(key.send(&app, refunded).await.1["applied"], 1);
    assert_eq!(order_state(&app, "S1").await, ("refunded".to_string(), 9900));
    let (_, late) = key.send(&app, json!([paid[1].clone()])).await;
    assert_eq!(late["skipped"], 1, "{late}");
    assert_eq!(order_state(&app, "S1").await.0, "refunded");
    // An import of an older export leaves what sync wrote alone.
    import(
        &app,
        &[
            ("users.csv", "openid\nom_sync1\n"),
            ("orders.csv", "order_id,openid,product_id,amount,paid_at\nS1,om_sync1,p1,99.00,2026-12-01 10:00\n"),
        ],
    )
    .await;
    assert_eq!(order_state(&app, "S1").await.0, "refunded", "import yields to sync");

    // A half-bad batch lands its good records and names the bad ones by index.
    let mixed = json!([
        {"type": "order", "event_at": 1796000000, "order_id": "S2", "openid": "om_sync2", "product_id": "p1",
         "amount": "49.00", "paid_at": 1796000000},
        {"type": "refund_everything", "event_at": 1796000000},
        {"type": "order", "event_at": 1796000000, "order_id": "S3", "openid": "om_sync3", "product_id": "p1",
         "amount": 49.5, "paid_at": 1796000000},
        {"type": "order", "order_id": "S4", "openid": "om_sync4", "product_id": "p1", "amount": "1.00", "paid_at": 1796000000},
        {"type": "order", "event_at": 1796000000, "order_id": "S5", "openid": "om_sync5", "product_id": "p-unknown",
         "amount": "1.00", "paid_at": 1796000000}
    ]);
    let (status, body) = key.send(&app, mixed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["applied"], 1);
    let rejected: Vec<(i64, String)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_i64().unwrap(), r["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rejected.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4], "{body}");
    assert!(rejected[0].1.starts_with("type:"), "{}", rejected[0].1);
    assert!(rejected[1].1.starts_with("amount:"), "{}", rejected[1].1);
    assert!(rejected[2].1.starts_with("event_at:"), "{}", rejected[2].1);
    assert!(rejected[3].1.contains("product_id"), "{}", rejected[3].1);
    assert_eq!(order_state(&app, "S2").await.0, "paid");
    let stray: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE external_id IN ('mp:S3', 'mp:S4', 'mp:S5')")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(stray, 0);
    // An order naming the cohort (营期) it bought places the buyer in it; an unknown name is refused.
    let course = kedian::domain::CourseId(app.course_id("excel-data-analysis").await);
    let at = kedian::domain::time::now();
    let new = kedian::store::cohorts::NewCohort {
        name: "春季营",
        starts_at: kedian::domain::cohort::start_of_day(at),
        capacity: 10,
        sale_starts_at: at - 86_400,
        sale_ends_at: at + 86_400,
    };
    let spring = kedian::store::cohorts::create(&app.db, course, &new, at).await.unwrap();
    let in_cohort = json!([
        {"type": "order", "event_at": 1796000001, "order_id": "S6", "openid": "om_sync6", "product_id": "p1",
         "amount": "49.00", "paid_at": 1796000000, "cohort": "春季营"},
        {"type": "entitlement", "event_at": 1796000001, "openid": "om_sync2", "product_id": "p1", "cohort": "秋季营"}
    ]);
    let (_, body) = key.send(&app, in_cohort).await;
    assert_eq!(body["applied"], 1, "{body}");
    assert!(body["rejected"][0]["reason"].as_str().unwrap().starts_with("cohort:"), "{body}");
    let placed: Option<kedian::domain::CohortId> = sqlx::query_scalar(
        "SELECT e.cohort_id FROM entitlements e JOIN orders o ON o.id = e.order_id WHERE o.external_id = 'mp:S6'",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    assert_eq!(placed, Some(spring));
    // Nothing good at all: 422, nothing written.
    let (status, body) = key.send(&app, json!([{"type": "order", "event_at": 1796000000}])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Refused before reading: bad signature, stale time, reused nonce, too many, not JSON.
    let body = json!({"records": [paid[1].clone()]}).to_string();
    let now = kedian::domain::time::now();
    let (status, answer) = key.send_with(&app, &body, "nonce-bad-signature-1", now, "not-the-secret").await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("bad_signature")));
    let (status, answer) = key.send_with(&app, &body, "nonce-stale-0000001", now - 301, &key.secret).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("stale_timestamp")));
    let (status, _) = key.send_with(&app, &body, "nonce-used-twice-01", now, &key.secret).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = key.send_with(&app, &body, "nonce-used-twice-01", now, &key.secret).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::CONFLICT, Some("reused_nonce")));
    let many: Vec<Value> = (0..1001).map(|_| json!({"type": "user", "event_at": 1, "openid": "x"})).collect();
    let (status, answer) = key.send(&app, Value::Array(many)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_many_records")));
    let (status, answer) = key.send_with(&app, "records=1", "nonce-not-json-0001", now, &key.secret).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("not_json")));
    let users = app.count("users").await;
    let nul = json!([{"type": "user", "event_at": 1, "openid": "om_nul", "nickname": "a\u{0}b"}]);
    let (status, answer) = key.send(&app, nul).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("nul_character")));
    assert_eq!(app.count("users").await, users, "nothing written");
    let unsigned =
        reqwest::Client::new().post(app.url("/api/sync/v1/records")).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

    // The back office sees what arrived; a revoked key is refused at once.
    let (_, page) = staff.get_html("/admin/switchover").await;
    assert!(page.contains(&key.key_id) && !page.contains(&key.secret), "the secret is never shown again");
    assert!(!page.contains("最近 14 天没有收到同步数据"));
    let key_row: i64 = sqlx::query_scalar("SELECT id FROM sync_keys WHERE key_id = $1")
        .bind(&key.key_id)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let revoke = staff.submit("/admin/switchover", &format!("/admin/switchover/keys/{key_row}/revoke"), &[]).await;
    assert_eq!(revoke.status(), StatusCode::SEE_OTHER);
    let (status, answer) = key.send(&app, json!([paid[0].clone()])).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")));
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'sync_key.%'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(audited, 2);
}

async fn the_readiness_page_counts_who_can_be_reached(app: TestApp) {
    import(
        &app,
        &[
            ("courses.csv", "product_id,course_slug\np1,excel-data-analysis\n"),
            ("users.csv", "phone,unionid,openid\n13900139501,,om_a\n,u_b,om_b\n,,om_c\n,,om_d\n"),
            (
                "orders.csv",
                "order_id,phone,unionid,openid,product_id,amount,paid_at\n\
                 R1,13900139501,,,p1,10.00,2026-10-01\nR2,,u_b,,p1,10.00,2026-10-01\n\
                 R3,,,om_c,p1,10.00,2026-10-01\nR4,,,om_d,p1,20.00,2026-10-01\n",
            ),
        ],
    )
    .await;
    let staff = app.staff().await;
    let (status, html) = staff.get_html("/admin/switchover").await;
    assert_eq!(status, StatusCode::OK);
    let figure = |label: &str| {
        let at = html.find(&format!("<dt>{label}</dt><dd>")).unwrap_or_else(|| panic!("{label} in {html}"));
        html[at..].split("<dd>").nth(1).unwrap().split('<').next().unwrap().to_string()
    };
    assert_eq!(figure("小程序已购学员"), "4");
    assert_eq!(figure("可短信联系"), "1");
    assert_eq!(figure("仅微信（无手机号）"), "1");
    assert_eq!(figure("都联系不上"), "2");
    assert!(html.contains("短信服务商"), "the checklist");
    let csv = staff.get("/admin/switchover/unreachable.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("om_c") && csv.contains("om_d") && csv.contains("R4") && csv.contains("20.00"), "{csv}");
    assert!(!csv.contains("om_a") && !csv.contains("om_b"), "only the ones nobody reaches: {csv}");
    // Learners never see it.
    let learner = app.another_browser();
    learner.login_by_code("13800138555").await;
    let refused = learner.get("/admin/switchover/unreachable.csv").await;
    assert!(refused.status() == StatusCode::FORBIDDEN || refused.status() == StatusCode::SEE_OTHER);
}

async fn claim(learner: &TestApp, number: &str) -> (StatusCode, String) {
    let response = learner.submit("/me/claim", "/me/claim", &[("number", number)]).await;
    let status = response.status();
    (status, unescape(&response.text().await.unwrap()))
}

async fn orders_are_claimed_by_receipt_once_and_staff_can_undo(app: TestApp) {
    import(
        &app,
        &[
            ("courses.csv", "product_id,course_slug\np1,excel-data-analysis\n"),
            ("users.csv", "phone,openid\n,om_lost1\n13900139601,om_known2\n"),
            (
                "orders.csv",
                "order_id,phone,openid,product_id,amount,paid_at,transaction_id\n\
                 WXC0001,,om_lost1,p1,99.00,2026-10-01 10:00,4200000555\n\
                 WXC0002,13900139601,,p1,99.00,2026-10-02 10:00,4200000666\n",
            ),
        ],
    )
    .await;
    let title = course_title(&app, "excel-data-analysis").await;
    let learner = app.another_browser();
    learner.login_by_code("13800138777").await;
    let (_, courses) = learner.get_html("/me/courses").await;
    assert!(!courses.contains(&title) && courses.contains("/me/claim"), "the empty list points to the claim page");

    // The transaction number as the bill groups it.
    let (status, html) = claim(&learner, "4200 0005 55").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("已找回以下课程") && html.contains(&title) && html.contains("¥99.00"));
    let (_, courses) = learner.get_html("/me/courses").await;
    assert!(courses.contains(&title), "the course is the learner's now");
    let (status, html) = claim(&learner, "WXC0001").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("这笔订单已经在你的账号里了"), "once");

    // Wrong input, and an order its owner can sign in to.
    let (status, html) = claim(&learner, "abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("id=\"number-error\""));
    let (status, html) = claim(&learner, "WX99999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("没有找到这个单号"));
    let (status, html) = claim(&learner, "WXC0002").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("请用那个手机号登录"));
    let told: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sms_outbox WHERE kind = 'claim_attempt' AND phone = '13900139601'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!(told, 1, "the owner hears someone tried");
    let owner: String = sqlx::query_scalar(
        "SELECT u.phone FROM orders o JOIN users u ON u.id = o.user_id WHERE o.external_id = 'mp:WXC0002'",
    )
    .fetch_one(app.db.read())
    .await
    .unwrap();
    assert_eq!(owner, "13900139601", "not moved");

    // Guessing stops after five misses an hour.
    for n in ["WX10000001", "WX10000002", "WX10000003"] {
        assert_eq!(claim(&learner, n).await.0, StatusCode::NOT_FOUND);
    }
    let (status, html) = claim(&learner, "WX10000004").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the fifth miss: {html}");
    let (status, html) = claim(&learner, "WXC0001").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even a right number waits");
    assert!(html.contains("尝试次数太多"));

    // Staff see the claim and undo it: the order and the course go back.
    let staff = app.staff().await;
    let (_, page) = staff.get_html("/admin/switchover").await;
    assert!(page.contains("138****8777"));
    let claim_id: i64 = sqlx::query_scalar("SELECT id FROM receipt_claims").fetch_one(app.db.read()).await.unwrap();
    let undone = staff.submit("/admin/switchover", &format!("/admin/switchover/claims/{claim_id}/undo"), &[]).await;
    assert_eq!(undone.status(), StatusCode::SEE_OTHER);
    let (_, courses) = learner.get_html("/me/courses").await;
    assert!(!courses.contains(&title), "the course went back with the order");
    let again = staff.submit("/admin/switchover", &format!("/admin/switchover/claims/{claim_id}/undo"), &[]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "undone once");
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'receipt.%' ORDER BY id")
            .fetch_all(app.db.read())
            .await
            .unwrap();
    assert_eq!(audited, vec!["receipt.claim", "receipt.undo"]);
}

/// In WeChat's browser on a phone, in both languages: the claim page, filled by typing and
/// tapping, with what it found.
#[tokio::test]
async fn claiming_on_a_phone_in_wechat() {
    use fantoccini::Locator;
    let ua = Some(crate::browser::WECHAT_UA);
    let Some((_driver, client)) = crate::browser::start_browser_as(375, 812, ua).await else { return };
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.unwrap();
    import(
        &app,
        &[
            ("courses.csv", "product_id,course_slug\np1,excel-data-analysis\np2,python-zero-to-one\n"),
            ("users.csv", "openid\nom_lost1\nom_lost2\n"),
            (
                "orders.csv",
                "order_id,openid,product_id,amount,paid_at,transaction_id\n\
                 WXC0001,om_lost1,p1,99.00,2026-10-01 10:00,4200000555\n\
                 WXC0002,om_lost2,p2,99.00,2026-10-02 10:00,4200000666\n",
            ),
        ],
    )
    .await;
    crate::browser::browser_login(&client, &app, "13800138778").await;
    for (lang, number) in [("zh-CN", "4200000555"), ("en", "WXC0002")] {
        if lang == "en" {
            client.goto(&app.url("/language?next=/me")).await.unwrap();
            client.find(Locator::Css("button[value='en']")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Css(".account")).await.unwrap();
        }
        client.goto(&app.url("/me/claim")).await.unwrap();
        let field = client.wait().for_element(Locator::Id("number")).await.unwrap();
        field.send_keys("12").await.unwrap();
        client.find(Locator::Css(".claim button.primary")).await.unwrap().click().await.unwrap();
        client.wait().for_element(Locator::Id("number-error")).await.unwrap();
        crate::browser::snap(&client, &format!("claim-error-{lang}-375.png")).await;
        let field = client.find(Locator::Id("number")).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(number).await.unwrap();
        client.find(Locator::Css(".claim button.primary")).await.unwrap().click().await.unwrap();
        client.wait().for_element(Locator::Id("claimed")).await.unwrap();
        let width: i64 =
            client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap().as_i64().unwrap();
        assert!(width <= 375, "no sideways scrolling ({width}px)");
        crate::browser::snap(&client, &format!("claim-found-{lang}-375.png")).await;
    }
    assert_eq!(app.count("receipt_claims").await, 2);
    // The wrong numbers answered 400, as they should; nothing else went wrong.
    let errors = crate::browser::console_errors(&client).await;
    assert!(errors.iter().all(|e| e.contains("/me/claim") && e.contains("400")), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}

/// In WeChat at 375 px: the imported WeChat-only buyer signs in by WeChat's consent, is asked once for
/// a phone (in both languages), binds it by clicking, and lands on their courses.
#[tokio::test]
async fn binding_a_phone_in_the_browser() {
    use crate::browser::{WECHAT_UA, choose_language, console_errors, snap, start_browser_as};
    use fantoccini::Locator;
    let Some((_driver, client)) = start_browser_as(375, 812, Some(WECHAT_UA)).await else { return };
    // WeChat sends the browser back to the shop's public address: here, the test server's own.
    let sim = WechatSim::start(Mode::PublicKey).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.wechatpay_config = Some(sim.write_config(&s.data_dir));
        s.listen = format!("127.0.0.1:{port}");
        s.public_url = format!("http://127.0.0.1:{port}");
    })
    .await
    .unwrap();
    import(&app, WECHAT_ONLY_EXPORT).await;
    *sim.state.wechat_user.lock().unwrap() = "mp7".into();
    client.goto(&app.url("/login?next=%2Fme%2Fcourses")).await.unwrap();
    client.wait().for_element(Locator::Css("form[action='/me/phone']")).await.unwrap();
    let asked = "/me/phone?next=%2Fme%2Fcourses";
    assert!(client.current_url().await.unwrap().as_str().starts_with(&app.url(asked)));
    // The silent look-up finds no one by openid; WeChat's consent (automatic here) gives the unionid.
    assert_eq!(*sim.state.oauth_scopes.lock().unwrap(), vec!["snsapi_base".to_string(), "snsapi_userinfo".into()]);
    snap(&client, "bind-phone-zh-CN-375.png").await;
    choose_language(&client, &app, "en", asked).await;
    snap(&client, "bind-phone-en-375.png").await;
    choose_language(&client, &app, "zh-CN", asked).await;

    client.find(Locator::Id("phone")).await.unwrap().send_keys("13800138787").await.unwrap();
    client.find(Locator::Css("button[value=send_code]")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css(".notice")).await.unwrap();
    let code = app.last_code("13800138787").expect("a code was texted");
    client.find(Locator::Id("code")).await.unwrap().send_keys(&code).await.unwrap();
    client.find(Locator::Css("button.primary[value=bind]")).await.unwrap().click().await.unwrap();
    client.wait().for_url(app.url("/me/courses").parse().unwrap()).await.unwrap();
    assert!(client.source().await.unwrap().contains(&course_title(&app, "excel-data-analysis").await));
    client.goto(&app.url("/me")).await.unwrap();
    assert!(client.source().await.unwrap().contains("138****8787"), "the number is the account's now");
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}
