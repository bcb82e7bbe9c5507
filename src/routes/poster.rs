//! `/courses/{slug}/poster.png`: the course's share poster, drawn once into the public store
//! (the data directory or the bucket) and then served from there under `/files/posters/`.

use actix_web::{HttpResponse, get, web};

use crate::domain::GroupId;
use crate::error::AppError;
use crate::media::poster::{PosterInput, draw_poster, font, poster_name};
use crate::web::{AppState, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(course_poster).service(group_poster);
}

#[get("/courses/{slug}/poster.png")]
async fn course_poster(
    ctx: PageContext,
    req: actix_web::HttpRequest,
    slug: web::Path<crate::domain::numbers::Slug>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let catalog = state.catalog.snapshot();
    let course = catalog.course(&slug).cloned().ok_or(AppError::NotFound)?;
    // A distributor's link names them; a learner sharing their own poster is named too.
    let (referral, sharer) = match super::distribution::referring_distributor(&req, &state).await? {
        Some(d) => (format!("?ref={}", d.code), nickname(&state, d.user_id).await?),
        None => (String::new(), ctx.user.as_ref().map(|u| u.nickname.clone())),
    };
    let url = format!("{}/courses/{}{referral}", state.settings.public_url, course.slug);
    poster(&ctx, &state, &course, url, sharer, None).await
}

/// A group's invitation: the offer and the seats left, and a QR code of the group's page.
#[get("/groups/{id}/poster.png")]
async fn group_poster(
    ctx: PageContext,
    id: web::Path<GroupId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let group = crate::store::groups::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    if group.status == crate::domain::group::State::Pending {
        return Err(AppError::NotFound);
    }
    let course = state.catalog.snapshot().course_by_id(group.course_id).cloned().ok_or(AppError::NotFound)?;
    let left = group.group().seats_left();
    let invite = format!("{} 人拼团价 {} · 还差 {left} 人", group.size, group.price);
    let url = format!("{}/groups/{}", state.settings.public_url, group.id);
    let sharer = ctx.user.as_ref().map(|u| u.nickname.clone());
    poster(&ctx, &state, &course, url, sharer, Some(invite)).await
}

async fn nickname(state: &AppState, user_id: crate::domain::UserId) -> Result<Option<String>, AppError> {
    Ok(crate::store::users::find_by_id(&state.db, user_id).await?.map(|u| u.nickname))
}

/// Draws the poster once into the public store (the data directory or the bucket) and sends
/// the browser to it under `/files/posters/`.
async fn poster(
    ctx: &PageContext,
    state: &AppState,
    course: &crate::catalog::Course,
    url: String,
    sharer: Option<String>,
    invite: Option<String>,
) -> Result<HttpResponse, AppError> {
    let input = poster_input(ctx, course, url, sharer, invite)?;
    let key = format!("posters/{}", poster_name(&input));
    if state.public.stat(&key).await.map_err(AppError::storage)?.is_none() {
        let png = draw_with_cover(state, input).await?;
        state.public.put(&key, &png).await.map_err(AppError::storage)?;
    }
    Ok(redirect(&format!("/files/{key}")))
}

/// What a poster of `course` shows; a 404 when the shop has no font to draw it with.
pub(crate) fn poster_input(
    ctx: &PageContext,
    course: &crate::catalog::Course,
    url: String,
    sharer: Option<String>,
    invite: Option<String>,
) -> Result<PosterInput, AppError> {
    if font().is_none() {
        return Err(AppError::NotFound);
    }
    // Only covers this shop resized (plain names under /files/) or shipped (the demo's, under
    // /static/) are read back.
    let cover_name = match crate::web::assets::shipped_file(&course.cover_url) {
        Some(_) => Some(course.cover_url.clone()),
        None => course
            .cover_url
            .strip_prefix("/files/")
            .filter(|name| crate::media::storage::valid_key(name) && !name.contains('/'))
            .map(str::to_string),
    };
    Ok(PosterInput {
        course_id: course.id,
        title: course.title.clone(),
        subtitle: course.subtitle.clone(),
        sharer: sharer.map(|name| name.chars().take(12).collect()),
        invite,
        price: if course.price.is_free() { ctx.t("price_free").to_string() } else { course.price.to_string() },
        original_price: course.has_discount().then(|| course.original_price.to_string()),
        shop_name: ctx.shop_name().to_string(),
        url,
        cover_name,
        cover: None,
    })
}

/// Reads the cover `input` names and draws the poster.
pub(crate) async fn draw_with_cover(state: &AppState, mut input: PosterInput) -> Result<Vec<u8>, AppError> {
    if let Some(name) = &input.cover_name {
        if let Some(path) = crate::web::assets::shipped_file(name) {
            input.cover = web::block(move || std::fs::read(path)).await.ok().and_then(Result::ok);
        } else if let Some(len) = state.public.len(name).await.map_err(AppError::storage)? {
            input.cover =
                Some(state.public.read_range(name, 0, len.saturating_sub(1)).await.map_err(AppError::storage)?);
        }
    }
    web::block(move || draw_poster(&input)).await.map_err(|e| AppError::Internal(e.into()))?.map_err(AppError::Internal)
}
