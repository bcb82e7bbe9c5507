//! Versioned agreements: the user agreement (accepted by signing in, asked again when a new
//! version is published) and the purchase agreement (accepted by paying, recorded on the order).

use super::course_form::FieldError;

super::words::stored_word! {
    pub enum AgreementKind {
        User => "user",
        Purchase => "purchase",
    }
}

impl AgreementKind {
    pub fn label_key(self) -> &'static str {
        match self {
            AgreementKind::User => "agreement_user",
            AgreementKind::Purchase => "agreement_purchase",
        }
    }
}

/// A signed-in account must be asked: a user agreement is published and the account accepted
/// an older version, or none.
pub fn must_ask(agreed_version: i64, current: Option<i64>) -> bool {
    current.is_some_and(|v| v > agreed_version)
}

/// The publish form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawAgreement {
    pub kind: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementInput {
    pub kind: AgreementKind,
    pub title: String,
    pub body: String,
}

/// The longest text an agreement may have (characters of Markdown).
pub const MAX_BODY: usize = 50_000;

pub fn parse_agreement(raw: &RawAgreement) -> Result<AgreementInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let kind = AgreementKind::parse(raw.kind.trim());
    if kind.is_none() {
        errors.push(("kind", "err_agreement_kind"));
    }
    let title = raw.title.trim().to_string();
    if title.is_empty() {
        errors.push(("title", "err_required"));
    } else if title.chars().count() > 60 {
        errors.push(("title", "err_too_long"));
    } else if title.chars().any(char::is_control) {
        errors.push(("title", "err_invalid_chars"));
    }
    let body = raw.body.trim().replace("\r\n", "\n");
    if body.is_empty() {
        errors.push(("body", "err_required"));
    } else if body.chars().count() > MAX_BODY {
        errors.push(("body", "err_too_long"));
    }
    match kind {
        Some(kind) if errors.is_empty() => Ok(AgreementInput { kind, title, body }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_again() {
        assert!(!must_ask(0, None), "nothing published: nothing to ask");
        assert!(must_ask(0, Some(1)), "never accepted");
        assert!(!must_ask(1, Some(1)));
        assert!(must_ask(1, Some(2)), "a newer version");
        assert!(!must_ask(3, Some(2)), "never backwards");
    }

    #[test]
    fn the_publish_form() {
        let raw =
            RawAgreement {
                kind: "purchase".into(), title: " 购买协议 ".into(), body: "第一条\r\n第二条 ".into()
            };
        assert_eq!(
            parse_agreement(&raw),
            Ok(AgreementInput {
                kind: AgreementKind::Purchase,
                title: "购买协议".into(),
                body: "第一条\n第二条".into()
            })
        );
        let fields = |r: RawAgreement| {
            parse_agreement(&r).err().unwrap_or_default().into_iter().map(|(f, _)| f).collect::<Vec<_>>()
        };
        assert_eq!(fields(RawAgreement { kind: "privacy".into(), ..raw.clone() }), ["kind"]);
        assert_eq!(fields(RawAgreement { title: "协".repeat(61), ..raw.clone() }), ["title"]);
        assert_eq!(fields(RawAgreement { body: "条".repeat(MAX_BODY + 1), ..raw.clone() }), ["body"]);
        assert_eq!(fields(RawAgreement { body: "条".repeat(MAX_BODY), ..raw.clone() }), Vec::<&str>::new());
        assert_eq!(fields(RawAgreement::default()), ["kind", "title", "body"]);
    }
}
