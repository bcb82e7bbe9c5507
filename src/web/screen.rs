//! The keyword filter's word list, in memory (reloaded when staff change it), and the check
//! every form with learner text runs.

use crate::domain::moderation::{Keyword, Verdict, check};
use crate::store::shared::Shared;
use crate::store::{Db, moderation};

#[derive(Clone, Default)]
pub struct Screen(Shared<Vec<Keyword>>);

impl Screen {
    pub async fn reload(&self, db: &Db) -> Result<(), sqlx::Error> {
        self.0.set(moderation::keywords(db).await?);
        Ok(())
    }

    pub fn check(&self, text: &str) -> Verdict {
        check(text, &self.0.get())
    }
}
