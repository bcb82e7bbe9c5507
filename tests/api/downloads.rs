//! Lesson downloads (#33): staff attach files to a lesson; its buyers download them with the same
//! checks as its media (scheduled unlocks included), and a PDF comes stamped on every page with the
//! buyer's masked phone; anyone else is refused.

use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::on_both_backends;

const COURSE: &str = "excel-data-analysis";

on_both_backends!(buyers_download_stamped_pdfs_and_others_are_refused);

/// A three-page PDF whose pages inherit their font from the page tree.
pub(crate) fn handout() -> Vec<u8> {
    use lopdf::{Dictionary, Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages = doc.new_object_id();
    let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let mut kids = Vec::new();
    for n in 1..=3 {
        let text = format!("BT /F1 14 Tf 72 720 Td (Handout page {n}) Tj ET");
        let content = doc.add_object(Stream::new(Dictionary::new(), text.into_bytes()));
        kids.push(Object::Reference(
            doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages, "Contents" => content }),
        ));
    }
    doc.objects.insert(
        pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => 3,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

async fn buyers_download_stamped_pdfs_and_others_are_refused(app: TestApp) {
    let lesson = app.first_paid_lesson(COURSE).await;
    let staff = app.staff().await;
    let editor = format!("/admin/lessons/{lesson}");
    let upload = format!("{editor}/files");
    let text = staff.submit_multipart(&editor, &upload, &[], vec![("file", "notes.txt", b"just text".to_vec())]).await;
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let refused = text.text().await.unwrap();
    assert!(refused.contains("id=\"lesson_file-error\""));
    assert!(refused.contains("讲师笔记："), "the editor keeps the lesson's own text beside the error");
    assert_eq!(app.count("lesson_files").await, 0);
    let added = staff.submit_multipart(&editor, &upload, &[], vec![("file", "第一讲讲义.pdf", handout())]).await;
    assert_eq!(location(&added), format!("{editor}#files"));
    let audio = b"ID3\x03\x00\x00\x00\x00\x00\x00 pretend audio".to_vec();
    staff.submit_multipart(&editor, &upload, &[], vec![("file", "朗读.mp3", audio.clone())]).await;
    let files: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, content_type FROM lesson_files ORDER BY id").fetch_all(app.db.read()).await.unwrap();
    let (pdf_id, mp3_id) = (files[0].0, files[1].0);
    let (pdf_url, mp3_url) = (format!("/lesson-files/{pdf_id}"), format!("/lesson-files/{mp3_id}"));

    // Not bought, not signed in: refused.
    let stranger = app.another_browser();
    assert_eq!(stranger.get(&pdf_url).await.status(), StatusCode::SEE_OTHER);
    let other = app.another_browser();
    other.login_by_code("13800139602").await;
    assert_eq!(other.get(&pdf_url).await.status(), StatusCode::FORBIDDEN);
    let (_, page) = other.get_html(&format!("/courses/{COURSE}/lessons/{lesson}")).await;
    assert!(!page.contains(&pdf_url), "a locked lesson lists no downloads");

    let buyer = app.another_browser();
    buyer.login_by_code("13800139601").await;
    buyer.bought(COURSE).await;
    let (_, page) = buyer.get_html(&format!("/courses/{COURSE}/lessons/{lesson}")).await;
    assert!(page.contains(&pdf_url) && page.contains("第一讲讲义.pdf") && page.contains(&mp3_url));
    let got = buyer.get(&pdf_url).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert!(got.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let stamped = lopdf::Document::load_mem(&got.bytes().await.unwrap()).unwrap();
    let pages = stamped.get_pages();
    assert_eq!(pages.len(), 3);
    for (n, page) in pages {
        let content = String::from_utf8_lossy(&stamped.get_page_content(page)).to_string();
        assert!(content.contains(&format!("(Handout page {n})")), "page {n} keeps its text");
        assert!(content.contains("138****9601"), "page {n} carries the buyer's masked phone: {content}");
        assert!(!content.contains("13800139601"), "never the whole number");
    }
    let sound = buyer.get(&mp3_url).await;
    assert_eq!(sound.status(), StatusCode::OK);
    assert_eq!(sound.bytes().await.unwrap().to_vec(), audio, "other files as they were uploaded");

    // A lesson that opens later keeps its files shut until then.
    let scheduled = crate::learning::schedule(&staff, kedian::domain::LessonId(lesson), "5", "").await;
    assert_eq!(scheduled.status(), StatusCode::SEE_OTHER);
    assert_eq!(buyer.get(&pdf_url).await.status(), StatusCode::FORBIDDEN);
    crate::learning::schedule(&staff, kedian::domain::LessonId(lesson), "", "").await;
    assert_eq!(buyer.get(&pdf_url).await.status(), StatusCode::OK);

    // Staff remove one: gone for everyone.
    let removed = staff.submit(&editor, &format!("/admin/lesson-files/{pdf_id}/delete"), &[]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(buyer.get(&pdf_url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("lesson_files").await, 1);
}
