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

    /// Markdown with TeX formulas, for quiz questions: `$$…$$`, or `$…$` under Pandoc's rule (no
    /// space just inside either `$`, no digit just after the closing one), so an Excel reference
    /// such as `$A$1` or a price stays text; `\$` is a plain dollar. Formulas become MathML on the
    /// server, cleaned again with only MathML's elements allowed; one that does not parse stays text.
    pub fn from_markdown_with_math(source: &str) -> SanitizedHtml {
        let mut text = String::with_capacity(source.len());
        let mut formulas = Vec::new();
        let mut rest = source;
        while let Some((open, body, end, block)) = next_formula(rest) {
            text.push_str(&rest[..open]);
            text.push_str(&format!("kdnmath{}x", formulas.len()));
            formulas.push(math(&rest[body..end], block));
            rest = &rest[end + if block { 2 } else { 1 }..];
        }
        text.push_str(rest);
        let mut html = SanitizedHtml::from_markdown(&text).0;
        for (i, formula) in formulas.iter().enumerate().rev() {
            html = html.replace(&format!("kdnmath{i}x"), formula);
        }
        SanitizedHtml(html)
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

/// The next formula in `text`: (where its opening `$` is, where its TeX starts and ends, block).
fn next_formula(text: &str) -> Option<(usize, usize, usize, bool)> {
    let escaped = |i: usize| i > 0 && text.as_bytes()[i - 1] == b'\\';
    let dollars: Vec<usize> = text.match_indices('$').map(|(i, _)| i).filter(|i| !escaped(*i)).collect();
    let mut k = 0;
    while k < dollars.len() {
        let open = dollars[k];
        if text[open..].starts_with("$$") {
            if let Some(close) = text[open + 2..].find("$$").map(|c| open + 2 + c)
                && !text[open + 2..close].trim().is_empty()
            {
                return Some((open, open + 2, close, true));
            }
            k += 2;
            continue;
        }
        let opens = text[open + 1..].chars().next().is_some_and(|c| !c.is_whitespace());
        if opens {
            for &close in &dollars[k + 1..] {
                let inside = &text[open + 1..close];
                if inside.contains('\n') {
                    break;
                }
                let closes = inside.chars().last().is_some_and(|c| !c.is_whitespace())
                    && !text[close + 1..].chars().next().is_some_and(|c| c.is_ascii_digit());
                if closes {
                    return Some((open, open + 1, close, false));
                }
            }
        }
        k += 1;
    }
    None
}

/// One formula as cleaned MathML, or its escaped source when it does not parse.
fn math(tex: &str, block: bool) -> String {
    let style = if block { latex2mathml::DisplayStyle::Block } else { latex2mathml::DisplayStyle::Inline };
    match latex2mathml::latex_to_mathml(tex, style) {
        Ok(mathml) => math_cleaner().clean(&mathml).to_string(),
        Err(_) => ammonia::clean_text(&format!("${tex}$")),
    }
}

fn math_cleaner() -> ammonia::Builder<'static> {
    const TAGS: &[&str] = &[
        "math",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "mrow",
        "mfrac",
        "msqrt",
        "mroot",
        "msub",
        "msup",
        "msubsup",
        "munder",
        "mover",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
        "semantics",
    ];
    const ATTRIBUTES: &[&str] = &[
        "display",
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "accent",
        "accentunder",
        "displaystyle",
        "columnalign",
        "linethickness",
        "notation",
        "width",
        "xmlns",
    ];
    let mut builder = ammonia::Builder::empty();
    builder.add_tags(TAGS).add_generic_attributes(ATTRIBUTES);
    builder
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

    #[test]
    fn formulas_become_mathml_and_nothing_else_passes() {
        let html = SanitizedHtml::from_markdown_with_math("求 $x^2 + 1$ 的值，**注意** $$\\frac{a}{b}$$ 价格 5 元");
        let h = html.as_str();
        assert!(h.contains("<math") && h.contains("<msup>") && h.contains("<mfrac>"), "{h}");
        assert!(h.contains("<strong>注意</strong>") && h.contains("价格 5 元"), "{h}");
        let html = SanitizedHtml::from_markdown_with_math(
            "$\\text{<script>alert(1)</script>}$ 与 $<img src=x onerror=alert(1)>$",
        );
        let h = html.as_str();
        for bad in ["<script", "onerror", "<img"] {
            assert!(!h.contains(bad), "{bad} passed: {h}");
        }
        for plain in ["只有一个 $ 符号", "绝对引用 $A$1 和 A$1", "从 $5 涨到 $10", "写成 \\$x\\$ 就是美元符号"]
        {
            let html = SanitizedHtml::from_markdown_with_math(plain);
            assert!(!html.as_str().contains("<math"), "{plain}: {}", html.as_str());
        }
        let html = SanitizedHtml::from_markdown_with_math("设 $a$ 与 $b$，价格 $5");
        assert_eq!(html.as_str().matches("<math").count(), 2, "{}", html.as_str());
    }
}
