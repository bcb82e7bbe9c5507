//! Reviews: a learner who has studied enough writes (or edits) their review of a course; anyone
//! signed in may report one. Course pages list them (`routes::courses`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::forms::FieldErrors;
use crate::catalog::Course;
use crate::domain::moderation::{HeldKind, Visibility};
use crate::domain::numbers::Slug;
use crate::domain::refund::consumed_pct;
use crate::domain::review::{NotYet, ReviewError, check, may_review};
use crate::domain::time::now;
use crate::domain::{AttachmentId, ReviewId, UserId};
use crate::error::AppError;
use crate::store::attachments::{self, Owner};
use crate::store::reviews;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status, uploads};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(review_page).service(save).service(report).service(review_photo);
}

/// Why this learner may not review the course yet, if they may not.
pub(crate) async fn not_yet(state: &AppState, user_id: UserId, course: &Course) -> Result<Option<NotYet>, AppError> {
    let may_learn = state.access.may_learn(&state.db, user_id, course, now()).await?;
    let progress = state.progress.course_progress(&state.db, user_id, course.id).await?;
    let studied = consumed_pct(progress.values().filter(|p| p.completed).count(), course.lesson_count());
    Ok(may_review(may_learn, studied, state.settings.review_min_progress_pct).err())
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
    status: Option<Visibility>,
    max_photos: i64,
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
    let not_yet = match not_yet(state, user_id, course).await? {
        None => String::new(),
        Some(why) => not_yet_text(ctx, why),
    };
    let mine = reviews::mine(&state.db, course.id, user_id).await?;
    let (stars, body) =
        entered.or_else(|| mine.as_ref().map(|r| (r.stars.to_string(), r.body.clone()))).unwrap_or_default();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("review_title"), course.title), &course.subtitle);
    let max_photos = state.settings.review_photos;
    let page =
        ReviewPage { ctx, meta, course, not_yet, stars, body, status: mine.map(|r| r.status), max_photos, errors };
    render_with_status(&page, status)
}

fn course_of(state: &AppState, slug: &Slug) -> Result<std::sync::Arc<Course>, AppError> {
    state.catalog.snapshot().course(slug).cloned().ok_or(AppError::NotFound)
}

#[get("/courses/{slug}/review")]
async fn review_page(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, &slug)?;
    let user_id = user.id;
    let ctx = ctx.with_csrf()?;
    render_form(&ctx, &state, &course, user_id, None, FieldErrors::default(), StatusCode::OK).await
}

/// The review form's fields.
struct ReviewForm {
    stars: String,
    body: String,
}

#[post("/courses/{slug}/review")]
async fn save(
    LoggedIn(ctx, user): LoggedIn,
    req: HttpRequest,
    payload: web::Payload,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tmp = state.settings.uploads_dir().join("tmp");
    let max_photos = usize::try_from(state.settings.review_photos).unwrap_or(0);
    let user_id = user.id;
    let upload = uploads::read(&req, payload, &tmp, max_photos, &crate::domain::upload::PICTURES).await?;
    let form = ReviewForm { stars: upload.text("stars").to_string(), body: upload.text("body").to_string() };
    let course = course_of(&state, &slug)?;
    let entered = Some((form.stars.clone(), form.body.chars().take(2000).collect::<String>()));
    if let Some(why) = not_yet(&state, user_id, &course).await? {
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
    if let Some(why) = upload.rejected {
        errors.add("photos", super::refunds::file_error(ctx.lang, why, max_photos));
    }
    let photos = match photos_of(&upload.files).await {
        Ok(photos) => photos,
        Err(e) => {
            let too_large = e.downcast_ref::<crate::media::images::TooLarge>().is_some();
            errors.add("photos", ctx.t(if too_large { "err_review_photo_large" } else { "err_review_photo" }));
            Vec::new()
        }
    };
    let Some((stars, text)) = checked.filter(|_| errors.is_empty()) else {
        return render_form(&ctx, &state, &course, user_id, entered, errors, StatusCode::BAD_REQUEST).await;
    };
    let status = Visibility::of_new_post(held.is_some());
    let id = reviews::save(&state.db, course.id, user_id, stars, &text, status, now()).await?;
    if !photos.is_empty() {
        replace_photos(&state, user_id, id, &photos).await?;
    }
    if held.is_some() {
        let link = format!("/courses/{}#review-{id}", course.slug);
        super::forms::record_held(&state, user_id, HeldKind::Review, &text, held, &link).await?;
    }
    let (count, total) = reviews::stats(&state.db, course.id).await?;
    course.rating.set(count, total);
    ctx.typed_session().set_flash(if status == Visibility::Held { "review_held" } else { "review_saved" })?;
    Ok(redirect(&format!("/courses/{}#reviews", course.slug)))
}

/// The uploaded pictures re-encoded (`media::images::review_photo`); an error when one does not
/// decode as a picture.
async fn photos_of(files: &[uploads::Upload]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut photos = Vec::with_capacity(files.len());
    for file in files {
        let bytes = tokio::fs::read(&file.temp).await?;
        let _slot = crate::media::images::decode_slot().await;
        photos.push(tokio::task::spawn_blocking(move || crate::media::images::review_photo(&bytes)).await??);
    }
    Ok(photos)
}

/// New photos take the place of the review's earlier ones.
async fn replace_photos(
    state: &AppState,
    user_id: UserId,
    review_id: ReviewId,
    photos: &[Vec<u8>],
) -> Result<(), AppError> {
    let mut keys = Vec::with_capacity(photos.len());
    for bytes in photos {
        let random: [u8; 16] = rand::random();
        let key = format!("reviews/{}.jpg", hex::encode(random));
        state.uploads.put(&key, bytes).await.map_err(AppError::Internal)?;
        keys.push((key, i64::try_from(bytes.len()).unwrap_or(i64::MAX)));
    }
    let at = now();
    let mut tx = state.db.write().begin().await?;
    let old = attachments::remove_all(&mut tx, Owner::Review(review_id)).await?;
    for (n, (key, size)) in keys.iter().enumerate() {
        let name = format!("photo-{}.jpg", n + 1);
        let new = attachments::NewAttachment {
            user_id,
            storage_key: key,
            content_type: "image/jpeg",
            size_bytes: *size,
            file_name: &name,
        };
        attachments::add(&mut tx, Owner::Review(review_id), &new, at).await?;
    }
    tx.commit().await?;
    for key in old {
        if let Err(e) = state.uploads.delete(&key).await {
            tracing::warn!(key, error = format!("{e:#}"), "replaced review photo not deleted");
        }
    }
    Ok(())
}

/// A review's photo, for anyone while the review is shown (its author and staff always).
#[get("/reviews/{id}/photos/{photo}")]
async fn review_photo(
    ctx: PageContext,
    req: HttpRequest,
    path: web::Path<(ReviewId, AttachmentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (id, photo_id) = path.into_inner();
    let review = reviews::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let viewer = ctx.user.as_ref();
    let may_see =
        review.status == Visibility::Shown || viewer.is_some_and(|u| u.id == review.user_id || u.role.is_staff());
    if !may_see {
        return Err(AppError::NotFound);
    }
    let file = attachments::find(&state.db, Owner::Review(review.id), photo_id).await?.ok_or(AppError::NotFound)?;
    crate::web::stream::object_response(&req, state.uploads.as_ref(), &file.storage_key, |b| {
        b.insert_header((header::CONTENT_TYPE, "image/jpeg"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CACHE_CONTROL, "private, max-age=300"));
    })
    .await
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
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<ReviewId>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.id;
    let review =
        reviews::find(&state.db, *id).await?.filter(|r| r.status == Visibility::Shown).ok_or(AppError::NotFound)?;
    let slug =
        state.catalog.snapshot().course_by_id(review.course_id).map(|c| c.slug.clone()).ok_or(AppError::NotFound)?;
    reviews::report(&state.db, review.id, user_id, now()).await?;
    ctx.typed_session().set_flash("review_reported")?;
    Ok(redirect(&format!("/courses/{slug}#reviews")))
}
