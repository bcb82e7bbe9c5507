//! Reads the catalog's rows in four queries; `catalog::Catalog` indexes them for the pages.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use sqlx::Row;

use super::{Db, flag};
use crate::domain::catalog::{Category, Chapter, Course, Instructor, Lesson};
use crate::domain::refund_terms::RefundTerms;
use crate::domain::{Fen, ProductKind};

/// Categories in shop order, and every course (published or not) with its syllabus.
pub async fn load(db: &Db) -> anyhow::Result<(Vec<Category>, Vec<Arc<Course>>)> {
    let pool = db.read();
    let categories: Vec<Category> = sqlx::query("SELECT id, slug, name FROM categories ORDER BY position, id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(Category { id: r.try_get("id")?, slug: r.try_get("slug")?, name: r.try_get("name")? }))
        .collect::<Result<_, sqlx::Error>>()?;

    let instructors: HashMap<i64, Arc<Instructor>> =
        sqlx::query("SELECT id, name, title, bio, avatar_url FROM instructors")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                let i = Instructor {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    title: r.try_get("title")?,
                    bio: r.try_get("bio")?,
                    avatar_url: r.try_get("avatar_url")?,
                };
                Ok((i.id, Arc::new(i)))
            })
            .collect::<Result<_, sqlx::Error>>()?;

    let mut lessons_by_chapter: HashMap<i64, Vec<Lesson>> = HashMap::new();
    let lesson_rows = sqlx::query(
        "SELECT l.id, l.chapter_id, l.title, l.kind, l.duration_secs, l.free_preview, l.starts_at \
         FROM lessons l JOIN courses c ON c.id = l.course_id \
         ORDER BY l.chapter_id, l.position, l.id",
    )
    .fetch_all(pool)
    .await?;
    for r in &lesson_rows {
        lessons_by_chapter.entry(r.try_get("chapter_id")?).or_default().push(Lesson {
            id: r.try_get("id")?,
            title: r.try_get("title")?,
            kind: r.try_get("kind")?,
            duration_secs: r.try_get("duration_secs")?,
            free_preview: flag(r.try_get("free_preview")?),
            starts_at: r.try_get("starts_at")?,
        });
    }

    let mut chapters_by_course: HashMap<i64, Vec<Chapter>> = HashMap::new();
    let chapter_rows = sqlx::query(
        "SELECT ch.id, ch.course_id, ch.title FROM chapters ch JOIN courses c ON c.id = ch.course_id \
         ORDER BY ch.course_id, ch.position, ch.id",
    )
    .fetch_all(pool)
    .await?;
    for r in &chapter_rows {
        let id: i64 = r.try_get("id")?;
        chapters_by_course.entry(r.try_get("course_id")?).or_default().push(Chapter {
            id,
            title: r.try_get("title")?,
            lessons: lessons_by_chapter.remove(&id).unwrap_or_default(),
        });
    }

    let category_by_id: HashMap<i64, &Category> = categories.iter().map(|c| (c.id, c)).collect();
    let course_rows = sqlx::query(
        "SELECT id, slug, kind, category_id, instructor_id, title, subtitle, description, cover_url, \
         price_fen, original_price_fen, learner_count, outcomes, audience, non_refundable, \
         refund_window_days, refund_max_consumed_pct, membership_days, consult_minutes, featured, position, published, created_at, \
         sale_ends_at FROM courses",
    )
    .fetch_all(pool)
    .await?;
    let mut courses = Vec::with_capacity(course_rows.len());
    for r in &course_rows {
        let id: i64 = r.try_get("id")?;
        let slug: String = r.try_get("slug")?;
        let kind: String = r.try_get("kind")?;
        let category_id: i64 = r.try_get("category_id")?;
        let instructor_id: i64 = r.try_get("instructor_id")?;
        courses.push(Arc::new(Course {
            kind: ProductKind::parse(&kind).with_context(|| format!("course {slug}: unknown kind {kind}"))?,
            category: category_by_id
                .get(&category_id)
                .map(|c| (*c).clone())
                .with_context(|| format!("course {slug}: missing category"))?,
            instructor: instructors
                .get(&instructor_id)
                .cloned()
                .with_context(|| format!("course {slug}: missing instructor"))?,
            title: r.try_get("title")?,
            subtitle: r.try_get("subtitle")?,
            description: r.try_get("description")?,
            cover_url: r.try_get("cover_url")?,
            price: Fen(r.try_get("price_fen")?),
            original_price: Fen(r.try_get("original_price_fen")?),
            sale_ends_at: r.try_get("sale_ends_at")?,
            learners: Arc::new(r.try_get::<i64, _>("learner_count")?.into()),
            outcomes: lines(&r.try_get::<String, _>("outcomes")?),
            audience: lines(&r.try_get::<String, _>("audience")?),
            refund_terms: RefundTerms {
                non_refundable: flag(r.try_get("non_refundable")?),
                window_days: r.try_get("refund_window_days")?,
                max_consumed_pct: r.try_get("refund_max_consumed_pct")?,
            },
            membership_days: r.try_get("membership_days")?,
            consult_minutes: r.try_get("consult_minutes")?,
            featured: flag(r.try_get("featured")?),
            position: r.try_get("position")?,
            published: flag(r.try_get("published")?),
            created_at: r.try_get("created_at")?,
            chapters: chapters_by_course.remove(&id).unwrap_or_default(),
            id,
            slug,
        }));
    }
    Ok((categories, courses))
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}
