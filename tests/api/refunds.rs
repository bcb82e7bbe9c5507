//! Refund requests from the learner's form to the money going back, on the sandbox provider:
//! the staff decisions, automatic approval, exceptions, evidence, and who may see what.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location, unescape};
use crate::on_both_backends;

const COURSE: &str = "excel-data-analysis"; // recorded, ¥199
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

/// Staff decide every request (automatic approval off).
pub async fn by_hand(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, |s| s.refund_auto_approve_fen = 0).await
}

/// Eligible requests up to 10,000 yuan are approved and sent at once.
async fn automatic(backend: crate::helpers::Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, |s| s.refund_auto_approve_fen = 1_000_000).await
}

on_both_backends!(
    setup = by_hand;
    staff_approve_a_full_refund_and_the_course_is_revoked,
    a_double_submit_makes_one_request,
    withdraw_and_reject,
    partial_refund_needs_a_note_and_keeps_the_course,
    twenty_concurrent_approvals_refund_once,
    evidence_is_checked_by_content_and_served_as_attachment,
    bad_refund_forms_change_nothing,
);
on_both_backends!(
    setup = automatic;
    small_eligible_requests_are_refunded_at_once,
    when_the_rule_says_no_the_learner_can_still_ask,
);
on_both_backends!(other_peoples_refunds_are_not_found);

pub fn refund_no_from(response: &reqwest::Response) -> String {
    let to = location(response);
    assert!(to.starts_with("/refunds/R"), "redirected to the request: {to}");
    to.trim_start_matches("/refunds/").to_string()
}

async fn owns(app: &TestApp, phone: &str) -> bool {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM entitlements e JOIN users u ON u.id = e.user_id WHERE u.phone = $1 AND e.revoked_at IS NULL",
    )
    .bind(phone)
    .fetch_one(app.db.read())
    .await
    .unwrap();
    n > 0
}

async fn sandbox_refunds(app: &TestApp) -> i64 {
    app.count("sandbox_refunds").await
}

async fn staff_approve_a_full_refund_and_the_course_is_revoked(app: TestApp) {
    app.login_by_code("13800138001").await;
    let order_no = app.bought(COURSE).await;
    let (_, order_page) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(order_page.contains(&format!("/orders/{order_no}/refund")), "a paid order offers 申请退款");
    assert!(order_page.contains("/complaints/new?order="), "and a way to complain");

    let (status, form) = app.get_html(&format!("/orders/{order_no}/refund")).await;
    assert_eq!(status, StatusCode::OK);
    let form = unescape(&form);
    assert!(form.contains("¥199.00"), "the computed amount is shown");
    assert!(form.contains("7 天内且学习进度不足 20%"), "with the rule that produced it");

    let response = app.request_refund(&order_no, "quality", vec![("evidence", "截图.png", PNG.to_vec())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let refund_no = refund_no_from(&response);
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("待审核") && page.contains("提交退款申请"), "status and timeline");
    assert!(page.contains("撤回申请"), "a pending request can be withdrawn");
    assert!(page.contains("截图.png"), "the evidence is listed");
    assert_eq!(sandbox_refunds(&app).await, 0, "nothing is refunded before staff decide");

    let staff = app.staff().await;
    let (_, queue) = staff.get_html("/admin/refunds").await;
    assert!(queue.contains(&refund_no), "the request is in the staff queue");
    let detail = format!("/admin/refunds/{refund_no}");
    let (_, staff_page) = staff.get_html(&detail).await;
    assert!(staff_page.contains("0%") && staff_page.contains(&order_no), "order and consumption figures");
    let approved = staff.submit(&detail, &format!("{detail}/approve"), &[("amount", "199.00"), ("note", "")]).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);

    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("已退款") && page.contains("退款已原路退回"), "the learner sees the refund done");
    assert!(!page.contains("撤回申请"));
    assert_eq!(app.order_status(&order_no).await, "refunded");
    assert_eq!(sandbox_refunds(&app).await, 1);
    assert!(!owns(&app, "13800138001").await, "a full refund revokes the course");
    let (_, messages) = app.get_html("/me/messages").await;
    assert!(messages.contains(&refund_no) && messages.contains("¥199.00"), "a site message tells the learner");
    app.deliver_texts().await;
    let sent = app.sms.sent.lock().unwrap().clone();
    let texted = sent.iter().any(|(to, text)| to == "13800138001" && text.contains(&refund_no));
    assert!(texted, "and a text message: {sent:?}");
    let approved = sent.iter().filter(|(to, text)| to == "13800138001" && text.contains("已同意")).count();
    assert_eq!(approved, 1, "staff's approval is texted too, once: {sent:?}");
    let (_, order_page) = app.get_html(&format!("/orders/{order_no}")).await;
    assert!(order_page.contains("已退款") && !order_page.contains(&format!("/orders/{order_no}/refund\"")));
    let (target, after): (String, String) =
        sqlx::query_as("SELECT target_id, after_json FROM audit_log WHERE action = 'refund.approve'")
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert!(target == refund_no && after.contains("19900"), "the approval is in the audit log");
}

async fn small_eligible_requests_are_refunded_at_once(app: TestApp) {
    app.login_by_code("13800138002").await;
    let order_no = app.bought(COURSE).await;
    let refund_no = refund_no_from(&app.request_refund(&order_no, "bought_by_mistake", vec![]).await);
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("已退款"), "approved and refunded without staff");
    assert_eq!(app.order_status(&order_no).await, "refunded");
    let auto: i64 = sqlx::query_scalar("SELECT auto_approved FROM refund_requests WHERE refund_no = $1")
        .bind(&refund_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(auto, 1);
}

async fn a_double_submit_makes_one_request(app: TestApp) {
    app.login_by_code("13800138003").await;
    let order_no = app.bought(COURSE).await;
    let page = format!("/orders/{order_no}/refund");
    let (_, html) = app.get_html(&page).await;
    let token = crate::helpers::csrf_in(&html);
    let send = || {
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token.clone())
            .text("reason", "quality")
            .text("detail", "卡顿");
        app.client.post(app.url(&page)).multipart(form).send()
    };
    let (a, b) = tokio::join!(send(), send());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(location(&a), location(&b), "both clicks land on the same request");
    assert_eq!(app.count("refund_requests").await, 1);
    // Asking again while it is open leads to it.
    assert_eq!(location(&app.get(&page).await), location(&a));
}

async fn withdraw_and_reject(app: TestApp) {
    app.login_by_code("13800138004").await;
    let order_no = app.bought(COURSE).await;
    let first = refund_no_from(&app.request_refund(&order_no, "quality", vec![]).await);
    let status_page = format!("/refunds/{first}");
    let withdrawn = app.submit(&status_page, &format!("{status_page}/withdraw"), &[]).await;
    assert_eq!(withdrawn.status(), StatusCode::SEE_OTHER);
    let (_, page) = app.get_html(&status_page).await;
    assert!(page.contains("已撤回") && page.contains("你撤回了申请"));

    let second = refund_no_from(&app.request_refund(&order_no, "quality", vec![]).await);
    assert_ne!(first, second, "a new request after withdrawing");
    let staff = app.staff().await;
    let detail = format!("/admin/refunds/{second}");
    let empty = staff.submit(&detail, &format!("{detail}/reject"), &[("reason", "  ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST, "a rejection needs a reason");
    assert!(empty.text().await.unwrap().contains("请填写拒绝原因"));
    let rejected =
        staff.submit(&detail, &format!("{detail}/reject"), &[("reason", "课程已学习超过一半，不符合退款规则")]).await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    let (_, page) = app.get_html(&format!("/refunds/{second}")).await;
    assert!(page.contains("未通过") && page.contains("课程已学习超过一半"), "the learner sees the reason");
    let (_, messages) = app.get_html("/me/messages").await;
    assert!(messages.contains(&second));
    // The learner cannot withdraw a decided request; nothing changes.
    let again = app.submit("/me", &format!("/refunds/{second}/withdraw"), &[]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let (_, page) = app.get_html(&format!("/refunds/{second}")).await;
    assert!(page.contains("未通过"));
    assert_eq!(app.order_status(&order_no).await, "paid");
    assert!(owns(&app, "13800138004").await);
    let actions: Vec<String> =
        crate::backoffice::audit_actions(&app).await.into_iter().filter(|a| a.starts_with("refund.")).collect();
    assert_eq!(actions, ["refund.reject"], "one audit entry, none for the empty reason");
}

async fn partial_refund_needs_a_note_and_keeps_the_course(app: TestApp) {
    app.login_by_code("13800138005").await;
    let order_no = app.bought(COURSE).await;
    let refund_no = refund_no_from(&app.request_refund(&order_no, "quality", vec![]).await);
    let staff = app.staff().await;
    let detail = format!("/admin/refunds/{refund_no}");
    let approve = format!("{detail}/approve");
    for (amount, note, error) in [
        ("50", "", "部分退款请填写备注"),
        ("abc", "x", "请输入金额"),
        ("0", "x", "金额需大于 0"),
        ("199.01", "x", "金额需大于 0"),
    ] {
        let response = staff.submit(&detail, &approve, &[("amount", amount), ("note", note)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{amount}");
        assert!(response.text().await.unwrap().contains(error), "{amount}: {error}");
    }
    assert_eq!(sandbox_refunds(&app).await, 0, "bad input changes nothing");
    let done = staff.submit(&detail, &approve, &[("amount", "50.00"), ("note", "协商退一部分")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.order_status(&order_no).await, "partially_refunded");
    assert!(owns(&app, "13800138005").await, "a partial refund keeps the course");
    // The rest can still be asked for; the form offers at most what is left.
    let (_, form) = app.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(unescape(&form).contains("¥149.00"), "the policy refunds what is left");
    let rest = refund_no_from(&app.request_refund(&order_no, "quality", vec![]).await);
    let rest_detail = format!("/admin/refunds/{rest}");
    let too_much =
        staff.submit(&rest_detail, &format!("{rest_detail}/approve"), &[("amount", "150"), ("note", "")]).await;
    assert_eq!(too_much.status(), StatusCode::BAD_REQUEST, "never more than was paid in total");
    staff.submit(&rest_detail, &format!("{rest_detail}/approve"), &[("amount", "149"), ("note", "")]).await;
    assert_eq!(app.order_status(&order_no).await, "refunded");
    let refunded: i64 = sqlx::query_scalar("SELECT refunded_fen FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(refunded, 19900);
    assert!(!owns(&app, "13800138005").await);
}

async fn when_the_rule_says_no_the_learner_can_still_ask(app: TestApp) {
    app.login_by_code("13800138006").await;
    let order_no = app.bought(COURSE).await;
    // Eight days later the 7-day window is over.
    sqlx::query("UPDATE orders SET paid_at = paid_at - 8 * 86400 WHERE order_no = $1")
        .bind(&order_no)
        .execute(app.db.write())
        .await
        .unwrap();
    let (_, form) = app.get_html(&format!("/orders/{order_no}/refund")).await;
    assert!(form.contains("不符合自动退款条件") && form.contains("已超过购买后 7 天的退款期限"));
    assert!(form.contains(&format!("/complaints/new?order={order_no}")), "the complaint page is pointed to");
    assert!(form.contains("提交申请，等待人工审核"));
    let refund_no = refund_no_from(&app.request_refund(&order_no, "quality", vec![]).await);
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("待审核") && page.contains("例外申请"), "flagged for staff, never automatic");
    let staff = app.staff().await;
    let (_, queue) = staff.get_html("/admin/refunds").await;
    assert!(queue.contains("例外申请"));
    assert_eq!(sandbox_refunds(&app).await, 0);
    // Staff may override the rule.
    let detail = format!("/admin/refunds/{refund_no}");
    staff.submit(&detail, &format!("{detail}/approve"), &[("amount", "199"), ("note", "特殊情况")]).await;
    assert_eq!(app.order_status(&order_no).await, "refunded");
}

async fn twenty_concurrent_approvals_refund_once(app: TestApp) {
    app.login_by_code("13800138007").await;
    let order_no = app.bought(COURSE).await;
    let refund_no = refund_no_from(&app.request_refund(&order_no, "quality", vec![]).await);
    let staff = app.staff().await;
    let detail = format!("/admin/refunds/{refund_no}");
    let (_, html) = staff.get_html(&detail).await;
    let token = crate::helpers::csrf_in(&html);
    let approve = staff.url(&format!("{detail}/approve"));
    let clicks = (0..20).map(|_| {
        let form = [("csrf_token", token.as_str()), ("amount", "199.00"), ("note", "")];
        staff.client.post(&approve).form(&form).send()
    });
    for response in futures_util::future::join_all(clicks).await {
        assert_eq!(response.unwrap().status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(sandbox_refunds(&app).await, 1, "exactly one provider refund");
    let approvals: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refund_events e JOIN refund_requests r ON r.id = e.refund_id \
         WHERE r.refund_no = $1 AND e.kind = 'approved'",
    )
    .bind(&refund_no)
    .fetch_one(app.db.read())
    .await
    .unwrap();
    assert_eq!(approvals, 1);
    let refunded: i64 = sqlx::query_scalar("SELECT refunded_fen FROM orders WHERE order_no = $1")
        .bind(&order_no)
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(refunded, 19900);
}

async fn evidence_is_checked_by_content_and_served_as_attachment(app: TestApp) {
    app.login_by_code("13800138008").await;
    let order_no = app.bought(COURSE).await;
    // An HTML page dressed as a picture is refused, with the reason next to the field.
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let fake = app.request_refund(&order_no, "quality", vec![("evidence", "photo.png", html)]).await;
    assert_eq!(fake.status(), StatusCode::BAD_REQUEST);
    assert!(fake.text().await.unwrap().contains("只支持 JPG、PNG、GIF、WebP 图片或 PDF 文件"));
    // More than 10 MB.
    let mut big = PNG.to_vec();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let too_big = app.request_refund(&order_no, "quality", vec![("evidence", "big.png", big)]).await;
    assert_eq!(too_big.status(), StatusCode::BAD_REQUEST);
    assert!(too_big.text().await.unwrap().contains("文件不能超过 10 MB"));
    // Six files.
    let six = (0..6).map(|_| ("evidence", "a.png", PNG.to_vec())).collect();
    let too_many = app.request_refund(&order_no, "quality", six).await;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    assert!(too_many.text().await.unwrap().contains("最多上传 5 个文件"));
    assert_eq!(app.count("refund_requests").await, 0, "refused forms create nothing");
    assert_eq!(app.count("attachments").await, 0);

    let pdf = b"%PDF-1.7\n1 0 obj\n".to_vec();
    // A browser sends `evil".pdf` as `evil%22.pdf` (the HTML form encoding of a quote).
    let files = vec![
        ("evidence", "../../etc/passwd\".png", PNG.to_vec()),
        ("evidence", "收据.exe", pdf.clone()),
        ("evidence", "evil%22.pdf", pdf),
    ];
    let refund_no = refund_no_from(&app.request_refund(&order_no, "quality", files).await);
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("passwd.png") && page.contains("收据.pdf"), "names are tamed, extensions follow content");
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM attachments ORDER BY id").fetch_all(app.db.read()).await.unwrap();
    let response = app.get(&format!("/refunds/{refund_no}/files/{}", ids[0])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-disposition").starts_with("attachment"), "{}", header("content-disposition"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), PNG);
    let pdf_response = app.get(&format!("/refunds/{refund_no}/files/{}", ids[1])).await;
    assert_eq!(pdf_response.headers()["content-type"], "application/pdf");
    assert!(page.contains("evil.pdf"), "the browser's escape is not part of the name");
    let quoted = app.get(&format!("/refunds/{refund_no}/files/{}", ids[2])).await;
    let disposition = quoted.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.ends_with("''evil.pdf"), "{disposition}");
    // Stored under generated names, outside the static files.
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT storage_key FROM attachments").fetch_all(app.db.read()).await.unwrap();
    for key in &keys {
        assert!(key.starts_with("evidence/") && !key.contains("passwd"), "{key}");
        assert!(app.data_dir.join("uploads").join(key).is_file(), "{key}");
        assert_eq!(app.get(&format!("/static/{key}")).await.status(), StatusCode::NOT_FOUND);
    }
    // Staff see it too; an id of another request is not found.
    let staff = app.staff().await;
    assert_eq!(staff.get(&format!("/admin/refunds/{refund_no}/files/{}", ids[0])).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/refunds/{refund_no}/files/999999")).await.status(), StatusCode::NOT_FOUND);
}

async fn bad_refund_forms_change_nothing(app: TestApp) {
    app.login_by_code("13800138009").await;
    let order_no = app.bought(COURSE).await;
    let page = format!("/orders/{order_no}/refund");
    for (fields, error) in [
        (vec![("reason", "")], "请选择退款原因"),
        (vec![("reason", "free money")], "请选择退款原因"),
        (vec![("reason", "other"), ("detail", "")], "请写明情况"),
    ] {
        let response = app.submit_multipart(&page, &page, &fields, vec![]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.text().await.unwrap().contains(error), "{error}");
    }
    let long = "长".repeat(501);
    let response = app.submit_multipart(&page, &page, &[("reason", "quality"), ("detail", &long)], vec![]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Without the form's token: refused.
    let form = reqwest::multipart::Form::new().text("reason", "quality");
    let forged = app.client.post(app.url(&page)).multipart(form).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Not a multipart body at all.
    let raw = app.client.post(app.url(&page)).body("reason=quality").send().await.unwrap();
    assert!(raw.status().is_client_error(), "{}", raw.status());
    assert_eq!(app.count("refund_requests").await, 0);
    // A pending order cannot be refunded: the form leads back to the order.
    let pending = app.order_for("python-zero-to-one").await;
    assert_eq!(location(&app.get(&format!("/orders/{pending}/refund")).await), format!("/orders/{pending}"));
}

async fn other_peoples_refunds_are_not_found(app: TestApp) {
    app.login_by_code("13800138010").await;
    let order_no = app.bought(COURSE).await;
    let refund_no =
        refund_no_from(&app.request_refund(&order_no, "quality", vec![("evidence", "a.png", PNG.to_vec())]).await);
    let complaint = app
        .submit_multipart(
            "/complaints/new",
            "/complaints/new",
            &[("category", "refund"), ("order_no", &order_no), ("description", "退款太慢了"), ("phone", "13800138010")],
            vec![("images", "a.png", PNG.to_vec())],
        )
        .await;
    let complaint_no = location(&complaint).trim_start_matches("/complaints/").to_string();
    assert!(complaint_no.starts_with('C'), "{complaint_no}");
    let file_id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM attachments").fetch_one(app.db.read()).await.unwrap();

    let other = app.another_browser();
    other.login_by_code("13800138011").await;
    for path in [
        format!("/refunds/{refund_no}"),
        format!("/refunds/{refund_no}/files/{file_id}"),
        format!("/orders/{order_no}/refund"),
        format!("/complaints/{complaint_no}"),
        format!("/complaints/{complaint_no}/files/{}", file_id + 1),
        "/refunds/R2026112200000000000X".to_string(),
        "/complaints/not-a-number".to_string(),
    ] {
        assert_eq!(other.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (_, html) = other.get_html("/me").await;
    let token = crate::helpers::csrf_in(&html);
    let withdraw = other.post_raw(&format!("/refunds/{refund_no}/withdraw"), &[("csrf_token", &token)]).await;
    assert_eq!(withdraw.status(), StatusCode::NOT_FOUND);
    let follow_up = other
        .post_raw(&format!("/complaints/{complaint_no}/messages"), &[("csrf_token", &token), ("body", "hi")])
        .await;
    assert_eq!(follow_up.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("complaint_messages").await, 0);
    // Learners are kept out of the staff pages.
    assert_eq!(other.get("/admin/refunds").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(other.get(&format!("/admin/complaints/{complaint_no}")).await.status(), StatusCode::FORBIDDEN);
    let (_, page) = app.get_html(&format!("/refunds/{refund_no}")).await;
    assert!(page.contains("待审核"), "the owner's request is untouched");
}
