//! Interface text: Simplified Chinese first, English second. Strings live in `zh-CN.toml` and
//! `en.toml` beside this file; a unit test keeps the two key sets and every key used equal.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::HttpRequest;
use actix_web::http::header::ACCEPT_LANGUAGE;

pub const LANG_COOKIE: &str = "lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// Looked up dozens of times a page by keys written in the code (never by a visitor's input), so
/// a fast hash rather than the DoS-resistant default.
type Table = HashMap<String, String, rustc_hash::FxBuildHasher>;

fn tables() -> &'static (Table, Table) {
    static TABLES: OnceLock<(Table, Table)> = OnceLock::new();
    TABLES.get_or_init(|| (parse(include_str!("zh-CN.toml")), parse(include_str!("en.toml"))))
}

fn parse(text: &str) -> Table {
    // The files are compiled in and checked by unit tests, so a parse failure cannot reach users;
    // an empty table would show keys instead of crashing.
    toml::from_str(text).unwrap_or_default()
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        if code.starts_with("zh") {
            Some(Lang::Zh)
        } else if code.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The cookie set on the language page wins; then the first supported Accept-Language entry
    /// by quality; then Chinese.
    pub fn from_request(req: &HttpRequest) -> Lang {
        if let Some(lang) = req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
            return lang;
        }
        req.headers()
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(from_accept_language)
            .unwrap_or_default()
    }

    pub fn t(self, key: &str) -> &'static str {
        let (zh, en) = tables();
        let table = match self {
            Lang::Zh => zh,
            Lang::En => en,
        };
        match table.get(key) {
            Some(text) => text.as_str(),
            None => {
                tracing::warn!(key, "missing translation");
                ""
            }
        }
    }

    /// A translated template with `{name}` placeholders filled in.
    /// One pass: a value is never searched for placeholders itself (a learner's nickname that
    /// reads `{title}` stays as typed).
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.t(key), args)
    }

    /// "Try again in 45 seconds / 12 minutes / 3 hours".
    pub fn wait_message(self, secs: i64) -> String {
        let secs = secs.max(1);
        if secs < 120 {
            self.tf("retry_in_seconds", &[("n", &secs.to_string())])
        } else if secs < 2 * 3600 {
            self.tf("retry_in_minutes", &[("n", &((secs + 59) / 60).to_string())])
        } else {
            self.tf("retry_in_hours", &[("n", &((secs + 3599) / 3600).to_string())])
        }
    }
}

/// `{name}` placeholders of `text` replaced by their values; an unknown one stays as written.
fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + args.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let Some(lang) = pieces.next().and_then(Lang::parse) else {
            continue;
        };
        let q = pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        if best.is_none_or(|(_, bq)| q > bq) {
            best = Some((lang, q));
        }
    }
    best.filter(|(_, q)| *q > 0.0).map(|(lang, _)| lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn placeholders_are_filled_in_one_pass() {
        assert_eq!(fill("{n} 人已学 {title}", &[("n", "3"), ("title", "课")]), "3 人已学 课");
        // A value that reads like a placeholder stays as it is.
        assert_eq!(fill("{a}-{b}", &[("a", "{b}"), ("b", "x")]), "{b}-x");
        // Unknown or unclosed braces are kept.
        assert_eq!(fill("{x} {n", &[("n", "1")]), "{x} {n");
        assert_eq!(fill("{n}{n}", &[("n", "好")]), "好好");
        assert_eq!(fill("", &[]), "");
    }

    #[test]
    fn wait_messages_round_up() {
        assert!(Lang::En.wait_message(45).contains("45 seconds"));
        assert!(Lang::En.wait_message(121).contains("3 minutes"));
        assert!(Lang::Zh.wait_message(86_000).contains("24"));
    }

    #[test]
    fn both_locales_have_the_same_keys() {
        let (zh, en) = tables();
        assert!(zh.len() > 50, "zh-CN.toml did not parse");
        let zk: BTreeSet<_> = zh.keys().collect();
        let ek: BTreeSet<_> = en.keys().collect();
        assert_eq!(zk.difference(&ek).collect::<Vec<_>>(), Vec::<&&String>::new(), "missing in en");
        assert_eq!(ek.difference(&zk).collect::<Vec<_>>(), Vec::<&&String>::new(), "missing in zh-CN");
    }

    /// Every `t("key")` / `tf("key"` in the templates and the sources names a key that exists.
    #[test]
    fn every_used_key_exists() {
        let (zh, _) = tables();
        let root = env!("CARGO_MANIFEST_DIR");
        let mut missing = Vec::new();
        for dir in ["templates", "src"] {
            for path in files_under(&std::path::Path::new(root).join(dir)) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for key in used_keys(&text) {
                    if !zh.contains_key(&key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "untranslated keys:\n{}", missing.join("\n"));
    }

    fn used_keys(text: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for marker in [".t(\"", ".tf(\""] {
            let mut rest = text;
            while let Some(i) = rest.find(marker) {
                rest = &rest[i + marker.len()..];
                if let Some(end) = rest.find('"') {
                    let key = &rest[..end];
                    if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
                    {
                        keys.push(key.to_string());
                    }
                }
            }
        }
        keys
    }

    fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    out.extend(files_under(&path));
                } else if path.extension().is_some_and(|e| e == "html" || e == "rs") {
                    out.push(path);
                }
            }
        }
        out
    }

    #[test]
    fn accept_language_by_quality() {
        assert_eq!(from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(from_accept_language("fr, en;q=0.5, zh-CN;q=0.8"), Some(Lang::Zh));
        assert_eq!(from_accept_language("fr-FR"), None);
        assert_eq!(from_accept_language("en;q=0"), None);
    }

    #[test]
    fn fills_placeholders() {
        assert!(Lang::En.tf("retry_in_seconds", &[("n", "42")]).contains("42"));
    }
}
