//! The audit log, for admins: who changed what and when, with before and after, filtered by
//! staff member, action, target and date range.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::time::{shanghai_day_start, shanghai_minutes};
use crate::error::AppError;
use crate::routes::admin::gate::{Staff, area};
use crate::store::audit::{self, Entry, Filter};
use crate::store::staff;
use crate::store::users::User;
use crate::web::{AppState, Meta, PageContext, render_with_status};

const PAGE_LIMIT: i64 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(audit_page);
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditQuery {
    pub staff: String,
    pub action: String,
    pub target: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: PageContext,
    meta: Meta,
    q: AuditQuery,
    staff: Vec<User>,
    rows: Vec<(Entry, String)>,
}

/// `target` is `type:id` (`order:2026…`) or a bare id.
fn filter_of(q: &AuditQuery) -> Filter {
    let (target_type, target_id) = match q.target.trim().split_once(':') {
        Some((t, id)) => (t.to_string(), id.to_string()),
        None => (String::new(), q.target.trim().to_string()),
    };
    Filter {
        staff_id: q.staff.parse().ok().map(crate::domain::UserId),
        action: q.action.trim().to_string(),
        target_type,
        target_id,
        from: shanghai_day_start(&q.from),
        until: shanghai_day_start(&q.to).map(|t| t + 86_400),
    }
}

#[get("/admin/audit")]
async fn audit_page(
    Staff(ctx, _, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: AuditQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let rows = audit::search(&state.db, &filter_of(&q), PAGE_LIMIT)
        .await?
        .into_iter()
        .map(|e| {
            let at = shanghai_minutes(e.created_at);
            (e, at)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_audit"), ctx.shop_name()), "");
    let staff = staff::list(&state.db).await?;
    render_with_status(&AuditPage { ctx, meta, q, staff, rows }, StatusCode::OK)
}
