//! Group-buy pages: open a group from a course page, the group's own page (who joined, the
//! seats left, the time left, a way to join), and joining it. The page invites; it does not
//! pressure (seed 004): the plain price, the plain deadline, and what happens if it does not fill.

use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use crate::catalog::Course;
use crate::domain::group::{Group, State, masked_name, may_join};
use crate::domain::numbers::Slug;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{Fen, GroupId, UserId};
use crate::error::AppError;
use crate::services::checkout::{self, Purchase};
use crate::store::groups::{self, GroupRow, Seat};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(open_group).service(group_page).service(join);
}

/// Owns it, or a membership opens it: nothing to buy.
async fn has_course(state: &AppState, user_id: UserId, course: &Course) -> Result<bool, AppError> {
    Ok(state.access.may_learn(&state.db, user_id, course, now()).await?)
}

async fn seat(
    state: &AppState,
    user_id: UserId,
    course: &Course,
    group: Option<GroupId>,
) -> Result<Option<String>, AppError> {
    let at = now();
    // A course sold in cohorts is bought in a cohort, not in a group.
    let offer = course.group.as_ref().filter(|o| (group.is_some() || o.is_on(at)) && course.cohorts.is_empty());
    let Some(offer) = offer else { return Ok(None) };
    let purchase = Purchase { user_id, course, price: offer.price, slot: None, cohort: None };
    let ttl_secs = state.settings.order_ttl_minutes * 60;
    Ok(match checkout::begin_group_seat(&state.db, &purchase, offer, group, ttl_secs, at).await? {
        Seat::ToPay(order) => Some(format!("/orders/{}/pay", order.order_no)),
        Seat::Refused => None,
    })
}

#[post("/courses/{slug}/group")]
async fn open_group(
    LoggedIn(ctx, user): LoggedIn,
    slug: web::Path<Slug>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let course = state.catalog.snapshot().course(&slug).cloned().ok_or(AppError::NotFound)?;
    let user_id = user.id;
    if has_course(&state, user_id, &course).await? {
        return Ok(redirect(&format!("/courses/{}", course.slug)));
    }
    match seat(&state, user_id, &course, None).await? {
        Some(pay) => Ok(redirect(&pay)),
        // The offer ended meanwhile.
        None => {
            ctx.typed_session().set_flash("group_offer_over")?;
            Ok(redirect(&format!("/courses/{}", course.slug)))
        }
    }
}

#[derive(Template)]
#[template(path = "groups/show.html")]
struct GroupPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: std::sync::Arc<Course>,
    group: GroupRow,
    /// Masked names, the opener first.
    members: Vec<String>,
    /// The viewer's seat in it.
    mine: bool,
    /// Why the viewer cannot join, as a translation key; empty when they can.
    refusal: &'static str,
    deadline: String,
}

impl GroupPage<'_> {
    fn state(&self) -> State {
        self.group.status
    }

    fn seats_left(&self) -> i64 {
        self.group.group().seats_left()
    }

    fn saving(&self) -> Fen {
        (self.course.price - self.group.price).max(Fen::ZERO)
    }

    fn empty_seats(&self) -> Vec<i64> {
        (0..self.seats_left()).collect()
    }

    fn open(&self) -> bool {
        self.group.group().is_joinable(now())
    }
}

#[get("/groups/{id}")]
async fn group_page(
    ctx: PageContext,
    id: web::Path<GroupId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let group = groups::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    if group.status == State::Pending {
        // Not public until its opener has paid.
        return Err(AppError::NotFound);
    }
    let course = state.catalog.snapshot().course_by_id(group.course_id).cloned().ok_or(AppError::NotFound)?;
    let names = groups::member_names(&state.db, group.id).await?;
    let viewer = ctx.user.as_ref().map(|u| u.id);
    let mine = viewer.is_some_and(|v| names.iter().any(|(u, _)| *u == v));
    let refusal = match viewer {
        Some(user_id) => {
            let owns = !mine && has_course(&state, user_id, &course).await?;
            match may_join(&group.group(), now(), owns, mine) {
                Ok(()) => "",
                Err(crate::domain::group::Refused::Owns) => "group_you_own",
                Err(crate::domain::group::Refused::AlreadyIn) => "",
                Err(crate::domain::group::Refused::Closed) => "group_closed",
            }
        }
        None => "",
    };
    let ctx = if viewer.is_some() { ctx.with_csrf()? } else { ctx };
    let members = names.iter().map(|(_, nickname)| masked_name(nickname)).collect();
    let deadline = group.deadline.map(shanghai_minutes).unwrap_or_default();
    let title = format!("{} - {}", ctx.t("group_title"), course.title);
    let mut meta = ctx.meta(&title, &course.subtitle);
    meta.image = ctx.absolute(course.cover());
    meta.url = ctx.absolute(&format!("/groups/{}", group.id));
    render(&GroupPage { ctx: &ctx, meta, course, group, members, mine, refusal, deadline })
}

#[post("/groups/{id}/join")]
async fn join(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<GroupId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let group = groups::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let course = state.catalog.snapshot().course_by_id(group.course_id).cloned().ok_or(AppError::NotFound)?;
    let user_id = user.id;
    if has_course(&state, user_id, &course).await? {
        return Ok(redirect(&format!("/groups/{}", group.id)));
    }
    match seat(&state, user_id, &course, Some(group.id)).await? {
        Some(pay) => Ok(redirect(&pay)),
        None => {
            ctx.typed_session().set_flash("group_closed")?;
            Ok(redirect(&format!("/groups/{}", group.id)))
        }
    }
}

/// A group as the course page lists it.
pub struct OpenGroup {
    pub id: GroupId,
    pub opener: String,
    pub seats_left: i64,
    pub deadline: String,
}

/// The course's groups taking members, for its page.
pub async fn open_groups(db: &crate::store::Db, course: &Course) -> Result<Vec<OpenGroup>, AppError> {
    if course.group.is_none() {
        return Ok(Vec::new());
    }
    let mut shown = Vec::new();
    for g in groups::open_for_course(db, course.id, now(), 5).await? {
        let names = groups::member_names(db, g.id).await?;
        let opener = names.first().map(|(_, n)| masked_name(n)).unwrap_or_else(|| masked_name(""));
        let group: Group = g.group();
        let deadline = g.deadline.map(shanghai_minutes).unwrap_or_default();
        shown.push(OpenGroup { id: g.id, opener, seats_left: group.seats_left(), deadline });
    }
    Ok(shown)
}
