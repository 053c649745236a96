//! Resource-field definitions of products under `/api/admin/products/` (API.md §4.9, §7.4):
//! what customers submit for each ordered item. Who: role admin.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::catalog::checklist_templates::DeleteOutcome;
use common::catalog::resource_fields::{self, FieldDefinition, FieldSpec, FieldType, FieldWriteError, valid_extension};
use common::catalog::{ProductType, product_exists};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::not_found;
use super::fields::{FieldErrors, ProductPath, add_error, bool_field, char_field, int_field, int_value, python_type};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Body, Id};
use crate::state::AppState;

/// The resource-field routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_fields, create_field))
        .routes(routes!(get_field, update_field, delete_field))
        .routes(routes!(reorder_fields))
}

/// §3 ResourceField.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceFieldOut {
    id: i64,
    /// `package` or `campaign`.
    product_type: String,
    product_id: i64,
    field_name: String,
    /// image, text, number, document, phone or date.
    field_type: String,
    is_required: bool,
    order: i32,
    help_text: String,
    max_file_size_mb: Option<i32>,
    max_length: Option<i32>,
    min_value: Option<i32>,
    max_value: Option<i32>,
    /// `[".pdf", …]`.
    #[schema(value_type = Vec<String>)]
    allowed_extensions: Value,
    /// Asia/Kolkata, microseconds.
    created_at: String,
}

impl From<&FieldDefinition> for ResourceFieldOut {
    fn from(f: &FieldDefinition) -> Self {
        Self {
            id: f.id,
            product_type: f.product_type.clone(),
            product_id: f.product_id,
            field_name: f.field_name.clone(),
            field_type: f.field_type.clone(),
            is_required: f.is_required,
            order: f.order,
            help_text: f.help_text.clone(),
            max_file_size_mb: f.max_file_size_mb,
            max_length: f.max_length,
            min_value: f.min_value,
            max_value: f.max_value,
            allowed_extensions: f.allowed_extensions.clone(),
            created_at: common::time::ist(f.created_at),
        }
    }
}

/// `{success:true, fields}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldList {
    success: bool,
    fields: Vec<ResourceFieldOut>,
}

/// `{success:true, message, field}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldEnvelope {
    success: bool,
    message: String,
    field: ResourceFieldOut,
}

/// `{success:true, message}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldMessage {
    success: bool,
    message: String,
}

/// Body of a create or full update (§7.4); absent optional fields take their defaults.
#[derive(Debug, ToSchema)]
pub struct ResourceFieldRequest {
    /// ≤ 100 characters, unique per product.
    pub field_name: String,
    /// image, text, number, document, phone or date.
    pub field_type: String,
    /// Default true.
    pub is_required: Option<bool>,
    /// Default 0 (also on PUT).
    pub order: Option<i32>,
    /// ≤ 200 characters, default "".
    pub help_text: Option<String>,
    /// ≥ 1; image ≤ 10, document ≤ 20.
    pub max_file_size_mb: Option<i32>,
    /// ≥ 1; text ≤ 500.
    pub max_length: Option<i32>,
    /// ≤ `max_value`.
    pub min_value: Option<i32>,
    /// ≥ `min_value`.
    pub max_value: Option<i32>,
    /// Each starting with a dot, e.g. `".pdf"`.
    pub allowed_extensions: Option<Vec<String>>,
}

/// Body of the reorder: either form.
#[derive(Debug, ToSchema)]
pub struct FieldReorderRequest {
    /// `[{id, order}]`.
    pub field_orders: Option<Vec<super::admin_checklists::IdOrder>>,
    /// §5 #9: ids in their new order (`order` = 0-based position).
    pub field_ids: Option<Vec<i64>>,
}

fn field_not_found() -> ApiError {
    ApiError::message(StatusCode::NOT_FOUND, "Resource field not found")
}

fn write_error(spec: &FieldSpec, err: FieldWriteError) -> ApiError {
    match err {
        FieldWriteError::DuplicateName => ApiError::message(
            StatusCode::BAD_REQUEST,
            format!("Field with name \"{}\" already exists for this product", spec.field_name),
        ),
        FieldWriteError::Database(e) => e.into(),
    }
}

/// The product of the path: invalid type → 400 `{success:false, message}`.
fn product_kind(path: &ProductPath) -> ApiResult<ProductType> {
    ProductType::parse(&path.kind)
        .ok_or_else(|| ApiError::message(StatusCode::BAD_REQUEST, "Invalid product type. Must be package or campaign"))
}

fn allowed_extensions(body: &Body, errors: &mut FieldErrors) -> Vec<String> {
    const MSG: &str = "Each extension must be a string starting with a dot, e.g. \".pdf\".";
    match body.0.get("allowed_extensions") {
        None => Vec::new(),
        Some(Value::Null) => {
            add_error(errors, "allowed_extensions", "This field may not be null.");
            Vec::new()
        }
        Some(Value::Array(items)) => {
            let exts: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::trim).filter(|e| valid_extension(e)).map(str::to_string))
                .collect();
            exts.unwrap_or_else(|| {
                add_error(errors, "allowed_extensions", MSG);
                Vec::new()
            })
        }
        Some(other) => {
            add_error(
                errors,
                "allowed_extensions",
                format!("Expected a list of items but got type \"{}\".", python_type(other)),
            );
            Vec::new()
        }
    }
}

/// Validates a definition (§7.4): every field, then the rules between them.
fn parse_spec(body: &Body) -> Result<FieldSpec, FieldErrors> {
    let mut errors = FieldErrors::new();
    let field_name = char_field(body, &mut errors, "field_name", true, false, Some(100));
    let field_type = match body.0.get("field_type") {
        None => {
            add_error(&mut errors, "field_type", "This field is required.");
            None
        }
        Some(Value::Null) => {
            add_error(&mut errors, "field_type", "This field may not be null.");
            None
        }
        Some(v) => {
            let raw = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            let parsed = FieldType::parse(&raw);
            if parsed.is_none() {
                add_error(&mut errors, "field_type", format!("\"{raw}\" is not a valid choice."));
            }
            parsed
        }
    };
    let is_required = bool_field(body, &mut errors, "is_required").unwrap_or(true);
    let order = int_field(body, &mut errors, "order", false).flatten().unwrap_or(0);
    let help_text = char_field(body, &mut errors, "help_text", false, true, Some(200)).unwrap_or_default();
    let max_file_size_mb = int_field(body, &mut errors, "max_file_size_mb", true).flatten();
    let max_length = int_field(body, &mut errors, "max_length", true).flatten();
    let min_value = int_field(body, &mut errors, "min_value", true).flatten();
    let max_value = int_field(body, &mut errors, "max_value", true).flatten();
    let allowed_extensions = allowed_extensions(body, &mut errors);

    let at_least_one = "Ensure this value is greater than or equal to 1.";
    let at_most = |n: i32| format!("Ensure this value is less than or equal to {n}.");
    if let Some(size) = max_file_size_mb {
        if size < 1 {
            add_error(&mut errors, "max_file_size_mb", at_least_one);
        } else if let Some(limit) = field_type.and_then(FieldType::max_file_size_limit_mb)
            && size > limit
        {
            add_error(&mut errors, "max_file_size_mb", at_most(limit));
        }
    }
    if let Some(len) = max_length {
        if len < 1 {
            add_error(&mut errors, "max_length", at_least_one);
        } else if let Some(limit) = field_type.and_then(FieldType::max_length_limit)
            && len > limit
        {
            add_error(&mut errors, "max_length", at_most(limit));
        }
    }
    if let (Some(min), Some(max)) = (min_value, max_value)
        && min > max
    {
        add_error(&mut errors, "min_value", "min_value cannot be greater than max_value.");
    }
    match (field_name, field_type, errors.is_empty()) {
        (Some(field_name), Some(field_type), true) => Ok(FieldSpec {
            field_name,
            field_type,
            is_required,
            order,
            help_text,
            max_file_size_mb,
            max_length,
            min_value,
            max_value,
            allowed_extensions,
        }),
        _ => Err(errors),
    }
}

/// A product's resource fields, by `order` then id.
#[utoipa::path(get, path = "/api/admin/products/{type}/{id}/resource-fields/", tag = "admin-catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = FieldList),
        (status = 400, description = "`{success:false, message:\"Invalid product type. Must be package or campaign\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`"),
    ))]
async fn list_fields(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    path: ProductPath,
) -> ApiResult<Json<FieldList>> {
    let kind = product_kind(&path)?;
    if !product_exists(&state.pool, kind, path.id).await? {
        return Err(not_found(kind));
    }
    let fields = resource_fields::list(&state.pool, kind, path.id).await?;
    Ok(Json(FieldList { success: true, fields: fields.iter().map(ResourceFieldOut::from).collect() }))
}

/// Add a resource field to a product (§7.4).
#[utoipa::path(post, path = "/api/admin/products/{type}/{id}/resource-fields/", tag = "admin-catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path, description = "Product id")),
    request_body = ResourceFieldRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = FieldEnvelope, description = "`{success:true, message:\"Resource field created successfully\", field}`"),
        (status = 400, description = "`{success:false, errors:{field:[msg]}}`, `{success:false, message:\"Field with name \\\"<n>\\\" already exists for this product\"}` or the invalid type"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`"),
    ))]
async fn create_field(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    path: ProductPath,
    body: Body,
) -> ApiResult<Response> {
    let kind = product_kind(&path)?;
    let spec = match parse_spec(&body) {
        Ok(spec) => spec,
        Err(errors) => {
            // The product's 404 comes before the body's 400.
            if !product_exists(&state.pool, kind, path.id).await? {
                return Err(not_found(kind));
            }
            return Err(ApiError::Errors(StatusCode::BAD_REQUEST, Value::Object(errors)));
        }
    };
    let field = resource_fields::create(&state.pool, kind, path.id, &spec)
        .await
        .map_err(|e| write_error(&spec, e))?
        .ok_or_else(|| not_found(kind))?;
    Ok((
        StatusCode::CREATED,
        Json(FieldEnvelope {
            success: true,
            message: "Resource field created successfully".into(),
            field: ResourceFieldOut::from(&field),
        }),
    )
        .into_response())
}

/// One resource field.
#[utoipa::path(get, path = "/api/admin/products/resource-fields/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Field id")), security(("bearer" = [])),
    responses(
        (status = 200, body = FieldEnvelope, description = "`{success:true, message:\"GET request successful - URL is working!\", field}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{success:false, message:\"Resource field not found\"}`"),
    ))]
async fn get_field(State(state): State<AppState>, Admin(_admin): Admin, Id(id): Id) -> ApiResult<Json<FieldEnvelope>> {
    let field = resource_fields::find(&state.pool, id).await?.ok_or_else(field_not_found)?;
    Ok(Json(FieldEnvelope {
        success: true,
        message: "GET request successful - URL is working!".into(),
        field: ResourceFieldOut::from(&field),
    }))
}

/// Replace a resource field (§7.4): absent optional fields take their defaults (`order` 0).
#[utoipa::path(put, path = "/api/admin/products/resource-fields/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Field id")), request_body = ResourceFieldRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = FieldEnvelope, description = "`{success:true, message:\"Resource field updated successfully\", field}`"),
        (status = 400, description = "`{success:false, errors, message:\"Validation failed\"}` or the duplicate-name `{success:false, message}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{success:false, message:\"Resource field not found\"}`"),
    ))]
async fn update_field(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<FieldEnvelope>> {
    let spec = match parse_spec(&body) {
        Ok(spec) => spec,
        Err(errors) => {
            // An unknown id is a 404 even with an invalid body.
            resource_fields::find(&state.pool, id).await?.ok_or_else(field_not_found)?;
            return Err(ApiError::Fields(
                StatusCode::BAD_REQUEST,
                json!({ "success": false, "errors": errors, "message": "Validation failed" }),
            ));
        }
    };
    let field = resource_fields::update(&state.pool, id, &spec)
        .await
        .map_err(|e| write_error(&spec, e))?
        .ok_or_else(field_not_found)?;
    Ok(Json(FieldEnvelope {
        success: true,
        message: "Resource field updated successfully".into(),
        field: ResourceFieldOut::from(&field),
    }))
}

/// Delete a resource field, unless values were submitted for it.
#[utoipa::path(delete, path = "/api/admin/products/resource-fields/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Field id")), security(("bearer" = [])),
    responses(
        (status = 200, body = FieldMessage, description = "`{success:true, message:\"Resource field deleted successfully\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{success:false, message:\"Resource field not found\"}`"),
        (status = 409, description = "`{success:false, message:\"Error deleting field: it has submitted values\"}`"),
    ))]
async fn delete_field(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Id(id): Id,
) -> ApiResult<Json<FieldMessage>> {
    match resource_fields::delete(&state.pool, id).await? {
        DeleteOutcome::Deleted => {
            Ok(Json(FieldMessage { success: true, message: "Resource field deleted successfully".into() }))
        }
        DeleteOutcome::NotFound => Err(field_not_found()),
        DeleteOutcome::InUse => {
            Err(ApiError::message(StatusCode::CONFLICT, "Error deleting field: it has submitted values"))
        }
    }
}

/// `(id, order)` pairs of `{field_orders:[{id, order}]}` or `{field_ids:[id…]}` (§5 #9).
fn parse_reorder(body: &Body) -> Result<Vec<(i64, i32)>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let present = |key: &str| body.0.get(key).filter(|v| !v.is_null());
    let not_list = |v: &Value| format!("Expected a list of items but got type \"{}\".", python_type(v));
    if let Some(list) = present("field_orders") {
        let Some(entries) = list.as_array() else {
            add_error(&mut errors, "field_orders", not_list(list));
            return Err(errors);
        };
        let pairs: Option<Vec<(i64, i32)>> = entries
            .iter()
            .map(|entry| {
                let entry = entry.as_object()?;
                let id = int_value(entry.get("id")?)?;
                let order = i32::try_from(int_value(entry.get("order")?)?).ok()?;
                Some((id, order))
            })
            .collect();
        pairs.ok_or_else(|| {
            add_error(&mut errors, "field_orders", "Each item must have an integer \"id\" and \"order\".");
            errors
        })
    } else if let Some(list) = present("field_ids") {
        let Some(ids) = list.as_array() else {
            add_error(&mut errors, "field_ids", not_list(list));
            return Err(errors);
        };
        let pairs: Option<Vec<(i64, i32)>> = ids
            .iter()
            .enumerate()
            .map(|(position, id)| Some((int_value(id)?, i32::try_from(position).ok()?)))
            .collect();
        pairs.ok_or_else(|| {
            add_error(&mut errors, "field_ids", "A valid integer is required.");
            errors
        })
    } else {
        add_error(&mut errors, "field_orders", "This field is required.");
        Err(errors)
    }
}

/// Set the order of resource fields: `{field_orders:[{id, order}]}` or `{field_ids:[id…]}`
/// (§5 #9, `order` = 0-based position); unknown ids are ignored.
#[utoipa::path(patch, path = "/api/admin/products/resource-fields/reorder/", tag = "admin-catalogue",
    request_body = FieldReorderRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = FieldMessage, description = "`{success:true, message:\"Resource fields reordered successfully\"}`"),
        (status = 400, description = "`{success:false, errors:{field_orders:[msg]}}`"),
        (status = 401), (status = 403),
    ))]
async fn reorder_fields(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    body: Body,
) -> ApiResult<Json<FieldMessage>> {
    let orders = parse_reorder(&body).map_err(|e| ApiError::Errors(StatusCode::BAD_REQUEST, Value::Object(e)))?;
    resource_fields::reorder(&state.pool, &orders).await?;
    Ok(Json(FieldMessage { success: true, message: "Resource fields reordered successfully".into() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Body {
        Body(v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn spec_defaults_and_rules() {
        let spec = parse_spec(&body(json!({"field_name": " Photo ", "field_type": "image"}))).unwrap();
        assert_eq!(spec.field_name, "Photo");
        assert!(spec.is_required);
        assert_eq!(spec.order, 0);
        let errors = parse_spec(&body(json!({"field_name": "D", "field_type": "document", "max_file_size_mb": 21})))
            .unwrap_err();
        assert_eq!(errors["max_file_size_mb"], json!(["Ensure this value is less than or equal to 20."]));
        assert!(
            parse_spec(&body(json!({"field_name": "D", "field_type": "document", "max_file_size_mb": 20}))).is_ok()
        );
        assert!(parse_spec(&body(json!({"field_name": "N", "field_type": "number", "max_length": 900}))).is_ok());
    }

    #[test]
    fn reorder_forms() {
        assert_eq!(parse_reorder(&body(json!({"field_ids": [5, 6]}))).unwrap(), vec![(5, 0), (6, 1)]);
        assert_eq!(parse_reorder(&body(json!({"field_orders": [{"id": 5, "order": 3}]}))).unwrap(), vec![(5, 3)]);
        assert_eq!(parse_reorder(&body(json!({}))).unwrap_err()["field_orders"], json!(["This field is required."]));
    }
}
