//! Complaints (投诉) and content reports (举报): the form linked from every page, the complaint's
//! page with its conversation, follow-ups, and the learner's list.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::{FieldErrors, phone_error};
use super::refunds::file_error;
use crate::domain::complaint::{CATEGORIES, category_label_key};
use crate::domain::moderation::HeldKind;
use crate::domain::numbers::ComplaintNo;
use crate::domain::order::looks_like_order_no;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AttachmentId, LessonId, Phone};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::store::attachments::{self, Attachment, Owner};
use crate::store::complaints::{self, Complaint, NewComplaint};
use crate::store::orders;
use crate::store::users::User;
use crate::web::uploads::{self, Rejected};
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

pub const MAX_COMPLAINT_FILES: usize = 3;
const MIN_DESCRIPTION_CHARS: usize = 5;
const MAX_TEXT_CHARS: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(new_form).service(create).service(list).service(show).service(follow_up).service(file);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Prefill {
    order: String,
    lesson: String,
    category: String,
}

struct Fields {
    category: String,
    order_no: String,
    lesson_id: String,
    description: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "complaints/new.html")]
struct NewPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    categories: Vec<(&'static str, &'static str)>,
    f: Fields,
    /// The learner's paid orders to pick from: (order number, title).
    orders: Vec<(String, String)>,
    lesson_title: String,
    errors: FieldErrors,
    max_files: usize,
}

fn categories(lang: Lang) -> Vec<(&'static str, &'static str)> {
    CATEGORIES.iter().map(|c| (*c, lang.t(category_label_key(c)))).collect()
}

async fn new_page(
    ctx: PageContext,
    state: &AppState,
    user: &User,
    f: Fields,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let orders = orders::page_for_user(&state.db, user.id, 50, 0)
        .await?
        .0
        .into_iter()
        .filter(|o| o.paid_at.is_some())
        .map(|o| (o.order_no, o.item_title))
        .collect();
    let lesson_title = f
        .lesson_id
        .parse::<LessonId>()
        .ok()
        .and_then(|id| state.catalog.snapshot().lesson(id).map(|(_, l)| l.title.clone()))
        .unwrap_or_default();
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("complaint_title"), ctx.shop_name()), ctx.t("complaint_intro"));
    let page = NewPage {
        categories: categories(ctx.lang),
        ctx: &ctx,
        meta,
        f,
        orders,
        lesson_title,
        errors,
        max_files: MAX_COMPLAINT_FILES,
    };
    render_with_status(&page, status)
}

#[get("/complaints/new")]
async fn new_form(
    LoggedIn(ctx, user): LoggedIn,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: Prefill = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let category = if !q.lesson.is_empty() {
        "content_report".to_string()
    } else if CATEGORIES.contains(&q.category.as_str()) {
        q.category
    } else {
        String::new()
    };
    let f = Fields {
        category,
        order_no: if looks_like_order_no(&q.order) { q.order } else { String::new() },
        lesson_id: q.lesson.parse::<LessonId>().map(|id| id.to_string()).unwrap_or_default(),
        description: String::new(),
        phone: user.phone.as_str().to_string(),
    };
    new_page(ctx, &state, &user, f, FieldErrors::default(), StatusCode::OK).await
}

/// Complaints one learner may file in 24 hours.
const MAX_COMPLAINTS_A_DAY: i64 = 10;
/// Follow-ups a learner may add to their complaints in 24 hours.
const MAX_FOLLOW_UPS_A_DAY: i64 = 30;

#[post("/complaints/new")]
async fn create(
    LoggedIn(ctx, user): LoggedIn,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tmp = state.settings.uploads_dir().join("tmp");
    // Signed in before anything is read: an anonymous body is never written to disk.
    let upload = uploads::read(&req, payload, &tmp, MAX_COMPLAINT_FILES, &crate::domain::upload::EVIDENCE).await?;
    let lang = ctx.lang;
    let f = Fields {
        category: upload.text("category").trim().to_string(),
        order_no: upload.text("order_no").trim().to_string(),
        lesson_id: upload.text("lesson_id").trim().to_string(),
        description: upload.text("description").trim().to_string(),
        phone: upload.text("phone").trim().to_string(),
    };
    let mut errors = FieldErrors::default();
    if !CATEGORIES.contains(&f.category.as_str()) {
        errors.add("category", lang.t("err_complaint_category"));
    }
    let order = if f.order_no.is_empty() {
        None
    } else {
        let found = if looks_like_order_no(&f.order_no) {
            orders::find_for_user(&state.db, &f.order_no, user.id).await?
        } else {
            None
        };
        if found.is_none() {
            errors.add("order_no", lang.t("err_complaint_order"));
        }
        found
    };
    let lesson_id = match f.lesson_id.parse::<LessonId>() {
        Ok(id) if state.catalog.snapshot().lesson(id).is_some() => Some(id),
        _ if f.lesson_id.is_empty() => None,
        _ => {
            errors.add("description", lang.t("err_complaint_lesson"));
            None
        }
    };
    check_text(lang, &f.description, MIN_DESCRIPTION_CHARS, "description", &mut errors);
    let held = crate::routes::forms::screen(&state, lang, &f.description, "description", &mut errors);
    let phone = match Phone::parse(&f.phone) {
        Ok(phone) => Some(phone),
        Err(e) => {
            errors.add("phone", phone_error(lang, e));
            None
        }
    };
    if let Some(why) = images_only(&upload) {
        errors.add("images", file_error(lang, why, MAX_COMPLAINT_FILES));
    }
    let Some(phone) = phone.filter(|_| errors.is_empty()) else {
        return new_page(ctx, &state, &user, f, errors, StatusCode::BAD_REQUEST).await;
    };
    // A day's complaints per learner are limited: more are follow-ups to the ones filed.
    if complaints::filed_since(&state.db, user.id, now() - 86_400).await? >= MAX_COMPLAINTS_A_DAY {
        errors.add("description", lang.tf("err_complaint_limit", &[("n", &MAX_COMPLAINTS_A_DAY.to_string())]));
        return new_page(ctx, &state, &user, f, errors, StatusCode::TOO_MANY_REQUESTS).await;
    }
    let kept = uploads::keep(state.uploads.as_ref(), "complaints", &upload.files).await?;
    let files: Vec<_> = kept.iter().map(|k| k.as_new(user.id)).collect();
    let at = now();
    let new = NewComplaint {
        user_id: user.id,
        category: &f.category,
        order_id: order.map(|o| o.id),
        lesson_id,
        description: &f.description,
        contact_phone: phone.as_str(),
        reply_due: at + state.complaint_reply_hours() * 3600,
    };
    let complaint_no = complaints::create(&state.db, &new, &files, at).await?;
    tracing::info!(complaint_no, category = %f.category, "complaint received");
    let link = format!("/admin/complaints/{complaint_no}");
    crate::routes::forms::record_held(&state, user.id, HeldKind::Complaint, &f.description, held, &link).await?;
    Ok(redirect(&format!("/complaints/{complaint_no}")))
}

/// Complaints take pictures only; the first problem with the files, if any.
fn images_only(upload: &uploads::UploadForm) -> Option<Rejected> {
    upload.rejected.or_else(|| upload.files.iter().any(|f| !f.kind.is_image()).then_some(Rejected::NotAllowed))
}

fn check_text(lang: Lang, text: &str, min: usize, field: &'static str, errors: &mut FieldErrors) {
    let n = text.chars().count();
    if n == 0 {
        errors.add(field, lang.t("err_text_empty"));
    } else if n < min {
        errors.add(field, lang.tf("err_text_short", &[("n", &min.to_string())]));
    } else if n > MAX_TEXT_CHARS {
        errors.add(field, lang.tf("err_text_long", &[("n", &MAX_TEXT_CHARS.to_string())]));
    }
}

/// A complaint as listed and shown to the learner.
pub struct ComplaintView {
    pub c: Complaint,
    pub category_label: &'static str,
    pub created: String,
}

impl ComplaintView {
    pub fn new(lang: Lang, c: Complaint) -> ComplaintView {
        ComplaintView {
            category_label: lang.t(category_label_key(&c.category)),
            created: shanghai_minutes(c.created_at),
            c,
        }
    }
}

#[derive(Template)]
#[template(path = "complaints/list.html")]
struct ListPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    complaints: Vec<ComplaintView>,
}

#[get("/complaints")]
async fn list(LoggedIn(ctx, user): LoggedIn, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let complaints = complaints::for_user(&state.db, user.id, 100)
        .await?
        .into_iter()
        .map(|c| ComplaintView::new(ctx.lang, c))
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("complaints_mine"), ctx.shop_name()), ctx.t("complaint_intro"));
    render_with_status(&ListPage { ctx: &ctx, meta, complaints }, StatusCode::OK)
}

/// One message of the conversation, as the page shows it.
pub struct Said {
    pub who: &'static str,
    pub mine: bool,
    pub body: String,
    pub at: String,
}

pub fn conversation(lang: Lang, messages: Vec<complaints::Message>) -> Vec<Said> {
    messages
        .into_iter()
        .map(|m| Said {
            who: lang.t(match m.author.as_str() {
                "staff" => "complaint_from_staff",
                "platform" => "complaint_from_platform",
                _ => "complaint_from_learner",
            }),
            mine: m.author == "learner",
            body: m.body,
            at: shanghai_minutes(m.created_at),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "complaints/show.html")]
struct ShowPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    view: ComplaintView,
    said: Vec<Said>,
    files: Vec<Attachment>,
    reply: String,
    errors: FieldErrors,
}

async fn own_complaint(state: &AppState, user: &User, no: &ComplaintNo) -> Result<Complaint, AppError> {
    complaints::find_for_user(&state.db, no, user.id).await?.ok_or(AppError::NotFound)
}

async fn show_page(
    ctx: PageContext,
    state: &AppState,
    c: Complaint,
    reply: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let said = conversation(ctx.lang, complaints::messages(&state.db, c.id).await?);
    let files = attachments::list(&state.db, Owner::Complaint(c.id)).await?;
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} {} - {}", ctx.t("complaint_title"), c.complaint_no, ctx.shop_name()), "");
    let view = ComplaintView::new(ctx.lang, c);
    render_with_status(&ShowPage { ctx: &ctx, meta, view, said, files, reply, errors }, status)
}

#[get("/complaints/{no}")]
async fn show(
    LoggedIn(ctx, user): LoggedIn,
    no: web::Path<ComplaintNo>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let c = own_complaint(&state, &user, &no).await?;
    show_page(ctx, &state, c, String::new(), FieldErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct FollowUp {
    body: String,
}

#[post("/complaints/{no}/messages")]
async fn follow_up(
    LoggedIn(ctx, user): LoggedIn,
    no: web::Path<ComplaintNo>,
    state: web::Data<AppState>,
    form: CsrfForm<FollowUp>,
) -> Result<HttpResponse, AppError> {
    let c = own_complaint(&state, &user, &no).await?;
    let body = form.0.body.trim().to_string();
    let mut errors = FieldErrors::default();
    check_text(ctx.lang, &body, 1, "body", &mut errors);
    let held = crate::routes::forms::screen(&state, ctx.lang, &body, "body", &mut errors);
    if !errors.is_empty() {
        return show_page(ctx, &state, c, body, errors, StatusCode::BAD_REQUEST).await;
    }
    if complaints::follow_ups_since(&state.db, user.id, now() - 86_400).await? >= MAX_FOLLOW_UPS_A_DAY {
        errors.add("body", ctx.tf("err_follow_up_limit", &[("n", &MAX_FOLLOW_UPS_A_DAY.to_string())]));
        return show_page(ctx, &state, c, body, errors, StatusCode::TOO_MANY_REQUESTS).await;
    }
    complaints::follow_up(&state.db, c.id, &body, &[], now()).await?;
    let link = format!("/admin/complaints/{}", c.complaint_no);
    crate::routes::forms::record_held(&state, user.id, HeldKind::Complaint, &body, held, &link).await?;
    Ok(redirect(&format!("/complaints/{}", c.complaint_no)))
}

#[get("/complaints/{no}/files/{id}")]
async fn file(
    LoggedIn(_, user): LoggedIn,
    req: actix_web::HttpRequest,
    path: web::Path<(ComplaintNo, AttachmentId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (no, id) = path.into_inner();
    let c = own_complaint(&state, &user, &no).await?;
    let found = attachments::find(&state.db, Owner::Complaint(c.id), id).await?.ok_or(AppError::NotFound)?;
    uploads::download(&req, state.uploads.as_ref(), &found).await
}
