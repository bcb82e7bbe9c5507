//! Categories and instructors, for operators: add and edit; the shop's pages follow at once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::catalog::reload;
use super::gate::{Change, Staff, area, audit};
use crate::domain::course_form::is_valid_slug;
use crate::domain::{CategoryId, InstructorId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::course_admin::{self, CategoryRow, InstructorRow, SaveError};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(add_category).service(edit_category).service(add_instructor).service(edit_instructor);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CategoryForm {
    slug: String,
    name: String,
    position: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InstructorForm {
    #[serde(alias = "instructor_name")]
    name: String,
    #[serde(alias = "instructor_title")]
    title: String,
    bio: String,
}

#[derive(Template)]
#[template(path = "admin/taxonomy.html")]
struct TaxonomyPage {
    ctx: PageContext,
    meta: Meta,
    categories: Vec<CategoryRow>,
    instructors: Vec<InstructorRow>,
    category: CategoryForm,
    instructor: InstructorForm,
    errors: FieldErrors,
}

async fn render_page(
    ctx: PageContext,
    state: &AppState,
    category: CategoryForm,
    instructor: InstructorForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_taxonomy"), ctx.shop_name()), "");
    let categories = course_admin::category_rows(&state.db).await?;
    let instructors = course_admin::instructor_rows(&state.db).await?;
    render_with_status(&TaxonomyPage { ctx, meta, categories, instructors, category, instructor, errors }, status)
}

#[get("/admin/categories")]
async fn page(Staff(ctx, _, _): Staff<area::Catalog>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let empty = CategoryForm { position: "0".into(), ..CategoryForm::default() };
    render_page(ctx, &state, empty, InstructorForm::default(), FieldErrors::default(), StatusCode::OK).await
}

fn text(
    ctx: &PageContext,
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> String {
    let value = value.trim().to_string();
    let n = value.chars().count();
    if required && n == 0 {
        errors.add(field, ctx.t("err_required"));
    } else if n > max {
        errors.add(field, ctx.tf("err_text_long", &[("n", &max.to_string())]));
    }
    value
}

fn position(ctx: &PageContext, errors: &mut FieldErrors, value: &str) -> i64 {
    match value.trim() {
        "" => 0,
        v => v.parse().unwrap_or_else(|_| {
            errors.add("position", ctx.t("err_number_range"));
            0
        }),
    }
}

#[post("/admin/categories")]
async fn add_category(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CategoryForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let slug = form.slug.trim().to_string();
    if !is_valid_slug(&slug) {
        errors.add("slug", ctx.t("err_slug"));
    }
    let name = text(&ctx, &mut errors, "name", &form.name, 20, true);
    let position = position(&ctx, &mut errors, &form.position);
    if !errors.is_empty() {
        return render_page(ctx, &state, form, InstructorForm::default(), errors, StatusCode::BAD_REQUEST).await;
    }
    let id = match course_admin::add_category(&state.db, &slug, &name, position).await {
        Ok(id) => id,
        Err(SaveError::SlugTaken) => {
            errors.add("slug", ctx.t("err_slug_taken"));
            return render_page(ctx, &state, form, InstructorForm::default(), errors, StatusCode::CONFLICT).await;
        }
        Err(SaveError::MissingReference) => return Err(AppError::BadRequest),
        Err(SaveError::Db(e)) => return Err(e.into()),
    };
    reload(&state).await?;
    let after = serde_json::json!({ "slug": slug, "name": name, "position": position });
    let change = Change {
        action: "category.add",
        target_type: "category",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/categories"))
}

#[post("/admin/categories/{id}")]
async fn edit_category(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CategoryId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CategoryForm>,
) -> Result<HttpResponse, AppError> {
    let before =
        course_admin::category_rows(&state.db).await?.into_iter().find(|c| c.id == *id).ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::default();
    let name = text(&ctx, &mut errors, "name", &form.name, 20, true);
    let position = position(&ctx, &mut errors, &form.position);
    if !errors.is_empty() {
        return render_page(
            ctx,
            &state,
            CategoryForm::default(),
            InstructorForm::default(),
            errors,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    course_admin::update_category(&state.db, *id, &name, position).await?;
    reload(&state).await?;
    let change = Change {
        action: "category.update",
        target_type: "category",
        target_id: id.to_string(),
        before: serde_json::json!({ "name": before.name, "position": before.position }),
        after: serde_json::json!({ "name": name, "position": position }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/categories"))
}

/// Checked instructor fields, or the page again with the errors.
fn instructor_fields(ctx: &PageContext, form: &InstructorForm) -> Result<(String, String, String), FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = text(ctx, &mut errors, "instructor_name", &form.name, 20, true);
    let title = text(ctx, &mut errors, "instructor_title", &form.title, 60, false);
    let bio = text(ctx, &mut errors, "instructor_bio", &form.bio, 2000, false);
    if errors.is_empty() { Ok((name, title, bio)) } else { Err(errors) }
}

#[post("/admin/instructors")]
async fn add_instructor(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<InstructorForm>,
) -> Result<HttpResponse, AppError> {
    let (name, title, bio) = match instructor_fields(&ctx, &form) {
        Ok(fields) => fields,
        Err(errors) => {
            return render_page(ctx, &state, CategoryForm::default(), form, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    let id = course_admin::add_instructor(&state.db, &name, &title, &bio).await?;
    reload(&state).await?;
    let after = serde_json::json!({ "name": name, "title": title });
    let change = Change {
        action: "instructor.add",
        target_type: "instructor",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/categories"))
}

#[post("/admin/instructors/{id}")]
async fn edit_instructor(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<InstructorId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<InstructorForm>,
) -> Result<HttpResponse, AppError> {
    let before =
        course_admin::instructor_rows(&state.db).await?.into_iter().find(|i| i.id == *id).ok_or(AppError::NotFound)?;
    let (name, title, bio) = match instructor_fields(&ctx, &form) {
        Ok(fields) => fields,
        Err(errors) => {
            return render_page(ctx, &state, CategoryForm::default(), form, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    course_admin::update_instructor(&state.db, *id, &name, &title, &bio).await?;
    reload(&state).await?;
    let change = Change {
        action: "instructor.update",
        target_type: "instructor",
        target_id: id.to_string(),
        before: serde_json::json!({ "name": before.name, "title": before.title }),
        after: serde_json::json!({ "name": name, "title": title }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/categories"))
}
