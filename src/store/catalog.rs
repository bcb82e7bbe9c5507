//! Reads the catalog's rows in four queries; `catalog::Catalog` indexes them for the pages.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;

use super::Db;
use super::rows::Flag;
use crate::domain::catalog::{
    Category, Chapter, ColumnPlan, Course, Instructor, Lesson, LessonFile, LessonKind, Rating,
};
use crate::domain::cohort::{Cohort, LiveSession};
use crate::domain::membership::{MemberRule, Period, Plan, Scope};
use crate::domain::quiz::Quiz;
use crate::domain::refund_terms::RefundTerms;
use crate::domain::unlock::Unlock;
use crate::domain::{
    CategoryId, ChapterId, CohortId, CourseId, Fen, InstructorId, LessonFileId, LessonId, ProductKind, QuizId,
};

/// Categories in shop order, and every course (published or not) with its syllabus.
pub async fn load(db: &Db) -> anyhow::Result<(Vec<Category>, Vec<Arc<Course>>)> {
    let pool = db.read();
    let categories: Vec<Category> = sqlx::query_as::<_, (CategoryId, String, String)>(
        "SELECT id, slug, name FROM categories ORDER BY position, id",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, slug, name)| Category { id, slug, name })
    .collect();

    let instructors: HashMap<InstructorId, Arc<Instructor>> =
        sqlx::query_as::<_, (InstructorId, String, String, String, String)>(
            "SELECT id, name, title, bio, avatar_url FROM instructors",
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(id, name, title, bio, avatar_url)| (id, Arc::new(Instructor { id, name, title, bio, avatar_url })))
        .collect();

    let mut files: HashMap<LessonId, Vec<LessonFile>> = HashMap::new();
    let file_rows: Vec<(LessonFileId, LessonId, String, String, i64)> =
        sqlx::query_as("SELECT id, lesson_id, file_name, content_type, size_bytes FROM lesson_files ORDER BY id")
            .fetch_all(pool)
            .await?;
    for (id, lesson_id, file_name, content_type, size_bytes) in file_rows {
        files.entry(lesson_id).or_default().push(LessonFile { id, file_name, content_type, size_bytes });
    }
    let mut lessons_by_chapter: HashMap<ChapterId, Vec<Lesson>> = HashMap::new();
    type LessonRow = (ChapterId, LessonId, String, String, i64, Flag, Option<i64>, Option<i64>, Option<i64>);
    let lesson_rows: Vec<LessonRow> = sqlx::query_as(
        "SELECT l.chapter_id, l.id, l.title, l.kind, l.duration_secs, l.free_preview, l.starts_at, l.unlock_day, l.unlock_at \
         FROM lessons l JOIN courses c ON c.id = l.course_id \
         ORDER BY l.chapter_id, l.position, l.id",
    )
    .fetch_all(pool)
    .await?;
    for (chapter_id, id, title, kind, duration_secs, free_preview, starts_at, unlock_day, unlock_at) in lesson_rows {
        let free_preview = free_preview.into();
        let kind = LessonKind::try_from(kind).map_err(anyhow::Error::msg)?;
        let unlock = Unlock::from_columns(unlock_day, unlock_at);
        let files = files.remove(&id).unwrap_or_default();
        let lesson = Lesson { id, title, kind, duration_secs, free_preview, starts_at, unlock, files };
        lessons_by_chapter.entry(chapter_id).or_default().push(lesson);
    }

    let mut chapters_by_course: HashMap<CourseId, Vec<Chapter>> = HashMap::new();
    let chapter_rows: Vec<(ChapterId, CourseId, String)> = sqlx::query_as(
        "SELECT ch.id, ch.course_id, ch.title FROM chapters ch JOIN courses c ON c.id = ch.course_id \
         ORDER BY ch.course_id, ch.position, ch.id",
    )
    .fetch_all(pool)
    .await?;
    for (id, course_id, title) in chapter_rows {
        let lessons = lessons_by_chapter.remove(&id).unwrap_or_default();
        chapters_by_course.entry(course_id).or_default().push(Chapter { id, title, lessons });
    }

    let category_by_id: HashMap<CategoryId, &Category> = categories.iter().map(|c| (c.id, c)).collect();
    let course_rows: Vec<CourseRow> = sqlx::query_as(
        "SELECT id, slug, kind, category_id, instructor_id, title, subtitle, description, cover_url, \
         price_fen, original_price_fen, learner_count, outcomes, audience, non_refundable, \
         refund_window_days, refund_max_consumed_pct, membership_days, consult_minutes, featured, position, published, created_at, \
         sale_ends_at, membership_period, membership_scope, member_rule, member_price_fen FROM courses",
    )
    .fetch_all(pool)
    .await?;
    let ratings: HashMap<CourseId, (i64, i64)> = sqlx::query_as::<_, (CourseId, i64, i64)>(
        "SELECT course_id, COUNT(*), CAST(COALESCE(SUM(stars), 0) AS BIGINT) FROM reviews WHERE status = 'shown' GROUP BY course_id",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, count, stars)| (id, (count, stars)))
    .collect();
    let mut offers: HashMap<CourseId, crate::domain::group::Offer> =
        super::groups::offers(db).await?.into_iter().map(|o| (o.course_id, o)).collect();
    let checkin_courses: std::collections::HashSet<CourseId> =
        sqlx::query_scalar("SELECT course_id FROM checkin_challenges").fetch_all(pool).await?.into_iter().collect();
    let mut bundles: HashMap<CourseId, Vec<CourseId>> = HashMap::new();
    let items: Vec<(CourseId, CourseId)> =
        sqlx::query_as("SELECT bundle_id, course_id FROM bundle_items ORDER BY bundle_id, position, course_id")
            .fetch_all(pool)
            .await?;
    for (bundle, course) in items {
        bundles.entry(bundle).or_default().push(course);
    }
    let mut columns: HashMap<CourseId, ColumnPlan> =
        sqlx::query_as::<_, (CourseId, Option<i64>, String)>("SELECT course_id, planned, schedule FROM course_columns")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|(id, planned, schedule)| (id, ColumnPlan { planned, schedule }))
            .collect();
    let mut sessions: HashMap<CohortId, Vec<LiveSession>> = HashMap::new();
    let session_rows: Vec<(CohortId, LessonId, i64, Option<String>)> = sqlx::query_as(
        "SELECT cohort_id, lesson_id, starts_at, live_url FROM cohort_live_sessions ORDER BY starts_at, lesson_id",
    )
    .fetch_all(pool)
    .await?;
    for (cohort_id, lesson_id, starts_at, live_url) in session_rows {
        sessions.entry(cohort_id).or_default().push(LiveSession { lesson_id, starts_at, live_url });
    }
    let mut cohorts: HashMap<CourseId, Vec<Cohort>> = HashMap::new();
    type CohortRow = (CohortId, CourseId, String, i64, i64, i64, i64);
    let cohort_rows: Vec<CohortRow> = sqlx::query_as(
        "SELECT id, course_id, name, starts_at, capacity, sale_starts_at, sale_ends_at FROM cohorts ORDER BY starts_at, id",
    )
    .fetch_all(pool)
    .await?;
    for (id, course_id, name, starts_at, capacity, sale_starts_at, sale_ends_at) in cohort_rows {
        let sessions = sessions.remove(&id).unwrap_or_default();
        let cohort = Cohort { id, course_id, name, starts_at, capacity, sale_starts_at, sale_ends_at, sessions };
        cohorts.entry(course_id).or_default().push(cohort);
    }
    let mut quizzes: HashMap<CourseId, Vec<Quiz>> = HashMap::new();
    type QuizRow = (QuizId, CourseId, Option<LessonId>, String, i64, Option<i64>, i64, Option<i64>);
    let quiz_rows: Vec<QuizRow> = sqlx::query_as(
        "SELECT id, course_id, lesson_id, title, draw_count, time_limit_mins, pass_percent, max_attempts FROM quizzes ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    for (id, course_id, lesson_id, title, draw_count, time_limit_mins, pass_percent, max_attempts) in quiz_rows {
        let quiz = Quiz { id, lesson_id, title, draw_count, time_limit_mins, pass_percent, max_attempts };
        quizzes.entry(course_id).or_default().push(quiz);
    }
    let mut courses = Vec::with_capacity(course_rows.len());
    for r in course_rows {
        let slug = r.slug;
        courses.push(Arc::new(Course {
            kind: r.kind,
            category: category_by_id
                .get(&r.category_id)
                .map(|c| (*c).clone())
                .with_context(|| format!("course {slug}: missing category"))?,
            instructor: instructors
                .get(&r.instructor_id)
                .cloned()
                .with_context(|| format!("course {slug}: missing instructor"))?,
            title: r.title,
            subtitle: r.subtitle,
            description: r.description,
            cover_url: r.cover_url,
            price: r.price,
            original_price: r.original_price,
            sale_ends_at: r.sale_ends_at,
            learners: Arc::new(r.learner_count.into()),
            outcomes: lines(&r.outcomes),
            audience: lines(&r.audience),
            refund_terms: r.refund_terms,
            membership_days: r.membership_days,
            consult_minutes: r.consult_minutes,
            plan: r
                .membership_period
                .as_deref()
                .and_then(Period::parse)
                .map(|period| Plan { period, scope: Scope::parse(&r.membership_scope) }),
            member_rule: MemberRule::from_parts(&r.member_rule, r.member_price_fen),
            group: offers.remove(&r.id),
            has_checkin: checkin_courses.contains(&r.id),
            rating: Arc::new(ratings.get(&r.id).map_or_else(Rating::default, |(n, stars)| Rating::new(*n, *stars))),
            featured: r.featured,
            position: r.position,
            published: r.published,
            created_at: r.created_at,
            chapters: chapters_by_course.remove(&r.id).unwrap_or_default(),
            bundle: bundles.remove(&r.id).unwrap_or_default(),
            // Only a column shows its plan (a course whose kind staff changed keeps the row).
            column: columns.remove(&r.id).filter(|_| r.kind == ProductKind::Column),
            cohorts: cohorts.remove(&r.id).unwrap_or_default(),
            quizzes: quizzes.remove(&r.id).unwrap_or_default(),
            id: r.id,
            slug,
        }));
    }
    Ok((categories, courses))
}

/// A course as stored; the catalog joins its category, instructor and syllabus to it.
#[derive(sqlx::FromRow)]
struct CourseRow {
    id: CourseId,
    slug: String,
    #[sqlx(try_from = "String")]
    kind: ProductKind,
    category_id: CategoryId,
    instructor_id: InstructorId,
    title: String,
    subtitle: String,
    description: String,
    cover_url: String,
    #[sqlx(rename = "price_fen")]
    price: Fen,
    #[sqlx(rename = "original_price_fen")]
    original_price: Fen,
    learner_count: i64,
    outcomes: String,
    audience: String,
    #[sqlx(flatten)]
    refund_terms: RefundTerms,
    membership_days: Option<i64>,
    consult_minutes: Option<i64>,
    #[sqlx(try_from = "Flag")]
    featured: bool,
    position: i64,
    #[sqlx(try_from = "Flag")]
    published: bool,
    created_at: i64,
    sale_ends_at: Option<i64>,
    membership_period: Option<String>,
    membership_scope: String,
    member_rule: String,
    member_price_fen: Option<i64>,
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}
