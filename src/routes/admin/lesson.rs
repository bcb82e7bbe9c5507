//! One lesson's page in the editor: an article's text, the notes under the player, a live
//! session's link and start time, and its media (upload, HLS state).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::catalog::reload;
use super::gate::{Change, Staff, area, audit};
use crate::domain::LessonId;
use crate::domain::time::{parse_shanghai_datetime, shanghai_datetime_value};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::syllabus::{self, LessonContentInput, LessonDetail};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(save).service(upload_file).service(delete_file);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ContentForm {
    body: String,
    notes: String,
    live_url: String,
    starts_at: String,
    assignment: String,
    /// Beijing days after the learner's start (empty or 0: at once).
    unlock_day: String,
    /// Or a moment for everyone.
    unlock_at: String,
}

impl ContentForm {
    /// The lesson as stored, to edit.
    fn of(lesson: &LessonDetail) -> ContentForm {
        ContentForm {
            body: lesson.body.clone(),
            notes: lesson.notes.clone(),
            live_url: lesson.live_url.clone(),
            starts_at: lesson.starts_at.map(shanghai_datetime_value).unwrap_or_default(),
            assignment: lesson.assignment.clone(),
            unlock_day: lesson.unlock_day.map(|d| d.to_string()).unwrap_or_default(),
            unlock_at: lesson.unlock_at.map(shanghai_datetime_value).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/lesson.html")]
struct LessonPage {
    ctx: PageContext,
    meta: Meta,
    lesson: LessonDetail,
    form: ContentForm,
    media_limit_mb: i64,
    /// Files attached for its buyers (课件).
    files: Vec<crate::catalog::LessonFile>,
    errors: FieldErrors,
}

async fn render_page(
    ctx: PageContext,
    state: &AppState,
    lesson: LessonDetail,
    form: ContentForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", lesson.title, ctx.shop_name()), "");
    let media_limit_mb = state.settings.media_upload_mb;
    let files = state.catalog.snapshot().lesson(lesson.id).map(|(_, l)| l.files.clone()).unwrap_or_default();
    render_with_status(&LessonPage { ctx, meta, lesson, form, media_limit_mb, files, errors }, status)
}

async fn find(state: &AppState, id: LessonId) -> Result<LessonDetail, AppError> {
    syllabus::lesson_detail(&state.db, id).await?.ok_or(AppError::NotFound)
}

#[get("/admin/lessons/{id}")]
async fn page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<LessonId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lesson = find(&state, *id).await?;
    let form = ContentForm::of(&lesson);
    render_page(ctx, &state, lesson, form, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/lessons/{id}/content")]
async fn save(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<LessonId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ContentForm>,
) -> Result<HttpResponse, AppError> {
    let lesson = find(&state, *id).await?;
    let mut errors = FieldErrors::default();
    let (body, notes, live_url) = (form.body.trim(), form.notes.trim(), form.live_url.trim());
    if body.chars().count() > 100_000 {
        errors.add("body", ctx.tf("err_text_long", &[("n", "100000")]));
    }
    if notes.chars().count() > 5000 {
        errors.add("notes", ctx.tf("err_text_long", &[("n", "5000")]));
    }
    let assignment = form.assignment.trim();
    if assignment.chars().count() > 2000 {
        errors.add("assignment", ctx.tf("err_text_long", &[("n", "2000")]));
    }
    if !live_url.is_empty() && !is_live_room(live_url) {
        errors.add("live_url", ctx.t("err_live_url"));
    }
    let starts_at = if form.starts_at.trim().is_empty() {
        Ok(None)
    } else {
        parse_shanghai_datetime(&form.starts_at).map(Some).ok_or(())
    };
    if starts_at.is_err() {
        errors.add("starts_at", ctx.t("err_schedule_time"));
    }
    let unlock_day = crate::domain::unlock::parse_days(&form.unlock_day);
    if unlock_day.is_err() {
        errors.add("unlock_day", ctx.t("err_unlock_day"));
    }
    let unlock_at = if form.unlock_at.trim().is_empty() {
        Ok(None)
    } else {
        parse_shanghai_datetime(&form.unlock_at).map(Some).ok_or(())
    };
    match (&unlock_day, &unlock_at) {
        (_, Err(())) => errors.add("unlock_at", ctx.t("err_schedule_time")),
        (Ok(Some(_)), Ok(Some(_))) => errors.add("unlock_at", ctx.t("err_unlock_both")),
        _ => {}
    }
    let (Ok(starts_at), Ok(unlock_day), Ok(unlock_at), true) = (starts_at, unlock_day, unlock_at, errors.is_empty())
    else {
        return render_page(ctx, &state, lesson, form, errors, StatusCode::BAD_REQUEST).await;
    };
    let content = LessonContentInput {
        body: (!body.is_empty()).then_some(body),
        notes,
        live_url: (!live_url.is_empty()).then_some(live_url),
        starts_at,
        assignment: (!assignment.is_empty()).then_some(assignment),
        unlock_day,
        unlock_at,
    };
    syllabus::update_lesson_content(&state.db, *id, &content).await?;
    reload(&state).await?;
    let change = Change {
        action: "lesson.content",
        target_type: "lesson",
        target_id: id.to_string(),
        before: serde_json::json!({ "body_chars": lesson.body.chars().count(), "live_url": lesson.live_url, "starts_at": lesson.starts_at,
            "unlock_day": lesson.unlock_day, "unlock_at": lesson.unlock_at }),
        after: serde_json::json!({ "body_chars": body.chars().count(), "live_url": live_url, "starts_at": starts_at,
            "unlock_day": unlock_day, "unlock_at": unlock_at }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/lessons/{id}")))
}

/// A file for the lesson's buyers (multipart `file`).
#[post("/admin/lessons/{id}/files")]
async fn upload_file(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<LessonId>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lesson = find(&state, *id).await?;
    let tmp = state.settings.uploads_dir().join("tmp");
    let form = crate::web::uploads::read(&req, payload, &tmp, 1, &crate::domain::upload::LESSON_FILES).await?;
    let limit = crate::domain::upload::LESSON_FILES.max_bytes >> 20;
    if let Some((message, status)) = super::media::refused(&ctx, &form, limit) {
        let mut errors = FieldErrors::default();
        errors.add("lesson_file", message);
        let form = ContentForm::of(&lesson);
        return render_page(ctx, &state, lesson, form, errors, status).await;
    }
    let Some(file) = form.files.first() else { return Err(AppError::BadRequest) };
    let kept = crate::web::uploads::keep(&*state.media, "lesson-files", std::slice::from_ref(file))
        .await
        .map_err(AppError::storage)?;
    let Some(kept) = kept.first() else { return Err(AppError::BadRequest) };
    let at = crate::domain::time::now();
    let file_id = crate::store::lesson_files::add(
        &state.db,
        lesson.id,
        &kept.file_name,
        &kept.key,
        kept.content_type,
        kept.size,
        at,
    )
    .await?;
    reload(&state).await?;
    let change = Change {
        action: "lesson_file.add",
        target_type: "lesson",
        target_id: lesson.id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "file": file_id, "name": kept.file_name, "bytes": kept.size }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/lessons/{}#files", lesson.id)))
}

#[post("/admin/lesson-files/{id}/delete")]
async fn delete_file(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<crate::domain::LessonFileId>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let file = crate::store::lesson_files::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    crate::store::lesson_files::remove(&state.db, file.id).await?;
    reload(&state).await?;
    if let Err(e) = state.media.delete(&file.storage_key).await {
        tracing::warn!(
            key = file.storage_key,
            error = format!("{e:#}"),
            "removed lesson file not deleted from the store"
        );
    }
    let change = Change {
        action: "lesson_file.delete",
        target_type: "lesson",
        target_id: file.lesson_id.to_string(),
        before: serde_json::json!({ "file": file.id, "name": file.file_name }),
        after: serde_json::Value::Null,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/lessons/{}#files", file.lesson_id)))
}

/// A live room's address as staff may give it: https, at most 500 bytes, nothing hidden in it.
pub(super) fn is_live_room(url: &str) -> bool {
    url.starts_with("https://") && url.len() <= 500 && !crate::domain::text::has_forbidden_control(url)
}
