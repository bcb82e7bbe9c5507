//! Files attached to refund requests, complaints and reviews. The bytes live in the uploads store under
//! generated keys; this table says whose they are.

use sqlx::{Any, Transaction};

use super::Db;
use crate::domain::{AttachmentId, ComplaintId, ReviewId, SubmissionId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Refund(crate::domain::RefundId),
    Complaint(ComplaintId),
    Review(ReviewId),
    Homework(SubmissionId),
}

impl Owner {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Owner::Refund(id) => ("refund", id.0),
            Owner::Complaint(id) => ("complaint", id.0),
            Owner::Review(id) => ("review", id.0),
            Owner::Homework(id) => ("homework", id.0),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attachment {
    pub id: AttachmentId,
    pub user_id: UserId,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub file_name: String,
}

pub struct NewAttachment<'a> {
    pub user_id: UserId,
    pub storage_key: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub file_name: &'a str,
}

pub async fn add(
    tx: &mut Transaction<'static, Any>,
    owner: Owner,
    a: &NewAttachment<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (kind, id) = owner.parts();
    sqlx::query(
        "INSERT INTO attachments (owner_kind, owner_id, user_id, storage_key, content_type, size_bytes, file_name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(kind)
    .bind(id)
    .bind(a.user_id)
    .bind(a.storage_key)
    .bind(a.content_type)
    .bind(a.size_bytes)
    .bind(a.file_name)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, user_id, storage_key, content_type, size_bytes, file_name";

pub async fn list(db: &Db, owner: Owner) -> Result<Vec<Attachment>, sqlx::Error> {
    let (kind, id) = owner.parts();
    let sql = format!("SELECT {COLUMNS} FROM attachments WHERE owner_kind = $1 AND owner_id = $2 ORDER BY id");
    sqlx::query_as(&sql).bind(kind).bind(id).fetch_all(db.read()).await
}

/// One attachment of this owner (an id from another request answers None).
pub async fn find(db: &Db, owner: Owner, attachment_id: AttachmentId) -> Result<Option<Attachment>, sqlx::Error> {
    let (kind, id) = owner.parts();
    let sql = format!("SELECT {COLUMNS} FROM attachments WHERE owner_kind = $1 AND owner_id = $2 AND id = $3");
    sqlx::query_as(&sql).bind(kind).bind(id).bind(attachment_id).fetch_optional(db.read()).await
}

/// Takes every attachment off an owner; returns their storage keys, for the caller to delete.
pub async fn remove_all(tx: &mut Transaction<'static, Any>, owner: Owner) -> Result<Vec<String>, sqlx::Error> {
    let (kind, id) = owner.parts();
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT storage_key FROM attachments WHERE owner_kind = $1 AND owner_id = $2")
            .bind(kind)
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    sqlx::query("DELETE FROM attachments WHERE owner_kind = $1 AND owner_id = $2")
        .bind(kind)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(keys)
}

/// The photos of these reviews: (review, attachment) pairs in upload order.
pub async fn review_photos(db: &Db, review_ids: &[ReviewId]) -> Result<Vec<(ReviewId, AttachmentId)>, sqlx::Error> {
    if review_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT owner_id, id FROM attachments WHERE owner_kind = 'review' AND owner_id IN ({}) ORDER BY owner_id, id",
        super::in_list(review_ids.len())
    );
    let mut query = sqlx::query_as(&sql);
    for id in review_ids {
        query = query.bind(*id);
    }
    query.fetch_all(db.read()).await
}

/// The storage keys of a learner's review photos and homework files (deleted with their account).
pub async fn personal_file_keys_of(db: &Db, user_id: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT storage_key FROM attachments WHERE owner_kind IN ('review', 'homework') AND user_id = $1",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await
}
