//! Commissions on referred orders and the ledger their balances are summed from. Each movement
//! is written in the transaction of the change that causes it (a payment, a refund, the end of
//! the refund window) under a lock on the order, and keyed so that it happens once.

use sqlx::{Any, Transaction};

use super::orders::Order;
use super::rows::{Flag, Text};
use super::{Db, dialect};
use crate::domain::commission::{self, Balances, CommissionState, Entry, EntryKind, Party, Program, Rate};
use crate::domain::shop::ShopSettings;
use crate::domain::{CourseId, Fen, OrderId, RefundId, UserId};

async fn lock_order(db: &Db, tx: &mut Transaction<'static, Any>, order_id: OrderId) -> Result<(), sqlx::Error> {
    dialect::lock(db.backend(), tx, &format!("commission:{order_id}")).await
}

async fn program(tx: &mut Transaction<'static, Any>) -> Result<Program, sqlx::Error> {
    let pairs: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM shop_settings").fetch_all(&mut **tx).await?;
    Ok(ShopSettings::from_pairs(&pairs).distribution)
}

async fn wechat_ids(tx: &mut Transaction<'static, Any>, user: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM user_identities WHERE user_id = $1").bind(user).fetch_all(&mut **tx).await
}

/// Inside the payment's transaction: the commission on a paid order, when its buyer was bound to
/// a distributor who earns on it (domain::commission::earns). Returns what was earned.
pub async fn record_for_order(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    order: &Order,
    paid_at: i64,
    now: i64,
) -> Result<Option<Fen>, sqlx::Error> {
    let program = program(tx).await?;
    if !program.enabled {
        return Ok(None);
    }
    let bound: Option<(UserId, i64, String)> =
        sqlx::query_as("SELECT distributor_id, bound_at, ip FROM referral_bindings WHERE user_id = $1")
            .bind(order.user_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((distributor, bound_at, ip)) = bound else { return Ok(None) };
    let found: Option<(Text, Text)> = sqlx::query_as(
        "SELECT d.status, u.phone FROM distributors d JOIN users u ON u.id = d.user_id WHERE d.user_id = $1",
    )
    .bind(distributor)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((status, distributor_phone)) = found else { return Ok(None) };
    let status = super::distributors::Status::from(status);
    if !status.is_distributor() {
        return Ok(None);
    }
    let buyer_phone: String =
        sqlx::query_scalar("SELECT phone FROM users WHERE id = $1").bind(order.user_id).fetch_one(&mut **tx).await?;
    let course_rate: Option<i64> = sqlx::query_scalar("SELECT commission_bp FROM courses WHERE id = $1")
        .bind(order.course_id)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    let rate = program.rate_for(course_rate.and_then(|bp| u32::try_from(bp).ok()).and_then(Rate::from_bp));
    let (buyer_wechat, distributor_wechat) = (wechat_ids(tx, order.user_id).await?, wechat_ids(tx, distributor).await?);
    let buyer = Party { user: order.user_id, phone: &buyer_phone, wechat: &buyer_wechat };
    let distributor_phone = distributor_phone.as_str().to_string();
    let seller = Party { user: distributor, phone: &distributor_phone, wechat: &distributor_wechat };
    let binding = Some(commission::Binding { distributor, bound_at });
    let frozen = status == super::distributors::Status::Frozen;
    if let Err(why) = commission::earns(binding, paid_at, program.window_secs, &buyer, &seller, frozen, rate) {
        tracing::info!(order_no = %order.order_no, reason = ?why, "no commission");
        return Ok(None);
    }
    let amount = commission::commission(order.amount, rate);
    if amount == Fen::ZERO {
        return Ok(None);
    }
    lock_order(db, tx, order.id).await?;
    let settles_at = commission::settles_at(paid_at, order.refund_terms.window_days, order.refund_terms.non_refundable);
    sqlx::query(
        "INSERT INTO commissions (order_id, distributor_id, buyer_id, rate_bp, base_fen, amount_fen, state, settles_at, \
         buyer_ip, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order.id)
    .bind(distributor)
    .bind(order.user_id)
    .bind(i64::from(rate.bp()))
    .bind(order.amount.0)
    .bind(amount.0)
    .bind(settles_at)
    .bind(&ip)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    entry(tx, distributor, Some(order.id), EntryKind::Earned, amount, false, &format!("earned:{}", order.id), now)
        .await?;
    Ok(Some(amount))
}

/// Whether a WeChat payment starting now should hold funds for profit sharing: the programme
/// runs and the buyer is bound to an approved distributor other than themselves. Marks the order
/// so that its funds are later split or released.
pub async fn held_for_sharing(db: &Db, order: &Order, program: &Program, now: i64) -> Result<bool, sqlx::Error> {
    if !program.enabled {
        return Ok(false);
    }
    let bound: Option<(UserId, i64, Text)> = sqlx::query_as(
        "SELECT b.distributor_id, b.bound_at, d.status FROM referral_bindings b \
         JOIN distributors d ON d.user_id = b.distributor_id WHERE b.user_id = $1",
    )
    .bind(order.user_id)
    .fetch_optional(db.read())
    .await?;
    let held = bound.is_some_and(|(distributor, bound_at, status)| {
        distributor != order.user_id
            && super::distributors::Status::from(status) == super::distributors::Status::Approved
            && commission::Binding { distributor, bound_at }.is_live(now, program.window_secs)
    });
    if held {
        sqlx::query("UPDATE orders SET profit_sharing = 1 WHERE id = $1").bind(order.id).execute(db.write()).await?;
    }
    Ok(held)
}

#[allow(clippy::too_many_arguments)]
async fn entry(
    tx: &mut Transaction<'static, Any>,
    distributor: UserId,
    order_id: Option<OrderId>,
    kind: EntryKind,
    amount: Fen,
    settled: bool,
    event_key: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO commission_entries (distributor_id, order_id, kind, amount_fen, settled, event_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_key) DO NOTHING",
    )
    .bind(distributor)
    .bind(order_id)
    .bind(kind.as_str())
    .bind(amount.0)
    .bind(i64::from(settled))
    .bind(event_key)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct Held {
    distributor_id: UserId,
    rate_bp: i64,
    base_fen: Fen,
    amount_fen: Fen,
    #[sqlx(try_from = "String")]
    state: CommissionState,
}

async fn held(tx: &mut Transaction<'static, Any>, order_id: OrderId) -> Result<Option<Held>, sqlx::Error> {
    sqlx::query_as("SELECT distributor_id, rate_bp, base_fen, amount_fen, state FROM commissions WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await
}

async fn reversed_so_far(tx: &mut Transaction<'static, Any>, order_id: OrderId) -> Result<Fen, sqlx::Error> {
    let sum: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM commission_entries WHERE order_id = $1 AND kind = 'reversed'",
    )
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Fen(sum))
}

/// Inside the refund's transaction: what the refund takes back from the order's commission,
/// from pending before the window closed, from available after (a negative entry).
pub async fn reverse_for_refund(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    order_id: OrderId,
    refund_id: RefundId,
    refunded_before: Fen,
    refunded_now: Fen,
    now: i64,
) -> Result<Option<Fen>, sqlx::Error> {
    lock_order(db, tx, order_id).await?;
    let Some(held) = held(tx, order_id).await? else { return Ok(None) };
    let rate = u32::try_from(held.rate_bp).ok().and_then(Rate::from_bp).unwrap_or(Rate::ZERO);
    let amount = commission::reversal(held.base_fen, refunded_before, refunded_now, rate)
        .min(held.amount_fen - reversed_so_far(tx, order_id).await?);
    if amount <= Fen::ZERO {
        return Ok(None);
    }
    let settled = held.state == CommissionState::Settled;
    let key = format!("reversed:{refund_id}");
    entry(tx, held.distributor_id, Some(order_id), EntryKind::Reversed, amount, settled, &key, now).await?;
    Ok(Some(amount))
}

/// Settles every commission whose refund window has closed by `now`: each once, however many
/// instances or runs race for it. A frozen distributor's commissions wait until they are unfrozen.
/// Returns how many were settled.
pub async fn settle_due(db: &Db, now: i64, limit: i64) -> Result<u64, sqlx::Error> {
    let due: Vec<OrderId> = sqlx::query_scalar(
        "SELECT c.order_id FROM commissions c JOIN distributors d ON d.user_id = c.distributor_id \
         WHERE c.state = 'pending' AND c.settles_at <= $1 AND d.status = 'approved' ORDER BY c.settles_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let mut settled = 0;
    for order_id in due {
        let mut tx = db.write().begin().await?;
        lock_order(db, &mut tx, order_id).await?;
        let moved = sqlx::query(
            "UPDATE commissions SET state = 'settled', settled_at = $1 WHERE order_id = $2 AND state = 'pending'",
        )
        .bind(now)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            tx.rollback().await?;
            continue;
        }
        let Some(held) = held(&mut tx, order_id).await? else { continue };
        let amount = commission::to_settle(held.amount_fen, reversed_so_far(&mut tx, order_id).await?);
        entry(
            &mut tx,
            held.distributor_id,
            Some(order_id),
            EntryKind::Settled,
            amount,
            false,
            &format!("settled:{order_id}"),
            now,
        )
        .await?;
        super::profit_splits::claim_for_settlement(&mut tx, order_id, held.distributor_id, amount, now).await?;
        tx.commit().await?;
        settled += 1;
    }
    Ok(settled)
}

#[derive(sqlx::FromRow)]
struct StoredEntry {
    #[sqlx(try_from = "String")]
    kind: EntryKind,
    amount_fen: Fen,
    #[sqlx(try_from = "Flag")]
    settled: bool,
}

impl StoredEntry {
    fn entry(self) -> Entry {
        Entry::from_stored(self.kind, self.amount_fen, self.settled)
    }
}

/// Balances summed from the ledger: one distributor's, or (None) every distributor's together.
pub(crate) async fn ledger_balances<'e, E: sqlx::Executor<'e, Database = Any>>(
    executor: E,
    distributor: Option<UserId>,
) -> Result<Balances, sqlx::Error> {
    let rows: Vec<StoredEntry> =
        sqlx::query_as("SELECT kind, amount_fen, settled FROM commission_entries WHERE $1 = 0 OR distributor_id = $1")
            .bind(distributor.map_or(0, |d| d.0))
            .fetch_all(executor)
            .await?;
    let entries: Vec<Entry> = rows.into_iter().map(StoredEntry::entry).collect();
    Ok(commission::balances(&entries))
}

/// A distributor's balances.
pub async fn balances(db: &Db, distributor: UserId) -> Result<Balances, sqlx::Error> {
    ledger_balances(db.read(), Some(distributor)).await
}

/// Every distributor's balances together: what the shop owes.
pub async fn liability(db: &Db) -> Result<Balances, sqlx::Error> {
    ledger_balances(db.read(), None).await
}

/// The figures the risk flags read (domain::commission::risk_flags) for one distributor.
pub async fn referrals(db: &Db, distributor: UserId) -> Result<commission::Referrals, sqlx::Error> {
    let orders: Vec<(UserId, String, Fen, String)> = sqlx::query_as(
        "SELECT c.buyer_id, c.buyer_ip, c.amount_fen, o.status FROM commissions c JOIN orders o ON o.id = c.order_id \
         WHERE c.distributor_id = $1",
    )
    .bind(distributor)
    .fetch_all(db.read())
    .await?;
    let learners: Vec<(UserId, i64)> = sqlx::query_as(
        "SELECT b.user_id, CASE WHEN EXISTS (SELECT 1 FROM lesson_progress p WHERE p.user_id = b.user_id) THEN 1 ELSE 0 END \
         FROM referral_bindings b WHERE b.distributor_id = $1",
    )
    .bind(distributor)
    .fetch_all(db.read())
    .await?;
    let mut by_ip: std::collections::HashMap<&str, std::collections::HashSet<UserId>> = Default::default();
    let mut by_subnet: std::collections::HashMap<String, std::collections::HashSet<UserId>> = Default::default();
    let mut by_buyer: std::collections::HashMap<UserId, Fen> = Default::default();
    for (buyer, ip, amount, _) in &orders {
        if !ip.is_empty() {
            by_ip.entry(ip.as_str()).or_default().insert(*buyer);
            by_subnet.entry(subnet(ip)).or_default().insert(*buyer);
        }
        let sum = by_buyer.entry(*buyer).or_insert(Fen::ZERO);
        *sum = *sum + *amount;
    }
    let mut shares: Vec<Fen> = by_buyer.values().copied().collect();
    shares.sort_unstable_by(|a, b| b.cmp(a));
    let widest = |sets: Vec<usize>| sets.into_iter().max().unwrap_or(0) as i64;
    Ok(commission::Referrals {
        orders: orders.len() as i64,
        refunded_orders: orders.iter().filter(|(.., status)| status.contains("refunded")).count() as i64,
        buyers_from_one_ip: widest(by_ip.values().map(|s| s.len()).collect()),
        buyers_from_one_subnet: widest(by_subnet.values().map(|s| s.len()).collect()),
        signups: learners.len() as i64,
        signups_never_learned: learners.iter().filter(|(_, learned)| *learned == 0).count() as i64,
        top_buyers_commission: shares.iter().take(3).fold(Fen::ZERO, |a, b| a + *b),
        total_commission: shares.iter().fold(Fen::ZERO, |a, b| a + *b),
    })
}

/// The /24 (IPv4) or /48 (IPv6) an address belongs to.
fn subnet(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.to_string(),
    }
}

/// One ledger line for the back office's export.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerLine {
    pub created_at: i64,
    #[sqlx(try_from = "Text")]
    pub phone: crate::domain::Phone,
    pub real_name: String,
    #[sqlx(try_from = "String")]
    pub kind: EntryKind,
    #[sqlx(rename = "amount_fen")]
    pub amount: Fen,
    #[sqlx(try_from = "Flag")]
    pub settled: bool,
    pub order_no: Option<String>,
    pub note: String,
}

impl LedgerLine {
    pub fn entry(&self) -> Entry {
        Entry::from_stored(self.kind, self.amount, self.settled)
    }
}

/// Every ledger line, oldest first.
pub async fn ledger(db: &Db) -> Result<Vec<LedgerLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.created_at, u.phone, d.real_name, e.kind, e.amount_fen, e.settled, o.order_no, e.note \
         FROM commission_entries e JOIN distributors d ON d.user_id = e.distributor_id JOIN users u ON u.id = e.distributor_id \
         LEFT JOIN orders o ON o.id = e.order_id ORDER BY e.id",
    )
    .fetch_all(db.read())
    .await
}

/// A referred order as its distributor sees it (the buyer masked).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Referred {
    pub order_no: String,
    pub item_title: String,
    pub course_id: CourseId,
    #[sqlx(try_from = "Text")]
    pub buyer_phone: crate::domain::Phone,
    #[sqlx(rename = "base_fen")]
    pub paid: Fen,
    #[sqlx(rename = "amount_fen")]
    pub commission: Fen,
    pub reversed: Fen,
    #[sqlx(try_from = "String")]
    pub state: CommissionState,
    pub settles_at: i64,
    pub created_at: i64,
}

pub async fn referred(db: &Db, distributor: UserId, limit: i64) -> Result<Vec<Referred>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.order_no, o.item_title, o.course_id, u.phone AS buyer_phone, c.base_fen, c.amount_fen, \
         CAST(COALESCE((SELECT SUM(e.amount_fen) FROM commission_entries e WHERE e.order_id = c.order_id \
         AND e.kind = 'reversed'), 0) AS BIGINT) AS reversed, c.state, c.settles_at, c.created_at \
         FROM commissions c JOIN orders o ON o.id = c.order_id JOIN users u ON u.id = c.buyer_id \
         WHERE c.distributor_id = $1 ORDER BY c.created_at DESC LIMIT $2",
    )
    .bind(distributor)
    .bind(limit)
    .fetch_all(db.read())
    .await
}
