//! Homework (作业): a lesson's assignment, the learner's submission (text and files), revised
//! until staff review it, and the review. A submission is only ever shown to its author and
//! staff; anyone else gets the shop's 404.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::forms::FieldErrors;
use crate::catalog::{Course, Lesson};
use crate::domain::numbers::Slug;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AttachmentId, LessonId, SubmissionId, UserId};
use crate::error::AppError;
use crate::store::attachments::{self, Attachment, Owner};
use crate::store::homework::{self, Submission};
use crate::web::{AppState, LoggedIn, Meta, PageContext, redirect, render_with_status, uploads};

/// Files a submission may carry.
pub const MAX_FILES: usize = 3;
pub const MAX_TEXT_CHARS: usize = 5000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(homework_page).service(submit).service(file);
}

#[derive(Template)]
#[template(path = "homework/page.html")]
struct HomeworkPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    lesson: &'a Lesson,
    assignment: String,
    submission: Option<Submission>,
    files: Vec<Attachment>,
    body: String,
    max_files: usize,
    errors: FieldErrors,
}

impl HomeworkPage<'_> {
    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    /// Not yet reviewed: the form is open.
    fn open(&self) -> bool {
        self.submission.as_ref().is_none_or(|s| !s.is_reviewed())
    }
}

/// The lesson, its course and assignment, for a learner who may learn it.
async fn assignment_for(
    state: &AppState,
    slug: &Slug,
    lesson_id: LessonId,
    user_id: UserId,
) -> Result<(std::sync::Arc<Course>, Lesson, String), AppError> {
    let catalog = state.catalog.snapshot();
    let (course, lesson) = catalog.lesson(lesson_id).ok_or(AppError::NotFound)?;
    if course.slug != slug.as_str() || !super::learn::can_learn(state, Some(user_id), course, lesson).await? {
        return Err(AppError::NotFound);
    }
    let assignment =
        state.lessons.content(&state.db, lesson_id).await?.and_then(|c| c.assignment).ok_or(AppError::NotFound)?;
    Ok((course.clone(), lesson.clone(), assignment))
}

#[allow(clippy::too_many_arguments)]
async fn render_page(
    ctx: &PageContext,
    state: &AppState,
    course: &Course,
    lesson: &Lesson,
    assignment: String,
    user_id: UserId,
    entered: Option<String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let submission = homework::mine(&state.db, lesson.id, user_id).await?;
    let files = match &submission {
        Some(s) => attachments::list(&state.db, Owner::Homework(s.id)).await?,
        None => Vec::new(),
    };
    let body = entered.or_else(|| submission.as_ref().map(|s| s.body.clone())).unwrap_or_default();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("homework_title"), lesson.title), &course.title);
    let page =
        HomeworkPage { ctx, meta, course, lesson, assignment, submission, files, body, max_files: MAX_FILES, errors };
    render_with_status(&page, status)
}

#[get("/courses/{slug}/lessons/{id}/homework")]
async fn homework_page(
    LoggedIn(ctx, user): LoggedIn,
    path: web::Path<(Slug, LessonId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (slug, lesson_id) = path.into_inner();
    let user_id = user.id;
    let (course, lesson, assignment) = assignment_for(&state, &slug, lesson_id, user_id).await?;
    let ctx = ctx.with_csrf()?;
    render_page(&ctx, &state, &course, &lesson, assignment, user_id, None, FieldErrors::default(), StatusCode::OK).await
}

#[post("/courses/{slug}/lessons/{id}/homework")]
async fn submit(
    LoggedIn(ctx, user): LoggedIn,
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<(Slug, LessonId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tmp = state.settings.uploads_dir().join("tmp");
    let user_id = user.id;
    let upload = uploads::read(&req, payload, &tmp, MAX_FILES, &crate::domain::upload::EVIDENCE).await?;
    let (slug, lesson_id) = path.into_inner();
    let (course, lesson, assignment) = assignment_for(&state, &slug, lesson_id, user_id).await?;
    let body = upload.text("body").trim().to_string();
    let mut errors = FieldErrors::default();
    if body.is_empty() && upload.files.is_empty() {
        errors.add("body", ctx.t("err_homework_empty"));
    } else if body.chars().count() > MAX_TEXT_CHARS {
        errors.add("body", ctx.t("err_homework_long"));
    } else if body.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        errors.add("body", ctx.t("err_invalid_chars"));
    }
    if let Some(why) = upload.rejected {
        errors.add("files", super::refunds::file_error(ctx.lang, why, MAX_FILES));
    }
    if !errors.is_empty() {
        let entered = Some(body.chars().take(MAX_TEXT_CHARS).collect());
        return render_page(
            &ctx,
            &state,
            &course,
            &lesson,
            assignment,
            user_id,
            entered,
            errors,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let cohort = state.access.cohort_of(&state.db, user_id, &course).await?.map(|c| c.id);
    let Some(id) = homework::submit(&state.db, (lesson.id, cohort), user_id, &body, now()).await? else {
        errors.add("body", ctx.t("homework_locked"));
        return render_page(
            &ctx,
            &state,
            &course,
            &lesson,
            assignment,
            user_id,
            Some(body),
            errors,
            StatusCode::CONFLICT,
        )
        .await;
    };
    if !upload.files.is_empty() {
        // New files take the place of the ones sent before.
        let kept = uploads::keep(state.uploads.as_ref(), "homework", &upload.files).await?;
        let mut tx = state.db.write().begin().await?;
        let old = attachments::remove_all(&mut tx, Owner::Homework(id)).await?;
        for k in &kept {
            attachments::add(&mut tx, Owner::Homework(id), &k.as_new(user_id), now()).await?;
        }
        tx.commit().await?;
        for key in old {
            if let Err(e) = state.uploads.delete(&key).await {
                tracing::warn!(key, error = format!("{e:#}"), "replaced homework file not deleted");
            }
        }
    }
    ctx.typed_session().set_flash("homework_saved")?;
    Ok(redirect(&format!("/courses/{}/lessons/{}/homework", course.slug, lesson.id)))
}

/// A submission's file: to its author and to staff only.
#[get("/homework/{id}/files/{file}")]
async fn file(
    LoggedIn(_, viewer): LoggedIn,
    req: HttpRequest,
    path: web::Path<(SubmissionId, AttachmentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (id, file_id) = path.into_inner();
    let submission = homework::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if submission.user_id != viewer.id && !viewer.role.is_staff() {
        return Err(AppError::NotFound);
    }
    let found =
        attachments::find(&state.db, Owner::Homework(submission.id), file_id).await?.ok_or(AppError::NotFound)?;
    uploads::download(&req, state.uploads.as_ref(), &found).await
}
