//! The site banner, held in memory like the catalog: every page shows the live one without a
//! query. Whoever changes banners calls `reload`. A visitor who closes a banner gets a cookie
//! (set by a small deferred script) and no longer sees that banner.

use actix_web::HttpRequest;

use crate::store::Db;
use crate::store::announcements::{self, Announcement};
use crate::store::shared::Shared;

pub const DISMISSED_COOKIE: &str = "kd_banner";

#[derive(Clone, Default)]
pub struct BannerCache(Shared<Vec<Announcement>>);

impl BannerCache {
    pub async fn reload(&self, db: &Db, now: i64) -> Result<(), sqlx::Error> {
        self.0.set(announcements::banners(db, now).await?);
        Ok(())
    }

    /// The live banner for this visitor, unless they closed it.
    pub fn for_request(&self, req: &HttpRequest, now: i64) -> Option<Announcement> {
        let banners = self.0.get();
        let live = banners.iter().find(|b| b.is_live(now))?;
        let dismissed = req.cookie(DISMISSED_COOKIE).is_some_and(|c| c.value() == live.id.to_string());
        (!dismissed).then(|| live.clone())
    }
}
