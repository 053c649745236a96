//! Checklist templates of products under `/api/admin/products/` (API.md §4.9, §5 #6, #9, #18):
//! the tasks an order's checklist is built from (§7.5). Who: `admin*`.
//!
//! Also holds the DRF-style field parsers shared with [`super::admin_resource_fields`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::catalog::checklist_templates::{self, DeleteOutcome, NewTemplateItem, TemplateItem, TemplatePatch};
use common::catalog::{ProductType, product_exists};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{invalid_type, not_found};
use super::fields::{FieldErrors, ProductPath, bool_field, char_field, int_field, int_value};
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
    use serde_json::json;

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
