//! The import's reads of the shop (courses, lessons and saved mappings) and the record of each
//! run; its writes are in `write`.

use std::collections::HashMap;

use super::{Report, ShopCourse};
use crate::store::Db;

type ShopState = (HashMap<String, ShopCourse>, HashMap<String, i64>);

/// Courses by slug with their lessons in syllabus order and their cohorts, and saved mappings.
pub async fn shop(db: &Db) -> Result<ShopState, sqlx::Error> {
    let mut courses: HashMap<String, ShopCourse> = HashMap::new();
    let mut slugs: HashMap<i64, String> = HashMap::new();
    for (id, slug) in sqlx::query_as::<_, (i64, String)>("SELECT id, slug FROM courses").fetch_all(db.read()).await? {
        slugs.insert(id, slug.clone());
        courses.insert(slug, ShopCourse { id, lessons: Vec::new(), cohorts: Vec::new() });
    }
    let cohorts: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, course_id, name FROM cohorts ORDER BY id").fetch_all(db.read()).await?;
    for (id, course_id, name) in cohorts {
        if let Some(course) = slugs.get(&course_id).and_then(|slug| courses.get_mut(slug)) {
            course.cohorts.push((id, name));
        }
    }
    let lessons: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT l.id, l.course_id, l.duration_secs FROM lessons l JOIN chapters ch ON ch.id = l.chapter_id \
         ORDER BY l.course_id, ch.position, ch.id, l.position, l.id",
    )
    .fetch_all(db.read())
    .await?;
    for (id, course_id, duration_secs) in lessons {
        if let Some(course) = slugs.get(&course_id).and_then(|slug| courses.get_mut(slug)) {
            course.lessons.push((id, duration_secs));
        }
    }
    let mappings = sqlx::query_as::<_, (String, i64)>("SELECT product_id, course_id FROM course_mappings")
        .fetch_all(db.read())
        .await?
        .into_iter()
        .collect();
    Ok((courses, mappings))
}

pub async fn record(db: &Db, source: &str, report: &Report, now: i64) -> Result<(), sqlx::Error> {
    let body = serde_json::to_string(report).unwrap_or_default();
    sqlx::query("INSERT INTO imports (source, dry_run, report, created_at) VALUES ($1, $2, $3, $4)")
        .bind(source)
        .bind(i64::from(report.dry_run))
        .bind(body)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}
