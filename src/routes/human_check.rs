//! The slider puzzle's two pictures, drawn for the puzzle in this visitor's session (see
//! `auth::human_check`). A nonce that is not the session's current puzzle is not found.

use actix_session::Session;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};

use crate::auth::human_check;
use crate::auth::puzzle_picture::{piece_png, scene_png};
use crate::auth::session::TypedSession;
use crate::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(picture);
}

#[get("/human-check/{nonce}/{part}.png")]
async fn picture(session: Session, path: web::Path<(String, String)>) -> Result<HttpResponse, AppError> {
    let (nonce, part) = path.into_inner();
    let challenge = human_check::current(&TypedSession(&session)).filter(|c| c.nonce == nonce);
    let Some(challenge) = challenge else { return Err(AppError::NotFound) };
    let png = match part.as_str() {
        "scene" => scene_png(&challenge)?,
        "piece" => piece_png(&challenge)?,
        _ => return Err(AppError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/png"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(png))
}
