//! Register, log in (SMS code or password), log out.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::{FieldErrors, code_format_error, nickname_error, password_error, phone_error};
use crate::auth::codes::{self, CodeError};
use crate::auth::human_check::{self, Answer};
use crate::auth::{attempts, password};
use crate::domain::text::{check_password, parse_nickname, parse_sms_code, safe_next};
use crate::domain::time::now;
use crate::domain::{Phone, text::TextError};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::store::users::{self, CreateUserError, Role};
use crate::store::{Db, limits};
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, Meta, PageContext, client_ip, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page).service(login).service(register_page).service(register).service(logout);
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuthForm {
    method: String,
    action: String,
    pub phone: String,
    code: String,
    pub password: String,
    password2: String,
    nickname: String,
    agree: String,
    pub next: String,
    /// A course the visitor was buying when asked to log in: login goes on to its order.
    buy: String,
    /// Where the slider puzzle's piece was left, when one was asked for.
    pub slide: String,
}

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    ctx: PageContext,
    meta: Meta,
    /// "sms" or "password"
    method: &'static str,
    phone: String,
    next: String,
    /// The course being bought, carried through the form (see `AuthForm::buy`).
    buy: String,
    /// The purchase agreement that signing in to claim a free course (`buy`) accepts.
    claim_agreement: Option<std::sync::Arc<crate::store::agreements::Agreement>>,
    notice: String,
    /// Inside WeChat, with WeChat configured: offer the one-tap sign-in.
    wechat: bool,
    /// The PC QR sign-in button.
    wechat_qr: bool,
    /// The slider puzzle's nonce, when one is asked for (see `human_check`).
    puzzle: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "accounts/register.html")]
struct RegisterPage {
    ctx: PageContext,
    meta: Meta,
    phone: String,
    nickname: String,
    agreed: bool,
    next: String,
    notice: String,
    puzzle: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    method: String,
    next: String,
    wechat: String,
    buy: String,
}

fn method_of(value: &str) -> &'static str {
    if value == "password" { "password" } else { "sms" }
}

pub(crate) fn next_of(value: &str) -> String {
    safe_next(value).unwrap_or_else(|| "/me".to_string())
}

fn page_query(req: &HttpRequest) -> PageQuery {
    serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
}

#[get("/login")]
async fn login_page(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let q = page_query(&req);
    if ctx.user.is_some() {
        return Ok(redirect(&next_of(&q.next)));
    }
    let wechat = crate::routes::wechat_login::offered(&req, &state);
    // Inside WeChat, signing in starts with the silent look-up: a learner the shop knows by their
    // WeChat is in without typing. It comes back here (with `wechat=`) when it finds no one.
    if wechat && q.wechat.is_empty() && q.method.is_empty() {
        let buy: String = q.buy.chars().take(100).collect();
        return Ok(redirect(&crate::routes::wechat_login::silent_href(&next_of(&q.next), &buy)));
    }
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("login_title"), ctx.shop_name()), ctx.t("site_description"));
    let page = LoginPage {
        meta,
        method: method_of(&q.method),
        phone: String::new(),
        next: next_of(&q.next),
        claim_agreement: claim_agreement_for(&state, &q.buy),
        buy: q.buy.chars().take(100).collect(),
        notice: match q.wechat.as_str() {
            "pending" => ctx.t("wechat_login_pending").to_string(),
            "declined" => ctx.t("wechat_login_declined").to_string(),
            "unknown" => ctx.t("wechat_qr_unknown").to_string(),
            _ => String::new(),
        },
        wechat,
        wechat_qr: crate::routes::wechat_login::qr_offered(&req, &state),
        puzzle: String::new(),
        errors: FieldErrors::default(),
        ctx,
    };
    render_with_status(&page, StatusCode::OK)
}

#[get("/register")]
async fn register_page(ctx: PageContext, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let q = page_query(&req);
    if ctx.user.is_some() {
        return Ok(redirect(&next_of(&q.next)));
    }
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("register_title"), ctx.shop_name()), ctx.t("site_description"));
    let page = RegisterPage {
        meta,
        phone: String::new(),
        nickname: String::new(),
        agreed: false,
        next: next_of(&q.next),
        notice: String::new(),
        puzzle: String::new(),
        errors: FieldErrors::default(),
        ctx,
    };
    render_with_status(&page, StatusCode::OK)
}

/// The outcome of a form post that did not log anyone in: the form again, with a status.
pub(crate) struct Retry {
    pub status: StatusCode,
    pub notice: String,
    pub errors: FieldErrors,
    /// For 429: seconds until the limit lets the visitor try again (sent as `Retry-After`).
    pub retry_after: Option<i64>,
    /// Show the slider puzzle: the request was refused until the visitor solves one.
    pub puzzle: bool,
}

impl Retry {
    pub(crate) fn error(status: StatusCode, field: &'static str, message: impl Into<String>) -> Retry {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Retry { status, notice: String::new(), errors, retry_after: None, puzzle: false }
    }

    pub(crate) fn invalid(errors: FieldErrors) -> Retry {
        Retry::with_errors(StatusCode::BAD_REQUEST, errors)
    }

    pub(crate) fn with_errors(status: StatusCode, errors: FieldErrors) -> Retry {
        Retry { status, notice: String::new(), errors, retry_after: None, puzzle: false }
    }

    /// Refused until the visitor solves the puzzle shown beside the form.
    pub(crate) fn puzzle(lang: Lang, answer: Answer) -> Retry {
        let message = lang.t(human_check::message_key(answer));
        Retry { puzzle: true, ..Retry::error(StatusCode::TOO_MANY_REQUESTS, "human_check", message) }
    }

    fn limited(lang: Lang, field: &'static str, reason: &str, secs: i64) -> Retry {
        let mut retry =
            Retry::error(StatusCode::TOO_MANY_REQUESTS, field, format!("{reason}{}", lang.wait_message(secs)));
        retry.retry_after = Some(secs);
        retry
    }
}

/// A new puzzle in the session when the outcome asks for one: its nonce for the page, or empty.
pub(crate) fn puzzle_for(ctx: &PageContext, wanted: bool) -> Result<String, AppError> {
    if !wanted {
        return Ok(String::new());
    }
    Ok(human_check::ask(&ctx.typed_session(), now())?.nonce)
}

/// The form page again, with the outcome's status and, for a limit, `Retry-After`.
pub(crate) fn respond<T: Template>(
    page: &T,
    status: StatusCode,
    retry_after: Option<i64>,
) -> Result<HttpResponse, AppError> {
    let mut response = render_with_status(page, status)?;
    if let Some(secs) = retry_after
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    Ok(response)
}

#[tracing::instrument(skip_all, fields(method = %form.method, action = %form.action))]
#[post("/login")]
async fn login(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<AuthForm>,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let method = method_of(&form.method);
    let next = next_of(&form.next);
    let human = human_check::answer(&ctx.typed_session(), &form.slide, now());
    let outcome = match (method, form.action.as_str()) {
        (_, "send_code") => {
            SignIn::Retry(send_code(&state, ctx.lang, &form.phone, &asker(&req, &state, &ip, human)).await?)
        }
        ("sms", _) => login_with_code(&state, ctx.lang, &form, &browser_of(&req, &state)).await?,
        _ => login_with_password(&state, ctx.lang, &form, &ip, device_cookie(&req).as_deref(), human, false).await?,
    };
    let outcome = match outcome {
        SignIn::In(user) if user.is_banned() => {
            SignIn::Retry(Retry::error(StatusCode::FORBIDDEN, "phone", ctx.t("err_account_banned")))
        }
        other => other,
    };
    match outcome {
        SignIn::In(user) => {
            start_session(&ctx, &req, &state, &user, method).await?;
            tracing::info!(user_id = %user.id, "logged in");
            // Logging in to buy goes straight on to the order (this POST carries the CSRF token).
            let course = state.catalog.snapshot().course(&form.buy).cloned().filter(|c| c.published);
            let to = match course {
                Some(course) if !state.access.owns(&state.db, user.id, course.id).await? => {
                    crate::routes::orders::begin_purchase(&state, &user, &course, None, &ctx.typed_session(), &ip)
                        .await?
                }
                _ => next,
            };
            let mut response = redirect(&to);
            remember_device(&mut response, &state, &user)?;
            Ok(response)
        }
        SignIn::Retry(retry) => {
            let (status, retry_after) = (retry.status, retry.retry_after);
            let ctx = ctx.with_csrf()?;
            let meta = ctx.meta(&format!("{} - {}", ctx.t("login_title"), ctx.shop_name()), ctx.t("site_description"));
            let page = LoginPage {
                meta,
                method,
                phone: form.phone.chars().take(32).collect(),
                next,
                claim_agreement: claim_agreement_for(&state, &form.buy),
                buy: form.buy.chars().take(100).collect(),
                notice: retry.notice,
                wechat: false,
                wechat_qr: false,
                puzzle: puzzle_for(&ctx, retry.puzzle)?,
                errors: retry.errors,
                ctx,
            };
            respond(&page, status, retry_after)
        }
    }
}

/// The purchase agreement named on the sign-in page when signing in goes on to claim `buy`.
fn claim_agreement_for(state: &AppState, buy: &str) -> Option<std::sync::Arc<crate::store::agreements::Agreement>> {
    let course = state.catalog.snapshot().course(buy).cloned().filter(|c| c.published)?;
    crate::routes::orders::claim_agreement(state, &course)
}

/// A fresh session for `user`, and a line in the account's login history.
pub async fn start_session(
    ctx: &PageContext,
    req: &HttpRequest,
    state: &AppState,
    user: &users::User,
    method: &str,
) -> Result<(), AppError> {
    let ip = client_ip(req, state.settings.trust_forwarded);
    let agent = req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    users::record_login(&state.db, user, method, &ip, agent, now()).await?;
    // Signing in accepts the user agreement the sign-in page links to.
    if let Some(agreement) = state.agreements.current().user.clone()
        && crate::domain::agreement::must_ask(user.agreed_version, Some(agreement.version))
    {
        crate::store::agreements::accept(&state.db, user.id, &agreement, None, &ip, now()).await?;
    }
    let session = ctx.typed_session();
    if method == "staff" {
        session.log_in_staff(user.id, user.session_version, now())?;
    } else {
        session.log_in(user.id, user.session_version, now())?;
        // A WeChat sign-in that found no account: this login is that person, link them.
        if let Some((openid, unionid)) = session.take_pending_wechat() {
            crate::routes::wechat_login::link(state, user.id, &openid, unionid.as_deref()).await?;
        }
    }
    Ok(())
}

/// What a sign-in or sign-up form came to: the account, or the form again with why.
pub(crate) enum SignIn {
    In(users::User),
    Retry(Retry),
}

pub(crate) type Outcome = Result<SignIn, AppError>;

/// Marks this browser as one that signed in as the account's phone (see `auth::codes`).
const KNOWN_DEVICE_COOKIE: &str = "kd_known";

/// Who asks for a code: this browser (by its session's token) from this address, with its
/// answer to the puzzle.
pub(crate) fn asker<'a>(req: &HttpRequest, state: &AppState, ip: &'a str, human: Answer) -> codes::Asker<'a> {
    codes::Asker { ip, browser: browser_of(req, state), device_cookie: device_cookie(req), human, owner: false }
}

/// The browser's known-device cookie, if it sent one.
pub(crate) fn device_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(KNOWN_DEVICE_COOKIE).map(|c| c.value().to_string())
}

/// Whether `cookie` says this browser signed in as `phone` before.
pub(crate) fn is_known_device(state: &AppState, cookie: Option<&str>, phone: &Phone) -> bool {
    use subtle::ConstantTimeEq;
    cookie.is_some_and(|c| bool::from(c.as_bytes().ct_eq(codes::known_device(&state.code_key, phone).as_bytes())))
}

/// This browser, as codes know it: its session's CSRF token (a form post has one), keyed.
pub(crate) fn browser_of(req: &HttpRequest, state: &AppState) -> String {
    use actix_session::SessionExt;
    let token = crate::auth::session::TypedSession(&req.get_session()).csrf_token().unwrap_or_default();
    codes::browser_id(&state.code_key, &token)
}

/// After a sign-in as a phone number: this browser is that phone's known device for a year.
pub(crate) fn remember_device(
    response: &mut HttpResponse,
    state: &AppState,
    user: &users::User,
) -> Result<(), AppError> {
    if !user.phone.is_number() {
        return Ok(());
    }
    let cookie =
        actix_web::cookie::Cookie::build(KNOWN_DEVICE_COOKIE, codes::known_device(&state.code_key, &user.phone))
            .path("/")
            .http_only(true)
            .secure(state.settings.cookie_secure)
            .same_site(actix_web::cookie::SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish();
    response.add_cookie(&cookie).map_err(|e| AppError::Internal(e.into()))
}

pub(crate) async fn send_code(
    state: &AppState,
    lang: Lang,
    phone: &str,
    asker: &codes::Asker<'_>,
) -> Result<Retry, AppError> {
    let phone = match Phone::parse(phone) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Retry::error(StatusCode::BAD_REQUEST, "phone", phone_error(lang, e)));
        }
    };
    match codes::send(&state.db, state.sms.as_ref(), &state.code_key, &phone, asker, &state.shop.get().sms_code, now())
        .await
    {
        Ok(_) => {
            tracing::info!(phone = %phone, "verification code sent");
            let notice = lang.tf("code_sent", &[("phone", &phone.masked())]);
            Ok(Retry { notice, ..Retry::with_errors(StatusCode::OK, FieldErrors::default()) })
        }
        Err(CodeError::RateLimited(secs)) => Ok(Retry::limited(lang, "phone", lang.t("err_code_too_often"), secs)),
        Err(CodeError::HumanCheck) => Ok(Retry::puzzle(lang, asker.human)),
        Err(CodeError::NotDelivered) => {
            Ok(Retry::error(StatusCode::SERVICE_UNAVAILABLE, "phone", lang.t("err_sms_not_delivered")))
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

/// Checks the code; a wrong one is a retry with the error beside the code field.
pub(crate) async fn check_code(
    state: &AppState,
    lang: Lang,
    phone: &Phone,
    code: &str,
    browser: &str,
) -> Result<Option<Retry>, AppError> {
    let message = match codes::verify(&state.db, &state.code_key, phone, browser, code, now()).await {
        Ok(()) => return Ok(None),
        Err(e) => super::forms::code_error(lang, e)?,
    };
    Ok(Some(Retry::error(StatusCode::BAD_REQUEST, "code", message)))
}

/// Logging in with a code proves the phone; an unknown phone gets a new account, as the page says.
async fn login_with_code(state: &AppState, lang: Lang, form: &AuthForm, browser: &str) -> Outcome {
    let mut errors = FieldErrors::default();
    let phone = Phone::parse(&form.phone).map_err(|e| errors.add("phone", phone_error(lang, e))).ok();
    let code = parse_sms_code(&form.code).map_err(|e| errors.add("code", code_format_error(lang, e))).ok();
    let (Some(phone), Some(code)) = (phone, code) else {
        return Ok(SignIn::Retry(Retry::invalid(errors)));
    };
    if let Some(retry) = check_code(state, lang, &phone, &code, browser).await? {
        return Ok(SignIn::Retry(retry));
    }
    let user = match users::find_by_phone(&state.db, &phone).await? {
        Some(user) => user,
        None => create_account(&state.db, &phone, &users::default_nickname(&phone), None).await?,
    };
    // The code proved the phone: a password lock someone else caused ends for its owner.
    limits::clear_login_failures(&state.db, user.id).await?;
    Ok(SignIn::In(user))
}

async fn create_account(db: &Db, phone: &Phone, nickname: &str, hash: Option<&str>) -> Result<users::User, AppError> {
    match users::create(db, phone, nickname, hash, Role::Learner, now()).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "account created");
            Ok(user)
        }
        // Created by a concurrent request for the same phone a moment ago.
        Err(CreateUserError::PhoneTaken) => users::find_by_phone(db, phone)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("account vanished after unique violation"))),
        Err(CreateUserError::Db(e)) => Err(e.into()),
    }
}

/// A password sign-in, within the per-account and per-source limits (`staff` picks the wording:
/// learners are told an SMS code still gets them in).
pub(crate) async fn login_with_password(
    state: &AppState,
    lang: Lang,
    form: &AuthForm,
    ip: &str,
    device_cookie: Option<&str>,
    human: Answer,
    staff: bool,
) -> Outcome {
    let mut errors = FieldErrors::default();
    let phone = Phone::parse(&form.phone).map_err(|e| errors.add("phone", phone_error(lang, e))).ok();
    if form.password.is_empty() {
        errors.add("password", lang.t("err_password_empty"));
    } else if form.password.chars().count() > crate::domain::text::PASSWORD_MAX_CHARS {
        errors.add("password", lang.t("err_password_long"));
    }
    let Some(phone) = phone.filter(|_| errors.is_empty()) else {
        return Ok(SignIn::Retry(Retry::invalid(errors)));
    };
    let user = users::find_by_phone(&state.db, &phone).await?;
    let now = now();
    let known = is_known_device(state, device_cookie, &phone);
    let solved = human == Answer::Solved;
    if let Some(blocked) = attempts::check(&state.db, user.as_ref().map(|u| u.id), ip, known, solved, now).await? {
        let mut retry = Retry::limited(lang, "password", lang.t(blocked.message_key(staff)), blocked.secs());
        if let attempts::Blocked::Paused(_) = blocked {
            retry.errors.add("human_check", lang.t(human_check::message_key(human)));
            retry.puzzle = true;
        }
        return Ok(SignIn::Retry(retry));
    }
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    if password::verify(form.password.clone(), stored).await?
        && let Some(user) = user
    {
        return Ok(SignIn::In(user));
    }
    attempts::failed(&state.db, user.as_ref().map(|u| u.id), ip, now).await?;
    if let Some(user) = &user {
        tracing::info!(user_id = %user.id, "wrong password");
    }
    Ok(SignIn::Retry(Retry::error(StatusCode::BAD_REQUEST, "password", lang.t("err_login_failed"))))
}

#[tracing::instrument(skip_all, fields(action = %form.action))]
#[post("/register")]
async fn register(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<AuthForm>,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req, state.settings.trust_forwarded);
    let next = next_of(&form.next);
    let outcome = if form.action == "send_code" {
        let human = human_check::answer(&ctx.typed_session(), &form.slide, now());
        SignIn::Retry(send_code(&state, ctx.lang, &form.phone, &asker(&req, &state, &ip, human)).await?)
    } else {
        register_account(&state, ctx.lang, &form, &browser_of(&req, &state)).await?
    };
    match outcome {
        SignIn::In(user) => {
            start_session(&ctx, &req, &state, &user, "register").await?;
            let mut response = redirect(&next);
            remember_device(&mut response, &state, &user)?;
            Ok(response)
        }
        SignIn::Retry(retry) => {
            let (status, retry_after) = (retry.status, retry.retry_after);
            let ctx = ctx.with_csrf()?;
            let meta =
                ctx.meta(&format!("{} - {}", ctx.t("register_title"), ctx.shop_name()), ctx.t("site_description"));
            let page = RegisterPage {
                meta,
                phone: form.phone.chars().take(32).collect(),
                nickname: form.nickname.chars().take(40).collect(),
                agreed: form.agree == "on",
                next,
                notice: retry.notice,
                puzzle: puzzle_for(&ctx, retry.puzzle)?,
                errors: retry.errors,
                ctx,
            };
            respond(&page, status, retry_after)
        }
    }
}

async fn register_account(state: &AppState, lang: Lang, form: &AuthForm, browser: &str) -> Outcome {
    let mut errors = FieldErrors::default();
    let phone = Phone::parse(&form.phone).map_err(|e| errors.add("phone", phone_error(lang, e))).ok();
    let code = parse_sms_code(&form.code).map_err(|e| errors.add("code", code_format_error(lang, e))).ok();
    let password = if form.password.is_empty() && form.password2.is_empty() {
        None
    } else {
        match check_password(&form.password) {
            Err(e) => {
                errors.add("password", password_error(lang, e));
                None
            }
            Ok(()) if form.password != form.password2 => {
                errors.add("password2", lang.t("err_password_mismatch"));
                None
            }
            Ok(()) => Some(form.password.clone()),
        }
    };
    let nickname = match parse_nickname(&form.nickname) {
        Ok(n) => Some(n),
        Err(TextError::Empty) => None,
        Err(e) => {
            errors.add("nickname", nickname_error(lang, e));
            None
        }
    };
    if form.agree != "on" {
        errors.add("agree", lang.t("err_agree"));
    }
    let (Some(phone), Some(code)) = (phone, code) else {
        return Ok(SignIn::Retry(Retry::invalid(errors)));
    };
    if !errors.is_empty() {
        return Ok(SignIn::Retry(Retry::invalid(errors)));
    }
    if let Some(retry) = check_code(state, lang, &phone, &code, browser).await? {
        return Ok(SignIn::Retry(retry));
    }
    let hash = match password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let nickname = nickname.unwrap_or_else(|| users::default_nickname(&phone));
    match users::create(&state.db, &phone, &nickname, hash.as_deref(), Role::Learner, now()).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "account registered");
            Ok(SignIn::In(user))
        }
        Err(CreateUserError::PhoneTaken) => {
            Ok(SignIn::Retry(Retry::error(StatusCode::CONFLICT, "phone", lang.t("err_phone_taken"))))
        }
        Err(CreateUserError::Db(e)) => Err(e.into()),
    }
}

#[post("/logout")]
async fn logout(ctx: PageContext, _form: CsrfForm<NoFields>) -> HttpResponse {
    if let Some(user) = &ctx.user {
        tracing::info!(user_id = %user.id, "logged out");
    }
    ctx.typed_session().log_out();
    redirect("/")
}
