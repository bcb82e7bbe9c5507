//! Distributors in the back office: applications to approve or reject, distributors with their
//! balances, freezing and unfreezing (each with a reason, audited), and what the shop owes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, audit};
use crate::domain::UserId;
use crate::domain::commission::Balances;
use crate::domain::staff::Area;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::commissions;
use crate::store::distributors::{self, Distributor, Status};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(decide);
}

#[derive(Template)]
#[template(path = "admin/distributors.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Distributor, Balances, String)>,
    liability: Balances,
    errors: FieldErrors,
    /// The row whose form the errors belong to.
    errored: Option<UserId>,
}

impl ListPage {
    fn errored_on(&self, user: &UserId) -> bool {
        self.errored == Some(*user)
    }
}

async fn page(
    ctx: PageContext,
    state: &AppState,
    errors: FieldErrors,
    errored: Option<UserId>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_distributors"), ctx.shop_name()), "");
    let mut rows = Vec::new();
    for d in distributors::all(&state.db, 500).await? {
        let balances = commissions::balances(&state.db, d.user_id).await?;
        let applied = shanghai_minutes(d.applied_at);
        rows.push((d, balances, applied));
    }
    let liability = commissions::liability(&state.db).await?;
    render_with_status(&ListPage { ctx, meta, rows, liability, errors, errored }, status)
}

#[get("/admin/distributors")]
async fn list(ctx: PageContext, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.staff(Area::Distribution)?;
    page(ctx, &state, FieldErrors::default(), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DecideForm {
    /// approve, reject, freeze or unfreeze
    decision: String,
    note: String,
}

#[post("/admin/distributors/{user_id}")]
async fn decide(
    ctx: PageContext,
    req: HttpRequest,
    user_id: web::Path<UserId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
    let staff = ctx.staff(Area::Distribution)?.clone();
    let d = distributors::find(&state.db, *user_id).await?.ok_or(AppError::NotFound)?;
    let (from, to) = match form.decision.as_str() {
        "approve" => (Status::Pending, Status::Approved),
        "reject" => (Status::Pending, Status::Rejected),
        "freeze" => (Status::Approved, Status::Frozen),
        "unfreeze" => (Status::Frozen, Status::Approved),
        _ => return Err(AppError::BadRequest),
    };
    let note = form.note.trim();
    // Everything but an approval says why: the applicant or the distributor is told.
    if (to != Status::Approved || from == Status::Frozen) && note.is_empty() || note.chars().count() > 200 {
        let mut errors = FieldErrors::default();
        errors.add("note", ctx.t("admin_dist_note_required"));
        return page(ctx, &state, errors, Some(d.user_id), StatusCode::BAD_REQUEST).await;
    }
    if !distributors::decide(&state.db, d.user_id, from, to, note, staff.id, now()).await? {
        // Someone decided first: show where it stands.
        return Ok(redirect("/admin/distributors"));
    }
    let change = Change {
        action: "distributor.decide",
        target_type: "distributor",
        target_id: d.user_id.to_string(),
        before: serde_json::json!({ "status": from.as_str() }),
        after: serde_json::json!({ "status": to.as_str() }),
        note,
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/admin/distributors"))
}
