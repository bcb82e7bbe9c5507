//! Policy pages (user agreement, privacy, refunds) and the language choice.
//!
//! Policy texts have sensible defaults; an operator replaces one by putting a plain-text file at
//! `<data_dir>/pages/<name>.zh-CN.txt` (or `.en.txt`): blank lines separate paragraphs and a line
//! starting with `# ` is a heading.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::text::safe_next;
use crate::error::AppError;
use crate::i18n::{LANG_COOKIE, Lang};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render};

pub const POLICY_PAGES: [(&str, &str); 3] =
    [("agreement", "footer_agreement"), ("privacy", "footer_privacy"), ("refund-policy", "footer_refund_policy")];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(policy).service(language_page).service(set_language);
}

pub enum Block {
    Heading(String),
    Paragraph(String),
}

impl Block {
    fn heading(&self) -> &str {
        match self {
            Block::Heading(h) => h,
            Block::Paragraph(_) => "",
        }
    }

    fn text(&self) -> &str {
        match self {
            Block::Heading(_) => "",
            Block::Paragraph(p) => p,
        }
    }
}

pub fn parse_blocks(text: &str) -> Vec<Block> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| match b.strip_prefix("# ") {
            Some(h) => Block::Heading(h.trim().to_string()),
            None => Block::Paragraph(b.to_string()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "pages/policy.html")]
struct PolicyPage {
    ctx: PageContext,
    meta: Meta,
    title: &'static str,
    blocks: Vec<Block>,
}

#[get("/pages/{name}")]
async fn policy(
    ctx: PageContext,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (name, title_key) = POLICY_PAGES.iter().find(|(n, _)| *n == name.as_str()).ok_or(AppError::NotFound)?;
    // A published user agreement is the one signing in accepts.
    if *name == "agreement" && state.agreements.current().user.is_some() {
        return Ok(crate::web::redirect("/agreements/user"));
    }
    // Text saved in the back office, else a file in the pages directory, else the default.
    let custom = state.settings.pages_dir().join(format!("{name}.{}.txt", ctx.lang.code()));
    let text = match ctx.shop.policy(name, ctx.lang.code()) {
        Some(text) => text.to_string(),
        None => match tokio::fs::read_to_string(&custom).await {
            Ok(text) => text,
            Err(_) => ctx.t(&format!("policy_{}", name.replace('-', "_"))).to_string(),
        },
    };
    let title = ctx.t(title_key);
    let meta = ctx.meta(&format!("{title} - {}", ctx.shop_name()), title);
    render(&PolicyPage { ctx, meta, title, blocks: parse_blocks(&text) })
}

#[derive(Template)]
#[template(path = "pages/language.html")]
struct LanguagePage {
    ctx: PageContext,
    meta: Meta,
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LanguageForm {
    lang: String,
    next: String,
}

#[get("/language")]
async fn language_page(ctx: PageContext, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let q: LanguageForm = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("language_title"), ctx.shop_name()), ctx.t("site_description"));
    let next = safe_next(&q.next).unwrap_or_else(|| "/".into());
    render(&LanguagePage { ctx, meta, next })
}

#[post("/language")]
async fn set_language(CsrfForm(form): CsrfForm<LanguageForm>) -> Result<HttpResponse, AppError> {
    let lang = Lang::parse(&form.lang).ok_or(AppError::BadRequest)?;
    let cookie = Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .same_site(SameSite::Lax)
        .http_only(true)
        .max_age(Duration::days(365))
        .finish();
    let mut response = redirect(&safe_next(&form.next).unwrap_or_else(|| "/".into()));
    response.add_cookie(&cookie).map_err(|e| AppError::Internal(e.into()))?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_from_plain_text() {
        let blocks = parse_blocks("# 标题\n\n第一段\n续行\n\n\n第二段");
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].heading(), "标题");
        assert_eq!(blocks[1].text(), "第一段\n续行");
        assert_eq!(blocks[2].text(), "第二段");
    }
}
