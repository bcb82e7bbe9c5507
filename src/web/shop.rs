//! Shop settings in memory, reloaded by the settings page when staff save.

use super::shared::Shared;
use crate::domain::shop::ShopSettings;
use crate::store::{Db, shop_settings};

#[derive(Clone, Default)]
pub struct ShopCache(Shared<ShopSettings>);

impl ShopCache {
    pub async fn reload(&self, db: &Db) -> Result<(), sqlx::Error> {
        self.0.set(ShopSettings::from_pairs(&shop_settings::all(db).await?));
        Ok(())
    }

    pub fn get(&self) -> std::sync::Arc<ShopSettings> {
        self.0.get()
    }
}
