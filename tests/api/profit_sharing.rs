//! WeChat Pay profit sharing (分账) against the simulator: a referred buyer's WeChat payment holds
//! the funds; when the refund window closes the commission is split to the distributor's WeChat
//! (once, however many settlement runs race), and held funds with nothing to share are released.

use kedian::domain::UserId;
use kedian::domain::time::now;
use kedian::pay::wechatpay::WechatPay;

use crate::distribution::{commission_of, distributor, ledger, open_programme, user_id};
use crate::helpers::{Backend, TestApp};
use crate::wechat_sim::{Mode, WechatSim};
use crate::wechatpay::{PHONE, choose, wechat_app};

const COURSE: &str = "excel-data-analysis";
const DAY: i64 = 86_400;
const DISTRIBUTOR_OPENID: &str = "o-distributor-openid";

crate::on_both_backends!(
    setup = |backend: Backend| wechat_app(backend, Mode::PublicKey);
    a_settled_commission_is_split_to_the_distributors_wechat,
    held_funds_with_nothing_to_share_are_released,
    a_refused_split_releases_the_funds_and_keeps_the_commission,
);

/// The shop's own WeChat Pay client, as the profit-sharing job uses it.
fn client(app: &TestApp) -> WechatPay {
    let cfg = kedian::pay::wechatpay::config::load(&app.data_dir.join("wechatpay.toml"), "http://kedian.test").unwrap();
    WechatPay::new(cfg).unwrap()
}

/// A buyer following `code` pays for the course by WeChat Pay (H5 on a phone); returns the order.
async fn referred_wechat_purchase(app: &TestApp, sim: &WechatSim, code: &str, phone: &str) -> String {
    let buyer = app.another_browser();
    buyer.login_by_code(phone).await;
    buyer.get(&format!("/courses/{COURSE}?ref={code}")).await;
    let order_no = buyer.order_for(COURSE).await;
    let started = choose(&buyer, PHONE, &order_no, "wechat_h5").await;
    assert!(started.status().is_redirection(), "to WeChat's H5 cashier");
    assert!(sim.order(&order_no).unwrap().profit_sharing, "the payment holds the funds for sharing");
    order_no
}

async fn a_settled_commission_is_split_to_the_distributors_wechat((app, sim): (TestApp, WechatSim)) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (me, code) = distributor(&app, &staff, "13800138301").await;
    let id = UserId(user_id(&app, "13800138301").await);
    let openid = [(kedian::store::identities::OPENID_OA, DISTRIBUTOR_OPENID)];
    kedian::store::identities::link(&app.db, id, &openid, now()).await.unwrap();

    let order_no = referred_wechat_purchase(&app, &sim, &code, "13800138302").await;
    sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert_eq!(commission_of(&app, &order_no).await, Some((1990, "pending".into())));

    // Twenty settlement runs at once: one settlement, one split claimed.
    let after_window = now() + 8 * DAY;
    let runs = (0..20).map(|_| kedian::store::commissions::settle_due(&app.db, after_window, 100));
    let settled: u64 = futures_util::future::join_all(runs).await.into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(settled, 1);
    let (_, centre) = me.get_html("/me/distribution").await;
    assert!(
        crate::helpers::unescape(&centre).contains("可申请提现 ¥0.00"),
        "money on its way to WeChat is not withdrawable"
    );

    // The job sends it (WeChat answers PROCESSING), then finds it finished.
    let wechat = client(&app);
    kedian::jobs::profit_sharing::run_once(&app.db, &wechat, after_window).await.unwrap();
    let split = sim.state.splits.lock().unwrap().get(&format!("S{order_no}")).cloned().expect("a split request");
    assert_eq!(split["receivers"][0]["account"], DISTRIBUTOR_OPENID);
    assert_eq!(split["receivers"][0]["amount"], 1990, "10% of ¥199, within WeChat's 30%");
    assert!(sim.state.receivers.lock().unwrap().contains(&DISTRIBUTOR_OPENID.to_string()));
    // WeChat's notification that the money reached the distributor finishes it; a repeat changes
    // nothing, and the job has nothing left to ask.
    let event = sim.profit_sharing_success(&format!("S{order_no}"));
    assert_eq!(crate::wechatpay::deliver(&app, &event).await.0, reqwest::StatusCode::NO_CONTENT);
    assert_eq!(crate::wechatpay::deliver(&app, &event).await.0, reqwest::StatusCode::NO_CONTENT);
    kedian::jobs::profit_sharing::run_once(&app.db, &wechat, after_window).await.unwrap();
    assert_eq!(
        ledger(&app, &order_no).await,
        vec![("earned".into(), 1990, 0), ("settled".into(), 1990, 0), ("paid_out".into(), 1990, 1)],
        "paid out once, by the split"
    );
    let calls = sim.state.split_calls.lock().unwrap().clone();
    assert_eq!(calls, vec![format!("S{order_no}")], "one split call");
    let (_, centre) = me.get_html("/me/distribution").await;
    assert!(crate::helpers::unescape(&centre).contains("¥19.90</strong><span>已提现"));
}

async fn held_funds_with_nothing_to_share_are_released((app, sim): (TestApp, WechatSim)) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let (_, code) = distributor(&app, &staff, "13800138311").await;
    let order_no = referred_wechat_purchase(&app, &sim, &code, "13800138312").await;
    // The distributor is paused before the money arrives: nothing is earned.
    let id = user_id(&app, "13800138311").await;
    let paused = staff
        .submit(
            "/admin/distributors",
            &format!("/admin/distributors/{id}"),
            &[("decision", "freeze"), ("note", "核查中")],
        )
        .await;
    assert_eq!(paused.status(), reqwest::StatusCode::SEE_OTHER);
    sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
    assert_eq!(commission_of(&app, &order_no).await, None);

    let wechat = client(&app);
    kedian::jobs::profit_sharing::run_once(&app.db, &wechat, now() + 6 * DAY).await.unwrap();
    assert!(sim.state.split_calls.lock().unwrap().is_empty(), "held until the refund window closes");
    for _ in 0..2 {
        kedian::jobs::profit_sharing::run_once(&app.db, &wechat, now() + 8 * DAY).await.unwrap();
    }
    assert_eq!(*sim.state.split_calls.lock().unwrap(), vec![format!("U{order_no}")], "released once");
    let state: String = sqlx::query_scalar("SELECT state FROM profit_splits").fetch_one(app.db.read()).await.unwrap();
    assert_eq!(state, "finished");
}

/// WeChat Pay refuses a split above its ratio (here a 35% course rate, which the operator allowed):
/// the held funds are released instead, and the commission stays withdrawable.
async fn a_refused_split_releases_the_funds_and_keeps_the_commission((app, sim): (TestApp, WechatSim)) {
    let staff = app.staff().await;
    open_programme(&staff).await;
    let above = [
        ("distribution", "on"),
        ("distribution_rate", "10"),
        ("distribution_cap", "40"),
        ("distribution_cap_above", "on"),
    ];
    assert_eq!(
        staff.submit("/admin/settings", "/admin/settings", &above).await.status(),
        reqwest::StatusCode::SEE_OTHER
    );
    sqlx::query("UPDATE courses SET commission_bp = 3500 WHERE slug = $1")
        .bind(COURSE)
        .execute(app.db.write())
        .await
        .unwrap();
    let (me, code) = distributor(&app, &staff, "13800138321").await;
    let id = UserId(user_id(&app, "13800138321").await);
    let openid = [(kedian::store::identities::OPENID_OA, DISTRIBUTOR_OPENID)];
    kedian::store::identities::link(&app.db, id, &openid, now()).await.unwrap();
    let order_no = referred_wechat_purchase(&app, &sim, &code, "13800138322").await;
    sim.pay(&order_no, Some(&app.url("/pay/notify/wechatpay"))).await;
    assert_eq!(commission_of(&app, &order_no).await, Some((6965, "pending".into())), "35% of ¥199");

    let after_window = now() + 8 * DAY;
    app.run_order_jobs(after_window).await;
    let wechat = client(&app);
    for _ in 0..3 {
        kedian::jobs::profit_sharing::run_once(&app.db, &wechat, after_window).await.unwrap();
    }
    let calls = sim.state.split_calls.lock().unwrap().clone();
    assert_eq!(calls, vec![format!("S{order_no}"), format!("U{order_no}")], "refused, then released");
    assert!(sim.state.splits.lock().unwrap().get(&format!("S{order_no}")).is_none(), "WeChat kept no split");
    let (kind, state): (String, String) =
        sqlx::query_as("SELECT kind, state FROM profit_splits").fetch_one(app.db.read()).await.unwrap();
    assert_eq!((kind.as_str(), state.as_str()), ("unfreeze", "finished"));
    let (_, centre) = me.get_html("/me/distribution").await;
    assert!(crate::helpers::unescape(&centre).contains("可申请提现 ¥69.65"), "the commission is withdrawable");
}
