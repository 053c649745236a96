//! Checklist templates of products under `/api/admin/products/` (API.md §4.9, §5 #6, #9, #18):
//! the tasks an order's checklist is built from (§7.5). Who: `admin*`.
//!
//! Also holds [`nullable_integer`], shared with [`super::admin_resource_fields`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::catalog::checklist_templates::{self, DeleteOutcome, NewTemplateItem, TemplateItem, TemplatePatch};
use common::catalog::{ProductType, product_exists};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{invalid_type, not_found};
use crate::error::{ApiError, ApiResult};
use crate::extract::ProductPath;
use crate::extract::{AdminStar, Id};
use crate::input::{self, Field, FieldErrors, Payload, ReorderItem, Text, non_blank};
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
    /// Id.
    id: i64,
    /// Task name; becomes the checklist item's description.
    name: String,
    /// Explanation.
    description: String,
    /// Position among the product's items (ties by id).
    order: i32,
    /// Optional tasks do not count towards required progress.
    is_optional: bool,
    /// Expected effort.
    estimated_duration_minutes: Option<i32>,
    /// Asia/Kolkata, microseconds.
    created_at: String,
    /// `package` or `campaign`.
    product_type: String,
    /// The product's id.
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

/// `{message, items}` of the reorder.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistReordered {
    /// "Successfully reordered <n> items".
    message: String,
    /// The reordered items, by `order` then id.
    items: Vec<ChecklistTemplateOut>,
}

/// Body of a create or update. POST and PUT need `name` and `description`; PATCH sends any
/// subset.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChecklistTemplateRequest {
    /// ≤ 200 characters (trimmed); required on POST and PUT.
    #[serde(default)]
    #[schema(value_type = String)]
    pub name: Field,
    /// Non-blank; required on POST and PUT.
    #[serde(default)]
    #[schema(value_type = String)]
    pub description: Field,
    /// POST default: after the product's last item; absent on PUT or PATCH: kept (§5 #18).
    #[serde(default)]
    #[schema(value_type = i32)]
    pub order: Field,
    /// POST default false; absent on PUT or PATCH: kept.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_optional: Field,
    /// Absent on PUT or PATCH: kept; `null` or `""` clears.
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub estimated_duration_minutes: Field,
}

/// Body of the reorder: either form (§5 #9).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChecklistReorderRequest {
    /// `[{id, order}]`; wins when sent.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ReorderItem>>)]
    pub items: Field,
    /// The ids in their new order (`order` = 0-based position).
    #[serde(default)]
    #[schema(value_type = Option<Vec<i64>>)]
    pub item_ids: Field,
}

/// A DRF `IntegerField(allow_null=True)`: absent → `None` (kept); `null` or blank →
/// `Some(None)` (cleared); else [`input::integer`].
pub(super) fn nullable_integer(field: &Field) -> Result<Option<Option<i32>>, String> {
    match (field, non_blank(field)) {
        (Field::Absent, _) => Ok(None),
        (_, Field::Absent) => Ok(Some(None)),
        (sent, _) => input::integer(sent).map(Some),
    }
}

/// The fields of a body; `full` (POST, PUT): `name` and `description` are required.
fn template_fields(raw: &ChecklistTemplateRequest, full: bool) -> (FieldErrors, TemplatePatch) {
    let mut errors = FieldErrors::new();
    let text = |max| Text { required: full, allow_blank: false, max };
    let patch = TemplatePatch {
        name: errors.take("name", text(Some(200)).parse(&raw.name)).flatten(),
        description: errors.take("description", text(None).parse(&raw.description)).flatten(),
        order: errors.take("order", input::integer(&raw.order)).flatten(),
        is_optional: errors.take("is_optional", input::boolean(&raw.is_optional)).flatten(),
        estimated_duration_minutes: errors
            .take("estimated_duration_minutes", nullable_integer(&raw.estimated_duration_minutes))
            .flatten(),
    };
    (errors, patch)
}

impl TryFrom<ChecklistTemplateRequest> for NewTemplateItem {
    type Error = FieldErrors;

    /// POST: `name`, `description` required; `order` defaults to after the last item.
    fn try_from(raw: ChecklistTemplateRequest) -> Result<Self, FieldErrors> {
        let (errors, p) = template_fields(&raw, true);
        errors.finish(|| {
            Some(NewTemplateItem {
                name: p.name?,
                description: p.description?,
                order: p.order,
                is_optional: p.is_optional.unwrap_or(false),
                estimated_duration_minutes: p.estimated_duration_minutes.flatten(),
            })
        })
    }
}

/// A validated PUT (`FULL`: `name` and `description` required, the rest kept when absent,
/// §5 #18) or PATCH (any subset).
#[derive(Debug)]
pub struct Update<const FULL: bool>(pub TemplatePatch);

/// A PUT.
pub type Replacement = Update<true>;
/// A PATCH.
pub type Change = Update<false>;

impl<const FULL: bool> TryFrom<ChecklistTemplateRequest> for Update<FULL> {
    type Error = FieldErrors;

    fn try_from(raw: ChecklistTemplateRequest) -> Result<Self, FieldErrors> {
        let (errors, patch) = template_fields(&raw, FULL);
        errors.finish(|| Some(Update(patch)))
    }
}

/// `(id, order)` pairs of a reorder, at least one.
#[derive(Debug, PartialEq, Eq)]
pub struct TemplateOrders(pub Vec<(i64, i32)>);

impl TryFrom<ChecklistReorderRequest> for TemplateOrders {
    type Error = TemplateError;

    fn try_from(raw: ChecklistReorderRequest) -> Result<Self, TemplateError> {
        match input::reorder(("items", &raw.items), ("item_ids", &raw.item_ids)) {
            Ok(pairs) if !pairs.is_empty() => Ok(TemplateOrders(pairs)),
            _ => Err(TemplateError::BadReorder),
        }
    }
}

/// Why a checklist-template request is refused.
#[derive(Debug)]
pub enum TemplateError {
    /// 404 `{"detail":"No ChecklistTemplateItem matches the given query."}`.
    NotFound,
    /// 409 `{"error"}`: an order checklist uses the item.
    InUse,
    /// 400 `{"error":"Items array is required with format: …"}`.
    BadReorder,
    /// 404 `{"error":"One or more checklist items not found"}`; nothing changed.
    UnknownInReorder,
}

impl From<TemplateError> for ApiError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::NotFound => {
                ApiError::detail(StatusCode::NOT_FOUND, "No ChecklistTemplateItem matches the given query.")
            }
            TemplateError::InUse => ApiError::error(
                StatusCode::CONFLICT,
                "Cannot delete a checklist template item that is used by an order checklist",
            ),
            TemplateError::BadReorder => ApiError::error(
                StatusCode::BAD_REQUEST,
                r#"Items array is required with format: [{"id": 1, "order": 0}, ...]"#,
            ),
            TemplateError::UnknownInReorder => {
                ApiError::error(StatusCode::NOT_FOUND, "One or more checklist items not found")
            }
        }
    }
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
    Payload(raw): Payload<ChecklistTemplateRequest>,
) -> ApiResult<(StatusCode, Json<ChecklistTemplateOut>)> {
    let kind = ProductType::parse(&path.kind).ok_or_else(invalid_type)?;
    let new = match NewTemplateItem::try_from(raw) {
        Ok(new) => new,
        Err(errors) => {
            // The product's 404 comes before the body's 400, as in the original view.
            existing_product(&state, &path).await?;
            return Err(errors.bare());
        }
    };
    let item = checklist_templates::create(&state.pool, kind, path.id, &new).await?.ok_or_else(|| not_found(kind))?;
    Ok((StatusCode::CREATED, Json(ChecklistTemplateOut::from(&item))))
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
    let item = checklist_templates::find(&state.pool, id).await?.ok_or(TemplateError::NotFound)?;
    Ok(Json(ChecklistTemplateOut::from(&item)))
}

/// Applies a validated change; an invalid body of an unknown id is that id's 404.
async fn update(
    state: AppState,
    id: i64,
    patch: Result<TemplatePatch, FieldErrors>,
) -> ApiResult<Json<ChecklistTemplateOut>> {
    let patch = match patch {
        Ok(p) => p,
        Err(errors) => {
            checklist_templates::find(&state.pool, id).await?.ok_or(TemplateError::NotFound)?;
            return Err(errors.bare());
        }
    };
    let item = checklist_templates::update(&state.pool, id, &patch).await?.ok_or(TemplateError::NotFound)?;
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
    Payload(raw): Payload<ChecklistTemplateRequest>,
) -> ApiResult<Json<ChecklistTemplateOut>> {
    update(state, id, Replacement::try_from(raw).map(|r| r.0)).await
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
    Payload(raw): Payload<ChecklistTemplateRequest>,
) -> ApiResult<Json<ChecklistTemplateOut>> {
    update(state, id, Change::try_from(raw).map(|c| c.0)).await
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
        DeleteOutcome::NotFound => Err(TemplateError::NotFound.into()),
        DeleteOutcome::InUse => Err(TemplateError::InUse.into()),
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
    Payload(raw): Payload<ChecklistReorderRequest>,
) -> ApiResult<Json<ChecklistReordered>> {
    let TemplateOrders(orders) = TemplateOrders::try_from(raw)?;
    let items = checklist_templates::reorder(&state.pool, &orders).await?.ok_or(TemplateError::UnknownInReorder)?;
    Ok(Json(ChecklistReordered {
        message: format!("Successfully reordered {} items", orders.len()),
        items: items.iter().map(ChecklistTemplateOut::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::{Value, json};

    use super::*;

    fn raw<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn post_put_and_patch_bodies() {
        let new = NewTemplateItem::try_from(raw::<ChecklistTemplateRequest>(
            json!({"name": " Call ", "description": "d", "order": "10", "is_optional": "yes", "estimated_duration_minutes": ""}),
        ))
        .unwrap();
        assert_eq!(
            (new.name.as_str(), new.order, new.is_optional, new.estimated_duration_minutes),
            ("Call", Some(10), true, None)
        );
        let e = Replacement::try_from(raw::<ChecklistTemplateRequest>(json!({"order": 3}))).unwrap_err();
        assert_eq!(
            e.into_value(),
            json!({"name": ["This field is required."], "description": ["This field is required."]})
        );
        let Update(p) =
            Change::try_from(raw::<ChecklistTemplateRequest>(json!({"estimated_duration_minutes": null}))).unwrap();
        assert_eq!((p.name, p.order, p.estimated_duration_minutes), (None, None, Some(None)));
        let Update(p) = Change::try_from(raw::<ChecklistTemplateRequest>(json!({}))).unwrap();
        assert_eq!(p.estimated_duration_minutes, None, "absent keeps the value");
        let e = Change::try_from(raw::<ChecklistTemplateRequest>(json!({"order": null, "is_optional": "maybe"})))
            .unwrap_err();
        assert_eq!(
            e.into_value(),
            json!({"order": ["This field may not be null."], "is_optional": ["Must be a valid boolean."]})
        );
    }

    #[test]
    fn reorder_bodies() {
        let orders = |v: Value| TemplateOrders::try_from(raw::<ChecklistReorderRequest>(v)).ok();
        assert_eq!(orders(json!({"items": [{"id": 3, "order": 1}]})), Some(TemplateOrders(vec![(3, 1)])));
        assert_eq!(orders(json!({"item_ids": [4, "2"]})), Some(TemplateOrders(vec![(4, 0), (2, 1)])));
        for bad in [json!({"items": []}), json!({"item_ids": []}), json!({"items": [{"id": 3}]}), json!({})] {
            assert_eq!(orders(bad), None);
        }
    }
}
