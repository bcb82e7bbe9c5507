//! The back office, for staff with the admin role: the dashboard, refunds and complaints.

pub mod complaints;
pub mod refunds;

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::store::orders::{self, LatePayment};
use crate::store::users;
use crate::web::{AppState, Meta, PageContext, redirect, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard);
    refunds::configure(cfg);
    complaints::configure(cfg);
}

/// Visitors go to the login page; logged-in learners get a 403 page.
pub fn require_admin(ctx: &PageContext) -> Result<Option<HttpResponse>, AppError> {
    match &ctx.user {
        None => Ok(Some(redirect(&ctx.login_href()))),
        Some(user) if user.is_admin() => Ok(None),
        Some(_) => Err(AppError::Forbidden),
    }
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct Dashboard {
    ctx: PageContext,
    meta: Meta,
    users: i64,
    courses: usize,
    categories: usize,
    late_payments: Vec<(LatePayment, String)>,
    open_refunds: i64,
    waiting_complaints: i64,
    overdue_complaints: i64,
}

#[get("/admin")]
async fn dashboard(ctx: PageContext, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if let Some(to_login) = require_admin(&ctx)? {
        return Ok(to_login);
    }
    let catalog = state.catalog.snapshot();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_title"), ctx.t("site_name")), ctx.t("site_description"));
    let late_payments = orders::late_payments(&state.db, 50)
        .await?
        .into_iter()
        .map(|p| {
            let at = shanghai_minutes(p.received_at);
            (p, at)
        })
        .collect();
    let (waiting_complaints, overdue_complaints) = crate::store::complaints::waiting(&state.db, now()).await?;
    render(&Dashboard {
        open_refunds: crate::store::refunds::count_open(&state.db).await?,
        waiting_complaints,
        overdue_complaints,
        late_payments,
        users: users::count(&state.db).await?,
        courses: catalog.courses.len(),
        categories: catalog.categories.len(),
        ctx,
        meta,
    })
}
