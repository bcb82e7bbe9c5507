//! gzip for pages, done in place. actix's `Compress` hands every body over 1 KB to the blocking
//! thread pool with an encoder of its own (about 300 KB each): at 1,000 connections that was
//! 660 MB of memory and second-long waits. A page is a few KB and compresses in well under a
//! millisecond at the fast level, so it is done right here, once, with a complete body (sent
//! with its length, never chunked). Streams (media, files) pass untouched.

use std::io::Write;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, VARY};
use actix_web::middleware::Next;
use actix_web::web::Bytes;

/// `Accept-Encoding` lists gzip, and not with `q=0`.
pub fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        parts.next() == Some("gzip")
            && !parts
                .any(|p| p.replace(' ', "").starts_with("q=0") && !p.contains(|c: char| c.is_ascii_digit() && c != '0'))
    })
}

/// Smaller bodies are not worth it; larger ones are exports, sent as they are.
const MIN_BYTES: usize = 512;
const MAX_BYTES: usize = 1 << 20;

pub async fn gzip_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let wanted = req.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(accepts_gzip);
    let res = next.call(req).await?;
    if !wanted
        || res.headers().contains_key(CONTENT_ENCODING)
        || matches!(res.status(), StatusCode::PARTIAL_CONTENT | StatusCode::NO_CONTENT)
        || !compressible(res.headers().get(CONTENT_TYPE))
    {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let body = match body.try_into_bytes() {
        Ok(bytes) if (MIN_BYTES..=MAX_BYTES).contains(&bytes.len()) => match gzip(&bytes) {
            Some(zipped) => {
                let headers = res.headers_mut();
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
                BoxBody::new(zipped)
            }
            None => BoxBody::new(bytes),
        },
        Ok(bytes) => BoxBody::new(bytes),
        Err(stream) => stream.boxed(),
    };
    Ok(ServiceResponse::new(req, res.set_body(body)))
}

fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(t) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let t = t.split(';').next().unwrap_or_default().trim();
    t.starts_with("text/")
        || matches!(t, "application/json" | "application/manifest+json" | "application/javascript" | "image/svg+xml")
}

pub fn gzip(bytes: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::fast());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_are_compressed_media_is_not() {
        let t = |s: &'static str| compressible(Some(&HeaderValue::from_static(s)));
        assert!(t("text/html; charset=utf-8") && t("text/csv") && t("application/manifest+json") && t("image/svg+xml"));
        assert!(!t("video/mp4") && !t("audio/mp4") && !t("image/png") && !t("application/octet-stream"));
        assert!(!compressible(None));
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip;q=0.000"));
        assert!(accepts_gzip("gzip;q=0.5"));
        assert!(!accepts_gzip("x-gzip"));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let page = "<p>课店</p>".repeat(200);
        let zipped = gzip(page.as_bytes()).unwrap();
        let mut back = String::new();
        flate2::read::GzDecoder::new(&zipped[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, page);
        assert!(zipped.len() < page.len() / 4);
    }
}
