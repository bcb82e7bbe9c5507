//! The numbers behind the statistics page, grouped in SQL by Shanghai day number
//! (`(t + 28800) / 86400`, the same on SQLite and PostgreSQL) or by course.

use super::Db;
use crate::domain::CourseId;

/// (day, value) rows of one daily measure between two unix times.
async fn per_day(db: &Db, sql: &str, from: i64, until: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(sql).bind(from).bind(until).fetch_all(db.read()).await
}

pub struct Daily {
    pub new_users: Vec<(i64, i64)>,
    pub orders: Vec<(i64, i64)>,
    pub paid_orders: Vec<(i64, i64)>,
    pub revenue_fen: Vec<(i64, i64)>,
    pub refunded_fen: Vec<(i64, i64)>,
    pub active_learners: Vec<(i64, i64)>,
}

/// Daily figures between two unix times (the Shanghai days `first_day..=last_day`); `sales` is
/// `sales_days::between` for the same days.
pub async fn daily(
    db: &Db,
    from: i64,
    until: i64,
    first_day: i64,
    last_day: i64,
    sales: &[super::sales_days::SalesDay],
) -> Result<Daily, sqlx::Error> {
    let day = |col: &str| format!("({col} + 28800) / 86400");
    let sum = |value: fn(&super::sales_days::SalesDay) -> i64| {
        let mut by_day: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
        for s in sales {
            *by_day.entry(s.day).or_default() += value(s);
        }
        by_day.into_iter().filter(|(_, v)| *v != 0).collect::<Vec<_>>()
    };
    Ok(Daily {
        new_users: per_day(
            db,
            &format!(
                "SELECT {d} AS day, COUNT(*) FROM users WHERE created_at >= $1 AND created_at < $2 GROUP BY {d}",
                d = day("created_at")
            ),
            from,
            until,
        )
        .await?,
        orders: sum(|s| s.orders),
        paid_orders: sum(|s| s.paid_orders),
        revenue_fen: sum(|s| s.revenue_fen),
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
    pub course_id: CourseId,
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

/// Learners who hold each course now, and those who completed every lesson: course → (learners,
/// completed). Two scans of indexes (the statistics page keeps the answer in a `cache::EpochCache`).
pub async fn learners_by_course(db: &Db) -> Result<std::collections::HashMap<CourseId, (i64, i64)>, sqlx::Error> {
    let mut out: std::collections::HashMap<CourseId, (i64, i64)> = std::collections::HashMap::new();
    let holders: Vec<(CourseId, i64)> =
        sqlx::query_as("SELECT course_id, COUNT(*) FROM entitlements WHERE revoked_at IS NULL GROUP BY course_id")
            .fetch_all(db.read())
            .await?;
    for (course, n) in holders {
        out.entry(course).or_default().0 = n;
    }
    let finished: Vec<(CourseId, i64)> = sqlx::query_as(
        "SELECT p.course_id, COUNT(*) FROM \
           (SELECT course_id, user_id, COUNT(*) AS n FROM lesson_progress WHERE completed_at IS NOT NULL \
            GROUP BY course_id, user_id) p \
         JOIN (SELECT course_id, COUNT(*) AS total FROM lessons GROUP BY course_id) l ON l.course_id = p.course_id \
         JOIN entitlements en ON en.user_id = p.user_id AND en.course_id = p.course_id AND en.revoked_at IS NULL \
         WHERE p.n >= l.total GROUP BY p.course_id",
    )
    .fetch_all(db.read())
    .await?;
    for (course, n) in finished {
        out.entry(course).or_default().1 = n;
    }
    Ok(out)
}

/// Every course with sales in the range or learners at all, best sellers first. `titles` names
/// the courses; `learners` is `learners_by_course`.
pub fn by_course(
    sales: &[super::sales_days::SalesDay],
    learners: &std::collections::HashMap<CourseId, (i64, i64)>,
    titles: impl Fn(CourseId) -> Option<String>,
) -> Vec<CourseSales> {
    let mut by_id: std::collections::HashMap<CourseId, CourseSales> = std::collections::HashMap::new();
    let blank = |course_id: CourseId| CourseSales {
        course_id,
        title: String::new(),
        paid_orders: 0,
        revenue_fen: 0,
        refunded_fen: 0,
        refunded_orders: 0,
        learners: 0,
        completed: 0,
    };
    for s in sales {
        let c = by_id.entry(s.course_id).or_insert_with(|| blank(s.course_id));
        c.paid_orders += s.paid_orders;
        c.revenue_fen += s.revenue_fen;
        c.refunded_fen += s.refunded_fen;
        c.refunded_orders += s.refunded_orders;
    }
    for (course_id, (held, completed)) in learners {
        let c = by_id.entry(*course_id).or_insert_with(|| blank(*course_id));
        c.learners = *held;
        c.completed = *completed;
    }
    let mut out: Vec<CourseSales> = by_id
        .into_values()
        .filter(|c| c.paid_orders > 0 || c.learners > 0)
        .filter_map(|mut c| {
            c.title = titles(c.course_id)?;
            Some(c)
        })
        .collect();
    out.sort_by(|a, b| {
        b.revenue_fen.cmp(&a.revenue_fen).then(b.paid_orders.cmp(&a.paid_orders)).then(a.course_id.cmp(&b.course_id))
    });
    out
}
