//! User roles.

use std::fmt;

/// `users.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A customer who signed up.
    User,
    /// Staff who deliver orders.
    Staff,
    /// Administrators.
    Admin,
    /// A customer created by a manual order (no usable password).
    Customer,
}

impl Role {
    /// Parses the stored or requested value.
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "user" => Some(Role::User),
            "staff" => Some(Role::Staff),
            "admin" => Some(Role::Admin),
            "customer" => Some(Role::Customer),
            _ => None,
        }
    }

    /// Roles an admin may assign through `users/create/` and `users/{id}/role/`.
    pub fn assignable(value: &str) -> Option<Role> {
        Role::parse(value).filter(|r| *r != Role::Customer)
    }

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Staff => "staff",
            Role::Admin => "admin",
            Role::Customer => "customer",
        }
    }

    /// Staff or admin.
    pub fn is_staff_or_admin(self) -> bool {
        matches!(self, Role::Staff | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
