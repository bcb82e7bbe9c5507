//! `kedian import`: the mini program's export (docs/import-format.md) read, checked against the
//! shop, reported, and, unless it is a dry run, written in batches. Running it again changes
//! only what changed.

mod read;
mod shop;
pub mod sync;
mod write;

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::store::Db;
pub use read::{Entity, Source, from_files, open_dir};
use read::{Line, Rows};
use write::Parsed;
pub use write::{Progress, Silent};

/// Where a row came from.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub read: u64,
    pub rejected: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// What a run found and did, per kind of row.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub courses: Counts,
    pub users: Counts,
    pub orders: Counts,
    pub entitlements: Counts,
    pub progress: Counts,
    /// The first rejected rows (all are counted above).
    pub rejected: Vec<Rejected>,
}

pub const MAX_LISTED_REJECTIONS: usize = 1000;

impl Report {
    pub fn reject(&mut self, entity: Entity, file: &str, line: usize, reason: impl Into<String>) {
        self.counts(entity).rejected += 1;
        if self.rejected.len() < MAX_LISTED_REJECTIONS {
            self.rejected.push(Rejected { file: file.to_string(), line, reason: reason.into() });
        }
    }

    pub fn counts(&mut self, entity: Entity) -> &mut Counts {
        match entity {
            Entity::Courses => &mut self.courses,
            Entity::Users => &mut self.users,
            Entity::Orders => &mut self.orders,
            Entity::Entitlements => &mut self.entitlements,
            Entity::Progress => &mut self.progress,
        }
    }

    pub fn total_rejected(&self) -> u64 {
        [&self.courses, &self.users, &self.orders, &self.entitlements, &self.progress].iter().map(|c| c.rejected).sum()
    }

    /// The report as the command prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mode = if self.dry_run { "dry run: nothing written" } else { "written" };
        out.push_str(&format!("import report ({mode})\n"));
        out.push_str("               read  rejected  inserted   updated unchanged\n");
        for (name, c) in [
            ("courses", &self.courses),
            ("users", &self.users),
            ("orders", &self.orders),
            ("entitlements", &self.entitlements),
            ("progress", &self.progress),
        ] {
            out.push_str(&format!(
                "{name:<12} {:>7} {:>9} {:>9} {:>9} {:>9}\n",
                c.read, c.rejected, c.inserted, c.updated, c.unchanged
            ));
        }
        for r in &self.rejected {
            out.push_str(&format!("rejected {}:{}: {}\n", r.file, r.line, r.reason));
        }
        let listed = self.rejected.len() as u64;
        if self.total_rejected() > listed {
            out.push_str(&format!("… and {} more rejected rows\n", self.total_rejected() - listed));
        }
        out
    }
}

/// The shop's side of the checks: courses by slug (id, lessons in syllabus order) and the
/// product mappings already saved.
pub struct Shop {
    pub courses: HashMap<String, ShopCourse>,
    pub mappings: HashMap<String, i64>,
}

pub struct ShopCourse {
    pub id: i64,
    /// (lesson id, duration) in syllabus order.
    pub lessons: Vec<(i64, i64)>,
    /// (cohort id, name) of its cohorts (营期).
    pub cohorts: Vec<(i64, String)>,
}

impl ShopCourse {
    /// The cohort a row names (by its name, as staff made it here), None for a row without one.
    pub fn cohort(&self, name: &str) -> Result<Option<i64>, String> {
        if name.is_empty() {
            return Ok(None);
        }
        let mut named = self.cohorts.iter().filter(|(_, n)| n == name);
        match (named.next(), named.next()) {
            (Some((id, _)), None) => Ok(Some(*id)),
            (Some(_), Some(_)) => Err(format!("cohort: two cohorts of the course are named {name}")),
            (None, _) => Err(format!("cohort: the course has no cohort named {name}")),
        }
    }
}

impl Shop {
    pub async fn load(db: &Db) -> anyhow::Result<Shop> {
        let (courses, mappings) = shop::shop(db).await?;
        Ok(Shop { courses, mappings })
    }

    pub fn course_by_id(&self, id: i64) -> Option<&ShopCourse> {
        self.courses.values().find(|c| c.id == id)
    }
}

/// Reads, checks and (unless `dry_run`) writes an export; the report says what happened.
pub async fn run(db: &Db, path: &Path, dry_run: bool, progress: &dyn Progress) -> anyhow::Result<Report> {
    let sources = read::open_dir(path)?;
    import(db, "cli", sources, dry_run, progress).await
}

/// Imports export files a batch at a time, kind by kind (courses, users, orders, entitlements,
/// progress), and records the run.
pub async fn import(
    db: &Db,
    label: &str,
    mut sources: Vec<Source>,
    dry_run: bool,
    progress: &dyn Progress,
) -> anyhow::Result<Report> {
    let mut report = Report { dry_run, ..Report::default() };
    let shop = Shop::load(db).await?;
    let mut run = write::Run::new(db, &shop, dry_run).await?;
    sources.sort_by_key(|s| s.entity);
    for source in sources {
        let (entity, name) = (source.entity, source.name.clone());
        progress.start(&name, source.len);
        let mut rows = Rows::open(source)?;
        let mut batch = Vec::with_capacity(write::BATCH);
        let mut reported = 0;
        loop {
            let line = rows.next_line()?;
            let end = line.is_none();
            if let Some(line) = line {
                report.counts(entity).read += 1;
                match line {
                    Line::Unreadable(n, why) => report.reject(entity, &name, n, why),
                    Line::Fields(n, fields) => match parse(entity, &fields) {
                        Ok(row) => batch.push((n, row)),
                        Err(why) => report.reject(entity, &name, n, why),
                    },
                }
            }
            if batch.len() >= write::BATCH || (end && !batch.is_empty()) {
                run.batch(entity, &name, std::mem::take(&mut batch), &mut report).await?;
                let at = rows.position();
                progress.advance(at.saturating_sub(reported));
                reported = at;
            }
            if end {
                break;
            }
        }
        progress.finish();
    }
    shop::record(db, label, &report, crate::domain::time::now()).await?;
    Ok(report)
}

pub(super) fn parse(entity: Entity, f: &crate::domain::import::Fields) -> Result<Parsed, String> {
    use crate::domain::import as rows;
    Ok(match entity {
        Entity::Courses => Parsed::Mapping(rows::mapping(f)?),
        Entity::Users => Parsed::User(rows::user(f)?),
        Entity::Orders => Parsed::Order(rows::order(f)?),
        Entity::Entitlements => Parsed::Entitlement(rows::entitlement(f)?),
        Entity::Progress => Parsed::Progress(rows::progress(f)?),
    })
}
