//! The numbers behind the statistics page, grouped in SQL by Shanghai day number
//! (`(t + 28800) / 86400`, the same on SQLite and PostgreSQL) or by course.

use sqlx::Row;

use super::Db;

/// (day, value) rows of one daily measure between two unix times.
async fn per_day(db: &Db, sql: &str, from: i64, until: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(sql).bind(from).bind(until).fetch_all(db.read()).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

pub struct Daily {
    pub new_users: Vec<(i64, i64)>,
    pub orders: Vec<(i64, i64)>,
    pub paid_orders: Vec<(i64, i64)>,
    pub revenue_fen: Vec<(i64, i64)>,
    pub refunded_fen: Vec<(i64, i64)>,
    pub active_learners: Vec<(i64, i64)>,
}

pub async fn daily(db: &Db, from: i64, until: i64, first_day: i64, last_day: i64) -> Result<Daily, sqlx::Error> {
    let day = |col: &str| format!("({col} + 28800) / 86400");
    Ok(Daily {
        new_users: per_day(
            db,
            &format!("SELECT {d} AS day, COUNT(*) FROM users WHERE created_at >= $1 AND created_at < $2 GROUP BY {d}", d = day("created_at")),
            from,
            until,
        )
        .await?,
        orders: per_day(
            db,
            &format!("SELECT {d} AS day, COUNT(*) FROM orders WHERE created_at >= $1 AND created_at < $2 GROUP BY {d}", d = day("created_at")),
            from,
            until,
        )
        .await?,
        paid_orders: per_day(
            db,
            &format!("SELECT {d} AS day, COUNT(*) FROM orders WHERE paid_at >= $1 AND paid_at < $2 GROUP BY {d}", d = day("paid_at")),
            from,
            until,
        )
        .await?,
        revenue_fen: per_day(
            db,
            &format!(
                "SELECT {d} AS day, CAST(SUM(amount_fen) AS BIGINT) FROM orders WHERE paid_at >= $1 AND paid_at < $2 GROUP BY {d}",
                d = day("paid_at")
            ),
            from,
            until,
        )
        .await?,
        refunded_fen: per_day(
            db,
            &format!(
                "SELECT {d} AS day, CAST(SUM(amount_fen) AS BIGINT) FROM refund_requests \
                 WHERE status = 'refunded' AND completed_at >= $1 AND completed_at < $2 GROUP BY {d}",
                d = day("completed_at")
            ),
            from,
            until,
        )
        .await?,
        active_learners: per_day(
            db,
            "SELECT day, COUNT(*) FROM learner_days WHERE day >= $1 AND day <= $2 GROUP BY day",
            first_day,
            last_day,
        )
        .await?,
    })
}

/// Distinct learners who studied on any day in `first..=last`.
pub async fn active_between(db: &Db, first: i64, last: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(DISTINCT user_id) FROM learner_days WHERE day >= $1 AND day <= $2")
        .bind(first)
        .bind(last)
        .fetch_one(db.read())
        .await
}

#[derive(Debug, Clone)]
pub struct CourseSales {
    pub course_id: i64,
    pub title: String,
    pub paid_orders: i64,
    pub revenue_fen: i64,
    pub refunded_fen: i64,
    /// Paid orders in the range that were later refunded in part or in full.
    pub refunded_orders: i64,
    /// Learners who hold the course now, and those who completed every lesson.
    pub learners: i64,
    pub completed: i64,
}

impl CourseSales {
    pub fn revenue(&self) -> crate::domain::Fen {
        crate::domain::Fen(self.revenue_fen)
    }

    pub fn refunded(&self) -> crate::domain::Fen {
        crate::domain::Fen(self.refunded_fen)
    }
}

/// Every course with sales in the range or learners at all, best sellers first.
pub async fn by_course(db: &Db, from: i64, until: i64) -> Result<Vec<CourseSales>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.title, \
           COALESCE(s.paid, 0) AS paid, COALESCE(s.revenue, 0) AS revenue, COALESCE(s.refunded, 0) AS refunded, \
           COALESCE(s.refunded_orders, 0) AS refunded_orders, COALESCE(e.learners, 0) AS learners, \
           COALESCE(f.finished, 0) AS finished \
         FROM courses c \
         LEFT JOIN (SELECT course_id, COUNT(*) AS paid, CAST(SUM(amount_fen) AS BIGINT) AS revenue, \
                      CAST(SUM(refunded_fen) AS BIGINT) AS refunded, \
                      SUM(CASE WHEN refunded_fen > 0 THEN 1 ELSE 0 END) AS refunded_orders \
                    FROM orders WHERE paid_at >= $1 AND paid_at < $2 GROUP BY course_id) s ON s.course_id = c.id \
         LEFT JOIN (SELECT course_id, COUNT(*) AS learners FROM entitlements WHERE revoked_at IS NULL GROUP BY course_id) e \
           ON e.course_id = c.id \
         LEFT JOIN (SELECT p.course_id, COUNT(*) AS finished FROM \
                      (SELECT course_id, user_id, COUNT(*) AS n FROM lesson_progress WHERE completed_at IS NOT NULL \
                       GROUP BY course_id, user_id) p \
                    JOIN (SELECT course_id, COUNT(*) AS total FROM lessons GROUP BY course_id) l ON l.course_id = p.course_id \
                    JOIN entitlements en ON en.user_id = p.user_id AND en.course_id = p.course_id AND en.revoked_at IS NULL \
                    WHERE p.n >= l.total GROUP BY p.course_id) f ON f.course_id = c.id \
         WHERE COALESCE(s.paid, 0) > 0 OR COALESCE(e.learners, 0) > 0 \
         ORDER BY revenue DESC, paid DESC, c.id",
    )
    .bind(from)
    .bind(until)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CourseSales {
                course_id: r.try_get("id")?,
                title: r.try_get("title")?,
                paid_orders: r.try_get("paid")?,
                revenue_fen: r.try_get("revenue")?,
                refunded_fen: r.try_get("refunded")?,
                refunded_orders: r.try_get("refunded_orders")?,
                learners: r.try_get("learners")?,
                completed: r.try_get("finished")?,
            })
        })
        .collect()
}
