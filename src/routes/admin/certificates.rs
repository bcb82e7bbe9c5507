//! Certificates in the back office: a course's design (title, where the lines and the seal sit,
//! a background and a seal picture) with a preview, the certificates issued, and revoking one.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::catalog::Course;
use crate::domain::certificate::{Design, check_layout};
use crate::domain::time::{now, shanghai_date, shanghai_date_words};
use crate::domain::upload::PICTURES;
use crate::domain::{CertificateId, CourseId};
use crate::error::AppError;
use crate::media::certificate::{CertificateInput, draw_certificate};
use crate::media::images;
use crate::routes::forms::FieldErrors;
use crate::store::certificates::{self, Certificate};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status, uploads};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(design_page).service(save_design).service(preview).service(upload_picture).service(revoke);
}

fn course_of(state: &AppState, id: CourseId) -> Result<Arc<Course>, AppError> {
    super::course_by_id(state, id).filter(|c| c.lesson_count() > 0).ok_or(AppError::NotFound)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LayoutForm {
    title: String,
    name_top: String,
    course_top: String,
    date_top: String,
    seal_left: String,
    seal_top: String,
    /// Back to the plain design's frame or ring.
    clear_background: String,
    clear_seal: String,
}

impl LayoutForm {
    fn of(d: &Design) -> LayoutForm {
        LayoutForm {
            title: d.title.clone(),
            name_top: d.name_top.to_string(),
            course_top: d.course_top.to_string(),
            date_top: d.date_top.to_string(),
            seal_left: d.seal_left.to_string(),
            seal_top: d.seal_top.to_string(),
            ..LayoutForm::default()
        }
    }
}

#[derive(Template)]
#[template(path = "admin/certificate.html")]
struct DesignPage {
    ctx: PageContext,
    meta: Meta,
    course: Arc<Course>,
    design: Design,
    form: LayoutForm,
    issued: Vec<Certificate>,
    errors: FieldErrors,
    /// Changes with the design, so the preview is drawn again.
    version: i64,
}

impl DesignPage {
    fn date(&self, unix: &i64) -> String {
        shanghai_date(*unix)
    }
}

async fn render_design(
    ctx: PageContext,
    state: &AppState,
    course: Arc<Course>,
    form: Option<LayoutForm>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let design = certificates::design(&state.db, course.id).await?;
    let form = form.unwrap_or_else(|| LayoutForm::of(&design));
    let issued = certificates::for_course(&state.db, course.id).await?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("cert_title"), course.title), "");
    let version = now();
    let page = DesignPage { ctx, meta, course, design, form, issued, errors, version };
    render_with_status(&page, status)
}

#[get("/admin/courses/{id}/certificate")]
async fn design_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    render_design(ctx, &state, course, None, FieldErrors::default(), StatusCode::OK).await
}

const FIELDS: [&str; 6] = ["title", "name_top", "course_top", "date_top", "seal_left", "seal_top"];

#[post("/admin/courses/{id}/certificate")]
async fn save_design(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<LayoutForm>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    let numbers = [&*form.name_top, &*form.course_top, &*form.date_top, &*form.seal_left, &*form.seal_top];
    let (title, [name_top, course_top, date_top, seal_left, seal_top]) = match check_layout(&form.title, numbers) {
        Ok(layout) => layout,
        Err((field, key)) => {
            let mut errors = FieldErrors::default();
            errors.add(FIELDS[field], ctx.t(key));
            return render_design(ctx, &state, course, Some(form), errors, StatusCode::BAD_REQUEST).await;
        }
    };
    let before = certificates::design(&state.db, course.id).await?;
    let after = Design {
        title,
        background: if form.clear_background.is_empty() { before.background.clone() } else { String::new() },
        seal: if form.clear_seal.is_empty() { before.seal.clone() } else { String::new() },
        name_top,
        course_top,
        date_top,
        seal_left,
        seal_top,
    };
    certificates::save_design(&state.db, course.id, &after, now()).await?;
    let change = Change {
        action: "certificate.design",
        target_type: "course",
        target_id: course.id.to_string(),
        before: serde_json::to_value(&before).unwrap_or_default(),
        after: serde_json::to_value(&after).unwrap_or_default(),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/certificate", course.id)))
}

/// The background or the seal, from a picture staff upload (kept as a PNG in the public store).
#[post("/admin/courses/{id}/certificate/{which}")]
async fn upload_picture(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    path: web::Path<(CourseId, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (id, which) = path.into_inner();
    let course = course_of(&state, id)?;
    if which != "background" && which != "seal" {
        return Err(AppError::NotFound);
    }
    let form = uploads::read(&req, payload, &state.settings.uploads_dir().join("tmp"), 1, &PICTURES).await?;
    let mut errors = FieldErrors::default();
    let field = if which == "background" { "background" } else { "seal" };
    let limit = PICTURES.max_bytes >> 20;
    if let Some((message, status)) = super::media::refused(&ctx, &form, limit) {
        errors.add(field, message);
        return render_design(ctx, &state, course, None, errors, status).await;
    }
    let Some(file) = form.files.first() else { return Err(AppError::BadRequest) };
    let bytes = tokio::fs::read(&file.temp).await.map_err(|e| AppError::Internal(e.into()))?;
    let _slot = images::decode_slot().await;
    let prefix = format!("certificate-{which}-{}", course.id);
    let saved =
        web::block(move || images::picture_png(&bytes, &prefix)).await.map_err(|e| AppError::Internal(e.into()))?;
    let Ok((name, png)) = saved else {
        errors.add(field, ctx.t("err_picture_unreadable"));
        return render_design(ctx, &state, course, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    state.public.put(&name, &png).await.map_err(AppError::storage)?;
    let mut design = certificates::design(&state.db, course.id).await?;
    let before = serde_json::to_value(&design).unwrap_or_default();
    if which == "background" {
        design.background = name;
    } else {
        design.seal = name;
    }
    certificates::save_design(&state.db, course.id, &design, now()).await?;
    let change = Change {
        action: "certificate.picture",
        target_type: "course",
        target_id: course.id.to_string(),
        before,
        after: serde_json::to_value(&design).unwrap_or_default(),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/certificate", course.id)))
}

/// The design with a sample name, as staff see it before anyone earns one.
#[get("/admin/courses/{id}/certificate/preview.png")]
async fn preview(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    if crate::media::poster::font().is_none() {
        return Err(AppError::NotFound);
    }
    let design = certificates::design(&state.db, course.id).await?;
    let background = super::super::certificates::stored(&state, &design.background).await?;
    let seal = super::super::certificates::stored(&state, &design.seal).await?;
    let (sample, title, shop) =
        (ctx.t("cert_sample_name").to_string(), course.title.clone(), ctx.shop_name().to_string());
    let url = ctx.absolute("/certificates/SAMPLE");
    let date = shanghai_date_words(now());
    let png = web::block(move || {
        let input = CertificateInput {
            design: &design,
            name: &sample,
            course: &title,
            date: &date,
            shop_name: &shop,
            verify_url: &url,
            code: "SAMPLE",
            background,
            seal,
        };
        draw_certificate(&input)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("certificate preview: {e}")))?
    .map_err(AppError::Internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/png"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(png))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RevokeForm {
    reason: String,
}

#[post("/admin/certificates/{id}/revoke")]
async fn revoke(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CertificateId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    let certificate = certificates::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let course = course_of(&state, certificate.course_id)?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        let mut errors = FieldErrors::default();
        errors.add("reason", ctx.t("cert_err_reason"));
        return render_design(ctx, &state, course, None, errors, StatusCode::BAD_REQUEST).await;
    }
    if !certificates::revoke(&state.db, certificate.id, reason, now()).await? {
        return Err(AppError::NotFound);
    }
    let change = Change {
        action: "certificate.revoke",
        target_type: "certificate",
        target_id: certificate.id.to_string(),
        before: serde_json::json!({ "code": certificate.code, "name": certificate.name }),
        after: serde_json::json!({ "revoked": true }),
        note: reason,
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/certificate", course.id)))
}
