//! Pictures staff upload (course covers, the shop logo), decoded with size limits and re-encoded
//! at the sizes the pages use, under names that carry a content hash so they can be cached for
//! good. Re-encoding also drops whatever else the file carried (metadata, trailing data).

use std::io::Cursor;

use anyhow::Context;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use crate::domain::CourseId;

/// 16:9 covers: the course page (1280×720, shown at 640 wide on a 2× screen) and cards (640×360).
pub const COVER_SIZES: [(u32, u32); 2] = [(1280, 720), (640, 360)];
pub const LOGO_SIZE: u32 = 128;
const MAX_SIDE: u32 = 8000;
/// 25 megapixels: a phone's full-size photo fits; decoding one takes about 100 MB at most.
const MAX_PIXELS: u64 = 25_000_000;
/// Pictures decoded at once, shop-wide (each may take a core and 100 MB); the rest wait.
static DECODE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A picture over the pixel budget: refused from its header, before anything is decoded.
#[derive(Debug, thiserror::Error)]
#[error("the picture is larger than 25 megapixels or 8000 px a side")]
pub struct TooLarge;

/// Waits for a decode slot; hold it while decoding (`decode` itself runs on a blocking thread).
pub async fn decode_slot() -> Option<tokio::sync::SemaphorePermit<'static>> {
    DECODE_SLOTS.acquire().await.ok()
}

fn decode(bytes: &[u8]) -> anyhow::Result<DynamicImage> {
    let reader = || ImageReader::new(Cursor::new(bytes)).with_guessed_format().context("unknown picture format");
    // The header says how large the picture is before anything is allocated for it.
    let (width, height) = reader()?.into_dimensions().context("the picture does not decode")?;
    if width.max(height) > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(TooLarge.into());
    }
    let mut reader = reader()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(128 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().context("the picture does not decode")
}

fn jpeg(image: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    image.to_rgb8().write_with_encoder(JpegEncoder::new_with_quality(&mut out, 85))?;
    Ok(out)
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..6])
}

/// The cover at each page size, as (file name, JPEG), largest first. Names carry a content hash.
pub fn cover_sizes(course_id: CourseId, bytes: &[u8]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let image = decode(bytes)?;
    let hash = short_hash(bytes);
    COVER_SIZES
        .iter()
        .map(|(w, h)| {
            Ok((
                format!("cover-{course_id}-{hash}-{w}.jpg"),
                jpeg(&image.resize_to_fill(*w, *h, FilterType::Lanczos3))?,
            ))
        })
        .collect()
}

/// The longest side of a review photo as kept.
pub const REVIEW_PHOTO_SIDE: u32 = 1280;

/// A learner's photo as kept: JPEG, at most `REVIEW_PHOTO_SIDE` on its longest side, with
/// everything else the file carried (location and camera metadata) left behind.
pub fn review_photo(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let image = decode(bytes)?;
    let image = if image.width().max(image.height()) > REVIEW_PHOTO_SIDE {
        // thumbnail(): a fast box filter, far less memory than Lanczos on a large photo.
        image.thumbnail(REVIEW_PHOTO_SIDE, REVIEW_PHOTO_SIDE)
    } else {
        image
    };
    jpeg(&image)
}

/// A square PNG logo, as (file name, PNG).
pub fn logo_png(bytes: &[u8]) -> anyhow::Result<(String, Vec<u8>)> {
    let image = decode(bytes)?.resize_to_fill(LOGO_SIZE, LOGO_SIZE, FilterType::Lanczos3);
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png)?;
    Ok((format!("logo-{}.png", short_hash(bytes)), out.into_inner()))
}

/// A picture kept as a PNG (transparency kept, for a seal), no larger than a certificate, as
/// (file name, PNG).
pub fn picture_png(bytes: &[u8], prefix: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let image = decode(bytes)?;
    let image = if image.width() > 1600 || image.height() > 1600 {
        image.resize(1600, 1600, FilterType::Lanczos3)
    } else {
        image
    };
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png)?;
    Ok((format!("{prefix}-{}.png", short_hash(bytes)), out.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(w, h);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn covers_come_out_at_the_page_sizes() {
        let sizes = cover_sizes(crate::domain::CourseId(7), &png(3000, 3000)).unwrap();
        assert_eq!(sizes.len(), 2);
        for ((name, jpeg), (w, h)) in sizes.iter().zip(COVER_SIZES) {
            let saved = image::load_from_memory(jpeg).unwrap();
            assert_eq!((saved.width(), saved.height()), (w, h), "{name}");
        }
        let names: Vec<&String> = sizes.iter().map(|(n, _)| n).collect();
        assert_eq!(
            crate::domain::catalog::card_cover(&format!("/files/{}", names[0])),
            Some(format!("/files/{}", names[1]))
        );
    }

    #[test]
    fn junk_and_giants_are_refused() {
        assert!(cover_sizes(crate::domain::CourseId(1), b"\x89PNG\r\n\x1a\nnot really").is_err());
        assert!(logo_png(&png(9000, 10)).is_err(), "wider than 8000 px");
        assert!(review_photo(&png(6000, 6000)).is_err(), "36 megapixels");
        assert!(review_photo(&png(5000, 5000)).is_ok(), "25 megapixels");
        assert!(logo_png(&png(300, 200)).is_ok());
    }
}
