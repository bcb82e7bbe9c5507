//! A column's plan (专栏): how many issues are planned and when new ones come out. Its issues are
//! lessons, added in the course editor whenever one is ready; buyers get each as it comes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::catalog::Course;
use crate::domain::catalog::{MAX_COLUMN_ISSUES, MAX_COLUMN_SCHEDULE_CHARS, parse_column};
use crate::domain::time::now;
use crate::domain::{CourseId, ProductKind};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(plan_page).service(save_plan);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ColumnForm {
    planned: String,
    schedule: String,
}

#[derive(Template)]
#[template(path = "admin/column.html")]
struct ColumnPage {
    ctx: PageContext,
    meta: Meta,
    column: std::sync::Arc<Course>,
    form: ColumnForm,
    max_issues: i64,
    max_schedule: usize,
    errors: FieldErrors,
}

fn column(state: &AppState, id: CourseId) -> Result<std::sync::Arc<Course>, AppError> {
    super::course_by_id(state, id).filter(|c| c.kind == ProductKind::Column).ok_or(AppError::NotFound)
}

fn render(
    ctx: PageContext,
    column: std::sync::Arc<Course>,
    form: ColumnForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_column"), column.title), "");
    let page = ColumnPage {
        ctx,
        meta,
        column,
        form,
        max_issues: MAX_COLUMN_ISSUES,
        max_schedule: MAX_COLUMN_SCHEDULE_CHARS,
        errors,
    };
    render_with_status(&page, status)
}

#[get("/admin/courses/{id}/column")]
async fn plan_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let column = column(&state, *id)?;
    let form = match &column.column {
        Some(plan) => ColumnForm {
            planned: plan.planned.map(|n| n.to_string()).unwrap_or_default(),
            schedule: plan.schedule.clone(),
        },
        None => ColumnForm::default(),
    };
    render(ctx, column, form, FieldErrors::default(), StatusCode::OK)
}

#[post("/admin/courses/{id}/column")]
async fn save_plan(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ColumnForm>,
) -> Result<HttpResponse, AppError> {
    let column = column(&state, *id)?;
    let plan = match parse_column(&form.planned, &form.schedule) {
        Ok(plan) => plan,
        Err(found) => {
            let mut errors = FieldErrors::default();
            for (field, key) in found {
                errors.add(field, ctx.t(key));
            }
            return render(ctx, column, form, errors, StatusCode::BAD_REQUEST);
        }
    };
    crate::store::course_admin::set_column(&state.db, column.id, &plan, now()).await?;
    super::catalog::reload(&state).await?;
    let before = column.column.as_ref().map(|p| serde_json::json!({ "planned": p.planned, "schedule": p.schedule }));
    let change = Change {
        action: "column.save",
        target_type: "course",
        target_id: column.id.to_string(),
        before: before.unwrap_or_default(),
        after: serde_json::json!({ "planned": plan.planned, "schedule": plan.schedule }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/column", column.id)))
}
