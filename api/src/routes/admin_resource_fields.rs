//! Resource-field definitions of products under `/api/admin/products/` (API.md §4.9, §7.4):
//! what customers submit for each ordered item. Who: role admin.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::catalog::checklist_templates::DeleteOutcome;
use common::catalog::resource_fields::{self, FieldDefinition, FieldSpec, FieldType, FieldWriteError, valid_extension};
use common::catalog::{ProductType, product_exists};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin_checklists::nullable_integer;
use super::catalog::not_found;
use crate::error::{ApiError, ApiResult};
use crate::extract::ProductPath;
use crate::extract::{Admin, Id};
use crate::input::not_a_list;
use crate::input::{self, Field, FieldErrors, Payload, ReorderItem, Text, choice};
use crate::state::AppState;
use crate::views::SuccessMessage;

/// The resource-field routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_fields, create_field))
        .routes(routes!(get_field, update_field, delete_field))
        .routes(routes!(reorder_fields))
}

/// The kinds of value a resource field takes: the document's form of [`FieldType`], its
/// values taken from [`FieldType::ALL`].
pub struct ResourceFieldType;

impl utoipa::PartialSchema for ResourceFieldType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(FieldType::ALL.map(FieldType::as_str)))
            .description(Some("Kind of value a resource field takes (API.md §7.4)."))
            .into()
    }
}

impl ToSchema for ResourceFieldType {}

/// §3 ResourceField.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceFieldOut {
    /// Id.
    id: i64,
    /// `package` or `campaign`.
    product_type: String,
    /// The product's id.
    product_id: i64,
    /// Label, unique per product.
    field_name: String,
    /// Kind of value.
    #[schema(value_type = ResourceFieldType)]
    field_type: String,
    /// A value must be submitted.
    is_required: bool,
    /// Position among the product's fields (ties by id).
    order: i32,
    /// Hint shown to the customer.
    help_text: String,
    /// File size limit in MB.
    max_file_size_mb: Option<i32>,
    /// Text length limit.
    max_length: Option<i32>,
    /// Smallest number accepted.
    min_value: Option<i32>,
    /// Largest number accepted.
    max_value: Option<i32>,
    /// `[".pdf", …]`, as stored.
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
    /// Always `true`.
    success: bool,
    /// The product's fields by `order`, then id.
    fields: Vec<ResourceFieldOut>,
}

/// `{success:true, message, field}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldEnvelope {
    /// Always `true`.
    success: bool,
    /// What was done.
    message: &'static str,
    /// The field as it is now.
    field: ResourceFieldOut,
}

impl FieldEnvelope {
    fn new(message: &'static str, field: &FieldDefinition) -> Self {
        Self { success: true, message, field: ResourceFieldOut::from(field) }
    }
}

/// Body of a create or full update (§7.4); absent optional fields take their defaults.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResourceFieldRequest {
    /// ≤ 100 characters (trimmed), unique per product.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub field_name: Field,
    /// Kind of value.
    #[serde(default)]
    #[schema(value_type = ResourceFieldType, required = true)]
    pub field_type: Field,
    /// Default true.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_required: Field,
    /// Default 0 (also on PUT).
    #[serde(default)]
    #[schema(value_type = i32)]
    pub order: Field,
    /// ≤ 200 characters, default "".
    #[serde(default)]
    #[schema(value_type = String)]
    pub help_text: Field,
    /// ≥ 1; image ≤ 10, document ≤ 20.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub max_file_size_mb: Field,
    /// ≥ 1; text ≤ 500.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub max_length: Field,
    /// ≤ `max_value`.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub min_value: Field,
    /// ≥ `min_value`.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub max_value: Field,
    /// Each starting with a dot, e.g. `".pdf"`.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub allowed_extensions: Field,
}

/// Body of the reorder: either form (§5 #9).
#[derive(Debug, Deserialize, ToSchema)]
pub struct FieldReorderRequest {
    /// `[{id, order}]`; wins when sent.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ReorderItem>>)]
    pub field_orders: Field,
    /// The ids in their new order (`order` = 0-based position).
    #[serde(default)]
    #[schema(value_type = Option<Vec<i64>>)]
    pub field_ids: Field,
}

/// `allowed_extensions`: a list of `.ext` strings; absent → none.
fn allowed_extensions(field: &Field) -> Result<Vec<String>, String> {
    match field {
        Field::Absent => Ok(Vec::new()),
        Field::Null => Err("This field may not be null.".into()),
        Field::Value(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::trim).filter(|e| valid_extension(e)).map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| "Each extension must be a string starting with a dot, e.g. \".pdf\".".into()),
        Field::Value(other) => Err(not_a_list(other)),
    }
}

impl TryFrom<ResourceFieldRequest> for FieldSpec {
    type Error = FieldErrors;

    /// Every field, then the rules between them (§7.4).
    fn try_from(raw: ResourceFieldRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let field_name = errors.take("field_name", Text::required(100).parse(&raw.field_name)).flatten();
        let field_type = choice(&raw.field_type, FieldType::parse)
            .and_then(|t| t.ok_or_else(|| "This field is required.".to_string()));
        let field_type = errors.take("field_type", field_type);
        let is_required = errors.take("is_required", input::boolean(&raw.is_required)).flatten().unwrap_or(true);
        let order = errors.take("order", input::integer(&raw.order)).flatten().unwrap_or(0);
        let help_text =
            errors.take("help_text", Text::optional(200).parse(&raw.help_text)).flatten().unwrap_or_default();
        let mut limit = |key: &str, field: &Field| errors.take(key, nullable_integer(field)).flatten().flatten();
        let max_file_size_mb = limit("max_file_size_mb", &raw.max_file_size_mb);
        let max_length = limit("max_length", &raw.max_length);
        let min_value = limit("min_value", &raw.min_value);
        let max_value = limit("max_value", &raw.max_value);
        let allowed_extensions =
            errors.take("allowed_extensions", allowed_extensions(&raw.allowed_extensions)).unwrap_or_default();

        // A limit is at least 1 and at most what the field's type allows.
        let mut bounded = |key: &str, value: Option<i32>, most: Option<i32>| match (value, most) {
            (Some(v), _) if v < 1 => errors.add(key, "Ensure this value is greater than or equal to 1."),
            (Some(v), Some(most)) if v > most => {
                errors.add(key, format!("Ensure this value is less than or equal to {most}."));
            }
            _ => {}
        };
        bounded("max_file_size_mb", max_file_size_mb, field_type.and_then(FieldType::max_file_size_limit_mb));
        bounded("max_length", max_length, field_type.and_then(FieldType::max_length_limit));
        if let (Some(min), Some(max)) = (min_value, max_value)
            && min > max
        {
            errors.add("min_value", "min_value cannot be greater than max_value.");
        }
        errors.finish(|| {
            Some(FieldSpec {
                field_name: field_name?,
                field_type: field_type?,
                is_required,
                order,
                help_text,
                max_file_size_mb,
                max_length,
                min_value,
                max_value,
                allowed_extensions,
            })
        })
    }
}

/// `(id, order)` pairs of a reorder (unknown ids are ignored when applied).
#[derive(Debug, PartialEq, Eq)]
pub struct FieldOrders(pub Vec<(i64, i32)>);

impl TryFrom<FieldReorderRequest> for FieldOrders {
    type Error = FieldErrors;

    fn try_from(raw: FieldReorderRequest) -> Result<Self, FieldErrors> {
        input::reorder(("field_orders", &raw.field_orders), ("field_ids", &raw.field_ids)).map(FieldOrders)
    }
}

/// Why a resource-field request is refused: `{success:false, …}` bodies.
#[derive(Debug)]
pub enum ResourceFieldError {
    /// 400 `{success:false, message:"Invalid product type. Must be package or campaign"}`.
    InvalidType,
    /// 404 `{success:false, message:"Resource field not found"}`.
    NotFound,
    /// 400 `{success:false, errors}` (create, reorder).
    Invalid(FieldErrors),
    /// 400 `{success:false, errors, message:"Validation failed"}` (update).
    InvalidUpdate(FieldErrors),
    /// 400 `{success:false, message:"Field with name \"<n>\" already exists for this product"}`.
    DuplicateName(String),
    /// 409 `{success:false, message:"Error deleting field: it has submitted values"}`.
    InUse,
}

impl From<ResourceFieldError> for ApiError {
    fn from(e: ResourceFieldError) -> Self {
        match e {
            ResourceFieldError::InvalidType => {
                ApiError::message(StatusCode::BAD_REQUEST, "Invalid product type. Must be package or campaign")
            }
            ResourceFieldError::NotFound => ApiError::message(StatusCode::NOT_FOUND, "Resource field not found"),
            ResourceFieldError::Invalid(errors) => errors.wrapped(),
            ResourceFieldError::InvalidUpdate(errors) => ApiError::Fields(
                StatusCode::BAD_REQUEST,
                json!({ "success": false, "errors": errors.into_value(), "message": "Validation failed" }),
            ),
            ResourceFieldError::DuplicateName(name) => ApiError::message(
                StatusCode::BAD_REQUEST,
                format!("Field with name \"{name}\" already exists for this product"),
            ),
            ResourceFieldError::InUse => {
                ApiError::message(StatusCode::CONFLICT, "Error deleting field: it has submitted values")
            }
        }
    }
}

fn write_error(spec: &FieldSpec, err: FieldWriteError) -> ApiError {
    match err {
        FieldWriteError::DuplicateName => ResourceFieldError::DuplicateName(spec.field_name.clone()).into(),
        FieldWriteError::Database(e) => e.into(),
    }
}

/// The product type of the path.
fn product_kind(path: &ProductPath) -> Result<ProductType, ResourceFieldError> {
    ProductType::parse(&path.kind).ok_or(ResourceFieldError::InvalidType)
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
    Payload(raw): Payload<ResourceFieldRequest>,
) -> ApiResult<(StatusCode, Json<FieldEnvelope>)> {
    let kind = product_kind(&path)?;
    let spec = match FieldSpec::try_from(raw) {
        Ok(spec) => spec,
        Err(errors) => {
            // The product's 404 comes before the body's 400.
            if !product_exists(&state.pool, kind, path.id).await? {
                return Err(not_found(kind));
            }
            return Err(ResourceFieldError::Invalid(errors).into());
        }
    };
    let field = resource_fields::create(&state.pool, kind, path.id, &spec)
        .await
        .map_err(|e| write_error(&spec, e))?
        .ok_or_else(|| not_found(kind))?;
    Ok((StatusCode::CREATED, Json(FieldEnvelope::new("Resource field created successfully", &field))))
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
    let field = resource_fields::find(&state.pool, id).await?.ok_or(ResourceFieldError::NotFound)?;
    Ok(Json(FieldEnvelope::new("GET request successful - URL is working!", &field)))
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
    Payload(raw): Payload<ResourceFieldRequest>,
) -> ApiResult<Json<FieldEnvelope>> {
    let spec = match FieldSpec::try_from(raw) {
        Ok(spec) => spec,
        Err(errors) => {
            // An unknown id is a 404 even with an invalid body.
            resource_fields::find(&state.pool, id).await?.ok_or(ResourceFieldError::NotFound)?;
            return Err(ResourceFieldError::InvalidUpdate(errors).into());
        }
    };
    let field = resource_fields::update(&state.pool, id, &spec)
        .await
        .map_err(|e| write_error(&spec, e))?
        .ok_or(ResourceFieldError::NotFound)?;
    Ok(Json(FieldEnvelope::new("Resource field updated successfully", &field)))
}

/// Delete a resource field, unless values were submitted for it.
#[utoipa::path(delete, path = "/api/admin/products/resource-fields/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path, description = "Field id")), security(("bearer" = [])),
    responses(
        (status = 200, body = SuccessMessage, description = "`{success:true, message:\"Resource field deleted successfully\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{success:false, message:\"Resource field not found\"}`"),
        (status = 409, description = "`{success:false, message:\"Error deleting field: it has submitted values\"}`"),
    ))]
async fn delete_field(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Id(id): Id,
) -> ApiResult<Json<SuccessMessage>> {
    match resource_fields::delete(&state.pool, id).await? {
        DeleteOutcome::Deleted => Ok(Json(SuccessMessage::new("Resource field deleted successfully"))),
        DeleteOutcome::NotFound => Err(ResourceFieldError::NotFound.into()),
        DeleteOutcome::InUse => Err(ResourceFieldError::InUse.into()),
    }
}

/// Set the order of resource fields: `{field_orders:[{id, order}]}` or `{field_ids:[id…]}`
/// (§5 #9, `order` = 0-based position); unknown ids are ignored.
#[utoipa::path(patch, path = "/api/admin/products/resource-fields/reorder/", tag = "admin-catalogue",
    request_body = FieldReorderRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = SuccessMessage, description = "`{success:true, message:\"Resource fields reordered successfully\"}`"),
        (status = 400, description = "`{success:false, errors:{field_orders:[msg]}}` (or `field_ids`)"),
        (status = 401), (status = 403),
    ))]
async fn reorder_fields(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Payload(raw): Payload<FieldReorderRequest>,
) -> ApiResult<Json<SuccessMessage>> {
    let FieldOrders(orders) = FieldOrders::try_from(raw).map_err(ResourceFieldError::Invalid)?;
    resource_fields::reorder(&state.pool, &orders).await?;
    Ok(Json(SuccessMessage::new("Resource fields reordered successfully")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(v: Value) -> Result<FieldSpec, Value> {
        FieldSpec::try_from(serde_json::from_value::<ResourceFieldRequest>(v).unwrap()).map_err(FieldErrors::into_value)
    }

    #[test]
    fn spec_defaults_and_rules() {
        let s = spec(json!({"field_name": " Photo ", "field_type": "image"})).unwrap();
        assert_eq!(s.field_name, "Photo");
        assert!(s.is_required);
        assert_eq!((s.order, s.help_text.as_str(), s.allowed_extensions.len()), (0, "", 0));
        let errors = spec(json!({"field_name": "D", "field_type": "document", "max_file_size_mb": 21})).unwrap_err();
        assert_eq!(errors["max_file_size_mb"], json!(["Ensure this value is less than or equal to 20."]));
        assert!(spec(json!({"field_name": "D", "field_type": "document", "max_file_size_mb": 20})).is_ok());
        assert!(spec(json!({"field_name": "N", "field_type": "number", "max_length": 900})).is_ok());
        let s = spec(json!({"field_name": "P", "field_type": "phone", "max_length": "", "max_value": null})).unwrap();
        assert_eq!((s.max_length, s.max_value), (None, None));
        assert_eq!(
            spec(json!({"field_type": null, "allowed_extensions": null})).unwrap_err(),
            json!({
                "field_name": ["This field is required."],
                "field_type": ["This field may not be null."],
                "allowed_extensions": ["This field may not be null."],
            })
        );
    }

    #[test]
    fn reorder_forms() {
        let orders = |v: Value| {
            FieldOrders::try_from(serde_json::from_value::<FieldReorderRequest>(v).unwrap())
                .map_err(FieldErrors::into_value)
        };
        assert_eq!(orders(json!({"field_ids": [5, 6]})).unwrap(), FieldOrders(vec![(5, 0), (6, 1)]));
        assert_eq!(orders(json!({"field_orders": [{"id": 5, "order": 3}]})).unwrap(), FieldOrders(vec![(5, 3)]));
        assert_eq!(orders(json!({})).unwrap_err()["field_orders"], json!(["This field is required."]));
    }
}
