//! 发票 requests: the title a learner asks for, the tax number of a company checked (the unified
//! social credit code's check digit, GB 32100-2015), and the amount an invoice can be for.

use super::Fen;
use super::course_form::FieldError;

super::words::stored_word! {
    /// Whose name the invoice is in.
    pub enum TitleKind {
        Personal => "personal",
        Company => "company",
    }
}

super::words::stored_word! {
    pub enum InvoiceStatus {
        /// Asked for; staff have not issued it yet.
        Requested => "requested",
        Issued => "issued",
    }
}

impl TitleKind {
    pub fn label_key(self) -> &'static str {
        match self {
            TitleKind::Personal => "invoice_personal",
            TitleKind::Company => "invoice_company",
        }
    }
}

impl InvoiceStatus {
    pub fn label_key(self) -> &'static str {
        match self {
            InvoiceStatus::Requested => "invoice_requested",
            InvoiceStatus::Issued => "invoice_issued",
        }
    }
}

/// The characters of a unified social credit code (no I, O, S, V, Z), in the order of their values.
const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A company's tax number: the 18-character unified social credit code with its check digit
/// right, or an older 15, 17 or 20 character taxpayer number (letters and digits). In capitals.
pub fn tax_number(input: &str) -> Option<String> {
    let number: String = input.trim().to_ascii_uppercase();
    if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match number.len() {
        15 | 17 | 20 => Some(number),
        18 => uscc_valid(number.as_bytes()).then_some(number),
        _ => None,
    }
}

fn uscc_valid(code: &[u8]) -> bool {
    let value = |b: &u8| USCC_CHARS.iter().position(|c| c == b).and_then(|p| u32::try_from(p).ok());
    let Some(values) = code.iter().map(value).collect::<Option<Vec<u32>>>() else { return false };
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    values.get(17) == Some(&check)
}

/// An invoice number as staff may type it (a 数电票 number, or empty when only the PDF is given):
/// at most 40 letters and digits.
pub fn number_ok(number: &str) -> bool {
    number.chars().count() <= 40 && number.chars().all(|c| c.is_ascii_alphanumeric())
}

/// What an invoice can be for: what was paid less what was refunded.
pub fn invoice_amount(paid: Fen, refunded: Fen) -> Fen {
    Fen((paid.0 - refunded.0).max(0))
}

/// The request form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawInvoice {
    pub title_kind: String,
    pub title: String,
    pub tax_number: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceInput {
    pub title_kind: TitleKind,
    pub title: String,
    /// Empty for a personal title.
    pub tax_number: String,
    pub email: String,
}

pub fn parse_request(raw: &RawInvoice) -> Result<InvoiceInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let title_kind = TitleKind::parse(raw.title_kind.trim());
    if title_kind.is_none() {
        errors.push(("title_kind", "err_invoice_kind"));
    }
    let title = raw.title.trim().to_string();
    if title.is_empty() {
        errors.push(("title", "err_required"));
    } else if title.chars().count() > 100 {
        errors.push(("title", "err_too_long"));
    } else if title.chars().any(char::is_control) {
        errors.push(("title", "err_invalid_chars"));
    }
    let tax = match title_kind {
        Some(TitleKind::Company) => {
            let number = tax_number(&raw.tax_number);
            if number.is_none() {
                errors.push(("tax_number", "err_tax_number"));
            }
            number
        }
        _ => Some(String::new()),
    };
    let email = raw.email.trim().to_string();
    if !looks_like_email(&email) {
        errors.push(("email", "err_email"));
    }
    match (title_kind, tax) {
        (Some(title_kind), Some(tax_number)) if errors.is_empty() => {
            Ok(InvoiceInput { title_kind, title, tax_number, email })
        }
        _ => Err(errors),
    }
}

/// Enough of an address to deliver to: one `@`, something before it, a dotted domain after it,
/// no spaces, at most 254 characters.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_numbers_are_up_to_forty_letters_and_digits() {
        assert!(number_ok("") && number_ok("24352000000012345678") && number_ok(&"9".repeat(40)));
        assert!(!number_ok(&"9".repeat(41)) && !number_ok("2435 2000") && !number_ok("发票1") && !number_ok("A-1"));
    }

    #[test]
    fn unified_social_credit_codes() {
        // The standard's worked example, and codes made with its check digit.
        for good in ["91350100M000100Y43", "91110000600037341L", "12100000400000304A", "52440300MJL179000Q"] {
            assert_eq!(tax_number(good), Some(good.to_string()), "{good}");
        }
        assert_eq!(tax_number(" 91350100m000100y43 "), Some("91350100M000100Y43".into()), "trimmed, in capitals");
        assert_eq!(tax_number("91350100M000100Y44"), None, "a wrong check digit");
        assert_eq!(tax_number("91350100M000100Y4Z"), None, "Z is never a check digit");
        assert_eq!(tax_number("91350100M0001O0Y43"), None, "O is not in the code's alphabet");
        assert_eq!(tax_number("91350100M000100Y4"), Some("91350100M000100Y4".into()), "17: an older number");
    }

    #[test]
    fn older_numbers_and_lengths() {
        assert!(tax_number("110105123456789").is_some(), "15");
        assert!(tax_number("11010512345678901234").is_some(), "20");
        for bad in [
            "",
            "1101051234567",
            "1101051234567890",
            "110105123456789012345",
            "110105-23456789",
            "１１０１０５１２３４５６７８９",
        ] {
            assert_eq!(tax_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(invoice_amount(Fen(19900), Fen(0)), Fen(19900));
        assert_eq!(invoice_amount(Fen(19900), Fen(5000)), Fen(14900));
        assert_eq!(invoice_amount(Fen(19900), Fen(19900)), Fen(0));
        assert_eq!(invoice_amount(Fen(100), Fen(200)), Fen(0), "never below zero");
    }

    fn fields(raw: RawInvoice) -> Vec<&'static str> {
        parse_request(&raw).err().unwrap_or_default().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn the_request_form() {
        let person = RawInvoice {
            title_kind: "personal".into(),
            title: " 张三 ".into(),
            tax_number: "ignored".into(),
            email: "zhangsan@example.com".into(),
        };
        assert_eq!(
            parse_request(&person),
            Ok(InvoiceInput {
                title_kind: TitleKind::Personal,
                title: "张三".into(),
                tax_number: String::new(),
                email: "zhangsan@example.com".into()
            })
        );
        let company = RawInvoice {
            title_kind: "company".into(),
            title: "某某科技有限公司".into(),
            tax_number: "91350100M000100Y43".into(),
            ..person.clone()
        };
        assert!(parse_request(&company).is_ok());
        assert_eq!(fields(RawInvoice { tax_number: "91350100M000100Y44".into(), ..company.clone() }), ["tax_number"]);
        assert_eq!(fields(RawInvoice { tax_number: String::new(), ..company }), ["tax_number"]);
        assert_eq!(fields(RawInvoice { title_kind: "both".into(), ..person.clone() }), ["title_kind"]);
        assert_eq!(fields(RawInvoice { title: "公".repeat(101), ..person.clone() }), ["title"]);
        for bad in ["", "a", "a@b", "@b.cn", "a b@c.cn", "a@.cn", "a@b.cn.", "a@b@c.cn"] {
            assert_eq!(fields(RawInvoice { email: bad.into(), ..person.clone() }), ["email"], "{bad:?}");
        }
        assert_eq!(fields(RawInvoice::default()), ["title_kind", "title", "email"]);
    }
}
