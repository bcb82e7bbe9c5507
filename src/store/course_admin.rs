//! The catalog as staff edit it: every course (published or not), and changes to courses.
//! Anything that changes catalog rows reloads the in-memory catalog afterwards.

use super::rows::Flag;
use super::{Db, is_unique_violation};
use crate::domain::course_form::CourseInput;
use crate::domain::{CategoryId, CourseId, InstructorId, ProductKind};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CourseRow {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub kind: ProductKind,
    pub price_fen: i64,
    #[sqlx(try_from = "Flag")]
    pub published: bool,
    pub publish_at: Option<i64>,
    #[sqlx(try_from = "Flag")]
    pub featured: bool,
    pub position: i64,
}

impl CourseRow {
    pub fn price(&self) -> crate::domain::Fen {
        crate::domain::Fen(self.price_fen)
    }
}

/// Every course, in shop order (position, then newest).
pub async fn list(db: &Db) -> Result<Vec<CourseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, slug, title, kind, price_fen, published, publish_at, featured, position FROM courses \
         ORDER BY position, created_at DESC, id DESC",
    )
    .fetch_all(db.read())
    .await
}

const EDIT_COLUMNS: &str = "slug, kind, category_id, instructor_id, title, subtitle, description, cover_url, price_fen, \
     original_price_fen, outcomes, audience, non_refundable, refund_window_days, refund_max_consumed_pct, \
     membership_days, consult_minutes, featured, position, sale_ends_at, commission_bp, membership_period, membership_scope, \
     member_rule, member_price_fen";

/// A course as the editor shows it, with its publication state.
pub struct Editable {
    pub input: CourseInput,
    pub published: bool,
    pub publish_at: Option<i64>,
}

pub async fn find(db: &Db, id: CourseId) -> Result<Option<Editable>, sqlx::Error> {
    let sql = format!("SELECT {EDIT_COLUMNS}, published, publish_at FROM courses WHERE id = $1");
    let row: Option<EditRow> = sqlx::query_as(&sql).bind(id).fetch_optional(db.read()).await?;
    Ok(row.map(|r| Editable {
        input: CourseInput {
            slug: r.slug,
            kind: r.kind,
            category_id: r.category_id,
            instructor_id: r.instructor_id,
            title: r.title,
            subtitle: r.subtitle,
            description: r.description,
            cover_url: r.cover_url,
            price_fen: r.price_fen,
            original_price_fen: r.original_price_fen,
            outcomes: r.outcomes,
            audience: r.audience,
            non_refundable: r.non_refundable,
            refund_window_days: r.refund_window_days,
            refund_max_consumed_pct: r.refund_max_consumed_pct,
            membership_days: r.membership_days,
            membership_period: r
                .membership_period
                .as_deref()
                .and_then(crate::domain::membership::Period::parse)
                .map(|p| p.as_str()),
            membership_scope: crate::domain::membership::Scope::parse(&r.membership_scope).as_str(),
            member_rule: crate::domain::membership::MemberRule::from_parts(&r.member_rule, r.member_price_fen).as_str(),
            member_price_fen: r.member_price_fen,
            consult_minutes: r.consult_minutes,
            featured: r.featured,
            position: r.position,
            sale_ends_at: r.sale_ends_at,
            commission_bp: r.commission_bp,
        },
        published: r.published,
        publish_at: r.publish_at,
    }))
}

/// A course's editable columns as stored.
#[derive(sqlx::FromRow)]
struct EditRow {
    slug: String,
    #[sqlx(try_from = "String")]
    kind: ProductKind,
    category_id: CategoryId,
    instructor_id: InstructorId,
    title: String,
    subtitle: String,
    description: String,
    cover_url: String,
    price_fen: i64,
    original_price_fen: i64,
    outcomes: String,
    audience: String,
    #[sqlx(try_from = "Flag")]
    non_refundable: bool,
    refund_window_days: i64,
    refund_max_consumed_pct: i64,
    membership_days: Option<i64>,
    consult_minutes: Option<i64>,
    #[sqlx(try_from = "Flag")]
    featured: bool,
    position: i64,
    sale_ends_at: Option<i64>,
    commission_bp: Option<i64>,
    membership_period: Option<String>,
    membership_scope: String,
    member_rule: String,
    member_price_fen: Option<i64>,
    #[sqlx(try_from = "Flag")]
    published: bool,
    publish_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("slug taken")]
    SlugTaken,
    #[error("category or instructor missing")]
    MissingReference,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn save_error(e: sqlx::Error) -> SaveError {
    if is_unique_violation(&e) {
        SaveError::SlugTaken
    } else if e.as_database_error().is_some_and(|d| d.is_foreign_key_violation()) {
        SaveError::MissingReference
    } else {
        SaveError::Db(e)
    }
}

async fn references_exist(db: &Db, c: &CourseInput) -> Result<bool, sqlx::Error> {
    let found: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM categories WHERE id = $1) + (SELECT COUNT(*) FROM instructors WHERE id = $2)",
    )
    .bind(c.category_id)
    .bind(c.instructor_id)
    .fetch_one(db.read())
    .await?;
    Ok(found == 2)
}

/// A new course, unpublished (a draft until staff publish it).
pub async fn create(db: &Db, c: &CourseInput, now: i64) -> Result<CourseId, SaveError> {
    if !references_exist(db, c).await? {
        return Err(SaveError::MissingReference);
    }
    let sql = format!(
        "INSERT INTO courses ({EDIT_COLUMNS}, published, created_at, updated_at) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, 0, $26, $26) RETURNING id"
    );
    bind_input(sqlx::query_scalar(&sql), c).bind(now).fetch_one(db.write()).await.map_err(save_error)
}

pub async fn update(db: &Db, id: CourseId, c: &CourseInput, now: i64) -> Result<(), SaveError> {
    if !references_exist(db, c).await? {
        return Err(SaveError::MissingReference);
    }
    let sql = "UPDATE courses SET slug = $1, kind = $2, category_id = $3, instructor_id = $4, title = $5, subtitle = $6, \
               description = $7, cover_url = $8, price_fen = $9, original_price_fen = $10, outcomes = $11, audience = $12, \
               non_refundable = $13, refund_window_days = $14, refund_max_consumed_pct = $15, membership_days = $16, \
               consult_minutes = $17, featured = $18, position = $19, sale_ends_at = $20, commission_bp = $21, \
               membership_period = $22, membership_scope = $23, member_rule = $24, member_price_fen = $25, updated_at = $26 \
               WHERE id = $27";
    bind_input(sqlx::query(sql), c).bind(now).bind(id).execute(db.write()).await.map_err(save_error)?;
    Ok(())
}

type Query<'q, O> = sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>;

trait BindInput<'q>: Sized {
    fn bind_i64(self, v: i64) -> Self;
    fn bind_opt(self, v: Option<i64>) -> Self;
    fn bind_str(self, v: &'q str) -> Self;
    fn bind_opt_str(self, v: Option<&'q str>) -> Self;
}

impl<'q, O> BindInput<'q> for Query<'q, O> {
    fn bind_i64(self, v: i64) -> Self {
        self.bind(v)
    }
    fn bind_opt(self, v: Option<i64>) -> Self {
        self.bind(v)
    }
    fn bind_str(self, v: &'q str) -> Self {
        self.bind(v)
    }
    fn bind_opt_str(self, v: Option<&'q str>) -> Self {
        self.bind(v)
    }
}

impl<'q> BindInput<'q> for sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    fn bind_i64(self, v: i64) -> Self {
        self.bind(v)
    }
    fn bind_opt(self, v: Option<i64>) -> Self {
        self.bind(v)
    }
    fn bind_str(self, v: &'q str) -> Self {
        self.bind(v)
    }
    fn bind_opt_str(self, v: Option<&'q str>) -> Self {
        self.bind(v)
    }
}

/// Binds the 25 editable columns in `EDIT_COLUMNS` order.
fn bind_input<'q, Q: BindInput<'q>>(q: Q, c: &'q CourseInput) -> Q {
    q.bind_str(&c.slug)
        .bind_str(c.kind.as_str())
        .bind_i64(c.category_id.0)
        .bind_i64(c.instructor_id.0)
        .bind_str(&c.title)
        .bind_str(&c.subtitle)
        .bind_str(&c.description)
        .bind_str(&c.cover_url)
        .bind_i64(c.price_fen)
        .bind_i64(c.original_price_fen)
        .bind_str(&c.outcomes)
        .bind_str(&c.audience)
        .bind_i64(i64::from(c.non_refundable))
        .bind_i64(c.refund_window_days)
        .bind_i64(c.refund_max_consumed_pct)
        .bind_opt(c.membership_days)
        .bind_opt(c.consult_minutes)
        .bind_i64(i64::from(c.featured))
        .bind_i64(c.position)
        .bind_opt(c.sale_ends_at)
        .bind_opt(c.commission_bp)
        .bind_opt_str(c.membership_period)
        .bind_str(c.membership_scope)
        .bind_str(c.member_rule)
        .bind_opt(c.member_price_fen)
}

/// Publish now, unpublish, or schedule (`publish_at` in the future, unpublished until then).
pub async fn set_publication(
    db: &Db,
    id: CourseId,
    published: bool,
    publish_at: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE courses SET published = $1, publish_at = $2, updated_at = $3 WHERE id = $4")
        .bind(i64::from(published))
        .bind(publish_at)
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Publishes the scheduled courses whose time has come; returns how many.
pub async fn publish_due(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE courses SET published = 1, publish_at = NULL, updated_at = $1 \
         WHERE published = 0 AND publish_at IS NOT NULL AND publish_at <= $1",
    )
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected())
}

/// Ends the limited-time prices whose time has come: back to the original price; returns how many.
pub async fn end_due_sales(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE courses SET price_fen = original_price_fen, sale_ends_at = NULL, updated_at = $1 \
         WHERE sale_ends_at IS NOT NULL AND sale_ends_at <= $1",
    )
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected())
}

/// (id, name) pairs for the editor's category and instructor menus.
pub async fn categories(db: &Db) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM categories ORDER BY position, id").fetch_all(db.read()).await
}

pub async fn instructors(db: &Db) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM instructors ORDER BY id").fetch_all(db.read()).await
}

pub async fn set_cover(db: &Db, id: CourseId, url: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE courses SET cover_url = $1, updated_at = $2 WHERE id = $3")
        .bind(url)
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CategoryRow {
    pub id: CategoryId,
    pub slug: String,
    pub name: String,
    pub position: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstructorRow {
    pub id: InstructorId,
    pub name: String,
    pub title: String,
    pub bio: String,
}

pub async fn category_rows(db: &Db) -> Result<Vec<CategoryRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, slug, name, position FROM categories ORDER BY position, id").fetch_all(db.read()).await
}

pub async fn instructor_rows(db: &Db) -> Result<Vec<InstructorRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, title, bio FROM instructors ORDER BY id").fetch_all(db.read()).await
}

/// A new category; SlugTaken when the slug is in use.
pub async fn add_category(db: &Db, slug: &str, name: &str, position: i64) -> Result<CategoryId, SaveError> {
    sqlx::query_scalar("INSERT INTO categories (slug, name, position) VALUES ($1, $2, $3) RETURNING id")
        .bind(slug)
        .bind(name)
        .bind(position)
        .fetch_one(db.write())
        .await
        .map_err(save_error)
}

/// False when there is no such category.
pub async fn update_category(db: &Db, id: CategoryId, name: &str, position: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE categories SET name = $1, position = $2 WHERE id = $3")
        .bind(name)
        .bind(position)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn add_instructor(db: &Db, name: &str, title: &str, bio: &str) -> Result<InstructorId, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO instructors (name, title, bio, avatar_url) VALUES ($1, $2, $3, '') RETURNING id")
        .bind(name)
        .bind(title)
        .bind(bio)
        .fetch_one(db.write())
        .await
}

pub async fn update_instructor(
    db: &Db,
    id: InstructorId,
    name: &str,
    title: &str,
    bio: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE instructors SET name = $1, title = $2, bio = $3 WHERE id = $4")
        .bind(name)
        .bind(title)
        .bind(bio)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A bundle's courses, in this order, replacing what it had (one transaction). The caller reloads
/// and announces the catalog.
pub async fn set_bundle(db: &Db, bundle: CourseId, courses: &[CourseId], now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    sqlx::query("DELETE FROM bundle_items WHERE bundle_id = $1").bind(bundle).execute(&mut *tx).await?;
    for (position, course) in courses.iter().enumerate() {
        sqlx::query("INSERT INTO bundle_items (bundle_id, course_id, position) VALUES ($1, $2, $3)")
            .bind(bundle)
            .bind(*course)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE courses SET updated_at = $1 WHERE id = $2").bind(now).bind(bundle).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// A column's plan, replacing what it had. The caller reloads and announces the catalog.
pub async fn set_column(
    db: &Db,
    course: CourseId,
    plan: &crate::domain::catalog::ColumnPlan,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    sqlx::query(
        "INSERT INTO course_columns (course_id, planned, schedule) VALUES ($1, $2, $3) \
         ON CONFLICT (course_id) DO UPDATE SET planned = $2, schedule = $3",
    )
    .bind(course)
    .bind(plan.planned)
    .bind(&plan.schedule)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE courses SET updated_at = $1 WHERE id = $2").bind(now).bind(course).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
