//! A broadcast text message: the shop's signature first, the shop's link in it, and the way to
//! opt out at the end, as Chinese carriers require of marketing messages.

pub const MAX_CHARS: usize = 300;
const OPT_OUT: &str = "回T退订";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastError {
    Empty,
    TooLong,
    NoSignature,
}

/// The message as it will be sent: the link and the opt-out line are added when missing.
pub fn compose(text: &str, shop_url: &str) -> Result<String, BroadcastError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(BroadcastError::Empty);
    }
    if !(text.starts_with('【') && text.contains('】')) {
        return Err(BroadcastError::NoSignature);
    }
    let mut out = text.to_string();
    if !out.contains(shop_url) {
        out.push(' ');
        out.push_str(shop_url);
    }
    if !out.contains("退订") {
        out.push(' ');
        out.push_str(OPT_OUT);
    }
    if out.chars().count() > MAX_CHARS {
        return Err(BroadcastError::TooLong);
    }
    Ok(out)
}

/// The message without its 【signature】, for channels that name the sender themselves (the
/// official account's template message).
pub fn without_signature(text: &str) -> &str {
    let text = text.trim();
    match text.strip_prefix('【').and_then(|rest| rest.split_once('】')) {
        Some((_, message)) => message.trim(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_comes_off() {
        assert_eq!(without_signature(" 【课店】课程已搬到网页版 "), "课程已搬到网页版");
        assert_eq!(without_signature("没有签名"), "没有签名");
        assert_eq!(without_signature("【没闭合"), "【没闭合");
    }

    #[test]
    fn link_and_opt_out_are_added_once() {
        let url = "https://shop.example";
        assert_eq!(compose("【课店】课程已搬家", url).unwrap(), "【课店】课程已搬家 https://shop.example 回T退订");
        let already = "【课店】课程在 https://shop.example 继续学习，回T退订";
        assert_eq!(compose(already, url).unwrap(), already);
        assert_eq!(compose("课程已搬家", url), Err(BroadcastError::NoSignature));
        assert_eq!(compose("  ", url), Err(BroadcastError::Empty));
        assert_eq!(compose(&format!("【课店】{}", "长".repeat(300)), url), Err(BroadcastError::TooLong));
    }
}

super::words::stored_word! {
    /// A broadcast is sending while any of its texts waits in the outbox, then done.
    pub enum BroadcastStatus { Sending => "sending", Done => "done" }
}
