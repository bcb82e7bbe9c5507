//! Reading an export: a directory of `users`, `courses`, `orders`, `entitlements` and `progress`
//! files, each `.csv` (with a header line) or `.jsonl` (one object a line), plus an optional
//! `manifest.json` naming the format version.

use std::path::Path;

use anyhow::{Context, bail};

use super::{Dataset, Report, Row};
use crate::domain::import::{self, FORMAT_VERSION, Fields};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Courses,
    Users,
    Orders,
    Entitlements,
    Progress,
}

impl Entity {
    pub fn from_file_name(name: &str) -> Option<Entity> {
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        match stem {
            "courses" => Some(Entity::Courses),
            "users" => Some(Entity::Users),
            "orders" => Some(Entity::Orders),
            "entitlements" => Some(Entity::Entitlements),
            "progress" => Some(Entity::Progress),
            _ => None,
        }
    }
}

/// Reads every export file under `path` (a directory, or one file).
pub fn read_dir(path: &Path, report: &mut Report) -> anyhow::Result<Dataset> {
    let mut files = Vec::new();
    if path.is_dir() {
        let manifest = path.join("manifest.json");
        if manifest.exists() {
            check_manifest(&std::fs::read(&manifest).context("reading manifest.json")?)?;
        }
        let mut entries: Vec<_> = std::fs::read_dir(path)?.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for file in entries {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if Entity::from_file_name(&name).is_some() {
                files.push((name, std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?));
            }
        }
    } else {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        files.push((name, std::fs::read(path).with_context(|| format!("reading {}", path.display()))?));
    }
    if files.is_empty() {
        bail!(
            "no export files in {} (expected users, courses, orders, entitlements or progress .csv/.jsonl)",
            path.display()
        );
    }
    read_files(files, report)
}

fn check_manifest(bytes: &[u8]) -> anyhow::Result<()> {
    let manifest: serde_json::Value = serde_json::from_slice(bytes).context("manifest.json is not JSON")?;
    let version = manifest.get("version").and_then(serde_json::Value::as_u64).unwrap_or(1);
    if version > u64::from(FORMAT_VERSION) {
        bail!("the export is format version {version}; this kedian reads version {FORMAT_VERSION}");
    }
    Ok(())
}

/// Reads named files (from disk or an upload) into checked rows; bad rows go to the report.
pub fn read_files(files: Vec<(String, Vec<u8>)>, report: &mut Report) -> anyhow::Result<Dataset> {
    let mut data = Dataset::default();
    for (name, bytes) in files {
        let Some(entity) = Entity::from_file_name(&name) else {
            bail!("{name}: not an export file (users, courses, orders, entitlements or progress)");
        };
        let text = String::from_utf8(bytes).with_context(|| format!("{name} is not UTF-8"))?;
        let text = text.trim_start_matches('\u{feff}');
        let rows = if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            jsonl_rows(&name, text, report)
        } else if name.ends_with(".csv") {
            csv_rows(&name, text)?
        } else {
            bail!("{name}: expected .csv or .jsonl");
        };
        for (line, fields) in rows {
            take(entity, &name, line, &fields, &mut data, report);
        }
    }
    Ok(data)
}

fn csv_rows(name: &str, text: &str) -> anyhow::Result<Vec<(usize, Fields)>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> =
        reader.headers().with_context(|| format!("{name}: no header line"))?.iter().map(str::to_lowercase).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{name}: not CSV"))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        rows.push((line, headers.iter().cloned().zip(record.iter().map(String::from)).collect()));
    }
    Ok(rows)
}

fn jsonl_rows(name: &str, text: &str, report: &mut Report) -> Vec<(usize, Fields)> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
            Ok(object) => {
                let fields = object
                    .into_iter()
                    .map(|(k, v)| {
                        let text = match v {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        (k.to_lowercase(), text)
                    })
                    .collect();
                rows.push((i + 1, fields));
            }
            Err(e) => {
                if let Some(entity) = Entity::from_file_name(name) {
                    report.counts(entity).read += 1;
                    report.reject(entity, name, i + 1, format!("not a JSON object: {e}"));
                }
            }
        }
    }
    rows
}

fn take(entity: Entity, file: &str, line: usize, f: &Fields, data: &mut Dataset, report: &mut Report) {
    report.counts(entity).read += 1;
    let result = match entity {
        Entity::Courses => import::mapping(f).map(|r| data.mappings.push(at_row(file, line, r))),
        Entity::Users => import::user(f).map(|r| data.users.push(at_row(file, line, r))),
        Entity::Orders => import::order(f).map(|r| data.orders.push(at_row(file, line, r))),
        Entity::Entitlements => import::entitlement(f).map(|r| data.entitlements.push(at_row(file, line, r))),
        Entity::Progress => import::progress(f).map(|r| data.progress.push(at_row(file, line, r))),
    };
    if let Err(why) = result {
        report.reject(entity, file, line, why);
    }
}

fn at_row<T>(file: &str, line: usize, row: T) -> Row<T> {
    Row { file: file.to_string(), line, row }
}
