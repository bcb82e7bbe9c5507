//! Article lessons: Markdown (or HTML) rendered on the server and cleaned by ammonia, so no
//! script, handler attribute or foreign frame ever reaches the page.

use std::fmt;

/// HTML that has been through the sanitizer; the only HTML a template may emit unescaped.
pub struct SanitizedHtml(String);

impl SanitizedHtml {
    pub fn from_markdown(source: &str) -> SanitizedHtml {
        let mut html = String::new();
        let parser = pulldown_cmark::Parser::new_ext(source, pulldown_cmark::Options::ENABLE_TABLES);
        pulldown_cmark::html::push_html(&mut html, parser);
        SanitizedHtml(
            ammonia::Builder::default().link_rel(Some("noopener noreferrer nofollow")).clean(&html).to_string(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SanitizedHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_scripts_never_pass() {
        let html = SanitizedHtml::from_markdown(
            "## 标题\n\n**粗体** [链接](https://example.com)\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n<iframe src=\"https://evil\"></iframe>",
        );
        let h = html.as_str();
        assert!(h.contains("<h2>标题</h2>") && h.contains("<strong>粗体</strong>"), "{h}");
        assert!(h.contains("rel=\"noopener noreferrer nofollow\""));
        for bad in ["<script", "onerror", "javascript:", "<iframe"] {
            assert!(!h.contains(bad), "{bad} passed: {h}");
        }
    }
}
