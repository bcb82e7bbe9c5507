use std::sync::Arc;

use crate::catalog::CatalogCache;
use crate::config::Settings;
use crate::media::storage::MediaStore;
use crate::pay::Providers;
use crate::pay::sandbox::Sandbox;
use crate::pay::wechatpay::WechatPay;
use crate::services::refunds::Refunder;
use crate::sms::SmsSender;
use crate::store::Db;

pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub catalog: CatalogCache,
    /// Site banners, in memory.
    pub banners: crate::web::banner::BannerCache,
    /// The current user and purchase agreements, in memory.
    pub agreements: crate::store::agreements::AgreementCache,
    /// Settings operators change in the back office.
    pub shop: crate::store::shop_settings::ShopCache,
    /// The keyword filter for learner text.
    pub screen: crate::web::screen::Screen,
    pub sms: Arc<dyn SmsSender>,
    /// Key for hashing SMS codes, derived from the session master key.
    pub code_key: Vec<u8>,
    pub providers: Providers,
    /// The sandbox gateway, when it is on offer (its cashier page needs it directly).
    pub sandbox: Option<Arc<Sandbox>>,
    /// Where lesson media is kept.
    pub media: Arc<dyn MediaStore>,
    /// Redis, when sessions live there: the readiness check asks it.
    pub redis: Option<redis::Client>,
    /// Key sealing staff TOTP secrets, derived from the master key.
    pub totp_key: Vec<u8>,
    /// Key for signing media URLs, derived from the master key.
    pub media_key: Vec<u8>,
    /// Key for signing receipts' verify codes, derived from the master key.
    pub receipt_key: Vec<u8>,
    /// Key redeem codes are derived from (the same on every instance), from the master key.
    pub redeem_key: Vec<u8>,
    /// Key gift links are derived from (the same on every instance), from the master key.
    pub gift_key: Vec<u8>,
    /// Evidence and complaint files (private: served only through owner-checking handlers).
    pub uploads: Arc<dyn MediaStore>,
    pub refunder: Refunder,
    /// Logged-in accounts in memory (SQLite only).
    pub users: crate::store::users::UserCache,
    /// Who may learn what, in memory (SQLite only).
    pub access: crate::store::entitlements::AccessCache,
    /// Lesson content in memory (SQLite only).
    pub lessons: crate::store::lessons::LessonCache,
    /// Pages of each learner's order list: (user, page) → (orders, total) (SQLite only).
    pub order_pages:
        crate::store::cache::EpochCache<(crate::domain::UserId, i64), (Vec<crate::store::orders::Order>, i64)>,
    /// Learners and completions by course for the statistics page (SQLite only).
    pub learners: crate::store::cache::EpochCache<(), std::collections::HashMap<crate::domain::CourseId, (i64, i64)>>,
    /// Progress reports waiting to be written in the next batch.
    /// Covers, the logo and posters, served under /files (the data dir's public/ or the bucket).
    pub public: Arc<dyn crate::media::storage::MediaStore>,
    pub progress: Arc<crate::store::progress_buffer::ProgressBuffer>,
    /// Lesson media streams open now, per viewer and per address.
    pub streams: Arc<crate::web::stream_slots::StreamSlots>,
    /// When each pending order was last asked of its gateway on the buyer's return.
    pub return_queries: Arc<crate::services::confirm::ReturnQueries>,
    /// Payment notifications refused per address, to stop one address posting junk.
    pub notify_rejections: Arc<crate::web::rejections::Rejections>,
    /// WeChat Pay, when configured (its OAuth callback needs it directly).
    pub wechat: Option<Arc<WechatPay>>,
}

impl AppState {
    /// Lets the in-memory copies of rows go of what is past its time.
    pub fn sweep_caches(&self) {
        self.users.sweep();
        self.access.sweep();
        self.lessons.sweep();
        self.order_pages.sweep();
        self.learners.sweep();
        self.progress.sweep();
    }

    /// Policy-eligible refunds up to this amount are approved without staff (0: never).
    pub fn refund_auto_approve_fen(&self) -> i64 {
        self.shop.get().refund_auto_approve_fen.unwrap_or(self.settings.refund_auto_approve_fen)
    }

    /// Hours to the first reply to a complaint.
    /// What the refund policy says about `order` now, with the share consumed
    /// (`services::refunds::assess` with this shop's catalog, progress and settings).
    pub async fn assess_refund(
        &self,
        order: &crate::store::orders::Order,
    ) -> Result<(crate::domain::refund_policy::Decision, i64), crate::error::AppError> {
        let catalog = self.catalog.snapshot();
        let inputs = crate::services::refunds::PolicyInputs {
            db: &self.db,
            catalog: &catalog,
            progress: &self.progress,
            settings: self.settings.policy(),
        };
        Ok(crate::services::refunds::assess(&inputs, order, crate::domain::time::now()).await?)
    }

    /// The fulfilment service over this shop's database, providers' refunder and catalog.
    pub fn fulfilment(&self) -> crate::services::fulfilment::Fulfilment<'_> {
        crate::services::fulfilment::Fulfilment {
            db: &self.db,
            refunder: &self.refunder,
            catalog: &self.catalog,
            wechat: self.wechat.as_deref(),
            complaint_reply_hours: self.complaint_reply_hours(),
        }
    }

    /// Reads the current agreements again; the visitors' copies of catalog pages, which name the
    /// purchase agreement beside a free course's button, go with the old ones.
    pub async fn reload_agreements(&self) -> Result<(), sqlx::Error> {
        self.agreements.reload(&self.db).await?;
        self.catalog.snapshot().pages.clear();
        Ok(())
    }

    /// Tells the other instances to reload what this one just changed (`store::changes`). A
    /// failure is logged, not the request's: the periodic refresh catches up.
    pub async fn announce(&self, channel: &str) {
        if let Err(e) = crate::store::changes::announce(&self.db, channel).await {
            tracing::warn!(channel, error = %e, "could not announce a change to other instances");
        }
    }

    pub fn complaint_reply_hours(&self) -> i64 {
        self.shop.get().complaint_reply_hours.unwrap_or(self.settings.complaint_reply_hours)
    }
}
