//! Check-in (打卡): a learner of a course with a challenge posts once a Beijing day, sees their
//! calendar and streak, and may delete their posts; the course page shows the wall.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::FieldErrors;
use crate::catalog::Course;
use crate::domain::checkin::{
    Challenge, Mark, NotNow, calendar, day_number, day_start, may_check_in, prompt_for, streak,
};
use crate::domain::cohort::Cohort;
use crate::domain::moderation::{HeldKind, Visibility};
use crate::domain::numbers::Slug;
use crate::domain::time::{now, shanghai_date, shanghai_minutes};
use crate::domain::{CheckInId, UserId};
use crate::error::AppError;
use crate::store::checkins::{self, ChallengeRow, Post};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

/// The longest post.
pub const MAX_POST_CHARS: usize = 500;
/// Posts on a cohort's wall.
const COHORT_WALL: i64 = 20;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(checkin_page).service(post_checkin).service(delete_post);
}

#[derive(Template)]
#[template(path = "checkins/page.html")]
struct CheckinPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    /// The learner's cohort (营期), whose wall the page shows.
    cohort: Option<&'a str>,
    /// Day n of the challenge today, and its prompt.
    today: Option<(i64, String)>,
    /// Why no post is taken now (a translation key), or empty.
    closed: &'static str,
    days: Vec<(String, Mark)>,
    streak: i64,
    done: usize,
    total: i64,
    mine: Vec<(Post, String)>,
    cohort_wall: Vec<(Post, String)>,
    body: String,
    errors: FieldErrors,
}

/// The course, its challenge as the learner runs it (a cohort's from its first day), and their
/// cohort.
async fn challenge_for(state: &AppState, slug: &Slug, user_id: UserId) -> Result<Run, AppError> {
    let course = state.catalog.snapshot().course(slug).cloned().ok_or(AppError::NotFound)?;
    let row = checkins::challenge(&state.db, course.id).await?.ok_or(AppError::NotFound)?;
    if !state.access.may_learn(&state.db, user_id, &course, now()).await? {
        return Err(AppError::NotFound);
    }
    let cohort = state.access.cohort_of(&state.db, user_id, &course).await?.cloned();
    let challenge = cohort.as_ref().map_or(row.challenge(), |c| c.challenge(row.days));
    Ok(Run { course, row, challenge, cohort })
}

struct Run {
    course: std::sync::Arc<Course>,
    row: ChallengeRow,
    challenge: Challenge,
    cohort: Option<Cohort>,
}

/// Why no post is taken today, as a translation key.
fn closed_key(why: NotNow) -> &'static str {
    match why {
        NotNow::NotStarted => "checkin_not_started",
        NotNow::Over => "checkin_over",
        NotNow::Already => "checkin_done_today",
    }
}

fn with_time(posts: Vec<Post>) -> Vec<(Post, String)> {
    posts
        .into_iter()
        .map(|p| {
            let at = shanghai_minutes(p.created_at);
            (p, at)
        })
        .collect()
}

async fn render_page(
    ctx: &PageContext,
    state: &AppState,
    run: &Run,
    user_id: UserId,
    (body, errors): (String, FieldErrors),
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (course, challenge) = (&run.course, run.challenge);
    let today = day_number(now());
    let done_days = checkins::days_of(&state.db, course.id, user_id).await?;
    let closed = may_check_in(&challenge, today, done_days.contains(&today)).err().map_or("", closed_key);
    let today_prompt = challenge.day_of(today).map(|n| (n, prompt_for(&run.row.prompts, n).to_string()));
    let days = calendar(&challenge, &done_days, today)
        .into_iter()
        .map(|(day, mark)| (shanghai_date(day_start(day)).chars().skip(5).collect(), mark))
        .collect();
    let mine = with_time(checkins::mine(&state.db, course.id, user_id).await?);
    let cohort_wall = match &run.cohort {
        Some(cohort) => with_time(checkins::cohort_wall(&state.db, cohort.id, COHORT_WALL).await?),
        None => Vec::new(),
    };
    let meta = ctx.meta(&format!("{} - {}", ctx.t("checkin_title"), course.title), &course.subtitle);
    let page = CheckinPage {
        ctx,
        meta,
        course,
        cohort: run.cohort.as_ref().map(|c| c.name.as_str()),
        today: today_prompt,
        closed,
        days,
        streak: streak(&done_days, today),
        done: done_days.len(),
        total: challenge.days,
        mine,
        cohort_wall,
        body,
        errors,
    };
    render_with_status(&page, status)
}

#[get("/courses/{slug}/checkin")]
async fn checkin_page(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.id;
    let run = challenge_for(&state, &slug, user_id).await?;
    let ctx = ctx.with_csrf()?;
    render_page(&ctx, &state, &run, user_id, (String::new(), FieldErrors::default()), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostForm {
    body: String,
}

#[post("/courses/{slug}/checkin")]
async fn post_checkin(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.id;
    let run = challenge_for(&state, &slug, user_id).await?;
    let course = &run.course;
    let at = now();
    let today = day_number(at);
    let body = form.body.trim().to_string();
    let mut errors = FieldErrors::default();
    if body.is_empty() {
        errors.add("body", ctx.t("err_checkin_empty"));
    } else if body.chars().count() > MAX_POST_CHARS {
        errors.add("body", ctx.t("err_checkin_long"));
    } else if body.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        errors.add("body", ctx.t("err_invalid_chars"));
    }
    let held =
        if errors.is_empty() { super::forms::screen(&state, ctx.lang, &body, "body", &mut errors) } else { None };
    let already = checkins::days_of(&state.db, course.id, user_id).await?.contains(&today);
    if errors.is_empty()
        && let Err(why) = may_check_in(&run.challenge, today, already)
    {
        errors.add("body", ctx.t(closed_key(why)));
    }
    let shown: String = body.chars().take(MAX_POST_CHARS * 2).collect();
    if !errors.is_empty() {
        return render_page(&ctx, &state, &run, user_id, (shown, errors), StatusCode::BAD_REQUEST).await;
    }
    let status = Visibility::of_new_post(held.is_some());
    let cohort = run.cohort.as_ref().map(|c| c.id);
    let Some(id) = checkins::post(&state.db, (course.id, cohort), user_id, today, &body, status, at).await? else {
        // A second post at the same moment (a double tap): the first one counts.
        errors.add("body", ctx.t("checkin_done_today"));
        return render_page(&ctx, &state, &run, user_id, (shown, errors), StatusCode::CONFLICT).await;
    };
    let flash = if held.is_some() { "checkin_held" } else { "checkin_saved" };
    if held.is_some() {
        let link = format!("/courses/{}#checkin-{id}", course.slug);
        super::forms::record_held(&state, user_id, HeldKind::CheckIn, &body, held, &link).await?;
    }
    ctx.typed_session().set_flash(flash)?;
    Ok(redirect(&format!("/courses/{}/checkin", course.slug)))
}

#[post("/checkins/{id}/delete")]
async fn delete_post(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<CheckInId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.id;
    let course_id = checkins::delete_own(&state.db, *id, user_id).await?.ok_or(AppError::NotFound)?;
    let slug = state.catalog.snapshot().course_by_id(course_id).map(|c| c.slug.clone()).ok_or(AppError::NotFound)?;
    ctx.typed_session().set_flash("checkin_deleted")?;
    Ok(redirect(&format!("/courses/{slug}/checkin")))
}

/// The course page's wall: the latest shown posts, with when.
pub async fn wall(db: &crate::store::Db, course: &Course) -> Result<Option<Vec<(Post, String)>>, AppError> {
    if !course.has_checkin {
        return Ok(None);
    }
    Ok(Some(with_time(checkins::wall(db, course.id, 10).await?)))
}
