//! The personal centre.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::{FieldErrors, nickname_error};
use crate::domain::moderation::HeldKind;
use crate::domain::text::parse_nickname;
use crate::domain::time::{now, shanghai_minutes};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::store::messages;
use crate::store::users::{self, User};
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(me)
        .service(update)
        .service(messages_page)
        .service(mark_read)
        .service(sms_preference)
        .service(reminder_preference);
}

#[derive(Template)]
#[template(path = "me/index.html")]
struct MePage {
    ctx: PageContext,
    meta: Meta,
    user: User,
    nickname: String,
    sms_opted_out: bool,
    /// Reminders (membership ending, live sessions, consultations) by text too.
    sms_reminders: bool,
    /// When the membership ends (Beijing time) and whether it runs now.
    membership: Option<(String, bool)>,
    /// Courses the learner may study now, and orders of every state.
    owned: usize,
    orders: i64,
    errors: FieldErrors,
}

impl MePage {
    fn joined(&self) -> String {
        shanghai_minutes(self.user.created_at)
    }

    /// The letter in the avatar circle: the nickname's first character.
    fn initial(&self) -> String {
        self.user.nickname.chars().next().map(String::from).unwrap_or_default()
    }
}

async fn page(
    ctx: PageContext,
    state: &AppState,
    user: User,
    nickname: String,
    errors: FieldErrors,
) -> Result<MePage, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("me_title"), ctx.shop_name()), ctx.t("site_description"));
    let sms_opted_out = crate::store::broadcasts::opted_out(&state.db, user.phone.as_str()).await?;
    let owned = state.access.owned(&state.db, user.id).await?.len();
    let orders = crate::store::orders::count_for_user(&state.db, user.id).await?;
    let sms_reminders = crate::store::reminders::sms_agreed(&state.db, user.id).await?;
    let timeline = state.access.membership(&state.db, user.id).await?;
    let membership = timeline.ends_at().map(|end| (shanghai_minutes(end), timeline.at(now()).is_some()));
    Ok(MePage { ctx, meta, user, nickname, sms_opted_out, sms_reminders, membership, owned, orders, errors })
}

#[get("/me")]
async fn me(ctx: PageContext, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(user) = ctx.user.clone() else {
        return Ok(redirect(&ctx.login_href()));
    };
    let nickname = user.nickname.clone();
    render_with_status(&page(ctx, &state, user, nickname, FieldErrors::default()).await?, StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NicknameForm {
    nickname: String,
}

#[post("/me")]
async fn update(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<NicknameForm>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = ctx.user.clone() else {
        return Ok(redirect("/login?next=/me"));
    };
    let mut errors = FieldErrors::default();
    let parsed = parse_nickname(&form.nickname).map_err(|e| errors.add("nickname", nickname_error(ctx.lang, e))).ok();
    let held = match &parsed {
        Some(nickname) => crate::routes::forms::screen(&state, ctx.lang, nickname, "nickname", &mut errors),
        None => None,
    };
    if user.status == crate::domain::staff::AccountStatus::Muted {
        errors.add("nickname", ctx.t("err_muted"));
    }
    let (Some(nickname), true) = (parsed, errors.is_empty()) else {
        let status = if user.status == crate::domain::staff::AccountStatus::Muted {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        let shown = form.nickname.chars().take(40).collect();
        return render_with_status(&page(ctx, &state, user, shown, errors).await?, status);
    };
    if held.is_some() {
        // A public name with a held word waits for staff; the old one stays meanwhile.
        let link = format!("/admin/users/{}", user.id);
        crate::routes::forms::record_held(&state, user.id, HeldKind::Nickname, &nickname, held, &link).await?;
        ctx.typed_session().set_flash("nickname_held")?;
        return Ok(redirect("/me"));
    }
    users::set_nickname(&state.db, user.id, &nickname, now()).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/me"))
}

/// A site message in the reader's language.
pub struct Shown {
    pub text: String,
    pub body: String,
    pub unread: bool,
    pub link: String,
    pub at: String,
}

fn word(lang: Lang, m: &messages::Message) -> String {
    let Some(key) = m.kind.words_key() else {
        // An announcement: its title is the message.
        return m.note.clone();
    };
    let amount = m.amount.map(|a| a.to_string()).unwrap_or_default();
    lang.tf(key, &[("no", &m.ref_no), ("amount", &amount), ("note", &m.note)])
}

#[derive(Template)]
#[template(path = "me/messages.html")]
struct MessagesPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    messages: Vec<Shown>,
}

#[get("/me/messages")]
async fn messages_page(LoggedIn(ctx, user): LoggedIn, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let messages = messages::recent(&state.db, user.id, 100)
        .await?
        .iter()
        .map(|m| Shown {
            text: word(ctx.lang, m),
            body: m.body.clone(),
            unread: m.unread,
            link: m.link.clone(),
            at: shanghai_minutes(m.created_at),
        })
        .collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("messages_title"), ctx.shop_name()), ctx.t("site_description"));
    render_with_status(&MessagesPage { ctx: &ctx, meta, messages }, StatusCode::OK)
}

#[post("/me/messages/read")]
async fn mark_read(
    LoggedIn(_, user): LoggedIn,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    messages::mark_all_read(&state.db, user.id, now()).await?;
    Ok(redirect("/me/messages"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SmsForm {
    /// 1: receive broadcast texts; 0: opt out.
    receive: String,
}

/// Reminders by text as well as on the site, or on the site only.
#[post("/me/reminders")]
async fn reminder_preference(
    LoggedIn(ctx, user): LoggedIn,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SmsForm>,
) -> Result<HttpResponse, AppError> {
    let agreed = match form.receive.as_str() {
        "1" => true,
        "0" => false,
        _ => return Err(AppError::BadRequest),
    };
    crate::store::reminders::set_sms_agreed(&state.db, user.id, agreed, now()).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/me"))
}

/// Opting out of (or back into) the shop's broadcast text messages.
#[post("/me/sms")]
async fn sms_preference(
    LoggedIn(ctx, user): LoggedIn,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SmsForm>,
) -> Result<HttpResponse, AppError> {
    let out = match form.receive.as_str() {
        "0" => true,
        "1" => false,
        _ => return Err(AppError::BadRequest),
    };
    crate::store::broadcasts::set_opt_out(&state.db, user.phone.as_str(), out, now()).await?;
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect("/me"))
}
