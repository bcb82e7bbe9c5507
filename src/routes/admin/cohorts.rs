//! Cohorts (营期) in the back office: a course's cohorts with their learners, completion and
//! check-in rate; a new cohort; one cohort's learners, moving one to another cohort, and a message
//! to all of them.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::catalog::reload;
use super::gate::{Change, Staff, area, audit};
use crate::catalog::Course;
use crate::domain::cohort::Cohort;
use crate::domain::product::Delivery;
use crate::domain::time::{
    now, parse_shanghai_datetime, shanghai_date, shanghai_datetime_value, shanghai_day_start, shanghai_minutes,
};
use crate::domain::{CohortId, CourseId, LessonId, Phone, ProductKind, UserId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::cohorts::{self, Learner, NewCohort};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(cohort_page)
        .service(edit)
        .service(move_learner)
        .service(message_cohort)
        .service(set_live)
        .service(delete_cohort);
}

/// The longest cohort name and staff message.
const MAX_NAME_CHARS: usize = 40;
const MAX_MESSAGE_CHARS: usize = 500;

/// A course that can run in cohorts: one of lessons, not a column (whose issues keep coming).
fn course_of(state: &AppState, id: CourseId) -> Result<Arc<Course>, AppError> {
    super::course_by_id(state, id)
        .filter(|c| c.kind.delivery() == Delivery::Lessons && c.kind != ProductKind::Column)
        .ok_or(AppError::NotFound)
}

/// A cohort with its course.
pub(super) fn cohort_of(state: &AppState, id: CohortId) -> Result<(Arc<Course>, Cohort), AppError> {
    let catalog = state.catalog.snapshot();
    catalog
        .all_courses()
        .into_iter()
        .find_map(|course| course.cohorts.iter().find(|c| c.id == id).map(|c| (course.clone(), c.clone())))
        .ok_or(AppError::NotFound)
}

/// A cohort in the list: its learners, their average completion (percent) and check-in rate.
struct Row {
    cohort: Cohort,
    learners: usize,
    completion: i64,
    check_in_rate: i64,
}

#[derive(Template)]
#[template(path = "admin/cohorts.html")]
struct CohortsPage {
    ctx: PageContext,
    meta: Meta,
    course: Arc<Course>,
    rows: Vec<Row>,
    form: CohortForm,
    errors: FieldErrors,
}

impl CohortsPage {
    fn date(&self, unix: &i64) -> String {
        shanghai_date(*unix)
    }

    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CohortForm {
    name: String,
    /// The first day, YYYY-MM-DD (Beijing).
    starts_on: String,
    capacity: String,
    sale_starts_at: String,
    sale_ends_at: String,
}

/// (percent of lessons finished on average, percent of cohort days with a check-in on average).
fn rates(course: &Course, cohort: &Cohort, learners: &[Learner], at: i64) -> (i64, i64) {
    let n = i64::try_from(learners.len()).unwrap_or(i64::MAX).max(1);
    let lessons = i64::try_from(course.lesson_count()).unwrap_or(i64::MAX).max(1);
    let completed: i64 = learners.iter().map(|l| l.completed).sum();
    let days = cohort.day_of(at).unwrap_or(0).max(1);
    let check_ins: i64 = learners.iter().map(|l| l.check_ins.min(days)).sum();
    (completed * 100 / (lessons * n), check_ins * 100 / (days * n))
}

async fn render_list(
    ctx: PageContext,
    state: &AppState,
    course: Arc<Course>,
    form: CohortForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let at = now();
    let mut rows = Vec::new();
    for cohort in &course.cohorts {
        let learners = cohorts::learners(&state.db, cohort).await?;
        let (completion, check_in_rate) = rates(&course, cohort, &learners, at);
        rows.push(Row { cohort: cohort.clone(), learners: learners.len(), completion, check_in_rate });
    }
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_cohorts"), course.title), "");
    render_with_status(&CohortsPage { ctx, meta, course, rows, form, errors }, status)
}

#[get("/admin/courses/{id}/cohorts")]
async fn list(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    render_list(ctx, &state, course, CohortForm::default(), FieldErrors::default(), StatusCode::OK).await
}

/// The form as a cohort, or each field's error.
fn checked<'a>(ctx: &PageContext, form: &'a CohortForm) -> Result<NewCohort<'a>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || crate::domain::text::has_forbidden_control(name) {
        errors.add("name", ctx.t("err_cohort_name"));
    }
    let starts_at = shanghai_day_start(&form.starts_on);
    if starts_at.is_none() {
        errors.add("starts_on", ctx.t("err_cohort_date"));
    }
    let capacity = form.capacity.trim().parse::<i64>().ok().filter(|n| (1..=100_000).contains(n));
    if capacity.is_none() {
        errors.add("capacity", ctx.t("err_cohort_capacity"));
    }
    let sale_starts = parse_shanghai_datetime(&form.sale_starts_at);
    if sale_starts.is_none() {
        errors.add("sale_starts_at", ctx.t("err_schedule_time"));
    }
    let sale_ends = parse_shanghai_datetime(&form.sale_ends_at);
    match (sale_starts, sale_ends) {
        (_, None) => errors.add("sale_ends_at", ctx.t("err_schedule_time")),
        (Some(from), Some(to)) if to < from => errors.add("sale_ends_at", ctx.t("err_cohort_window")),
        _ => {}
    }
    match (starts_at, capacity, sale_starts, sale_ends, errors.is_empty()) {
        (Some(starts_at), Some(capacity), Some(sale_starts_at), Some(sale_ends_at), true) => {
            Ok(NewCohort { name, starts_at, capacity, sale_starts_at, sale_ends_at })
        }
        _ => Err(errors),
    }
}

#[post("/admin/courses/{id}/cohorts")]
async fn create(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CohortForm>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    let new = match checked(&ctx, &form) {
        Ok(new) => new,
        Err(errors) => return render_list(ctx, &state, course, form, errors, StatusCode::BAD_REQUEST).await,
    };
    let cohort_id = cohorts::create(&state.db, course.id, &new, now()).await?;
    reload(&state).await?;
    let change = Change {
        action: "cohort.create",
        target_type: "cohort",
        target_id: cohort_id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "course": course.id, "name": new.name, "starts_at": new.starts_at,
            "capacity": new.capacity, "sale_starts_at": new.sale_starts_at, "sale_ends_at": new.sale_ends_at }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/cohorts", course.id)))
}

#[derive(Template)]
#[template(path = "admin/cohort.html")]
struct CohortPage {
    ctx: PageContext,
    meta: Meta,
    course: Arc<Course>,
    cohort: Cohort,
    learners: Vec<Learner>,
    message: String,
    /// The cohort as staff may change it.
    form: CohortForm,
    /// The course's live lessons, each at this cohort's time or the lesson's own.
    live: Vec<LiveRow>,
    /// Seats held in each of the course's cohorts, for the move's choices (a move may overfill
    /// one: staff decide).
    seats: HashMap<CohortId, i64>,
    errors: FieldErrors,
}

/// A live lesson on a cohort's page.
struct LiveRow {
    lesson_id: LessonId,
    title: String,
    /// The lesson's own time, in words (empty: none set).
    own_time: String,
    form: LiveForm,
    /// The mistakes of the row staff just sent, beside its fields.
    at_error: String,
    url_error: String,
}

/// What staff entered (or what is set) for a cohort's own live session.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct LiveForm {
    starts_at: String,
    live_url: String,
}

/// What staff typed, shown again beside its errors.
#[derive(Default)]
struct Entered {
    message: String,
    form: Option<CohortForm>,
    live: Option<(LessonId, LiveForm)>,
}

fn live_rows(
    course: &Course,
    cohort: &Cohort,
    entered: Option<(LessonId, LiveForm)>,
    errors: &FieldErrors,
) -> Vec<LiveRow> {
    course
        .lessons()
        .filter(|l| l.is_live())
        .map(|l| {
            let set = cohort.session(l.id).map(|s| LiveForm {
                starts_at: shanghai_datetime_value(s.starts_at),
                live_url: s.live_url.clone().unwrap_or_default(),
            });
            let (form, at_error, url_error) = match &entered {
                Some((id, typed)) if *id == l.id => {
                    (typed.clone(), errors.get("live_starts_at").to_string(), errors.get("live_url").to_string())
                }
                _ => (set.unwrap_or_default(), String::new(), String::new()),
            };
            let own_time = l.starts_at.map(shanghai_minutes).unwrap_or_default();
            LiveRow { lesson_id: l.id, title: l.title.clone(), own_time, form, at_error, url_error }
        })
        .collect()
}

impl CohortPage {
    fn masked(&self, phone: &str) -> String {
        Phone::parse(phone).map(|p| p.masked()).unwrap_or_default()
    }

    fn date(&self, unix: &i64) -> String {
        shanghai_date(*unix)
    }

    fn seats_left(&self, cohort: &Cohort) -> String {
        let left = cohort.seats_left(self.seats.get(&cohort.id).copied().unwrap_or(0));
        self.ctx.tf("cohort_seats_left", &[("n", &left.to_string()), ("of", &cohort.capacity.to_string())])
    }
}

fn form_of(cohort: &Cohort) -> CohortForm {
    CohortForm {
        name: cohort.name.clone(),
        starts_on: shanghai_date(cohort.starts_at),
        capacity: cohort.capacity.to_string(),
        sale_starts_at: shanghai_datetime_value(cohort.sale_starts_at),
        sale_ends_at: shanghai_datetime_value(cohort.sale_ends_at),
    }
}

async fn render_cohort(
    ctx: PageContext,
    state: &AppState,
    (course, cohort): (Arc<Course>, Cohort),
    entered: Entered,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let learners = cohorts::learners(&state.db, &cohort).await?;
    let meta = ctx.meta(&format!("{} - {}", cohort.name, course.title), "");
    let form = entered.form.unwrap_or_else(|| form_of(&cohort));
    let live = live_rows(&course, &cohort, entered.live, &errors);
    let seats = cohorts::taken_by_cohort(&state.db, course.id, now()).await?;
    let message = entered.message;
    let page = CohortPage { ctx, meta, course, cohort, learners, message, form, live, seats, errors };
    render_with_status(&page, status)
}

#[post("/admin/cohorts/{id}")]
async fn edit(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CohortId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CohortForm>,
) -> Result<HttpResponse, AppError> {
    let (course, cohort) = cohort_of(&state, *id)?;
    let mut changed = checked(&ctx, &form);
    let enrolled = i64::try_from(cohorts::learners(&state.db, &cohort).await?.len()).unwrap_or(i64::MAX);
    if let Ok(new) = &changed
        && new.capacity < enrolled
    {
        let mut errors = FieldErrors::default();
        errors.add("capacity", ctx.tf("err_cohort_capacity_below", &[("n", &enrolled.to_string())]));
        changed = Err(errors);
    }
    let new = match changed {
        Ok(new) => new,
        Err(errors) => {
            let entered = Entered { form: Some(form), ..Entered::default() };
            return render_cohort(ctx, &state, (course, cohort), entered, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    cohorts::update(&state.db, cohort.id, &new).await?;
    reload(&state).await?;
    state.db.access_changed();
    let change = Change {
        action: "cohort.edit",
        target_type: "cohort",
        target_id: cohort.id.to_string(),
        before: serde_json::json!({ "name": cohort.name, "starts_at": cohort.starts_at, "capacity": cohort.capacity,
            "sale_starts_at": cohort.sale_starts_at, "sale_ends_at": cohort.sale_ends_at }),
        after: serde_json::json!({ "name": new.name, "starts_at": new.starts_at, "capacity": new.capacity,
            "sale_starts_at": new.sale_starts_at, "sale_ends_at": new.sale_ends_at }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/cohorts/{}", cohort.id)))
}

#[get("/admin/cohorts/{id}")]
async fn cohort_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CohortId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let found = cohort_of(&state, *id)?;
    render_cohort(ctx, &state, found, Entered::default(), FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MoveForm {
    user: String,
    to: String,
}

#[post("/admin/cohorts/{id}/move")]
async fn move_learner(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CohortId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<HttpResponse, AppError> {
    let (course, cohort) = cohort_of(&state, *id)?;
    let user = form.user.trim().parse::<UserId>().map_err(|_| AppError::BadRequest)?;
    let to = form.to.trim().parse::<CohortId>().ok().filter(|to| course.cohorts.iter().any(|c| c.id == *to));
    let Some(to) = to.filter(|to| *to != cohort.id) else {
        let mut errors = FieldErrors::default();
        errors.add("to", ctx.t("err_cohort_move"));
        return render_cohort(ctx, &state, (course, cohort), Entered::default(), errors, StatusCode::BAD_REQUEST).await;
    };
    if !cohorts::move_learner(&state.db, user, course.id, cohort.id, to).await? {
        return Err(AppError::NotFound);
    }
    let change = Change {
        action: "cohort.move",
        target_type: "user",
        target_id: user.to_string(),
        before: serde_json::json!({ "cohort": cohort.id }),
        after: serde_json::json!({ "cohort": to }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/cohorts/{}", cohort.id)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MessageForm {
    text: String,
}

#[post("/admin/cohorts/{id}/message")]
async fn message_cohort(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CohortId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<MessageForm>,
) -> Result<HttpResponse, AppError> {
    let (course, cohort) = cohort_of(&state, *id)?;
    let text = form.text.trim();
    if text.is_empty() || text.chars().count() > MAX_MESSAGE_CHARS || crate::domain::text::has_forbidden_control(text) {
        let mut errors = FieldErrors::default();
        errors.add("text", ctx.t("err_cohort_message"));
        let entered = Entered { message: text.chars().take(MAX_MESSAGE_CHARS).collect(), ..Entered::default() };
        return render_cohort(ctx, &state, (course, cohort), entered, errors, StatusCode::BAD_REQUEST).await;
    }
    let link = format!("/courses/{}#cohorts", course.slug);
    let sent = cohorts::message(&state.db, &cohort, text, &link, now()).await?;
    let change = Change {
        action: "cohort.message",
        target_type: "cohort",
        target_id: cohort.id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "learners": sent }),
        note: text,
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_cohort_sent")?;
    Ok(redirect(&format!("/admin/cohorts/{}", cohort.id)))
}

#[post("/admin/cohorts/{id}/live/{lesson}")]
async fn set_live(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    path: web::Path<(CohortId, LessonId)>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<LiveForm>,
) -> Result<HttpResponse, AppError> {
    let (id, lesson_id) = path.into_inner();
    let (course, cohort) = cohort_of(&state, id)?;
    if !course.lessons().any(|l| l.id == lesson_id && l.is_live()) {
        return Err(AppError::NotFound);
    }
    let (at, url) = (form.starts_at.trim(), form.live_url.trim());
    let mut errors = FieldErrors::default();
    let starts_at = parse_shanghai_datetime(at);
    if starts_at.is_none() && (!at.is_empty() || !url.is_empty()) {
        errors.add("live_starts_at", ctx.t("err_schedule_time"));
    }
    if !url.is_empty() && !super::lesson::is_live_room(url) {
        errors.add("live_url", ctx.t("err_live_url"));
    }
    if !errors.is_empty() {
        let entered = Entered { live: Some((lesson_id, form)), ..Entered::default() };
        return render_cohort(ctx, &state, (course, cohort), entered, errors, StatusCode::BAD_REQUEST).await;
    }
    let room = (!url.is_empty()).then_some(url);
    match starts_at {
        Some(starts_at) => cohorts::set_session(&state.db, cohort.id, lesson_id, starts_at, room).await?,
        None => cohorts::clear_session(&state.db, cohort.id, lesson_id).await?,
    }
    reload(&state).await?;
    let before =
        cohort.session(lesson_id).map(|s| serde_json::json!({ "starts_at": s.starts_at, "live_url": s.live_url }));
    let change = Change {
        action: "cohort.live",
        target_type: "cohort",
        target_id: cohort.id.to_string(),
        before: before.unwrap_or(serde_json::Value::Null),
        after: serde_json::json!({ "lesson": lesson_id, "starts_at": starts_at, "live_url": room }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/cohorts/{}#live-{lesson_id}", cohort.id)))
}

#[post("/admin/cohorts/{id}/delete")]
async fn delete_cohort(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CohortId>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let (course, cohort) = cohort_of(&state, *id)?;
    if !cohorts::delete(&state.db, cohort.id).await? {
        let mut errors = FieldErrors::default();
        errors.add("delete", ctx.t("err_cohort_in_use"));
        return render_cohort(ctx, &state, (course, cohort), Entered::default(), errors, StatusCode::CONFLICT).await;
    }
    reload(&state).await?;
    let change = Change {
        action: "cohort.delete",
        target_type: "cohort",
        target_id: cohort.id.to_string(),
        before: serde_json::json!({ "course": course.id, "name": cohort.name, "starts_at": cohort.starts_at }),
        after: serde_json::Value::Null,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_cohort_deleted")?;
    Ok(redirect(&format!("/admin/courses/{}/cohorts", course.id)))
}
