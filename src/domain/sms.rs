//! What a text message says: its kind, the parameters each kind takes and the shop's own
//! wording. Sending is `sms`; the outbox rows are `store::sms_outbox`.

super::words::stored_word! {
    /// What a text is about. Its word names it in the TOML file, the outbox and the back office.
    pub enum Kind {
        LoginCode => "login_code",
        RefundApproved => "refund_approved",
        RefundRefunded => "refund_refunded",
        RefundRejected => "refund_rejected",
        ComplaintReplied => "complaint_replied",
        TakedownNotice => "takedown_notice",
        /// A membership ending, a live session or a consultation coming up (only with consent).
        Reminder => "reminder",
        /// Broadcasts: a marketing template, which carriers require to carry an opt-out line.
        Marketing => "marketing",
        /// Someone tried to claim the account's order by its receipt number.
        ClaimAttempt => "claim_attempt",
    }
}

impl Kind {
    /// The parameters the shop fills in, in this order.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Kind::LoginCode => &["code"],
            Kind::RefundApproved => &["no", "amount"],
            Kind::RefundRefunded => &["no", "amount", "time"],
            Kind::RefundRejected | Kind::ClaimAttempt => &["no"],
            Kind::ComplaintReplied => &["no"],
            Kind::Reminder => &["text", "time"],
            Kind::TakedownNotice | Kind::Marketing => &["text", "url"],
        }
    }

    /// The shop's wording when no other is set (`{name}` placeholders).
    pub fn default_wording(self) -> &'static str {
        match self {
            Kind::LoginCode => super::shop::SMS_CODE_DEFAULT,
            Kind::RefundApproved => "【课店】您的退款 {no} 已同意，{amount} 将原路退回。",
            Kind::RefundRefunded => super::shop::SMS_REFUND_DEFAULT,
            Kind::RefundRejected => "【课店】您的退款申请 {no} 未通过，原因见“我的消息”。",
            Kind::ComplaintReplied => "【课店】您的投诉 {no} 有了新回复，请到“我的投诉”查看。",
            Kind::TakedownNotice => "{text}",
            Kind::Reminder => "【课店】提醒：{text}，时间 {time}。",
            Kind::Marketing => "{text}",
            Kind::ClaimAttempt => {
                "【课店】有人用你的订单 {no} 的支付凭证尝试找回课程，已被拒绝。你的课程不受影响；如有疑问请联系客服。"
            }
        }
    }

    pub fn label_key(self) -> String {
        format!("sms_kind_{}", self.as_str())
    }
}

/// One text: its kind, the parameters by name, and the shop's wording filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub params: Vec<(String, String)>,
    pub text: String,
}

impl Message {
    pub fn new(kind: Kind, wording: &str, params: &[(&str, &str)]) -> Message {
        Message {
            kind,
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            text: super::shop::fill(wording, params),
        }
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
}
