//! Response shapes shared by several route modules (API.md §3).

use common::accounts::users::User;
use serde::Serialize;
use utoipa::ToSchema;

/// §3 User.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// `user`, `staff`, `admin` or `customer`.
    pub role: String,
    /// Asia/Kolkata, microseconds.
    pub created_at: String,
    /// Orders placed (0 outside the admin user list).
    pub order_count: i64,
}

impl UserOut {
    /// Renders a user with the given order count.
    pub fn from_user(user: &User, order_count: i64) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            phone_number: user.phone_number.clone(),
            role: user.role.clone(),
            created_at: common::time::ist(user.created_at),
            order_count,
        }
    }
}

/// The address trimmed, when it is a valid email of at most 254 characters.
pub fn valid_email(raw: &str) -> Option<String> {
    let e = raw.trim();
    (e.len() <= 254 && email_address::EmailAddress::is_valid(e) && e.contains('.')).then(|| e.to_string())
}

/// §3 UserBasic.
pub fn user_basic(u: &User) -> serde_json::Value {
    basic_json(u.id, &u.username, u.phone_number.as_deref(), &u.first_name, &u.last_name, &u.email, &u.role)
}

/// §3 UserBasic from its parts: `name` is first+" "+last, else either, else the username.
pub fn basic_json(
    id: i64,
    username: &str,
    phone: Option<&str>,
    first_name: &str,
    last_name: &str,
    email: &str,
    role: &str,
) -> serde_json::Value {
    let name = match (first_name.trim(), last_name.trim()) {
        ("", "") => username.to_string(),
        (f, "") => f.to_string(),
        ("", l) => l.to_string(),
        (f, l) => format!("{f} {l}"),
    };
    serde_json::json!({
        "id": id,
        "username": username,
        "phone_number": phone,
        "phone": phone,
        "name": name,
        "role": role,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
    })
}

/// The UserBasic of a change the service made itself (§5 #19).
pub fn system_user() -> serde_json::Value {
    serde_json::json!({
        "id": null, "username": "system", "name": "System", "phone": null, "phone_number": null,
        "email": "", "first_name": "System", "last_name": "",
    })
}
