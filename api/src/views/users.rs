//! §3 UserBasic and the service's own "System" actor (§5 #19).

use common::accounts::users::User;
use serde::Serialize;
use utoipa::ToSchema;

/// §3 UserBasic: `name` is first+" "+last, else either, else the username.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserBasic {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// The same as `phone_number` (the admin app reads `phone`).
    pub phone: Option<String>,
    /// Display name.
    pub name: String,
    /// `user`, `customer`, `staff` or `admin`.
    pub role: String,
    /// Email (may be empty).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
}

/// The display name of a user: first+" "+last, else either, else the username.
pub fn display_name(username: &str, first_name: &str, last_name: &str) -> String {
    match (first_name.trim(), last_name.trim()) {
        ("", "") => username.to_string(),
        (f, "") => f.to_string(),
        ("", l) => l.to_string(),
        (f, l) => format!("{f} {l}"),
    }
}

impl From<&User> for UserBasic {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            phone_number: u.phone_number.clone(),
            phone: u.phone_number.clone(),
            name: display_name(&u.username, &u.first_name, &u.last_name),
            role: u.role.clone(),
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
        }
    }
}

/// The actor of a change the service made itself (payment, webhook, sweep, checklist
/// progress): `{"id": null, "username": "system", "name": "System", …}` (§5 #19).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemUser {
    /// Always null.
    pub id: Option<i64>,
    /// `system`.
    pub username: &'static str,
    /// `System`.
    pub name: &'static str,
    /// Null.
    pub phone: Option<String>,
    /// Null.
    pub phone_number: Option<String>,
    /// Empty.
    pub email: &'static str,
    /// `System`.
    pub first_name: &'static str,
    /// Empty.
    pub last_name: &'static str,
}

impl SystemUser {
    /// The System actor.
    pub fn new() -> Self {
        Self {
            id: None,
            username: "system",
            name: "System",
            phone: None,
            phone_number: None,
            email: "",
            first_name: "System",
            last_name: "",
        }
    }
}

impl Default for SystemUser {
    fn default() -> Self {
        Self::new()
    }
}

/// Who made a change: a user, or the service itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UserBasicOrSystem {
    /// A user.
    User(UserBasic),
    /// The service.
    System(SystemUser),
}
