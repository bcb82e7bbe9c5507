//! A bundle's courses (组合课): which courses the bundle sells, in its order. The bundle itself
//! (price, terms, cover, publication) is edited like any course.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::catalog::Course;
use crate::domain::CourseId;
use crate::domain::catalog::bundle_slugs;
use crate::domain::product::Delivery;
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(save);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BundleForm {
    courses: String,
}

#[derive(Template)]
#[template(path = "admin/bundle.html")]
struct BundlePage {
    ctx: PageContext,
    meta: Meta,
    bundle: std::sync::Arc<Course>,
    form: BundleForm,
    /// Courses a bundle may hold: (slug, title, price).
    choices: Vec<(String, String, String)>,
    errors: FieldErrors,
}

fn bundle(state: &AppState, id: CourseId) -> Result<std::sync::Arc<Course>, AppError> {
    super::course_by_id(state, id).filter(|c| c.kind.delivery() == Delivery::Courses).ok_or(AppError::NotFound)
}

fn render(
    ctx: PageContext,
    state: &AppState,
    bundle: std::sync::Arc<Course>,
    form: BundleForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_bundle"), bundle.title), "");
    let catalog = state.catalog.snapshot();
    let choices = catalog
        .courses
        .iter()
        .filter(|c| c.kind.delivery() == Delivery::Lessons)
        .map(|c| (c.slug.clone(), c.title.clone(), c.price.to_string()))
        .collect();
    render_with_status(&BundlePage { ctx, meta, bundle, form, choices, errors }, status)
}

#[get("/admin/courses/{id}/bundle")]
async fn page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let bundle = bundle(&state, *id)?;
    let catalog = state.catalog.snapshot();
    let slugs: Vec<&str> =
        bundle.bundle.iter().filter_map(|c| catalog.course_by_id(*c)).map(|c| c.slug.as_str()).collect();
    let form = BundleForm { courses: slugs.join("\n") };
    render(ctx, &state, bundle, form, FieldErrors::default(), StatusCode::OK)
}

#[post("/admin/courses/{id}/bundle")]
async fn save(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BundleForm>,
) -> Result<HttpResponse, AppError> {
    let bundle = bundle(&state, *id)?;
    let catalog = state.catalog.snapshot();
    let found = bundle_slugs(&form.courses).map_err(|key| key.to_string()).and_then(|slugs| {
        slugs
            .iter()
            .map(|slug| match catalog.course(slug) {
                Some(c) if c.kind.delivery() == Delivery::Lessons => Ok(c.id),
                _ => Err(ctx.tf("err_bundle_unknown", &[("slug", slug)])),
            })
            .collect::<Result<Vec<CourseId>, String>>()
    });
    let courses = match found {
        Ok(courses) => courses,
        Err(message) => {
            let mut errors = FieldErrors::default();
            let message = if message.starts_with("err_") { ctx.t(&message).to_string() } else { message };
            errors.add("courses", message);
            return render(ctx, &state, bundle, form, errors, StatusCode::BAD_REQUEST);
        }
    };
    crate::store::course_admin::set_bundle(&state.db, bundle.id, &courses, now()).await?;
    super::catalog::reload(&state).await?;
    let change = Change {
        action: "bundle.save",
        target_type: "course",
        target_id: bundle.id.to_string(),
        before: serde_json::json!({ "courses": bundle.bundle.iter().map(|c| c.0).collect::<Vec<i64>>() }),
        after: serde_json::json!({ "courses": courses.iter().map(|c| c.0).collect::<Vec<i64>>() }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/bundle", bundle.id)))
}
