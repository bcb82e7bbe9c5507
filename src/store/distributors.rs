//! Distributors (推广员): applications and decisions, and which distributor a learner is bound to.

use super::Db;
use super::rows::Text;
use crate::domain::commission::{Binding, Program, bind};
use crate::domain::{Phone, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Frozen,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Frozen => "frozen",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Status::Pending => "dist_status_pending",
            Status::Approved => "dist_status_approved",
            Status::Rejected => "dist_status_rejected",
            Status::Frozen => "dist_status_frozen",
        }
    }

    /// Approved or frozen: has a code, links and a ledger.
    pub fn is_distributor(self) -> bool {
        matches!(self, Status::Approved | Status::Frozen)
    }
}

/// An unknown word reads as rejected: it grants nothing.
impl From<Text> for Status {
    fn from(text: Text) -> Status {
        match text.as_str() {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "frozen" => Status::Frozen,
            _ => Status::Rejected,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Distributor {
    pub user_id: UserId,
    pub code: String,
    #[sqlx(try_from = "Text")]
    pub status: Status,
    pub real_name: String,
    pub contact_phone: String,
    pub reason: String,
    pub decision_note: String,
    pub applied_at: i64,
    pub decided_at: Option<i64>,
    /// The account's own phone (for the same-person check and the back office).
    #[sqlx(try_from = "Text")]
    pub phone: Phone,
}

const COLUMNS: &str = "d.user_id, d.code, d.status, d.real_name, d.contact_phone, d.reason, d.decision_note, \
     d.applied_at, d.decided_at, u.phone";
const FROM: &str = "FROM distributors d JOIN users u ON u.id = d.user_id";

pub async fn find(db: &Db, user_id: UserId) -> Result<Option<Distributor>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} {FROM} WHERE d.user_id = $1"))
        .bind(user_id)
        .fetch_optional(db.read())
        .await
}

pub async fn find_by_code(db: &Db, code: &str) -> Result<Option<Distributor>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} {FROM} WHERE d.code = $1")).bind(code).fetch_optional(db.read()).await
}

/// Applications first (oldest first), then distributors, then the rejected.
pub async fn all(db: &Db, limit: i64) -> Result<Vec<Distributor>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} {FROM} ORDER BY CASE d.status WHEN 'pending' THEN 0 WHEN 'approved' THEN 1 \
         WHEN 'frozen' THEN 1 ELSE 2 END, d.applied_at LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.read())
    .await
}

pub struct Application<'a> {
    pub real_name: &'a str,
    pub contact_phone: &'a str,
    pub reason: &'a str,
}

/// A new application, or a new try after a rejection; false when one is pending or the account
/// is a distributor already.
pub async fn apply(db: &Db, user_id: UserId, a: &Application<'_>, code: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO distributors (user_id, code, status, real_name, contact_phone, reason, applied_at, updated_at) \
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $6) \
         ON CONFLICT (user_id) DO UPDATE SET status = 'pending', real_name = excluded.real_name, \
         contact_phone = excluded.contact_phone, reason = excluded.reason, decision_note = '', decided_by = NULL, \
         decided_at = NULL, applied_at = excluded.applied_at, updated_at = excluded.updated_at \
         WHERE distributors.status = 'rejected'",
    )
    .bind(user_id)
    .bind(code)
    .bind(a.real_name)
    .bind(a.contact_phone)
    .bind(a.reason)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a distributor from one status to another (approve, reject, freeze, unfreeze) with the
/// staff member's note; false when it was no longer in `from`.
pub async fn decide(
    db: &Db,
    user_id: UserId,
    from: Status,
    to: Status,
    note: &str,
    staff_id: UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE distributors SET status = $1, decision_note = $2, decided_by = $3, decided_at = $4, updated_at = $4 \
         WHERE user_id = $5 AND status = $6",
    )
    .bind(to.as_str())
    .bind(note)
    .bind(staff_id)
    .bind(now)
    .bind(user_id)
    .bind(from.as_str())
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The learner followed `distributor`'s link at `now`: bind them by the shop's rule.
pub async fn follow(
    db: &Db,
    learner: UserId,
    distributor: UserId,
    program: &Program,
    ip: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let current: Option<(UserId, i64)> =
        sqlx::query_as("SELECT distributor_id, bound_at FROM referral_bindings WHERE user_id = $1")
            .bind(learner)
            .fetch_optional(db.read())
            .await?;
    let current = current.map(|(distributor, bound_at)| Binding { distributor, bound_at });
    let next = bind(current, distributor, now, program.window_secs, program.rule);
    if Some(next) == current {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO referral_bindings (user_id, distributor_id, bound_at, ip) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET distributor_id = excluded.distributor_id, bound_at = excluded.bound_at, \
         ip = excluded.ip",
    )
    .bind(learner)
    .bind(next.distributor)
    .bind(next.bound_at)
    .bind(ip)
    .execute(db.write())
    .await?;
    Ok(())
}
