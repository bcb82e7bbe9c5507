//! Agreements: published versions (never changed afterwards), the current one of each kind held in
//! memory like the banners, and who accepted which version when.

use std::sync::Arc;

use super::Db;
use super::shared::Shared;
use crate::domain::agreement::{AgreementInput, AgreementKind};
use crate::domain::{AgreementId, OrderId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Agreement {
    pub id: AgreementId,
    #[sqlx(try_from = "String")]
    pub kind: AgreementKind,
    pub version: i64,
    pub title: String,
    /// Markdown, rendered through the sanitizer.
    pub body: String,
    pub published_at: i64,
}

const COLUMNS: &str = "id, kind, version, title, body, published_at";

/// The newest version of each kind.
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub user: Option<Arc<Agreement>>,
    pub purchase: Option<Arc<Agreement>>,
}

/// The current agreements in memory: pages ask and show them without a query. Whoever publishes
/// calls `reload` (and announces `SETTINGS` for the other instances).
#[derive(Clone, Default)]
pub struct AgreementCache(Shared<Current>);

impl AgreementCache {
    pub async fn reload(&self, db: &Db) -> Result<(), sqlx::Error> {
        let user = latest(db, AgreementKind::User).await?.map(Arc::new);
        let purchase = latest(db, AgreementKind::Purchase).await?.map(Arc::new);
        self.0.set(Current { user, purchase });
        Ok(())
    }

    pub fn current(&self) -> Arc<Current> {
        self.0.get()
    }
}

async fn latest(db: &Db, kind: AgreementKind) -> Result<Option<Agreement>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agreements WHERE kind = $1 ORDER BY version DESC LIMIT 1");
    sqlx::query_as(&sql).bind(kind.as_str()).fetch_optional(db.read()).await
}

pub async fn find(db: &Db, kind: AgreementKind, version: i64) -> Result<Option<Agreement>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agreements WHERE kind = $1 AND version = $2");
    sqlx::query_as(&sql).bind(kind.as_str()).bind(version).fetch_optional(db.read()).await
}

/// Publishes the next version of its kind; returns the version.
pub async fn publish(db: &Db, input: &AgreementInput, staff: UserId, now: i64) -> Result<i64, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    super::dialect::lock(db.backend(), &mut tx, &format!("agreement:{}", input.kind)).await?;
    let version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM agreements WHERE kind = $1")
        .bind(input.kind.as_str())
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO agreements (kind, version, title, body, published_by, published_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(input.kind.as_str())
    .bind(version)
    .bind(&input.title)
    .bind(&input.body)
    .bind(staff)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Every version, newest first, with how many acceptances each has.
pub async fn versions(db: &Db) -> Result<Vec<(Agreement, i64)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        agreement: Agreement,
        accepted: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.kind, a.version, a.title, a.body, a.published_at, \
         (SELECT COUNT(*) FROM agreement_acceptances x WHERE x.agreement_id = a.id) AS accepted \
         FROM agreements a ORDER BY a.kind, a.version DESC",
    )
    .fetch_all(db.read())
    .await?;
    Ok(rows.into_iter().map(|r| (r.agreement, r.accepted)).collect())
}

/// Records that the account accepted `agreement` (for `order`, the purchase agreement). Accepting
/// the user agreement also marks the account, so pages stop asking. Accepting the same version
/// for the same order twice records it once.
pub async fn accept(
    db: &Db,
    user_id: UserId,
    agreement: &Agreement,
    order: Option<OrderId>,
    ip: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    sqlx::query(
        "INSERT INTO agreement_acceptances (user_id, agreement_id, order_id, ip, accepted_at) \
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM agreement_acceptances \
         WHERE agreement_id = $2 AND user_id = $1 AND (order_id = $3 OR (order_id IS NULL AND $3 IS NULL)))",
    )
    .bind(user_id)
    .bind(agreement.id)
    .bind(order)
    .bind(ip)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if agreement.kind == AgreementKind::User {
        sqlx::query("UPDATE users SET agreed_version = $1 WHERE id = $2 AND agreed_version < $1")
            .bind(agreement.version)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if agreement.kind == AgreementKind::User {
        db.users_changed();
    }
    Ok(())
}

/// The purchase agreement accepted for an order: (version, title, when).
pub async fn for_order(db: &Db, order: OrderId) -> Result<Option<(i64, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.version, a.title, x.accepted_at FROM agreement_acceptances x JOIN agreements a ON a.id = x.agreement_id \
         WHERE x.order_id = $1 ORDER BY x.id LIMIT 1",
    )
    .bind(order)
    .fetch_optional(db.read())
    .await
}
