//! The official account's part of `/admin/switchover`: which template the takedown notice uses,
//! how many followers it reaches (and of them, buyers), and what was sent or refused per event.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::time::now;
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::wechat_outbox::{self, EventCount, Failure, Reach};
use crate::store::{Db, shop_settings};
use crate::web::{AppState, CsrfForm, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(save_template).service(refresh);
}

/// What the switchover page shows of the official account.
pub struct Panel {
    /// The official account's secret is configured: its API can be called.
    pub configured: bool,
    pub reach: Reach,
    pub last_fetched: Option<i64>,
    pub events: Vec<EventCount>,
    pub failures: Vec<Failure>,
}

pub async fn panel(state: &AppState, db: &Db) -> Result<Panel, AppError> {
    Ok(Panel {
        configured: state.wechat.as_ref().is_some_and(|w| w.has_official_account()),
        reach: wechat_outbox::reach(db).await?,
        last_fetched: wechat_outbox::last_fetched(db).await?,
        events: wechat_outbox::counts(db, 10).await?,
        failures: wechat_outbox::failures(db, 20).await?,
    })
}

/// A template id as the official account's back office shows it.
fn valid_template_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TemplateForm {
    template_id: String,
}

#[post("/admin/switchover/official-account")]
async fn save_template(
    Staff(ctx, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    let id = form.template_id.trim().to_string();
    if !id.is_empty() && !valid_template_id(&id) {
        let mut errors = FieldErrors::default();
        errors.add("template_id", ctx.t("switchover_err_template"));
        return super::switchover::render(ctx, &state, None, String::new(), errors, StatusCode::BAD_REQUEST).await;
    }
    let before = state.shop.get().wx_template_takedown.clone();
    shop_settings::save(&state.db, &[("wx_template_takedown".to_string(), id.clone())], now()).await?;
    state.shop.reload(&state.db).await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "settings.wx_template",
        target_type: "settings",
        target_id: "wx_template_takedown".into(),
        before: serde_json::json!({ "template_id": before }),
        after: serde_json::json!({ "template_id": id }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    Ok(redirect("/admin/switchover#official-account"))
}

/// Fetches the followers again now (it takes a while for a large account: in the background).
#[post("/admin/switchover/followers")]
async fn refresh(
    Staff(_, _, _): Staff<area::Administration>,
    state: web::Data<AppState>,
    CsrfForm(_): CsrfForm<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    let Some(wechat) = state.wechat.clone().filter(|w| w.has_official_account()) else {
        return Err(AppError::NotFound);
    };
    crate::services::oa_notices::refresh_in_background(state.db.clone(), wechat, now());
    Ok(redirect("/admin/switchover?followers=refreshing#official-account"))
}

#[cfg(test)]
mod tests {
    use super::valid_template_id;

    #[test]
    fn template_ids() {
        assert!(valid_template_id("ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY"));
        assert!(!valid_template_id("a b") && !valid_template_id("<x>") && !valid_template_id(&"a".repeat(65)));
    }
}
