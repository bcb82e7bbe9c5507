//! Uploads in the course editor: a cover picture (resized to the sizes the pages use) and a
//! lesson's video or audio (streamed to disk within the size limit, judged by its first bytes,
//! then packaged as encrypted HLS in the background when ffmpeg is present).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};

use super::catalog::{editor_with_errors, reload};
use super::gate::{Change, Staff, area, audit};
use crate::domain::time::now;
use crate::domain::upload::{Accept, LESSON_MEDIA, PICTURES};
use crate::domain::{CourseId, LessonId};
use crate::error::AppError;
use crate::media::images;
use crate::media::package::{ffmpeg_available, package};
use crate::routes::forms::FieldErrors;
use crate::store::{course_admin, lessons, syllabus};
use crate::web::uploads::{self, Rejected, UploadForm};
use crate::web::{AppState, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(cover).service(lesson_media);
}

/// The message and status for a refused file, if the form brought none that can be used.
pub(super) fn refused(ctx: &PageContext, form: &UploadForm, max_mb: u64) -> Option<(String, StatusCode)> {
    match (form.files.first(), form.rejected) {
        (Some(_), _) => None,
        (None, Some(Rejected::TooLarge)) => {
            Some((ctx.tf("err_file_too_large_mb", &[("n", &max_mb.to_string())]), StatusCode::PAYLOAD_TOO_LARGE))
        }
        (None, Some(Rejected::NotAllowed)) => {
            Some((ctx.t("err_file_type").to_string(), StatusCode::UNSUPPORTED_MEDIA_TYPE))
        }
        (None, _) => Some((ctx.t("err_file_missing").to_string(), StatusCode::BAD_REQUEST)),
    }
}

#[post("/admin/courses/{id}/cover")]
async fn cover(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_admin::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let form = uploads::read(&req, payload, &state.settings.uploads_dir().join("tmp"), 1, &PICTURES).await?;
    let mut errors = FieldErrors::default();
    if let Some((message, status)) = refused(&ctx, &form, PICTURES.max_bytes >> 20) {
        errors.add("cover", message);
        return editor_with_errors(ctx, &state, *id, errors, status).await;
    }
    let Some(file) = form.files.first() else { return Err(AppError::BadRequest) };
    let bytes = tokio::fs::read(&file.temp).await.map_err(|e| AppError::Internal(e.into()))?;
    let course_id = *id;
    let _slot = images::decode_slot().await;
    let saved =
        web::block(move || images::cover_sizes(course_id, &bytes)).await.map_err(|e| AppError::Internal(e.into()))?;
    let sizes = match saved {
        Ok(sizes) => sizes,
        Err(e) => {
            tracing::info!(%course_id, error = format!("{e:#}"), "cover refused");
            errors.add("cover", ctx.t("err_picture_unreadable"));
            return editor_with_errors(ctx, &state, *id, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    for (name, jpeg) in &sizes {
        state.public.put(name, jpeg).await.map_err(AppError::storage)?;
    }
    let Some((largest, _)) = sizes.first() else { return Err(AppError::Internal(anyhow::anyhow!("no cover sizes"))) };
    let url = format!("/files/{largest}");
    course_admin::set_cover(&state.db, *id, &url, now()).await?;
    reload(&state).await?;
    let change = Change {
        action: "course.cover",
        target_type: "course",
        target_id: id.to_string(),
        before: serde_json::json!({ "cover_url": course.input.cover_url }),
        after: serde_json::json!({ "cover_url": url }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/courses/{id}")))
}

#[post("/admin/lessons/{id}/media")]
async fn lesson_media(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<LessonId>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course_id = syllabus::lesson_course(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let max_mb = state.settings.media_upload_mb.unsigned_abs();
    let accept = Accept { kinds: LESSON_MEDIA, max_bytes: max_mb << 20 };
    let form = uploads::read(&req, payload, &state.settings.uploads_dir().join("tmp"), 1, &accept).await?;
    if let Some((message, status)) = refused(&ctx, &form, max_mb) {
        let mut errors = FieldErrors::default();
        errors.add("media", message);
        return editor_with_errors(ctx, &state, course_id, errors, status).await;
    }
    let Some(file) = form.files.first() else { return Err(AppError::BadRequest) };
    let random: [u8; 8] = rand::random();
    let key = format!("lessons/{id}/upload-{}.{}", hex::encode(random), file.kind.extension());
    // The lesson points at the new file only once storage holds all of it.
    let duration = crate::media::package::probe_duration(&file.temp).await;
    state.media.put_file(&key, &file.temp).await.map_err(AppError::storage)?;
    lessons::set_media_key(&state.db, *id, &key, duration).await?;
    // Audio plays as uploaded: HLS packaging is for video (renditions, and a player that seeks
    // without fetching the whole file).
    let hls = file.kind.is_video() && ffmpeg_available();
    if hls {
        // Encoding can take minutes: the page answers now; the lesson switches to HLS when done.
        let (db, store, lesson_id) = (state.db.clone(), state.media.clone(), *id);
        tokio::spawn(async move {
            match package(&db, store.as_ref(), lesson_id, None).await {
                Ok(done) => tracing::info!(%lesson_id, segments = done.segments, "lesson packaged as HLS"),
                Err(e) => {
                    tracing::warn!(%lesson_id, error = format!("{e:#}"), "HLS packaging failed; the upload plays as is")
                }
            }
        });
    }
    let change = Change {
        action: "lesson.media",
        target_type: "lesson",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "media_key": key, "bytes": file.size, "hls": hls }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/courses/{course_id}?uploaded={id}#syllabus")))
}
