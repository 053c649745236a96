//! DRF-style parsing of request fields, shared by the admin route modules: the error messages
//! are Django REST framework's, so the admin app shows what it always showed.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::extract::Body;
use crate::input::{self, Field};

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

pub use crate::input::{bool_value, int_value};

/// A DRF `IntegerField` over a PostgreSQL `integer` column ([`input::integer`]).
/// `None`: absent or invalid (error recorded); `Some(None)`: null (or `""`) on a nullable field.
pub fn int_field(body: &Body, errors: &mut FieldErrors, name: &str, nullable: bool) -> Option<Option<i32>> {
    let field = body.field(name);
    let blank = field.value().and_then(Value::as_str).is_some_and(|s| s.trim().is_empty());
    if nullable && (field == Field::Null || blank) {
        return Some(None);
    }
    if !field.is_present() {
        return None;
    }
    match input::integer(&field) {
        Ok(n) => Some(n),
        Err(msg) => {
            add_error(errors, name, msg);
            None
        }
    }
}

/// A DRF `BooleanField` ([`input::boolean`]); `None`: absent or invalid (error recorded).
pub fn bool_field(body: &Body, errors: &mut FieldErrors, name: &str) -> Option<bool> {
    match input::boolean(&body.field(name)) {
        Ok(b) => b,
        Err(msg) => {
            add_error(errors, name, msg);
            None
        }
    }
}

/// A DRF `CharField` ([`input::Text`], whitespace trimmed). `None`: absent, or invalid (error
/// recorded).
pub fn char_field(
    body: &Body,
    errors: &mut FieldErrors,
    name: &str,
    required: bool,
    allow_blank: bool,
    max: Option<usize>,
) -> Option<String> {
    match (input::Text { required, allow_blank, max }).parse(&body.field(name)) {
        Ok(v) => v,
        Err(msg) => {
            add_error(errors, name, msg);
            None
        }
    }
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
