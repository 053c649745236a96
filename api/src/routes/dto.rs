//! Small helpers shared by the account routes.

/// The address trimmed, when it is a valid email of at most 254 characters.
pub fn valid_email(raw: &str) -> Option<String> {
    let e = raw.trim();
    (e.len() <= 254 && email_address::EmailAddress::is_valid(e) && e.contains('.')).then(|| e.to_string())
}
