//! The account shapes of API.md §3 (User, UserBasic, Staff), the answers that carry one, and the
//! service's own "System" actor (§5 #19).

use common::accounts::users::{StaffWithLoad, User as Account, UserWithOrders};
use serde::Serialize;
use utoipa::ToSchema;

/// §3 User: what `me/`, sign-in and the admin's user list show of an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
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

impl User {
    /// The account with its number of orders.
    fn with_orders(u: &Account, order_count: i64) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            phone_number: u.phone_number.clone(),
            role: u.role.clone(),
            created_at: common::time::ist(u.created_at),
            order_count,
        }
    }
}

impl From<&Account> for User {
    /// Outside the admin list `order_count` is 0, as in the original.
    fn from(u: &Account) -> Self {
        Self::with_orders(u, 0)
    }
}

impl From<&UserWithOrders> for User {
    fn from(row: &UserWithOrders) -> Self {
        Self::with_orders(&row.user, row.order_count)
    }
}

/// `{success: true, message, user}` of the admin's account changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserEnvelope {
    /// Always `true`.
    pub success: bool,
    /// What was done.
    pub message: String,
    /// The account as it is now.
    pub user: User,
}

impl UserEnvelope {
    /// `{success: true, message, user}`.
    pub fn new(message: impl Into<String>, user: &Account) -> Self {
        Self { success: true, message: message.into(), user: User::from(user) }
    }
}

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

impl UserBasic {
    /// From the columns of a user, however they were loaded.
    pub fn new(
        id: i64,
        username: &str,
        phone_number: Option<&str>,
        first_name: &str,
        last_name: &str,
        email: &str,
        role: &str,
    ) -> Self {
        Self {
            id,
            username: username.to_string(),
            phone_number: phone_number.map(str::to_string),
            phone: phone_number.map(str::to_string),
            name: display_name(username, first_name, last_name),
            role: role.to_string(),
            email: email.to_string(),
            first_name: first_name.to_string(),
            last_name: last_name.to_string(),
        }
    }
}

impl From<&Account> for UserBasic {
    fn from(u: &Account) -> Self {
        Self::new(u.id, &u.username, u.phone_number.as_deref(), &u.first_name, &u.last_name, &u.email, &u.role)
    }
}

/// §3 Staff: UserBasic without `role`, with the open assignments and the creation time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Staff {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// The same as `phone_number`.
    pub phone: Option<String>,
    /// Display name.
    pub name: String,
    /// Email (may be empty).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Their orders in `assigned` or `in_progress`.
    pub assigned_orders_count: i64,
    /// Asia/Kolkata, microseconds.
    pub created_at: String,
}

impl From<&StaffWithLoad> for Staff {
    fn from(row: &StaffWithLoad) -> Self {
        let UserBasic { id, username, phone_number, phone, name, role: _, email, first_name, last_name } =
            UserBasic::from(&row.user);
        Self {
            id,
            username,
            phone_number,
            phone,
            name,
            email,
            first_name,
            last_name,
            assigned_orders_count: row.assigned_orders_count,
            created_at: common::time::ist(row.user.created_at),
        }
    }
}

/// The actor of a change the service made itself (payment, webhook, sweep, checklist
/// progress): `{"id": null, "username": "system", "name": "System", …}` (§5 #19).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemUser {
    /// Always null (what tells it from a [`UserBasic`]).
    #[schema(schema_with = always_null, required = true)]
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

/// `{"type": "null"}`: the System actor's `id`.
fn always_null() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .description(Some("Always null (what tells it from a user)."))
        .build()
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
