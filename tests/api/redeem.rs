//! Redeem codes: a batch made in the back office and exported, codes redeemed by learners into
//! orders of amount 0, every refusal with its own words, switching off, and the guessing limit.

use kedian::domain::staff::Role;
use kedian::domain::time::{now, shanghai_datetime_value};
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::{TestApp, location};
use crate::on_both_backends;

on_both_backends!(staff_make_a_batch_and_learners_redeem_its_codes, wrong_codes_are_limited_and_counted);

const PAGE: &str = "/admin/redeem";

pub(crate) async fn operator(app: &TestApp) -> TestApp {
    app.make_staff("13900000021", Role::Operator).await;
    app.staff_as("13900000021").await
}

/// Makes a batch through the form; returns its id.
pub(crate) async fn batch(app: &TestApp, staff: &TestApp, quantity: &str) -> i64 {
    let course = app.course_id("excel-data-analysis").await.to_string();
    let until = shanghai_datetime_value(now() + 30 * 86_400);
    let fields = [("course", course.as_str()), ("quantity", quantity), ("channel", "淘宝"), ("valid_until", &until)];
    let made = staff.submit(PAGE, PAGE, &fields).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    location(&made).trim_start_matches("/admin/redeem/").parse().expect("the batch's page")
}

/// The batch's codes as exported: (number, code, state).
pub(crate) async fn export(staff: &TestApp, id: i64) -> Vec<(String, String, String)> {
    let csv = staff.get(&format!("/admin/redeem/{id}/codes.csv")).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("\u{feff}序号,兑换码,状态,兑换时间,渠道"));
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].to_string(), cells[1].to_string(), cells[2].to_string())
        })
        .collect()
}

pub(crate) async fn redeem(learner: &TestApp, code: &str) -> (StatusCode, String) {
    let response = learner.submit("/redeem", "/redeem", &[("code", code)]).await;
    let status = response.status();
    if status == StatusCode::SEE_OTHER {
        return (status, location(&response));
    }
    (status, response.text().await.unwrap())
}

async fn staff_make_a_batch_and_learners_redeem_its_codes(app: TestApp) {
    let staff = operator(&app).await;
    let bad = staff.submit(PAGE, PAGE, &[("quantity", "100001"), ("channel", " ")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    for field in ["course", "quantity", "channel"] {
        assert!(html.contains(&format!("id=\"{field}-error\"")), "{field} is marked");
    }
    assert_eq!(app.count("redeem_batches").await, 0, "bad input changes nothing");

    let id = batch(&app, &staff, "50").await;
    assert_eq!(app.count("redeem_codes").await, 50);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM redeem_codes").fetch_all(app.db.read()).await.unwrap();
    let codes = export(&staff, id).await;
    assert_eq!(codes.len(), 50);
    assert_eq!(codes[0].0, "1");
    for (_, code, state) in &codes {
        assert_eq!(state, "未使用");
        assert_eq!(code.len(), 19, "four groups of four: {code}");
        assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
        assert!(stored.contains(&kedian::domain::redeem::hash(&code.replace('-', ""))), "kept as its hash only");
    }
    let distinct: std::collections::HashSet<&String> = codes.iter().map(|(_, c, _)| c).collect();
    assert_eq!(distinct.len(), 50);
    let actions = audit_actions(&app).await;
    assert!(actions.contains(&"redeem.create".to_string()) && actions.contains(&"redeem.export".to_string()));

    // A learner types the first code any way a phone lets them.
    let learner = app.another_browser();
    assert_eq!(location(&learner.get("/redeem").await).split('?').next(), Some("/login"), "sign in first");
    learner.login_by_code("13800138401").await;
    let (status, page) = learner.get_html("/redeem?course=excel-data-analysis").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Excel"), "the course it came from");
    let typed = codes[0].1.to_lowercase().replace('-', " ");
    let (status, to) = redeem(&learner, &typed).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let order_no = to.trim_start_matches("/orders/").trim_end_matches("/done").to_string();
    assert_eq!(to, format!("/orders/{order_no}/done"));
    let (amount, provider): (i64, String) =
        sqlx::query_as("SELECT amount_fen, pay_provider FROM orders WHERE order_no = $1")
            .bind(&order_no)
            .fetch_one(app.db.read())
            .await
            .unwrap();
    assert_eq!((amount, provider.as_str()), (0, "redeem"));
    assert_eq!(app.order_status(&order_no).await, "paid");
    let (_, mine) = learner.get_html("/me/courses").await;
    assert!(mine.contains("Excel"), "the course is theirs");
    let (_, order) = learner.get_html(&format!("/orders/{order_no}")).await;
    assert!(order.contains("兑换码 · 淘宝") && order.contains("不能在本店退款"), "the channel, and no refund here");
    let refund = learner.get(&format!("/orders/{order_no}/refund")).await;
    assert_eq!(location(&refund), format!("/orders/{order_no}"), "the refund page sends back to the order");

    // The same code again, another code for a course already owned, codes that are not codes.
    let other = app.another_browser();
    other.login_by_code("13800138402").await;
    let (status, html) = redeem(&other, &codes[0].1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("id=\"code-error\"") && html.contains("已经被兑换过了"));
    let (status, html) = redeem(&learner, &codes[1].1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("你已经拥有这门课程"));
    for (typed, message) in
        [("", "请输入兑换码"), ("0000-OOOO-1111-IIII", "没有这个兑换码"), ("ABCD-EFGH-JKLM-NPQR", "没有这个兑换码")]
    {
        let (status, html) = redeem(&other, typed).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{typed}");
        assert!(html.contains(message), "{typed}: {message}");
    }

    // Dates and switches.
    sqlx::query("UPDATE redeem_batches SET valid_from = $1").bind(now() + 3600).execute(app.db.write()).await.unwrap();
    assert!(redeem(&other, &codes[1].1).await.1.contains("还没到可以兑换的时间"));
    sqlx::query("UPDATE redeem_batches SET valid_from = $1, valid_until = $2")
        .bind(now() - 7200)
        .bind(now() - 1)
        .execute(app.db.write())
        .await
        .unwrap();
    assert!(redeem(&other, &codes[1].1).await.1.contains("已过期"));
    sqlx::query("UPDATE redeem_batches SET valid_until = $1")
        .bind(now() + 86_400)
        .execute(app.db.write())
        .await
        .unwrap();
    let page = format!("{PAGE}/{id}");
    let off = staff.submit(&page, &format!("{page}/code"), &[("code", &codes[1].1)]).await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert!(redeem(&other, &codes[1].1).await.1.contains("已停用"));
    let used = staff.submit(&page, &format!("{page}/code"), &[("code", &codes[0].1)]).await;
    assert_eq!(used.status(), StatusCode::BAD_REQUEST, "a redeemed code cannot be switched off");
    let foreign = staff.submit(&page, &format!("{page}/code"), &[("code", "ABCD-EFGH-JKLM-NPQR")]).await;
    assert!(foreign.text().await.unwrap().contains("这个批次里没有这个兑换码"));
    assert_eq!(staff.submit(&page, &format!("{page}/disable"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(redeem(&other, &codes[2].1).await.1.contains("已停用"));
    assert_eq!(staff.submit(&page, &format!("{page}/enable"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(redeem(&other, &codes[2].1).await.0, StatusCode::SEE_OTHER);

    let (_, detail) = staff.get_html(&page).await;
    assert!(detail.contains("138****8401") && detail.contains(&order_no), "who redeemed, and the order");
    assert!(detail.contains("2 / 50"));
    let states: Vec<String> = export(&staff, id).await.into_iter().take(3).map(|(_, _, s)| s).collect();
    assert_eq!(states, ["已兑换", "已停用", "已兑换"]);

    app.make_staff("13900000022", Role::Support).await;
    let support = app.staff_as("13900000022").await;
    assert_eq!(support.get(PAGE).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(support.get(&format!("{page}/codes.csv")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(learner.get(&format!("{page}/codes.csv")).await.status(), StatusCode::FORBIDDEN);
}

async fn wrong_codes_are_limited_and_counted(app: TestApp) {
    let staff = operator(&app).await;
    let id = batch(&app, &staff, "3").await;
    let codes = export(&staff, id).await;
    let guesser = app.another_browser();
    guesser.login_by_code("13800138411").await;
    for i in 0..10 {
        let (status, _) =
            redeem(&guesser, &format!("ABCD-EFGH-JKLM-{:04}", 2000 + i).replace('0', "2").replace('1', "3")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "guess {i}");
    }
    let (status, html) = redeem(&guesser, &codes[0].1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even a real code waits");
    assert!(html.contains("分钟后再试") && html.contains("id=\"code-error\""));
    assert_eq!(app.count("orders").await, 0);

    // Another account at the same address still has its own tries.
    let neighbour = app.another_browser();
    neighbour.login_by_code("13800138412").await;
    assert_eq!(redeem(&neighbour, &codes[0].1).await.0, StatusCode::SEE_OTHER);
    let (_, page) = staff.get_html(PAGE).await;
    assert!(page.contains("输错 10 次，来自 1 个账号、1 个地址"), "counted for staff");
}
