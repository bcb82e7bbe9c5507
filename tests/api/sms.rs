//! Texts through the real provider protocols (the simulators in `sms_sim.rs`): codes at once,
//! failover on throttling, refusal of a wrong key, and notifications through the outbox, which a
//! restart resumes and which never sends one event twice.

use kedian::domain::time::now;
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, csrf_in, spawn_app_with};
use crate::sms_sim::{ALIYUN_SECRET, Mode, SmsSim};

async fn sms_app(backend: Backend, sim: &SmsSim, primary: &str, secret: &str) -> Option<TestApp> {
    let (primary, secret) = (primary.to_string(), secret.to_string());
    spawn_app_with(backend, |s| {
        s.sms_config = Some(sim.write_config(&s.data_dir, &primary, &secret));
        s.refund_auto_approve_fen = 1_000_000;
    })
    .await
}

crate::on_both_backends!(
    setup = crate::helpers::configured;
    codes_reach_phones_through_the_primary,
    a_throttled_primary_fails_over_once,
    a_wrong_key_is_refused_and_nothing_is_sent,
    notifications_survive_a_restart_and_are_sent_once,
    broadcasts_use_the_marketing_template,
);

/// Logs in with the code the simulator delivered.
async fn login_with(app: &TestApp, phone: &str, code: &str) -> reqwest::Response {
    let (_, html) = app.get_html("/login").await;
    let form = [
        ("csrf_token", csrf_in(&html)),
        ("method", "sms".into()),
        ("action", "login".into()),
        ("phone", phone.into()),
        ("code", code.into()),
    ];
    app.client.post(app.url("/login")).form(&form).send().await.unwrap()
}

async fn outbox(app: &TestApp, kind: &str) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query_as("SELECT status, provider, error_code FROM sms_outbox WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(app.db.read())
        .await
        .unwrap()
}

async fn codes_reach_phones_through_the_primary(backend: Backend) {
    let sim = SmsSim::start().await;
    let app = sms_app(backend, &sim, "aliyun", ALIYUN_SECRET).await.unwrap();
    assert_eq!(app.request_code("/login", "13800138501").await.status(), StatusCode::OK);
    let delivered = sim.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!((delivered[0].provider, delivered[0].template.as_str()), ("aliyun", "SMS_100000001"));
    let code = sim.code_for("13800138501").expect("the code reached the phone");
    assert_eq!(login_with(&app, "13800138501", &code).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/me").await.status(), StatusCode::OK);
    assert!(app.sms.sent.lock().unwrap().is_empty(), "nothing went to a console");
    assert_eq!(outbox(&app, "login_code").await, [("sent".into(), Some("aliyun".into()), None)]);

    // Tencent as the primary works the same, with its own signature and ordered parameters.
    let sim = SmsSim::start().await;
    let app = sms_app(backend, &sim, "tencent", ALIYUN_SECRET).await.unwrap();
    assert_eq!(app.request_code("/login", "13800138502").await.status(), StatusCode::OK);
    assert_eq!(sim.delivered()[0].provider, "tencent");
    let code = sim.code_for("13800138502").unwrap();
    assert_eq!(login_with(&app, "13800138502", &code).await.status(), StatusCode::SEE_OTHER);
}

async fn a_throttled_primary_fails_over_once(backend: Backend) {
    let sim = SmsSim::start().await;
    let app = sms_app(backend, &sim, "aliyun", ALIYUN_SECRET).await.unwrap();
    sim.set("aliyun", Mode::Throttle);
    assert_eq!(app.request_code("/login", "13800138503").await.status(), StatusCode::OK);
    let delivered = sim.delivered();
    assert_eq!(delivered.len(), 1, "one text, by the secondary");
    assert_eq!(delivered[0].provider, "tencent");
    assert_eq!(sim.state.refused.lock().unwrap().as_slice(), ["isv.BUSINESS_LIMIT_CONTROL"]);
    assert_eq!(outbox(&app, "login_code").await, [("sent".into(), Some("tencent".into()), None)]);

    // Both down: the learner is told, the failure is kept with the provider's code.
    sim.set("aliyun", Mode::Down);
    sim.set("tencent", Mode::Down);
    app.age_codes(61).await;
    let refused = app.request_code("/login", "13800138503").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.text().await.unwrap().contains("短信暂时发送失败"));
    let rows = outbox(&app, "login_code").await;
    assert_eq!(rows[1], ("failed".into(), Some("tencent".into()), Some("InternalError".into())));
    // Staff see failures per kind and day.
    let staff = app.staff().await;
    let (status, page) = staff.get_html("/admin/sms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("登录验证码") && page.contains("tencent InternalError"), "{page}");
    assert!(page.contains("开课与会员提醒") && !page.contains("<td></td>"), "every kind is named");
    assert!(!page.contains("【课店】提醒：【课店】"), "the reminder's preview signs once");
}

async fn a_wrong_key_is_refused_and_nothing_is_sent(backend: Backend) {
    let sim = SmsSim::start().await;
    let app = sms_app(backend, &sim, "aliyun", "not-the-secret").await.unwrap();
    let refused = app.request_code("/login", "13800138504").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(sim.delivered().is_empty());
    assert_eq!(sim.state.refused.lock().unwrap().as_slice(), ["SignatureDoesNotMatch"], "no failover for a bad key");
    assert_eq!(
        outbox(&app, "login_code").await,
        [("failed".into(), Some("aliyun".into()), Some("SignatureDoesNotMatch".into()))]
    );
}

async fn notifications_survive_a_restart_and_are_sent_once(backend: Backend) {
    let sim = SmsSim::start().await;
    let first = sms_app(backend, &sim, "aliyun", ALIYUN_SECRET).await.unwrap();
    first.login_by_code_from(&sim, "13800138505").await;
    let order_no = first.bought("excel-data-analysis").await;
    sim.set("aliyun", Mode::Down);
    sim.set("tencent", Mode::Down);
    // A refund within the rules completes at once; its text is committed with it.
    let asked = first.request_refund(&order_no, "bought_by_mistake", vec![]).await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    first.deliver_texts().await;
    let rows = outbox(&first, "refund_refunded").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "queued", "both providers down: waiting for another try");
    // A text some process was sending when it stopped, ten minutes ago.
    sqlx::query(
        "INSERT INTO sms_outbox (event_key, kind, phone, params, status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES ('message:999999', 'refund_refunded', '13800138505', '{\"no\":\"R1\",\"amount\":\"¥1.00\"}', 'sending', 1, $1, $1, $1)",
    )
    .bind(now() - 600)
    .execute(first.db.write())
    .await
    .unwrap();

    // Another process starts on the same database (a restart, or a second instance), the
    // providers are back, and the retry comes due.
    sim.set("aliyun", Mode::Accept);
    sim.set("tencent", Mode::Accept);
    let database_url = first.database_url.clone();
    let second = spawn_app_with(backend, |s| {
        s.database_url = database_url;
        s.sms_config = Some(sim.write_config(&s.data_dir, "aliyun", ALIYUN_SECRET));
    })
    .await
    .unwrap();
    sqlx::query("UPDATE sms_outbox SET next_attempt_at = $1 WHERE status = 'queued'")
        .bind(now())
        .execute(second.db.write())
        .await
        .unwrap();
    // Both processes' senders take their turn at once (besides their own jobs): one text.
    let sender =
        |app: &TestApp| kedian::sms::config::load(&sim.write_config(&app.data_dir, "aliyun", ALIYUN_SECRET)).unwrap();
    let (one, two) = (sender(&first), sender(&second));
    let shop = kedian::store::shop_settings::ShopCache::default();
    shop.reload(&first.db).await.unwrap();
    let (a, b) = futures_util::join!(
        kedian::jobs::sms::run_once(&first.db, &one, &shop, now()),
        kedian::jobs::sms::run_once(&second.db, &two, &shop, now()),
    );
    a.unwrap();
    b.unwrap();
    second.deliver_texts().await;
    first.deliver_texts().await;
    let refund_texts: Vec<_> = sim.delivered().into_iter().filter(|d| d.template == "SMS_100000003").collect();
    assert_eq!(refund_texts.len(), 1, "sent once, though two senders were running: {refund_texts:?}");
    assert_eq!(refund_texts[0].phone, "13800138505");
    assert_eq!(refund_texts[0].params[1], "¥199.00");
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM sms_outbox WHERE kind = 'refund_refunded' ORDER BY id")
            .fetch_all(second.db.read())
            .await
            .unwrap();
    assert_eq!(statuses, ["sent", "uncertain"], "the interrupted one is not sent again");
}

async fn broadcasts_use_the_marketing_template(backend: Backend) {
    let sim = SmsSim::start().await;
    let app = sms_app(backend, &sim, "tencent", ALIYUN_SECRET).await.unwrap();
    app.login_by_code_from(&sim, "13800138506").await;
    let staff = app.staff().await;
    let sent = staff
        .submit("/admin/broadcast", "/admin/broadcast", &[("text", "【课店】课程已搬到网页版"), ("kind", "marketing")])
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    app.deliver_texts().await;
    let marketing: Vec<_> = sim.delivered().into_iter().filter(|d| d.template == "1000007").collect();
    assert_eq!(marketing.len(), 1);
    assert_eq!((marketing[0].phone.as_str(), marketing[0].params[0].as_str()), ("13800138506", "http://kedian.test"));
    // The worker counts the broadcast just after marking its last text sent.
    let mut status = String::new();
    for _ in 0..100 {
        status = sqlx::query_scalar("SELECT status FROM sms_broadcasts").fetch_one(app.db.read()).await.unwrap();
        if status == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "done");
}
