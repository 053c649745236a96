//! DRF-style parsing of request fields, shared by the admin route modules: the error messages
//! are Django REST framework's, so the admin app shows what it always showed.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::extract::Body;

/// Field errors being collected: `{field: [msg]}`.
pub type FieldErrors = Map<String, Value>;

/// Records the (first) error of a field.
pub fn add_error(errors: &mut FieldErrors, field: &str, msg: impl Into<String>) {
    errors.entry(field.to_string()).or_insert_with(|| json!([msg.into()]));
}

/// Python's name of a JSON value's type, for DRF's "Expected a list…" message.
pub fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A DRF `IntegerField` value: integers, integral floats (`5.0`) and numeric strings (`"5"`).
pub fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
        }
        Value::String(s) => {
            let t = s.trim();
            // DRF strips a trailing `.000` before `int()`.
            let t = match t.find('.') {
                Some(dot) if t[dot + 1..].bytes().all(|b| b == b'0') => &t[..dot],
                _ => t,
            };
            t.parse::<i64>().ok()
        }
        _ => None,
    }
}

/// A DRF `IntegerField` over a PostgreSQL `integer` column.
/// `None`: absent or invalid (error recorded); `Some(None)`: null (or `""`) on a nullable field.
pub fn int_field(body: &Body, errors: &mut FieldErrors, name: &str, nullable: bool) -> Option<Option<i32>> {
    let v = body.0.get(name)?;
    if v.is_null() || (nullable && v.as_str().is_some_and(|s| s.trim().is_empty())) {
        if nullable {
            return Some(None);
        }
        add_error(errors, name, "This field may not be null.");
        return None;
    }
    let Some(n) = int_value(v) else {
        add_error(errors, name, "A valid integer is required.");
        return None;
    };
    match i32::try_from(n) {
        Ok(n) => Some(Some(n)),
        Err(_) if n > 0 => {
            add_error(errors, name, format!("Ensure this value is less than or equal to {}.", i32::MAX));
            None
        }
        Err(_) => {
            add_error(errors, name, format!("Ensure this value is greater than or equal to {}.", i32::MIN));
            None
        }
    }
}

/// A DRF `BooleanField` input value; `None` when it is not one.
pub fn bool_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
            "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A DRF `BooleanField`; `None`: absent or invalid (error recorded).
pub fn bool_field(body: &Body, errors: &mut FieldErrors, name: &str) -> Option<bool> {
    let v = body.0.get(name)?;
    if v.is_null() {
        add_error(errors, name, "This field may not be null.");
        return None;
    }
    let parsed = bool_value(v);
    if parsed.is_none() {
        add_error(errors, name, "Must be a valid boolean.");
    }
    parsed
}

/// A DRF `CharField` (whitespace trimmed). `None`: absent, or invalid (error recorded).
pub fn char_field(
    body: &Body,
    errors: &mut FieldErrors,
    name: &str,
    required: bool,
    allow_blank: bool,
    max: Option<usize>,
) -> Option<String> {
    let value = match body.text(name) {
        Err(_) => {
            add_error(errors, name, "Not a valid string.");
            return None;
        }
        Ok(None) if body.has(name) => {
            add_error(errors, name, "This field may not be null.");
            return None;
        }
        Ok(None) => {
            if required {
                add_error(errors, name, "This field is required.");
            }
            return None;
        }
        Ok(Some(v)) => v.trim().to_string(),
    };
    if value.is_empty() && !allow_blank {
        add_error(errors, name, "This field may not be blank.");
        return None;
    }
    if let Some(max) = max
        && value.chars().count() > max
    {
        add_error(errors, name, format!("Ensure this field has no more than {max} characters."));
        return None;
    }
    Some(value)
}

/// `{type}` and `{id}` of `/api/admin/products/{type}/{id}/…`: the id must be an integer (else
/// 404, as Django's `<int:…>` converter answers); the type is checked by the route, whose error
/// body differs.
#[derive(Debug, Clone)]
pub struct ProductPath {
    /// Raw `{type}`.
    pub kind: String,
    /// `{id}`.
    pub id: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for ProductPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = || ApiError::detail(StatusCode::NOT_FOUND, "Not found.");
        let axum::extract::Path((kind, raw)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_found());
        }
        let id = raw.parse::<i64>().map_err(|_| not_found())?;
        Ok(ProductPath { kind, id })
    }
}
