//! The official account's OAuth callback (the payer's openid for JSAPI payments) and the signed
//! `wx.config` its JS-SDK needs for share cards.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use crate::error::AppError;
use crate::web::{AppState, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(oauth_callback).service(share_config);
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Callback {
    code: String,
    state: String,
}

/// WeChat sends the browser back here with `code` and our `state`. The openid goes into the
/// session only (nothing else is stored), and the buyer returns to the pay page to pay.
#[get("/pay/wechat/oauth")]
async fn oauth_callback(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let q: Callback = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let (Some(_), Some(wechat)) = (&ctx.user, &state.wechat) else { return Err(AppError::NotFound) };
    let session = ctx.typed_session();
    let order_no = session.finish_wechat_oauth(&q.state).ok_or(AppError::Forbidden)?;
    if q.code.is_empty() {
        // The user declined; they can still pay another way.
        return Ok(redirect(&format!("/orders/{order_no}/pay")));
    }
    let openid = wechat.openid_for_code(&q.code).await.map_err(AppError::Internal)?;
    session.set_wechat_openid(&openid)?;
    Ok(redirect(&format!("/orders/{order_no}/pay?wechat=ready")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShareQuery {
    url: String,
}

/// `wx.config` for a page of this shop, signed for its URL (`js/share.js` asks inside WeChat). A
/// URL elsewhere is refused: the signature is only good for the shop's own pages anyway.
#[get("/wechat/share-config")]
async fn share_config(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(wechat) = state.wechat.as_ref().filter(|w| w.has_share()) else { return Err(AppError::NotFound) };
    let q: ShareQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let base = state.settings.public_url.trim_end_matches('/');
    let ours = q.url.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if !ours || q.url.len() > 2000 || q.url.chars().any(char::is_control) {
        return Err(AppError::BadRequest);
    }
    match wechat.share_config(&q.url, crate::domain::time::now()).await {
        Ok(config) => {
            Ok(HttpResponse::Ok().insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(config))
        }
        Err(e) => {
            // The page is shared as a plain link meanwhile; nothing the learner needs to see.
            tracing::warn!(error = format!("{e:#}"), "no JS-SDK ticket from WeChat; pages share as plain links");
            Ok(HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "60")).finish())
        }
    }
}
