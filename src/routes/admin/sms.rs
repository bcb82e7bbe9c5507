//! 短信: which provider sends, each kind of text mapped to its approved templates with a preview
//! of what the learner receives, and the texts that failed, per kind and day.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::domain::sms::Kind;
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::admin::gate::{Staff, area};
use crate::sms::TemplateUse;
use crate::store::sms_outbox::{self, FailureCount};
use crate::web::{AppState, Meta, PageContext, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page);
}

/// Failures of the last two weeks.
const DAYS: i64 = 14;

pub struct Row {
    pub kind: Kind,
    pub preview: String,
    pub templates: Vec<TemplateUse>,
}

#[derive(Template)]
#[template(path = "admin/sms.html")]
struct SmsPage {
    ctx: PageContext,
    meta: Meta,
    providers: Vec<&'static str>,
    rows: Vec<Row>,
    failures: Vec<FailureCount>,
}

/// Values that show what each parameter becomes.
fn sample(name: &str, url: &str, kind: Kind) -> String {
    match name {
        // A reminder's wording carries the shop's sign itself; the broadcasts' text is the whole message.
        "text" if kind == Kind::Reminder => "直播《数据透视表入门》即将开始".into(),
        "code" => "123456".into(),
        "no" => "R20261130ABCD".into(),
        "amount" => "¥199.00".into(),
        "time" => "2026-11-30 10:00".into(),
        "url" => url.into(),
        "text" => "【课店】课程已搬到网页版".into(),
        _ => String::new(),
    }
}

#[get("/admin/sms")]
async fn page(
    Staff(ctx, _, _): Staff<area::Announcements>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let templates = state.sms.templates();
    let url = &state.settings.public_url;
    let rows = Kind::ALL
        .iter()
        .copied()
        .map(|kind| {
            let values: Vec<(String, String)> =
                kind.params().iter().map(|p| (p.to_string(), sample(p, url, kind))).collect();
            let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let wording = crate::jobs::sms::wording(&state.shop, kind);
            Row {
                kind,
                preview: crate::domain::shop::fill(&wording, &values),
                templates: templates.iter().filter(|t| t.kind == kind).cloned().collect(),
            }
        })
        .collect();
    let failures = sms_outbox::failures_by_day(&state.db, now() - DAYS * 86_400).await?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_sms"), ctx.shop_name()), "");
    render(&SmsPage { ctx, meta, providers: state.sms.providers(), rows, failures })
}
