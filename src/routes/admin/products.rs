//! What the special products need from staff: the members and when they end, a consultation's
//! slots (publish, withdraw, meeting details), and reviews (reply, hide, restore).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::catalog::Course;
use crate::domain::message::MessageKind;
use crate::domain::moderation::Visibility;
use crate::domain::product::Delivery;
use crate::domain::time::{now, parse_shanghai_datetime, shanghai_minutes};
use crate::domain::{AttachmentId, CourseId, ReviewId, SlotId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::consultations::{self, SlotRow};
use crate::store::memberships::{self, Member};
use crate::store::reviews::{self, Review};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(members)
        .service(slots_page)
        .service(add_slot)
        .service(remove_slot)
        .service(slot_meeting)
        .service(reviews_page)
        .service(review_decide)
        .service(group_page)
        .service(save_group);
}

#[derive(Template)]
#[template(path = "admin/members.html")]
struct MembersPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Member, String, String, bool)>,
}

#[get("/admin/members")]
async fn members(Staff(ctx, _, _): Staff<area::Users>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let at = now();
    let rows = memberships::list(&state.db, at, 500)
        .await?
        .into_iter()
        .map(|m| {
            let (since, ends, running) = (shanghai_minutes(m.since), shanghai_minutes(m.ends_at), m.ends_at > at);
            (m, since, ends, running)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_members"), ctx.shop_name()), "");
    render_with_status(&MembersPage { ctx, meta, rows }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "admin/slots.html")]
struct SlotsPage {
    ctx: PageContext,
    meta: Meta,
    course: std::sync::Arc<Course>,
    slots: Vec<(SlotRow, String)>,
    form: SlotForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct SlotForm {
    starts_at: String,
    minutes: String,
    meeting: String,
}

fn consultation(state: &AppState, id: CourseId) -> Result<std::sync::Arc<Course>, AppError> {
    super::course_by_id(state, id).filter(|c| c.kind.delivery() == Delivery::Session).ok_or(AppError::NotFound)
}

async fn render_slots(
    ctx: PageContext,
    state: &AppState,
    course: std::sync::Arc<Course>,
    form: SlotForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let slots = consultations::for_course(&state.db, course.id, now() - 7 * 86_400)
        .await?
        .into_iter()
        .map(|s| {
            let when = shanghai_minutes(s.starts_at);
            (s, when)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_slots"), course.title), "");
    render_with_status(&SlotsPage { ctx, meta, course, slots, form, errors }, status)
}

#[get("/admin/courses/{id}/slots")]
async fn slots_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = consultation(&state, *id)?;
    let form = SlotForm { minutes: course.consult_minutes.unwrap_or(60).to_string(), ..SlotForm::default() };
    render_slots(ctx, &state, course, form, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/courses/{id}/slots")]
async fn add_slot(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SlotForm>,
) -> Result<HttpResponse, AppError> {
    let course = consultation(&state, *id)?;
    let mut errors = FieldErrors::default();
    let at = now();
    let starts_at = parse_shanghai_datetime(form.starts_at.trim());
    match starts_at {
        None => errors.add("starts_at", ctx.t("err_datetime")),
        Some(t) if t <= at => errors.add("starts_at", ctx.t("err_slot_past")),
        Some(_) => {}
    }
    let minutes = form.minutes.trim().parse::<i64>().ok().filter(|m| (5..=600).contains(m));
    if minutes.is_none() {
        errors.add("minutes", ctx.t("err_number_range"));
    }
    let meeting = form.meeting.trim();
    if meeting.chars().count() > 300 || meeting.chars().any(char::is_control) {
        errors.add("meeting", ctx.t("err_invalid_chars"));
    }
    let (Some(starts_at), Some(minutes), true) = (starts_at, minutes, errors.is_empty()) else {
        return render_slots(ctx, &state, course, form, errors, StatusCode::BAD_REQUEST).await;
    };
    if !consultations::add(&state.db, course.id, starts_at, minutes, meeting, staff.id, at).await? {
        errors.add("starts_at", ctx.t("err_slot_exists"));
        return render_slots(ctx, &state, course, form, errors, StatusCode::CONFLICT).await;
    }
    let change = Change {
        action: "slot.add",
        target_type: "course",
        target_id: course.id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "starts_at": starts_at, "minutes": minutes }),
        note: meeting,
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect(&format!("/admin/courses/{}/slots", course.id)))
}

#[post("/admin/courses/{id}/slots/{slot}/delete")]
async fn remove_slot(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    path: web::Path<(CourseId, SlotId)>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, slot) = path.into_inner();
    let course = consultation(&state, id)?;
    let removed = consultations::remove(&state.db, course.id, slot).await?;
    if removed {
        let change = Change {
            action: "slot.remove",
            target_type: "course",
            target_id: course.id.to_string(),
            before: serde_json::json!({ "slot": slot }),
            after: serde_json::Value::Null,
            note: "",
        };
        audit(&state, &req, &staff, change).await?;
    }
    ctx.typed_session().set_flash(if removed { "saved" } else { "slot_booked_kept" })?;
    Ok(redirect(&format!("/admin/courses/{}/slots", course.id)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MeetingForm {
    meeting: String,
}

#[post("/admin/courses/{id}/slots/{slot}/meeting")]
async fn slot_meeting(
    Staff(ctx, _, _): Staff<area::Catalog>,
    path: web::Path<(CourseId, SlotId)>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<MeetingForm>,
) -> Result<HttpResponse, AppError> {
    let (id, slot) = path.into_inner();
    let course = consultation(&state, id)?;
    let meeting = form.meeting.trim();
    if meeting.chars().count() > 300 || meeting.chars().any(char::is_control) {
        return Err(AppError::BadRequest);
    }
    if !consultations::set_meeting(&state.db, course.id, slot, meeting).await? {
        return Err(AppError::NotFound);
    }
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect(&format!("/admin/courses/{}/slots", course.id)))
}

#[derive(Template)]
#[template(path = "admin/reviews.html")]
struct ReviewsPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Review, String, String, Vec<AttachmentId>)>,
    errors: FieldErrors,
    /// The review whose reply the errors belong to.
    errored: Option<ReviewId>,
}

#[get("/admin/reviews")]
async fn reviews_page(
    Staff(ctx, _, _): Staff<area::Users>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    render_reviews(ctx, &state, FieldErrors::default(), None, StatusCode::OK).await
}

async fn render_reviews(
    ctx: PageContext,
    state: &AppState,
    errors: FieldErrors,
    errored: Option<ReviewId>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let listed = reviews::for_staff(&state.db, 200).await?;
    let ids: Vec<ReviewId> = listed.iter().map(|(r, _)| r.id).collect();
    let photos = crate::store::attachments::review_photos(&state.db, &ids).await?;
    let rows = listed
        .into_iter()
        .map(|(r, title)| {
            let at = shanghai_minutes(r.updated_at);
            let mine = photos.iter().filter(|(review, _)| *review == r.id).map(|(_, photo)| *photo).collect();
            (r, title, at, mine)
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_reviews"), ctx.shop_name()), "");
    render_with_status(&ReviewsPage { ctx, meta, rows, errors, errored }, status)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReviewDecision {
    decision: String,
    reply: String,
}

#[post("/admin/reviews/{id}")]
async fn review_decide(
    Staff(ctx, staff, _): Staff<area::Users>,
    req: HttpRequest,
    id: web::Path<ReviewId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ReviewDecision>,
) -> Result<HttpResponse, AppError> {
    let review = reviews::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let at = now();
    let changed = match form.decision.as_str() {
        "hide" => reviews::set_status(&state.db, review.id, Visibility::Hidden, at).await?,
        "restore" => reviews::set_status(&state.db, review.id, Visibility::Shown, at).await?,
        "reply" => {
            let reply = form.reply.trim();
            if reply.chars().count() > 500 || reply.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
                let mut errors = FieldErrors::default();
                errors.add("reply", ctx.t("err_reply_text"));
                return render_reviews(ctx, &state, errors, Some(review.id), StatusCode::BAD_REQUEST).await;
            }
            let done = reviews::reply(&state.db, review.id, reply, at).await?;
            if done && !reply.is_empty() {
                let link = state
                    .catalog
                    .snapshot()
                    .course_by_id(review.course_id)
                    .map(|c| format!("/courses/{}#review-{}", c.slug, review.id))
                    .unwrap_or_default();
                crate::store::reminders::send_once(
                    &state.db,
                    &format!("review_reply:{}:{at}", review.id),
                    &crate::store::messages::NewMessage {
                        user_id: review.user_id,
                        kind: MessageKind::ReviewReply,
                        ref_no: "",
                        amount: None,
                        note: reply,
                        link: &link,
                    },
                    at,
                )
                .await?;
            }
            done
        }
        _ => {
            let mut errors = FieldErrors::default();
            errors.add("reply", ctx.t("err_required"));
            return render_reviews(ctx, &state, errors, Some(review.id), StatusCode::BAD_REQUEST).await;
        }
    };
    if changed {
        let change = Change {
            action: "review.decide",
            target_type: "review",
            target_id: review.id.to_string(),
            before: serde_json::json!({ "status": review.status }),
            after: serde_json::json!({ "decision": form.decision }),
            note: &review.body,
        };
        audit(&state, &req, &staff, change).await?;
        super::catalog::reload(&state).await?;
    }
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/admin/reviews"))
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupOfferPage {
    ctx: PageContext,
    meta: Meta,
    course: std::sync::Arc<Course>,
    form: GroupForm,
    errors: FieldErrors,
    saved: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct GroupForm {
    price: String,
    size: String,
    fill_hours: String,
    starts_at: String,
    ends_at: String,
    complete_one_short: String,
    action: String,
}

impl GroupForm {
    fn of(offer: &crate::domain::group::Offer) -> GroupForm {
        GroupForm {
            price: offer.price.yuan_string(),
            size: offer.size.to_string(),
            fill_hours: offer.fill_hours.to_string(),
            starts_at: crate::domain::time::shanghai_datetime_value(offer.starts_at),
            ends_at: crate::domain::time::shanghai_datetime_value(offer.ends_at),
            complete_one_short: if offer.complete_one_short { "1".into() } else { String::new() },
            action: String::new(),
        }
    }

    /// The offer, or each bad field's error.
    fn check(&self, ctx: &PageContext, course: &Course, now: i64) -> Result<crate::domain::group::Offer, FieldErrors> {
        let mut errors = FieldErrors::default();
        let price = crate::domain::Fen::parse_yuan(self.price.trim()).filter(|p| p.0 > 0 && *p < course.price);
        if price.is_none() {
            errors.add("price", ctx.t("err_group_price"));
        }
        let size = self.size.trim().parse::<i64>().ok().filter(|n| (2..=10).contains(n));
        if size.is_none() {
            errors.add("size", ctx.t("err_group_size"));
        }
        let hours = self.fill_hours.trim().parse::<i64>().ok().filter(|n| (1..=168).contains(n));
        if hours.is_none() {
            errors.add("fill_hours", ctx.t("err_group_hours"));
        }
        let starts =
            if self.starts_at.trim().is_empty() { Some(now) } else { parse_shanghai_datetime(self.starts_at.trim()) };
        if starts.is_none() {
            errors.add("starts_at", ctx.t("err_datetime"));
        }
        let ends = parse_shanghai_datetime(self.ends_at.trim()).filter(|e| *e > now && starts.is_none_or(|s| *e > s));
        if ends.is_none() {
            errors.add("ends_at", ctx.t("err_group_ends"));
        }
        match (price, size, hours, starts, ends) {
            (Some(price), Some(size), Some(fill_hours), Some(starts_at), Some(ends_at)) if errors.is_empty() => {
                Ok(crate::domain::group::Offer {
                    course_id: course.id,
                    price,
                    size,
                    fill_hours,
                    starts_at,
                    ends_at,
                    complete_one_short: self.complete_one_short == "1",
                })
            }
            _ => Err(errors),
        }
    }
}

fn any_course(state: &AppState, id: CourseId) -> Result<std::sync::Arc<Course>, AppError> {
    super::course_by_id(state, id).filter(|c| c.kind.delivery() == Delivery::Lessons).ok_or(AppError::NotFound)
}

fn render_group(
    ctx: PageContext,
    course: std::sync::Arc<Course>,
    form: GroupForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_group"), course.title), "");
    let saved = course.group.is_some();
    render_with_status(&GroupOfferPage { ctx, meta, course, form, errors, saved }, status)
}

#[get("/admin/courses/{id}/group")]
async fn group_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = any_course(&state, *id)?;
    let form = course.group.as_ref().map(GroupForm::of).unwrap_or_else(|| GroupForm {
        size: "3".into(),
        fill_hours: "24".into(),
        ..GroupForm::default()
    });
    render_group(ctx, course, form, FieldErrors::default(), StatusCode::OK)
}

#[post("/admin/courses/{id}/group")]
async fn save_group(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Result<HttpResponse, AppError> {
    let course = any_course(&state, *id)?;
    let at = now();
    let after = if form.action == "remove" {
        crate::store::groups::remove_offer(&state.db, course.id).await?;
        serde_json::Value::Null
    } else {
        let offer = match form.check(&ctx, &course, at) {
            Ok(offer) => offer,
            Err(errors) => return render_group(ctx, course, form, errors, StatusCode::BAD_REQUEST),
        };
        crate::store::groups::save_offer(&state.db, &offer, at).await?;
        serde_json::json!({ "price_fen": offer.price.0, "size": offer.size, "fill_hours": offer.fill_hours,
            "starts_at": offer.starts_at, "ends_at": offer.ends_at, "complete_one_short": offer.complete_one_short })
    };
    let change = Change {
        action: "group_offer.save",
        target_type: "course",
        target_id: course.id.to_string(),
        before: serde_json::Value::Null,
        after,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    super::catalog::reload(&state).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect(&format!("/admin/courses/{}/group", course.id)))
}
