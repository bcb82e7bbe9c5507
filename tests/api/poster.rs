//! Share posters: a PNG at the size phones save, with a QR code that opens the course, drawn
//! once and drawn again when the course changes.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::on_both_backends;

on_both_backends!(each_course_has_a_poster_with_its_qr_code);

async fn each_course_has_a_poster_with_its_qr_code(app: TestApp) {
    if kedian::media::poster::font().is_none() {
        crate::helpers::skip("no CJK font (Debian: fonts-noto-cjk)");
        return;
    }
    let (_, page) = app.get_html("/courses/excel-data-analysis").await;
    assert!(page.contains("href=\"/courses/excel-data-analysis/poster.png\""), "the course page offers it");
    let first = app.get("/courses/excel-data-analysis/poster.png").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let file = location(&first);
    assert!(file.starts_with("/files/posters/poster-"), "{file}");
    let png = app.get(&file).await;
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("poster-excel.png"), &bytes).unwrap();
    let poster = image::load_from_memory(&bytes).unwrap().to_luma8();
    assert_eq!((poster.width(), poster.height()), (750, 1180));
    // The demo's photographic cover (shipped under /static/covers) heads the poster: its top rows
    // are a picture with many shades, where a poster without a cover is one flat colour.
    let shades: std::collections::HashSet<u8> = poster.rows().take(40).flatten().map(|p| p[0]).collect();
    assert!(shades.len() > 16, "the cover is drawn: {} shades", shades.len());
    let mut prepared = rqrr::PreparedImage::prepare(poster);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, "http://kedian.test/courses/excel-data-analysis");
    assert_eq!(location(&app.get("/courses/excel-data-analysis/poster.png").await), file, "drawn once");

    sqlx::query("UPDATE courses SET price_fen = 9900 WHERE slug = 'excel-data-analysis'")
        .execute(app.db.write())
        .await
        .unwrap();
    app.catalog.reload(&app.db).await.unwrap();
    let changed = location(&app.get("/courses/excel-data-analysis/poster.png").await);
    assert_ne!(changed, file, "a new price makes a new poster");
    assert_eq!(app.get("/courses/no-such-course/poster.png").await.status(), StatusCode::NOT_FOUND);
}
