//! Admin catalogue of packages and campaigns (API.md §4.9): list, create, full update, delete,
//! toggles, audit log, popular list.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::catalog::ProductType;
use common::catalog::products::{self, ProductInput, ProductWriteError};
use common::money::Money;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{invalid_type, not_found, product_json};
use super::fields::add_error;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, AdminStar, Body, Id};
use crate::state::AppState;

/// The admin product routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(create_package))
        .routes(routes!(create_campaign))
        .routes(routes!(get_product))
        .routes(routes!(update_product))
        .routes(routes!(delete_product))
        .routes(routes!(toggle_status))
        .routes(routes!(audit_logs))
        .routes(routes!(toggle_popular_package))
        .routes(routes!(toggle_popular_campaign))
        .routes(routes!(reorder_popular_packages))
        .routes(routes!(reorder_popular_campaigns))
}

/// Filters of the admin list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ProductFilter {
    /// Substring of the name, any case.
    search: Option<String>,
    /// `package` or `campaign`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Both types, newest first (§3 ProductRow).
#[utoipa::path(get, path = "/api/admin/products/", tag = "admin-catalogue", params(ProductFilter), security(("bearer" = [])),
    responses((status = 200, description = "[ProductRow]"), (status = 401), (status = 403)))]
async fn list_products(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Query(filter): Query<ProductFilter>,
) -> ApiResult<Json<Vec<Value>>> {
    let kind = filter.kind.as_deref().and_then(ProductType::parse);
    let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let rows = products::admin_list(&state.pool, kind, search).await?;
    Ok(Json(
        rows.iter()
            .map(|(k, p)| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "price": p.price,
                    "description": p.description,
                    "is_active": p.is_active,
                    "is_popular": p.is_popular,
                    "popular_order": p.popular_order,
                    "created_at": common::time::ist(p.created_at),
                    "updated_at": common::time::ist(p.updated_at),
                    "created_by_name": p.created_by_name.clone().unwrap_or_else(|| "N/A".into()),
                    "type": k.as_str(),
                    "hsn_sac": p.hsn_sac,
                    "gst_rate": p.gst_rate,
                })
            })
            .collect(),
    ))
}

fn required_text(body: &Body, errors: &mut Map<String, Value>, name: &str, max: Option<usize>) -> Option<String> {
    match body.text(name) {
        Err(_) => add_error(errors, name, "Not a valid string."),
        Ok(None) => add_error(errors, name, "This field is required."),
        Ok(Some(v)) if v.trim().is_empty() => add_error(errors, name, "This field may not be blank."),
        Ok(Some(v)) if max.is_some_and(|m| v.trim().chars().count() > m) => {
            add_error(errors, name, format!("Ensure this field has no more than {} characters.", max.unwrap_or(0)))
        }
        Ok(Some(v)) => return Some(v.trim().to_string()),
    }
    None
}

fn string_list(body: &Body, errors: &mut Map<String, Value>, name: &str) -> Vec<String> {
    match body.0.get(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    Value::Number(n) => out.push(n.to_string()),
                    _ => {
                        add_error(errors, name, "Each item must be a string.");
                        return Vec::new();
                    }
                }
            }
            out
        }
        Some(other) => {
            let t = match other {
                Value::String(_) => "str",
                Value::Object(_) => "dict",
                Value::Bool(_) => "bool",
                _ => "number",
            };
            add_error(errors, name, format!("Expected a list of items but got type \"{t}\"."));
            Vec::new()
        }
    }
}

fn bool_field(body: &Body, errors: &mut Map<String, Value>, name: &str) -> Option<bool> {
    match body.0.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if ["true", "1", "True"].contains(&s.as_str()) => Some(true),
        Some(Value::String(s)) if ["false", "0", "False"].contains(&s.as_str()) => Some(false),
        Some(_) => {
            add_error(errors, name, "Must be a valid boolean.");
            None
        }
    }
}

/// Validates a create or full-update body; `Err` carries the DRF field errors.
fn parse_input(state: &AppState, kind: ProductType, body: &Body) -> Result<ProductInput, ApiError> {
    let mut errors = Map::new();
    let name = required_text(body, &mut errors, "name", Some(200));
    let price = match body.0.get("price") {
        None | Some(Value::Null) => {
            add_error(&mut errors, "price", "This field is required.");
            None
        }
        Some(v) => match Money::from_json(v, 10) {
            Err(e) => {
                add_error(&mut errors, "price", e.to_string());
                None
            }
            Ok(m) if m.paise() <= 0 => {
                add_error(&mut errors, "price", "Price must be greater than zero.");
                None
            }
            Ok(m) => Some(m),
        },
    };
    let description = required_text(body, &mut errors, "description", None);
    let features = string_list(body, &mut errors, "features");
    let deliverables = string_list(body, &mut errors, "deliverables");
    let is_active = bool_field(body, &mut errors, "is_active");
    let items = if kind == ProductType::Package { parse_items(body, &mut errors) } else { None };
    let unit = if kind == ProductType::Campaign {
        required_text(body, &mut errors, "unit", Some(50)).unwrap_or_default()
    } else {
        String::new()
    };
    let hsn_sac = match body.text_non_empty("hsn_sac") {
        Err(_) => {
            add_error(&mut errors, "hsn_sac", "Not a valid string.");
            String::new()
        }
        Ok(None) => String::new(),
        Ok(Some(v)) => {
            let v = v.trim().to_string();
            if v.len() > 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
                add_error(&mut errors, "hsn_sac", "Enter an HSN or SAC code of at most 8 digits.");
            }
            v
        }
    };
    let gst_rate = match body.0.get("gst_rate") {
        None | Some(Value::Null) => {
            Money::parse(&state.cfg.gst_default_rate, 5).map(|m| m.to_string()).unwrap_or_else(|_| "18.00".into())
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            Money::parse(&state.cfg.gst_default_rate, 5).map(|m| m.to_string()).unwrap_or_else(|_| "18.00".into())
        }
        Some(v) => match Money::from_json(v, 5) {
            Ok(m) if (0..=10_000).contains(&m.paise()) => m.to_string(),
            Ok(_) => {
                add_error(&mut errors, "gst_rate", "GST rate must be between 0 and 100.");
                String::new()
            }
            Err(e) => {
                add_error(&mut errors, "gst_rate", e.to_string());
                String::new()
            }
        },
    };
    match (name, price, description, errors.is_empty()) {
        (Some(name), Some(price), Some(description), true) => Ok(ProductInput {
            name,
            price,
            description,
            features,
            deliverables,
            items,
            is_active,
            unit,
            hsn_sac,
            gst_rate,
        }),
        _ => Err(ApiError::Fields(StatusCode::BAD_REQUEST, Value::Object(errors))),
    }
}

fn parse_items(body: &Body, errors: &mut Map<String, Value>) -> Option<Vec<(String, i32)>> {
    let list = match body.0.get("items") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(list)) => list,
        Some(_) => {
            add_error(errors, "items", "Expected a list of items.");
            return None;
        }
    };
    let mut out = Vec::with_capacity(list.len());
    let mut item_errors = Vec::with_capacity(list.len());
    let mut bad = false;
    for entry in list {
        let mut e = Map::new();
        let name = match entry.get("name") {
            Some(Value::String(s)) if s.trim().is_empty() => {
                add_error(&mut e, "name", "This field may not be blank.");
                None
            }
            Some(Value::String(s)) if s.trim().chars().count() > 200 => {
                add_error(&mut e, "name", "Ensure this field has no more than 200 characters.");
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            None | Some(Value::Null) => {
                add_error(&mut e, "name", "This field is required.");
                None
            }
            Some(_) => {
                add_error(&mut e, "name", "Not a valid string.");
                None
            }
        };
        let quantity = match entry.get("quantity") {
            None | Some(Value::Null) => Some(1),
            Some(v) => match v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
                Some(q) if (1..=1_000_000).contains(&q) => i32::try_from(q).ok(),
                Some(_) => {
                    add_error(&mut e, "quantity", "Ensure this value is greater than or equal to 1.");
                    None
                }
                None => {
                    add_error(&mut e, "quantity", "A valid integer is required.");
                    None
                }
            },
        };
        bad |= !e.is_empty();
        item_errors.push(Value::Object(e));
        if let (Some(n), Some(q)) = (name, quantity) {
            out.push((n, q));
        }
    }
    if bad {
        errors.insert("items".into(), Value::Array(item_errors));
        return None;
    }
    Some(out)
}

fn write_error(kind: ProductType, err: ProductWriteError) -> ApiError {
    match err {
        ProductWriteError::NameTaken => ApiError::Fields(
            StatusCode::BAD_REQUEST,
            json!({"name": [format!("A {} with this name already exists.", kind.as_str())]}),
        ),
        ProductWriteError::PendingOrders => ApiError::error(
            StatusCode::BAD_REQUEST,
            "Cannot delete product with pending or in-progress orders. Please deactivate it instead.",
        ),
        ProductWriteError::TooManyPopular => ApiError::error(
            StatusCode::BAD_REQUEST,
            format!("Maximum 3 {}s can be marked as popular. Please unmark one first.", kind.as_str()),
        ),
        ProductWriteError::Database(e) => e.into(),
    }
}

async fn create(state: AppState, admin_id: i64, kind: ProductType, body: Body) -> ApiResult<Response> {
    let input = parse_input(&state, kind, &body)?;
    let product =
        products::create(&state.pool, kind, &input, Some(admin_id)).await.map_err(|e| write_error(kind, e))?;
    Ok((StatusCode::CREATED, Json(product_json(&state.cfg.public_base_url, kind, &product))).into_response())
}

/// Create a package.
#[utoipa::path(post, path = "/api/admin/products/package/", tag = "admin-catalogue", security(("bearer" = [])),
    responses((status = 201, description = "Package"), (status = 400, description = "`{field: [str]}`"), (status = 401), (status = 403)))]
async fn create_package(State(state): State<AppState>, AdminStar(admin): AdminStar, body: Body) -> ApiResult<Response> {
    create(state, admin.user.id, ProductType::Package, body).await
}

/// Create a campaign.
#[utoipa::path(post, path = "/api/admin/products/campaign/", tag = "admin-catalogue", security(("bearer" = [])),
    responses((status = 201, description = "Campaign"), (status = 400, description = "`{field: [str]}`"), (status = 401), (status = 403)))]
async fn create_campaign(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    body: Body,
) -> ApiResult<Response> {
    create(state, admin.user.id, ProductType::Campaign, body).await
}

fn parse_path(kind: &str, id: &str) -> ApiResult<(ProductType, i64)> {
    let kind = ProductType::parse(kind).ok_or_else(invalid_type)?;
    let id = id.parse::<i64>().map_err(|_| ApiError::detail(StatusCode::NOT_FOUND, "Not found."))?;
    Ok((kind, id))
}

/// One product, active or not.
#[utoipa::path(get, path = "/api/admin/products/{type}/{id}/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "Package or Campaign"), (status = 400, description = "Invalid product type"), (status = 404)))]
async fn get_product(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (kind, id) = parse_path(&kind, &id)?;
    let p = products::get(&state.pool, kind, id, false).await?.ok_or_else(|| not_found(kind))?;
    Ok(Json(product_json(&state.cfg.public_base_url, kind, &p)))
}

/// Full update; `items`, when sent, replace all (§5 #15: without them the items stay).
#[utoipa::path(put, path = "/api/admin/products/{type}/{id}/update/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "Package or Campaign"), (status = 400), (status = 404)))]
async fn update_product(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    Path((kind, id)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (kind, id) = parse_path(&kind, &id)?;
    let input = parse_input(&state, kind, &body)?;
    let p = products::update(&state.pool, kind, id, &input, Some(admin.user.id))
        .await
        .map_err(|e| write_error(kind, e))?
        .ok_or_else(|| not_found(kind))?;
    Ok(Json(product_json(&state.cfg.public_base_url, kind, &p)))
}

/// Delete, unless an unfinished order holds the product.
#[utoipa::path(delete, path = "/api/admin/products/{type}/{id}/delete/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 400, description = "`{\"error\":\"Cannot delete product with pending or in-progress orders. Please deactivate it instead.\"}`"), (status = 404)))]
async fn delete_product(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (kind, id) = parse_path(&kind, &id)?;
    if products::delete(&state.pool, kind, id, Some(admin.user.id)).await.map_err(|e| write_error(kind, e))? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(kind))
    }
}

/// Flip `is_active`.
#[utoipa::path(patch, path = "/api/admin/products/{type}/{id}/toggle-status/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "Package or Campaign"), (status = 404)))]
async fn toggle_status(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (kind, id) = parse_path(&kind, &id)?;
    let p = products::toggle_status(&state.pool, kind, id, Some(admin.user.id))
        .await
        .map_err(|e| write_error(kind, e))?
        .ok_or_else(|| not_found(kind))?;
    Ok(Json(product_json(&state.cfg.public_base_url, kind, &p)))
}

/// The product's audit log, newest first.
#[utoipa::path(get, path = "/api/admin/products/{type}/{id}/audit-logs/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "[AuditLog]"), (status = 404)))]
async fn audit_logs(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    let (kind, id) = parse_path(&kind, &id)?;
    let logs = products::audit_logs(&state.pool, kind, id).await?;
    // A deleted product keeps its log; only a product with neither is unknown.
    if logs.is_empty() && !common::catalog::product_exists(&state.pool, kind, id).await? {
        return Err(not_found(kind));
    }
    Ok(Json(
        logs.iter()
            .map(|a| {
                let display = match a.action.as_str() {
                    "create" => "Created",
                    "update" => "Updated",
                    "delete" => "Deleted",
                    "activate" => "Activated",
                    "deactivate" => "Deactivated",
                    other => other,
                };
                json!({
                    "id": a.id,
                    "action": a.action,
                    "action_display": display,
                    "user": a.user_id,
                    "user_name": a.user_name,
                    "timestamp": common::time::ist(a.timestamp),
                    "changes": a.changes,
                    "product_type": a.product_type,
                    "object_id": a.object_id,
                })
            })
            .collect(),
    ))
}

async fn toggle_popular(state: AppState, kind: ProductType, id: i64) -> ApiResult<Json<Value>> {
    let missing = || ApiError::error(StatusCode::NOT_FOUND, format!("{} not found", kind.model_name()));
    let p =
        products::toggle_popular(&state.pool, kind, id).await.map_err(|e| write_error(kind, e))?.ok_or_else(missing)?;
    Ok(Json(product_json(&state.cfg.public_base_url, kind, &p)))
}

/// Add to or remove from the popular packages (at most three).
#[utoipa::path(patch, path = "/api/admin/products/packages/{id}/toggle-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "Package"), (status = 400, description = "Maximum 3"), (status = 404, description = "`{\"error\":\"Package not found\"}`")))]
async fn toggle_popular_package(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    toggle_popular(state, ProductType::Package, id).await
}

/// Add to or remove from the popular campaigns (at most three).
#[utoipa::path(patch, path = "/api/admin/products/campaigns/{id}/toggle-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "Campaign"), (status = 400, description = "Maximum 3"), (status = 404, description = "`{\"error\":\"Campaign not found\"}`")))]
async fn toggle_popular_campaign(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    toggle_popular(state, ProductType::Campaign, id).await
}

async fn reorder(state: AppState, kind: ProductType, body: Body) -> ApiResult<Json<Value>> {
    let required = || ApiError::error(StatusCode::BAD_REQUEST, "Order array is required");
    let Some(Value::Array(list)) = body.0.get("order") else { return Err(required()) };
    let ids: Option<Vec<i64>> =
        list.iter().map(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))).collect();
    let ids = ids.ok_or_else(required)?;
    let rows = products::reorder_popular(&state.pool, kind, &ids).await?;
    let base = &state.cfg.public_base_url;
    Ok(Json(Value::Array(rows.iter().map(|p| product_json(base, kind, p)).collect())))
}

/// Set the order of the popular packages.
#[utoipa::path(patch, path = "/api/admin/products/packages/reorder-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    responses((status = 200, description = "[Package] popular, new order"), (status = 400, description = "`{\"error\":\"Order array is required\"}`")))]
async fn reorder_popular_packages(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    body: Body,
) -> ApiResult<Json<Value>> {
    reorder(state, ProductType::Package, body).await
}

/// Set the order of the popular campaigns.
#[utoipa::path(patch, path = "/api/admin/products/campaigns/reorder-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    responses((status = 200, description = "[Campaign] popular, new order"), (status = 400, description = "`{\"error\":\"Order array is required\"}`")))]
async fn reorder_popular_campaigns(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    body: Body,
) -> ApiResult<Json<Value>> {
    reorder(state, ProductType::Campaign, body).await
}
