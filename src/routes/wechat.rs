//! The official account's OAuth callback: it gives the payer's openid for JSAPI payments.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;

use crate::error::AppError;
use crate::web::{AppState, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(oauth_callback);
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
