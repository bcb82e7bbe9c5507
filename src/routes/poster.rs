//! `/courses/{slug}/poster.png`: the course's share poster, drawn once into the public store
//! (the data directory or the bucket) and then served from there under `/files/posters/`.

use actix_web::{HttpResponse, get, web};

use crate::error::AppError;
use crate::media::poster::{PosterInput, draw_poster, font, poster_name};
use crate::web::{AppState, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(course_poster);
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
    if font().is_none() {
        return Err(AppError::NotFound);
    }
    // Only covers this shop resized (plain names under /files/) or shipped (the demo's, under
    // /static/) are read back.
    let shipped = crate::web::assets::shipped_file(&course.cover_url);
    let cover_name = match &shipped {
        Some(_) => Some(course.cover_url.clone()),
        None => course
            .cover_url
            .strip_prefix("/files/")
            .filter(|name| crate::media::storage::valid_key(name) && !name.contains('/'))
            .map(str::to_string),
    };
    let mut input = PosterInput {
        course_id: course.id,
        title: course.title.clone(),
        price: if course.price.is_free() { ctx.t("price_free").to_string() } else { course.price.to_string() },
        original_price: course.has_discount().then(|| course.original_price.to_string()),
        shop_name: ctx.shop_name().to_string(),
        url: format!("{}/courses/{}{}", state.settings.public_url, course.slug, referral(&req, &state).await?),
        cover_name,
        cover: None,
    };
    let key = format!("posters/{}", poster_name(&input));
    if state.public.stat(&key).await.map_err(AppError::storage)?.is_none() {
        if let Some(path) = shipped {
            input.cover = web::block(move || std::fs::read(path)).await.ok().and_then(Result::ok);
        } else if let Some(name) = &input.cover_name
            && let Some(len) = state.public.len(name).await.map_err(AppError::storage)?
        {
            input.cover =
                Some(state.public.read_range(name, 0, len.saturating_sub(1)).await.map_err(AppError::storage)?);
        }
        let png = web::block(move || draw_poster(&input))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .map_err(AppError::Internal)?;
        state.public.put(&key, &png).await.map_err(AppError::storage)?;
    }
    Ok(redirect(&format!("/files/{key}")))
}

/// `?ref=CODE` of an active distributor, carried into the poster's QR code; empty otherwise.
async fn referral(req: &actix_web::HttpRequest, state: &AppState) -> Result<String, AppError> {
    let found = super::distribution::referring_distributor(req, state).await?;
    Ok(found.map(|d| format!("?ref={}", d.code)).unwrap_or_default())
}
