//! Reviews: a learner who has studied enough writes (or edits) their review of a course; anyone
//! signed in may report one. Course pages list them (`routes::courses`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::FieldErrors;
use super::orders::logged_in;
use crate::catalog::Course;
use crate::domain::UserId;
use crate::domain::numbers::Slug;
use crate::domain::refund::consumed_pct;
use crate::domain::review::{NotYet, ReviewError, check, may_review};
use crate::domain::time::now;
use crate::error::AppError;
use crate::store::reviews;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(review_page).service(save).service(report);
}

/// Whether this learner may review the course now.
pub(crate) async fn eligibility(state: &AppState, user_id: UserId, course: &Course) -> Result<Result<(), NotYet>, AppError> {
    let may_learn = state.access.may_learn(&state.db, user_id, course, now()).await?;
    let progress = state.progress.course_progress(&state.db, user_id, course.id).await?;
    let studied = consumed_pct(progress.values().filter(|p| p.completed).count(), course.lesson_count());
    Ok(may_review(may_learn, studied, state.settings.review_min_progress_pct))
}

#[derive(Template)]
#[template(path = "reviews/form.html")]
struct ReviewPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    /// Why not yet (a sentence), or empty when the form is open.
    not_yet: String,
    stars: String,
    body: String,
    status: String,
    errors: FieldErrors,
}

fn not_yet_text(ctx: &PageContext, why: NotYet) -> String {
    match why {
        NotYet::NotBought => ctx.t("review_not_bought").to_string(),
        NotYet::StudiedTooLittle { needed_pct } => ctx.tf("review_study_more", &[("n", &needed_pct.to_string())]),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    ctx: &PageContext,
    state: &AppState,
    course: &Course,
    user_id: UserId,
    entered: Option<(String, String)>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let not_yet = match eligibility(state, user_id, course).await? {
        Ok(()) => String::new(),
        Err(why) => not_yet_text(ctx, why),
    };
    let mine = reviews::mine(&state.db, course.id, user_id).await?;
    let (stars, body) = entered
        .or_else(|| mine.as_ref().map(|r| (r.stars.to_string(), r.body.clone())))
        .unwrap_or_default();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("review_title"), course.title), &course.subtitle);
    let status_word = mine.map(|r| r.status).unwrap_or_default();
    let page = ReviewPage { ctx, meta, course, not_yet, stars, body, status: status_word, errors };
    render_with_status(&page, status)
}

fn course_of(state: &AppState, slug: &Slug) -> Result<std::sync::Arc<Course>, AppError> {
    state.catalog.snapshot().course(slug).cloned().ok_or(AppError::NotFound)
}

#[get("/courses/{slug}/review")]
async fn review_page(ctx: PageContext, slug: web::Path<Slug>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, &slug)?;
    let user_id = logged_in(&ctx)?.id;
    let ctx = ctx.with_csrf()?;
    render_form(&ctx, &state, &course, user_id, None, FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReviewForm {
    stars: String,
    body: String,
}

#[post("/courses/{slug}/review")]
async fn save(
    ctx: PageContext,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, &slug)?;
    let user_id = logged_in(&ctx)?.id;
    let entered = Some((form.stars.clone(), form.body.chars().take(2000).collect::<String>()));
    if let Err(why) = eligibility(&state, user_id, &course).await? {
        let mut errors = FieldErrors::default();
        errors.add("body", not_yet_text(&ctx, why));
        return render_form(&ctx, &state, &course, user_id, entered, errors, StatusCode::FORBIDDEN).await;
    }
    let mut errors = FieldErrors::default();
    let checked = match check(&form.stars, &form.body) {
        Ok(ok) => Some(ok),
        Err(ReviewError::Stars) => {
            errors.add("stars", ctx.t("err_review_stars"));
            // The text is checked too, so every field's error shows at once.
            if let Err(text_error) = check("1", &form.body) {
                errors.add("body", review_text_error(&ctx, text_error));
            }
            None
        }
        Err(text_error) => {
            errors.add("body", review_text_error(&ctx, text_error));
            None
        }
    };
    let held = checked.as_ref().and_then(|(_, text)| super::forms::screen(&state, ctx.lang, text, "body", &mut errors));
    let Some((stars, text)) = checked.filter(|_| errors.is_empty()) else {
        return render_form(&ctx, &state, &course, user_id, entered, errors, StatusCode::BAD_REQUEST).await;
    };
    let status = if held.is_some() { "held" } else { "shown" };
    let id = reviews::save(&state.db, course.id, user_id, stars, &text, status, now()).await?;
    if held.is_some() {
        let link = format!("/courses/{}#review-{id}", course.slug);
        super::forms::record_held(&state, user_id, "review", &text, held, &link).await?;
    }
    let (count, total) = reviews::stats(&state.db, course.id).await?;
    course.rating.set(count, total);
    ctx.typed_session().set_flash(if status == "held" { "review_held" } else { "review_saved" })?;
    Ok(redirect(&format!("/courses/{}#reviews", course.slug)))
}

fn review_text_error(ctx: &PageContext, e: ReviewError) -> &'static str {
    match e {
        ReviewError::Stars => ctx.t("err_review_stars"),
        ReviewError::TextEmpty => ctx.t("err_review_empty"),
        ReviewError::TextTooLong => ctx.t("err_review_long"),
        ReviewError::TextControl => ctx.t("err_invalid_chars"),
    }
}

#[post("/reviews/{id}/report")]
async fn report(
    ctx: PageContext,
    id: web::Path<i64>,
    state: web::Data<AppState>,
    _form: CsrfForm<super::orders::NoFields>,
) -> Result<HttpResponse, AppError> {
    let user_id = logged_in(&ctx)?.id;
    let review = reviews::find(&state.db, *id).await?.filter(|r| r.status == "shown").ok_or(AppError::NotFound)?;
    let slug = state.catalog.snapshot().course_by_id(review.course_id).map(|c| c.slug.clone()).ok_or(AppError::NotFound)?;
    reviews::report(&state.db, review.id, user_id, now()).await?;
    ctx.typed_session().set_flash("review_reported")?;
    Ok(redirect(&format!("/courses/{slug}#reviews")))
}
