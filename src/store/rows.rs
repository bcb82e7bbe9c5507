//! Row mapping for domain types spread over several columns.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::flag;
use crate::domain::refund_terms::RefundTerms;

/// `non_refundable`, `refund_window_days` and `refund_max_consumed_pct`, as courses and orders
/// store them.
impl FromRow<'_, AnyRow> for RefundTerms {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(RefundTerms {
            non_refundable: flag(r.try_get("non_refundable")?),
            window_days: r.try_get("refund_window_days")?,
            max_consumed_pct: r.try_get("refund_max_consumed_pct")?,
        })
    }
}
