//! `/admin/switchover/funnel`: from the moment takedown mode was switched on (or the last two
//! weeks, before it ever was), per day, how many of the mini program's buyers came back and how
//! many were told.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::domain::funnel::{self, Funnel, Step};
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::routes::admin::gate::{Staff, area};
use crate::store::switchover;
use crate::web::{AppState, Meta, PageContext, render};

/// Without a switch, the funnel looks this far back; with one, never further than this.
const WINDOW_DAYS: i64 = 14;
const LONGEST_DAYS: i64 = 90;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show);
}

#[derive(Template)]
#[template(path = "admin/switchover_funnel.html")]
struct FunnelPage {
    ctx: PageContext,
    meta: Meta,
    funnel: Funnel,
    steps: [Step; 6],
    /// When takedown mode was switched on, if it ever was.
    switched_on: Option<i64>,
    buyers: i64,
}

impl FunnelPage {
    fn day(&self, day: &i64) -> String {
        crate::domain::time::shanghai_date(crate::domain::stats::day_start(*day))
    }

    fn at(&self, at: &i64) -> String {
        shanghai_minutes(*at)
    }

    fn share(&self, people: &usize) -> String {
        crate::domain::stats::percent(i64::try_from(*people).unwrap_or(0), self.buyers)
    }
}

#[get("/admin/switchover/funnel")]
async fn show(
    Staff(ctx, _, _): Staff<area::Administration>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let at = now();
    let switched_on = switchover::last_takedown_on(&state.db).await?;
    let since = switched_on.unwrap_or(at - WINDOW_DAYS * 86_400).max(at - LONGEST_DAYS * 86_400);
    let events = switchover::funnel_events(&state.db, since).await?;
    let funnel = funnel::tally(since, at, &events);
    let buyers = switchover::reach(&state.db).await?.buyers;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("funnel_title"), ctx.shop_name()), "");
    render(&FunnelPage { ctx, meta, funnel, steps: Step::ALL, switched_on, buyers })
}
