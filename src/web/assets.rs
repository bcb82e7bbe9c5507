//! Static files under versioned URLs: `/static/css/site.css?v=<hash of its bytes>`. A versioned
//! URL never changes meaning, so it is cached for a year as immutable; a changed file gets a new
//! URL at the next start. Unversioned URLs (old pages, the service worker's shell) keep an hour.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Each shipped file's path under `static/` → its versioned URL, made once (pages ask per request).
static VERSIONS: OnceLock<HashMap<String, String>> = OnceLock::new();
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Hashes every file under `dir` once, at start-up.
pub fn load(dir: &Path) {
    let mut versions = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let (Ok(bytes), Ok(relative)) = (std::fs::read(&path), path.strip_prefix(dir)) {
                let key = relative.to_string_lossy().replace('\\', "/");
                let url = format!("/static/{key}?v={}", hex::encode(&Sha256::digest(&bytes)[..5]));
                versions.insert(key, url);
            }
        }
    }
    // A second start in one process (tests) keeps the first map: the files are the same.
    let _ = VERSIONS.set(versions);
    let _ = DIR.set(dir.to_path_buf());
}

/// Where the file a `/static/…` URL names lies on disk: only files found at start-up, so no
/// URL reaches outside `static/`.
pub fn shipped_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("/static/")?;
    if !VERSIONS.get()?.contains_key(path) {
        return None;
    }
    DIR.get().map(|dir| dir.join(path))
}

/// The URL of `static/<path>`, versioned by its content.
pub fn url(path: &str) -> Cow<'static, str> {
    match VERSIONS.get().and_then(|v| v.get(path)) {
        Some(url) => Cow::Borrowed(url),
        None => Cow::Owned(format!("/static/{path}")),
    }
}

/// `Cache-Control` for a static request: a year, immutable, when the URL names its version.
pub fn cache_control(query: &str) -> &'static str {
    if query.split('&').any(|pair| pair.starts_with("v=") && pair.len() > 2) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_versioned_urls_are_immutable() {
        assert_eq!(cache_control("v=0a1b2c3d4e"), "public, max-age=31536000, immutable");
        assert_eq!(cache_control(""), "public, max-age=3600");
        assert_eq!(cache_control("v="), "public, max-age=3600");
        assert_eq!(cache_control("x=1"), "public, max-age=3600");
    }
}
