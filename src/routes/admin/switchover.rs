//! `/admin/switchover`: is the shop ready for the day the mini program goes? Who of its buyers
//! the shop can reach, when the mini program's data last arrived, the keys its back end signs
//! sync requests with, and a checklist of what the day depends on, each item saying what to fix.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{ClaimId, SyncKeyId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::switchover::{self, Reach};
use crate::store::sync::{self, Status, SyncKey};
use crate::web::csv::Csv;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(unreachable_csv).service(create_key).service(revoke_key).service(undo_claim);
}

/// One line of the checklist: its label key, whether it passes, and the key of what to do if not.
pub struct Check {
    pub label: &'static str,
    pub ok: bool,
    pub fix: &'static str,
}

#[derive(Template)]
#[template(path = "admin/switchover.html")]
struct SwitchoverPage {
    ctx: PageContext,
    meta: Meta,
    reach: Reach,
    sync: Status,
    keys: Vec<SyncKey>,
    checks: Vec<Check>,
    /// A key just made: (key id, secret), shown this once.
    new_key: Option<(String, String)>,
    key_label: String,
    errors: FieldErrors,
    endpoint: String,
    claims: Vec<crate::store::claims::Claim>,
    oa: super::official_account::Panel,
    /// The outcome of a test text just sent: its code, `failed`, or `none` (nothing to send with).
    sms_test: String,
}

impl SwitchoverPage {
    fn when(&self, at: &Option<i64>) -> String {
        at.map(shanghai_minutes).unwrap_or_else(|| "-".into())
    }

    fn day(&self, day: &i64) -> String {
        crate::domain::time::shanghai_date(crate::domain::stats::day_start(*day))
    }

    fn at(&self, at: &i64) -> String {
        shanghai_minutes(*at)
    }

    fn masked(&self, phone: &str) -> String {
        crate::domain::Phone::from_stored(phone.to_string()).masked()
    }

    fn lag(&self) -> String {
        match self.sync.lag_secs() {
            Some(secs) if secs < 120 => self.ctx.tf("switchover_lag_secs", &[("n", &secs.to_string())]),
            Some(secs) => self.ctx.tf("switchover_lag_mins", &[("n", &(secs / 60).to_string())]),
            None => "-".into(),
        }
    }
}

async fn checks(state: &AppState, ctx: &PageContext, sync: &Status) -> Vec<Check> {
    let shop = &ctx.shop;
    let storage = async {
        let probe = "switchover-check";
        state.media.put(probe, b"ok").await?;
        anyhow::ensure!(state.media.stat(probe).await?.is_some(), "written, not read back");
        Ok(())
    };
    let storage_ok = tokio::time::timeout(std::time::Duration::from_secs(5), storage).await.is_ok_and(|r| r.is_ok());
    let newest_backup = std::fs::read_dir(state.settings.backups_dir())
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
        .max();
    let backup_fresh = newest_backup.is_some_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() < 2 * 86_400))
        || state.db.backend() == crate::store::Backend::Postgres;
    let day_ago = now() - 86_400;
    let sms_tested = super::readiness::last_sms_test(&state.db)
        .await
        .ok()
        .flatten()
        .is_some_and(|at| at > now() - super::readiness::SMS_TEST_VALID_SECS);
    let sms_fix = if state.sms.providers().is_empty() { "switchover_fix_sms" } else { "switchover_fix_sms_test" };
    let payments_fix = if state.providers.all().any(|p| p.name() != crate::pay::sandbox::NAME) {
        "switchover_fix_payments_query"
    } else {
        "switchover_fix_payments"
    };
    vec![
        Check { label: "switchover_check_sms", ok: !state.sms.providers().is_empty() && sms_tested, fix: sms_fix },
        Check {
            label: "switchover_check_payments",
            ok: super::readiness::payments_answer(state).await,
            fix: payments_fix,
        },
        Check { label: "switchover_check_wechat", ok: state.wechat.is_some(), fix: "switchover_fix_wechat" },
        Check { label: "switchover_check_storage", ok: storage_ok, fix: "switchover_fix_storage" },
        Check { label: "switchover_check_backup", ok: backup_fresh, fix: "switchover_fix_backup" },
        Check {
            label: "switchover_check_https",
            ok: state.settings.public_url.starts_with("https://"),
            fix: "switchover_fix_https",
        },
        Check { label: "switchover_check_icp", ok: !shop.icp_number.is_empty(), fix: "switchover_fix_icp" },
        Check {
            label: "switchover_check_sync",
            ok: sync.last_received_at.is_some_and(|at| at > day_ago),
            fix: "switchover_fix_sync",
        },
    ]
}

pub(super) async fn render(
    ctx: PageContext,
    state: &AppState,
    new_key: Option<(String, String)>,
    label: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    render_page(ctx, state, new_key, label, errors, status, String::new()).await
}

async fn render_page(
    ctx: PageContext,
    state: &AppState,
    new_key: Option<(String, String)>,
    label: String,
    errors: FieldErrors,
    status: StatusCode,
    sms_test: String,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let reach = switchover::reach(&state.db).await?;
    let sync = sync::status(&state.db, now() - 14 * 86_400).await?;
    let keys = sync::keys(&state.db).await?;
    let checks = checks(state, &ctx, &sync).await;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_switchover"), ctx.shop_name()), "");
    let endpoint = format!("{}{}", state.settings.public_url, crate::routes::sync_api::PATH);
    let claims = crate::store::claims::recent(&state.db, 50).await?;
    let oa = super::official_account::panel(state, &state.db).await?;
    let page = SwitchoverPage {
        ctx,
        meta,
        reach,
        sync,
        keys,
        checks,
        new_key,
        key_label: label,
        errors,
        endpoint,
        claims,
        oa,
        sms_test,
    };
    render_with_status(&page, status)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShowQuery {
    sms_test: String,
}

#[get("/admin/switchover")]
async fn show(
    Staff(ctx, _, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: ShowQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let sms_test: String = q.sms_test.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
    render_page(ctx, &state, None, String::new(), FieldErrors::default(), StatusCode::OK, sms_test).await
}

/// The buyers nobody can reach, for staff to contact through the mini program's own channels.
#[get("/admin/switchover/unreachable.csv")]
async fn unreachable_csv(
    Staff(_, _, _): Staff<area::Administration>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let rows = switchover::unreachable(&state.db).await?;
    let mut csv = Csv::new(&["account_id", "nickname", "miniprogram_openid", "miniprogram_orders", "paid_yuan"]);
    for r in &rows {
        let paid = crate::domain::Fen(r.paid_fen).yuan_string();
        csv.row(&[&r.id.to_string(), &r.nickname, &r.openid, &r.orders, &paid]);
    }
    Ok(csv.response("unreachable-buyers.csv"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyForm {
    label: String,
}

#[post("/admin/switchover/keys")]
async fn create_key(
    Staff(ctx, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<KeyForm>,
) -> Result<HttpResponse, AppError> {
    let label = form.label.trim().to_string();
    let mut errors = FieldErrors::default();
    if label.is_empty() {
        errors.add("label", ctx.t("switchover_err_label"));
    } else if label.chars().count() > 40 {
        errors.add("label", ctx.tf("err_text_long", &[("n", "40")]));
    }
    if !errors.is_empty() {
        return render(ctx, &state, None, label, errors, StatusCode::BAD_REQUEST).await;
    }
    let (key_id, secret) = crate::domain::sync::new_key(&mut rand::thread_rng());
    let id = sync::create_key(&state.db, &key_id, &secret, &label, staff.id, now()).await?;
    let change = Change {
        action: "sync_key.create",
        target_type: "sync_key",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "key_id": key_id, "label": label }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    // The secret is on this page only; the shop never shows it again.
    let mut response =
        render(ctx, &state, Some((key_id, secret)), String::new(), FieldErrors::default(), StatusCode::CREATED).await?;
    response
        .headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    Ok(response)
}

#[post("/admin/switchover/keys/{id}/revoke")]
async fn revoke_key(
    Staff(_, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<SyncKeyId>,
    CsrfForm(_): CsrfForm<KeyForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    if !sync::revoke_key(&state.db, id, now()).await? {
        return Err(AppError::NotFound);
    }
    let change = Change {
        action: "sync_key.revoke",
        target_type: "sync_key",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "revoked": true }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/switchover#keys"))
}

/// Gives a claimed order back to the account it came from.
#[post("/admin/switchover/claims/{id}/undo")]
async fn undo_claim(
    Staff(_, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<ClaimId>,
    CsrfForm(_): CsrfForm<KeyForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let Some(claim) = crate::store::claims::undo(&state.db, id, staff.id, now()).await? else {
        return Err(AppError::NotFound);
    };
    let change = Change {
        action: "receipt.undo",
        target_type: "order",
        target_id: claim.order_id.to_string(),
        before: serde_json::json!({ "user_id": claim.user_id }),
        after: serde_json::json!({ "user_id": claim.from_user_id, "claim": id }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/switchover#claims"))
}
