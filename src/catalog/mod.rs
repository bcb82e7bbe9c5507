//! The published catalog, held in memory: anonymous home, catalog and course pages are served
//! without a query. Anything that changes catalog rows calls `CatalogCache::reload`.

pub mod query;

use crate::domain::CourseId;
use crate::domain::LessonId;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

pub use crate::domain::catalog::{Category, Chapter, Course, Instructor, Lesson, LessonFile};
use crate::store::Db;
use crate::store::shared::Shared;

#[derive(Debug, Default)]
pub struct Catalog {
    pub categories: Vec<Category>,
    /// Published courses, in shop order.
    pub courses: Vec<Arc<Course>>,
    /// Published courses by slug.
    by_slug: HashMap<String, Arc<Course>>,
    /// Every course, on sale or not, by id.
    by_id: HashMap<CourseId, Arc<Course>>,
    /// Lesson id → (course, chapter index, lesson index).
    lessons: HashMap<LessonId, (Arc<Course>, usize, usize)>,
    /// Pages rendered for anonymous visitors from this snapshot; a reload starts a new, empty one.
    pub pages: PageCache,
}

/// Rendered HTML by language and path (with query), plain and gzip-compressed. Bounded: arbitrary
/// query strings must not grow it without limit, so once full it stops taking new pages until the
/// next reload.
#[derive(Debug, Default)]
pub struct PageCache {
    entries: Mutex<HashMap<String, (Instant, CachedPage)>>,
}

/// How long a cached page may show counts ("N 人已学") that sales have moved on since.
const PAGE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct CachedPage {
    pub plain: Bytes,
    pub gzip: Bytes,
}

const MAX_CACHED_PAGES: usize = 2000;

impl PageCache {
    pub fn get(&self, key: &str) -> Option<CachedPage> {
        let entries = self.entries.lock().ok()?;
        let (made, page) = entries.get(key)?;
        (made.elapsed() < PAGE_TTL).then(|| page.clone())
    }

    /// Drops every copy (what every page shows changed: the purchase agreement named beside a
    /// free course's button).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    pub fn put(&self, key: String, page: CachedPage) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= MAX_CACHED_PAGES {
            entries.retain(|_, (made, _)| made.elapsed() < PAGE_TTL);
        }
        if entries.len() < MAX_CACHED_PAGES || entries.contains_key(&key) {
            entries.insert(key, (Instant::now(), page));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Catalog {
    pub fn new(categories: Vec<Category>, mut all: Vec<Arc<Course>>) -> Catalog {
        all.sort_by(|a, b| a.position.cmp(&b.position).then(b.created_at.cmp(&a.created_at)).then(b.id.cmp(&a.id)));
        let by_id = all.iter().map(|c| (c.id, c.clone())).collect();
        let mut lessons = HashMap::new();
        for course in &all {
            for (ci, chapter) in course.chapters.iter().enumerate() {
                for (li, lesson) in chapter.lessons.iter().enumerate() {
                    lessons.insert(lesson.id, (course.clone(), ci, li));
                }
            }
        }
        let courses: Vec<Arc<Course>> = all.into_iter().filter(|c| c.published).collect();
        let by_slug = courses.iter().map(|c| (c.slug.clone(), c.clone())).collect();
        Catalog { categories, courses, by_slug, by_id, lessons, pages: PageCache::default() }
    }

    /// A course on sale.
    pub fn course(&self, slug: &str) -> Option<&Arc<Course>> {
        self.by_slug.get(slug)
    }

    /// Any course, on sale or not (for its owners' pages, refunds, statistics).
    pub fn course_by_id(&self, id: CourseId) -> Option<&Arc<Course>> {
        self.by_id.get(&id)
    }

    /// Every course, on sale or not, newest first (for back-office filters).
    pub fn all_courses(&self) -> Vec<&Arc<Course>> {
        let mut all: Vec<&Arc<Course>> = self.by_id.values().collect();
        all.sort_by_key(|c| std::cmp::Reverse(c.id));
        all
    }

    /// A lesson and the course it belongs to, on sale or not: learning pages check ownership.
    pub fn lesson(&self, id: LessonId) -> Option<(&Arc<Course>, &Lesson)> {
        let (course, ci, li) = self.lessons.get(&id)?;
        Some((course, course.chapters.get(*ci)?.lessons.get(*li)?))
    }

    /// A quiz or final exam and its course, on sale or not.
    pub fn quiz(&self, id: crate::domain::QuizId) -> Option<(&Arc<Course>, &crate::domain::quiz::Quiz)> {
        self.by_id.values().find_map(|course| course.quiz(id).map(|quiz| (course, quiz)))
    }

    pub fn category(&self, slug: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.slug == slug)
    }

    pub fn featured(&self) -> Vec<Arc<Course>> {
        self.courses.iter().filter(|c| c.featured).cloned().collect()
    }

    /// The latest courses on sale that the featured list does not already show, newest first.
    pub fn newest_not_featured(&self, n: usize) -> Vec<Arc<Course>> {
        let mut rest: Vec<Arc<Course>> = self.courses.iter().filter(|c| !c.featured).cloned().collect();
        rest.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        rest.truncate(n);
        rest
    }
}

/// The current catalog snapshot; readers clone an `Arc` and never wait on a reload.
#[derive(Clone, Default)]
pub struct CatalogCache(Shared<Catalog>);

impl CatalogCache {
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.0.get()
    }

    pub async fn reload(&self, db: &Db) -> anyhow::Result<()> {
        let (categories, courses) = crate::store::catalog::load(db).await?;
        metrics::counter!("catalog_reloads_total").increment(1);
        self.0.set(Catalog::new(categories, courses));
        Ok(())
    }

    /// A sale (already counted in the database, in its own transaction) shown in the snapshot.
    pub fn count_sale(&self, course_id: CourseId) {
        if let Some(course) = self.snapshot().course_by_id(course_id) {
            course.learners.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_cache_is_bounded() {
        let cache = PageCache::default();
        for i in 0..MAX_CACHED_PAGES + 10 {
            cache.put(format!("zh|/courses?q={i}"), CachedPage { plain: Bytes::from_static(b"x"), gzip: Bytes::new() });
        }
        assert_eq!(cache.len(), MAX_CACHED_PAGES);
        assert!(cache.get("zh|/courses?q=1").is_some());
        assert!(cache.get(&format!("zh|/courses?q={}", MAX_CACHED_PAGES + 5)).is_none());
    }
}
