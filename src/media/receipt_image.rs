//! A receipt as a PNG to keep in the phone's album: the shop, what was bought and paid, and the
//! QR code of its verify page, drawn with the poster's font and pen.

use anyhow::Context;
use image::{ImageFormat, Rgba, RgbaImage};

use super::poster::{fill, font, text, wrap};

const WIDTH: u32 = 750;
const INK: Rgba<u8> = Rgba([31, 35, 40, 255]);
const MUTED: Rgba<u8> = Rgba([95, 107, 118, 255]);
const TEAL: Rgba<u8> = Rgba([15, 118, 110, 255]);
const QR_SIZE: u32 = 260;

pub struct Lines {
    pub shop_name: String,
    pub heading: String,
    /// Label and value, in order.
    pub rows: Vec<(String, String)>,
    pub verify_hint: String,
    pub verify_url: String,
}

pub fn draw(lines: &Lines) -> anyhow::Result<Vec<u8>> {
    let font = font().context("no CJK font (Debian: fonts-noto-cjk)")?;
    let value_width = WIDTH as f32 - 80.0;
    let wrapped: Vec<(String, Vec<String>)> =
        lines.rows.iter().map(|(label, value)| (label.clone(), wrap(font, value, 32.0, value_width))).collect();
    let rows_height: f32 = wrapped.iter().map(|(_, v)| 40.0 + 44.0 * v.len() as f32 + 20.0).sum();
    let height = (140.0 + rows_height + 60.0 + QR_SIZE as f32 + 120.0) as u32;
    let mut img = RgbaImage::from_pixel(WIDTH, height, Rgba([255, 255, 255, 255]));
    fill(&mut img, 0, 0, WIDTH, 12, TEAL);
    text(&mut img, font, &lines.shop_name, 40.0, 40.0, 30.0, MUTED);
    text(&mut img, font, &lines.heading, 40.0, 80.0, 44.0, INK);
    let mut y = 160.0;
    for (label, values) in &wrapped {
        text(&mut img, font, label, 40.0, y, 26.0, MUTED);
        y += 40.0;
        for value in values {
            text(&mut img, font, value, 40.0, y, 32.0, INK);
            y += 44.0;
        }
        y += 20.0;
    }
    fill(&mut img, 40, y as u32, WIDTH - 80, 2, Rgba([221, 227, 232, 255]));
    y += 40.0;
    let code = qrcode::QrCode::new(lines.verify_url.as_bytes())?;
    let modules = code.width() as u32;
    let cell = (QR_SIZE / (modules + 8)).max(1);
    let (qx, qy) = ((WIDTH - cell * (modules + 8)) / 2, y as u32);
    for my in 0..modules {
        for mx in 0..modules {
            if code[(mx as usize, my as usize)] == qrcode::Color::Dark {
                fill(&mut img, qx + (mx + 4) * cell, qy + (my + 4) * cell, cell, cell, INK);
            }
        }
    }
    y += (cell * (modules + 8)) as f32 + 10.0;
    for line in wrap(font, &lines.verify_hint, 26.0, value_width) {
        text(&mut img, font, &line, 40.0, y, 26.0, MUTED);
        y += 36.0;
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}
