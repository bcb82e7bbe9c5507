//! `kedian import`: the mini program's export (docs/import-format.md) read, checked against the
//! shop, reported, and, unless it is a dry run, written in batches. Running it again changes
//! only what changed.

mod read;
mod write;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::domain::import::{EntitlementRow, MappingRow, OrderRow, ProgressRow, UserRow};
use crate::store::Db;

pub use read::{Entity, read_dir, read_files};
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

/// A checked row with where it came from.
pub struct Row<T> {
    pub file: String,
    pub line: usize,
    pub row: T,
}

/// Every row that passed its own checks, before the checks against the shop.
#[derive(Default)]
pub struct Dataset {
    pub mappings: Vec<Row<MappingRow>>,
    pub users: Vec<Row<UserRow>>,
    pub orders: Vec<Row<OrderRow>>,
    pub entitlements: Vec<Row<EntitlementRow>>,
    pub progress: Vec<Row<ProgressRow>>,
}

/// The shop's side of the checks: courses by slug (id, lessons in syllabus order), mappings
/// already saved, and phones already registered.
pub struct Shop {
    pub courses: HashMap<String, ShopCourse>,
    pub mappings: HashMap<String, i64>,
    pub phones: HashSet<String>,
}

pub struct ShopCourse {
    pub id: i64,
    pub lessons: Vec<(i64, i64)>,
}

impl Shop {
    pub async fn load(db: &Db) -> anyhow::Result<Shop> {
        let (courses, mappings, phones) = crate::store::import::shop(db).await?;
        Ok(Shop { courses, mappings, phones })
    }
}

/// Checks rows against each other and the shop; drops (and reports) those that cannot be
/// imported: unknown courses, products without a mapping, phones that are nowhere, lessons past
/// the end of the course.
pub fn check(mut data: Dataset, shop: &Shop, report: &mut Report) -> Dataset {
    let mut mapped: HashMap<String, i64> = shop.mappings.clone();
    data.mappings.retain(|m| match shop.courses.get(&m.row.course_slug) {
        Some(course) => {
            mapped.insert(m.row.product_id.clone(), course.id);
            true
        }
        None => {
            report.reject(
                Entity::Courses,
                &m.file,
                m.line,
                format!("course_slug: no course {} in the shop", m.row.course_slug),
            );
            false
        }
    });
    let mut phones: HashSet<String> = shop.phones.clone();
    phones.extend(data.users.iter().map(|u| u.row.phone.as_str().to_string()));
    let known = |phone: &str, product: &str| -> Result<(), String> {
        if !phones.contains(phone) {
            return Err(format!("phone: {phone} is neither in users nor registered"));
        }
        if !mapped.contains_key(product) {
            return Err(format!("product_id: {product} has no course mapping"));
        }
        Ok(())
    };
    let mut keep_orders = Vec::with_capacity(data.orders.len());
    let mut seen_orders = HashSet::new();
    for o in data.orders.drain(..) {
        let check = known(o.row.phone.as_str(), &o.row.product_id).and_then(|()| {
            if seen_orders.insert(o.row.order_id.clone()) {
                Ok(())
            } else {
                Err(format!("order_id: {} twice in the export", o.row.order_id))
            }
        });
        match check {
            Ok(()) => keep_orders.push(o),
            Err(why) => report.reject(Entity::Orders, &o.file, o.line, why),
        }
    }
    data.orders = keep_orders;
    data.entitlements.retain(|e| match known(e.row.phone.as_str(), &e.row.product_id) {
        Ok(()) => true,
        Err(why) => {
            report.reject(Entity::Entitlements, &e.file, e.line, why);
            false
        }
    });
    let lessons_of = |product: &str| {
        let id = mapped.get(product)?;
        shop.courses.values().find(|c| c.id == *id).map(|c| c.lessons.len())
    };
    data.progress.retain(|p| {
        let why =
            known(p.row.phone.as_str(), &p.row.product_id).err().or_else(|| match lessons_of(&p.row.product_id) {
                Some(n) if p.row.lesson_no <= n => None,
                Some(n) => Some(format!("lesson_no: the course has {n} lessons")),
                None => Some("product_id: the course is gone".to_string()),
            });
        match why {
            None => true,
            Some(why) => {
                report.reject(Entity::Progress, &p.file, p.line, why);
                false
            }
        }
    });
    data
}

/// Reads, checks and (unless `dry_run`) writes an export; the report says what happened.
pub async fn run(db: &Db, path: &Path, dry_run: bool, progress: &dyn Progress) -> anyhow::Result<Report> {
    let mut report = Report { dry_run, ..Report::default() };
    let data = read_dir(path, &mut report)?;
    finish(db, "cli", data, report, progress).await
}

/// Checks and writes rows already read (the back office's upload reads them from the form).
pub async fn finish(
    db: &Db,
    source: &str,
    data: Dataset,
    mut report: Report,
    progress: &dyn Progress,
) -> anyhow::Result<Report> {
    let shop = Shop::load(db).await?;
    let data = check(data, &shop, &mut report);
    if !report.dry_run {
        write::all(db, &data, &shop, &mut report, progress).await?;
    }
    crate::store::import::record(db, source, &report, crate::domain::time::now()).await?;
    Ok(report)
}
