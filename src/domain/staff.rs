//! Staff roles and what each may do, and the staff session's lifetime rule.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Learner,
    Admin,
    Operator,
    Support,
}

/// An area of the back office as a type (`area::Orders`), for a guard that takes its area as a
/// type parameter (`routes::admin::gate::Staff<area::Orders>`).
pub trait Guarded {
    const AREA: Area;
}

/// `Area`, and one type per area in `area`, from one list.
macro_rules! areas {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// The parts of the back office; each admin route belongs to exactly one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Area {
            $($(#[$doc])* $name),*
        }

        /// One type per `Area`.
        pub mod area {
            $(
                pub struct $name;
                impl super::Guarded for $name {
                    const AREA: super::Area = super::Area::$name;
                }
            )*
        }
    };
}

areas!(
    /// The dashboard: every staff member.
    Dashboard,
    Catalog,
    Announcements,
    Statistics,
    Orders,
    Refunds,
    Complaints,
    Users,
    /// Distributors, their commissions and payouts.
    Distribution,
    /// Staff accounts, the audit log and shop settings.
    Administration,
);

impl Role {
    pub const STAFF: [Role; 3] = [Role::Admin, Role::Operator, Role::Support];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Support => "support",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "learner" => Some(Role::Learner),
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "support" => Some(Role::Support),
            _ => None,
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Role::Learner => "role_learner",
            Role::Admin => "role_admin",
            Role::Operator => "role_operator",
            Role::Support => "role_support",
        }
    }

    pub fn is_staff(self) -> bool {
        self != Role::Learner
    }

    /// Admin: everything. Operator: catalog, announcements, statistics. Support: orders, refunds,
    /// complaints, users.
    pub fn may(self, area: Area) -> bool {
        match self {
            Role::Learner => false,
            Role::Admin => true,
            Role::Operator => matches!(area, Area::Dashboard | Area::Catalog | Area::Announcements | Area::Statistics),
            Role::Support => {
                matches!(
                    area,
                    Area::Dashboard
                        | Area::Orders
                        | Area::Refunds
                        | Area::Complaints
                        | Area::Users
                        | Area::Distribution
                )
            }
        }
    }
}

/// What an account may still do: muted accounts cannot post public text; banned ones cannot
/// log in at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Muted,
    Banned,
    /// Deleted by its owner: anonymized, never signed in again. Not a status staff can set.
    Deleted,
}

impl AccountStatus {
    /// The statuses staff can choose.
    pub const ALL: [AccountStatus; 3] = [AccountStatus::Active, AccountStatus::Muted, AccountStatus::Banned];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Muted => "muted",
            AccountStatus::Banned => "banned",
            AccountStatus::Deleted => "deleted",
        }
    }

    /// A status staff chose (never `deleted`).
    pub fn parse(value: &str) -> Option<AccountStatus> {
        AccountStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// A status as stored: any of them.
    pub fn from_stored(value: &str) -> AccountStatus {
        if value == AccountStatus::Deleted.as_str() {
            return AccountStatus::Deleted;
        }
        AccountStatus::parse(value).unwrap_or(AccountStatus::Active)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            AccountStatus::Active => "account_active",
            AccountStatus::Muted => "account_muted",
            AccountStatus::Banned => "account_banned",
            AccountStatus::Deleted => "account_deleted",
        }
    }
}

/// A staff session lasts 12 hours from sign-in, and ends after 30 minutes without a request.
pub const STAFF_SESSION_SECS: i64 = 12 * 3600;
pub const STAFF_IDLE_SECS: i64 = 30 * 60;

pub fn staff_session_alive(signed_in_at: i64, last_seen_at: i64, now: i64) -> bool {
    now - signed_in_at < STAFF_SESSION_SECS && now - last_seen_at < STAFF_IDLE_SECS
}

/// Recovery codes are typed by hand: case, spaces and dashes do not matter.
pub fn normalize_recovery_code(input: &str) -> String {
    input.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The back office's menu: each page, its label and the area whose role opens it. The menu
/// shows a staff member the pages their role covers; the role test checks each page's handler
/// guards the same area.
pub const BACK_OFFICE_MENU: [(&str, &str, Area); 27] = [
    ("/admin", "admin_overview", Area::Dashboard),
    ("/admin/orders", "admin_orders", Area::Orders),
    ("/admin/refunds", "admin_refunds", Area::Refunds),
    ("/admin/invoices", "admin_invoices", Area::Orders),
    ("/admin/complaints", "admin_complaints", Area::Complaints),
    ("/admin/users", "admin_users_nav", Area::Users),
    ("/admin/content", "admin_content", Area::Users),
    ("/admin/reviews", "admin_reviews", Area::Users),
    ("/admin/members", "admin_members", Area::Users),
    ("/admin/checkins", "admin_checkins", Area::Users),
    ("/admin/homework", "admin_homework", Area::Catalog),
    ("/admin/questions", "admin_questions", Area::Catalog),
    ("/admin/distributors", "admin_distributors", Area::Distribution),
    ("/admin/courses", "admin_catalog", Area::Catalog),
    ("/admin/coupons", "admin_coupons", Area::Catalog),
    ("/admin/redeem", "admin_redeem", Area::Catalog),
    ("/admin/announcements", "admin_announcements", Area::Announcements),
    ("/admin/broadcast", "admin_broadcast", Area::Announcements),
    ("/admin/sms", "admin_sms", Area::Announcements),
    ("/admin/takedown", "admin_takedown", Area::Announcements),
    ("/admin/stats", "admin_stats", Area::Statistics),
    ("/admin/staff", "admin_staff", Area::Administration),
    ("/admin/settings", "admin_settings", Area::Administration),
    ("/admin/agreements", "admin_agreements", Area::Administration),
    ("/admin/import", "admin_import", Area::Administration),
    ("/admin/switchover", "admin_switchover", Area::Administration),
    ("/admin/audit", "admin_audit", Area::Administration),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_reach_their_areas_only() {
        use Area::*;
        let all = [Dashboard, Catalog, Announcements, Statistics, Orders, Refunds, Complaints, Users, Administration];
        assert!(all.iter().all(|a| Role::Admin.may(*a)));
        assert!(all.iter().all(|a| !Role::Learner.may(*a)));
        let operator: Vec<Area> = all.iter().copied().filter(|a| Role::Operator.may(*a)).collect();
        assert_eq!(operator, vec![Dashboard, Catalog, Announcements, Statistics]);
        let support: Vec<Area> = all.iter().copied().filter(|a| Role::Support.may(*a)).collect();
        assert_eq!(support, vec![Dashboard, Orders, Refunds, Complaints, Users]);
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Learner, Role::Admin, Role::Operator, Role::Support] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(Role::STAFF.iter().all(|r| r.is_staff()));
    }

    #[test]
    fn staff_sessions_end_after_12_hours_or_30_idle_minutes() {
        let t = 1_000_000;
        assert!(staff_session_alive(t, t, t));
        assert!(staff_session_alive(t, t + 11 * 3600, t + 11 * 3600 + 29 * 60));
        assert!(!staff_session_alive(t, t, t + 30 * 60), "30 idle minutes end it");
        assert!(staff_session_alive(t, t + 60, t + 60 + 30 * 60 - 1));
        assert!(!staff_session_alive(t, t + 12 * 3600 - 1, t + 12 * 3600), "12 hours end it, busy or not");
    }

    #[test]
    fn recovery_codes_forgive_typing() {
        assert_eq!(normalize_recovery_code(" AB12-cd34 ef "), "ab12cd34ef");
        assert_eq!(normalize_recovery_code("——"), "");
    }
}
