//! Job leases: with several instances on one database, each background job runs on one of them.
//! Taking or renewing is one statement, so two instances never both hold a job.

use super::Db;

/// Takes the lease on `job` for `holder` until `now + ttl_secs`, or renews it. False while another
/// holder's lease has not expired.
pub async fn take(db: &Db, job: &str, holder: &str, now: i64, ttl_secs: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (job) DO UPDATE SET holder = $2, expires_at = $3 \
         WHERE job_leases.holder = $2 OR job_leases.expires_at <= $4",
    )
    .bind(job)
    .bind(holder)
    .bind(now + ttl_secs)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(done.rows_affected() == 1)
}
