//! Certificate images (结业证书): a landscape PNG drawn on the server from the course's design (the
//! poster's text and QR drawing, the staff's background and seal when set) and a one-page PDF of
//! the same picture.

use ab_glyph::{Font, FontArc, PxScale, ScaleFont};
use anyhow::Context;
use image::imageops::FilterType;
use image::{ImageFormat, Rgba, RgbaImage};

use super::poster::{fill, font, text, wrap};
use crate::domain::certificate::Design;

pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 1131;
const INK: Rgba<u8> = Rgba([31, 35, 40, 255]);
const MUTED: Rgba<u8> = Rgba([95, 107, 118, 255]);
const TEAL: Rgba<u8> = Rgba([15, 118, 110, 255]);
const SEAL_RED: Rgba<u8> = Rgba([200, 30, 30, 255]);
const PAPER: Rgba<u8> = Rgba([253, 250, 242, 255]);

/// What one certificate says, and the pictures staff chose (their bytes).
pub struct CertificateInput<'a> {
    pub design: &'a Design,
    pub name: &'a str,
    pub course: &'a str,
    /// The day it was issued, as shown (2026年12月8日).
    pub date: &'a str,
    pub shop_name: &'a str,
    pub verify_url: &'a str,
    pub code: &'a str,
    pub background: Option<Vec<u8>>,
    pub seal: Option<Vec<u8>>,
}

pub fn draw_certificate(input: &CertificateInput<'_>) -> anyhow::Result<Vec<u8>> {
    let font = font().context("no CJK font (Debian: fonts-noto-cjk)")?;
    let mut img = RgbaImage::from_pixel(WIDTH, HEIGHT, PAPER);
    match input.background.as_deref().and_then(|b| image::load_from_memory(b).ok()) {
        Some(bg) => {
            image::imageops::overlay(&mut img, &bg.resize_to_fill(WIDTH, HEIGHT, FilterType::Triangle).to_rgba8(), 0, 0)
        }
        None => {
            // The plain design: a double frame in the shop's colour.
            frame(&mut img, 40, 10, TEAL);
            frame(&mut img, 64, 3, TEAL);
        }
    }
    let d = input.design;
    let at = |percent: i64| HEIGHT as f32 * percent as f32 / 100.0;
    centered(&mut img, font, &d.title, at(12), 84.0, TEAL);
    centered(&mut img, font, input.name, at(d.name_top), 72.0, INK);
    let line = format!("完成了课程「{}」的全部学习，特发此证。", input.course);
    let mut y = at(d.course_top);
    for part in wrap(font, &line, 40.0, WIDTH as f32 - 320.0).into_iter().take(3) {
        centered(&mut img, font, &part, y, 40.0, INK);
        y += 60.0;
    }
    centered(&mut img, font, &format!("{}  {}", input.shop_name, input.date), at(d.date_top), 36.0, MUTED);
    let (sx, sy) = ((WIDTH as f32 * d.seal_left as f32 / 100.0) as i64, at(d.seal_top) as i64);
    match input.seal.as_deref().and_then(|b| image::load_from_memory(b).ok()) {
        Some(seal) => {
            image::imageops::overlay(&mut img, &seal.resize(240, 240, FilterType::Triangle).to_rgba8(), sx, sy)
        }
        None => stamp(&mut img, font, input.shop_name, sx as f32 + 120.0, sy as f32 + 120.0),
    }
    qr(&mut img, input.verify_url, 110, HEIGHT - 330, 200)?;
    text(&mut img, font, &format!("扫码验证 · 编号 {}", input.code), 110.0, (HEIGHT - 120) as f32, 26.0, MUTED);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

fn frame(img: &mut RgbaImage, inset: u32, thickness: u32, color: Rgba<u8>) {
    let (w, h) = (WIDTH - 2 * inset, HEIGHT - 2 * inset);
    fill(img, inset, inset, w, thickness, color);
    fill(img, inset, HEIGHT - inset - thickness, w, thickness, color);
    fill(img, inset, inset, thickness, h, color);
    fill(img, WIDTH - inset - thickness, inset, thickness, h, color);
}

fn line_width(font: &FontArc, line: &str, px: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(px));
    line.chars().map(|c| scaled.h_advance(scaled.glyph_id(c))).sum()
}

fn centered(img: &mut RgbaImage, font: &FontArc, line: &str, y: f32, px: f32, color: Rgba<u8>) {
    let x = (WIDTH as f32 - line_width(font, line, px)) / 2.0;
    text(img, font, line, x.max(0.0), y, px, color);
}

/// The seal when staff uploaded none: a red ring with the shop's name.
fn stamp(img: &mut RgbaImage, font: &FontArc, shop: &str, cx: f32, cy: f32) {
    for y in (cy - 112.0) as i64..=(cy + 112.0) as i64 {
        for x in (cx - 112.0) as i64..=(cx + 112.0) as i64 {
            let r = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if (100.0..=110.0).contains(&r) && x >= 0 && y >= 0 && (x as u32) < WIDTH && (y as u32) < HEIGHT {
                img.put_pixel(x as u32, y as u32, SEAL_RED);
            }
        }
    }
    let name: String = shop.chars().take(6).collect();
    let px = 36.0;
    text(img, font, &name, cx - line_width(font, &name, px) / 2.0, cy - 50.0, px, SEAL_RED);
    text(img, font, "★", cx - line_width(font, "★", 40.0) / 2.0, cy, 40.0, SEAL_RED);
}

fn qr(img: &mut RgbaImage, url: &str, x: u32, y: u32, size: u32) -> anyhow::Result<()> {
    let code = qrcode::QrCode::new(url.as_bytes())?;
    let modules = code.width() as u32;
    let cell = size / (modules + 8);
    fill(img, x, y, cell * (modules + 8), cell * (modules + 8), Rgba([255, 255, 255, 255]));
    for my in 0..modules {
        for mx in 0..modules {
            if code[(mx as usize, my as usize)] == qrcode::Color::Dark {
                fill(img, x + (mx + 4) * cell, y + (my + 4) * cell, cell, cell, INK);
            }
        }
    }
    Ok(())
}

/// One A4 landscape page holding the picture (as a JPEG, which PDF carries as it is).
pub fn pdf_of(png: &[u8]) -> anyhow::Result<Vec<u8>> {
    use lopdf::{Document, Object, Stream, dictionary};
    let picture = image::load_from_memory(png)?.to_rgb8();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(picture.clone()).write_to(&mut jpeg, ImageFormat::Jpeg)?;
    let (w, h) = (842.0_f32, 595.0_f32);
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let image = Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => i64::from(picture.width()),
            "Height" => i64::from(picture.height()),
            "ColorSpace" => "DeviceRGB",
            "BitsPerComponent" => 8,
            "Filter" => "DCTDecode",
        },
        jpeg.into_inner(),
    );
    let image_id = doc.add_object(image);
    let content = format!("q {w} 0 0 {h} 0 0 cm /Im1 Do Q");
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), Object::Real(w), Object::Real(h)],
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image_id } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page_id.into()],
            "Count" => 1,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_and_its_pdf() {
        if font().is_none() {
            return; // no CJK font on this machine: the routes answer 404 then (tested there)
        }
        let design = Design::default();
        let input = CertificateInput {
            design: &design,
            name: "王小明",
            course: "Excel 数据分析实战",
            date: "2026年12月8日",
            shop_name: "课店",
            verify_url: "https://kedian.test/certificates/ABCDEFGHJKMN",
            code: "ABCDEFGHJKMN",
            background: None,
            seal: None,
        };
        let png = draw_certificate(&input).expect("drawn");
        let picture = image::load_from_memory(&png).expect("a PNG");
        assert_eq!((picture.width(), picture.height()), (WIDTH, HEIGHT));
        let pdf = pdf_of(&png).expect("a PDF");
        assert!(pdf.starts_with(b"%PDF-1.5"));
        let doc = lopdf::Document::load_mem(&pdf).expect("reads back");
        assert_eq!(doc.get_pages().len(), 1);
    }
}
