//! Checklist templates of products under `/api/admin/products/` (API.md §4.9, §5 #6, #9, #18):
//! the tasks an order's checklist is built from (§7.5). Who: `admin*`.
//!
//! Also holds the DRF-style field parsers shared with [`super::admin_resource_fields`].

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use common::catalog::checklist_templates::{self, DeleteOutcome, NewTemplateItem, TemplateItem, TemplatePatch};
use common::catalog::{ProductType, product_exists};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{invalid_type, not_found};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminStar, Body, Id};
use crate::state::AppState;

/// The checklist-template routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, put_template, patch_template, delete_template))
        .routes(routes!(reorder_templates))
}

/// §3 ChecklistTemplate.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistTemplateOut {
    id: i64,
    name: String,
    description: String,
    order: i32,
    is_optional: bool,
    estimated_duration_minutes: Option<i32>,
    /// Asia/Kolkata, microseconds.
    created_at: String,
    /// `package` or `campaign`.
    product_type: String,
    product_id: i64,
}

impl From<&TemplateItem> for ChecklistTemplateOut {
    fn from(t: &TemplateItem) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            description: t.description.clone(),
            order: t.order,
            is_optional: t.is_optional,
            estimated_duration_minutes: t.estimated_duration_minutes,
            created_at: common::time::ist(t.created_at),
            product_type: t.product_type.clone(),
            product_id: t.product_id,
        }
    }
}

/// Body of a create or update; PATCH sends any subset.
#[derive(Debug, ToSchema)]
pub struct ChecklistTemplateRequest {
    /// ≤ 200 characters; required on POST and PUT.
    pub name: String,
    /// Non-blank; required on POST and PUT.
    pub description: String,
    /// Default on POST: after the product's last item; absent on PUT or PATCH: kept.
    pub order: Option<i32>,
    /// Default false; absent on PUT or PATCH: kept.
    pub is_optional: Option<bool>,
    /// Absent on PUT or PATCH: kept; `null` clears.
    pub estimated_duration_minutes: Option<i32>,
}

/// Body of the reorder: either form.
#[derive(Debug, ToSchema)]
pub struct ChecklistReorderRequest {
    /// `[{id, order}]`.
    pub items: Option<Vec<IdOrder>>,
    /// §5 #9: ids in their new order (`order` = 0-based position).
    pub item_ids: Option<Vec<i64>>,
}

/// One `{id, order}` of a reorder.
#[derive(Debug, ToSchema)]
pub struct IdOrder {
    pub id: i64,
    pub order: i32,
}

/// `{message, items}` of the reorder.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistReordered {
    message: String,
    items: Vec<ChecklistTemplateOut>,
}

// ---------------------------------------------------------------------------------------------
// DRF-style field parsing (messages as Django REST framework words them).

/// Field errors being collected: `{field: [msg]}`.
pub(super) type FieldErrors = Map<String, Value>;

/// Records the (first) error of a field.
pub(super) fn add_error(errors: &mut FieldErrors, field: &str, msg: impl Into<String>) {
    errors.entry(field.to_string()).or_insert_with(|| json!([msg.into()]));
}

/// Python's name of a JSON value's type, for DRF's "Expected a list…" message.
pub(super) fn python_type(v: &Value) -> &'static str {
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
pub(super) fn int_value(v: &Value) -> Option<i64> {
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
pub(super) fn int_field(body: &Body, errors: &mut FieldErrors, name: &str, nullable: bool) -> Option<Option<i32>> {
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

/// A DRF `BooleanField`; `None`: absent or invalid (error recorded).
pub(super) fn bool_field(body: &Body, errors: &mut FieldErrors, name: &str) -> Option<bool> {
    let parsed = match body.0.get(name)? {
        Value::Null => {
            add_error(errors, name, "This field may not be null.");
            return None;
        }
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
            "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    if parsed.is_none() {
        add_error(errors, name, "Must be a valid boolean.");
    }
    parsed
}

/// A DRF `CharField` (whitespace trimmed). `None`: absent, or invalid (error recorded).
pub(super) fn char_field(
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
pub(super) struct ProductPath {
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

// ---------------------------------------------------------------------------------------------

fn item_not_found() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "No ChecklistTemplateItem matches the given query.")
}

/// Validates a body. `partial` (PATCH): every field optional; otherwise `name` and
/// `description` are required and the rest, when absent, keep their stored values.
fn parse_body(body: &Body, partial: bool) -> Result<TemplatePatch, ApiError> {
    let mut errors = FieldErrors::new();
    let patch = TemplatePatch {
        name: char_field(body, &mut errors, "name", !partial, false, Some(200)),
        description: char_field(body, &mut errors, "description", !partial, false, None),
        order: int_field(body, &mut errors, "order", false).flatten(),
        is_optional: bool_field(body, &mut errors, "is_optional"),
        estimated_duration_minutes: int_field(body, &mut errors, "estimated_duration_minutes", true),
    };
    if errors.is_empty() { Ok(patch) } else { Err(ApiError::Fields(StatusCode::BAD_REQUEST, Value::Object(errors))) }
}

/// The product of the path, or the route's errors: invalid type → 400, missing product → 404.
async fn existing_product(state: &AppState, path: &ProductPath) -> ApiResult<ProductType> {
    let kind = ProductType::parse(&path.kind).ok_or_else(invalid_type)?;
    if !product_exists(&state.pool, kind, path.id).await? {
        return Err(not_found(kind));
    }
    Ok(kind)
}

/// A product's checklist template items, by `order` then id.
#[utoipa::path(get, path = "/api/admin/products/{type}/{id}/checklist-template/", tag = "admin-catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<ChecklistTemplateOut>),
        (status = 400, description = "`{\"error\":\"Invalid product type. Must be \\\"package\\\" or \\\"campaign\\\"\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`"),
    ))]
async fn list_templates(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    path: ProductPath,
) -> ApiResult<Json<Vec<ChecklistTemplateOut>>> {
    let kind = existing_product(&state, &path).await?;
    let items = checklist_templates::list(&state.pool, kind, path.id).await?;
    Ok(Json(items.iter().map(ChecklistTemplateOut::from).collect()))
}

/// Add a checklist template item; `order` defaults to after the product's last item.
#[utoipa::path(post, path = "/api/admin/products/{type}/{id}/checklist-template/", tag = "admin-catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path, description = "Product id")),
    request_body = ChecklistTemplateRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = ChecklistTemplateOut),
        (status = 400, description = "Bare `{field:[msg]}`, or the invalid-type `{\"error\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`"),
    ))]
async fn create_template(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    path: ProductPath,
    body: Body,
) -> ApiResult<Response> {
    let kind = ProductType::parse(&path.kind).ok_or_else(invalid_type)?;
    let patch = match parse_body(&body, false) {
        Ok(p) => p,
        Err(e) => {
            // The product's 404 comes before the body's 400, as in the original view.
            existing_product(&state, &path).await?;
            return Err(e);
        }
    };
    let (Some(name), Some(description)) = (patch.name, patch.description) else {
        return Err(ApiError::internal("validated checklist template body without name or description"));
    };
    let new = NewTemplateItem {
        name,
        description,
        order: patch.order,
        is_optional: patch.is_optional.unwrap_or(false),
        estimated_duration_minutes: patch.estimated_duration_minutes.flatten(),
    };
    let item = checklist_templates::create(&state.pool, kind, path.id, &new).await?.ok_or_else(|| not_found(kind))?;
    Ok((StatusCode::CREATED, Json(ChecklistTemplateOut::from(&item))).into_response())
}

/// One checklist template item.
#[utoipa::path(get, path = "/api/admin/products/checklist-template/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Template item id")), security(("bearer" = [])),
    responses(
        (status = 200, body = ChecklistTemplateOut),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ChecklistTemplateItem matches the given query.\"}`"),
    ))]
async fn get_template(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Id(id): Id,
) -> ApiResult<Json<ChecklistTemplateOut>> {
    let item = checklist_templates::find(&state.pool, id).await?.ok_or_else(item_not_found)?;
    Ok(Json(ChecklistTemplateOut::from(&item)))
}

async fn update(state: AppState, id: i64, body: Body, partial: bool) -> ApiResult<Json<ChecklistTemplateOut>> {
    let patch = match parse_body(&body, partial) {
        Ok(p) => p,
        Err(e) => {
            // An unknown id is a 404 even with an invalid body.
            checklist_templates::find(&state.pool, id).await?.ok_or_else(item_not_found)?;
            return Err(e);
        }
    };
    let item = checklist_templates::update(&state.pool, id, &patch).await?.ok_or_else(item_not_found)?;
    Ok(Json(ChecklistTemplateOut::from(&item)))
}

/// Replace a checklist template item: `name` and `description` required; absent `order`,
/// `is_optional`, `estimated_duration_minutes` keep their values (§5 #18).
#[utoipa::path(put, path = "/api/admin/products/checklist-template/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Template item id")), request_body = ChecklistTemplateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ChecklistTemplateOut),
        (status = 400, description = "Bare `{field:[msg]}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ChecklistTemplateItem matches the given query.\"}`"),
    ))]
async fn put_template(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<ChecklistTemplateOut>> {
    update(state, id, body, false).await
}

/// Change some fields of a checklist template item.
#[utoipa::path(patch, path = "/api/admin/products/checklist-template/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Template item id")), request_body = ChecklistTemplateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ChecklistTemplateOut),
        (status = 400, description = "Bare `{field:[msg]}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ChecklistTemplateItem matches the given query.\"}`"),
    ))]
async fn patch_template(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<ChecklistTemplateOut>> {
    update(state, id, body, true).await
}

/// Delete a checklist template item, unless an order checklist uses it.
#[utoipa::path(delete, path = "/api/admin/products/checklist-template/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Template item id")), security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ChecklistTemplateItem matches the given query.\"}`"),
        (status = 409, description = "`{\"error\":\"Cannot delete a checklist template item that is used by an order checklist\"}`"),
    ))]
async fn delete_template(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    match checklist_templates::delete(&state.pool, id).await? {
        DeleteOutcome::Deleted => Ok(StatusCode::NO_CONTENT),
        DeleteOutcome::NotFound => Err(item_not_found()),
        DeleteOutcome::InUse => Err(ApiError::error(
            StatusCode::CONFLICT,
            "Cannot delete a checklist template item that is used by an order checklist",
        )),
    }
}

/// `(id, order)` pairs of either reorder form; `None` when neither is a non-empty, well-formed
/// list.
fn parse_reorder(body: &Body) -> Option<Vec<(i64, i32)>> {
    let present = |key: &str| body.0.get(key).filter(|v| !v.is_null());
    if let Some(items) = present("items") {
        let items = items.as_array().filter(|a| !a.is_empty())?;
        items
            .iter()
            .map(|entry| {
                let entry = entry.as_object()?;
                let id = int_value(entry.get("id")?)?;
                let order = i32::try_from(int_value(entry.get("order")?)?).ok()?;
                Some((id, order))
            })
            .collect()
    } else {
        let ids = present("item_ids")?.as_array().filter(|a| !a.is_empty())?;
        ids.iter().enumerate().map(|(position, id)| Some((int_value(id)?, i32::try_from(position).ok()?))).collect()
    }
}

/// Set the order of checklist template items, all or none: `{items:[{id, order}]}` or
/// `{item_ids:[id…]}` (§5 #9, `order` = 0-based position).
#[utoipa::path(patch, path = "/api/admin/products/checklist-template/reorder/", tag = "admin-catalogue",
    request_body = ChecklistReorderRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = ChecklistReordered, description = "`{message:\"Successfully reordered <n> items\", items}`"),
        (status = 400, description = "`{\"error\":\"Items array is required with format: [{\\\"id\\\": 1, \\\"order\\\": 0}, ...]\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"error\":\"One or more checklist items not found\"}`"),
    ))]
async fn reorder_templates(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    body: Body,
) -> ApiResult<Json<ChecklistReordered>> {
    let orders = parse_reorder(&body).ok_or_else(|| {
        ApiError::error(StatusCode::BAD_REQUEST, r#"Items array is required with format: [{"id": 1, "order": 0}, ...]"#)
    })?;
    let items = checklist_templates::reorder(&state.pool, &orders)
        .await?
        .ok_or_else(|| ApiError::error(StatusCode::NOT_FOUND, "One or more checklist items not found"))?;
    Ok(Json(ChecklistReordered {
        message: format!("Successfully reordered {} items", orders.len()),
        items: items.iter().map(ChecklistTemplateOut::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_drf_reads_them() {
        assert_eq!(int_value(&json!(5)), Some(5));
        assert_eq!(int_value(&json!(5.0)), Some(5));
        assert_eq!(int_value(&json!("7")), Some(7));
        assert_eq!(int_value(&json!(" 7.00 ")), Some(7));
        assert_eq!(int_value(&json!(5.5)), None);
        assert_eq!(int_value(&json!("abc")), None);
        assert_eq!(int_value(&json!(true)), None);
        assert_eq!(int_value(&json!("")), None);
    }

    #[test]
    fn reorder_bodies() {
        let body = |v: Value| Body(v.as_object().cloned().unwrap_or_default());
        assert_eq!(parse_reorder(&body(json!({"items": [{"id": 3, "order": 1}]}))), Some(vec![(3, 1)]));
        assert_eq!(parse_reorder(&body(json!({"item_ids": [4, "2"]}))), Some(vec![(4, 0), (2, 1)]));
        assert_eq!(parse_reorder(&body(json!({"items": []}))), None);
        assert_eq!(parse_reorder(&body(json!({"items": [{"id": 3}]}))), None);
        assert_eq!(parse_reorder(&body(json!({}))), None);
    }
}
