//! Shop settings from the back office: name, logo, policy text, refund and complaint defaults and
//! SMS wording, each in effect at once, checked before saving, and audited.

use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(admins_change_the_shop_settings);

/// A real picture, as a phone would upload it.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::DynamicImage::new_rgb8(width, height);
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

const PAGE: &str = "/admin/settings";

async fn admins_change_the_shop_settings(app: TestApp) {
    let admin = app.staff().await;
    let bad = admin
        .submit(
            PAGE,
            PAGE,
            &[
                ("sms_code", "验证码 {code}"),
                ("sms_refund", "【店】退款到了"),
                ("refund_auto_approve_yuan", "abc"),
                ("icp_number", "12345678"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let page = bad.text().await.unwrap();
    assert!(page.contains("短信须以签名开头") && page.contains("文案中必须保留 {no}") && page.contains("请输入金额"));
    assert!(page.contains("id=\"icp_number-error\"") && page.contains("例如 京ICP备12345678号-1"));
    assert_eq!(app.count("shop_settings").await, 0, "nothing saved");

    let saved = admin
        .submit(
            PAGE,
            PAGE,
            &[
                ("shop_name", "老王讲 Excel"),
                ("icp_number", "京ICP备12345678号-1"),
                ("refund_policy_zh", "# 退款\n\n购买七天内、学习不到两成可退。"),
                ("refund_auto_approve_yuan", "0"),
                ("complaint_reply_hours", "48"),
                ("sms_code", "【老王讲Excel】验证码 {code}，5 分钟内有效。"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (_, home) = app.get_html("/").await;
    assert!(home.contains("<a class=\"brand\" href=\"/\">老王讲 Excel</a>"), "the name shows at once");
    assert!(home.contains("<title>") && home.contains("老王讲 Excel</title>"));
    assert!(
        home.contains(
            "<a href=\"https://beian.miit.gov.cn/\" rel=\"noopener\" target=\"_blank\">京ICP备12345678号-1</a>"
        )
    );
    let (_, policy) = app.get_html("/pages/refund-policy").await;
    assert!(policy.contains("购买七天内、学习不到两成可退。"));

    let learner = app.another_browser();
    learner.login_by_code("13800138701").await;
    let texted = app.sms.sent.lock().unwrap().last().map(|(_, text)| text.clone()).unwrap();
    assert!(texted.starts_with("【老王讲Excel】验证码 "), "{texted}");

    // Automatic approval is off now: a ¥99 refund within the rules waits for staff.
    let order_no = learner.bought("economics-in-15-minutes").await;
    let asked = learner.request_refund(&order_no, "bought_by_mistake", vec![]).await;
    let (_, status) = learner.get_html(&crate::helpers::location(&asked)).await;
    assert!(status.contains("待审核"), "waits for staff");
    let complained = learner
        .submit_multipart(
            "/complaints/new",
            "/complaints/new",
            &[("category", "other"), ("description", "想问一下课程什么时候更新"), ("phone", "13800138701")],
            vec![],
        )
        .await;
    assert_eq!(complained.status(), StatusCode::SEE_OTHER);
    let (_, queue) = admin.get_html("/admin/complaints").await;
    assert!(queue.contains("48 小时内需回复"), "the complaint clock follows the setting");

    let logo =
        admin.submit_multipart(PAGE, "/admin/settings/logo", &[], vec![("logo", "logo.png", png(400, 300))]).await;
    assert_eq!(logo.status(), StatusCode::SEE_OTHER);
    let (_, home) = app.get_html("/courses").await;
    let src =
        home.split("class=\"brand-logo\" src=\"").nth(1).and_then(|r| r.split('"').next()).expect("a logo").to_string();
    let file = app.get(&src).await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "image/png");
    let bytes = file.bytes().await.unwrap();
    let shown = image::load_from_memory(&bytes).unwrap();
    assert_eq!((shown.width(), shown.height()), (128, 128), "cropped square at the size shown");
    let junk = admin
        .submit_multipart(PAGE, "/admin/settings/logo", &[], vec![("logo", "x.png", b"<svg onload=alert(1)>".to_vec())])
        .await;
    assert_eq!(junk.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Empty fields go back to the defaults.
    let reset = admin.submit(PAGE, PAGE, &[("shop_name", "")]).await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    let (_, home) = app.get_html("/").await;
    assert!(home.contains("<a class=\"brand\" href=\"/\"><img") && home.contains("课店</a>"));

    let actions = audit_actions(&app).await;
    assert_eq!(actions.iter().filter(|a| *a == "settings.update").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "settings.logo").count(), 1);
}
