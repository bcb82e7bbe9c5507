//! `/files/…` from the bucket, when object storage is configured: covers, the logo and posters
//! (public pictures under content-hashed names; the data directory serves them otherwise).

use actix_web::http::Method;
use actix_web::http::header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;
use crate::web::AppState;

fn content_type(key: &str) -> Option<&'static str> {
    match key.rsplit('.').next()? {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

pub async fn from_store(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Err(AppError::NotFound);
    }
    let key = req.path().strip_prefix("/files/").ok_or(AppError::NotFound)?;
    // Only pictures, under plain keys: nothing else of the bucket is reachable from here.
    let kind = content_type(key).filter(|_| crate::media::storage::valid_key(key)).ok_or(AppError::NotFound)?;
    crate::web::stream::object_response(&req, state.public.as_ref(), key, |b| {
        b.insert_header((CONTENT_TYPE, kind)).insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"));
    })
    .await
}
