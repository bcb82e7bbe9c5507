//! Takedown mode: from the back office or the command line, every page says where the courses
//! are now, the home page pins how to save the shop, and it goes away when switched off.

use std::process::Command;

use kedian::domain::staff::Role;
use reqwest::StatusCode;

use crate::backoffice::audit_actions;
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(the_switch_puts_the_notice_on_every_page);

const PAGE: &str = "/admin/takedown";

async fn the_switch_puts_the_notice_on_every_page(app: TestApp) {
    let (_, before) = app.get_html("/").await;
    assert!(!before.contains("takedown-banner"), "off (and the home page is now cached for visitors)");
    app.make_staff("13900000001", Role::Operator).await;
    let staff = app.staff_as("13900000001").await;
    let on = staff.submit(PAGE, PAGE, &[("mode", "on"), ("message", "小程序维护中，课程请在本站学习")]).await;
    assert_eq!(on.status(), StatusCode::SEE_OTHER);
    for path in ["/", "/courses", "/courses/excel-data-analysis", "/login", "/pages/refund-policy"] {
        let (_, html) = app.get_html(path).await;
        assert!(
            html.contains("class=\"takedown-banner\"") && html.contains("小程序维护中，课程请在本站学习"),
            "{path}"
        );
    }
    let (_, home) = app.get_html("/").await;
    assert!(
        home.contains("id=\"save-this-shop\"") && home.contains("http://kedian.test"),
        "the pinned notice says where"
    );
    assert!(home.contains("添加到主屏幕"), "and how to save it");
    let learner = app.another_browser();
    learner.login_by_code("13800138950").await;
    let (_, mine) = learner.get_html("/me/courses").await;
    assert!(mine.contains("takedown-banner"));
    let (_, offline) = app.get_html("/offline").await;
    assert!(!offline.contains("takedown-banner"), "the offline page is kept for days: no banner to go stale");
    // With no message of its own, the banner speaks the reader's language.
    staff.submit(PAGE, PAGE, &[("mode", "on"), ("message", "")]).await;
    let english = app.another_browser();
    english.submit("/language", "/language", &[("lang", "en"), ("next", "/")]).await;
    let (_, page) = english.get_html("/courses").await;
    assert!(page.contains("While the mini program is suspended"), "the English default");
    let (_, page) = app.get_html("/courses").await;
    assert!(page.contains("小程序暂停服务期间"), "the Chinese default");

    let off = staff.submit(PAGE, PAGE, &[("mode", "off")]).await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    let (_, home) = app.get_html("/").await;
    assert!(!home.contains("takedown-banner"));
    let actions = audit_actions(&app).await;
    assert!(actions.contains(&"takedown.on".to_string()) && actions.contains(&"takedown.off".to_string()));
}

fn kedian(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kedian"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEDIAN_DATA_DIR", data_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command line switches a running shop within a job interval (one second here).
#[tokio::test]
async fn the_command_line_switches_a_running_shop() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.job_interval_secs = 1).await.unwrap();
    let said = kedian(&app.data_dir, &["takedown", "on", "--message", "请收藏本站，课程都在这里"]);
    assert!(said.contains("takedown mode is on: 请收藏本站，课程都在这里"), "{said}");
    let mut shown = false;
    for _ in 0..40 {
        let (_, html) = app.get_html("/courses").await;
        if html.contains("请收藏本站，课程都在这里") {
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(shown, "the running shop picked it up");
    assert!(kedian(&app.data_dir, &["takedown", "status"]).contains("is on"));
    assert!(kedian(&app.data_dir, &["takedown", "off"]).contains("is off"));
}
