//! What a payment provider reports, once verified: plain data the order store applies.

use super::Fen;

/// A payment the provider says succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidNotice {
    pub order_no: String,
    pub txn_id: String,
    pub amount: Fen,
    pub currency: String,
    pub paid_at: i64,
}
