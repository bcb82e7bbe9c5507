//! Shop settings operators change themselves (name, logo, policy texts, refund defaults, SMS
//! wording), read from the settings table's key/value pairs, and the SMS template rules.

use std::collections::HashMap;

pub const SMS_CODE_DEFAULT: &str = "【课店】您的验证码是 {code}，5 分钟内有效。请勿告诉他人。";
pub const SMS_REFUND_DEFAULT: &str = "【课店】您的退款 {no} 已于 {time} 原路退回 {amount}，请留意支付账户到账。";
/// The placeholders each SMS template must keep.
pub const SMS_CODE_FIELDS: &[&str] = &["{code}"];
pub const SMS_REFUND_FIELDS: &[&str] = &["{no}", "{amount}"];
pub const SMS_MAX_CHARS: usize = 140;
pub const TAKEDOWN_DEFAULT: &str =
    "小程序暂停服务期间，你购买的课程都在这里，学习进度也已保留。请收藏本页，以后直接从这里学习。";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopSettings {
    /// Empty: the default name of the interface language.
    pub name: String,
    pub logo_url: String,
    /// The ICP filing number (备案号) the footer must show in mainland China; empty: none shown.
    pub icp_number: String,
    /// Policy page texts by `page.lang` (`agreement.zh-CN`); missing ones use the defaults.
    pub policies: HashMap<String, String>,
    pub refund_auto_approve_fen: Option<i64>,
    pub complaint_reply_hours: Option<i64>,
    pub sms_code: String,
    pub sms_refund: String,
    /// Takedown mode: the mini program is gone; every page says where learners are now. The
    /// operator's message, or empty for the default in the reader's language.
    pub takedown: Option<String>,
    /// The official account's template for the takedown notice (fields `thing1`, `time2`);
    /// empty: no template message.
    pub wx_template_takedown: String,
    /// Distribution (推广员): whether it runs, its rates and attribution, and when a distributor
    /// is flagged.
    pub distribution: super::commission::Program,
    pub risk: super::commission::RiskThresholds,
    /// Changes whenever any setting does (pages cached for visitors are keyed by it).
    pub revision: u64,
}

impl ShopSettings {
    pub fn from_pairs(pairs: &[(String, String)]) -> ShopSettings {
        let map: HashMap<&str, &str> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let text =
            |key: &str, default: &str| map.get(key).filter(|v| !v.trim().is_empty()).unwrap_or(&default).to_string();
        ShopSettings {
            name: text("shop_name", ""),
            logo_url: text("logo_url", ""),
            icp_number: text("icp_number", ""),
            policies: pairs
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("policy.").map(|page| (page.to_string(), v.clone())))
                .filter(|(_, v)| !v.trim().is_empty())
                .collect(),
            refund_auto_approve_fen: map.get("refund_auto_approve_fen").and_then(|v| v.parse().ok()),
            complaint_reply_hours: map.get("complaint_reply_hours").and_then(|v| v.parse().ok()),
            sms_code: text("sms_code", SMS_CODE_DEFAULT),
            sms_refund: text("sms_refund", SMS_REFUND_DEFAULT),
            takedown: (map.get("takedown").copied() == Some("on")).then(|| text("takedown_message", "")),
            wx_template_takedown: text("wx_template_takedown", "").trim().to_string(),
            distribution: super::commission::Program::from_settings(|key| map.get(key).map(|v| v.to_string())),
            risk: super::commission::RiskThresholds::from_settings(|key| map.get(key).map(|v| v.to_string())),
            revision: {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                pairs.hash(&mut hasher);
                hasher.finish()
            },
        }
    }

    pub fn policy(&self, page: &str, lang: &str) -> Option<&str> {
        self.policies.get(&format!("{page}.{lang}")).map(String::as_str)
    }
}

/// An ICP filing number as the MIIT issues it: 京ICP备12345678号-1, or a licence, 沪ICP证123456号.
pub fn is_icp_number(text: &str) -> bool {
    let text = text.trim();
    (text.contains("ICP备") || text.contains("ICP证"))
        && text.ends_with(|c: char| c == '号' || c.is_ascii_digit())
        && text.chars().count() <= 40
        && !text.chars().any(|c| c.is_control() || c == '<' || c == '>')
}

/// `{name}` placeholders replaced by values.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_string(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateError {
    Empty,
    TooLong,
    /// Chinese carriers require the signature, like 【课店】, at the start.
    NoSignature,
    Missing(&'static str),
}

pub fn check_sms_template(template: &str, fields: &[&'static str]) -> Result<(), TemplateError> {
    let t = template.trim();
    if t.is_empty() {
        return Err(TemplateError::Empty);
    }
    if t.chars().count() > SMS_MAX_CHARS {
        return Err(TemplateError::TooLong);
    }
    if !(t.starts_with('【') && t.contains('】')) {
        return Err(TemplateError::NoSignature);
    }
    match fields.iter().find(|f| !t.contains(**f)) {
        Some(missing) => Err(TemplateError::Missing(missing)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icp_numbers_as_issued() {
        for ok in ["京ICP备12345678号-1", "京ICP备12345678号", "沪ICP证123456号", " 粤ICP备2023012345号-2 "]
        {
            assert!(is_icp_number(ok), "{ok}");
        }
        for bad in ["", "12345678", "ICP", "京ICP备", "京ICP备1号<script>", &format!("京ICP备{}号", "1".repeat(40))]
        {
            assert!(!is_icp_number(bad), "{bad}");
        }
    }

    #[test]
    fn defaults_fill_the_gaps() {
        let s = ShopSettings::from_pairs(&[]);
        assert_eq!((s.name.as_str(), s.sms_code.as_str()), ("", SMS_CODE_DEFAULT));
        assert_eq!((s.refund_auto_approve_fen, s.complaint_reply_hours), (None, None));
        let pairs = vec![
            ("shop_name".to_string(), "老王讲 Excel".to_string()),
            ("policy.refund-policy.zh-CN".to_string(), "七天内可退。".to_string()),
            ("policy.privacy.zh-CN".to_string(), "  ".to_string()),
            ("refund_auto_approve_fen".to_string(), "0".to_string()),
            ("sms_code".to_string(), "".to_string()),
        ];
        let s = ShopSettings::from_pairs(&pairs);
        assert_eq!(s.name, "老王讲 Excel");
        assert_eq!(s.policy("refund-policy", "zh-CN"), Some("七天内可退。"));
        assert_eq!(s.policy("privacy", "zh-CN"), None, "blank means default");
        assert_eq!(s.refund_auto_approve_fen, Some(0));
        assert_eq!(s.sms_code, SMS_CODE_DEFAULT);
        assert_eq!(s.takedown, None);
        let on = ShopSettings::from_pairs(&[("takedown".to_string(), "on".to_string())]);
        assert_eq!(on.takedown.as_deref(), Some(""), "the default, in the reader's language");
        assert_ne!(on.revision, s.revision, "any change gives a new revision");
    }

    #[test]
    fn templates_keep_signature_and_placeholders() {
        assert_eq!(check_sms_template(SMS_CODE_DEFAULT, SMS_CODE_FIELDS), Ok(()));
        assert_eq!(check_sms_template(SMS_REFUND_DEFAULT, SMS_REFUND_FIELDS), Ok(()));
        assert_eq!(check_sms_template("验证码 {code}", SMS_CODE_FIELDS), Err(TemplateError::NoSignature));
        assert_eq!(check_sms_template("【店】验证码", SMS_CODE_FIELDS), Err(TemplateError::Missing("{code}")));
        assert_eq!(check_sms_template(" ", SMS_CODE_FIELDS), Err(TemplateError::Empty));
        assert_eq!(
            check_sms_template(&format!("【店】{}{{code}}", "长".repeat(140)), SMS_CODE_FIELDS),
            Err(TemplateError::TooLong)
        );
        assert_eq!(fill("【店】{code}，{code}", &[("code", "123456")]), "【店】123456，123456");
    }
}
