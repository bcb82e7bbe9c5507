//! Checking rows against the shop and writing them, a batch at a time (one transaction each,
//! multi-row statements for the bulk). What exists already is looked up per batch, so each row is
//! an insert, an update of what changed, or nothing: a second run of the same export writes
//! nothing. Memory holds one batch plus the phone → account map of the export's learners.
//!
//! Safety rules: a phone already registered is merged, never duplicated; an entitlement that was
//! revoked in the shop (a refund, staff) is never granted again by an import; progress made in
//! the shop after the export is never overwritten by older imported progress.

use crate::domain::CourseId;
use crate::domain::UserId;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use sqlx::{Any, Transaction};

use super::{Entity, Report, Shop};
use crate::domain::import::{EntitlementRow, MappingRow, OrderRow, ProgressRow, UserRow};
use crate::domain::media::is_complete;
use crate::domain::order::new_order_no;
use crate::domain::time::now;
use crate::store::users::default_nickname;
use crate::store::{Db, Topic, in_list, values_list};

/// Rows per transaction.
pub const BATCH: usize = 1000;
/// Rows per multi-row statement (orders have 16 parameters a row; SQLite allows 32,766).
const ROWS_PER_STATEMENT: usize = 500;

/// Progress for a person watching (a bar in a terminal, nothing on the web), in bytes of a file.
pub trait Progress: Sync {
    fn start(&self, _file: &str, _bytes: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

pub struct Silent;

impl Progress for Silent {}

/// A checked row and its line in the file.
pub enum Parsed {
    Mapping(MappingRow),
    User(UserRow),
    Order(OrderRow),
    Entitlement(EntitlementRow),
    Progress(ProgressRow),
}

struct CourseInfo {
    title: String,
    kind: String,
    non_refundable: i64,
    window_days: i64,
    max_pct: i64,
}

/// The state of one import run across its batches.
pub struct Run<'a> {
    db: &'a Db,
    shop: &'a Shop,
    dry_run: bool,
    courses: HashMap<i64, CourseInfo>,
    /// product id → course id.
    mapped: HashMap<String, i64>,
    /// phone → account id of every learner met so far (0: in the export, not written in a dry run).
    ids: HashMap<String, i64>,
    /// Phones looked up and not found (so not looked up again).
    unknown: HashSet<String>,
    /// Hashes of the order ids met so far, to refuse an order id twice in the export.
    seen_orders: HashSet<u64>,
}

fn hash_of(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

impl<'a> Run<'a> {
    pub async fn new(db: &'a Db, shop: &'a Shop, dry_run: bool) -> anyhow::Result<Run<'a>> {
        Ok(Run {
            db,
            shop,
            dry_run,
            courses: course_info(db).await?,
            mapped: shop.mappings.clone(),
            ids: HashMap::new(),
            unknown: HashSet::new(),
            seen_orders: HashSet::new(),
        })
    }

    /// Checks and (unless a dry run) writes one batch of rows of `entity` read from `file`.
    pub async fn batch(
        &mut self,
        entity: Entity,
        file: &str,
        rows: Vec<(usize, Parsed)>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let result = match entity {
            Entity::Courses => self.mappings(file, rows, report).await,
            Entity::Users => self.users(rows, report).await,
            Entity::Orders => self.orders(file, rows, report).await,
            Entity::Entitlements => self.entitlements(file, rows, report).await,
            Entity::Progress => self.progress(file, rows, report).await,
        };
        if !self.dry_run {
            for topic in [Topic::Users, Topic::Access, Topic::Orders, Topic::Progress] {
                self.db.changed(topic);
            }
        }
        result
    }

    /// Looks up the accounts of phones not met yet.
    async fn learn_phones<'p>(&mut self, phones: impl Iterator<Item = &'p str>) -> anyhow::Result<()> {
        let mut wanted: Vec<&str> =
            phones.filter(|p| !self.ids.contains_key(*p) && !self.unknown.contains(*p)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        for chunk in wanted.chunks(ROWS_PER_STATEMENT) {
            let sql = format!("SELECT phone, id FROM users WHERE phone IN ({})", in_list(chunk.len()));
            let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
            for phone in chunk {
                query = query.bind(*phone);
            }
            let found: HashMap<String, i64> = query.fetch_all(self.db.read()).await?.into_iter().collect();
            for phone in chunk {
                match found.get(*phone) {
                    Some(id) => {
                        self.ids.insert(phone.to_string(), *id);
                    }
                    None => {
                        self.unknown.insert(phone.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    /// The phone is a learner (in the export or registered) and the product has a course.
    fn known(&self, phone: &str, product: &str) -> Result<(i64, i64), String> {
        let Some(user_id) = self.ids.get(phone) else {
            return Err(format!("phone: {phone} is neither in users nor registered"));
        };
        let Some(course_id) = self.mapped.get(product) else {
            return Err(format!("product_id: {product} has no course mapping"));
        };
        Ok((*user_id, *course_id))
    }

    async fn begin(&self) -> anyhow::Result<Option<Transaction<'static, Any>>> {
        Ok(if self.dry_run { None } else { Some(self.db.write().begin().await?) })
    }

    async fn mappings(&mut self, file: &str, rows: Vec<(usize, Parsed)>, report: &mut Report) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        for (line, row) in rows {
            let Parsed::Mapping(m) = row else { continue };
            let Some(course) = self.shop.courses.get(&m.course_slug) else {
                let why = format!("course_slug: no course {} in the shop", m.course_slug);
                report.reject(Entity::Courses, file, line, why);
                continue;
            };
            let before = self.mapped.insert(m.product_id.clone(), course.id);
            let Some(tx) = tx.as_mut() else { continue };
            let counts = report.counts(Entity::Courses);
            match before {
                Some(id) if id == course.id => counts.unchanged += 1,
                before => {
                    if before.is_some() {
                        counts.updated += 1
                    } else {
                        counts.inserted += 1
                    }
                    sqlx::query(
                        "INSERT INTO course_mappings (product_id, course_id, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (product_id) DO UPDATE SET course_id = excluded.course_id, updated_at = excluded.updated_at",
                    )
                    .bind(&m.product_id)
                    .bind(course.id)
                    .bind(now())
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        Ok(())
    }

    /// Creates the accounts that do not exist and adds WeChat identities.
    async fn users(&mut self, rows: Vec<(usize, Parsed)>, report: &mut Report) -> anyhow::Result<()> {
        let users: Vec<UserRow> =
            rows.into_iter().filter_map(|(_, r)| if let Parsed::User(u) = r { Some(u) } else { None }).collect();
        self.learn_phones(users.iter().map(|u| u.phone.as_str())).await?;
        let mut new: Vec<&UserRow> = Vec::new();
        let mut fresh: HashSet<&str> = HashSet::new();
        for u in &users {
            if !self.ids.contains_key(u.phone.as_str()) && fresh.insert(u.phone.as_str()) {
                new.push(u);
            }
        }
        let Some(mut tx) = self.begin().await? else {
            for u in new {
                self.unknown.remove(u.phone.as_str());
                self.ids.insert(u.phone.as_str().to_string(), 0);
            }
            return Ok(());
        };
        let at = now();
        for chunk in new.chunks(ROWS_PER_STATEMENT) {
            let sql = users_insert_sql(chunk.len());
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            for u in chunk {
                let nickname = if u.nickname.is_empty() { default_nickname(&u.phone) } else { u.nickname.clone() };
                query = query.bind(u.phone.as_str()).bind(nickname).bind(u.created_at.unwrap_or(at)).bind(at);
            }
            for (id, phone) in query.fetch_all(&mut *tx).await? {
                self.unknown.remove(&phone);
                self.ids.insert(phone, id);
            }
        }
        let identities: Vec<(i64, &str, &str)> = users
            .iter()
            .flat_map(|u| {
                let id = self.ids.get(u.phone.as_str()).copied().unwrap_or(0);
                [("wechat_unionid", u.unionid.as_str()), ("wechat_openid_mp", u.openid.as_str())]
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(move |(provider, value)| (id, provider, value))
            })
            .collect();
        let mut added: HashSet<i64> = HashSet::new();
        for chunk in identities.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO user_identities (user_id, provider, value, created_at) VALUES {} \
                 ON CONFLICT (provider, value) DO NOTHING RETURNING user_id",
                values_list(chunk.len(), 4)
            );
            let mut query = sqlx::query_scalar::<_, i64>(&sql);
            for (id, provider, value) in chunk {
                query = query.bind(*id).bind(*provider).bind(*value).bind(at);
            }
            added.extend(query.fetch_all(&mut *tx).await?);
        }
        tx.commit().await?;
        let mut counted: HashSet<&str> = HashSet::new();
        for u in &users {
            let counts = report.counts(Entity::Users);
            let id = self.ids.get(u.phone.as_str()).copied().unwrap_or(0);
            if fresh.contains(u.phone.as_str()) && counted.insert(u.phone.as_str()) {
                counts.inserted += 1;
            } else if added.contains(&id) {
                counts.updated += 1;
            } else {
                counts.unchanged += 1;
            }
        }
        Ok(())
    }

    async fn orders(&mut self, file: &str, rows: Vec<(usize, Parsed)>, report: &mut Report) -> anyhow::Result<()> {
        let rows: Vec<(usize, OrderRow)> =
            rows.into_iter().filter_map(|(l, r)| if let Parsed::Order(o) = r { Some((l, o)) } else { None }).collect();
        self.learn_phones(rows.iter().map(|(_, o)| o.phone.as_str())).await?;
        let mut good: Vec<(OrderRow, i64, i64)> = Vec::with_capacity(rows.len());
        for (line, o) in rows {
            let check = self.known(o.phone.as_str(), &o.product_id).and_then(|ids| {
                if self.seen_orders.insert(hash_of(&o.order_id)) {
                    Ok(ids)
                } else {
                    Err(format!("order_id: {} twice in the export", o.order_id))
                }
            });
            match check {
                Ok((user_id, course_id)) if self.courses.contains_key(&course_id) => good.push((o, user_id, course_id)),
                Ok(_) => {}
                Err(why) => report.reject(Entity::Orders, file, line, why),
            }
        }
        let Some(mut tx) = self.begin().await? else { return Ok(()) };
        let externals: Vec<String> = good.iter().map(|(o, ..)| format!("mp:{}", o.order_id)).collect();
        let mut existing: HashMap<String, (i64, String, i64, i64)> = HashMap::new();
        for chunk in externals.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT external_id, id, status, amount_fen, refunded_fen FROM orders WHERE external_id IN ({})",
                in_list(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, i64, String, i64, i64)>(&sql);
            for e in chunk {
                query = query.bind(e);
            }
            for (external_id, id, status, amount, refunded) in query.fetch_all(&mut *tx).await? {
                existing.insert(external_id, (id, status, amount, refunded));
            }
        }
        let at = now();
        let mut new: Vec<(&OrderRow, i64, i64, &str)> = Vec::new();
        for ((row, user_id, course_id), external) in good.iter().zip(&externals) {
            let counts = report.counts(Entity::Orders);
            match existing.get(external) {
                Some((_, status, amount, refunded))
                    if status == row.status.as_str() && *amount == row.amount.0 && *refunded == row.refunded.0 =>
                {
                    counts.unchanged += 1;
                }
                Some((order_id, ..)) => {
                    counts.updated += 1;
                    sqlx::query(
                        "UPDATE orders SET status = $1, amount_fen = $2, refunded_fen = $3, updated_at = $4 WHERE id = $5",
                    )
                    .bind(row.status.as_str())
                    .bind(row.amount.0)
                    .bind(row.refunded.0)
                    .bind(at)
                    .bind(order_id)
                    .execute(&mut *tx)
                    .await?;
                    order_access(
                        &mut tx,
                        UserId(*user_id),
                        CourseId(*course_id),
                        *order_id,
                        row.status.grants_access(),
                        at,
                    )
                    .await?;
                }
                None => {
                    counts.inserted += 1;
                    new.push((row, *user_id, *course_id, external.as_str()));
                }
            }
        }
        for chunk in new.chunks(ROWS_PER_STATEMENT) {
            // 16 values a row; the constant columns are written into the statement.
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p = |c: usize| format!("${}", r * 16 + c);
                    format!(
                        "({}, {}, {}, {}, {}, {}, 0, {}, {}, {}, {}, '', {}, {}, {}, {}, {}, {}, {}, {}, {})",
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6),
                        p(6),
                        p(7),
                        p(8),
                        p(9),
                        p(10),
                        p(11),
                        p(11),
                        p(11),
                        p(12),
                        p(13),
                        p(14),
                        p(15),
                        p(16)
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO orders (order_no, user_id, course_id, item_title, item_kind, price_fen, discount_fen, amount_fen, \
                 non_refundable, refund_window_days, refund_max_consumed_pct, refund_terms_shown, status, created_at, \
                 expires_at, paid_at, pay_channel, provider_txn_id, refunded_fen, updated_at, external_id) \
                 VALUES {} RETURNING external_id, id",
                values.join(", ")
            );
            let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
            for (row, user_id, course_id, external) in chunk {
                let Some(course) = self.courses.get(course_id) else { continue };
                query = query
                    .bind(new_order_no(row.paid_at))
                    .bind(*user_id)
                    .bind(*course_id)
                    .bind(&course.title)
                    .bind(&course.kind)
                    .bind(row.amount.0)
                    .bind(course.non_refundable)
                    .bind(course.window_days)
                    .bind(course.max_pct)
                    .bind(row.status.as_str())
                    .bind(row.paid_at)
                    .bind(format!("miniprogram:{}", row.provider))
                    .bind(&row.transaction_id)
                    .bind(row.refunded.0)
                    .bind(at)
                    .bind(*external);
            }
            let ids: HashMap<String, i64> = query.fetch_all(&mut *tx).await?.into_iter().collect();
            // A full refund takes the course back: a new refunded order grants nothing.
            let grants: Vec<(i64, i64, i64, i64)> = chunk
                .iter()
                .filter(|(row, ..)| row.status.grants_access())
                .filter_map(|(row, user, course, external)| Some((*user, *course, *ids.get(*external)?, row.paid_at)))
                .collect();
            if grants.is_empty() {
                continue;
            }
            let sql = format!(
                "INSERT INTO entitlements (user_id, course_id, source, order_id, granted_at) VALUES {} \
                 ON CONFLICT (user_id, course_id) DO NOTHING",
                (0..grants.len())
                    .map(|r| format!("(${}, ${}, 'import', ${}, ${})", r * 4 + 1, r * 4 + 2, r * 4 + 3, r * 4 + 4))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (user, course, order, granted) in grants {
                query = query.bind(user).bind(course).bind(order).bind(granted);
            }
            query.execute(&mut *tx).await?;
        }
        // Orders of any day may have come or changed: stored daily sales are counted again.
        crate::store::sales_days::forget_all(self.db, &mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn entitlements(
        &mut self,
        file: &str,
        rows: Vec<(usize, Parsed)>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let rows: Vec<(usize, EntitlementRow)> = rows
            .into_iter()
            .filter_map(|(l, r)| if let Parsed::Entitlement(e) = r { Some((l, e)) } else { None })
            .collect();
        self.learn_phones(rows.iter().map(|(_, e)| e.phone.as_str())).await?;
        let mut tx = self.begin().await?;
        let at = now();
        for (line, e) in rows {
            let (user_id, course_id) = match self.known(e.phone.as_str(), &e.product_id) {
                Ok(ids) => ids,
                Err(why) => {
                    report.reject(Entity::Entitlements, file, line, why);
                    continue;
                }
            };
            let Some(tx) = tx.as_mut() else { continue };
            let done = if e.revoked {
                sqlx::query(
                    "UPDATE entitlements SET revoked_at = $1 WHERE user_id = $2 AND course_id = $3 AND source = 'import' AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(user_id)
                .bind(course_id)
                .execute(&mut **tx)
                .await?
            } else {
                sqlx::query(
                    "INSERT INTO entitlements (user_id, course_id, source, granted_at) VALUES ($1, $2, 'import', $3) \
                     ON CONFLICT (user_id, course_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(course_id)
                .bind(e.granted_at.unwrap_or(at))
                .execute(&mut **tx)
                .await?
            };
            let counts = report.counts(Entity::Entitlements);
            match (done.rows_affected(), e.revoked) {
                (0, _) => counts.unchanged += 1,
                (_, true) => counts.updated += 1,
                (_, false) => counts.inserted += 1,
            }
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        Ok(())
    }

    async fn progress(&mut self, file: &str, rows: Vec<(usize, Parsed)>, report: &mut Report) -> anyhow::Result<()> {
        let rows: Vec<(usize, ProgressRow)> = rows
            .into_iter()
            .filter_map(|(l, r)| if let Parsed::Progress(p) = r { Some((l, p)) } else { None })
            .collect();
        self.learn_phones(rows.iter().map(|(_, p)| p.phone.as_str())).await?;
        let at = now();
        // (user, lesson) → (course, position, duration, completed at, updated at): the newest report
        // of each lesson in the batch.
        type Latest = (i64, i64, i64, Option<i64>, i64);
        let mut latest: HashMap<(i64, i64), Latest> = HashMap::new();
        let mut duplicates = 0u64;
        for (line, p) in rows {
            let why = self.known(p.phone.as_str(), &p.product_id).and_then(|(user_id, course_id)| {
                let lessons = self.shop.course_by_id(course_id).ok_or("product_id: the course is gone".to_string())?;
                let (lesson_id, duration) = *lessons
                    .lessons
                    .get(p.lesson_no - 1)
                    .ok_or(format!("lesson_no: the course has {} lessons", lessons.lessons.len()))?;
                Ok((user_id, course_id, lesson_id, duration))
            });
            let (user_id, course_id, lesson_id, duration) = match why {
                Ok(found) => found,
                Err(why) => {
                    report.reject(Entity::Progress, file, line, why);
                    continue;
                }
            };
            let position = if duration > 0 { p.position_secs.min(duration) } else { p.position_secs };
            let completed = p.completed || is_complete(position, duration);
            let updated = p.updated_at.unwrap_or(at);
            let entry = (course_id, position, duration, completed.then_some(updated), updated);
            match latest.get(&(user_id, lesson_id)) {
                Some(older) if older.4 > updated => duplicates += 1,
                Some(_) => {
                    duplicates += 1;
                    latest.insert((user_id, lesson_id), entry);
                }
                None => {
                    latest.insert((user_id, lesson_id), entry);
                }
            }
        }
        report.counts(Entity::Progress).unchanged += duplicates;
        let Some(mut tx) = self.begin().await? else { return Ok(()) };
        let mut users: Vec<i64> = latest.keys().map(|(u, _)| *u).collect();
        users.sort_unstable();
        users.dedup();
        let mut existing: HashSet<(i64, i64)> = HashSet::new();
        for chunk in users.chunks(ROWS_PER_STATEMENT) {
            let sql =
                format!("SELECT user_id, lesson_id FROM lesson_progress WHERE user_id IN ({})", in_list(chunk.len()));
            let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
            for u in chunk {
                query = query.bind(*u);
            }
            existing.extend(query.fetch_all(&mut *tx).await?);
        }
        let furthest = crate::store::dialect::greatest(
            self.db.backend(),
            "lesson_progress.furthest_secs",
            "excluded.furthest_secs",
        );
        let entries: Vec<_> = latest.into_iter().collect();
        let mut written: HashSet<(i64, i64)> = HashSet::new();
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p = |c: usize| format!("${}", r * 7 + c);
                    format!("({}, {}, {}, {}, {}, {}, {}, {})", p(1), p(2), p(3), p(4), p(4), p(5), p(6), p(7))
                })
                .collect();
            // Older imported progress never overwrites what the learner did here since.
            let sql = format!(
                "INSERT INTO lesson_progress (user_id, lesson_id, course_id, last_position_secs, furthest_secs, duration_secs, completed_at, updated_at) \
                 VALUES {} \
                 ON CONFLICT (user_id, lesson_id) DO UPDATE SET last_position_secs = excluded.last_position_secs, \
                 furthest_secs = {furthest}, completed_at = COALESCE(lesson_progress.completed_at, excluded.completed_at), \
                 updated_at = excluded.updated_at WHERE lesson_progress.updated_at < excluded.updated_at \
                 RETURNING user_id, lesson_id",
                values.join(", ")
            );
            let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
            for ((user, lesson), (course, position, duration, completed_at, updated)) in chunk {
                query = query
                    .bind(*user)
                    .bind(*lesson)
                    .bind(*course)
                    .bind(*position)
                    .bind(*duration)
                    .bind(*completed_at)
                    .bind(*updated);
            }
            written.extend(query.fetch_all(&mut *tx).await?);
        }
        tx.commit().await?;
        let counts = report.counts(Entity::Progress);
        for (key, _) in &entries {
            match (written.contains(key), existing.contains(key)) {
                (false, _) => counts.unchanged += 1,
                (true, true) => counts.updated += 1,
                (true, false) => counts.inserted += 1,
            }
        }
        Ok(())
    }
}

/// A multi-row insert of learners: phone, nickname, created and updated times a row.
fn users_insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| format!("(${}, ${}, 'learner', ${}, ${})", r * 4 + 1, r * 4 + 2, r * 4 + 3, r * 4 + 4))
        .collect();
    format!(
        "INSERT INTO users (phone, nickname, role, created_at, updated_at) VALUES {} RETURNING id, phone",
        values.join(", ")
    )
}

async fn course_info(db: &Db) -> anyhow::Result<HashMap<i64, CourseInfo>> {
    let rows: Vec<(i64, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, title, kind, non_refundable, refund_window_days, refund_max_consumed_pct FROM courses",
    )
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, title, kind, non_refundable, window_days, max_pct)| {
            (id, CourseInfo { title, kind, non_refundable, window_days, max_pct })
        })
        .collect())
}

/// Grants the course for an order unless the learner ever had it revoked; or takes back what
/// this order granted.
async fn order_access(
    tx: &mut Transaction<'static, Any>,
    user_id: UserId,
    course_id: CourseId,
    order_id: i64,
    grants: bool,
    at: i64,
) -> Result<(), sqlx::Error> {
    if grants {
        sqlx::query(
            "INSERT INTO entitlements (user_id, course_id, source, order_id, granted_at) VALUES ($1, $2, 'import', $3, $4) \
             ON CONFLICT (user_id, course_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(course_id)
        .bind(order_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query("UPDATE entitlements SET revoked_at = $1 WHERE order_id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
