//! A lesson's files (课件) for its buyers: sent only to someone who may learn the lesson now (the
//! same check as its media, scheduled unlocks included); a PDF is stamped with the buyer's masked
//! phone and the day on every page as it is sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    X_CONTENT_TYPE_OPTIONS,
};
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::domain::LessonFileId;
use crate::domain::time::{now, shanghai_date};
use crate::error::AppError;
use crate::media::pdf_stamp::stamp_pdf;
use crate::store::lesson_files;
use crate::web::{AppState, LoggedIn};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(download);
}

#[get("/lesson-files/{id}")]
async fn download(
    LoggedIn(_ctx, user): LoggedIn,
    req: HttpRequest,
    id: web::Path<LessonFileId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let file = lesson_files::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let (course, lesson) = {
        let catalog = state.catalog.snapshot();
        let (course, lesson) = catalog.lesson(file.lesson_id).ok_or(AppError::NotFound)?;
        (course.clone(), lesson.clone())
    };
    if !super::learn::can_learn(&state, Some(user.id), &course, &lesson).await? {
        return Err(AppError::Forbidden);
    }
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: file.file_name.clone().into_bytes(),
        })],
    };
    if file.content_type != "application/pdf" {
        return crate::web::stream::object_response(&req, &*state.media, &file.storage_key, |b| {
            b.insert_header((CONTENT_TYPE, file.content_type.as_str()))
                .insert_header(disposition.clone())
                .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .insert_header((CACHE_CONTROL, "private, no-store"));
        })
        .await;
    }
    let len = state.media.len(&file.storage_key).await.map_err(AppError::storage)?.ok_or(AppError::NotFound)?;
    let bytes = state.media.read_range(&file.storage_key, 0, len.saturating_sub(1)).await.map_err(AppError::storage)?;
    // A WeChat-only account has no number to show: its account number instead.
    let who = if user.phone.is_number() { user.phone.masked() } else { format!("ID {}", user.id) };
    let line = format!("{who}  {}  {}", shanghai_date(now()), state.settings.public_url);
    let stamped = web::block(move || stamp_pdf(&bytes, &line))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("pdf stamp: {e}")))?
        .map_err(AppError::Internal)?;
    Ok(HttpResponse::build(StatusCode::OK)
        .insert_header((CONTENT_TYPE, "application/pdf"))
        .insert_header(disposition)
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .body(stamped))
}
