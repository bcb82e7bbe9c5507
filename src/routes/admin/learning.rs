//! Learning together in the back office: a course's check-in challenge, the check-in posts to
//! hide or restore, and the homework queue with its reviews (作业反馈).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::catalog::Course;
use crate::domain::checkin::{day_number, day_start};
use crate::domain::cohort::Cohort;
use crate::domain::moderation::Visibility;
use crate::domain::time::{now, shanghai_date, shanghai_day_start, shanghai_minutes};
use crate::domain::{CheckInId, CohortId, CourseId, SubmissionId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::checkins::{self, ChallengeRow, Post};
use crate::store::homework::{self, Queued};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(challenge_page)
        .service(save_challenge)
        .service(posts)
        .service(decide_post)
        .service(homework_queue)
        .service(review_homework);
}

/// Homework grades staff pick from.
pub const GRADES: [&str; 4] = ["优秀", "良好", "合格", "需改进"];

#[derive(Template)]
#[template(path = "admin/checkin.html")]
struct ChallengePage {
    ctx: PageContext,
    meta: Meta,
    course: std::sync::Arc<Course>,
    form: ChallengeForm,
    errors: FieldErrors,
    saved: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct ChallengeForm {
    first_day: String,
    days: String,
    prompts: String,
    action: String,
}

fn course_of(state: &AppState, id: CourseId) -> Result<std::sync::Arc<Course>, AppError> {
    super::course_by_id(state, id).ok_or(AppError::NotFound)
}

async fn render_challenge(
    ctx: PageContext,
    state: &AppState,
    course: std::sync::Arc<Course>,
    form: ChallengeForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let saved = checkins::challenge(&state.db, course.id).await?.is_some();
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_checkin"), course.title), "");
    render_with_status(&ChallengePage { ctx, meta, course, form, errors, saved }, status)
}

#[get("/admin/courses/{id}/checkin")]
async fn challenge_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    let form = match checkins::challenge(&state.db, course.id).await? {
        Some(c) => ChallengeForm {
            first_day: shanghai_date(day_start(c.first_day)),
            days: c.days.to_string(),
            prompts: c.prompts,
            action: String::new(),
        },
        None => ChallengeForm { first_day: shanghai_date(now()), days: "21".into(), ..ChallengeForm::default() },
    };
    render_challenge(ctx, &state, course, form, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/courses/{id}/checkin")]
async fn save_challenge(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ChallengeForm>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    let at = now();
    if form.action == "remove" {
        checkins::remove_challenge(&state.db, course.id).await?;
    } else {
        let mut errors = FieldErrors::default();
        let first_day = shanghai_day_start(&form.first_day).map(day_number);
        if first_day.is_none() {
            errors.add("first_day", ctx.t("err_date"));
        }
        let days = form.days.trim().parse::<i64>().ok().filter(|d| (1..=365).contains(d));
        if days.is_none() {
            errors.add("days", ctx.t("err_checkin_days"));
        }
        let prompts = form.prompts.trim().to_string();
        if prompts.is_empty() || prompts.chars().count() > 5000 {
            errors.add("prompts", ctx.t("err_checkin_prompts"));
        }
        let (Some(first_day), Some(days), true) = (first_day, days, errors.is_empty()) else {
            return render_challenge(ctx, &state, course, form, errors, StatusCode::BAD_REQUEST).await;
        };
        checkins::save_challenge(&state.db, course.id, &ChallengeRow { first_day, days, prompts }, at).await?;
    }
    let change = Change {
        action: "checkin.challenge",
        target_type: "course",
        target_id: course.id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "action": form.action, "first_day": form.first_day, "days": form.days }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    super::catalog::reload(&state).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect(&format!("/admin/courses/{}/checkin", course.id)))
}

#[derive(Template)]
#[template(path = "admin/checkins.html")]
struct PostsPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Post, String, String)>,
}

#[get("/admin/checkins")]
async fn posts(Staff(ctx, _, _): Staff<area::Users>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let rows = checkins::for_staff(&state.db, 200)
        .await?
        .into_iter()
        .map(|(p, title)| {
            let at = shanghai_minutes(p.created_at);
            (p, title, at)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_checkins"), ctx.shop_name()), "");
    render_with_status(&PostsPage { ctx, meta, rows }, StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Decision {
    decision: String,
}

#[post("/admin/checkins/{id}")]
async fn decide_post(
    Staff(ctx, staff, _): Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<CheckInId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<Decision>,
) -> Result<HttpResponse, AppError> {
    let changed = match form.decision.as_str() {
        "hide" => checkins::set_status(&state.db, *id, Visibility::Hidden).await?,
        "restore" => checkins::set_status(&state.db, *id, Visibility::Shown).await?,
        _ => return Err(AppError::BadRequest),
    };
    if changed {
        let change = Change {
            action: "checkin.decide",
            target_type: "check_in",
            target_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({ "decision": form.decision }),
            note: "",
        };
        audit(&state, &req, &staff, change).await?;
    }
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/admin/checkins"))
}

#[derive(Template)]
#[template(path = "admin/homework.html")]
struct HomeworkPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Queued, String, Vec<crate::store::attachments::Attachment>)>,
    /// Only this cohort's homework: its name.
    cohort: Option<String>,
    grades: [&'static str; 4],
    errors: FieldErrors,
    errored: Option<SubmissionId>,
}

async fn render_queue(
    ctx: PageContext,
    state: &AppState,
    (cohort, errors): (Option<Cohort>, FieldErrors),
    errored: Option<SubmissionId>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let mut rows = Vec::new();
    for q in homework::queue(&state.db, cohort.as_ref().map(|c| c.id), 200).await? {
        let at = shanghai_minutes(q.submission.updated_at);
        let files =
            crate::store::attachments::list(&state.db, crate::store::attachments::Owner::Homework(q.submission.id))
                .await?;
        rows.push((q, at, files));
    }
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_homework"), ctx.shop_name()), "");
    let cohort = cohort.map(|c| c.name);
    render_with_status(&HomeworkPage { ctx, meta, rows, cohort, grades: GRADES, errors, errored }, status)
}

/// `?cohort=`: one cohort's homework.
#[derive(Deserialize, Default)]
#[serde(default)]
struct QueueFilter {
    cohort: String,
}

#[get("/admin/homework")]
async fn homework_queue(
    Staff(ctx, _, _): Staff<area::Catalog>,
    filter: web::Query<QueueFilter>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let cohort = match filter.cohort.trim() {
        "" => None,
        id => {
            let id = id.parse::<CohortId>().map_err(|_| AppError::NotFound)?;
            Some(super::cohorts::cohort_of(&state, id)?.1)
        }
    };
    render_queue(ctx, &state, (cohort, FieldErrors::default()), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Review {
    grade: String,
    comment: String,
}

#[post("/admin/homework/{id}")]
async fn review_homework(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<SubmissionId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<Review>,
) -> Result<HttpResponse, AppError> {
    let submission = homework::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let comment = form.comment.trim();
    let mut errors = FieldErrors::default();
    if !GRADES.contains(&form.grade.as_str()) {
        errors.add("grade", ctx.t("err_homework_grade"));
    }
    if comment.chars().count() > 2000 || comment.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        errors.add("comment", ctx.t("err_reply_text"));
    }
    if !errors.is_empty() {
        return render_queue(ctx, &state, (None, errors), Some(submission.id), StatusCode::BAD_REQUEST).await;
    }
    let link = state
        .catalog
        .snapshot()
        .lesson(submission.lesson_id)
        .map(|(course, lesson)| format!("/courses/{}/lessons/{}/homework", course.slug, lesson.id))
        .unwrap_or_default();
    if homework::review(&state.db, submission.id, &form.grade, comment, staff.id, &link, now()).await? {
        let change = Change {
            action: "homework.review",
            target_type: "homework",
            target_id: submission.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({ "grade": form.grade }),
            note: comment,
        };
        audit(&state, &req, &staff, change).await?;
    }
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/admin/homework"))
}
