//! Receipts that prove themselves: a code signed over what the receipt states, so the public
//! verify page can confirm a printed or screenshotted receipt without trusting its bearer.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What a receipt states, and so what its code binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stated<'a> {
    pub order_no: &'a str,
    pub buyer_id: i64,
    pub amount_fen: i64,
    pub paid_at: i64,
}

/// 96 bits: short enough for a small QR code, far beyond guessing through a web page.
const CODE_BYTES: usize = 12;

/// The receipt's code: 24 lowercase hex characters.
pub fn code(key: &[u8], stated: &Stated) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(
        format!("receipt|v1|{}|{}|{}|{}", stated.order_no, stated.buyer_id, stated.amount_fen, stated.paid_at)
            .as_bytes(),
    );
    hex::encode(&mac.finalize().into_bytes()[..CODE_BYTES])
}

/// Whether `presented` is the code of exactly these facts.
pub fn genuine(key: &[u8], stated: &Stated, presented: &str) -> bool {
    presented.len() == CODE_BYTES * 2 && bool::from(code(key, stated).as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a receipt key of thirty-two bytes";

    fn stated() -> Stated<'static> {
        Stated { order_no: "KD20261205000001", buyer_id: 7, amount_fen: 9900, paid_at: 1_796_000_000 }
    }

    #[test]
    fn the_code_confirms_its_own_receipt() {
        let code = code(KEY, &stated());
        assert_eq!(code.len(), 24);
        assert!(genuine(KEY, &stated(), &code));
    }

    #[test]
    fn any_changed_fact_or_key_breaks_it() {
        let code = code(KEY, &stated());
        let s = stated();
        for changed in [
            Stated { order_no: "KD20261205000002", ..s },
            Stated { buyer_id: 8, ..s },
            Stated { amount_fen: 990, ..s },
            Stated { paid_at: s.paid_at + 1, ..s },
        ] {
            assert!(!genuine(KEY, &changed, &code), "{changed:?}");
        }
        assert!(!genuine(b"another key entirely, also long", &s, &code));
    }

    #[test]
    fn forged_shapes_are_refused() {
        let code = code(KEY, &stated());
        assert!(!genuine(KEY, &stated(), ""));
        assert!(!genuine(KEY, &stated(), &code[..23]));
        assert!(!genuine(KEY, &stated(), &format!("{code}0")));
        assert!(!genuine(KEY, &stated(), &code.to_uppercase()));
        assert!(!genuine(KEY, &stated(), "000000000000000000000000"));
    }
}
