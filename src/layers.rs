//! The layer rule of ARCHITECTURE.md, checked: a top-level module imports only modules on lower
//! lines of its ```layers table, never one on its own line or above.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module name → line in the table, counted from the bottom (domain is 0).
fn ranks() -> HashMap<String, usize> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let table = doc.split("```layers\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    let mut ranks = HashMap::new();
    for (from_top, line) in lines.iter().enumerate() {
        let names = line.split_whitespace().map_while(|word| word.strip_suffix('/').or(word.strip_suffix(".rs")));
        for name in names {
            assert!(ranks.insert(name.to_string(), lines.len() - 1 - from_top).is_none(), "{name} twice");
        }
    }
    ranks
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names through `crate::`, outside comments.
fn imports(source: &str) -> Vec<String> {
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| line.split("crate::").skip(1))
        .map(|rest| rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
        .collect()
}

/// `src/store/orders.rs` → `store`; `src/error.rs` → `error`.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(Path::new(ROOT).join("src")).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn every_module_has_a_line_in_the_table() {
    let ranks = ranks();
    let lib = std::fs::read_to_string(Path::new(ROOT).join("src/lib.rs")).unwrap();
    let modules: Vec<&str> =
        lib.lines().filter_map(|l| l.strip_prefix("pub mod ")).map(|l| l.trim_end_matches(';')).collect();
    assert!(modules.len() > 10, "src/lib.rs did not parse");
    for module in modules {
        assert!(ranks.contains_key(module), "{module} is not in ARCHITECTURE.md's layers table");
    }
}

#[test]
fn imports_only_point_down() {
    let ranks = ranks();
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(file);
        let Some(&rank) = ranks.get(&module) else { continue };
        let source = std::fs::read_to_string(file).unwrap();
        for import in imports(&source) {
            let Some(&to) = ranks.get(&import) else { continue };
            if import != module && to >= rank {
                upward.push(format!("{} uses crate::{import}", file.display()));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(upward.is_empty(), "imports that do not point down:\n{}", upward.join("\n"));
}

#[test]
fn the_reader_sees_imports_and_skips_comments() {
    let source = "use crate::store::Db;\n/// see crate::web\nfn f() { crate::domain::x(); }";
    assert_eq!(imports(source), ["store", "domain"]);
    assert_eq!(ranks()["domain"], 0);
    assert!(ranks()["routes"] > ranks()["services"]);
}
