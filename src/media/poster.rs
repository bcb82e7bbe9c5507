//! Share posters: a PNG with the course's cover, title and price and a QR code of its URL, drawn
//! on the server (image for pixels, ab_glyph for the CJK text from Debian's fonts-noto-cjk,
//! qrcode for the code) and kept on disk under a name that changes when any of them does.

use std::sync::OnceLock;

use ab_glyph::{Font, FontArc, PxScale, ScaleFont};
use anyhow::Context;
use image::imageops::FilterType;
use image::{ImageFormat, Rgba, RgbaImage};
use sha2::{Digest, Sha256};

use crate::domain::CourseId;

const WIDTH: u32 = 750;
const HEIGHT: u32 = 1180;
const COVER_HEIGHT: u32 = 422;
const TEAL: Rgba<u8> = Rgba([15, 118, 110, 255]);
const INK: Rgba<u8> = Rgba([31, 35, 40, 255]);
const MUTED: Rgba<u8> = Rgba([95, 107, 118, 255]);
const RED: Rgba<u8> = Rgba([229, 53, 43, 255]);

const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
];

/// The CJK font, if the machine has one (fonts-noto-cjk); without it there are no posters.
pub fn font() -> Option<&'static FontArc> {
    static FONT: OnceLock<Option<FontArc>> = OnceLock::new();
    FONT.get_or_init(|| {
        FONT_PATHS.iter().find_map(|path| {
            let bytes = std::fs::read(path).ok()?;
            ab_glyph::FontVec::try_from_vec_and_index(bytes, 0).ok().map(FontArc::new)
        })
    })
    .as_ref()
}

pub struct PosterInput {
    pub course_id: CourseId,
    pub title: String,
    /// The course's one-line pitch, under the title.
    pub subtitle: String,
    /// Who shares it, by the name they chose (their nickname): "小王 推荐你学".
    pub sharer: Option<String>,
    /// For a group-buy invitation: the offer line ("3 人拼团价 ¥99 · 还差 1 人").
    pub invite: Option<String>,
    pub price: String,
    pub original_price: Option<String>,
    pub shop_name: String,
    pub url: String,
    /// The name of the uploaded cover, when there is one (others get a coloured band).
    pub cover_name: Option<String>,
    /// Its bytes, read only when the poster must be drawn.
    pub cover: Option<Vec<u8>>,
}

/// The poster's name: it changes with anything drawn on it, so a stored one is always current.
pub fn poster_name(input: &PosterInput) -> String {
    let key = format!(
        "{}|{}|{}|{:?}|{}|{}|{:?}|{}|{:?}|{:?}",
        input.course_id,
        input.title,
        input.price,
        input.original_price,
        input.shop_name,
        input.url,
        input.cover_name,
        input.subtitle,
        input.sharer,
        input.invite
    );
    format!("poster-{}-{}.png", input.course_id, hex::encode(&Sha256::digest(key.as_bytes())[..6]))
}

/// The poster as a PNG.
pub fn draw_poster(input: &PosterInput) -> anyhow::Result<Vec<u8>> {
    let font = font().context("no CJK font (Debian: fonts-noto-cjk)")?;
    draw(font, input)
}

fn draw(font: &FontArc, input: &PosterInput) -> anyhow::Result<Vec<u8>> {
    let mut img = RgbaImage::from_pixel(WIDTH, HEIGHT, Rgba([255, 255, 255, 255]));
    match input.cover.as_deref().and_then(|bytes| image::load_from_memory(bytes).ok()) {
        Some(cover) => {
            let cover = cover.resize_to_fill(WIDTH, COVER_HEIGHT, FilterType::Lanczos3).to_rgba8();
            image::imageops::overlay(&mut img, &cover, 0, 0);
        }
        None => {
            // No picture of its own: the title, large, on the shop's colour.
            fill(&mut img, 0, 0, WIDTH, COVER_HEIGHT, TEAL);
            let white = Rgba([255, 255, 255, 255]);
            let lines = wrap(font, &input.title, 60.0, WIDTH as f32 - 120.0);
            let mut y = (COVER_HEIGHT as f32 - 80.0 * lines.len().min(2) as f32) / 2.0;
            for line in lines.iter().take(2) {
                text(&mut img, font, line, 60.0, y, 60.0, white);
                y += 80.0;
            }
        }
    }
    let mut y = COVER_HEIGHT as f32 + 40.0;
    for line in wrap(font, &input.title, 46.0, WIDTH as f32 - 80.0).into_iter().take(2) {
        text(&mut img, font, &line, 40.0, y, 46.0, INK);
        y += 62.0;
    }
    y += 16.0;
    let price_end = text(&mut img, font, &input.price, 40.0, y, 60.0, RED);
    if let Some(original) = input.original_price.as_deref() {
        let x = price_end + 20.0;
        let end = text(&mut img, font, original, x, y + 24.0, 30.0, MUTED);
        fill(&mut img, x as u32, (y + 42.0) as u32, (end - x) as u32, 2, MUTED);
    }
    // Between the price and the code: the pitch, the group's offer, and who recommends it.
    y += 96.0;
    if let Some(invite) = input.invite.as_deref() {
        fill(&mut img, 40, y as u32, WIDTH - 80, 72, Rgba([253, 232, 230, 255]));
        text(&mut img, font, invite, 60.0, y + 14.0, 34.0, RED);
        y += 100.0;
    }
    for line in wrap(font, &input.subtitle, 32.0, WIDTH as f32 - 80.0).into_iter().take(if input.invite.is_some() {
        1
    } else {
        3
    }) {
        text(&mut img, font, &line, 40.0, y, 32.0, MUTED);
        y += 48.0;
    }
    if let Some(sharer) = input.sharer.as_deref() {
        let line = format!("{sharer} 推荐你一起学");
        text(&mut img, font, &line, 40.0, y + 12.0, 32.0, TEAL);
    }
    // The QR code bottom right, the invitation beside it.
    let code = qrcode::QrCode::new(input.url.as_bytes())?;
    let modules = code.width() as u32;
    let cell = 240 / (modules + 8);
    let size = cell * (modules + 8);
    let (qx, qy) = (WIDTH - size - 40, HEIGHT - size - 40);
    for my in 0..modules {
        for mx in 0..modules {
            if code[(mx as usize, my as usize)] == qrcode::Color::Dark {
                fill(&mut img, qx + (mx + 4) * cell, qy + (my + 4) * cell, cell, cell, INK);
            }
        }
    }
    text(&mut img, font, "长按识别二维码", 40.0, (qy + size / 2) as f32 - 50.0, 34.0, INK);
    text(&mut img, font, "立即学习", 40.0, (qy + size / 2) as f32, 34.0, TEAL);
    text(&mut img, font, &input.shop_name, 40.0, (HEIGHT - 80) as f32, 28.0, MUTED);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

pub(crate) fn fill(img: &mut RgbaImage, x: u32, y: u32, w: u32, h: u32, color: Rgba<u8>) {
    for py in y..(y + h).min(img.height()) {
        for px in x..(x + w).min(img.width()) {
            img.put_pixel(px, py, color);
        }
    }
}

/// Draws one line with its top at `y`; returns where it ends on the x axis.
pub(crate) fn text(img: &mut RgbaImage, font: &FontArc, line: &str, x: f32, y: f32, px: f32, color: Rgba<u8>) -> f32 {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut caret = x;
    let baseline = y + scaled.ascent();
    for c in line.chars() {
        let id = scaled.glyph_id(c);
        let glyph = id.with_scale_and_position(PxScale::from(px), ab_glyph::point(caret, baseline));
        caret += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else { continue };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px, py) = (bounds.min.x as i64 + gx as i64, bounds.min.y as i64 + gy as i64);
            if px < 0 || py < 0 || px >= img.width() as i64 || py >= img.height() as i64 {
                return;
            }
            let under = img.get_pixel(px as u32, py as u32);
            let mix = |a: u8, b: u8| (a as f32 * (1.0 - coverage) + b as f32 * coverage) as u8;
            let blended = Rgba([mix(under[0], color[0]), mix(under[1], color[1]), mix(under[2], color[2]), 255]);
            img.put_pixel(px as u32, py as u32, blended);
        });
    }
    caret
}

/// Breaks text into lines no wider than `max` pixels (CJK text breaks between any characters).
pub(crate) fn wrap(font: &FontArc, text: &str, px: f32, max: f32) -> Vec<String> {
    let scaled = font.as_scaled(PxScale::from(px));
    let (mut lines, mut line, mut width) = (Vec::new(), String::new(), 0.0);
    for c in text.chars() {
        let advance = scaled.h_advance(scaled.glyph_id(c));
        if width + advance > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            width = 0.0;
        }
        line.push(c);
        width += advance;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
