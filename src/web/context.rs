//! `PageContext`: what every page template receives (language, user, CSRF token, URLs).

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::AppState;
use crate::auth::session::TypedSession;
use crate::domain::time::now;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::store::users::User;

pub struct PageContext {
    pub lang: Lang,
    pub user: Option<User>,
    /// Path and query of this request, for `next=` links.
    pub path: String,
    pub public_url: String,
    /// The session's CSRF token; empty on pages without forms for visitors without a session.
    pub csrf: String,
    pub session: Session,
    /// The live site banner, unless this visitor closed it.
    pub banner: Option<crate::store::announcements::Announcement>,
    /// Unread site messages of the logged-in learner.
    pub unread: i64,
    /// A user agreement published since the signed-in account last accepted one: pages ask.
    pub agreement_due: Option<std::sync::Arc<crate::store::agreements::Agreement>>,
    pub shop: std::sync::Arc<crate::domain::shop::ShopSettings>,
    /// The browser takes gzip (cached pages are kept compressed too).
    pub gzip: bool,
    /// A one-time notice left by the last form ("已保存"), as a translation key.
    pub flash: Option<String>,
    /// The official account can sign JS-SDK share cards (WeChat Pay's config has `app_secret`).
    pub wechat_share: bool,
}

/// Share and search metadata of a page.
pub struct Meta {
    pub title: String,
    pub description: String,
    /// Absolute URL of the share image.
    pub image: String,
    /// Absolute canonical URL.
    pub url: String,
}

impl PageContext {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.lang.tf(key, args)
    }

    /// The shop's name: the one staff set, else the default in this language.
    pub fn shop_name(&self) -> &str {
        if self.shop.name.is_empty() { self.t("site_name") } else { &self.shop.name }
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    pub fn absolute(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.public_url, path)
        }
    }

    /// The session's typed keys: login, staff sign-in, CSRF, WeChat hand-offs.
    pub fn typed_session(&self) -> TypedSession<'_> {
        TypedSession(&self.session)
    }

    /// Makes sure the page has a CSRF token for its forms (starting a session if needed).
    pub fn with_csrf(mut self) -> Result<Self, AppError> {
        self.csrf = self.typed_session().ensure_csrf_token()?;
        Ok(self)
    }

    /// `/login?next=<this page>`
    /// The signed-in user; a visitor is sent to sign in (`AppError::SignIn`).
    pub fn signed_in(&self) -> Result<&User, AppError> {
        self.user.as_ref().ok_or_else(|| AppError::SignIn(self.login_href()))
    }

    pub fn login_href(&self) -> String {
        let next = serde_urlencoded::to_string([("next", self.path.as_str())]).unwrap_or_default();
        format!("/login?{next}")
    }

    /// The back office sections this staff member may open: (href, label).
    /// A stored code in words (`label("provider", "sandbox")` → 模拟支付), or the code itself when
    /// there is no wording for it.
    pub fn label(&self, prefix: &str, code: &str) -> String {
        match self.lang.t(&format!("{prefix}_{code}")) {
            "" => code.to_string(),
            words => words.to_string(),
        }
    }

    /// The takedown banner's text: the operator's, or the default in the reader's language.
    pub fn takedown(&self) -> Option<String> {
        let message = self.shop.takedown.as_deref()?;
        Some(if message.trim().is_empty() { self.t("takedown_default").to_string() } else { message.to_string() })
    }

    pub fn admin_links(&self) -> Vec<(&'static str, &'static str)> {
        use crate::domain::staff::BACK_OFFICE_MENU;
        let Some(user) = &self.user else { return Vec::new() };
        BACK_OFFICE_MENU
            .iter()
            .filter(|(_, _, area)| user.role.may(*area))
            .map(|(href, key, _)| (*href, self.t(key)))
            .collect()
    }

    /// The bottom tab for this page: the most specific of `/`, `/courses`, `/me/courses`, `/me`.
    pub fn tab_is(&self, href: &str) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        let tab = if path.starts_with("/me/courses") {
            "/me/courses"
        } else if path.starts_with("/me") || path.starts_with("/orders") {
            "/me"
        } else if path.starts_with("/courses") {
            "/courses"
        } else if path == "/" {
            "/"
        } else {
            ""
        };
        tab == href
    }

    /// True when this page belongs to the back office section at `href`.
    pub fn in_section(&self, href: &str) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        if href == "/admin" { path == "/admin" } else { path == href || path.starts_with(&format!("{href}/")) }
    }

    pub fn meta(&self, title: &str, description: &str) -> Meta {
        Meta {
            title: title.to_string(),
            description: description.to_string(),
            image: self.absolute("/static/img/share.jpg"),
            url: self.absolute(&self.path),
        }
    }
}

/// A signed-in user with the page context: a handler that takes one is never run for a visitor,
/// who is sent to sign in (`AppError::SignIn`) before the form or the path is read.
pub struct LoggedIn(pub PageContext, pub User);

impl FromRequest for LoggedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        PageContext::then(req, payload, |ctx| {
            let user = ctx.signed_in()?.clone();
            Ok(LoggedIn(ctx, user))
        })
    }
}

impl PageContext {
    /// The page context, then `check` on it: how a guard (`LoggedIn`, `Staff`) is an extractor.
    pub fn then<T: 'static>(
        req: &HttpRequest,
        payload: &mut Payload,
        check: impl FnOnce(PageContext) -> Result<T, AppError> + 'static,
    ) -> Pin<Box<dyn Future<Output = Result<T, AppError>>>> {
        let ctx = PageContext::from_request(req, payload);
        Box::pin(async move { check(ctx.await?) })
    }
}

impl FromRequest for PageContext {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?
                .clone();
            let session = req.get_session();
            let typed = TypedSession(&session);
            let (mut user, mut unread) = (None, 0);
            if let Some(uid) = typed.user_id() {
                let lifetime = state.settings.session_lifetime_days * 86_400;
                let fresh = typed.authenticated_at().is_some_and(|at| now() - at < lifetime);
                if fresh
                    && let Some((found, n)) = state.users.find_with_unread(&state.db, uid).await?
                    && found.session_version == typed.session_version()
                    && !found.is_banned()
                {
                    user = Some(found);
                    unread = n;
                    typed.keep_alive(now())?;
                }
                if user.is_none() {
                    // Past its absolute lifetime, signed out everywhere, banned, or the account is
                    // gone: end the session.
                    typed.log_out();
                }
            }
            let path = match req.uri().path_and_query() {
                Some(pq) => pq.as_str().to_string(),
                None => req.path().to_string(),
            };
            let gzip = req
                .headers()
                .get(actix_web::http::header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(super::compress::accepts_gzip);
            // Visitors are never asked: the in-memory agreements are read for signed-in pages only.
            let agreement_due = user.as_ref().and_then(|u| {
                let current = state.agreements.current().user.clone()?;
                crate::domain::agreement::must_ask(u.agreed_version, Some(current.version)).then_some(current)
            });
            Ok(PageContext {
                agreement_due,
                flash: typed.take_flash(),
                gzip,
                banner: state.banners.for_request(&req, now()),
                shop: state.shop.get(),
                unread,
                lang: Lang::from_request(&req),
                csrf: typed.csrf_token().unwrap_or_default(),
                user,
                path,
                public_url: state.settings.public_url.clone(),
                wechat_share: state.wechat.as_ref().is_some_and(|w| w.has_share()),
                session,
            })
        })
    }
}
