//! The shop_settings table: key/value pairs, saved together, and the settings in memory
//! (`ShopCache`, reloaded by the settings page when staff save).

use super::Db;
use super::shared::Shared;
use crate::domain::shop::ShopSettings;

#[derive(Clone, Default)]
pub struct ShopCache(Shared<ShopSettings>);

impl ShopCache {
    pub async fn reload(&self, db: &Db) -> Result<(), sqlx::Error> {
        self.0.set(ShopSettings::from_pairs(&all(db).await?));
        Ok(())
    }

    pub fn get(&self) -> std::sync::Arc<ShopSettings> {
        self.0.get()
    }
}

pub async fn all(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT key, value FROM shop_settings ORDER BY key").fetch_all(db.read()).await
}

/// Saves every pair in one transaction (an empty value removes the key: back to the default).
pub async fn save(db: &Db, pairs: &[(String, String)], now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    for (key, value) in pairs {
        if value.trim().is_empty() {
            sqlx::query("DELETE FROM shop_settings WHERE key = $1").bind(key).execute(&mut *tx).await?;
        } else {
            sqlx::query(
                "INSERT INTO shop_settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}
