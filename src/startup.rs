//! `Application::build` wires settings, database, catalog, sessions and routes; binding port 0
//! gives tests a free port. `run_until_stopped` serves until SIGTERM/SIGINT, then drains.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession, TtlExtensionPolicy};
use actix_session::storage::RedisSessionStore;
use actix_web::cookie::{Key, SameSite, time::Duration};
use actix_web::dev::Server;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::middleware::{Compress, DefaultHeaders, ErrorHandlers};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tracing_actix_web::TracingLogger;

use crate::auth::session_store::{Sessions, Store as SessionStoreKind};
use crate::catalog::CatalogCache;
use crate::config::{Settings, load_or_create_session_key, redact_url};
use crate::domain::Phone;
use crate::domain::time::now;
use crate::error::AppError;
use crate::pay::Providers;
use crate::pay::sandbox::Sandbox;
use crate::pay::wechatpay::WechatPay;
use crate::services::refunds::Refunder;
use crate::sms::{ConsoleSender, SmsSender};
use crate::store::sessions::{DbSessionStore, SessionCache};
use crate::store::users::{self, Role};
use crate::store::{Db, demo};
use crate::web::AppState;

/// The session cookie's name on plain HTTP (a lab or a test); behind HTTPS it is
/// `Settings::session_cookie_name`'s `__Host-` form.
pub const SESSION_COOKIE: &str = "kedian_session";
/// HSTS for a shop served over HTTPS: a year, for this host only (the operator's other
/// subdomains may not all be on HTTPS).
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";
pub const SANDBOX_KEY_LABEL: &[u8] = b"kedian sandbox payments";

/// `blob:` for media and workers only: hls.js feeds the player through a MediaSource (a `blob:`
/// URL) and transmuxes in a worker it makes from a `blob:`; scripts stay `'self'`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     media-src 'self' blob:; worker-src 'self' blob:; style-src 'self'; script-src 'self'; object-src 'none'; \
     base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    catalog: CatalogCache,
    providers: Providers,
    progress: Arc<crate::store::progress_buffer::ProgressBuffer>,
}

impl Application {
    /// With the SMS sender the settings name: the providers in `sms_config`, else the console.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let sms: Arc<dyn SmsSender> = if settings.sms_to_console() {
            if settings.is_production() {
                tracing::warn!(
                    "texts go to the CONSOLE: no learner receives a login code or notice. Set sms_config to \
                     the SMS providers' file (README: SMS)"
                );
            }
            Arc::new(ConsoleSender)
        } else {
            let path = settings.sms_config.as_deref().context("sms_config")?;
            Arc::new(crate::sms::config::load(path).with_context(|| format!("SMS providers in {}", path.display()))?)
        };
        Self::build_with_sms(settings, sms).await
    }

    pub async fn build_with_sms(settings: Settings, sms: Arc<dyn SmsSender>) -> anyhow::Result<Application> {
        tracing::info!(database = %redact_url(&settings.database_url), "opening database");
        let db = prepare_database(&settings).await?;
        let catalog = CatalogCache::default();
        catalog.reload(&db).await.context("loading the catalog")?;
        let banners = crate::web::banner::BannerCache::default();
        banners.reload(&db, now()).await.context("loading the banners")?;
        let agreements = crate::store::agreements::AgreementCache::default();
        agreements.reload(&db).await.context("loading the agreements")?;

        let master = match &settings.session_key {
            Some(key) => key.as_bytes().to_vec(),
            None => load_or_create_session_key(&settings.session_key_path())?,
        };
        let cookie_key = if master.len() >= 64 { Key::from(&master) } else { Key::derive_from(&master) };
        let code_key = derive(&master, b"kedian sms codes");

        let (store, db_sessions) = match &settings.redis_url {
            Some(url) => {
                let redis = RedisSessionStore::new(url.clone()).await.context("cannot connect to Redis")?;
                tracing::info!(redis = %redact_url(url), "sessions in Redis");
                (SessionStoreKind::Redis(redis), None)
            }
            None => {
                let store = DbSessionStore::new(db.clone());
                (SessionStoreKind::Db(store.clone()), Some(store))
            }
        };
        let session_copies = SessionCache::new(db.clone());
        let store = Sessions::new(store, session_copies.clone());
        crate::jobs::spawn_cleanup(db.clone(), db_sessions);
        crate::backup::spawn_scheduled(db.clone(), settings.clone());

        let mut providers = Providers::default();
        let wechat = match &settings.wechatpay_config {
            Some(path) => match crate::pay::wechatpay::config::load(path, &settings.public_url) {
                Ok(cfg) => {
                    let wechat = Arc::new(WechatPay::new(cfg)?);
                    providers.add(wechat.clone());
                    tracing::info!(jsapi = wechat.has_jsapi(), "WeChat Pay is on");
                    Some(wechat)
                }
                Err(why) => {
                    tracing::warn!(file = %path.display(), "WeChat Pay is off: {why}");
                    None
                }
            },
            None => None,
        };
        if let Some(path) = &settings.alipay_config {
            match crate::pay::alipay::load_config(path, &settings.public_url) {
                Ok(cfg) => {
                    providers.add(Arc::new(crate::pay::alipay::Alipay::new(cfg)?));
                    tracing::info!("Alipay is on");
                }
                Err(why) => tracing::warn!(file = %path.display(), "Alipay is off: {why}"),
            }
        }
        // The sandbox stands in while no real provider is configured, and never takes money in
        // production (HTTPS) unless explicitly allowed.
        let sandbox_wanted = providers.is_empty() || settings.allow_sandbox;
        let sandbox = if !sandbox_wanted {
            None
        } else if settings.is_production() && !settings.allow_sandbox {
            tracing::warn!(
                "sandbox payments (模拟支付) refused: the shop runs over HTTPS and KEDIAN_ALLOW_SANDBOX is not set"
            );
            None
        } else {
            let sandbox = Arc::new(Sandbox::new(derive(&master, SANDBOX_KEY_LABEL), db.clone()));
            providers.add(sandbox.clone());
            tracing::info!("sandbox payments (模拟支付) are on: no real money moves");
            Some(sandbox)
        };
        if providers.is_empty() {
            tracing::warn!("no payment provider is configured: courses cannot be bought");
        }
        let every = std::time::Duration::from_secs(settings.job_interval_secs.unsigned_abs());
        crate::jobs::orders::spawn(db.clone(), providers.clone(), catalog.clone(), every);
        let leads = crate::jobs::reminders::Leads {
            membership_days: settings.membership_reminder_days,
            event_secs: settings.reminder_lead_minutes * 60,
        };
        crate::jobs::reminders::spawn(db.clone(), catalog.clone(), leads, every);
        let shop = crate::store::shop_settings::ShopCache::default();
        shop.reload(&db).await.context("loading the shop settings")?;
        let screen = crate::web::screen::Screen::default();
        screen.reload(&db).await.context("loading the keyword filter")?;
        let refunder = Refunder { db: db.clone(), providers: providers.clone() };
        crate::jobs::refunds::spawn(refunder.clone(), every);
        if let Some(wechat) = &wechat {
            crate::jobs::profit_sharing::spawn(db.clone(), wechat.clone(), every);
            if wechat.has_official_account() {
                crate::jobs::wechat_messages::spawn(db.clone(), wechat.clone());
            }
        }
        crate::jobs::sms::spawn(db.clone(), sms.clone(), shop.clone());

        let listener =
            TcpListener::bind(&settings.listen).with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let static_dir = static_dir();
        crate::web::assets::load(&static_dir);
        let public_dir = settings.public_dir();
        std::fs::create_dir_all(&public_dir).with_context(|| format!("cannot create {}", public_dir.display()))?;
        let app_providers = providers.clone();
        let progress = Arc::new(crate::store::progress_buffer::ProgressBuffer::default());
        crate::jobs::progress::spawn(progress.clone(), db.clone());
        // Installed before anything counts.
        crate::telemetry::metrics();
        let state = web::Data::new(AppState {
            redis: settings.redis_url.as_deref().and_then(|url| redis::Client::open(url).ok()),
            settings: settings.clone(),
            db: db.clone(),
            catalog: catalog.clone(),
            banners,
            agreements,
            shop,
            screen,
            sms,
            code_key,
            providers,
            sandbox,
            wechat,
            media: crate::media::storage::open_store(&settings, "media")?,
            uploads: crate::media::storage::open_store(&settings, "uploads")?,
            public: crate::media::storage::open_store(&settings, "public")?,
            refunder,
            progress: progress.clone(),
            streams: Default::default(),
            return_queries: Default::default(),
            notify_rejections: Arc::new(crate::web::rejections::Rejections::new(
                crate::routes::payments::REFUSED_NOTIFICATIONS,
            )),
            users: Default::default(),
            access: Default::default(),
            lessons: Default::default(),
            learners: crate::store::cache::EpochCache::new(crate::store::Topic::Access),
            order_pages: crate::store::cache::EpochCache::new(crate::store::Topic::Orders),
            media_key: derive(&master, b"kedian media urls"),
            receipt_key: derive(&master, b"kedian receipts"),
            redeem_key: derive(&master, b"kedian redeem codes"),
            gift_key: derive(&master, b"kedian gift links"),
            totp_key: derive(&master, b"kedian totp secrets"),
        });
        spawn_refresh(state.clone(), every);
        if state.db.backend() == crate::store::Backend::Postgres {
            // Serving starts once announcements are heard (or after 5 s, with the refresh as net).
            crate::store::changes::spawn_teller(&state.db, settings.database_url.clone());
            let listening = spawn_change_listener(state.clone(), session_copies, settings.database_url.clone());
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), listening).await;
        }
        let (swept, swept_sessions) = (state.clone(), store.clone());
        crate::jobs::memory::spawn_trim(move || {
            swept.sweep_caches();
            swept_sessions.sweep();
        });
        // The poster font is large: load it now, off the request path.
        tokio::task::spawn_blocking(|| crate::media::poster::font().is_some());
        let in_bucket = settings.storage_config.is_some();
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(store.clone(), cookie_key.clone())
                .cookie_name(settings.session_cookie_name().to_string())
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_secure(settings.cookie_secure)
                .cookie_content_security(CookieContentSecurity::Private)
                .session_lifecycle(
                    PersistentSession::default()
                        .session_ttl(Duration::days(settings.session_idle_days))
                        .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                )
                .build();
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::web::refuse_control_characters))
                .wrap(ErrorHandlers::new().default_handler(crate::web::error_page::render_error_page))
                .wrap(sessions)
                .wrap(actix_web::middleware::from_fn(crate::web::compress::gzip_pages))
                .wrap(security_headers(settings.is_production()))
                .wrap(actix_web::middleware::from_fn(crate::telemetry::access_log))
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
                .app_data(state.clone())
                .app_data(web::FormConfig::default().limit(crate::web::csrf::FORM_LIMIT_BYTES))
                .configure(crate::routes::configure)
                .configure(|cfg| {
                    // Names carry a content hash: a changed picture gets a new name.
                    let immutable = (CACHE_CONTROL, "public, max-age=31536000, immutable");
                    if in_bucket {
                        cfg.service(
                            web::scope("/files")
                                .wrap(DefaultHeaders::new().add(immutable))
                                .default_service(web::to(crate::routes::files::from_store)),
                        );
                    } else {
                        cfg.service(
                            web::scope("/files")
                                .wrap(DefaultHeaders::new().add(immutable))
                                .service(actix_files::Files::new("", &public_dir)),
                        );
                    }
                })
                .service(
                    web::scope("/static")
                        .wrap(Compress::default())
                        .wrap(actix_web::middleware::from_fn(static_caching))
                        .service(actix_files::Files::new("", &static_dir).prefer_utf8(true)),
                )
                .default_service(web::to(|| async { Err::<actix_web::HttpResponse, _>(AppError::NotFound) }))
        })
        // Without it, a compressed page (sent chunked, in several writes) waits on Nagle and the
        // browser's delayed ACK: about 40 ms per page on a kept-alive connection.
        .tcp_nodelay(true)
        .listen(listener)?
        .run();
        Ok(Application { port, server, db, catalog, providers: app_providers, progress })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The payment providers on offer.
    pub fn providers(&self) -> Providers {
        self.providers.clone()
    }

    /// The in-memory catalog, for whoever changes catalog rows and must reload it.
    pub fn catalog(&self) -> CatalogCache {
        self.catalog.clone()
    }

    /// Progress reports waiting for their batch (tests flush it to look at the table).
    pub fn progress(&self) -> Arc<crate::store::progress_buffer::ProgressBuffer> {
        self.progress.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Err(e) = self.progress.flush(&self.db).await {
            tracing::error!(error = %e, pending = self.progress.pending(), "progress reports lost at shutdown");
        }
        self.db.close().await;
        result
    }
}

fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "strict-origin-when-cross-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY));
    if https { headers.add(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)) } else { headers }
}

/// Re-reads what other instances (or `kedian takedown`) may have changed: shop settings, banners
/// and the keyword list, and on PostgreSQL the catalog.
fn spawn_refresh(state: web::Data<AppState>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            // On PostgreSQL the catalog too: the safety net under the change listener.
            let reloaded = if state.db.backend() == crate::store::Backend::Postgres {
                reload_everything(&state).await
            } else {
                reload_settings(&state).await
            };
            if let Err(e) = reloaded {
                tracing::warn!(error = %e, "refreshing settings failed; will retry");
            }
        }
    });
}

/// On PostgreSQL, reloads what another instance announced (`store::changes`) within moments, and
/// drops the copies it made stale. After a reconnection everything is reloaded once, for
/// announcements missed meanwhile (start-up has just loaded it all); copies are not used while
/// the connection is down.
fn spawn_change_listener(
    state: web::Data<AppState>,
    sessions: SessionCache,
    database_url: String,
) -> tokio::sync::oneshot::Receiver<()> {
    use crate::store::changes::{CATALOG, COPIES, Change, SETTINGS};
    let (listening, heard) = tokio::sync::oneshot::channel();
    let mut listening = Some(listening);
    tokio::spawn(async move {
        let mut reconnecting = false;
        loop {
            let listening = async {
                let mut listener = sqlx::postgres::PgListener::connect(&database_url).await?;
                listener.listen_all([CATALOG, SETTINGS, COPIES]).await?;
                state.db.hearing(true);
                if let Some(listening) = listening.take() {
                    let _ = listening.send(());
                }
                if reconnecting {
                    reload_everything(&state).await?;
                }
                // A lost connection is reconnected by a new listener, never quietly: notices sent
                // meanwhile are gone, so the copies must go too.
                while let Some(notice) = listener.try_recv().await? {
                    match notice.channel() {
                        CATALOG => state.catalog.reload(&state.db).await?,
                        COPIES => {
                            for change in crate::store::changes::heard(&state.db, notice.payload()) {
                                match change {
                                    Change::Topic(topic) => state.db.changed_here(topic),
                                    Change::Session(id) => sessions.forget(id),
                                    Change::Progress(learner) => state.progress.forget([learner]),
                                }
                            }
                        }
                        _ => reload_settings(&state).await?,
                    }
                }
                Ok::<(), anyhow::Error>(())
            };
            let outcome = listening.await;
            state.db.hearing(false);
            match outcome {
                Ok(()) => tracing::warn!("lost the connection that hears other instances' changes; reconnecting"),
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "listening for other instances' changes failed; reconnecting"
                    )
                }
            }
            reconnecting = true;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
    heard
}

async fn reload_settings(state: &AppState) -> anyhow::Result<()> {
    state.shop.reload(&state.db).await?;
    state.banners.reload(&state.db, now()).await?;
    state.reload_agreements().await?;
    state.screen.reload(&state.db).await?;
    Ok(())
}

async fn reload_everything(state: &AppState) -> anyhow::Result<()> {
    reload_settings(state).await?;
    state.catalog.reload(&state.db).await
}

/// A year and immutable for a versioned static URL, an hour otherwise.
async fn static_caching(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let policy = crate::web::assets::cache_control(req.query_string());
    let mut res = next.call(req).await?;
    if res.status().is_success() || res.status() == actix_web::http::StatusCode::NOT_MODIFIED {
        res.headers_mut().insert(CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static(policy));
    }
    Ok(res)
}

/// `static/` beside the working directory, else the one in the source tree.
fn static_dir() -> PathBuf {
    let local = PathBuf::from("static");
    if local.is_dir() { local } else { PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static")) }
}

/// A key for one purpose, derived from the master key (HMAC-SHA256 over the label).
pub fn derive(master: &[u8], label: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(master) {
        Ok(mut mac) => {
            mac.update(label);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => master.to_vec(),
    }
}

/// Migrates, and loads the demo catalog and demo admin into a new database when asked to.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url).await?;
    let is_new = db.migrate().await?;
    if is_new && settings.demo {
        demo::seed_catalog(&db, now()).await.context("loading the demo catalog")?;
        let media = crate::media::storage::open_store(settings, "media")?;
        crate::media::demo::seed(&db, media.as_ref()).await.context("loading the demo media")?;
        // A random first password, shown once in this log: a known one would open every shop
        // that forgot to turn the demo off.
        let password: String = rand::Rng::sample_iter(rand::thread_rng(), &rand::distributions::Alphanumeric)
            .take(12)
            .map(char::from)
            .collect();
        let hash = crate::auth::password::hash(password.clone()).await?;
        users::create(&db, &demo_phone()?, "课店管理员", Some(&hash), Role::Admin, now()).await?;
        tracing::info!(
            "demo catalog loaded; demo admin: open {}/admin/login, phone {}, password {password} (shown once; the first sign-in sets up an authenticator app). Change it with: kedian user create-admin --phone {}",
            settings.public_url,
            demo::DEMO_ADMIN_PHONE,
            demo::DEMO_ADMIN_PHONE
        );
    }
    Ok(db)
}

fn demo_phone() -> anyhow::Result<Phone> {
    Phone::parse(demo::DEMO_ADMIN_PHONE).map_err(|_| anyhow::anyhow!("demo phone"))
}
