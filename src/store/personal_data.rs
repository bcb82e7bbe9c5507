//! A learner's rights under the Personal Information Protection Law (个人信息保护法): a copy of
//! what the shop holds about them, and deleting the account.
//!
//! Deletion removes what the shop no longer needs and anonymizes the account row. Orders,
//! payments, refunds and complaints stay (the E-Commerce Law, art. 31, wants transaction records
//! kept three years, and a dispute may still come), but they then point at an account with no
//! phone, name, password or outside identity.

use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Db;
use crate::domain::UserId;
use crate::domain::time::shanghai_seconds;

/// What a deleted account is called wherever its orders are shown.
pub const DELETED_NICKNAME: &str = "已注销用户";

fn time(at: Option<i64>) -> Value {
    at.map_or(Value::Null, |t| Value::String(format!("{} (UTC+8)", shanghai_seconds(t))))
}

fn text(row: &AnyRow, column: &str) -> Result<Value, sqlx::Error> {
    Ok(row.try_get::<Option<String>, _>(column)?.map_or(Value::Null, Value::String))
}

fn number(row: &AnyRow, column: &str) -> Result<Value, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map_or(Value::Null, Value::from))
}

fn at(row: &AnyRow, column: &str) -> Result<Value, sqlx::Error> {
    Ok(time(row.try_get::<Option<i64>, _>(column)?))
}

/// Rows of `sql` (bound to `user_id`) as JSON objects, each column read by `kinds`:
/// `t` text, `n` number, `@` a time.
async fn rows(db: &Db, sql: &str, id: i64, columns: &[(&str, char)]) -> Result<Vec<Value>, sqlx::Error> {
    let found = sqlx::query(sql).bind(id).fetch_all(db.read()).await?;
    let mut out = Vec::with_capacity(found.len());
    for row in &found {
        let mut object = serde_json::Map::new();
        for (column, kind) in columns {
            let value = match kind {
                'n' => number(row, column)?,
                '@' => at(row, column)?,
                _ => text(row, column)?,
            };
            object.insert((*column).to_string(), value);
        }
        out.push(Value::Object(object));
    }
    Ok(out)
}

/// Everything the shop holds about one learner, in one JSON document. Money is in fen (分).
pub async fn export(db: &Db, user_id: UserId, now: i64) -> Result<Value, sqlx::Error> {
    let account = sqlx::query("SELECT id, phone, nickname, password_hash, created_at, status FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db.read())
        .await?;
    let phone: String = account.try_get("phone")?;
    let sms_opted_out: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM sms_optouts WHERE phone = $1").bind(&phone).fetch_optional(db.read()).await?;
    let orders = rows(
        db,
        "SELECT order_no, item_title, price_fen, discount_fen, amount_fen, refunded_fen, status, pay_provider, \
         created_at, paid_at, closed_at FROM orders WHERE user_id = $1 ORDER BY id",
        user_id.0,
        &[
            ("order_no", 't'),
            ("item_title", 't'),
            ("price_fen", 'n'),
            ("discount_fen", 'n'),
            ("amount_fen", 'n'),
            ("refunded_fen", 'n'),
            ("status", 't'),
            ("pay_provider", 't'),
            ("created_at", '@'),
            ("paid_at", '@'),
            ("closed_at", '@'),
        ],
    )
    .await?;
    let invoices = rows(
        db,
        "SELECT o.order_no, i.title_kind, i.title, i.tax_number, i.email, i.amount_fen, i.status, i.invoice_number, \
         i.created_at, i.issued_at FROM invoice_requests i JOIN orders o ON o.id = i.order_id \
         WHERE i.user_id = $1 ORDER BY i.id",
        user_id.0,
        &[
            ("order_no", 't'),
            ("title_kind", 't'),
            ("title", 't'),
            ("tax_number", 't'),
            ("email", 't'),
            ("amount_fen", 'n'),
            ("status", 't'),
            ("invoice_number", 't'),
            ("created_at", '@'),
            ("issued_at", '@'),
        ],
    )
    .await?;
    let agreements = rows(
        db,
        "SELECT a.kind, a.version, a.title, o.order_no, x.ip, x.accepted_at FROM agreement_acceptances x \
         JOIN agreements a ON a.id = x.agreement_id LEFT JOIN orders o ON o.id = x.order_id \
         WHERE x.user_id = $1 ORDER BY x.id",
        user_id.0,
        &[("kind", 't'), ("version", 'n'), ("title", 't'), ("order_no", 't'), ("ip", 't'), ("accepted_at", '@')],
    )
    .await?;
    let refunds = rows(
        db,
        "SELECT r.refund_no, o.order_no, r.status, r.reason_code, r.reason_text, r.amount_fen, r.reject_reason, \
         r.created_at, r.completed_at FROM refund_requests r JOIN orders o ON o.id = r.order_id \
         WHERE r.user_id = $1 ORDER BY r.id",
        user_id.0,
        &[
            ("refund_no", 't'),
            ("order_no", 't'),
            ("status", 't'),
            ("reason_code", 't'),
            ("reason_text", 't'),
            ("amount_fen", 'n'),
            ("reject_reason", 't'),
            ("created_at", '@'),
            ("completed_at", '@'),
        ],
    )
    .await?;
    let learning = rows(
        db,
        "SELECT c.title AS course, l.title AS lesson, p.last_position_secs, p.furthest_secs, p.duration_secs, \
         p.completed_at, p.updated_at FROM lesson_progress p JOIN lessons l ON l.id = p.lesson_id \
         JOIN courses c ON c.id = p.course_id WHERE p.user_id = $1 ORDER BY p.updated_at",
        user_id.0,
        &[
            ("course", 't'),
            ("lesson", 't'),
            ("last_position_secs", 'n'),
            ("furthest_secs", 'n'),
            ("duration_secs", 'n'),
            ("completed_at", '@'),
            ("updated_at", '@'),
        ],
    )
    .await?;
    let mut complaints = rows(
        db,
        "SELECT id, complaint_no, category, description, contact_phone, status, created_at, resolved_at \
         FROM complaints WHERE user_id = $1 ORDER BY id",
        user_id.0,
        &[
            ("id", 'n'),
            ("complaint_no", 't'),
            ("category", 't'),
            ("description", 't'),
            ("contact_phone", 't'),
            ("status", 't'),
            ("created_at", '@'),
            ("resolved_at", '@'),
        ],
    )
    .await?;
    for complaint in &mut complaints {
        let id = complaint.get("id").and_then(Value::as_i64).unwrap_or_default();
        let messages = rows(
            db,
            "SELECT author, body, created_at FROM complaint_messages WHERE complaint_id = $1 ORDER BY id",
            id,
            &[("author", 't'), ("body", 't'), ("created_at", '@')],
        )
        .await?;
        if let Some(object) = complaint.as_object_mut() {
            object.remove("id");
            object.insert("messages".into(), Value::Array(messages));
        }
    }
    let messages = rows(
        db,
        "SELECT kind, ref_no, amount_fen, note, created_at, read_at FROM user_messages WHERE user_id = $1 ORDER BY id",
        user_id.0,
        &[("kind", 't'), ("ref_no", 't'), ("amount_fen", 'n'), ("note", 't'), ("created_at", '@'), ("read_at", '@')],
    )
    .await?;
    let reviews = rows(
        db,
        "SELECT c.title AS course, r.stars, r.body, r.status, r.created_at, r.updated_at FROM reviews r \
         JOIN courses c ON c.id = r.course_id WHERE r.user_id = $1 ORDER BY r.id",
        user_id.0,
        &[("course", 't'), ("stars", 'n'), ("body", 't'), ("status", 't'), ("created_at", '@'), ("updated_at", '@')],
    )
    .await?;
    let check_ins = rows(
        db,
        "SELECT c.title AS course, p.day, p.body, p.status, p.created_at FROM check_ins p JOIN courses c ON c.id = p.course_id \
         WHERE p.user_id = $1 ORDER BY p.id",
        user_id.0,
        &[("course", 't'), ("day", 'n'), ("body", 't'), ("status", 't'), ("created_at", '@')],
    )
    .await?;
    let homework = rows(
        db,
        "SELECT l.title AS lesson, h.body, h.status, h.grade, h.comment, h.created_at, h.updated_at FROM homework h \
         JOIN lessons l ON l.id = h.lesson_id WHERE h.user_id = $1 ORDER BY h.id",
        user_id.0,
        &[
            ("lesson", 't'),
            ("body", 't'),
            ("status", 't'),
            ("grade", 't'),
            ("comment", 't'),
            ("created_at", '@'),
            ("updated_at", '@'),
        ],
    )
    .await?;
    let questions = rows(
        db,
        "SELECT l.title AS lesson, q.body, q.status, q.created_at FROM lesson_questions q \
         JOIN lessons l ON l.id = q.lesson_id WHERE q.user_id = $1 ORDER BY q.id",
        user_id.0,
        &[("lesson", 't'), ("body", 't'), ("status", 't'), ("created_at", '@')],
    )
    .await?;
    let answers = rows(
        db,
        "SELECT q.body AS question, a.body, a.status, a.created_at FROM lesson_answers a \
         JOIN lesson_questions q ON q.id = a.question_id WHERE a.user_id = $1 ORDER BY a.id",
        user_id.0,
        &[("question", 't'), ("body", 't'), ("status", 't'), ("created_at", '@')],
    )
    .await?;
    let notes = rows(
        db,
        "SELECT l.title AS lesson, n.at_secs, n.body, n.created_at FROM learner_notes n \
         JOIN lessons l ON l.id = n.lesson_id WHERE n.user_id = $1 ORDER BY n.id",
        user_id.0,
        &[("lesson", 't'), ("at_secs", 'n'), ("body", 't'), ("created_at", '@')],
    )
    .await?;
    let quiz_attempts = rows(
        db,
        "SELECT z.title AS quiz, t.status, t.score, t.max_score, t.passed, t.started_at, t.submitted_at \
         FROM quiz_attempts t JOIN quizzes z ON z.id = t.quiz_id WHERE t.user_id = $1 ORDER BY t.id",
        user_id.0,
        &[
            ("quiz", 't'),
            ("status", 't'),
            ("score", 'n'),
            ("max_score", 'n'),
            ("passed", 'n'),
            ("started_at", '@'),
            ("submitted_at", '@'),
        ],
    )
    .await?;
    let certificates = rows(
        db,
        "SELECT c.code, c.name, co.title AS course, c.issued_at, c.revoked_at, c.revoke_reason FROM certificates c \
         JOIN courses co ON co.id = c.course_id WHERE c.user_id = $1 ORDER BY c.id",
        user_id.0,
        &[
            ("code", 't'),
            ("name", 't'),
            ("course", 't'),
            ("issued_at", '@'),
            ("revoked_at", '@'),
            ("revoke_reason", 't'),
        ],
    )
    .await?;
    let memberships = rows(
        db,
        "SELECT c.title AS plan, o.order_no, t.starts_at, t.ends_at FROM membership_terms t JOIN courses c ON c.id = t.plan_id \
         JOIN orders o ON o.id = t.order_id WHERE t.user_id = $1 ORDER BY t.id",
        user_id.0,
        &[("plan", 't'), ("order_no", 't'), ("starts_at", '@'), ("ends_at", '@')],
    )
    .await?;
    let logins = rows(
        db,
        "SELECT method, ip, user_agent, created_at FROM logins WHERE user_id = $1 ORDER BY id",
        user_id.0,
        &[("method", 't'), ("ip", 't'), ("user_agent", 't'), ("created_at", '@')],
    )
    .await?;
    let identities = rows(
        db,
        "SELECT provider, value, created_at FROM user_identities WHERE user_id = $1 ORDER BY id",
        user_id.0,
        &[("provider", 't'), ("value", 't'), ("created_at", '@')],
    )
    .await?;
    let distributor = rows(
        db,
        "SELECT code, status, real_name, contact_phone, reason, applied_at, decided_at FROM distributors WHERE user_id = $1",
        user_id.0,
        &[
            ("code", 't'),
            ("status", 't'),
            ("real_name", 't'),
            ("contact_phone", 't'),
            ("reason", 't'),
            ("applied_at", '@'),
            ("decided_at", '@'),
        ],
    )
    .await?;
    let commissions = rows(
        db,
        "SELECT o.order_no, c.amount_fen, c.state, c.created_at, c.settled_at FROM commissions c \
         JOIN orders o ON o.id = c.order_id WHERE c.distributor_id = $1 ORDER BY c.created_at",
        user_id.0,
        &[("order_no", 't'), ("amount_fen", 'n'), ("state", 't'), ("created_at", '@'), ("settled_at", '@')],
    )
    .await?;
    let payouts = rows(
        db,
        "SELECT amount_fen, status, account, reference, requested_at, decided_at FROM payouts \
         WHERE distributor_id = $1 ORDER BY id",
        user_id.0,
        &[
            ("amount_fen", 'n'),
            ("status", 't'),
            ("account", 't'),
            ("reference", 't'),
            ("requested_at", '@'),
            ("decided_at", '@'),
        ],
    )
    .await?;
    Ok(json!({
        "exported_at": time(Some(now)),
        "account": {
            "id": user_id,
            "phone": phone,
            "nickname": text(&account, "nickname")?,
            "password_set": account.try_get::<Option<String>, _>("password_hash")?.is_some(),
            "created_at": at(&account, "created_at")?,
            "status": text(&account, "status")?,
            "marketing_sms_refused": sms_opted_out.is_some(),
        },
        "wechat_identities": identities,
        "orders": orders,
        "invoices": invoices,
        "agreements_accepted": agreements,
        "refunds": refunds,
        "learning_progress": learning,
        "complaints": complaints,
        "site_messages": messages,
        "reviews": reviews,
        "membership_terms": memberships,
        "check_ins": check_ins,
        "homework": homework,
        "lesson_questions": questions,
        "lesson_answers": answers,
        "notes": notes,
        "quiz_attempts": quiz_attempts,
        "certificates": certificates,
        "logins": logins,
        "distribution": { "application": distributor, "commissions": commissions, "payouts": payouts },
    }))
}

/// What became of a request to delete an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasure {
    Done,
    /// A refund is still being decided or paid out: its result must reach the learner.
    RefundInProgress,
    /// Staff accounts are removed by an administrator, not deleted by their owner.
    Staff,
    Gone,
}

/// Deletes a learner's account: personal data removed, the row anonymized, every session ended.
/// One transaction: it happens entirely or not at all. The caller records the audit entry.
pub async fn erase(db: &Db, user_id: UserId, now: i64) -> Result<Erasure, sqlx::Error> {
    let mut tx = db.write().begin().await?;
    let found: Option<(String, String, String)> = sqlx::query_as("SELECT phone, role, status FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((phone, role, status)) = found else { return Ok(Erasure::Gone) };
    if status == "deleted" {
        return Ok(Erasure::Gone);
    }
    if role != "learner" {
        return Ok(Erasure::Staff);
    }
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refund_requests WHERE user_id = $1 AND status IN ('pending', 'refunding', 'failed')",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    if open > 0 {
        return Ok(Erasure::RefundInProgress);
    }
    for sql in [
        // The official account's follower rows match this person's WeChat ids: before the ids go.
        "DELETE FROM oa_followers WHERE unionid IN (SELECT value FROM user_identities WHERE user_id = $1) \
         OR openid IN (SELECT value FROM user_identities WHERE user_id = $1)",
        "DELETE FROM wechat_outbox WHERE user_id = $1",
        "DELETE FROM phone_prompts WHERE user_id = $1",
        "DELETE FROM claim_attempts WHERE user_id = $1",
        // A distributor's application and payout accounts; the amounts stay for the books.
        "UPDATE distributors SET real_name = '', contact_phone = '', reason = '', decision_note = '' WHERE user_id = $1",
        "UPDATE payouts SET account = '' WHERE distributor_id = $1",
        "UPDATE commissions SET buyer_ip = '' WHERE buyer_id = $1",
        "DELETE FROM user_identities WHERE user_id = $1",
        "DELETE FROM lesson_progress WHERE user_id = $1",
        "DELETE FROM logins WHERE user_id = $1",
        "DELETE FROM login_failures WHERE user_id = $1",
        "DELETE FROM recovery_codes WHERE user_id = $1",
        "DELETE FROM user_messages WHERE user_id = $1",
        "DELETE FROM moderation_items WHERE user_id = $1 AND kind IN ('nickname', 'review')",
        "DELETE FROM review_reports WHERE user_id = $1 OR review_id IN (SELECT id FROM reviews WHERE user_id = $1)",
        "DELETE FROM attachments WHERE owner_kind IN ('review', 'homework') AND user_id = $1",
        "DELETE FROM check_ins WHERE user_id = $1",
        "DELETE FROM homework WHERE user_id = $1",
        "DELETE FROM moderation_items WHERE user_id = $1 AND kind IN ('checkin', 'homework')",
        "DELETE FROM reviews WHERE user_id = $1",
        // Their questions go with the answers under them, and their answers with any pin on them.
        "UPDATE lesson_questions SET best_answer_id = NULL WHERE best_answer_id IN \
         (SELECT id FROM lesson_answers WHERE user_id = $1)",
        "DELETE FROM lesson_answers WHERE user_id = $1 OR question_id IN (SELECT id FROM lesson_questions WHERE user_id = $1)",
        "DELETE FROM lesson_questions WHERE user_id = $1",
        "DELETE FROM moderation_items WHERE user_id = $1 AND kind IN ('question', 'answer')",
        "DELETE FROM learner_notes WHERE user_id = $1",
        "DELETE FROM attempt_answers WHERE attempt_id IN (SELECT id FROM quiz_attempts WHERE user_id = $1)",
        "DELETE FROM quiz_attempts WHERE user_id = $1",
        "DELETE FROM certificates WHERE user_id = $1",
        "DELETE FROM reminders_sent WHERE user_id = $1",
        "UPDATE complaints SET contact_phone = '' WHERE user_id = $1",
        // Invoices stay for the books: a company's title and tax number are the company's; a
        // person's name and the email go.
        "UPDATE invoice_requests SET email = '', title = CASE WHEN title_kind = 'personal' THEN '' ELSE title END \
         WHERE user_id = $1",
        "DELETE FROM redeem_failures WHERE user_id = $1",
        // A gift keeps its copies for the friends it was meant for, without the name it was signed with.
        "UPDATE orders SET gift_sender = '' WHERE user_id = $1 AND gift_copies > 0",
        // What was accepted stays (a dispute may need it); from where goes.
        "UPDATE agreement_acceptances SET ip = '' WHERE user_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
    }
    for sql in ["DELETE FROM sms_codes WHERE phone = $1", "DELETE FROM sms_optouts WHERE phone = $1"] {
        sqlx::query(sql).bind(&phone).execute(&mut *tx).await?;
    }
    // The texts sent stay counted (per kind and day, for the bills), without whom they went to.
    sqlx::query("UPDATE sms_outbox SET phone = $1, params = '{}' WHERE phone = $2")
        .bind(format!("deleted:{user_id}"))
        .bind(&phone)
        .execute(&mut *tx)
        .await?;
    // Not a phone number (so nobody can sign in as it), unique, and the phone is free to register
    // again as a new account. Bumping the session version ends every session at once.
    sqlx::query(
        "UPDATE users SET phone = $1, nickname = $2, password_hash = NULL, totp_secret = NULL, totp_enabled_at = NULL, \
         status = 'deleted', status_reason = '', session_version = session_version + 1, deleted_at = $3, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(format!("deleted:{user_id}"))
    .bind(DELETED_NICKNAME)
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    db.users_changed();
    db.sessions_changed();
    db.access_changed();
    db.changed(super::Topic::Progress);
    Ok(Erasure::Done)
}
