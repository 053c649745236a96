//! JSON forms of the account views for route modules that still build their bodies as
//! `serde_json::Value`; the shapes themselves are the typed views of [`crate::views::users`].

use common::accounts::users::User;
use serde::Serialize;
use serde_json::Value;

use crate::views::UserBasic;
use crate::views::users::{SystemUser, display_name};

/// The address trimmed, when it is a valid email of at most 254 characters.
pub fn valid_email(raw: &str) -> Option<String> {
    let e = raw.trim();
    (e.len() <= 254 && email_address::EmailAddress::is_valid(e) && e.contains('.')).then(|| e.to_string())
}

fn json(view: impl Serialize) -> Value {
    // A struct of strings and numbers always serializes.
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// §3 UserBasic.
pub fn user_basic(u: &User) -> Value {
    json(UserBasic::from(u))
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
) -> Value {
    json(UserBasic {
        id,
        username: username.to_string(),
        phone_number: phone.map(str::to_string),
        phone: phone.map(str::to_string),
        name: display_name(username, first_name, last_name),
        role: role.to_string(),
        email: email.to_string(),
        first_name: first_name.to_string(),
        last_name: last_name.to_string(),
    })
}

/// The UserBasic of a change the service made itself (§5 #19).
pub fn system_user() -> Value {
    json(SystemUser::new())
}
