//! Who may enter the back office: a staff account, signed in with both factors less than 12 hours
//! ago and active in the last 30 minutes, whose role covers the area. Also the audit helper every
//! mutating staff handler calls.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde_json::Value;

pub use crate::domain::staff::area;
use crate::domain::staff::{Area, Guarded, staff_session_alive};
use crate::domain::time::now;
use crate::error::AppError;
use crate::store::audit::{self, NewEntry};
use crate::store::users::User;
use crate::web::{AppState, PageContext, client_ip};

/// The signed-in staff member allowed into the area `A`, with the page context: every back-office
/// handler takes one as its first argument, so the guard runs before the form or the path is read.
pub struct Staff<A>(pub PageContext, pub User, pub PhantomData<A>);

impl<A: Guarded + 'static> FromRequest for Staff<A> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        PageContext::then(req, payload, |ctx| {
            let user = gate(&ctx, A::AREA)?;
            Ok(Staff(ctx, user, PhantomData))
        })
    }
}

/// The staff member; else a sign-in redirect to the staff sign-in page (`AppError::SignIn`).
/// Learners and staff outside their role get 403.
fn gate(ctx: &PageContext, area: Area) -> Result<User, AppError> {
    let Some(user) = &ctx.user else {
        return Err(AppError::SignIn(staff_login_href(&ctx.path)));
    };
    if !user.is_staff() {
        return Err(AppError::Forbidden);
    }
    let typed = ctx.typed_session();
    let now = now();
    match typed.staff_times() {
        Some((at, seen)) if staff_session_alive(at, seen, now) => {}
        Some(_) => {
            // Expired: the whole session ends, not only its staff part.
            typed.log_out();
            return Err(AppError::SignIn(format!("{}&expired=1", staff_login_href(&ctx.path))));
        }
        None => return Err(AppError::SignIn(staff_login_href(&ctx.path))),
    }
    if !user.role.may(area) {
        return Err(AppError::Forbidden);
    }
    typed.touch_staff(now)?;
    Ok(user.clone())
}

pub fn staff_login_href(next: &str) -> String {
    let next = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    format!("/admin/login?{next}")
}

/// One change, for the audit log.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub before: Value,
    pub after: Value,
    pub note: &'a str,
}

pub async fn audit(state: &AppState, req: &HttpRequest, staff: &User, change: Change<'_>) -> Result<(), AppError> {
    let ip = client_ip(req, state.settings.trust_forwarded);
    let entry = NewEntry {
        staff_id: staff.id,
        action: change.action,
        target_type: change.target_type,
        target_id: &change.target_id,
        before: change.before,
        after: change.after,
        note: change.note,
        ip: &ip,
    };
    audit::record(&state.db, entry, now()).await?;
    tracing::info!(staff = %staff.id, action = change.action, target = %change.target_id, "staff change");
    Ok(())
}

/// `…/{id}/disable` or `…/{id}/enable`: a thing staff switch off, or on again.
#[derive(serde::Deserialize)]
pub struct SwitchPath<Id> {
    pub id: Id,
    to: String,
}

impl<Id> SwitchPath<Id> {
    /// True to switch off; any other word than the two is a 404.
    pub fn off(&self) -> Result<bool, AppError> {
        match self.to.as_str() {
            "disable" => Ok(true),
            "enable" => Ok(false),
            _ => Err(AppError::NotFound),
        }
    }
}

/// The audit entry of a switch: `actions` are (off, on).
pub fn switch_change<'a>(
    actions: (&'a str, &'a str),
    target_type: &'a str,
    target_id: String,
    off: bool,
) -> Change<'a> {
    Change {
        action: if off { actions.0 } else { actions.1 },
        target_type,
        target_id,
        before: serde_json::json!({ "disabled": !off }),
        after: serde_json::json!({ "disabled": off }),
        note: "",
    }
}
