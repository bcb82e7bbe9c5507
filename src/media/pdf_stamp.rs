//! Stamps a PDF for the buyer who downloads it: on every page, a line along the bottom edge and a
//! faint one across the middle (the same idea as the video watermark). The page's own drawing is
//! wrapped in `q … Q` so the stamp is drawn in the page's untouched coordinates, and its
//! resources (the page's, or those it inherits) gain a font and a transparency under names of
//! their own.

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};

const FONT: &str = "KdnStampF";
const ALPHA: &str = "KdnStampGS";

/// The stamped PDF. `line` is ASCII (the standard Helvetica has no CJK glyphs).
pub fn stamp_pdf(pdf: &[u8], line: &str) -> anyhow::Result<Vec<u8>> {
    let mut doc = Document::load_mem(pdf)?;
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let alpha = doc.add_object(dictionary! { "Type" => "ExtGState", "ca" => 0.18, "CA" => 0.18 });
    let text = escape(line);
    for page in doc.get_pages().into_values() {
        let [x0, y0, x1, y1] = media_box(&doc, page);
        let mut resources =
            inherited(&doc, page, b"Resources").and_then(|o| resolved_dict(&doc, &o)).unwrap_or_default();
        for (group, name, id) in [("Font", FONT, font), ("ExtGState", ALPHA, alpha)] {
            let mut entries =
                resources.get(group.as_bytes()).ok().and_then(|o| resolved_dict(&doc, o)).unwrap_or_default();
            entries.set(name, id);
            resources.set(group, entries);
        }
        let page_dict = doc.get_object_mut(page).and_then(Object::as_dict_mut)?;
        page_dict.set("Resources", resources);
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let stamp = format!(
            "Q q BT /{FONT} 8 Tf 0.35 g 1 0 0 1 {} {} Tm ({text}) Tj ET \
             /{ALPHA} gs BT /{FONT} 22 Tf 0.5 g 0.866 0.5 -0.5 0.866 {} {} Tm ({text}) Tj ET Q",
            x0 + 24.0,
            y0 + 14.0,
            cx - 150.0,
            cy - 60.0,
        );
        wrap_contents(&mut doc, page, stamp.into_bytes())?;
    }
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}

/// A page entry, from the page or the nearest ancestor that has it.
fn inherited(doc: &Document, page: ObjectId, key: &[u8]) -> Option<Object> {
    let mut node = doc.get_dictionary(page).ok()?;
    for _ in 0..32 {
        if let Ok(found) = node.get(key) {
            return Some(found.clone());
        }
        node = doc.get_dictionary(node.get(b"Parent").and_then(Object::as_reference).ok()?).ok()?;
    }
    None
}

fn resolved_dict(doc: &Document, object: &Object) -> Option<Dictionary> {
    match object {
        Object::Reference(id) => doc.get_dictionary(*id).ok().cloned(),
        Object::Dictionary(d) => Some(d.clone()),
        _ => None,
    }
}

fn media_box(doc: &Document, page: ObjectId) -> [f32; 4] {
    let numbers: Option<Vec<f32>> = inherited(doc, page, b"MediaBox").and_then(|o| {
        let array = match &o {
            Object::Reference(id) => doc.get_object(*id).ok()?.as_array().ok()?.clone(),
            Object::Array(a) => a.clone(),
            _ => return None,
        };
        array.iter().map(|n| n.as_float().ok()).collect()
    });
    match numbers.as_deref() {
        Some([a, b, c, d]) => [*a, *b, *c, *d],
        _ => [0.0, 0.0, 595.0, 842.0],
    }
}

/// The page's contents as `q`, what it had, then `tail` (which starts with the matching `Q`).
fn wrap_contents(doc: &mut Document, page: ObjectId, tail: Vec<u8>) -> anyhow::Result<()> {
    let existing: Vec<Object> = match doc.get_dictionary(page)?.get(b"Contents") {
        Ok(Object::Reference(id)) => vec![Object::Reference(*id)],
        Ok(Object::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let open = doc.add_object(Stream::new(Dictionary::new(), b"q\n".to_vec()));
    let close = doc.add_object(Stream::new(Dictionary::new(), tail));
    let mut contents = vec![Object::Reference(open)];
    contents.extend(existing);
    contents.push(Object::Reference(close));
    doc.get_object_mut(page).and_then(Object::as_dict_mut)?.set("Contents", contents);
    Ok(())
}

/// A PDF literal string's body: backslashes and parentheses escaped, nothing outside printable ASCII.
fn escape(line: &str) -> String {
    line.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .flat_map(|c| match c {
            '(' | ')' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pages sharing resources through their parent, as many PDF writers make them.
    fn sample() -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages = doc.new_object_id();
        let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier" });
        let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
        let mut kids = Vec::new();
        for text in ["page one", "page two"] {
            let content = doc.add_object(Stream::new(
                Dictionary::new(),
                format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET").into_bytes(),
            ));
            kids.push(Object::Reference(
                doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages, "Contents" => content }),
            ));
        }
        doc.objects.insert(
            pages,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => 2, "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn every_page_is_stamped_and_keeps_its_own_text_and_fonts() {
        let stamped = stamp_pdf(&sample(), "138****8000 (buyer) 2026-12-08").unwrap();
        let doc = Document::load_mem(&stamped).unwrap();
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 2);
        for (n, page) in pages {
            let content = String::from_utf8_lossy(&doc.get_page_content(page)).to_string();
            assert!(content.starts_with("q\n"), "page {n}: {content}");
            assert!(content.contains(if n == 1 { "(page one)" } else { "(page two)" }), "page {n} keeps its text");
            assert_eq!(content.matches("(138****8000 \\(buyer\\) 2026-12-08)").count(), 2, "page {n}: {content}");
            let fonts = doc.get_page_fonts(page).unwrap();
            assert!(
                fonts.contains_key(b"F1".as_slice()) && fonts.contains_key(FONT.as_bytes()),
                "page {n}: inherited font kept"
            );
        }
    }

    #[test]
    fn not_a_pdf_is_an_error() {
        assert!(stamp_pdf(b"%PDF-1.4 truncated", "x").is_err());
        assert_eq!(escape("a(b)\\c 王"), "a\\(b\\)\\\\c ");
    }
}
