//! `/courses/{slug}/poster.png`: the course's share poster (drawn once, then served from disk).

use actix_web::{HttpResponse, get, web};

use crate::error::AppError;
use crate::media::poster::{PosterInput, font, poster};
use crate::web::{AppState, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(course_poster);
}

#[get("/courses/{slug}/poster.png")]
async fn course_poster(
    ctx: PageContext,
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let catalog = state.catalog.snapshot();
    let course = catalog.course(&slug).cloned().ok_or(AppError::NotFound)?;
    if font().is_none() {
        return Err(AppError::NotFound);
    }
    let public = state.settings.public_dir();
    // Only covers this shop resized (plain file names under /files/) are read from disk.
    let cover_file = course
        .cover_url
        .strip_prefix("/files/")
        .filter(|name| !name.contains('/') && !name.contains(".."))
        .map(|name| public.join(name));
    let (title, price, original, shop, url) = (
        course.title.clone(),
        if course.price.is_free() { ctx.t("price_free").to_string() } else { course.price.to_string() },
        course.has_discount().then(|| course.original_price.to_string()),
        ctx.shop_name().to_string(),
        format!("{}/courses/{}", state.settings.public_url, course.slug),
    );
    let dir = public.join("posters");
    let course_id = course.id;
    let drawn = web::block(move || {
        let input = PosterInput {
            course_id,
            title: &title,
            price: &price,
            original_price: original.as_deref(),
            shop_name: &shop,
            url: &url,
            cover_file,
        };
        poster(&dir, &input)
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
    .map_err(AppError::Internal)?;
    let name = drawn.file_name().and_then(|n| n.to_str()).ok_or(AppError::NotFound)?;
    Ok(redirect(&format!("/files/posters/{name}")))
}
