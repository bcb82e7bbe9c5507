//! A learner's own pages on a PC (1280 px), in both languages: checkout, orders, refunds, 我的,
//! messages and 我的课程 are laid out for the width (no button stretched across the page, the
//! pay page's order beside its way to pay), and the top navigation leads to 我的课程.

use fantoccini::Locator;
use serde_json::json;

use crate::browser::{browser_login, console_errors, snap, start_browser};
use crate::helpers::{Backend, spawn_app};

#[tokio::test]
async fn a_learners_pages_fit_a_pc_in_both_languages() {
    let Some((_driver, client)) = start_browser(1280, 900).await else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let phone = "13800138170";
    browser_login(&client, &app, phone).await;
    app.age_codes(61).await;
    app.login_by_code(phone).await;
    let paid = app.order_for("excel-data-analysis").await;
    app.pay_sandbox(&paid).await;
    let pending = app.order_for("python-zero-to-one").await;
    let pages = [
        ("orders", "/orders".to_string()),
        ("order", format!("/orders/{paid}")),
        ("done", format!("/orders/{paid}/done")),
        ("pay", format!("/orders/{pending}/pay")),
        ("refund", format!("/orders/{paid}/refund")),
        ("me", "/me".to_string()),
        ("messages", "/me/messages".to_string()),
        ("my-courses", "/me/courses".to_string()),
    ];
    for lang in ["zh-CN", "en"] {
        client.goto(&app.url("/language?next=/me")).await.unwrap();
        client.find(Locator::Css(&format!("button[value='{lang}']"))).await.unwrap().click().await.unwrap();
        client.wait().for_element(Locator::Css(".me")).await.unwrap();
        let nav = client.find(Locator::Css(".nav a[href='/me/courses']")).await.unwrap();
        assert!(nav.is_displayed().await.unwrap(), "我的课程 in the PC navigation");
        for (tag, path) in &pages {
            client.goto(&app.url(path)).await.unwrap();
            client.wait().for_element(Locator::Css("main h1")).await.unwrap();
            snap(&client, &format!("pc-{tag}-{lang}-1280.png")).await;
            let shape = client
                .execute(
                    "const widths = [...document.querySelectorAll('main .button')].filter(b => b.offsetParent) \
                       .map(b => b.getBoundingClientRect().width); \
                     const main = document.querySelector('main > *:not(.flash)').getBoundingClientRect(); \
                     return [document.documentElement.scrollWidth, Math.max(0, ...widths), main.width]",
                    vec![],
                )
                .await
                .unwrap();
            let (scroll, widest, column) =
                (shape[0].as_f64().unwrap(), shape[1].as_f64().unwrap(), shape[2].as_f64().unwrap());
            assert!(scroll <= 1280.0, "{path} ({lang}) scrolls sideways: {shape}");
            assert!(widest <= 480.0, "{path} ({lang}): a button stretched across the page: {shape}");
            // 支付成功 is a focused card; the rest use the width.
            assert!(*tag == "done" || column >= 600.0, "{path} ({lang}): a phone column on a PC: {shape}");
            if *tag == "pay" {
                let beside = client
                    .execute(
                        "const a = document.querySelector('.pay-page > .panel').getBoundingClientRect(); \
                         const b = document.querySelector('.pay-page > form.channels').getBoundingClientRect(); \
                         return b.left > a.right && b.top < a.bottom",
                        vec![],
                    )
                    .await
                    .unwrap();
                assert_eq!(beside, json!(true), "the way to pay stands beside the order ({lang})");
            }
        }
    }
    let errors = console_errors(&client).await;
    assert!(errors.is_empty(), "console errors {errors:?}");
    let _ = client.close().await; // cleanup: the checks above are the test
}
