//! Distributors in the back office: applications to approve or reject, distributors with their
//! balances, freezing and unfreezing (each with a reason, audited), and what the shop owes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::commission::{Balance, Balances, RiskFlag, risk_flags};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{PayoutId, UserId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::commissions;
use crate::store::distributors::{self, Distributor, Status};
use crate::store::payouts::{self, Payout};
use crate::web::csv::Csv;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(ledger_csv).service(decide).service(pay);
}

#[derive(Template)]
#[template(path = "admin/distributors.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Distributor, Balances, String, Vec<&'static str>)>,
    liability: Balances,
    errors: FieldErrors,
    /// The row whose form the errors belong to.
    errored: Option<UserId>,
    payouts: Vec<(Payout, String)>,
    errored_payout: Option<PayoutId>,
}

impl ListPage {
    fn errored_on(&self, user: &UserId) -> bool {
        self.errored == Some(*user)
    }

    fn payout_errored(&self, id: &PayoutId) -> bool {
        self.errored_payout == Some(*id)
    }
}

async fn page(
    ctx: PageContext,
    state: &AppState,
    errors: FieldErrors,
    (errored, errored_payout): (Option<UserId>, Option<PayoutId>),
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_distributors"), ctx.shop_name()), "");
    let mut rows = Vec::new();
    for d in distributors::all(&state.db, 500).await? {
        let balances = commissions::balances(&state.db, d.user_id).await?;
        let applied = shanghai_minutes(d.applied_at);
        let flags = if d.status.is_distributor() {
            let referrals = commissions::referrals(&state.db, d.user_id).await?;
            risk_flags(&referrals, &state.shop.get().risk).into_iter().map(flag_key).collect()
        } else {
            Vec::new()
        };
        rows.push((d, balances, applied, flags));
    }
    let liability = commissions::liability(&state.db).await?;
    let payouts = payouts::queue(&state.db, 200)
        .await?
        .into_iter()
        .map(|p| {
            let at = shanghai_minutes(p.requested_at);
            (p, at)
        })
        .collect();
    let page = ListPage { ctx, meta, rows, liability, errors, errored, payouts, errored_payout };
    render_with_status(&page, status)
}

fn flag_key(flag: RiskFlag) -> &'static str {
    match flag {
        RiskFlag::ManyBuyersFromOneAddress => "risk_one_address",
        RiskFlag::ManyBuyersFromOneSubnet => "risk_one_subnet",
        RiskFlag::HighRefundRate => "risk_refunds",
        RiskFlag::SignupsThatNeverLearn => "risk_idle_signups",
        RiskFlag::ConcentratedOnFewBuyers => "risk_concentrated",
    }
}

#[get("/admin/distributors")]
async fn list(
    Staff(ctx, _, _): Staff<area::Distribution>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    page(ctx, &state, FieldErrors::default(), (None, None), StatusCode::OK).await
}

/// The whole commission ledger as CSV: every movement, signed as it moves the distributor's money.
#[get("/admin/distributors/ledger.csv")]
async fn ledger_csv(
    Staff(ctx, _, _): Staff<area::Distribution>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut csv = Csv::new(&[
        ctx.t("admin_when"),
        ctx.t("phone"),
        ctx.t("dist_real_name"),
        ctx.t("admin_ledger_kind"),
        ctx.t("admin_amount"),
        ctx.t("admin_ledger_balance"),
        ctx.t("admin_ledger_order"),
        ctx.t("admin_ledger_note"),
    ]);
    for line in commissions::ledger(&state.db).await? {
        let movement = line.entry().movement();
        let sign = if movement.negative { "-" } else { "" };
        let balance = match movement.balance {
            Balance::Pending => "dist_pending",
            Balance::Available => "dist_available",
        };
        let amount = format!("{sign}{}", line.amount.yuan_string());
        let kind = ctx.t(&format!("ledger_{}", line.kind));
        let at = shanghai_minutes(line.created_at);
        let cells = [
            at.as_str(),
            line.phone.as_str(),
            line.real_name.as_str(),
            kind,
            amount.as_str(),
            ctx.t(balance),
            line.order_no.as_deref().unwrap_or(""),
            line.note.as_str(),
        ];
        csv.row(&cells);
    }
    Ok(csv.response("commission-ledger.csv"))
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
    Staff(ctx, staff, _): Staff<area::Distribution>,
    req: HttpRequest,
    user_id: web::Path<UserId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<DecideForm>,
) -> Result<HttpResponse, AppError> {
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
        return page(ctx, &state, errors, (Some(d.user_id), None), StatusCode::BAD_REQUEST).await;
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

#[derive(Deserialize, Default)]
#[serde(default)]
struct PayForm {
    /// paid or reject
    decision: String,
    /// The transfer's reference (required when paid).
    reference: String,
    note: String,
}

/// Staff transferred a withdrawal (and record its reference) or reject it with a reason.
#[post("/admin/payouts/{id}")]
async fn pay(
    Staff(ctx, staff, _): Staff<area::Distribution>,
    req: HttpRequest,
    id: web::Path<PayoutId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<PayForm>,
) -> Result<HttpResponse, AppError> {
    let payout = payouts::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let paid = match form.decision.as_str() {
        "paid" => true,
        "reject" => false,
        _ => return Err(AppError::BadRequest),
    };
    let (reference, note) = (form.reference.trim(), form.note.trim());
    let mut errors = FieldErrors::default();
    if paid && (reference.is_empty() || reference.chars().count() > 100) {
        errors.add("reference", ctx.t("admin_payout_reference_required"));
    }
    if !paid && (note.is_empty() || note.chars().count() > 200) {
        errors.add("reference", ctx.t("admin_dist_note_required"));
    }
    if !errors.is_empty() {
        return page(ctx, &state, errors, (None, Some(payout.id)), StatusCode::BAD_REQUEST).await;
    }
    if !payouts::decide(&state.db, &payout, paid, reference, note, staff.id, now()).await? {
        return Ok(redirect("/admin/distributors"));
    }
    let change = Change {
        action: if paid { "payout.paid" } else { "payout.reject" },
        target_type: "payout",
        target_id: payout.id.to_string(),
        before: serde_json::json!({ "status": payout.status, "amount_fen": payout.amount.0 }),
        after: serde_json::json!({ "status": if paid { "paid" } else { "rejected" }, "reference": reference }),
        note,
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/admin/distributors"))
}
