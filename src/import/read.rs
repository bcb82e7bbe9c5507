//! Reading an export: a directory of `users`, `courses`, `orders`, `entitlements` and `progress`
//! files, each `.csv` (with a header line) or `.jsonl` (one object a line), plus an optional
//! `manifest.json` naming the format version. Files are read a row at a time: memory does not
//! grow with the size of the export.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail};

use crate::domain::import::{FORMAT_VERSION, Fields};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    Courses,
    Users,
    Orders,
    Entitlements,
    Progress,
}

impl Entity {
    /// In the order they are imported: each kind refers only to kinds before it.
    pub const ALL: [Entity; 5] =
        [Entity::Courses, Entity::Users, Entity::Orders, Entity::Entitlements, Entity::Progress];

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

/// One export file, not yet read.
pub struct Source {
    pub name: String,
    pub entity: Entity,
    /// Its size in bytes (for progress bars).
    pub len: u64,
    reader: Box<dyn Read + Send>,
}

/// The export files under `path` (a directory, or one file), in import order.
pub fn open_dir(path: &Path) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
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
                sources.push(open_file(&file, name)?);
            }
        }
    } else {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        sources.push(open_file(path, name)?);
    }
    if sources.is_empty() {
        bail!(
            "no export files in {} (expected users, courses, orders, entitlements or progress .csv/.jsonl)",
            path.display()
        );
    }
    sources.sort_by_key(|s| s.entity);
    Ok(sources)
}

fn open_file(path: &Path, name: String) -> anyhow::Result<Source> {
    let entity = entity_of(&name)?;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(Source { name, entity, len, reader: Box::new(file) })
}

/// Named files already in memory (the back office's upload), in import order.
pub fn from_files(files: Vec<(String, Vec<u8>)>) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let entity = entity_of(&name)?;
        std::str::from_utf8(&bytes).map_err(|_| anyhow::anyhow!("{name} is not UTF-8"))?;
        let len = bytes.len() as u64;
        sources.push(Source { name, entity, len, reader: Box::new(std::io::Cursor::new(bytes)) });
    }
    sources.sort_by_key(|s| s.entity);
    Ok(sources)
}

fn entity_of(name: &str) -> anyhow::Result<Entity> {
    let Some(entity) = Entity::from_file_name(name) else {
        bail!("{name}: not an export file (users, courses, orders, entitlements or progress)");
    };
    if !(name.ends_with(".csv") || name.ends_with(".jsonl") || name.ends_with(".ndjson")) {
        bail!("{name}: expected .csv or .jsonl");
    }
    Ok(entity)
}

fn check_manifest(bytes: &[u8]) -> anyhow::Result<()> {
    let manifest: serde_json::Value = serde_json::from_slice(bytes).context("manifest.json is not JSON")?;
    let version = manifest.get("version").and_then(serde_json::Value::as_u64).unwrap_or(1);
    if version > u64::from(FORMAT_VERSION) {
        bail!("the export is format version {version}; this kedian reads version {FORMAT_VERSION}");
    }
    Ok(())
}

/// What reading one line gave.
pub enum Line {
    Fields(usize, Fields),
    /// A line that is not a row at all (JSON Lines only): line number and why.
    Unreadable(usize, String),
}

/// The rows of one source, a line at a time.
pub enum Rows {
    Csv { reader: csv::Reader<Box<dyn Read + Send>>, headers: Vec<String>, name: String },
    Jsonl { lines: std::io::Lines<BufReader<Box<dyn Read + Send>>>, line: usize, read: u64, name: String },
}

impl Rows {
    pub fn open(source: Source) -> anyhow::Result<Rows> {
        let name = source.name;
        if name.ends_with(".csv") {
            let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(source.reader);
            let headers: Vec<String> = reader
                .headers()
                .with_context(|| format!("{name}: no header line (or not UTF-8)"))?
                .iter()
                .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
                .collect();
            Ok(Rows::Csv { reader, headers, name })
        } else {
            Ok(Rows::Jsonl { lines: BufReader::new(source.reader).lines(), line: 0, read: 0, name })
        }
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        match self {
            Rows::Csv { reader, .. } => reader.position().byte(),
            Rows::Jsonl { read, .. } => *read,
        }
    }

    /// The next line, None at the end; an error ends the file (not UTF-8, broken CSV).
    pub fn next_line(&mut self) -> anyhow::Result<Option<Line>> {
        match self {
            Rows::Csv { reader, headers, name } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => Ok(None),
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line() as usize);
                        let fields = headers.iter().cloned().zip(record.iter().map(String::from)).collect();
                        Ok(Some(Line::Fields(line, fields)))
                    }
                    Err(e) => Err(anyhow::anyhow!("{name}: not CSV or not UTF-8 ({e})")),
                }
            }
            Rows::Jsonl { lines, line, read, name } => loop {
                let Some(text) = lines.next() else { return Ok(None) };
                let text = text.with_context(|| format!("{name} is not UTF-8"))?;
                *line += 1;
                *read += text.len() as u64 + 1;
                let text = text.trim_start_matches('\u{feff}');
                if text.trim().is_empty() {
                    continue;
                }
                return Ok(Some(match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
                    Ok(object) => Line::Fields(*line, json_fields(object)),
                    Err(e) => Line::Unreadable(*line, format!("not a JSON object: {e}")),
                }));
            },
        }
    }
}

pub(super) fn json_fields(object: serde_json::Map<String, serde_json::Value>) -> Fields {
    object
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.to_lowercase(), text)
        })
        .collect()
}
