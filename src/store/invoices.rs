//! 发票 requests: one per order, asked for by its buyer, issued by staff with a PDF or a number.

use super::Db;
use super::messages::{self, NewMessage};
use crate::domain::invoice::{InvoiceInput, InvoiceStatus, TitleKind, invoice_amount};
use crate::domain::message::MessageKind;
use crate::domain::{Fen, InvoiceId, OrderId, UserId};

/// A request with its order's number, title and refunds, and the buyer's phone.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Invoice {
    pub id: InvoiceId,
    pub order_id: OrderId,
    pub user_id: UserId,
    #[sqlx(try_from = "String")]
    pub title_kind: TitleKind,
    pub title: String,
    pub tax_number: String,
    pub email: String,
    #[sqlx(rename = "amount_fen", try_from = "i64")]
    pub amount: Fen,
    #[sqlx(try_from = "String")]
    pub status: InvoiceStatus,
    pub invoice_number: String,
    pub file_key: Option<String>,
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub issued_at: Option<i64>,
    pub created_at: i64,
    pub order_no: String,
    pub item_title: String,
    /// What the order's buyer paid, and what went back so far.
    #[sqlx(rename = "paid_fen", try_from = "i64")]
    pub paid: Fen,
    #[sqlx(rename = "refunded_fen", try_from = "i64")]
    pub refunded: Fen,
    pub phone: String,
}

impl Invoice {
    /// What an invoice for the order can be for now (refunds since the request lower it).
    pub fn amount_now(&self) -> Fen {
        invoice_amount(self.paid, self.refunded)
    }

    /// Waiting, and money went back since it was asked for: it is issued for `amount_now`.
    pub fn refunded_since_asked(&self) -> bool {
        self.status == InvoiceStatus::Requested && self.amount_now() != self.amount
    }

    /// Issued, and money went back since: staff must reverse it (红冲) and issue it again.
    pub fn needs_reversal(&self) -> bool {
        self.status == InvoiceStatus::Issued && self.amount_now() < self.amount
    }
}

const SELECT: &str = "SELECT i.id, i.order_id, i.user_id, i.title_kind, i.title, i.tax_number, i.email, i.amount_fen, \
     i.status, i.invoice_number, i.file_key, i.file_name, i.file_size, i.issued_at, i.created_at, o.order_no, o.item_title, \
     o.amount_fen AS paid_fen, o.refunded_fen, u.phone FROM invoice_requests i JOIN orders o ON o.id = i.order_id JOIN users u ON u.id = i.user_id";

/// A new request; None when the order has one already.
pub async fn create(
    db: &Db,
    order_id: OrderId,
    user_id: UserId,
    input: &InvoiceInput,
    amount: Fen,
    now: i64,
) -> Result<Option<InvoiceId>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO invoice_requests (order_id, user_id, title_kind, title, tax_number, email, amount_fen, status, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $8) \
         ON CONFLICT (order_id) DO NOTHING RETURNING id",
    )
    .bind(order_id)
    .bind(user_id)
    .bind(input.title_kind.as_str())
    .bind(&input.title)
    .bind(&input.tax_number)
    .bind(&input.email)
    .bind(amount.0)
    .bind(now)
    .fetch_optional(db.write())
    .await
}

/// Takes back a request staff have not issued yet (nothing was made from it); false once issued.
/// The buyer may ask again later.
pub async fn withdraw(db: &Db, id: InvoiceId, user_id: crate::domain::UserId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM invoice_requests WHERE id = $1 AND user_id = $2 AND status = 'requested'")
        .bind(id)
        .bind(user_id)
        .execute(db.write())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Corrects a request staff have not issued yet (a title typed wrong); false once issued.
pub async fn correct(db: &Db, id: InvoiceId, input: &InvoiceInput, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE invoice_requests SET title_kind = $1, title = $2, tax_number = $3, email = $4, updated_at = $5 \
         WHERE id = $6 AND status = 'requested'",
    )
    .bind(input.title_kind.as_str())
    .bind(&input.title)
    .bind(&input.tax_number)
    .bind(&input.email)
    .bind(now)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn for_order(db: &Db, order_id: OrderId) -> Result<Option<Invoice>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE i.order_id = $1")).bind(order_id).fetch_optional(db.read()).await
}

pub async fn get(db: &Db, id: InvoiceId) -> Result<Option<Invoice>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE i.id = $1")).bind(id).fetch_optional(db.read()).await
}

/// The amount of the invoice issued on an order, if one was: a refund means reversing it (红冲).
pub async fn issued_amount(db: &Db, order_id: OrderId) -> Result<Option<Fen>, sqlx::Error> {
    let amount: Option<i64> =
        sqlx::query_scalar("SELECT amount_fen FROM invoice_requests WHERE order_id = $1 AND status = 'issued'")
            .bind(order_id)
            .fetch_optional(db.read())
            .await?;
    Ok(amount.map(Fen))
}

/// Requests in `status` (all when None): the waiting oldest first, the issued newest first.
pub async fn list(db: &Db, status: Option<InvoiceStatus>, limit: i64) -> Result<Vec<Invoice>, sqlx::Error> {
    match status {
        Some(InvoiceStatus::Requested) => {
            sqlx::query_as(&format!("{SELECT} WHERE i.status = 'requested' ORDER BY i.created_at, i.id LIMIT $1"))
                .bind(limit)
                .fetch_all(db.read())
                .await
        }
        Some(InvoiceStatus::Issued) => {
            sqlx::query_as(&format!("{SELECT} WHERE i.status = 'issued' ORDER BY i.issued_at DESC, i.id DESC LIMIT $1"))
                .bind(limit)
                .fetch_all(db.read())
                .await
        }
        None => {
            sqlx::query_as(&format!("{SELECT} ORDER BY i.created_at DESC, i.id DESC LIMIT $1"))
                .bind(limit)
                .fetch_all(db.read())
                .await
        }
    }
}

/// The invoice as issued: its number and/or its PDF (already in the uploads store).
pub struct Issued<'a> {
    pub number: &'a str,
    /// (storage key, file name, bytes)
    pub file: Option<(&'a str, &'a str, i64)>,
    pub staff_id: UserId,
}

/// Marks a waiting request issued, for what the order's invoice can be for now, and tells the
/// buyer, in one transaction; false when it was not waiting (issued already, or gone).
pub async fn issue(db: &Db, invoice: &Invoice, issued: &Issued<'_>, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let (key, name, size) = issued.file.map_or((None, None, None), |(k, n, s)| (Some(k), Some(n), Some(s)));
    let done = sqlx::query(
        "UPDATE invoice_requests SET status = 'issued', invoice_number = $1, file_key = $2, file_name = $3, file_size = $4, \
         issued_by = $5, issued_at = $6, updated_at = $6, amount_fen = $8 WHERE id = $7 AND status = 'requested'",
    )
    .bind(issued.number)
    .bind(key)
    .bind(name)
    .bind(size)
    .bind(issued.staff_id)
    .bind(now)
    .bind(invoice.id)
    .bind(invoice.amount_now().0)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    tell_buyer(&mut tx, invoice, invoice.amount_now(), now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The buyer's site message: the invoice for `amount` is there to download.
async fn tell_buyer(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    invoice: &Invoice,
    amount: Fen,
    now: i64,
) -> Result<(), sqlx::Error> {
    let link = format!("/orders/{}/invoice", invoice.order_no);
    let message = NewMessage {
        user_id: invoice.user_id,
        kind: MessageKind::InvoiceIssued,
        ref_no: &invoice.order_no,
        amount: Some(amount),
        note: "",
        link: &link,
    };
    messages::send(tx, &message, now).await
}

/// Replaces an issued invoice's PDF (a wrong file attached), and its number when one is given,
/// and tells the buyer again, in one transaction; false when it is not issued. The old file stays
/// in the store (the audit entry names it).
pub async fn replace_file(
    db: &Db,
    invoice: &Invoice,
    file: (&str, &str, i64),
    number: Option<&str>,
    staff_id: UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let done = sqlx::query(
        "UPDATE invoice_requests SET file_key = $1, file_name = $2, file_size = $3, \
         invoice_number = COALESCE($4, invoice_number), issued_by = $5, updated_at = $6 WHERE id = $7 AND status = 'issued'",
    )
    .bind(file.0)
    .bind(file.1)
    .bind(file.2)
    .bind(number)
    .bind(staff_id)
    .bind(now)
    .bind(invoice.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    tell_buyer(&mut tx, invoice, invoice.amount, now).await?;
    tx.commit().await?;
    Ok(true)
}
