//! Statistics for operators: sales, orders and paid conversion, refunds, new users and active
//! learners by day (drawn as server-side SVG bars), and sales, refund rate and completion rate
//! (完课率) by course; a date range picker; every table exports as CSV.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::Fen;
use crate::domain::stats::{
    Chart, PLOT_BOTTOM, PLOT_LEFT, PLOT_TOP, chart, day_start, fill_days, percent, shanghai_day,
};
use crate::domain::time::{now, shanghai_date, shanghai_day_start};
use crate::error::AppError;
use crate::routes::admin::gate::{Staff, area};
use crate::store::sales_days;
use crate::store::stats::{self, CourseSales};
use crate::web::csv::Csv;
use crate::web::{AppState, Meta, PageContext, render_with_status};

const DEFAULT_DAYS: i64 = 30;
const MAX_DAYS: i64 = 366;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatsQuery {
    from: String,
    to: String,
    format: String,
    table: String,
}

pub struct DayRow {
    pub date: String,
    pub new_users: i64,
    pub orders: i64,
    pub paid_orders: i64,
    pub revenue: Fen,
    pub refunded: Fen,
    pub active_learners: i64,
}

pub struct Summary {
    pub revenue: Fen,
    pub refunded: Fen,
    pub orders: i64,
    pub paid_orders: i64,
    pub conversion: String,
    pub refund_rate: String,
    pub new_users: i64,
    /// Learners active on the last day of the range, and in its last 7 days.
    pub dau: i64,
    pub wau: i64,
}

#[derive(Template)]
#[template(path = "admin/stats.html")]
struct StatsPage {
    ctx: PageContext,
    meta: Meta,
    from: String,
    to: String,
    summary: Summary,
    days: Vec<DayRow>,
    courses: Vec<CourseSales>,
    /// (title, chart) of each chart.
    charts: Vec<(&'static str, Chart)>,
    chart_width: i64,
    chart_height: i64,
    /// The plot's left edge, top and bottom (the value axis and its labels).
    plot: (i64, i64, i64),
    csv_daily: String,
    csv_courses: String,
}

impl StatsPage {
    fn course_refund_rate(&self, c: &CourseSales) -> String {
        percent(c.refunded_orders, c.paid_orders)
    }

    fn completion_rate(&self, c: &CourseSales) -> String {
        percent(c.completed, c.learners)
    }
}

/// The range as Shanghai day numbers: the dates asked for, else the last 30 days; at most a year.
fn range(q: &StatsQuery, today: i64) -> (i64, i64) {
    let last = shanghai_day_start(&q.to).map(shanghai_day).unwrap_or(today);
    let first = shanghai_day_start(&q.from).map(shanghai_day).unwrap_or(last - DEFAULT_DAYS + 1);
    let first = first.min(last).max(last - MAX_DAYS + 1);
    (first, last)
}

#[get("/admin/stats")]
async fn page(
    Staff(ctx, _, _): Staff<area::Statistics>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: StatsQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let (first, last) = range(&q, shanghai_day(now()));
    let (from, until) = (day_start(first), day_start(last + 1));
    let sales = sales_days::between(&state.db, first, last, now()).await?;
    let daily = stats::daily(&state.db, from, until, first, last, &sales).await?;
    let learners = state.learners.get_or_load(&state.db, (), || stats::learners_by_course(&state.db)).await?;
    let catalog = state.catalog.snapshot();
    let courses = stats::by_course(&sales, &learners, |id| catalog.course_by_id(id).map(|c| c.title.clone()));
    let series = |rows: &[(i64, i64)]| fill_days(first, last, rows).into_iter().map(|(_, v)| v).collect::<Vec<_>>();
    let (users, orders, paid, revenue, refunded, active) = (
        series(&daily.new_users),
        series(&daily.orders),
        series(&daily.paid_orders),
        series(&daily.revenue_fen),
        series(&daily.refunded_fen),
        series(&daily.active_learners),
    );
    let days: Vec<DayRow> = (first..=last)
        .enumerate()
        .map(|(i, day)| DayRow {
            date: shanghai_date(day_start(day)),
            new_users: users[i],
            orders: orders[i],
            paid_orders: paid[i],
            revenue: Fen(revenue[i]),
            refunded: Fen(refunded[i]),
            active_learners: active[i],
        })
        .collect();
    let (from_text, to_text) = (shanghai_date(from), shanghai_date(day_start(last)));
    if q.format == "csv" {
        return Ok(if q.table == "courses" { courses_csv(&courses) } else { daily_csv(&days) }.response(&format!(
            "kedian-{}-{from_text}-{to_text}.csv",
            if q.table == "courses" { "courses" } else { "daily" }
        )));
    }
    let total = |v: &[i64]| v.iter().sum::<i64>();
    let refunded_orders: i64 = courses.iter().map(|c| c.refunded_orders).sum();
    let summary = Summary {
        revenue: Fen(total(&revenue)),
        refunded: Fen(total(&refunded)),
        orders: total(&orders),
        paid_orders: total(&paid),
        conversion: percent(total(&paid), total(&orders)),
        refund_rate: percent(refunded_orders, total(&paid)),
        new_users: total(&users),
        dau: active.last().copied().unwrap_or(0),
        wau: stats::active_between(&state.db, last - 6, last).await?,
    };
    let revenue_bars = chart(
        &days
            .iter()
            .map(|d| (d.date.get(5..).unwrap_or_default().to_string(), d.revenue.0, d.revenue.to_string()))
            .collect::<Vec<_>>(),
    );
    let active_bars = chart(
        &days
            .iter()
            .map(|d| {
                (d.date.get(5..).unwrap_or_default().to_string(), d.active_learners, d.active_learners.to_string())
            })
            .collect::<Vec<_>>(),
    );
    let link = |table: &str| {
        let query = serde_urlencoded::to_string([
            ("from", from_text.as_str()),
            ("to", to_text.as_str()),
            ("format", "csv"),
            ("table", table),
        ])
        .unwrap_or_default();
        format!("/admin/stats?{query}")
    };
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_stats"), ctx.shop_name()), "");
    let charts = vec![(ctx.t("stats_revenue_by_day"), revenue_bars), (ctx.t("stats_active_by_day"), active_bars)];
    let page = StatsPage {
        charts,
        csv_daily: link("daily"),
        csv_courses: link("courses"),
        ctx,
        meta,
        from: from_text,
        to: to_text,
        summary,
        days,
        courses,

        chart_width: crate::domain::stats::CHART_WIDTH,
        chart_height: crate::domain::stats::CHART_HEIGHT,
        plot: (PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM),
    };
    render_with_status(&page, StatusCode::OK)
}

fn daily_csv(days: &[DayRow]) -> Csv {
    let mut csv =
        Csv::new(&["date", "new_users", "orders", "paid_orders", "revenue_yuan", "refunded_yuan", "active_learners"]);
    for d in days {
        csv.row(&[
            &d.date,
            &d.new_users.to_string(),
            &d.orders.to_string(),
            &d.paid_orders.to_string(),
            &d.revenue.yuan_string(),
            &d.refunded.yuan_string(),
            &d.active_learners.to_string(),
        ]);
    }
    csv
}

fn courses_csv(courses: &[CourseSales]) -> Csv {
    let mut csv = Csv::new(&[
        "course",
        "paid_orders",
        "revenue_yuan",
        "refunded_yuan",
        "refund_rate",
        "learners",
        "completed",
        "completion_rate",
    ]);
    for c in courses {
        csv.row(&[
            &c.title,
            &c.paid_orders.to_string(),
            &Fen(c.revenue_fen).yuan_string(),
            &Fen(c.refunded_fen).yuan_string(),
            &percent(c.refunded_orders, c.paid_orders),
            &c.learners.to_string(),
            &c.completed.to_string(),
            &percent(c.completed, c.learners),
        ]);
    }
    csv
}
