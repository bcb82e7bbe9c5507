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
    /// Where and how the buyer pays. Stored in `orders.pay_channel` when a payment starts.
    pub enum Channel {
        /// WeChat Pay inside the WeChat browser (WeixinJSBridge).
        WechatJsapi => "wechat_jsapi",
        /// WeChat Pay from another mobile browser (MWEB h5_url).
        WechatH5 => "wechat_h5",
        /// WeChat Pay by scanning a QR code shown on a PC.
        WechatNative => "wechat_native",
        /// Alipay's mobile web cashier (alipay.trade.wap.pay).
        AlipayWap => "alipay_wap",
        /// Alipay's PC cashier (alipay.trade.page.pay).
        AlipayPage => "alipay_page",
        /// The sandbox cashier page (模拟支付).
        Sandbox => "sandbox",
    }
}

/// What kind of browser the buyer is in, from its User-Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    WeChat,
    Mobile,
    Desktop,
}

impl Browser {
    pub fn from_user_agent(ua: &str) -> Browser {
        if ua.contains("MicroMessenger") {
            Browser::WeChat
        } else if ["Mobile", "Android", "iPhone", "iPad", "HarmonyOS"].iter().any(|m| ua.contains(m)) {
            Browser::Mobile
        } else {
            Browser::Desktop
        }
    }
}

impl Channel {
    /// Which payment brand's mark stands beside the choice on the pay page.
    pub fn provider_mark(self) -> &'static str {
        match self {
            Channel::Sandbox => "sandbox",
            Channel::WechatJsapi | Channel::WechatH5 | Channel::WechatNative => "wechat",
            Channel::AlipayWap | Channel::AlipayPage => "alipay",
        }
    }

    /// The one glyph drawn in that mark (支 for Alipay, as on its own logo).
    pub fn mark_key(self) -> &'static str {
        match self.provider_mark() {
            "wechat" => "mark_wechat",
            "alipay" => "mark_alipay",
            _ => "mark_sandbox",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Channel::Sandbox => "channel_sandbox",
            Channel::WechatJsapi | Channel::WechatH5 => "channel_wechat",
            Channel::WechatNative => "channel_wechat_native",
            Channel::AlipayWap | Channel::AlipayPage => "channel_alipay",
        }
    }

    /// The channels that work in this browser, best first (the sandbox works everywhere).
    pub fn fits(self, browser: Browser) -> bool {
        match self {
            Channel::Sandbox => true,
            Channel::WechatJsapi => browser == Browser::WeChat,
            Channel::WechatH5 => browser == Browser::Mobile,
            Channel::WechatNative => browser == Browser::Desktop,
            // Alipay's pages are blocked inside WeChat: there the pay page explains how to leave.
            Channel::AlipayWap => browser == Browser::Mobile,
            Channel::AlipayPage => browser == Browser::Desktop,
        }
    }
}

/// The `pay_channel` an order was paid through: one of the shop's channels, or, for an order
/// imported from the mini program, that program's provider (stored `miniprogram:<provider>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaidThrough {
    Shop(Channel),
    MiniProgram(String),
}

impl PaidThrough {
    pub fn stored(&self) -> String {
        match self {
            PaidThrough::Shop(channel) => channel.as_str().to_string(),
            PaidThrough::MiniProgram(provider) => format!("{MINI_PROGRAM_PREFIX}{provider}"),
        }
    }
}

/// As stored: the back office shows the channel's word beside the provider's name.
impl std::fmt::Display for PaidThrough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stored())
    }
}

impl TryFrom<String> for PaidThrough {
    type Error = super::words::UnknownWord;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.strip_prefix(MINI_PROGRAM_PREFIX) {
            Some(provider) => Ok(PaidThrough::MiniProgram(provider.to_string())),
            None => Channel::try_from(value).map(PaidThrough::Shop),
        }
    }
}

/// How an imported order's channel is stored: `miniprogram:` and the provider the export named.
pub const MINI_PROGRAM_PREFIX: &str = "miniprogram:";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_their_channels() {
        let wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47";
        let phone = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36";
        let pc = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
        assert_eq!(Browser::from_user_agent(wechat), Browser::WeChat);
        assert_eq!(Browser::from_user_agent(phone), Browser::Mobile);
        assert_eq!(Browser::from_user_agent(pc), Browser::Desktop);
        assert_eq!(Browser::from_user_agent(""), Browser::Desktop);
        let fits = |b| Channel::ALL.iter().copied().filter(|c| c.fits(b)).collect::<Vec<_>>();
        assert_eq!(fits(Browser::WeChat), [Channel::WechatJsapi, Channel::Sandbox]);
        assert_eq!(fits(Browser::Mobile), [Channel::WechatH5, Channel::AlipayWap, Channel::Sandbox]);
        assert_eq!(fits(Browser::Desktop), [Channel::WechatNative, Channel::AlipayPage, Channel::Sandbox]);
        for c in Channel::ALL {
            assert_eq!(PaidThrough::try_from(c.as_str().to_string()), Ok(PaidThrough::Shop(*c)));
        }
    }

    #[test]
    fn imported_orders_keep_the_mini_programs_provider() {
        let imported = PaidThrough::MiniProgram("wechat".into());
        assert_eq!(imported.stored(), "miniprogram:wechat");
        assert_eq!(PaidThrough::try_from(imported.stored()), Ok(imported));
        assert!(PaidThrough::try_from("cash".to_string()).is_err(), "an unknown channel is refused");
    }
}
