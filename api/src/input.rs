//! Request bodies, typed: each endpoint's body is a raw struct of [`Field`]s (what a client may
//! send, the documented `request_body`), deserialized by [`Payload`] from JSON or a form, then
//! converted with `TryFrom` into a validated value through the parsers below, one per concept.
//! Their errors are Django REST framework's texts, collected in one [`FieldErrors`] that renders
//! the exact bodies of API.md (bare `{field: [msg]}`, `{success:false, errors}` or §9 `details`).
//!
//! A raw struct takes every field as a [`Field`], so a value of the wrong type is that field's
//! error and not a failed parse of the whole body; unknown keys are ignored (§5 #15).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use common::money::Money;
use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::extract::Body;

/// One field of a request body: absent, `null`, or a value of any JSON type.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field {
    /// Not sent.
    #[default]
    Absent,
    /// Sent as `null`.
    Null,
    /// Sent.
    Value(Value),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => Field::Null,
            v => Field::Value(v),
        })
    }
}

impl Field {
    /// Whether the client sent the key (even as null).
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }

    /// The value, when one was sent.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// Field errors in DRF's shape: `{field: [msg]}`, nested for objects and lists. The first error
/// of a field is kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(Map<String, Value>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `msg` for `field` unless it already has an error.
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert_with(|| Value::Array(vec![Value::String(msg.into())]));
    }

    /// Records the errors of a nested object (or a list's per-item errors) under `field`.
    pub fn nest(&mut self, field: &str, inner: impl Into<Value>) {
        self.0.entry(field.to_string()).or_insert_with(|| inner.into());
    }

    /// Runs a parser on a field, recording its error; `None` when it failed.
    pub fn take<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(msg) => {
                self.add(field, msg);
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` has an error.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The errors as JSON.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// `Ok(value)` when no error was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, FieldErrors> {
        if !self.is_empty() {
            return Err(self);
        }
        value().ok_or(self)
    }

    /// Bare `{field: [msg]}` with 400 (DRF serializer views).
    pub fn bare(self) -> ApiError {
        ApiError::Fields(StatusCode::BAD_REQUEST, self.into_value())
    }

    /// `{success: false, errors}` with 400.
    pub fn wrapped(self) -> ApiError {
        ApiError::Errors(StatusCode::BAD_REQUEST, self.into_value())
    }

    /// §9 `422 validation_error` with the errors as `details`.
    pub fn validation(self) -> ApiError {
        ApiError::validation(self.into_value())
    }
}

impl From<FieldErrors> for Value {
    fn from(e: FieldErrors) -> Value {
        e.into_value()
    }
}

/// A typed request body: JSON or form-encoded (NUL-scrubbed by [`Body`]) deserialized into `T`.
/// A body that is not an object, or not JSON, gets [`Body`]'s DRF answers.
#[derive(Debug)]
pub struct Payload<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Payload<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Body(map) = Body::from_request(req, state).await?;
        from_map(map).map(Payload)
    }
}

/// A typed request body of a §9 route: like [`Payload`], but a body that is not a JSON object
/// (malformed, a list, a bare value, a field of the wrong type) is answered in the §9 shape:
/// `400 malformed_body`, `413 payload_too_large`, `415 unsupported_media_type`.
#[derive(Debug)]
pub struct ExtPayload<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ExtPayload<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Payload::<T>::from_request(req, state).await.map(|Payload(t)| ExtPayload(t)).map_err(ext_rejection)
    }
}

/// A body rejection ([`Body`], [`from_map`]) in the §9 shape; other errors unchanged.
pub fn ext_rejection(err: ApiError) -> ApiError {
    match err {
        ApiError::Detail(status, message) => ApiError::Ext {
            status,
            code: match status {
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                _ => "malformed_body",
            },
            message,
            details: Value::Object(Map::new()),
        },
        other => other,
    }
}

/// Deserializes a body map (also a multipart form's text parts) into a raw struct.
pub fn from_map<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::detail(StatusCode::BAD_REQUEST, format!("Invalid data. {e}")))
}

/// A DRF `CharField`'s settings.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// Absent is an error ("This field is required.").
    pub required: bool,
    /// `""` (after trimming) is accepted.
    pub allow_blank: bool,
    /// Longest accepted, in characters.
    pub max: Option<usize>,
}

impl Text {
    /// Required, not blank, at most `max` characters.
    pub const fn required(max: usize) -> Self {
        Self { required: true, allow_blank: false, max: Some(max) }
    }

    /// Optional, blank allowed, at most `max` characters.
    pub const fn optional(max: usize) -> Self {
        Self { required: false, allow_blank: true, max: Some(max) }
    }

    /// Parses `field` (trimmed; numbers read as written). `Ok(None)`: absent and not required.
    pub fn parse(self, field: &Field) -> Result<Option<String>, String> {
        let value = match field {
            Field::Absent if self.required => return Err("This field is required.".into()),
            Field::Absent => return Ok(None),
            Field::Null => return Err("This field may not be null.".into()),
            Field::Value(Value::String(s)) => s.trim().to_string(),
            Field::Value(Value::Number(n)) => n.to_string(),
            Field::Value(_) => return Err("Not a valid string.".into()),
        };
        if value.is_empty() && !self.allow_blank {
            return Err("This field may not be blank.".into());
        }
        if let Some(max) = self.max
            && value.chars().count() > max
        {
            return Err(format!("Ensure this field has no more than {max} characters."));
        }
        Ok(Some(value))
    }
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

/// A DRF `BooleanField` input: `true/false`, `1/0`, and their usual spellings as strings
/// (`"true"`, `"t"`, `"yes"`, `"y"`, `"on"`, `"1"` and the opposites), any case.
pub fn boolean(field: &Field) -> Result<Option<bool>, String> {
    match field {
        Field::Absent => Ok(None),
        Field::Null => Err("This field may not be null.".into()),
        Field::Value(v) => bool_value(v).map(Some).ok_or_else(|| "Must be a valid boolean.".to_string()),
    }
}

/// [`boolean`] of a bare JSON value.
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

/// A DRF `IntegerField` over a PostgreSQL `integer` column. `Ok(None)`: absent.
pub fn integer(field: &Field) -> Result<Option<i32>, String> {
    let v = match field {
        Field::Absent => return Ok(None),
        Field::Null => return Err("This field may not be null.".into()),
        Field::Value(v) => v,
    };
    let n = int_value(v).ok_or_else(|| "A valid integer is required.".to_string())?;
    i32::try_from(n).map(Some).map_err(|_| {
        if n > 0 {
            format!("Ensure this value is less than or equal to {}.", i32::MAX)
        } else {
            format!("Ensure this value is greater than or equal to {}.", i32::MIN)
        }
    })
}

/// A quantity: an integer of at least 1 (`Ok(None)`: absent).
pub fn quantity(field: &Field) -> Result<Option<i32>, String> {
    match integer(field)? {
        Some(q) if q < 1 => Err("Ensure this value is greater than or equal to 1.".into()),
        other => Ok(other),
    }
}

/// A DRF `DecimalField` of money (`max_digits`, 2 places): a number or a numeric string, in
/// paise (`Ok(None)`: absent).
pub fn amount(field: &Field, max_digits: u32) -> Result<Option<Money>, String> {
    match field {
        Field::Absent => Ok(None),
        Field::Null => Err("This field may not be null.".into()),
        Field::Value(v) => Money::from_json(v, max_digits).map(Some).map_err(|e| e.to_string()),
    }
}

/// A closed set of values (`"x" is not a valid choice.`); `Ok(None)`: absent.
pub fn choice<T>(field: &Field, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, String> {
    match Text::optional(usize::MAX).parse(field) {
        Ok(Some(s)) => parse(&s).map(Some).ok_or_else(|| format!("\"{s}\" is not a valid choice.")),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An email address (trimmed, at most 254 characters, with a dot in the domain).
pub fn email(raw: &str) -> Result<String, String> {
    crate::routes::dto::valid_email(raw).ok_or_else(|| "Enter a valid email address.".to_string())
}

/// The field with `null` and a blank string read as absent: for the fields where "empty counts
/// as absent" (§5 #16) and for multipart forms, which send empty parts.
pub fn non_blank(field: &Field) -> &Field {
    match field {
        Field::Null => &Field::Absent,
        Field::Value(Value::String(s)) if s.trim().is_empty() => &Field::Absent,
        other => other,
    }
}

/// A quantity that defaults to 1 (absent or null) and is at most `max` ([`quantity`], then
/// `Ensure this value is less than or equal to <max>.`).
pub fn quantity_or_one(field: &Field, max: i32) -> Result<i32, String> {
    if *field == Field::Null {
        return Ok(1);
    }
    match quantity(field)? {
        Some(q) if q > max => Err(format!("Ensure this value is less than or equal to {max}.")),
        other => Ok(other.unwrap_or(1)),
    }
}

/// The field `key` of a nested object (an item of a list) as a [`Field`]; a non-object has none.
pub fn member(object: &Value, key: &str) -> Field {
    match object.get(key) {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(v) => Field::Value(v.clone()),
    }
}

/// A row id (`bigint`): an integer, an integral float or a numeric string; `Ok(None)`: absent.
pub fn id(field: &Field) -> Result<Option<i64>, String> {
    match field {
        Field::Absent => Ok(None),
        Field::Null => Err("This field may not be null.".into()),
        Field::Value(v) => int_value(v).map(Some).ok_or_else(|| "A valid integer is required.".to_string()),
    }
}

/// DRF's message for a value that should have been a list.
pub fn not_a_list(v: &Value) -> String {
    format!("Expected a list of items but got type \"{}\".", python_type(v))
}

/// A list of ids, `[id…]` (each as [`id`] reads it); `Ok(None)`: absent or null.
pub fn id_list(field: &Field) -> Result<Option<Vec<i64>>, String> {
    let list = match field {
        Field::Absent | Field::Null => return Ok(None),
        Field::Value(Value::Array(list)) => list,
        Field::Value(other) => return Err(not_a_list(other)),
    };
    list.iter()
        .map(int_value)
        .collect::<Option<Vec<i64>>>()
        .map(Some)
        .ok_or_else(|| "A valid integer is required.".to_string())
}

/// One `{id, order}` of a reorder body (the schema of [`reorder`]'s first form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub struct ReorderItem {
    /// The row.
    pub id: i64,
    /// Its new position.
    pub order: i32,
}

/// The one parser of reorder bodies (API.md §4.9, §5 #9):
///
/// `reorder(pairs: (&str, &Field), ids: (&str, &Field)) -> Result<Vec<(i64, i32)>, FieldErrors>`
///
/// - `pairs` = (key, value) of the `[{id, order}]` form (`items`, `field_orders`); it wins
///   when sent (not null);
/// - else `ids` = (key, value) of the §5 #9 `[id…]` form (`image_ids`, `item_ids`,
///   `field_ids`), whose `order` is the 0-based position;
/// - `Ok((id, order) pairs)` in the order given (an empty list gives an empty `Vec`: a route
///   that needs rows says so itself);
/// - `Err`, under the key of the form at fault: `Expected a list of items but got type "<t>".`;
///   `Each item must have an integer "id" and "order".` (pairs); `A valid integer is
///   required.` (ids); `This field is required.` under the pairs key when neither is sent.
///
/// Ids and orders are read as DRF `IntegerField`s ([`int_value`]); an order must fit an
/// `integer` column.
pub fn reorder(pairs: (&str, &Field), ids: (&str, &Field)) -> Result<Vec<(i64, i32)>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let (pairs_key, pairs) = pairs;
    let (ids_key, ids) = ids;
    if let Field::Value(list) = pairs {
        let Value::Array(entries) = list else {
            errors.add(pairs_key, not_a_list(list));
            return Err(errors);
        };
        let entry = |v: &Value| {
            let e = v.as_object()?;
            Some((int_value(e.get("id")?)?, i32::try_from(int_value(e.get("order")?)?).ok()?))
        };
        return entries.iter().map(entry).collect::<Option<Vec<_>>>().ok_or_else(|| {
            errors.add(pairs_key, "Each item must have an integer \"id\" and \"order\".");
            errors
        });
    }
    match id_list(ids) {
        Ok(Some(list)) => Ok(list.into_iter().zip(0..).collect()),
        Ok(None) => {
            errors.add(pairs_key, "This field is required.");
            Err(errors)
        }
        Err(msg) => {
            errors.add(ids_key, msg);
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(default)]
        name: Field,
        #[serde(default)]
        flag: Field,
    }

    #[test]
    fn fields_are_absent_null_or_values() {
        let raw: Raw = serde_json::from_value(json!({"name": null, "extra": 1})).unwrap();
        assert_eq!(raw.name, Field::Null);
        assert_eq!(raw.flag, Field::Absent);
        let raw: Raw = serde_json::from_value(json!({"name": ["x"], "flag": "Yes"})).unwrap();
        assert_eq!(Text::required(5).parse(&raw.name), Err("Not a valid string.".into()));
        assert_eq!(boolean(&raw.flag), Ok(Some(true)));
    }

    #[test]
    fn text_rules_are_drf_char_field() {
        let v = |j: Value| Field::Value(j);
        assert_eq!(Text::required(3).parse(&Field::Absent), Err("This field is required.".into()));
        assert_eq!(Text::required(3).parse(&v(json!("  "))), Err("This field may not be blank.".into()));
        assert_eq!(
            Text::required(3).parse(&v(json!("abcd"))),
            Err("Ensure this field has no more than 3 characters.".into())
        );
        assert_eq!(Text::optional(3).parse(&v(json!(12))), Ok(Some("12".into())));
        assert_eq!(Text::optional(3).parse(&Field::Absent), Ok(None));
    }

    #[test]
    fn errors_keep_the_first_message_and_nest() {
        let mut e = FieldErrors::new();
        e.add("a", "first");
        e.add("a", "second");
        let mut inner = FieldErrors::new();
        inner.add("phone", "bad");
        e.nest("customer", inner);
        assert_eq!(e.into_value(), json!({"a": ["first"], "customer": {"phone": ["bad"]}}));
    }

    #[test]
    fn numbers_and_choices() {
        let v = |j: Value| Field::Value(j);
        assert_eq!(integer(&v(json!("5.000"))), Ok(Some(5)));
        assert_eq!(integer(&v(json!("x"))), Err("A valid integer is required.".into()));
        assert_eq!(quantity(&v(json!(0))), Err("Ensure this value is greater than or equal to 1.".into()));
        assert_eq!(
            choice(&v(json!("gold")), |s| (s == "cash").then_some(())),
            Err("\"gold\" is not a valid choice.".into())
        );
    }
}

#[cfg(test)]
mod reorder_tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn run(body: Value) -> Result<Vec<(i64, i32)>, Value> {
        reorder(("items", &member(&body, "items")), ("item_ids", &member(&body, "item_ids")))
            .map_err(FieldErrors::into_value)
    }

    #[test]
    fn both_forms_and_their_errors() {
        assert_eq!(run(json!({"items": [{"id": 3, "order": "1"}]})), Ok(vec![(3, 1)]));
        assert_eq!(run(json!({"items": null, "item_ids": [4, "2"]})), Ok(vec![(4, 0), (2, 1)]));
        assert_eq!(run(json!({"item_ids": []})), Ok(vec![]));
        assert_eq!(
            run(json!({"items": [{"id": 3}], "item_ids": [1]})),
            Err(json!({"items": ["Each item must have an integer \"id\" and \"order\"."]}))
        );
        assert_eq!(
            run(json!({"items": "x"})),
            Err(json!({"items": ["Expected a list of items but got type \"str\"."]}))
        );
        assert_eq!(run(json!({"item_ids": ["q"]})), Err(json!({"item_ids": ["A valid integer is required."]})));
        assert_eq!(run(json!({})), Err(json!({"items": ["This field is required."]})));
    }

    #[test]
    fn ids_and_blanks() {
        assert_eq!(id(&Field::Value(json!(" 12 "))), Ok(Some(12)));
        assert_eq!(id(&Field::Value(json!("x"))), Err("A valid integer is required.".into()));
        assert_eq!(non_blank(&Field::Value(json!("  "))), &Field::Absent);
        assert_eq!(non_blank(&Field::Null), &Field::Absent);
        assert_eq!(non_blank(&Field::Value(json!(0))), &Field::Value(json!(0)));
    }
}
