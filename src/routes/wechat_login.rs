//! Signing in with WeChat inside the WeChat browser. The login page starts with the silent
//! look-up (snsapi_base: the openid, no consent screen): a learner whose openid the shop knows is
//! signed in without a tap. The consented sign-in (snsapi_userinfo) also gives the unionid, the
//! same one the mini program's export carried: it is asked for only when the silent one finds no
//! one and the shop has buyers known by unionid alone, or when the learner taps 微信一键登录. An
//! unknown identity is linked to the account the learner logs in to next (or is logged in to now).

use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use crate::auth::session::WechatLogin;
use crate::domain::UserId;
use crate::domain::text::safe_next;
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::accounts::start_session;
use crate::store::identities::{self, OPENID_OA, OPENID_WEB, UNIONID};
use crate::store::users;
use crate::web::{AppState, PageContext, client_ip, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(start).service(start_qr).service(callback);
}

/// The PC QR sign-in: outside WeChat, with the open platform's website application set up.
pub fn qr_offered(req: &HttpRequest, state: &AppState) -> bool {
    let in_wechat =
        req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).is_some_and(|ua| ua.contains("MicroMessenger"));
    !in_wechat && state.wechat.as_ref().is_some_and(|w| w.qr_login_url("", "").is_some())
}

/// The one-tap button makes sense only inside WeChat, with WeChat configured.
pub fn offered(req: &HttpRequest, state: &AppState) -> bool {
    let in_wechat =
        req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).is_some_and(|ua| ua.contains("MicroMessenger"));
    in_wechat && state.wechat.is_some()
}

fn identity_pairs<'a>(openid: &'a str, unionid: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    with_openid_of(OPENID_OA, openid, unionid)
}

/// The unionid first (the same person everywhere), then the openid of the app that signed in.
fn with_openid_of<'a>(
    provider: &'static str,
    openid: &'a str,
    unionid: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut ids = Vec::with_capacity(2);
    if let Some(unionid) = unionid {
        ids.push((UNIONID, unionid));
    }
    ids.push((provider, openid));
    ids
}

/// Links a WeChat identity to an account (kept by whoever had it first).
pub async fn link(state: &AppState, user_id: UserId, openid: &str, unionid: Option<&str>) -> Result<(), AppError> {
    identities::link(&state.db, user_id, &identity_pairs(openid, unionid), now()).await?;
    tracing::info!(%user_id, unionid = unionid.is_some(), "WeChat identity linked");
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Query {
    next: String,
    /// The course a sign-in for 立即购买 goes on to buy.
    buy: String,
    /// "1": the silent look-up first (snsapi_base), consent only if it finds no one.
    silent: String,
    code: String,
    state: String,
}

fn next_of(value: &str) -> String {
    safe_next(value).unwrap_or_else(|| "/me/courses".to_string())
}

/// Where a silent WeChat sign-in starts, for a learner opening the login page inside WeChat.
pub fn silent_href(next: &str, buy: &str) -> String {
    let mut q = vec![("silent", "1"), ("next", next)];
    if !buy.is_empty() {
        q.push(("buy", buy));
    }
    format!("/login/wechat?{}", serde_urlencoded::to_string(q).unwrap_or_default())
}

fn authorize(state: &AppState, ctx: &PageContext, login: &WechatLogin) -> Result<HttpResponse, AppError> {
    let Some(wechat) = &state.wechat else { return Err(AppError::NotFound) };
    let token = ctx.typed_session().start_wechat_login(login)?;
    let back = format!("{}/login/wechat/callback", state.settings.public_url);
    let scope = if login.silent { "snsapi_base" } else { "snsapi_userinfo" };
    Ok(redirect(&wechat.authorize_url_with_scope(&back, &token, scope)))
}

#[get("/login/wechat")]
async fn start(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let q: Query = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let buy = q.buy.chars().take(100).collect();
    authorize(&state, &ctx, &WechatLogin { next: next_of(&q.next), buy, silent: q.silent == "1", qr: false })
}

/// On a PC: WeChat's QR page; the learner scans it with the phone and comes back signed in.
#[get("/login/wechat/qr")]
async fn start_qr(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(wechat) = &state.wechat else { return Err(AppError::NotFound) };
    let q: Query = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let login = WechatLogin { next: next_of(&q.next), buy: q.buy.chars().take(100).collect(), silent: false, qr: true };
    let token = ctx.typed_session().start_wechat_login(&login)?;
    let back = format!("{}/login/wechat/callback", state.settings.public_url);
    let url = wechat.qr_login_url(&back, &token).ok_or(AppError::NotFound)?;
    Ok(redirect(&url))
}

/// Signed in: on to the course the sign-in was for (its order, as the phone login does), else
/// where it was going. The OAuth `state`, bound to this session and used once, stands for the
/// CSRF token a form would carry.
/// A WeChat-only account not buying is asked once for a phone number on the way.
async fn continue_to(
    state: &AppState,
    user: &users::User,
    login: &WechatLogin,
    noted: &crate::auth::session::TypedSession<'_>,
    ip: &str,
) -> Result<String, AppError> {
    let course = state.catalog.snapshot().course(&login.buy).cloned().filter(|c| c.published);
    Ok(match course {
        Some(course) if !state.access.owns(&state.db, user.id, course.id).await? => {
            crate::routes::orders::begin_purchase(state, user, &course, None, noted, ip).await?
        }
        _ => crate::routes::phone_binding::after_wechat_sign_in(state, user, login.next.clone()).await?,
    })
}

#[get("/login/wechat/callback")]
async fn callback(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(wechat) = &state.wechat else { return Err(AppError::NotFound) };
    let q: Query = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let session = ctx.typed_session();
    let login = session.finish_wechat_login(&q.state).ok_or(AppError::Forbidden)?;
    let login_href = |why: &str| {
        let mut query = vec![("next", login.next.as_str())];
        if !login.buy.is_empty() {
            query.push(("buy", login.buy.as_str()));
        }
        query.push(("wechat", why));
        format!("/login?{}", serde_urlencoded::to_string(query).unwrap_or_default())
    };
    if q.code.is_empty() {
        // No consent: the other ways to log in remain.
        return Ok(redirect(&login_href("declined")));
    }
    if login.qr {
        return qr_signed_in(&ctx, &req, &state, &login, &q.code, login_href("unknown")).await;
    }
    let (openid, unionid) = wechat.identity_for_code(&q.code).await.map_err(AppError::Internal)?;
    // The same openid pays by JSAPI: no second OAuth round trip at 立即支付.
    session.set_wechat_openid(&openid)?;
    let ids = identity_pairs(&openid, unionid.as_deref());
    match identities::find_user(&state.db, &ids).await? {
        Some(user_id) => {
            let user = users::find_by_id(&state.db, user_id).await?.ok_or(AppError::NotFound)?;
            if user.is_banned() {
                return Err(AppError::Forbidden);
            }
            // Whatever else it knows, link both identities (an imported unionid gains the openid).
            link(&state, user.id, &openid, unionid.as_deref()).await?;
            start_session(&ctx, &req, &state, &user, "wechat").await?;
            let ip = client_ip(&req, state.settings.trust_forwarded);
            Ok(redirect(&continue_to(&state, &user, &login, &ctx.typed_session(), &ip).await?))
        }
        None => match &ctx.user {
            Some(user) => {
                link(&state, user.id, &openid, unionid.as_deref()).await?;
                Ok(redirect(&login.next))
            }
            // Silent found no one, but the shop knows buyers by unionid alone: one of them may be
            // this person, which only the consented sign-in (it gives the unionid) can tell.
            None if login.silent && identities::unionid_without_openid(&state.db).await? => {
                authorize(&state, &ctx, &WechatLogin { silent: false, ..login.clone() })
            }
            None => {
                session.set_pending_wechat(&openid, unionid.as_deref())?;
                Ok(redirect(&login_href("pending")))
            }
        },
    }
}

/// Back from the QR sign-in: the unionid finds the account (the website application's openid
/// is kept beside it). A WeChat the shop does not know goes back to the phone login.
async fn qr_signed_in(
    ctx: &PageContext,
    req: &HttpRequest,
    state: &AppState,
    login: &WechatLogin,
    code: &str,
    unknown: String,
) -> Result<HttpResponse, AppError> {
    let Some(wechat) = &state.wechat else { return Err(AppError::NotFound) };
    let (openid, unionid) = wechat.web_identity_for_code(code).await.map_err(AppError::Internal)?;
    let ids = with_openid_of(OPENID_WEB, &openid, unionid.as_deref());
    let found = identities::find_user(&state.db, &ids).await?;
    let user = match found {
        Some(id) => users::find_by_id(&state.db, id).await?.ok_or(AppError::NotFound)?,
        None => {
            if let Some(user) = &ctx.user {
                identities::link(&state.db, user.id, &ids, now()).await?;
                return Ok(redirect(&login.next));
            }
            return Ok(redirect(&unknown));
        }
    };
    if user.is_banned() {
        return Err(AppError::Forbidden);
    }
    identities::link(&state.db, user.id, &ids, now()).await?;
    start_session(ctx, req, state, &user, "wechat_qr").await?;
    let ip = client_ip(req, state.settings.trust_forwarded);
    Ok(redirect(&continue_to(state, &user, login, &ctx.typed_session(), &ip).await?))
}
