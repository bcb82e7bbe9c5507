//! Signing in with WeChat inside the WeChat browser: the official account's OAuth with the
//! learner's consent (snsapi_userinfo) gives the openid and, when the accounts share an open
//! platform, the unionid, the same one the mini program's export carried. A known identity logs
//! in with one tap; an unknown one is linked to the account the learner logs in to next (or is
//! logged in to now).

use crate::domain::UserId;
use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use crate::domain::text::safe_next;
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::accounts::start_session;
use crate::store::identities::{self, OPENID_OA, UNIONID};
use crate::store::users;
use crate::web::{AppState, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(start).service(callback);
}

/// The one-tap button makes sense only inside WeChat, with WeChat configured.
pub fn offered(req: &HttpRequest, state: &AppState) -> bool {
    let in_wechat =
        req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()).is_some_and(|ua| ua.contains("MicroMessenger"));
    in_wechat && state.wechat.is_some()
}

fn identity_pairs<'a>(openid: &'a str, unionid: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    let mut ids = Vec::with_capacity(2);
    if let Some(unionid) = unionid {
        ids.push((UNIONID, unionid));
    }
    ids.push((OPENID_OA, openid));
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
    code: String,
    state: String,
}

fn next_of(value: &str) -> String {
    safe_next(value).unwrap_or_else(|| "/me/courses".to_string())
}

#[get("/login/wechat")]
async fn start(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(wechat) = &state.wechat else { return Err(AppError::NotFound) };
    let q: Query = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let token = ctx.typed_session().start_wechat_login(&next_of(&q.next))?;
    let back = format!("{}/login/wechat/callback", state.settings.public_url);
    Ok(redirect(&wechat.authorize_url_with_scope(&back, &token, "snsapi_userinfo")))
}

#[get("/login/wechat/callback")]
async fn callback(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(wechat) = &state.wechat else { return Err(AppError::NotFound) };
    let q: Query = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let session = ctx.typed_session();
    let next = session.finish_wechat_login(&q.state).ok_or(AppError::Forbidden)?;
    let login_href = |why: &str| {
        let query = serde_urlencoded::to_string([("next", next.as_str()), ("wechat", why)]).unwrap_or_default();
        format!("/login?{query}")
    };
    if q.code.is_empty() {
        // No consent: the other ways to log in remain.
        return Ok(redirect(&login_href("declined")));
    }
    let (openid, unionid) = wechat.identity_for_code(&q.code).await.map_err(AppError::Internal)?;
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
            Ok(redirect(&next))
        }
        None => match &ctx.user {
            Some(user) => {
                link(&state, user.id, &openid, unionid.as_deref()).await?;
                Ok(redirect(&next))
            }
            None => {
                session.set_pending_wechat(&openid, unionid.as_deref())?;
                Ok(redirect(&login_href("pending")))
            }
        },
    }
}
