//! A stored object as an HTTP response: Range, HEAD, If-Range, ETag and Last-Modified, with the
//! body streamed from storage a bounded chunk at a time (memory does not grow with the file size
//! or the number of viewers, and a client that goes away drops the stream and its file).

use std::time::UNIX_EPOCH;

use actix_web::body::SizedStream;
use actix_web::http::header::{
    CONTENT_RANGE, ETAG, EntityTag, Header, HttpDate, IF_RANGE, IfRange, LAST_MODIFIED, RANGE,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::StreamExt;

use crate::domain::range::{self, RangeAnswer};
use crate::error::AppError;
use crate::media::storage::{MediaStore, ObjectMeta};

/// Answers GET or HEAD for `key`; `decorate` adds the caller's headers (type, caching, disposition).
pub async fn object_response(
    req: &HttpRequest,
    store: &dyn MediaStore,
    key: &str,
    decorate: impl Fn(&mut HttpResponseBuilder),
) -> Result<HttpResponse, AppError> {
    object_response_holding(req, store, key, decorate, ()).await
}

/// `object_response`, keeping `hold` alive until the body has been sent or the client has gone
/// (a stream slot, say).
pub async fn object_response_holding<H: Send + 'static>(
    req: &HttpRequest,
    store: &dyn MediaStore,
    key: &str,
    decorate: impl Fn(&mut HttpResponseBuilder),
    hold: H,
) -> Result<HttpResponse, AppError> {
    let meta = store.stat(key).await.map_err(AppError::storage)?.ok_or(AppError::NotFound)?;
    let etag = entity_tag(&meta);
    let last_modified = meta.modified.map(HttpDate::from);
    let builder = |status: StatusCode| {
        let mut b = HttpResponse::build(status);
        decorate(&mut b);
        b.insert_header((ETAG, etag.to_string()));
        if let Some(date) = last_modified {
            b.insert_header((LAST_MODIFIED, date.to_string()));
        }
        b
    };
    // A Range whose If-Range no longer matches asks for the whole, current file.
    let range_header =
        req.headers().get(RANGE).and_then(|v| v.to_str().ok()).filter(|_| if_range_holds(req, &etag, last_modified));
    let head = req.method() == Method::HEAD;
    let len = meta.len;
    let (mut response, start, end) = match range::answer(range_header, len) {
        RangeAnswer::Unsatisfiable => {
            let mut response = builder(StatusCode::RANGE_NOT_SATISFIABLE);
            response.insert_header((CONTENT_RANGE, format!("bytes */{len}")));
            return Ok(response.finish());
        }
        RangeAnswer::Full => (builder(StatusCode::OK), 0, len.saturating_sub(1)),
        RangeAnswer::Partial { start, end } => {
            let mut response = builder(StatusCode::PARTIAL_CONTENT);
            response.insert_header((CONTENT_RANGE, format!("bytes {start}-{end}/{len}")));
            (response, start, end)
        }
    };
    let size = if len == 0 { 0 } else { end - start + 1 };
    if head || size == 0 {
        // A body of known size that is never read: actix sends only the headers for HEAD.
        return Ok(response.body(SizedStream::new(size, futures_util::stream::empty::<Result<_, actix_web::Error>>())));
    }
    // Let go of `hold` as the last bytes leave, not when actix drops the body later: a client
    // that got the whole range can start its next stream at once.
    let (mut hold, mut left) = (Some(hold), size);
    let stream = store.stream_range(key, start, end).await.map_err(AppError::storage)?.map(move |chunk| {
        match &chunk {
            Ok(bytes) => left = left.saturating_sub(bytes.len() as u64),
            Err(_) => left = 0,
        }
        if left == 0 {
            hold.take();
        }
        chunk
    });
    Ok(response.body(SizedStream::new(size, stream)))
}

/// A strong validator from the size and modification time: a replaced file gets a new tag.
fn entity_tag(meta: &ObjectMeta) -> EntityTag {
    let nanos = meta.modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    EntityTag::new_strong(format!("{:x}-{:x}", meta.len, nanos))
}

/// No If-Range, or one naming the current version (by strong tag or exact date).
fn if_range_holds(req: &HttpRequest, etag: &EntityTag, last_modified: Option<HttpDate>) -> bool {
    if !req.headers().contains_key(IF_RANGE) {
        return true;
    }
    match IfRange::parse(req) {
        Ok(IfRange::EntityTag(tag)) => tag.strong_eq(etag),
        Ok(IfRange::Date(date)) => last_modified.is_some_and(|lm| lm == date),
        Err(_) => false,
    }
}
