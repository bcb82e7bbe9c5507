//! Shop settings for admins, kept in the database: the shop's name and logo, the policy pages'
//! text, refund and complaint defaults, and the wording of the SMS the shop sends. Saving takes
//! effect at once; an empty field means the built-in default.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::gate::{Change, Staff, area, audit};
use crate::domain::Fen;
use crate::domain::commission::{BindingRule, CapError, DEFAULT_CAP, Rate, check_cap};
use crate::domain::shop::{
    SMS_CODE_DEFAULT, SMS_CODE_FIELDS, SMS_REFUND_DEFAULT, SMS_REFUND_FIELDS, ShopSettings, TemplateError,
    check_sms_template,
};
use crate::domain::time::now;
use crate::domain::upload::PICTURES;
use crate::error::AppError;
use crate::media::images;
use crate::routes::forms::FieldErrors;
use crate::store::shop_settings;
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status, uploads};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(save).service(logo);
}

/// The form; each field is one key of the settings table.
#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
struct SettingsForm {
    shop_name: String,
    icp_number: String,
    agreement_zh: String,
    privacy_zh: String,
    refund_policy_zh: String,
    agreement_en: String,
    privacy_en: String,
    refund_policy_en: String,
    refund_auto_approve_yuan: String,
    complaint_reply_hours: String,
    sms_code: String,
    sms_refund: String,
    /// `on` runs the referral programme.
    distribution: String,
    distribution_rate: String,
    distribution_cap: String,
    /// `on`: the operator knowingly sets the cap above 25%.
    distribution_cap_above: String,
    distribution_window_days: String,
    distribution_rule: String,
    /// Yuan: the smallest withdrawal and a month's most.
    distribution_payout_min: String,
    distribution_payout_month: String,
    /// Risk flags: buyers from one address, refund rate and concentration (percent).
    risk_buyers_per_ip: String,
    risk_refund_pct: String,
    risk_concentration_pct: String,
}

const POLICY_FIELDS: [(&str, &str); 6] = [
    ("agreement_zh", "policy.agreement.zh-CN"),
    ("privacy_zh", "policy.privacy.zh-CN"),
    ("refund_policy_zh", "policy.refund-policy.zh-CN"),
    ("agreement_en", "policy.agreement.en"),
    ("privacy_en", "policy.privacy.en"),
    ("refund_policy_en", "policy.refund-policy.en"),
];

impl SettingsForm {
    fn from_settings(s: &ShopSettings) -> SettingsForm {
        let policy = |key: &str| s.policies.get(key.trim_start_matches("policy.")).cloned().unwrap_or_default();
        SettingsForm {
            shop_name: s.name.clone(),
            icp_number: s.icp_number.clone(),
            agreement_zh: policy(POLICY_FIELDS[0].1),
            privacy_zh: policy(POLICY_FIELDS[1].1),
            refund_policy_zh: policy(POLICY_FIELDS[2].1),
            agreement_en: policy(POLICY_FIELDS[3].1),
            privacy_en: policy(POLICY_FIELDS[4].1),
            refund_policy_en: policy(POLICY_FIELDS[5].1),
            refund_auto_approve_yuan: s.refund_auto_approve_fen.map(|f| Fen(f).yuan_string()).unwrap_or_default(),
            complaint_reply_hours: s.complaint_reply_hours.map(|h| h.to_string()).unwrap_or_default(),
            sms_code: if s.sms_code == SMS_CODE_DEFAULT { String::new() } else { s.sms_code.clone() },
            sms_refund: if s.sms_refund == SMS_REFUND_DEFAULT { String::new() } else { s.sms_refund.clone() },
            distribution: if s.distribution.enabled { "on".into() } else { String::new() },
            distribution_rate: s.distribution.default_rate.percent_string(),
            distribution_cap: s.distribution.cap.percent_string(),
            distribution_cap_above: if s.distribution.cap > DEFAULT_CAP { "on".into() } else { String::new() },
            distribution_window_days: (s.distribution.window_secs / 86_400).to_string(),
            distribution_rule: s.distribution.rule.as_str().to_string(),
            distribution_payout_min: s.distribution.payout_min.yuan_string(),
            distribution_payout_month: s.distribution.payout_monthly.yuan_string(),
            risk_buyers_per_ip: s.risk.buyers_per_ip.to_string(),
            risk_refund_pct: s.risk.refund_rate_pct.to_string(),
            risk_concentration_pct: s.risk.concentration_pct.to_string(),
        }
    }

    fn policy(&self, field: &str) -> &str {
        match field {
            "agreement_zh" => &self.agreement_zh,
            "privacy_zh" => &self.privacy_zh,
            "refund_policy_zh" => &self.refund_policy_zh,
            "agreement_en" => &self.agreement_en,
            "privacy_en" => &self.privacy_en,
            _ => &self.refund_policy_en,
        }
    }

    /// The key/value pairs to save, or the errors by field.
    fn pairs(&self, ctx: &PageContext) -> Result<Vec<(String, String)>, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.shop_name.trim();
        if name.chars().count() > 20 || name.chars().any(char::is_control) {
            errors.add("shop_name", ctx.tf("err_text_long", &[("n", "20")]));
        }
        let mut pairs = vec![("shop_name".to_string(), name.to_string())];
        let icp = self.icp_number.trim();
        if !icp.is_empty() && !crate::domain::shop::is_icp_number(icp) {
            errors.add("icp_number", ctx.t("err_icp_number"));
        }
        pairs.push(("icp_number".to_string(), icp.to_string()));
        for (field, key) in POLICY_FIELDS {
            let text = self.policy(field).trim();
            if text.chars().count() > 20_000 {
                errors.add(field, ctx.tf("err_text_long", &[("n", "20000")]));
            }
            pairs.push((key.to_string(), text.to_string()));
        }
        let auto = self.refund_auto_approve_yuan.trim();
        let auto_fen =
            if auto.is_empty() { Some(String::new()) } else { Fen::parse_yuan(auto).map(|f| f.0.to_string()) };
        match auto_fen {
            Some(v) => pairs.push(("refund_auto_approve_fen".into(), v)),
            None => errors.add("refund_auto_approve_yuan", ctx.t("err_amount_format")),
        }
        let hours = self.complaint_reply_hours.trim();
        match hours.parse::<i64>() {
            _ if hours.is_empty() => pairs.push(("complaint_reply_hours".into(), String::new())),
            Ok(h) if (1..=336).contains(&h) => pairs.push(("complaint_reply_hours".into(), h.to_string())),
            _ => errors.add("complaint_reply_hours", ctx.t("err_number_range")),
        }
        for (field, value, fields) in
            [("sms_code", &self.sms_code, SMS_CODE_FIELDS), ("sms_refund", &self.sms_refund, SMS_REFUND_FIELDS)]
        {
            let value = value.trim();
            if !value.is_empty()
                && let Err(e) = check_sms_template(value, fields)
            {
                errors.add(field, template_error(ctx, e));
            }
            pairs.push((field.to_string(), value.to_string()));
        }
        self.distribution_pairs(ctx, &mut pairs, &mut errors);
        if errors.is_empty() { Ok(pairs) } else { Err(errors) }
    }

    /// The referral programme's settings: the cap first (above 25% only with consent), then a
    /// default rate within it.
    fn distribution_pairs(&self, ctx: &PageContext, pairs: &mut Vec<(String, String)>, errors: &mut FieldErrors) {
        let mut put = |key: &str, value: String| pairs.push((key.to_string(), value));
        put("distribution", if self.distribution == "on" { "on".into() } else { String::new() });
        // An empty field goes back to its default (as every setting on this page does).
        let cap_text = self.distribution_cap.trim();
        let cap = if cap_text.is_empty() {
            Some(DEFAULT_CAP)
        } else {
            match Rate::parse_percent(cap_text).map(|cap| check_cap(cap, self.distribution_cap_above == "on")) {
                Some(Ok(cap)) => Some(cap),
                Some(Err(CapError::AboveDefaultWithoutConsent)) => {
                    errors.add("distribution_cap", ctx.t("err_cap_consent"));
                    None
                }
                Some(Err(CapError::AboveHundred)) | None => {
                    errors.add("distribution_cap", ctx.t("err_percent"));
                    None
                }
            }
        };
        put(
            "distribution_cap_bp",
            if cap_text.is_empty() { String::new() } else { cap.map(|c| c.bp().to_string()).unwrap_or_default() },
        );
        let rate_text = self.distribution_rate.trim();
        let default_rate = crate::domain::commission::Program::default().default_rate;
        match (if rate_text.is_empty() { Some(default_rate) } else { Rate::parse_percent(rate_text) }, cap) {
            (Some(rate), Some(cap)) if rate > cap && !rate_text.is_empty() => {
                errors.add("distribution_rate", ctx.t("err_rate_above_cap"))
            }
            (Some(rate), _) => {
                put("distribution_rate_bp", if rate_text.is_empty() { String::new() } else { rate.bp().to_string() })
            }
            (None, _) => errors.add("distribution_rate", ctx.t("err_percent")),
        }
        let days = self.distribution_window_days.trim();
        match days.parse::<i64>() {
            _ if days.is_empty() => put("distribution_window_days", String::new()),
            Ok(d) if (1..=365).contains(&d) => put("distribution_window_days", d.to_string()),
            _ => errors.add("distribution_window_days", ctx.t("err_number_range")),
        }
        match BindingRule::parse(&self.distribution_rule) {
            Some(rule) => put("distribution_rule", rule.as_str().to_string()),
            None => put("distribution_rule", String::new()),
        }
        for (field, value, range) in [
            ("risk_buyers_per_ip", &self.risk_buyers_per_ip, 2..=1000),
            ("risk_refund_pct", &self.risk_refund_pct, 1..=100),
            ("risk_concentration_pct", &self.risk_concentration_pct, 1..=100),
        ] {
            let value = value.trim();
            match value.parse::<i64>() {
                _ if value.is_empty() => put(field, String::new()),
                Ok(n) if range.contains(&n) => put(field, n.to_string()),
                _ => errors.add(field, ctx.t("err_number_range")),
            }
        }
        for (field, key) in [
            ("distribution_payout_min", "distribution_payout_min_fen"),
            ("distribution_payout_month", "distribution_payout_month_fen"),
        ] {
            let text = if field == "distribution_payout_min" {
                &self.distribution_payout_min
            } else {
                &self.distribution_payout_month
            };
            let text = text.trim();
            match Fen::parse_yuan(text) {
                _ if text.is_empty() => put(key, String::new()),
                Some(fen) if fen.0 > 0 => put(key, fen.0.to_string()),
                _ => errors.add(field, ctx.t("err_amount_format")),
            }
        }
    }
}

fn template_error(ctx: &PageContext, e: TemplateError) -> String {
    match e {
        TemplateError::Empty => ctx.t("err_required").to_string(),
        TemplateError::TooLong => ctx.tf("err_text_long", &[("n", "140")]),
        TemplateError::NoSignature => ctx.t("err_sms_signature").to_string(),
        TemplateError::Missing(field) => ctx.tf("err_sms_missing", &[("field", field)]),
    }
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    ctx: PageContext,
    meta: Meta,
    form: SettingsForm,
    policies: Vec<(&'static str, &'static str)>,
    logo_url: String,
    /// The configured refund auto-approval limit (yuan) and complaint reply hours.
    defaults: (String, i64),
    sms_defaults: (&'static str, &'static str),
    errors: FieldErrors,
}

impl SettingsPage {
    fn policy_title(&self, field: &str) -> &'static str {
        match field.trim_end_matches("_zh").trim_end_matches("_en") {
            "agreement" => "footer_agreement",
            "privacy" => "footer_privacy",
            _ => "footer_refund_policy",
        }
    }
}

async fn render_page(
    ctx: PageContext,
    state: &AppState,
    form: SettingsForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_settings"), ctx.shop_name()), "");
    let policies = POLICY_FIELDS
        .iter()
        .map(|(field, key)| {
            (*field, if key.ends_with(".en") { ctx.t("admin_policy_en") } else { ctx.t("admin_policy_zh") })
        })
        .collect();
    let page = SettingsPage {
        logo_url: ctx.shop.logo_url.clone(),
        defaults: (Fen(state.settings.refund_auto_approve_fen).yuan_string(), state.settings.complaint_reply_hours),
        sms_defaults: (SMS_CODE_DEFAULT, SMS_REFUND_DEFAULT),
        meta,
        form,
        policies,
        errors,
        ctx,
    };
    render_with_status(&page, status)
}

#[get("/admin/settings")]
async fn show(
    Staff(ctx, _, _): Staff<area::Administration>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = SettingsForm::from_settings(&state.shop.get());
    render_page(ctx, &state, form, FieldErrors::default(), StatusCode::OK).await
}

#[post("/admin/settings")]
async fn save(
    Staff(ctx, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    let pairs = match form.pairs(&ctx) {
        Ok(pairs) => pairs,
        Err(errors) => return render_page(ctx, &state, form, errors, StatusCode::BAD_REQUEST).await,
    };
    let before = SettingsForm::from_settings(&state.shop.get());
    shop_settings::save(&state.db, &pairs, now()).await?;
    state.shop.reload(&state.db).await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "settings.update",
        target_type: "settings",
        target_id: "shop".into(),
        before: serde_json::to_value(&before).unwrap_or_default(),
        after: serde_json::to_value(SettingsForm::from_settings(&state.shop.get())).unwrap_or_default(),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_settings_saved")?;
    Ok(redirect("/admin/settings"))
}

#[post("/admin/settings/logo")]
async fn logo(
    Staff(ctx, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = uploads::read(&req, payload, &state.settings.uploads_dir().join("tmp"), 1, &PICTURES).await?;
    let current = SettingsForm::from_settings(&state.shop.get());
    let mut errors = FieldErrors::default();
    let Some(file) = form.files.first() else {
        let (key, status) = match form.rejected {
            Some(uploads::Rejected::TooLarge) => ("err_file_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            Some(_) => ("err_file_type", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            None => ("err_file_missing", StatusCode::BAD_REQUEST),
        };
        errors.add("logo", ctx.t(key));
        return render_page(ctx, &state, current, errors, status).await;
    };
    let bytes = tokio::fs::read(&file.temp).await.map_err(|e| AppError::Internal(e.into()))?;
    let _slot = images::decode_slot().await;
    let saved = web::block(move || images::logo_png(&bytes)).await.map_err(|e| AppError::Internal(e.into()))?;
    let Ok((name, png)) = saved else {
        errors.add("logo", ctx.t("err_picture_unreadable"));
        return render_page(ctx, &state, current, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    state.public.put(&name, &png).await.map_err(AppError::storage)?;
    let url = format!("/files/{name}");
    let before = state.shop.get().logo_url.clone();
    shop_settings::save(&state.db, &[("logo_url".to_string(), url.clone())], now()).await?;
    state.shop.reload(&state.db).await?;
    state.announce(crate::store::changes::SETTINGS).await;
    let change = Change {
        action: "settings.logo",
        target_type: "settings",
        target_id: "shop".into(),
        before: serde_json::json!({ "logo_url": before }),
        after: serde_json::json!({ "logo_url": url }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_settings_saved")?;
    Ok(redirect("/admin/settings"))
}
