//! The exchange format's rows, checked (docs/import-format.md, version 1). A row either becomes a
//! typed record or a reason it was rejected; nothing here touches the database.

use std::collections::HashMap;

use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::{Fen, Phone};

pub const FORMAT_VERSION: u32 = 1;

/// One row as read from a CSV line or a JSON Lines object: field name → text.
pub type Fields = HashMap<String, String>;

fn get<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map(|v| v.trim()).unwrap_or("")
}

/// Times as exports write them: unix seconds, RFC 3339, or `2026-11-21 19:30[:05]` / `2026-11-21`
/// read as Shanghai time.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().ok()?;
        // Milliseconds are common in exports; seconds since 1970 stay below 10^11 for millennia.
        return Some(if n > 100_000_000_000 { n / 1000 } else { n });
    }
    if let Ok(t) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let shanghai = UtcOffset::from_hms(8, 0, 0).ok()?;
    let formats = [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    ];
    for format in formats {
        if let Ok(t) = PrimitiveDateTime::parse(text, &format) {
            return Some(t.assume_offset(shanghai).unix_timestamp());
        }
    }
    let day = time::Date::parse(text, &format_description!("[year]-[month]-[day]")).ok()?;
    Some(day.with_hms(0, 0, 0).ok()?.assume_offset(shanghai).unix_timestamp())
}

fn optional_time(f: &Fields, name: &str) -> Result<Option<i64>, String> {
    let text = get(f, name);
    if text.is_empty() {
        return Ok(None);
    }
    parse_time(text).map(Some).ok_or_else(|| format!("{name}: not a time ({text})"))
}

fn phone(f: &Fields) -> Result<Option<Phone>, String> {
    match get(f, "phone") {
        "" => Ok(None),
        text => Phone::parse(text).map(Some).map_err(|_| format!("phone: not a mainland mobile number ({text})")),
    }
}

/// Who a row is about: a phone, or for a buyer the mini program never asked for one, the WeChat
/// unionid or the mini program's openid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Buyer {
    Phone(Phone),
    Unionid(String),
    Openid(String),
}

impl Buyer {
    /// A key unique across the three kinds.
    pub fn key(&self) -> String {
        match self {
            Buyer::Phone(p) => format!("p:{}", p.as_str()),
            Buyer::Unionid(u) => format!("u:{u}"),
            Buyer::Openid(o) => format!("o:{o}"),
        }
    }

    /// For messages: a masked phone, never a WeChat identifier in full.
    pub fn describe(&self) -> String {
        match self {
            Buyer::Phone(p) => format!("phone {}", p.masked()),
            Buyer::Unionid(u) => format!("unionid {}…", u.chars().take(6).collect::<String>()),
            Buyer::Openid(o) => format!("openid {}…", o.chars().take(6).collect::<String>()),
        }
    }
}

/// The buyer of an order, entitlement or progress row: its phone, else its unionid, else its
/// openid.
fn buyer(f: &Fields) -> Result<Buyer, String> {
    if let Some(phone) = phone(f)? {
        return Ok(Buyer::Phone(phone));
    }
    let unionid = id(f, "unionid", false)?;
    if !unionid.is_empty() {
        return Ok(Buyer::Unionid(unionid));
    }
    let openid = id(f, "openid", false)?;
    if !openid.is_empty() {
        return Ok(Buyer::Openid(openid));
    }
    Err("phone: missing (or unionid or openid for a buyer without one)".into())
}

fn flag(f: &Fields, name: &str) -> Result<bool, String> {
    match get(f, name).to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" => Ok(false),
        "1" | "true" | "yes" => Ok(true),
        other => Err(format!("{name}: expected 0 or 1 ({other})")),
    }
}

/// An identifier from the mini program: printable, at most 64 characters.
fn id(f: &Fields, name: &str, required: bool) -> Result<String, String> {
    let value = get(f, name);
    if value.is_empty() {
        return if required { Err(format!("{name}: missing")) } else { Ok(String::new()) };
    }
    if value.chars().count() > 64 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{name}: not an identifier"));
    }
    Ok(value.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub phone: Option<Phone>,
    pub nickname: String,
    pub unionid: String,
    pub openid: String,
    pub created_at: Option<i64>,
}

impl UserRow {
    /// Every way the row names its buyer, the phone first.
    pub fn buyers(&self) -> Vec<Buyer> {
        let mut all = Vec::with_capacity(3);
        if let Some(phone) = &self.phone {
            all.push(Buyer::Phone(phone.clone()));
        }
        if !self.unionid.is_empty() {
            all.push(Buyer::Unionid(self.unionid.clone()));
        }
        if !self.openid.is_empty() {
            all.push(Buyer::Openid(self.openid.clone()));
        }
        all
    }
}

/// A buyer needs a phone, a unionid or an openid; one with only a WeChat identity signs in with
/// WeChat.
pub fn user(f: &Fields) -> Result<UserRow, String> {
    let nickname: String = get(f, "nickname").chars().filter(|c| !c.is_control()).take(20).collect();
    let row = UserRow {
        phone: phone(f)?,
        nickname,
        unionid: id(f, "unionid", false)?,
        openid: id(f, "openid", false)?,
        created_at: optional_time(f, "created_at")?,
    };
    if row.buyers().is_empty() {
        return Err("phone: missing (or unionid or openid for a buyer without one)".into());
    }
    Ok(row)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub product_id: String,
    pub course_slug: String,
}

pub fn mapping(f: &Fields) -> Result<MappingRow, String> {
    let course_slug = get(f, "course_slug").to_string();
    if !super::course_form::is_valid_slug(&course_slug) {
        return Err(format!("course_slug: not a course slug ({course_slug})"));
    }
    Ok(MappingRow { product_id: id(f, "product_id", true)?, course_slug })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportedStatus {
    Paid,
    PartiallyRefunded,
    Refunded,
}

impl ImportedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportedStatus::Paid => "paid",
            ImportedStatus::PartiallyRefunded => "partially_refunded",
            ImportedStatus::Refunded => "refunded",
        }
    }

    /// A full refund takes the course back.
    pub fn grants_access(self) -> bool {
        self != ImportedStatus::Refunded
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub order_id: String,
    pub buyer: Buyer,
    pub product_id: String,
    pub amount: Fen,
    pub refunded: Fen,
    pub paid_at: i64,
    pub provider: String,
    pub transaction_id: String,
    pub status: ImportedStatus,
    /// The cohort (营期) bought, by its name in the shop; empty for none.
    pub cohort: String,
}

/// Only money that arrived is imported: unpaid and cancelled orders stay in the mini program.
pub fn order(f: &Fields) -> Result<OrderRow, String> {
    let amount = Fen::parse_yuan(get(f, "amount")).filter(|a| a.0 >= 0).ok_or("amount: not an amount in yuan")?;
    let refunded = match get(f, "refunded_amount") {
        "" => Fen(0),
        text => Fen::parse_yuan(text).filter(|r| r.0 >= 0).ok_or("refunded_amount: not an amount in yuan")?,
    };
    if refunded > amount {
        return Err("refunded_amount: more than the amount".into());
    }
    let status = match get(f, "status") {
        "" | "paid" if refunded.0 == 0 => ImportedStatus::Paid,
        "" | "paid" | "partially_refunded" if refunded < amount => ImportedStatus::PartiallyRefunded,
        "refunded" => ImportedStatus::Refunded,
        "" | "paid" | "partially_refunded" => ImportedStatus::Refunded,
        other => return Err(format!("status: paid, partially_refunded or refunded, not {other}")),
    };
    let provider = match get(f, "provider") {
        "" => "wechatpay".to_string(),
        p @ ("wechatpay" | "alipay" | "other") => p.to_string(),
        other => return Err(format!("provider: wechatpay, alipay or other, not {other}")),
    };
    Ok(OrderRow {
        order_id: id(f, "order_id", true)?,
        buyer: buyer(f)?,
        product_id: id(f, "product_id", true)?,
        amount,
        refunded: if status == ImportedStatus::Refunded && refunded.0 == 0 { amount } else { refunded },
        paid_at: optional_time(f, "paid_at")?.ok_or("paid_at: missing")?,
        provider,
        transaction_id: id(f, "transaction_id", false)?,
        status,
        cohort: cohort(f)?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitlementRow {
    pub buyer: Buyer,
    pub product_id: String,
    pub granted_at: Option<i64>,
    pub revoked: bool,
    /// The cohort (营期) the learner is in, by its name in the shop; empty for none.
    pub cohort: String,
}

pub fn entitlement(f: &Fields) -> Result<EntitlementRow, String> {
    Ok(EntitlementRow {
        buyer: buyer(f)?,
        product_id: id(f, "product_id", true)?,
        granted_at: optional_time(f, "granted_at")?,
        revoked: flag(f, "revoked")?,
        cohort: cohort(f)?,
    })
}

/// A cohort's name: at most 40 characters (as staff name them), no control characters.
fn cohort(f: &Fields) -> Result<String, String> {
    let name = get(f, "cohort");
    if name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err("cohort: not a cohort name (at most 40 characters)".into());
    }
    Ok(name.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRow {
    pub buyer: Buyer,
    pub product_id: String,
    /// The lesson's place in the course (1 = the first lesson of the first chapter).
    pub lesson_no: usize,
    pub position_secs: i64,
    pub completed: bool,
    pub updated_at: Option<i64>,
}

pub fn progress(f: &Fields) -> Result<ProgressRow, String> {
    let lesson_no =
        get(f, "lesson_no").parse::<usize>().ok().filter(|n| *n >= 1).ok_or("lesson_no: a number from 1")?;
    let position_secs = match get(f, "position_secs") {
        "" => 0,
        text => text
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=24 * 3600).contains(s))
            .ok_or("position_secs: seconds, 0 to 86400")?,
    };
    Ok(ProgressRow {
        buyer: buyer(f)?,
        product_id: id(f, "product_id", true)?,
        lesson_no,
        position_secs,
        completed: flag(f, "completed")?,
        updated_at: optional_time(f, "updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn times_in_the_shapes_exports_use() {
        let t = 1_795_260_600; // 2026-11-21 19:30 Shanghai
        assert_eq!(parse_time("1795260600"), Some(t));
        assert_eq!(parse_time("1795260600000"), Some(t), "milliseconds");
        assert_eq!(parse_time("2026-11-21T11:30:00Z"), Some(t));
        assert_eq!(parse_time("2026-11-21 19:30:00"), Some(t));
        assert_eq!(parse_time("2026-11-21 19:30"), Some(t));
        assert_eq!(parse_time("2026-11-21"), Some(t - 19 * 3600 - 1800));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn orders_derive_their_status_from_refunds() {
        let base =
            [("order_id", "wx123"), ("phone", "13800138000"), ("product_id", "p1"), ("paid_at", "2026-10-01 10:00")];
        let with = |extra: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            order(&fields(&all))
        };
        let paid = with(&[("amount", "199")]).unwrap();
        assert_eq!((paid.status, paid.amount, paid.provider.as_str()), (ImportedStatus::Paid, Fen(19900), "wechatpay"));
        assert_eq!(
            with(&[("amount", "199"), ("refunded_amount", "50")]).unwrap().status,
            ImportedStatus::PartiallyRefunded
        );
        let full = with(&[("amount", "199"), ("status", "refunded")]).unwrap();
        assert_eq!((full.status, full.refunded), (ImportedStatus::Refunded, Fen(19900)), "refunded in full by default");
        assert!(!full.status.grants_access());
        assert!(with(&[("amount", "199"), ("refunded_amount", "200")]).is_err());
        assert!(with(&[("amount", "-1")]).is_err());
        assert!(with(&[("amount", "199"), ("status", "pending")]).is_err(), "unpaid orders are not imported");
        assert!(with(&[("amount", "199"), ("provider", "paypal")]).is_err());
    }

    #[test]
    fn bad_rows_say_which_field() {
        let bad_phone = user(&fields(&[("phone", "12345")])).unwrap_err();
        assert!(bad_phone.starts_with("phone:"), "{bad_phone}");
        let bad_time = user(&fields(&[("phone", "13800138000"), ("created_at", "soon")])).unwrap_err();
        assert!(bad_time.starts_with("created_at:"), "{bad_time}");
        assert!(mapping(&fields(&[("product_id", "p 1"), ("course_slug", "excel")])).is_err());
        assert!(mapping(&fields(&[("product_id", "p1"), ("course_slug", "Excel!")])).is_err());
        let lesson =
            progress(&fields(&[("phone", "13800138000"), ("product_id", "p1"), ("lesson_no", "0")])).unwrap_err();
        assert!(lesson.starts_with("lesson_no:"));
        let ok = progress(&fields(&[
            ("phone", "+86 138 0013 8000"),
            ("product_id", "p1"),
            ("lesson_no", "3"),
            ("position_secs", "95"),
            ("completed", "1"),
        ]))
        .unwrap();
        assert_eq!((ok.lesson_no, ok.position_secs, ok.completed), (3, 95, true));
        assert_eq!(user(&fields(&[("phone", "13800138000"), ("nickname", "小\u{7}明")])).unwrap().nickname, "小明");
    }

    #[test]
    fn a_buyer_without_a_phone_is_known_by_wechat() {
        let only_unionid = user(&fields(&[("unionid", "oU1"), ("openid", "oM1")])).unwrap();
        assert_eq!(only_unionid.phone, None);
        assert_eq!(only_unionid.buyers(), vec![Buyer::Unionid("oU1".into()), Buyer::Openid("oM1".into())]);
        assert!(user(&fields(&[("nickname", "无名")])).unwrap_err().starts_with("phone: missing"));
        let order_of = |pairs: &[(&str, &str)]| {
            let mut all = vec![("order_id", "o1"), ("product_id", "p1"), ("amount", "9.90"), ("paid_at", "2026-10-01")];
            all.extend_from_slice(pairs);
            order(&fields(&all)).map(|o| o.buyer)
        };
        assert_eq!(order_of(&[("openid", "oM1")]), Ok(Buyer::Openid("oM1".into())));
        assert_eq!(order_of(&[("openid", "oM1"), ("unionid", "oU1")]), Ok(Buyer::Unionid("oU1".into())));
        assert_eq!(
            order_of(&[("unionid", "oU1"), ("phone", "13800138000")]),
            Ok(Buyer::Phone(Phone::parse("13800138000").unwrap()))
        );
        assert!(order_of(&[]).unwrap_err().starts_with("phone: missing"));
        assert!(order_of(&[("unionid", "has space")]).unwrap_err().starts_with("unionid:"));
        assert_ne!(Buyer::Unionid("x".into()).key(), Buyer::Openid("x".into()).key());
        assert!(!Buyer::Unionid("oU1234567890".into()).describe().contains("7890"), "never in full");
    }
}
