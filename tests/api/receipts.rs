//! Receipts (#28): a buyer's paid order has a receipt page and picture whose QR code opens a
//! public page that confirms it; a changed or invented receipt is not confirmed, and nobody but
//! the buyer sees the receipt itself.

use reqwest::StatusCode;

use crate::helpers::{TestApp, unescape};

crate::on_both_backends!(a_paid_order_has_a_receipt_anyone_can_verify);

fn verify_path(html: &str) -> String {
    let html = unescape(html);
    let at = html.find("/receipts/").expect("the receipt names its verify page");
    html[at..].split(['<', '"', ' ']).next().unwrap().to_string()
}

async fn a_paid_order_has_a_receipt_anyone_can_verify(app: TestApp) {
    app.login_by_code("13800138321").await;
    let pending = app.order_for("excel-data-analysis").await;
    assert_eq!(app.get(&format!("/orders/{pending}/receipt")).await.status(), StatusCode::NOT_FOUND, "not paid yet");
    let (_, detail) = app.get_html(&format!("/orders/{pending}")).await;
    assert!(!detail.contains("查看收据"));
    app.pay_sandbox(&pending).await;
    let order_no = pending;

    let (_, detail) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(detail.contains(&format!("href=\"/orders/{order_no}/receipt\"")), "the order links its receipt");
    let (status, receipt) = app.get_html(&format!("/orders/{order_no}/receipt")).await;
    assert_eq!(status, StatusCode::OK);
    for fact in ["电子收据", "¥199.00", &order_no, "138****8321", "北京时间"] {
        assert!(receipt.contains(fact), "{fact} on the receipt");
    }
    assert!(!receipt.contains("13800138321"), "no full number");
    assert!(receipt.contains("data:image/svg+xml"), "a QR code");

    let png = app.get(&format!("/orders/{order_no}/receipt.png")).await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.headers()["cache-control"].to_str().unwrap().contains("no-store"));
    let bytes = png.bytes().await.unwrap();
    crate::browser::save(&format!("receipt-picture-{:?}.png", app.db.backend()), &bytes);
    let picture = image::load_from_memory(&bytes).unwrap().to_luma8();
    let mut grids = rqrr::PreparedImage::prepare(picture);
    let codes: Vec<String> =
        grids.detect_grids().iter().filter_map(|g| g.decode().ok()).map(|(_, text)| text).collect();
    let verify = verify_path(&receipt);
    assert!(codes.iter().any(|c| c.ends_with(&verify)), "the picture's QR code opens {verify}: {codes:?}");

    // Anyone with the code sees it confirmed, with the buyer masked.
    let stranger = app.another_browser();
    let (status, page) = stranger.get_html(&verify).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("真实有效") && page.contains("¥199.00") && page.contains("138****8321"));
    assert!(page.contains("noindex"));
    // A changed code, another order's number with this code, or nonsense: the same 404.
    let mut forged = verify.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let other = stranger_order(&app).await;
    let swapped = verify.replace(&order_no, &other);
    for path in [forged.as_str(), swapped.as_str(), "/receipts/nope/abc", "/receipts/KD00000000000000/0"] {
        let (status, page) = stranger.get_html(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("无法核验"), "{path}");
    }
    // The receipt itself is the buyer's alone.
    let other_buyer = app.another_browser();
    other_buyer.login_by_code("13800138322").await;
    for path in [format!("/orders/{order_no}/receipt"), format!("/orders/{order_no}/receipt.png")] {
        let status = stranger.get(&path).await.status();
        assert!(status == StatusCode::SEE_OTHER || status == StatusCode::NOT_FOUND, "{path}: {status}");
        assert_eq!(other_buyer.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // English readers get English words.
    stranger.submit("/language", "/language", &[("lang", "en"), ("next", "/")]).await;
    let (_, page) = stranger.get_html(&verify).await;
    assert!(page.contains("Genuine") || page.contains("genuine"), "{page}");
}

/// Another buyer's paid order number.
async fn stranger_order(app: &TestApp) -> String {
    let other = app.another_browser();
    other.login_by_code("13800138323").await;
    other.bought("python-zero-to-one").await
}

/// The receipt and its verify page, opened by tapping, at 375 px in WeChat and at 1280 px, in
/// both languages: nothing scrolls sideways and axe finds nothing.
#[tokio::test]
async fn receipts_in_the_browser() {
    use crate::browser::{WECHAT_UA, browser_login, choose_language, console_errors, snap, start_browser_as};
    use fantoccini::Locator;
    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await else { return };
    let phone = "13800138324";
    app.login_by_code(phone).await;
    let order_no = app.bought("excel-data-analysis").await;
    for (width, height, ua) in [(375, 812, Some(WECHAT_UA)), (1280, 900, None)] {
        let Some((_driver, client)) = start_browser_as(width, height, ua).await else { return };
        app.age_codes(61).await;
        browser_login(&client, &app, phone).await;
        for lang in ["zh-CN", "en"] {
            choose_language(&client, &app, lang, &format!("/orders/{order_no}")).await;
            client
                .find(Locator::Css(&format!("a[href='/orders/{order_no}/receipt']")))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            client.wait().for_element(Locator::Css(".receipt-card .qr")).await.unwrap();
            let wide = client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
            assert!(
                wide.as_i64().unwrap_or(9999) <= i64::from(width),
                "receipt ({lang}, {width}) scrolls sideways: {wide}"
            );
            let save = client
                .execute("return document.querySelector('a[download]').getBoundingClientRect().height", vec![])
                .await
                .unwrap();
            assert!(save.as_f64().unwrap_or(0.0) >= 44.0, "the save button is a touch target: {save}");
            snap(&client, &format!("receipt-{lang}-{width}.png")).await;
            let url = client.find(Locator::Css(".receipt-url")).await.unwrap().text().await.unwrap();
            let path = &url[url.find("/receipts/").unwrap()..];
            client.goto(&app.url(path)).await.unwrap();
            client.wait().for_element(Locator::Css(".verdict-ok")).await.unwrap();
            snap(&client, &format!("receipt-verify-{lang}-{width}.png")).await;
        }
        let errors = console_errors(&client).await;
        assert!(errors.is_empty(), "console errors {errors:?}");
        let _ = client.close().await; // cleanup: the checks above are the test
    }
}
