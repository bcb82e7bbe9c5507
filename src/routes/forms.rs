//! Field errors shown beside form fields.

use crate::domain::UserId;
use crate::domain::phone::PhoneError;
use crate::domain::text::TextError;
use crate::i18n::Lang;

#[derive(Default)]
pub struct FieldErrors {
    errors: Vec<(&'static str, String)>,
}

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_empty() {
            self.errors.push((field, message.into()));
        }
    }

    /// The message for `field`, or "" (templates test `!is_empty()`).
    pub fn get(&self, field: &str) -> &str {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str()).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

pub fn phone_error(lang: Lang, e: PhoneError) -> &'static str {
    match e {
        PhoneError::Empty => lang.t("err_phone_empty"),
        PhoneError::Invalid => lang.t("err_phone_invalid"),
    }
}

/// What a refused SMS code says beside the code field (an internal failure is passed on).
pub fn code_error(lang: Lang, e: crate::auth::codes::CodeError) -> Result<String, crate::error::AppError> {
    use crate::auth::codes::CodeError;
    Ok(match e {
        CodeError::NotSent => lang.t("err_code_not_sent").to_string(),
        CodeError::Expired => lang.t("err_code_expired").to_string(),
        CodeError::Burned | CodeError::RateLimited(_) | CodeError::HumanCheck => lang.t("err_code_burned").to_string(),
        CodeError::Wrong(left) => lang.tf("err_code_wrong", &[("n", &left.to_string())]),
        CodeError::NotDelivered => lang.t("err_sms_not_delivered").to_string(),
        CodeError::Internal(e) => return Err(crate::error::AppError::Internal(e)),
    })
}

pub fn code_format_error(lang: Lang, e: TextError) -> &'static str {
    match e {
        TextError::Empty => lang.t("err_code_empty"),
        _ => lang.t("err_code_format"),
    }
}

pub fn password_error(lang: Lang, e: TextError) -> &'static str {
    match e {
        TextError::Empty => lang.t("err_password_empty"),
        TextError::TooShort => lang.t("err_password_short"),
        TextError::TooLong => lang.t("err_password_long"),
        TextError::Invalid => lang.t("err_password_invalid"),
    }
}

pub fn nickname_error(lang: Lang, e: TextError) -> &'static str {
    match e {
        TextError::Empty => lang.t("err_nickname_empty"),
        TextError::TooLong => lang.t("err_nickname_long"),
        _ => lang.t("err_nickname_invalid"),
    }
}

/// Runs the keyword filter on a learner's text: a rejecting word becomes the field's error; a
/// holding word is returned, for the caller to record once the text is saved.
pub fn screen(
    state: &crate::web::AppState,
    lang: Lang,
    text: &str,
    field: &'static str,
    errors: &mut FieldErrors,
) -> Option<String> {
    use crate::domain::moderation::Verdict;
    match state.screen.check(text) {
        Verdict::Pass => None,
        Verdict::Hold(word) => Some(word),
        Verdict::Reject(word) => {
            errors.add(field, lang.tf("err_keyword", &[("word", &word)]));
            None
        }
    }
}

/// Lists held text for staff to read.
pub async fn record_held(
    state: &crate::web::AppState,
    user_id: UserId,
    kind: crate::domain::moderation::HeldKind,
    text: &str,
    word: Option<String>,
    link: &str,
) -> Result<(), sqlx::Error> {
    let Some(matched) = word else { return Ok(()) };
    let item = crate::store::moderation::NewItem { user_id, kind, text, matched: &matched, link };
    tracing::info!(%user_id, %kind, "text held for review");
    crate::store::moderation::hold(&state.db, &item, crate::domain::time::now()).await
}
