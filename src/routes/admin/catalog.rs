//! The course editor, for operators: every field the course page shows, publish, unpublish or
//! schedule, and the syllabus (chapters and lessons: add, rename, reorder, free preview). Each
//! change reloads the in-memory catalog, so the public pages show it at once, and is audited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::catalog::LessonKind;
use crate::domain::course_form::{RawCourse, validate};
use crate::domain::time::{now, parse_shanghai_datetime, shanghai_datetime_value, shanghai_minutes};
use crate::domain::{ChapterId, CourseId, LessonId, ProductKind};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::course_admin::{self, CourseRow, SaveError};
use crate::store::syllabus::{self, ChapterRow, NewLesson, SyllabusItem};
use crate::store::users::User;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(new_page)
        .service(create)
        .service(edit_page)
        .service(update)
        .service(set_publication)
        .service(add_chapter)
        .service(edit_chapter)
        .service(add_lesson)
        .service(edit_lesson);
}

#[derive(Template)]
#[template(path = "admin/courses.html")]
struct ListPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(CourseRow, String)>,
}

#[get("/admin/courses")]
async fn list(Staff(ctx, _, _): Staff<area::Catalog>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let rows = course_admin::list(&state.db)
        .await?
        .into_iter()
        .map(|c| {
            let at = c.publish_at.map(shanghai_minutes).unwrap_or_default();
            (c, at)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_catalog"), ctx.shop_name()), "");
    render_with_status(&ListPage { ctx, meta, rows }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "admin/course.html")]
struct EditPage {
    ctx: PageContext,
    meta: Meta,
    /// None for a new course.
    id: Option<CourseId>,
    form: RawCourse,
    kinds: Vec<(&'static str, &'static str)>,
    categories: Vec<(i64, String)>,
    instructors: Vec<(i64, String)>,
    published: bool,
    publish_at: String,
    chapters: Vec<ChapterRow>,
    media_limit_mb: i64,
    errors: FieldErrors,
}

struct Publication {
    published: bool,
    publish_at: Option<i64>,
}

async fn edit_form(
    ctx: PageContext,
    state: &AppState,
    id: Option<CourseId>,
    form: RawCourse,
    publication: Publication,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let title = if form.title.is_empty() { ctx.t("admin_course_new").to_string() } else { form.title.clone() };
    let meta = ctx.meta(&format!("{title} - {}", ctx.shop_name()), "");
    let chapters = match id {
        Some(id) => syllabus::for_course(&state.db, id).await?,
        None => Vec::new(),
    };
    let page = EditPage {
        meta,
        id,
        kinds: ProductKind::ALL.iter().map(|k| (k.as_str(), ctx.t(k.label_key()))).collect(),
        categories: course_admin::categories(&state.db).await?,
        instructors: course_admin::instructors(&state.db).await?,
        published: publication.published,
        publish_at: publication.publish_at.map(shanghai_datetime_value).unwrap_or_default(),
        chapters,
        media_limit_mb: state.settings.media_upload_mb,
        form,
        errors,
        ctx,
    };
    render_with_status(&page, status)
}

fn field_errors(ctx: &PageContext, errors: Vec<(&'static str, &'static str)>) -> FieldErrors {
    let mut out = FieldErrors::default();
    for (field, key) in errors {
        out.add(field, ctx.t(key));
    }
    out
}

#[get("/admin/courses/new")]
async fn new_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let draft = Publication { published: false, publish_at: None };
    edit_form(ctx, &state, None, RawCourse::blank(), draft, FieldErrors::default(), StatusCode::OK).await
}

pub(crate) async fn reload(state: &AppState) -> Result<(), AppError> {
    state.catalog.reload(&state.db).await.map_err(AppError::Internal)?;
    state.announce(crate::store::changes::CATALOG).await;
    Ok(())
}

fn save_failed(ctx: &PageContext, e: SaveError) -> Result<(FieldErrors, StatusCode), AppError> {
    let mut errors = FieldErrors::default();
    match e {
        SaveError::SlugTaken => errors.add("slug", ctx.t("err_slug_taken")),
        SaveError::MissingReference => errors.add("category_id", ctx.t("err_required")),
        SaveError::Db(e) => return Err(e.into()),
    }
    Ok((errors, StatusCode::CONFLICT))
}

#[post("/admin/courses/new")]
async fn create(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RawCourse>,
) -> Result<HttpResponse, AppError> {
    let draft = || Publication { published: false, publish_at: None };
    let input = match validate(&form, now()) {
        Ok(input) => input,
        Err(errors) => {
            let errors = field_errors(&ctx, errors);
            return edit_form(ctx, &state, None, form, draft(), errors, StatusCode::BAD_REQUEST).await;
        }
    };
    let id = match course_admin::create(&state.db, &input, now()).await {
        Ok(id) => id,
        Err(e) => {
            let (errors, status) = save_failed(&ctx, e)?;
            return edit_form(ctx, &state, None, form, draft(), errors, status).await;
        }
    };
    // The draft's own pages (a bundle's courses, a group offer) read it from the catalog.
    reload(&state).await?;
    let change = Change {
        action: "course.create",
        target_type: "course",
        target_id: id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::to_value(&input).unwrap_or_default(),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/courses/{id}")))
}

async fn editable(state: &AppState, id: CourseId) -> Result<course_admin::Editable, AppError> {
    course_admin::find(&state.db, id).await?.ok_or(AppError::NotFound)
}

#[get("/admin/courses/{id}")]
async fn edit_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = editable(&state, *id).await?;
    let publication = Publication { published: course.published, publish_at: course.publish_at };
    let form = RawCourse::from_input(&course.input);
    edit_form(ctx, &state, Some(*id), form, publication, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/courses/{id}")]
async fn update(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RawCourse>,
) -> Result<HttpResponse, AppError> {
    let before = editable(&state, *id).await?;
    let publication = Publication { published: before.published, publish_at: before.publish_at };
    let input = match validate(&form, now()) {
        Ok(input) => input,
        Err(errors) => {
            let errors = field_errors(&ctx, errors);
            return edit_form(ctx, &state, Some(*id), form, publication, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    if let Err(e) = course_admin::update(&state.db, *id, &input, now()).await {
        let (errors, status) = save_failed(&ctx, e)?;
        return edit_form(ctx, &state, Some(*id), form, publication, errors, status).await;
    }
    reload(&state).await?;
    let change = Change {
        action: "course.update",
        target_type: "course",
        target_id: id.to_string(),
        before: serde_json::to_value(&before.input).unwrap_or_default(),
        after: serde_json::to_value(&input).unwrap_or_default(),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{id}")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PublicationForm {
    action: String,
    at: String,
}

#[post("/admin/courses/{id}/publication")]
async fn set_publication(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<PublicationForm>,
) -> Result<HttpResponse, AppError> {
    let course = editable(&state, *id).await?;
    let at = now();
    let wanted = match form.action.as_str() {
        "publish" => Some((true, None)),
        "unpublish" => Some((false, None)),
        "schedule" => parse_shanghai_datetime(&form.at).filter(|t| *t > at).map(|t| (false, Some(t))),
        _ => None,
    };
    let Some((published, publish_at)) = wanted else {
        let mut errors = FieldErrors::default();
        errors.add("at", ctx.t("err_schedule_time"));
        let publication = Publication { published: course.published, publish_at: course.publish_at };
        let form = RawCourse::from_input(&course.input);
        return edit_form(ctx, &state, Some(*id), form, publication, errors, StatusCode::BAD_REQUEST).await;
    };
    course_admin::set_publication(&state.db, *id, published, publish_at, at).await?;
    reload(&state).await?;
    let change = Change {
        action: "course.publication",
        target_type: "course",
        target_id: id.to_string(),
        before: serde_json::json!({ "published": course.published, "publish_at": course.publish_at }),
        after: serde_json::json!({ "published": published, "publish_at": publish_at }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect(&format!("/admin/courses/{id}")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChapterForm {
    title: String,
    /// `up`, `down`, or empty to rename.
    r#move: String,
}

fn title_of(ctx: &PageContext, value: &str, field: &'static str) -> Result<String, FieldErrors> {
    let title = value.trim().to_string();
    let mut errors = FieldErrors::default();
    match title.chars().count() {
        0 => errors.add(field, ctx.t("err_required")),
        n if n > 80 => errors.add(field, ctx.t("err_too_long")),
        _ => return Ok(title),
    }
    Err(errors)
}

/// The editor again with a syllabus form's error.
async fn syllabus_error(
    ctx: PageContext,
    state: &AppState,
    course_id: CourseId,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    editor_with_errors(ctx, state, course_id, errors, StatusCode::BAD_REQUEST).await
}

/// The saved course's editor with errors (from a form other than the course's own).
pub(crate) async fn editor_with_errors(
    ctx: PageContext,
    state: &AppState,
    course_id: CourseId,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let course = editable(state, course_id).await?;
    let publication = Publication { published: course.published, publish_at: course.publish_at };
    let form = RawCourse::from_input(&course.input);
    edit_form(ctx, state, Some(course_id), form, publication, errors, status).await
}

async fn syllabus_changed(
    state: &AppState,
    req: &HttpRequest,
    staff: &User,
    action: &str,
    course_id: CourseId,
    after: serde_json::Value,
) -> Result<HttpResponse, AppError> {
    reload(state).await?;
    let change = Change {
        action,
        target_type: "course",
        target_id: course_id.to_string(),
        before: serde_json::Value::Null,
        after,
        note: "",
    };
    audit(state, req, staff, change).await?;
    Ok(redirect(&format!("/admin/courses/{course_id}#syllabus")))
}

#[post("/admin/courses/{id}/chapters")]
async fn add_chapter(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ChapterForm>,
) -> Result<HttpResponse, AppError> {
    editable(&state, *id).await?;
    let title = match title_of(&ctx, &form.title, "chapter_title") {
        Ok(title) => title,
        Err(errors) => return syllabus_error(ctx, &state, *id, errors).await,
    };
    let chapter = syllabus::add_chapter(&state.db, *id, &title).await?;
    let after = serde_json::json!({ "chapter": chapter, "title": title });
    syllabus_changed(&state, &req, &staff, "course.chapter_add", *id, after).await
}

#[post("/admin/chapters/{id}")]
async fn edit_chapter(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<ChapterId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ChapterForm>,
) -> Result<HttpResponse, AppError> {
    let course_id = syllabus::chapter_course(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    if matches!(form.r#move.as_str(), "up" | "down") {
        syllabus::move_item(&state.db, SyllabusItem::Chapter(*id), form.r#move == "up").await?;
        let after = serde_json::json!({ "chapter": *id, "move": form.r#move });
        return syllabus_changed(&state, &req, &staff, "course.chapter_move", course_id, after).await;
    }
    let title = match title_of(&ctx, &form.title, "chapter_title") {
        Ok(title) => title,
        Err(errors) => return syllabus_error(ctx, &state, course_id, errors).await,
    };
    syllabus::rename_chapter(&state.db, *id, &title).await?;
    let after = serde_json::json!({ "chapter": *id, "title": title });
    syllabus_changed(&state, &req, &staff, "course.chapter_rename", course_id, after).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LessonForm {
    chapter_id: String,
    title: String,
    kind: String,
    minutes: String,
    free_preview: String,
    r#move: String,
}

fn lesson_of<'a>(ctx: &PageContext, form: &'a LessonForm, title: &'a str) -> Result<NewLesson<'a>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let kind = LessonKind::parse(&form.kind);
    if kind.is_none() {
        errors.add("lesson_kind", ctx.t("err_required"));
    }
    let minutes = form.minutes.trim();
    let duration_secs = if minutes.is_empty() {
        0
    } else {
        match minutes.parse::<i64>() {
            Ok(m) if (0..=1440).contains(&m) => m * 60,
            _ => {
                errors.add("lesson_minutes", ctx.t("err_number_range"));
                0
            }
        }
    };
    match kind {
        Some(kind) if errors.is_empty() => {
            Ok(NewLesson { title, kind, duration_secs, free_preview: form.free_preview == "1" })
        }
        _ => Err(errors),
    }
}

#[post("/admin/courses/{id}/lessons")]
async fn add_lesson(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<LessonForm>,
) -> Result<HttpResponse, AppError> {
    editable(&state, *id).await?;
    let chapter_id: ChapterId = form.chapter_id.parse().unwrap_or_default();
    let in_course = syllabus::chapter_course(&state.db, chapter_id).await? == Some(*id);
    let checked = title_of(&ctx, &form.title, "lesson_title").and_then(|title| {
        if in_course {
            Ok(title)
        } else {
            let mut errors = FieldErrors::default();
            errors.add("lesson_chapter", ctx.t("err_required"));
            Err(errors)
        }
    });
    let title = match checked {
        Ok(title) => title,
        Err(errors) => return syllabus_error(ctx, &state, *id, errors).await,
    };
    let lesson = match lesson_of(&ctx, &form, &title) {
        Ok(lesson) => lesson,
        Err(errors) => return syllabus_error(ctx, &state, *id, errors).await,
    };
    let lesson_id = syllabus::add_lesson(&state.db, *id, chapter_id, &lesson).await?;
    let after = serde_json::json!({ "lesson": lesson_id, "title": title, "free_preview": lesson.free_preview });
    syllabus_changed(&state, &req, &staff, "course.lesson_add", *id, after).await
}

#[post("/admin/lessons/{id}")]
async fn edit_lesson(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<LessonId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<LessonForm>,
) -> Result<HttpResponse, AppError> {
    let course_id = syllabus::lesson_course(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    if matches!(form.r#move.as_str(), "up" | "down") {
        syllabus::move_item(&state.db, SyllabusItem::Lesson(*id), form.r#move == "up").await?;
        let after = serde_json::json!({ "lesson": *id, "move": form.r#move });
        return syllabus_changed(&state, &req, &staff, "course.lesson_move", course_id, after).await;
    }
    let title = match title_of(&ctx, &form.title, "lesson_title") {
        Ok(title) => title,
        Err(errors) => return syllabus_error(ctx, &state, course_id, errors).await,
    };
    let lesson = match lesson_of(&ctx, &form, &title) {
        Ok(lesson) => lesson,
        Err(errors) => return syllabus_error(ctx, &state, course_id, errors).await,
    };
    syllabus::update_lesson(&state.db, *id, &lesson).await?;
    let after = serde_json::json!({ "lesson": *id, "title": title, "free_preview": lesson.free_preview });
    syllabus_changed(&state, &req, &staff, "course.lesson_update", course_id, after).await
}
