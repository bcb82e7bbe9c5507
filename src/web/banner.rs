//! The site banner, held in memory like the catalog: every page shows the live one without a
//! query. Whoever changes banners calls `reload`. A visitor who closes a banner gets a cookie
//! (set by a small deferred script) and no longer sees that banner.

use std::sync::{Arc, RwLock};

use actix_web::HttpRequest;

use crate::store::Db;
use crate::store::announcements::{self, Announcement};

pub const DISMISSED_COOKIE: &str = "kd_banner";

#[derive(Clone, Default)]
pub struct BannerCache {
    current: Arc<RwLock<Arc<Vec<Announcement>>>>,
}

impl BannerCache {
    pub async fn reload(&self, db: &Db, now: i64) -> Result<(), sqlx::Error> {
        let banners = Arc::new(announcements::banners(db, now).await?);
        match self.current.write() {
            Ok(mut guard) => *guard = banners,
            Err(poisoned) => *poisoned.into_inner() = banners,
        }
        Ok(())
    }

    /// The live banner for this visitor, unless they closed it.
    pub fn for_request(&self, req: &HttpRequest, now: i64) -> Option<Announcement> {
        let banners = match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let live = banners.iter().find(|b| b.is_live(now))?;
        let dismissed = req.cookie(DISMISSED_COOKIE).is_some_and(|c| c.value() == live.id.to_string());
        (!dismissed).then(|| live.clone())
    }
}
