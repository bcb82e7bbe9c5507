//! The back office. Staff sign in with password and TOTP (`login`); each handler opens with
//! a `Staff<area::…>` argument, which admits only staff whose role covers that area (`gate`), and
//! every change is written to the audit log.

pub mod agreements;
pub mod announcements;
pub mod audit_log;
pub mod broadcast;
pub mod bundles;
pub mod catalog;
pub mod certificates;
pub mod cohorts;
pub mod columns;
pub mod complaints;
pub mod content;
pub mod coupons;
pub mod distributors;
pub mod funnel;
pub mod gate;
pub mod import;
pub mod invoices;
pub mod learning;
pub mod lesson;
pub mod login;
pub mod media;
pub mod official_account;
pub mod orders;
pub mod products;
pub mod questions;
pub mod quizzes;
pub mod readiness;
pub mod redeem;
pub mod refunds;
pub mod settings;
pub mod sms;
pub mod staff;
pub mod stats;
pub mod switchover;
pub mod takedown;
pub mod taxonomy;
pub mod users;

use crate::routes::admin::gate::{Staff, area};
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::store::orders::{LatePayment, late_payments};

use crate::web::{AppState, Meta, PageContext, render};

/// The course a back-office form chose by its id (any course, on sale or not).
pub(crate) fn chosen_course(state: &AppState, id: &str) -> Option<std::sync::Arc<crate::catalog::Course>> {
    let parsed: i64 = id.parse().ok().filter(|n: &i64| n.to_string() == id)?;
    course_by_id(state, crate::domain::CourseId(parsed))
}

/// Any course by its id, on sale or not.
pub(crate) fn course_by_id(
    state: &AppState,
    id: crate::domain::CourseId,
) -> Option<std::sync::Arc<crate::catalog::Course>> {
    state.catalog.snapshot().course_by_id(id).cloned()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard);
    login::configure(cfg);
    announcements::configure(cfg);
    broadcast::configure(cfg);
    sms::configure(cfg);
    catalog::configure(cfg);
    bundles::configure(cfg);
    cohorts::configure(cfg);
    certificates::configure(cfg);
    columns::configure(cfg);
    coupons::configure(cfg);
    redeem::configure(cfg);
    media::configure(cfg);
    lesson::configure(cfg);
    taxonomy::configure(cfg);
    takedown::configure(cfg);
    switchover::configure(cfg);
    official_account::configure(cfg);
    funnel::configure(cfg);
    readiness::configure(cfg);
    orders::configure(cfg);
    invoices::configure(cfg);
    refunds::configure(cfg);
    complaints::configure(cfg);
    content::configure(cfg);
    distributors::configure(cfg);
    products::configure(cfg);
    learning::configure(cfg);
    questions::configure(cfg);
    quizzes::configure(cfg);
    staff::configure(cfg);
    settings::configure(cfg);
    agreements::configure(cfg);
    import::configure(cfg);
    audit_log::configure(cfg);
    users::configure(cfg);
    stats::configure(cfg);
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
    held_content: i64,
    /// Today so far: sales, paid orders, new users, active learners.
    today: (crate::domain::Fen, i64, i64, i64),
}

#[get("/admin")]
async fn dashboard(
    Staff(ctx, _, _): Staff<area::Dashboard>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let catalog = state.catalog.snapshot();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_title"), ctx.shop_name()), ctx.t("site_description"));
    let late_payments = late_payments(&state.db, 50)
        .await?
        .into_iter()
        .map(|p| {
            let at = shanghai_minutes(p.received_at);
            (p, at)
        })
        .collect();
    let (waiting_complaints, overdue_complaints) = crate::store::complaints::waiting(&state.db, now()).await?;
    let day = crate::domain::stats::shanghai_day(now());
    let start = crate::domain::stats::day_start(day);
    let sales = crate::store::sales_days::between(&state.db, day, day, now()).await?;
    let today = crate::store::stats::daily(&state.db, start, start + 86_400, day, day, &sales).await?;
    let first = |rows: &[(i64, i64)]| rows.first().map_or(0, |(_, v)| *v);
    render(&Dashboard {
        today: (
            crate::domain::Fen(first(&today.revenue_fen)),
            first(&today.paid_orders),
            first(&today.new_users),
            first(&today.active_learners),
        ),
        held_content: crate::store::moderation::held_count(&state.db).await?,
        open_refunds: crate::store::refunds::count_open(&state.db).await?,
        waiting_complaints,
        overdue_complaints,
        late_payments,
        users: crate::store::users::count(&state.db).await?,
        courses: catalog.courses.len(),
        categories: catalog.categories.len(),
        ctx,
        meta,
    })
}
