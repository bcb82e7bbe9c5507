//! 发票: a buyer asks on a paid order (bad input beside the field), staff issue it with a PDF
//! and a number, the buyer is told and downloads it, nobody else can; a refund afterwards asks
//! staff to reverse it; orders the shop took no money for have none.

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::{TestApp, location};
use crate::on_both_backends;
use crate::refunds::refund_no_from;

on_both_backends!(
    a_buyer_asks_for_an_invoice_and_staff_issue_it,
    a_refund_after_the_invoice_asks_staff_to_reverse_it,
    orders_paid_elsewhere_or_free_have_no_invoice,
);

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
const COMPANY: [(&str, &str); 4] = [
    ("title_kind", "company"),
    ("title", "某某科技有限公司"),
    ("tax_number", "91350100m000100y43"),
    ("email", "finance@example.com"),
];

async fn support(app: &TestApp) -> TestApp {
    app.make_staff("13900000031", Role::Support).await;
    app.staff_as("13900000031").await
}

async fn invoice_id(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT id FROM invoice_requests").fetch_one(app.db.read()).await.unwrap()
}

/// Asks for the invoice with the company's title; returns the status.
async fn ask(buyer: &TestApp, order_no: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let page = format!("/orders/{order_no}/invoice");
    // The token from a page every signed-in learner has (this one may show no form, or none at all).
    let response = buyer.submit("/me", &page, fields).await;
    let status = response.status();
    (status, if status == StatusCode::SEE_OTHER { location(&response) } else { response.text().await.unwrap() })
}

async fn a_buyer_asks_for_an_invoice_and_staff_issue_it(app: TestApp) {
    let buyer = app.another_browser();
    buyer.login_by_code("13800138501").await;
    let order_no = buyer.bought("excel-data-analysis").await;
    let (_, order) = buyer.get_html(&format!("/orders/{order_no}")).await;
    assert!(order.contains(&format!("href=\"/orders/{order_no}/invoice\"")) && order.contains("申请发票"));
    let (status, form) = buyer.get_html(&format!("/orders/{order_no}/invoice")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("¥199.00"), "the amount, computed");

    let bad = [
        ("title_kind", "company"),
        ("title", "某某科技有限公司"),
        ("tax_number", "91350100M000100Y44"),
        ("email", "finance"),
    ];
    let (status, html) = ask(&buyer, &order_no, &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("id=\"tax_number-error\"") && html.contains("校验位") && html.contains("id=\"email-error\""));
    assert!(html.contains("某某科技有限公司"), "what was typed stays");
    assert_eq!(app.count("invoice_requests").await, 0);

    let (status, to) = ask(&buyer, &order_no, &COMPANY).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, format!("/orders/{order_no}/invoice").as_str()));
    let (_, page) = buyer.get_html(&to).await;
    assert!(page.contains("待开具") && page.contains("91350100M000100Y43"), "its state, the number in capitals");
    assert_eq!(ask(&buyer, &order_no, &COMPANY).await.0, StatusCode::SEE_OTHER, "asking twice shows the first");
    assert_eq!(app.count("invoice_requests").await, 1);

    // Until it is issued, the buyer may correct what was typed; bad input changes nothing.
    let mut corrected = COMPANY;
    corrected[1].1 = "某某科技（福州）有限公司";
    assert!(page.contains("开具前可以修改"), "offered while waiting");
    let mut wrong = corrected;
    wrong[3].1 = "finance";
    let (status, html) = ask(&buyer, &order_no, &wrong).await;
    assert!(status == StatusCode::BAD_REQUEST && html.contains("id=\"email-error\""));
    let (status, _) = ask(&buyer, &order_no, &corrected).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = buyer.get_html(&to).await;
    assert!(page.contains("某某科技（福州）有限公司") && page.contains("finance@example.com"), "the corrected title");
    assert_eq!(app.count("invoice_requests").await, 1, "still one request");

    let stranger = app.another_browser();
    stranger.login_by_code("13800138502").await;
    assert_eq!(stranger.get(&to).await.status(), StatusCode::NOT_FOUND);
    let (status, _) = ask(&stranger, &order_no, &COMPANY).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's order is not there");
    let withdraw = format!("/orders/{order_no}/invoice/withdraw");
    assert_eq!(stranger.submit("/me", &withdraw, &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("invoice_requests").await, 1, "not theirs to withdraw");

    // The buyer takes it back while it waits, and asks again.
    assert!(page.contains("撤回开票申请"));
    assert_eq!(location(&buyer.submit(&to, &withdraw, &[]).await), to);
    assert_eq!(app.count("invoice_requests").await, 0);
    let (_, page) = buyer.get_html(&to).await;
    assert!(!page.contains("待开具") && page.contains("id=\"title\""), "the form again");
    assert_eq!(ask(&buyer, &order_no, &corrected).await.0, StatusCode::SEE_OTHER);
    assert_eq!(app.count("invoice_requests").await, 1);

    // Staff issue it: not a picture, not nothing; a PDF and the number.
    let staff = support(&app).await;
    let (_, queue) = staff.get_html("/admin/invoices").await;
    assert!(queue.contains(&order_no) && queue.contains("某某科技（福州）有限公司"));
    let id = invoice_id(&app).await;
    let detail = format!("/admin/invoices/{id}");
    let issue = format!("{detail}/issue");
    let early = vec![("file", "发票.pdf", PDF.to_vec())];
    let early = staff.submit_multipart(&detail, &format!("{detail}/replace"), &[("replace_number", "")], early).await;
    assert_eq!(early.status(), StatusCode::CONFLICT, "nothing to replace before it is issued");
    let png = vec![("file", "发票.png", b"\x89PNG\r\n\x1a\n".to_vec())];
    let refused = staff.submit_multipart(&detail, &issue, &[("number", "")], png).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("只能上传 PDF"));
    let empty = staff.submit_multipart(&detail, &issue, &[("number", "")], vec![]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let pdf = vec![("file", "发票.pdf", PDF.to_vec())];
    let issued = staff.submit_multipart(&detail, &issue, &[("number", "25442000000012345678")], pdf).await;
    assert_eq!(issued.status(), StatusCode::SEE_OTHER);
    assert!(audit_actions(&app).await.contains(&"invoice.issue".to_string()));
    let again = staff.submit_multipart(&detail, &issue, &[("number", "1")], vec![]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "issued once");

    let (_, messages) = buyer.get_html("/me/messages").await;
    assert!(messages.contains("你的发票已开具") && messages.contains(&order_no));
    let (_, page) = buyer.get_html(&to).await;
    assert!(page.contains("已开具") && page.contains("25442000000012345678"));
    assert!(!page.contains("开具前可以修改"), "issued: no more corrections");
    assert_eq!(ask(&buyer, &order_no, &COMPANY).await.0, StatusCode::SEE_OTHER);
    let (_, page) = buyer.get_html(&to).await;
    assert!(page.contains("某某科技（福州）有限公司"), "what was issued stays");
    let file = buyer.get(&format!("{to}/file")).await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    assert_eq!(file.bytes().await.unwrap().as_ref(), PDF);
    assert_eq!(stranger.get(&format!("{to}/file")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(staff.get(&format!("{detail}/file")).await.status(), StatusCode::OK);

    // A wrong file attached: staff put the right PDF in its place (and a new number); the buyer
    // is told again and downloads the new one. Not before issuing, not a picture, not nothing.
    let replace = format!("{detail}/replace");
    let png = vec![("file", "发票.png", b"\x89PNG\r\n\x1a\n".to_vec())];
    let refused = staff.submit_multipart(&detail, &replace, &[("replace_number", "")], png).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("id=\"replace_file-error\""));
    let empty = staff.submit_multipart(&detail, &replace, &[("replace_number", "")], vec![]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let right = b"%PDF-1.4\n% the right one\n%%EOF\n".to_vec();
    let fixed = staff
        .submit_multipart(
            &detail,
            &replace,
            &[("replace_number", "25442000000087654321")],
            vec![("file", "发票2.pdf", right.clone())],
        )
        .await;
    assert_eq!(fixed.status(), StatusCode::SEE_OTHER);
    assert!(audit_actions(&app).await.contains(&"invoice.replace".to_string()));
    let file = buyer.get(&format!("{to}/file")).await;
    assert_eq!(file.bytes().await.unwrap().as_ref(), right.as_slice(), "the new file");
    let (_, page) = buyer.get_html(&to).await;
    assert!(page.contains("25442000000087654321"), "the new number");

    let csv = staff.get("/admin/invoices.csv?status=all").await;
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(text.contains("91350100M000100Y43") && text.contains("199.00") && text.contains("25442000000087654321"));

    app.make_staff("13900000032", Role::Operator).await;
    let operator = app.staff_as("13900000032").await;
    assert_eq!(operator.get("/admin/invoices").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(operator.get(&format!("{detail}/file")).await.status(), StatusCode::FORBIDDEN);
}

async fn a_refund_after_the_invoice_asks_staff_to_reverse_it(app: TestApp) {
    let buyer = app.another_browser();
    buyer.login_by_code("13800138511").await;
    let order_no = buyer.bought("excel-data-analysis").await;
    let personal = [("title_kind", "personal"), ("title", "张三"), ("tax_number", ""), ("email", "zs@example.com")];
    assert_eq!(ask(&buyer, &order_no, &personal).await.0, StatusCode::SEE_OTHER);
    let staff = app.staff().await;
    let detail = format!("/admin/invoices/{}", invoice_id(&app).await);
    let issued = staff.submit_multipart(&detail, &format!("{detail}/issue"), &[("number", "A123")], vec![]).await;
    assert_eq!(issued.status(), StatusCode::SEE_OTHER);
    let (_, page) = staff.get_html(&detail).await;
    assert!(!page.contains("红冲"), "nothing to reverse yet");

    let refund_no = refund_no_from(&buyer.request_refund(&order_no, "quality", vec![]).await);
    let refund = format!("/admin/refunds/{refund_no}");
    let (_, page) = staff.get_html(&refund).await;
    assert!(page.contains("已开具发票（¥199.00）") && page.contains("红冲"), "warned before refunding");
    let done =
        staff.submit(&refund, &format!("{refund}/approve"), &[("amount", "50.00"), ("note", "协商退一部分")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, page) = staff.get_html(&detail).await;
    assert!(page.contains("退款了 ¥50.00") && page.contains("红冲"));
    let (_, queue) = staff.get_html("/admin/invoices?status=issued").await;
    assert!(queue.contains("需红冲"));

    // Refunded between the request and issuing: issued for what is left; refunded in full, not at all.
    let order_no = buyer.bought("python-zero-to-one").await;
    assert_eq!(ask(&buyer, &order_no, &personal).await.0, StatusCode::SEE_OTHER);
    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM invoice_requests").fetch_one(app.db.read()).await.unwrap();
    let detail = format!("/admin/invoices/{id}");
    let refund_no = refund_no_from(&buyer.request_refund(&order_no, "quality", vec![]).await);
    let refund = format!("/admin/refunds/{refund_no}");
    staff.submit(&refund, &format!("{refund}/approve"), &[("amount", "99.00"), ("note", "协商退一部分")]).await;
    let (_, page) = staff.get_html(&detail).await;
    assert!(page.contains("将按现在的 ¥200.00 开具"), "¥299 paid, ¥99 back");
    let issued = staff.submit_multipart(&detail, &format!("{detail}/issue"), &[("number", "B456")], vec![]).await;
    assert_eq!(issued.status(), StatusCode::SEE_OTHER);
    let amount: i64 = sqlx::query_scalar("SELECT amount_fen FROM invoice_requests WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(amount, 20000);
}

async fn orders_paid_elsewhere_or_free_have_no_invoice(app: TestApp) {
    let buyer = app.another_browser();
    buyer.login_by_code("13800138521").await;
    let order_no = buyer.order_for("photography-composition").await;
    let order_no = order_no.trim_end_matches("/done").to_string();
    let (_, order) = buyer.get_html(&format!("/orders/{order_no}")).await;
    assert!(!order.contains("申请发票"), "a free course");
    let page = buyer.get(&format!("/orders/{order_no}/invoice")).await;
    assert_eq!(location(&page), format!("/orders/{order_no}"));
    let (status, _) = ask(&buyer, &order_no, &COMPANY).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("invoice_requests").await, 0);
    let pending = buyer.order_for("python-zero-to-one").await;
    let (_, order) = buyer.get_html(&format!("/orders/{pending}")).await;
    assert!(!order.contains("申请发票"), "an unpaid order");
}
