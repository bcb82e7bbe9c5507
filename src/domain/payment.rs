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

super::words::stored_word! {
    /// Where the automatic refund of a late payment (money for an order already closed) stands;
    /// none until it is first tried.
    pub enum LateRefundState { Processing => "processing", Succeeded => "succeeded", Failed => "failed" }
}

impl LateRefundState {
    pub fn label_key(self) -> &'static str {
        match self {
            LateRefundState::Processing => "refund_state_processing",
            LateRefundState::Succeeded => "refund_state_succeeded",
            LateRefundState::Failed => "refund_state_failed",
        }
    }
}
