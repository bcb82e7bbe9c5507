//! Changes other instances must see at once: a write that changes the catalog or the shop's
//! settings (banners, keywords, takedown mode included) is announced on a PostgreSQL channel, and
//! every instance's listener reloads. SQLite has one instance; there nothing is sent.

use super::{Backend, Db};

/// Courses, lessons, categories, instructors.
pub const CATALOG: &str = "kedian_catalog";
/// Shop settings, banners, the keyword list, takedown mode.
pub const SETTINGS: &str = "kedian_settings";

pub async fn announce(db: &Db, channel: &str) -> Result<(), sqlx::Error> {
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')").bind(channel).execute(db.write()).await?;
    }
    Ok(())
}
