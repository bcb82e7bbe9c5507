//! Certificates (结业证书) for learners: a course's certificate page (what is still missing, the
//! name to put on it, then the certificate with its image, PDF and verify link), and the public
//! verify page its QR code opens, which shows the certificate and nothing else about its holder.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::forms::FieldErrors;
use crate::catalog::Course;
use crate::domain::certificate::{MAX_NAME_CHARS, Missing, check_name, earned};
use crate::domain::time::{now, shanghai_date, shanghai_date_words};
use crate::error::AppError;
use crate::media::certificate::{CertificateInput, draw_certificate, pdf_of};
use crate::store::certificates::{self, Certificate};
use crate::store::quizzes;
use crate::store::users::User;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The picture and the PDF first: `{code}` alone would also match `CODE.png`.
    cfg.service(image).service(pdf).service(certificate_page).service(claim).service(verify_page);
}

/// A course on sale by its slug, else one off sale (its learners keep their certificates).
fn course_by_slug(state: &AppState, slug: &str) -> Result<Arc<Course>, AppError> {
    let catalog = state.catalog.snapshot();
    let on_sale = catalog.course(slug).cloned();
    on_sale.or_else(|| catalog.all_courses().into_iter().find(|c| c.slug == slug).cloned()).ok_or(AppError::NotFound)
}

/// What the learner still lacks, or nothing.
async fn missing(state: &AppState, user: &User, course: &Course) -> Result<Option<Missing>, AppError> {
    let progress = state.progress.course_progress(&state.db, user.id, course.id).await?;
    let finished = course.lessons().filter(|l| progress.get(&l.id).is_some_and(|p| p.completed)).count();
    let exam = match course.exam() {
        Some(exam) => Some(quizzes::has_passed(&state.db, exam.id, user.id).await?),
        None => None,
    };
    Ok(earned(course.lesson_count(), finished, exam).err())
}

#[derive(Template)]
#[template(path = "certificates/mine.html")]
struct MinePage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    owner: bool,
    certificate: Option<Certificate>,
    missing: Option<Missing>,
    name: String,
    errors: FieldErrors,
    max_chars: usize,
}

impl MinePage<'_> {
    fn date(&self, unix: &i64) -> String {
        shanghai_date(*unix)
    }
}

async fn render_mine(
    ctx: &PageContext,
    state: &AppState,
    course: &Course,
    user: &User,
    name: Option<String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let owner = state.access.may_learn(&state.db, user.id, course, now()).await?;
    if !owner && !course.published {
        return Err(AppError::NotFound);
    }
    let certificate = certificates::of_learner(&state.db, user.id, course.id).await?;
    let missing = if owner && certificate.is_none() { missing(state, user, course).await? } else { None };
    let status = if !owner || (certificate.is_none() && missing.is_some()) { StatusCode::FORBIDDEN } else { status };
    let meta = ctx.meta(&format!("{} - {}", ctx.t("cert_title"), course.title), &course.title);
    let name = name.unwrap_or_else(|| user.nickname.clone());
    let page = MinePage { ctx, meta, course, owner, certificate, missing, name, errors, max_chars: MAX_NAME_CHARS };
    render_with_status(&page, status)
}

#[get("/courses/{slug}/certificate")]
async fn certificate_page(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_by_slug(&state, &slug)?;
    let ctx = ctx.with_csrf()?;
    render_mine(&ctx, &state, &course, &user, None, FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClaimForm {
    name: String,
}

#[post("/courses/{slug}/certificate")]
async fn claim(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<String>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ClaimForm>,
) -> Result<HttpResponse, AppError> {
    let course = course_by_slug(&state, &slug)?;
    let owner = state.access.may_learn(&state.db, user.id, &course, now()).await?;
    if !owner || missing(&state, &user, &course).await?.is_some() {
        let ctx = ctx.with_csrf()?;
        return render_mine(&ctx, &state, &course, &user, None, FieldErrors::default(), StatusCode::FORBIDDEN).await;
    }
    let name = match check_name(&form.name) {
        Ok(name) => name,
        Err(key) => {
            let mut errors = FieldErrors::default();
            errors.add("name", ctx.t(key));
            let ctx = ctx.with_csrf()?;
            let typed = Some(form.name.chars().take(MAX_NAME_CHARS * 2).collect());
            return render_mine(&ctx, &state, &course, &user, typed, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    certificates::issue(&state.db, user.id, course.id, &name, now()).await?;
    ctx.typed_session().set_flash("cert_issued")?;
    Ok(redirect(&format!("/courses/{}/certificate", course.slug)))
}

#[derive(Template)]
#[template(path = "certificates/verify.html")]
struct VerifyPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    certificate: &'a Certificate,
    course_title: String,
}

impl VerifyPage<'_> {
    fn date(&self, unix: &i64) -> String {
        shanghai_date(*unix)
    }
}

async fn by_code(state: &AppState, code: &str) -> Result<Certificate, AppError> {
    if code.len() != 12 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::NotFound);
    }
    certificates::by_code(&state.db, code).await?.ok_or(AppError::NotFound)
}

fn course_title(state: &AppState, certificate: &Certificate) -> String {
    state.catalog.snapshot().course_by_id(certificate.course_id).map(|c| c.title.clone()).unwrap_or_default()
}

#[get("/certificates/{code}")]
async fn verify_page(
    ctx: PageContext,
    code: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let certificate = by_code(&state, &code).await?;
    let course_title = course_title(&state, &certificate);
    let meta = ctx.meta(&format!("{} - {}", ctx.t("cert_verify_title"), course_title), "");
    render_with_status(&VerifyPage { ctx: &ctx, meta, certificate: &certificate, course_title }, StatusCode::OK)
}

/// The certificate's PNG, drawn once into the public store under a name that changes with
/// anything on it (a new design draws it again).
async fn picture(ctx: &PageContext, state: &AppState, certificate: &Certificate) -> Result<Vec<u8>, AppError> {
    if crate::media::poster::font().is_none() {
        return Err(AppError::NotFound);
    }
    let design = certificates::design(&state.db, certificate.course_id).await?;
    let course = course_title(state, certificate);
    let key_text = format!("{}|{}|{}|{:?}|{}", certificate.code, certificate.name, course, design, ctx.shop_name());
    let key =
        format!("certificates/{}-{}.png", certificate.code, hex::encode(&Sha256::digest(key_text.as_bytes())[..6]));
    if let Some(len) = state.public.len(&key).await.map_err(AppError::storage)? {
        return state.public.read_range(&key, 0, len.saturating_sub(1)).await.map_err(AppError::storage);
    }
    let background = stored(state, &design.background).await?;
    let seal = stored(state, &design.seal).await?;
    let date = shanghai_date_words(certificate.issued_at);
    let (name, code, shop) = (certificate.name.clone(), certificate.code.clone(), ctx.shop_name().to_string());
    let url = ctx.absolute(&format!("/certificates/{}", certificate.code));
    let png = web::block(move || {
        let input = CertificateInput {
            design: &design,
            name: &name,
            course: &course,
            date: &date,
            shop_name: &shop,
            verify_url: &url,
            code: &code,
            background,
            seal,
        };
        draw_certificate(&input)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("certificate image: {e}")))?
    .map_err(AppError::Internal)?;
    state.public.put(&key, &png).await.map_err(AppError::storage)?;
    Ok(png)
}

pub(crate) async fn stored(state: &AppState, name: &str) -> Result<Option<Vec<u8>>, AppError> {
    if name.is_empty() {
        return Ok(None);
    }
    match state.public.len(name).await.map_err(AppError::storage)? {
        Some(len) => {
            Ok(Some(state.public.read_range(name, 0, len.saturating_sub(1)).await.map_err(AppError::storage)?))
        }
        None => Ok(None),
    }
}

/// The picture, for anyone holding the code, while it is not revoked (the verify page shows it).
#[get("/certificates/{code}.png")]
async fn image(
    ctx: PageContext,
    code: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let certificate = by_code(&state, &code).await?;
    if certificate.revoked_at.is_some() {
        return Err(AppError::NotFound);
    }
    let png = picture(&ctx, &state, &certificate).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/png"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header((CONTENT_DISPOSITION, format!("inline; filename=\"certificate-{}.png\"", certificate.code)))
        .body(png))
}

/// The PDF, for its holder only.
#[get("/certificates/{code}.pdf")]
async fn pdf(
    LoggedIn(ctx, user): LoggedIn,
    code: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let certificate = by_code(&state, &code).await?;
    if certificate.user_id != user.id || certificate.revoked_at.is_some() {
        return Err(AppError::NotFound);
    }
    let png = picture(&ctx, &state, &certificate).await?;
    let pdf = web::block(move || pdf_of(&png))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("certificate pdf: {e}")))?
        .map_err(AppError::Internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/pdf"))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"certificate-{}.pdf\"", certificate.code)))
        .body(pdf))
}
