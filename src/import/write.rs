//! Checking rows against the shop and writing them, a batch at a time (one transaction each,
//! multi-row statements for the bulk). What exists already is looked up per batch, so each row is
//! an insert, an update of what changed, or nothing: a second run of the same export writes
//! nothing. Memory holds one batch plus the phone → account map of the export's learners.
//!
//! Safety rules: a phone already registered is merged, never duplicated; an entitlement that was
//! revoked in the shop (a refund, staff) is never granted again by an import; progress made in
//! the shop after the export is never overwritten by older imported progress.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use sqlx::{Any, Transaction};

use super::{Entity, Report, Shop};
use crate::domain::import::{Buyer, EntitlementRow, MappingRow, OrderRow, ProgressRow, UserRow};
use crate::domain::media::is_complete;
use crate::domain::order::new_order_no;
use crate::domain::payment::PaidThrough;
use crate::domain::time::now;
use crate::domain::{CourseId, OrderId, UserId};
use crate::store::identities::{OPENID_MP, UNIONID};
use crate::store::users::{WECHAT_ONLY_NICKNAME, WECHAT_ONLY_PREFIX, default_nickname, wechat_only_phone};
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
    /// buyer key (`Buyer::key`) → account id of every learner met so far (0: in the export, not
    /// written in a dry run).
    ids: HashMap<String, i64>,
    /// Buyers looked up and not found (so not looked up again).
    unknown: HashSet<String>,
    /// Hashes of the order ids met so far, to refuse an order id twice in the export.
    seen_orders: HashSet<u64>,
    /// An import leaves alone what the sync API wrote (it is newer than any export).
    yields_to_sync: bool,
    /// The sync API sends the same record again as it changes.
    sync: bool,
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
            yields_to_sync: true,
            sync: false,
        })
    }

    /// A run for the sync API: records arrive one event at a time, an order id again when the
    /// order changes.
    pub async fn for_sync(db: &'a Db, shop: &'a Shop) -> anyhow::Result<Run<'a>> {
        Ok(Run { yields_to_sync: false, sync: true, ..Run::new(db, shop, false).await? })
    }

    /// Of these records, the ones the sync API has written.
    async fn synced(&self, keys: Vec<String>) -> anyhow::Result<HashSet<String>> {
        if !self.yields_to_sync || keys.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(crate::store::sync::versions(self.db, &keys).await?.into_keys().collect())
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
        if !self.dry_run && !self.sync {
            self.announce();
        }
        result
    }

    /// Tells every instance's caches that accounts, access, orders and progress changed.
    pub fn announce(&self) {
        for topic in [Topic::Users, Topic::Access, Topic::Orders, Topic::Progress] {
            self.db.changed(topic);
        }
    }

    /// Looks up the accounts of buyers not met yet: phones in `users`, WeChat identities in
    /// `user_identities`.
    async fn learn_buyers(&mut self, buyers: impl Iterator<Item = Buyer>) -> anyhow::Result<()> {
        let mut wanted: HashMap<&'static str, Vec<(String, String)>> = HashMap::new();
        for buyer in buyers {
            let key = buyer.key();
            if self.ids.contains_key(&key) || self.unknown.contains(&key) {
                continue;
            }
            let (kind, value) = match buyer {
                Buyer::Phone(p) => ("phone", p.as_str().to_string()),
                Buyer::Unionid(u) => (UNIONID, u),
                Buyer::Openid(o) => (OPENID_MP, o),
            };
            wanted.entry(kind).or_default().push((key, value));
        }
        for (kind, mut list) in wanted {
            list.sort_unstable();
            list.dedup();
            for chunk in list.chunks(ROWS_PER_STATEMENT) {
                let sql = if kind == "phone" {
                    format!("SELECT phone, id FROM users WHERE phone IN ({})", in_list(chunk.len()))
                } else {
                    format!(
                        "SELECT value, user_id FROM user_identities WHERE provider = '{kind}' AND value IN ({})",
                        in_list(chunk.len())
                    )
                };
                let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
                for (_, value) in chunk {
                    query = query.bind(value);
                }
                let found: HashMap<String, i64> = query.fetch_all(self.db.read()).await?.into_iter().collect();
                for (key, value) in chunk {
                    match found.get(value) {
                        Some(id) => self.ids.insert(key.clone(), *id),
                        None => self.unknown.insert(key.clone()).then_some(0),
                    };
                }
            }
        }
        Ok(())
    }

    /// The cohort a row names, among the course's.
    fn cohort(&self, course_id: i64, name: &str) -> Result<Option<i64>, String> {
        match self.shop.course_by_id(course_id) {
            Some(course) => course.cohort(name),
            None if name.is_empty() => Ok(None),
            None => Err("product_id: the course is gone".into()),
        }
    }

    /// The buyer is a learner (in the export or registered) and the product has a course.
    fn known(&self, buyer: &Buyer, product: &str) -> Result<(i64, i64), String> {
        let Some(user_id) = self.ids.get(&buyer.key()) else {
            return Err(match buyer {
                Buyer::Phone(p) => format!("phone: {} is neither in users nor registered", p.as_str()),
                other => format!("{} is neither in users nor known to the shop", other.describe()),
            });
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

    /// Creates the accounts that do not exist (a buyer known only by WeChat gets one too), adds
    /// WeChat identities, and gives a WeChat-only account the phone a later row brings.
    async fn users(&mut self, rows: Vec<(usize, Parsed)>, report: &mut Report) -> anyhow::Result<()> {
        let users: Vec<UserRow> =
            rows.into_iter().filter_map(|(_, r)| if let Parsed::User(u) = r { Some(u) } else { None }).collect();
        self.learn_buyers(users.iter().flat_map(UserRow::buyers)).await?;
        // Each row's account is the one any of its names has; its other names join it.
        let mut new: Vec<(&UserRow, String)> = Vec::new();
        let mut fresh: HashSet<String> = HashSet::new();
        let mut phone_for: Vec<(i64, &str)> = Vec::new();
        for u in &users {
            let keys: Vec<String> = u.buyers().iter().map(Buyer::key).collect();
            match keys.iter().find_map(|k| self.ids.get(k).copied()) {
                Some(id) => {
                    if let Some(phone) = &u.phone
                        && !self.ids.contains_key(&keys[0])
                        && id != 0
                    {
                        phone_for.push((id, phone.as_str()));
                    }
                    for k in &keys {
                        self.unknown.remove(k);
                        self.ids.entry(k.clone()).or_insert(id);
                    }
                }
                None => {
                    if fresh.insert(keys[0].clone()) {
                        let column = match &u.phone {
                            Some(phone) => phone.as_str().to_string(),
                            None => wechat_only_phone(&keys[0]),
                        };
                        new.push((u, column));
                    }
                }
            }
        }
        let Some(mut tx) = self.begin().await? else {
            for (u, _) in new {
                for buyer in u.buyers() {
                    self.unknown.remove(&buyer.key());
                    self.ids.insert(buyer.key(), 0);
                }
            }
            return Ok(());
        };
        let at = now();
        for chunk in new.chunks(ROWS_PER_STATEMENT) {
            let sql = users_insert_sql(chunk.len());
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            let mut by_column: HashMap<&str, &UserRow> = HashMap::new();
            for (u, column) in chunk {
                let nickname = match (&u.phone, u.nickname.is_empty()) {
                    (_, false) => u.nickname.clone(),
                    (Some(phone), true) => default_nickname(phone),
                    (None, true) => WECHAT_ONLY_NICKNAME.to_string(),
                };
                query = query.bind(column.as_str()).bind(nickname).bind(u.created_at.unwrap_or(at)).bind(at);
                by_column.insert(column.as_str(), u);
            }
            for (id, column) in query.fetch_all(&mut *tx).await? {
                for buyer in by_column.get(column.as_str()).map(|u| u.buyers()).unwrap_or_default() {
                    self.unknown.remove(&buyer.key());
                    self.ids.insert(buyer.key(), id);
                }
            }
        }
        let mut added: HashSet<i64> = HashSet::new();
        for (id, phone) in phone_for {
            // Only a phone no account has (PostgreSQL would abort the transaction on a clash).
            let done = sqlx::query(
                "UPDATE users SET phone = $1, updated_at = $2 WHERE id = $3 AND phone LIKE $4 \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE phone = $1)",
            )
            .bind(phone)
            .bind(at)
            .bind(id)
            .bind(format!("{WECHAT_ONLY_PREFIX}%"))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() > 0 {
                added.insert(id);
            }
        }
        let identities: Vec<(i64, &str, &str)> = users
            .iter()
            .flat_map(|u| {
                let id = u.buyers().first().and_then(|b| self.ids.get(&b.key())).copied().unwrap_or(0);
                [(UNIONID, u.unionid.as_str()), (OPENID_MP, u.openid.as_str())]
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(move |(provider, value)| (id, provider, value))
            })
            .collect();
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
        let mut counted: HashSet<String> = HashSet::new();
        for u in &users {
            let counts = report.counts(Entity::Users);
            let Some(first) = u.buyers().first().map(Buyer::key) else { continue };
            let id = self.ids.get(&first).copied().unwrap_or(0);
            if fresh.contains(&first) && counted.insert(first) {
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
        self.learn_buyers(rows.iter().map(|(_, o)| o.buyer.clone())).await?;
        let mut good: Vec<(OrderRow, i64, i64)> = Vec::with_capacity(rows.len());
        // (external id, user, course, cohort) of the orders that name a cohort.
        let mut in_cohorts: Vec<(String, i64, i64, i64)> = Vec::new();
        for (line, o) in rows {
            let check = self.known(&o.buyer, &o.product_id).and_then(|ids| {
                let cohort = self.cohort(ids.1, &o.cohort)?;
                if self.sync || self.seen_orders.insert(hash_of(&o.order_id)) {
                    Ok((ids, cohort))
                } else {
                    Err(format!("order_id: {} twice in the export", o.order_id))
                }
            });
            match check {
                Ok(((user_id, course_id), cohort)) if self.courses.contains_key(&course_id) => {
                    if let Some(cohort) = cohort {
                        in_cohorts.push((format!("mp:{}", o.order_id), user_id, course_id, cohort));
                    }
                    good.push((o, user_id, course_id));
                }
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
        let synced = self.synced(good.iter().map(|(o, ..)| format!("order:{}", o.order_id)).collect()).await?;
        // The mini program's bundle orders give the bundle's courses, as one bought here does.
        let bundles: std::collections::HashSet<i64> = sqlx::query_scalar("SELECT DISTINCT bundle_id FROM bundle_items")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        let mut new: Vec<(&OrderRow, i64, i64, &str)> = Vec::new();
        for ((row, user_id, course_id), external) in good.iter().zip(&externals) {
            let counts = report.counts(Entity::Orders);
            match existing.get(external) {
                Some((_, status, amount, refunded))
                    if status == row.status.as_str() && *amount == row.amount.0 && *refunded == row.refunded.0 =>
                {
                    counts.unchanged += 1;
                }
                Some(_) if synced.contains(&format!("order:{}", row.order_id)) => counts.unchanged += 1,
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
                        OrderId(*order_id),
                        bundles.contains(course_id),
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
                    .bind(PaidThrough::MiniProgram(row.provider.clone()).stored())
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
            for (user, course, order, granted) in &grants {
                query = query.bind(*user).bind(*course).bind(*order).bind(*granted);
            }
            query.execute(&mut *tx).await?;
            for (user, course, order, granted) in grants.into_iter().filter(|g| bundles.contains(&g.1)) {
                let (user, course, order) = (UserId(user), CourseId(course), OrderId(order));
                crate::store::entitlements::grant_bundle_items(&mut tx, user, course, order, granted).await?;
            }
        }
        for (external, user_id, course_id, cohort) in in_cohorts {
            sqlx::query("UPDATE orders SET cohort_id = $1 WHERE external_id = $2 AND cohort_id IS NULL")
                .bind(cohort)
                .bind(&external)
                .execute(&mut *tx)
                .await?;
            place_in_cohort(&mut tx, user_id, course_id, cohort).await?;
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
        self.learn_buyers(rows.iter().map(|(_, e)| e.buyer.clone())).await?;
        let synced = self
            .synced(rows.iter().map(|(_, e)| format!("entitlement:{}:{}", e.buyer.key(), e.product_id)).collect())
            .await?;
        let mut tx = self.begin().await?;
        let at = now();
        for (line, e) in rows {
            let known = self.known(&e.buyer, &e.product_id).and_then(|ids| Ok((ids, self.cohort(ids.1, &e.cohort)?)));
            let ((user_id, course_id), cohort) = match known {
                Ok(found) => found,
                Err(why) => {
                    report.reject(Entity::Entitlements, file, line, why);
                    continue;
                }
            };
            let Some(tx) = tx.as_mut() else { continue };
            if synced.contains(&format!("entitlement:{}:{}", e.buyer.key(), e.product_id)) {
                report.counts(Entity::Entitlements).unchanged += 1;
                continue;
            }
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
                // A sync grant after a sync revocation gives the course back; access the shop took
                // (a refund, staff) is never given back from outside.
                let on_conflict = if self.sync {
                    "DO UPDATE SET revoked_at = NULL WHERE entitlements.source = 'import' AND entitlements.revoked_at IS NOT NULL"
                } else {
                    "DO NOTHING"
                };
                sqlx::query(&format!(
                    "INSERT INTO entitlements (user_id, course_id, source, granted_at) VALUES ($1, $2, 'import', $3) \
                     ON CONFLICT (user_id, course_id) {on_conflict}"
                ))
                .bind(user_id)
                .bind(course_id)
                .bind(e.granted_at.unwrap_or(at))
                .execute(&mut **tx)
                .await?
            };
            if let Some(cohort) = cohort.filter(|_| !e.revoked) {
                place_in_cohort(tx, user_id, course_id, cohort).await?;
            }
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
        self.learn_buyers(rows.iter().map(|(_, p)| p.buyer.clone())).await?;
        let at = now();
        // (user, lesson) → (course, position, duration, completed at, updated at): the newest report
        // of each lesson in the batch.
        type Latest = (i64, i64, i64, Option<i64>, i64);
        let mut latest: HashMap<(i64, i64), Latest> = HashMap::new();
        let mut duplicates = 0u64;
        for (line, p) in rows {
            let why = self.known(&p.buyer, &p.product_id).and_then(|(user_id, course_id)| {
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

/// Grants the course for an order (and a bundle's courses) unless the learner ever had it
/// revoked; or takes back what this order granted.
async fn order_access(
    tx: &mut Transaction<'static, Any>,
    user_id: UserId,
    course_id: CourseId,
    order_id: OrderId,
    bundle: bool,
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
        if bundle {
            crate::store::entitlements::grant_bundle_items(tx, user_id, course_id, order_id, at).await?;
        }
    } else {
        // Every course the order gave (a bundle's too).
        sqlx::query("UPDATE entitlements SET revoked_at = $1 WHERE order_id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The learner's access to the course is in the cohort an import names, unless the shop already
/// placed them in one (a purchase here, or staff's move: the shop's own word wins).
async fn place_in_cohort(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
    course_id: i64,
    cohort: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE entitlements SET cohort_id = $1 WHERE user_id = $2 AND course_id = $3 AND cohort_id IS NULL AND revoked_at IS NULL",
    )
    .bind(cohort)
    .bind(user_id)
    .bind(course_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
