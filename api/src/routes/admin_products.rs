//! Admin catalogue of packages and campaigns (API.md §4.9): list, create, full update, delete,
//! toggles, audit log, popular list.
//!
//! A create or update body is a [`PackageRequest`] or a [`CampaignRequest`] of raw fields,
//! parsed into a [`ProductDraft`] by the shared parsers of [`crate::input`]; unknown keys are
//! ignored (§5 #15).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use common::catalog::ProductType;
use common::catalog::products::{self, ProductInput, ProductWriteError};
use common::money::Money;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{not_found, product_type};
use crate::error::{ApiError, ApiResult};
use crate::extract::ProductPath;
use crate::extract::{Admin, AdminStar, Body, Id};
use crate::input::not_a_list;
use crate::input::{self, Field, FieldErrors, Payload, Text};
use crate::state::AppState;
use crate::views::catalog::{AuditLog, Campaign, Package, Product, ProductRow, ProductShape};

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
    /// `package` or `campaign` (anything else: both).
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The fields of a create or full-update body both types share.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProductFieldsRequest {
    /// Unique per type (any case), at most 200 characters.
    #[schema(value_type = String, required = true, max_length = 200)]
    #[serde(default)]
    pub name: Field,
    /// Greater than zero, at most 10 digits and 2 places: a number or a numeric string.
    #[schema(value_type = String, required = true, example = "4999.00")]
    #[serde(default)]
    pub price: Field,
    /// Not blank.
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    pub description: Field,
    /// Features.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default)]
    pub features: Field,
    /// Deliverables.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default)]
    pub deliverables: Field,
    /// Default true; absent on update: kept.
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub is_active: Field,
    /// HSN/SAC code, at most 8 digits (blank: none).
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub hsn_sac: Field,
    /// GST rate in percent, 0–100 (blank: `GST_DEFAULT_RATE`).
    #[schema(value_type = Option<String>, example = "18")]
    #[serde(default)]
    pub gst_rate: Field,
}

/// Body of a package's create or full update.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PackageRequest {
    /// The shared fields.
    #[serde(flatten)]
    pub product: ProductFieldsRequest,
    /// Items; on update, when sent, they replace all (absent: kept, §5 #15).
    #[schema(value_type = Option<Vec<PackageItemRequest>>)]
    #[serde(default)]
    pub items: Field,
}

/// One item of a package body.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PackageItemRequest {
    /// At most 200 characters.
    #[schema(max_length = 200)]
    name: String,
    /// 1 to 1,000,000 (default 1).
    #[schema(minimum = 1, maximum = 1_000_000)]
    quantity: Option<i32>,
}

/// Body of a campaign's create or full update.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CampaignRequest {
    /// The shared fields.
    #[serde(flatten)]
    pub product: ProductFieldsRequest,
    /// Unit of sale, at most 50 characters.
    #[schema(value_type = String, required = true, max_length = 50)]
    #[serde(default)]
    pub unit: Field,
}

/// Body of `{type}/{id}/update/`: the create body of the type.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum ProductRequest {
    /// `{type}` = package.
    Package(PackageRequest),
    /// `{type}` = campaign.
    Campaign(CampaignRequest),
}

/// Body of a popular reorder.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PopularOrderRequest {
    /// Ids of popular products in their new order (1-based positions); others are ignored.
    #[schema(value_type = Vec<i64>, required = true)]
    #[serde(default)]
    pub order: Field,
}

/// A validated create or full-update body.
#[derive(Debug, Clone)]
pub struct ProductDraft {
    name: String,
    price: Money,
    description: String,
    features: Vec<String>,
    deliverables: Vec<String>,
    items: Option<Vec<(String, i32)>>,
    is_active: Option<bool>,
    unit: String,
    hsn_sac: String,
    /// `None`: the configured default.
    gst_rate: Option<String>,
}

impl ProductDraft {
    /// The input of a write, with `GST_DEFAULT_RATE` when no rate was sent.
    fn into_input(self, default_gst_rate: &str) -> ProductInput {
        let default = || Money::parse(default_gst_rate, 5).map(|m| m.to_string()).unwrap_or_else(|_| "18.00".into());
        ProductInput {
            name: self.name,
            price: self.price,
            description: self.description,
            features: self.features,
            deliverables: self.deliverables,
            items: self.items,
            is_active: self.is_active,
            unit: self.unit,
            hsn_sac: self.hsn_sac,
            gst_rate: self.gst_rate.unwrap_or_else(default),
        }
    }
}

/// `[str]` (numbers read as written); absent or null → empty.
fn string_list(field: &Field) -> Result<Vec<String>, String> {
    match field {
        Field::Absent | Field::Null => Ok(Vec::new()),
        Field::Value(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err("Each item must be a string.".to_string()),
            })
            .collect(),
        Field::Value(other) => Err(not_a_list(other)),
    }
}

/// A price: a decimal of at most 10 digits, greater than zero.
fn price(field: &Field) -> Result<Money, String> {
    match input::amount(field, 10)? {
        None => Err("This field is required.".into()),
        Some(m) if m.paise() <= 0 => Err("Price must be greater than zero.".into()),
        Some(m) => Ok(m),
    }
}

/// An HSN or SAC code: up to 8 digits; blank or null → none.
fn hsn_sac(field: &Field) -> Result<String, String> {
    let code = Text { required: false, allow_blank: true, max: None }.parse(input::non_blank(field))?;
    let code = code.unwrap_or_default();
    if code.len() > 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Enter an HSN or SAC code of at most 8 digits.".into());
    }
    Ok(code)
}

/// A GST rate in percent, 0 to 100 with 2 places; blank or null → the default (`None`).
fn gst_rate(field: &Field) -> Result<Option<String>, String> {
    match input::amount(input::non_blank(field), 5)? {
        None => Ok(None),
        Some(m) if (0..=10_000).contains(&m.paise()) => Ok(Some(m.to_string())),
        Some(_) => Err("GST rate must be between 0 and 100.".into()),
    }
}

/// Most of one item a package may hold.
const MAX_ITEM_QUANTITY: i32 = 1_000_000;

/// A package's items: `[{name ≤ 200, quantity 1…1,000,000 (default 1)}]`; absent or null →
/// `None` (kept on update). Errors of the items come as a list of per-item objects.
fn package_items(field: &Field, errors: &mut FieldErrors) -> Option<Vec<(String, i32)>> {
    let list = match field {
        Field::Absent | Field::Null => return None,
        Field::Value(Value::Array(list)) => list,
        Field::Value(other) => {
            errors.add("items", not_a_list(other));
            return None;
        }
    };
    let mut items = Vec::with_capacity(list.len());
    let mut item_errors = Vec::with_capacity(list.len());
    for entry in list {
        let mut e = FieldErrors::new();
        let name = e.take("name", Text::required(200).parse(&input::member(entry, "name"))).flatten();
        let quantity = e.take("quantity", input::quantity_or_one(&input::member(entry, "quantity"), MAX_ITEM_QUANTITY));
        if let (Some(name), Some(quantity)) = (name, quantity) {
            items.push((name, quantity));
        }
        item_errors.push(e.into_value());
    }
    if item_errors.iter().any(|e| e.as_object().is_some_and(|m| !m.is_empty())) {
        errors.nest("items", Value::Array(item_errors));
        return None;
    }
    Some(items)
}

impl ProductDraft {
    /// Parses the shared fields, then completes the draft with the type's own (`items` or
    /// `unit`), reading them into the same errors.
    fn parse(
        f: &ProductFieldsRequest,
        own: impl FnOnce(&mut FieldErrors) -> (Option<Vec<(String, i32)>>, Option<String>),
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.take("name", Text::required(200).parse(&f.name)).flatten();
        let price = errors.take("price", price(&f.price));
        let description =
            errors.take("description", Text { required: true, allow_blank: false, max: None }.parse(&f.description));
        let features = errors.take("features", string_list(&f.features));
        let deliverables = errors.take("deliverables", string_list(&f.deliverables));
        let is_active = errors.take("is_active", input::boolean(&f.is_active));
        let hsn_sac = errors.take("hsn_sac", hsn_sac(&f.hsn_sac));
        let gst_rate = errors.take("gst_rate", gst_rate(&f.gst_rate));
        let (items, unit) = own(&mut errors);
        errors.finish(|| {
            Some(ProductDraft {
                name: name?,
                price: price?,
                description: description.flatten()?,
                features: features?,
                deliverables: deliverables?,
                items,
                is_active: is_active?,
                unit: unit.unwrap_or_default(),
                hsn_sac: hsn_sac?,
                gst_rate: gst_rate?,
            })
        })
    }
}

impl TryFrom<PackageRequest> for ProductDraft {
    type Error = FieldErrors;

    fn try_from(b: PackageRequest) -> Result<Self, FieldErrors> {
        ProductDraft::parse(&b.product, |errors| (package_items(&b.items, errors), None))
    }
}

impl TryFrom<CampaignRequest> for ProductDraft {
    type Error = FieldErrors;

    fn try_from(b: CampaignRequest) -> Result<Self, FieldErrors> {
        let unit = |errors: &mut FieldErrors| (None, errors.take("unit", Text::required(50).parse(&b.unit)).flatten());
        ProductDraft::parse(&b.product, unit)
    }
}

/// Both types, newest first (§3 ProductRow).
#[utoipa::path(get, path = "/api/admin/products/", tag = "admin-catalogue", params(ProductFilter), security(("bearer" = [])),
    responses((status = 200, description = "[ProductRow] newest first", body = Vec<ProductRow>), (status = 401), (status = 403)))]
async fn list_products(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Query(filter): Query<ProductFilter>,
) -> ApiResult<Json<Vec<ProductRow>>> {
    let kind = filter.kind.as_deref().and_then(ProductType::parse);
    let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let rows = products::admin_list(&state.pool, kind, search).await?;
    Ok(Json(rows.iter().map(|(k, p)| ProductRow::new(*k, p)).collect()))
}

fn write_error(kind: ProductType, err: ProductWriteError) -> ApiError {
    match err {
        ProductWriteError::NameTaken => {
            let mut errors = FieldErrors::new();
            errors.add("name", format!("A {} with this name already exists.", kind.as_str()));
            errors.bare()
        }
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

/// A type's body parsed into a draft (`400 {field: [msg]}` when refused).
fn draft<R>(raw: R) -> ApiResult<ProductDraft>
where
    ProductDraft: TryFrom<R, Error = FieldErrors>,
{
    ProductDraft::try_from(raw).map_err(FieldErrors::bare)
}

async fn create<S: ProductShape>(
    state: AppState,
    admin_id: i64,
    draft: ProductDraft,
) -> ApiResult<(StatusCode, Json<S>)> {
    let input = draft.into_input(&state.cfg.gst_default_rate);
    let product =
        state.catalog_cache.after_change(products::create(&state.pool, S::KIND, &input, Some(admin_id)).await);
    let product = product.map_err(|e| write_error(S::KIND, e))?;
    Ok((StatusCode::CREATED, Json(S::build(&state.cfg.public_base_url, &product))))
}

/// Create a package.
#[utoipa::path(post, path = "/api/admin/products/package/", tag = "admin-catalogue", security(("bearer" = [])),
    request_body = PackageRequest,
    responses((status = 201, description = "Package", body = Package),
        (status = 400, description = "`{field: [str]}` (\"A package with this name already exists.\", \"Price must be greater than zero.\")"),
        (status = 401), (status = 403)))]
async fn create_package(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    Payload(body): Payload<PackageRequest>,
) -> ApiResult<(StatusCode, Json<Package>)> {
    create(state, admin.user.id, draft(body)?).await
}

/// Create a campaign.
#[utoipa::path(post, path = "/api/admin/products/campaign/", tag = "admin-catalogue", security(("bearer" = [])),
    request_body = CampaignRequest,
    responses((status = 201, description = "Campaign", body = Campaign),
        (status = 400, description = "`{field: [str]}` (\"A campaign with this name already exists.\")"),
        (status = 401), (status = 403)))]
async fn create_campaign(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    Payload(body): Payload<CampaignRequest>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    create(state, admin.user.id, draft(body)?).await
}

/// One product, active or not.
#[utoipa::path(get, path = "/api/admin/products/{type}/{id}/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    responses((status = 200, description = "Package or Campaign", body = Product),
        (status = 400, description = "`{\"error\":\"Invalid product type. Must be \\\"package\\\" or \\\"campaign\\\"\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn get_product(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    path: ProductPath,
) -> ApiResult<Json<Product>> {
    let kind = product_type(&path.kind)?;
    let p = products::get(&state.pool, kind, path.id, false).await?.ok_or_else(|| not_found(kind))?;
    Ok(Json(Product::new(&state.cfg.public_base_url, kind, &p)))
}

/// The body of `kind`, read from the request's fields.
fn typed_draft(kind: ProductType, Body(fields): Body) -> ApiResult<ProductDraft> {
    match kind {
        ProductType::Package => draft(input::from_map::<PackageRequest>(fields)?),
        ProductType::Campaign => draft(input::from_map::<CampaignRequest>(fields)?),
    }
}

/// Full update; `items`, when sent, replace all (§5 #15: without them the items stay).
#[utoipa::path(put, path = "/api/admin/products/{type}/{id}/update/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    request_body = ProductRequest,
    responses((status = 200, description = "Package or Campaign", body = Product),
        (status = 400, description = "`{field: [str]}` or the invalid type's `{\"error\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn update_product(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    path: ProductPath,
    body: Body,
) -> ApiResult<Json<Product>> {
    let kind = product_type(&path.kind)?;
    let input = typed_draft(kind, body)?.into_input(&state.cfg.gst_default_rate);
    let p = state
        .catalog_cache
        .after_change(products::update(&state.pool, kind, path.id, &input, Some(admin.user.id)).await)
        .map_err(|e| write_error(kind, e))?
        .ok_or_else(|| not_found(kind))?;
    Ok(Json(Product::new(&state.cfg.public_base_url, kind, &p)))
}

/// Delete, unless an unfinished order holds the product.
#[utoipa::path(delete, path = "/api/admin/products/{type}/{id}/delete/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    responses((status = 204),
        (status = 400, description = "`{\"error\":\"Cannot delete product with pending or in-progress orders. Please deactivate it instead.\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn delete_product(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    path: ProductPath,
) -> ApiResult<StatusCode> {
    let kind = product_type(&path.kind)?;
    let deleted =
        state.catalog_cache.after_change(products::delete(&state.pool, kind, path.id, Some(admin.user.id)).await);
    if deleted.map_err(|e| write_error(kind, e))? { Ok(StatusCode::NO_CONTENT) } else { Err(not_found(kind)) }
}

/// Flip `is_active`.
#[utoipa::path(patch, path = "/api/admin/products/{type}/{id}/toggle-status/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    responses((status = 200, description = "Package or Campaign, `is_active` flipped", body = Product),
        (status = 400, description = "Invalid product type"), (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn toggle_status(
    State(state): State<AppState>,
    AdminStar(admin): AdminStar,
    path: ProductPath,
) -> ApiResult<Json<Product>> {
    let kind = product_type(&path.kind)?;
    let p = state
        .catalog_cache
        .after_change(products::toggle_status(&state.pool, kind, path.id, Some(admin.user.id)).await)
        .map_err(|e| write_error(kind, e))?
        .ok_or_else(|| not_found(kind))?;
    Ok(Json(Product::new(&state.cfg.public_base_url, kind, &p)))
}

/// The product's audit log, newest first (kept after a deletion).
#[utoipa::path(get, path = "/api/admin/products/{type}/{id}/audit-logs/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    responses((status = 200, description = "[AuditLog] newest first", body = Vec<AuditLog>),
        (status = 400, description = "Invalid product type"), (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}` (no product and no log)")))]
async fn audit_logs(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    path: ProductPath,
) -> ApiResult<Json<Vec<AuditLog>>> {
    let kind = product_type(&path.kind)?;
    let logs = products::audit_logs(&state.pool, kind, path.id).await?;
    // A deleted product keeps its log; only a product with neither is unknown.
    if logs.is_empty() && !common::catalog::product_exists(&state.pool, kind, path.id).await? {
        return Err(not_found(kind));
    }
    Ok(Json(logs.iter().map(AuditLog::from).collect()))
}

async fn toggle_popular<S: ProductShape>(state: AppState, id: i64) -> ApiResult<Json<S>> {
    let kind = S::KIND;
    let missing = || ApiError::error(StatusCode::NOT_FOUND, format!("{} not found", kind.model_name()));
    let p = state.catalog_cache.after_change(products::toggle_popular(&state.pool, kind, id).await);
    let p = p.map_err(|e| write_error(kind, e))?.ok_or_else(missing)?;
    Ok(Json(S::build(&state.cfg.public_base_url, &p)))
}

/// Add to or remove from the popular packages (at most three).
#[utoipa::path(patch, path = "/api/admin/products/packages/{id}/toggle-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "Package", body = Package),
        (status = 400, description = "`{\"error\":\"Maximum 3 packages can be marked as popular. Please unmark one first.\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"error\":\"Package not found\"}`")))]
async fn toggle_popular_package(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Id(id): Id,
) -> ApiResult<Json<Package>> {
    toggle_popular(state, id).await
}

/// Add to or remove from the popular campaigns (at most three).
#[utoipa::path(patch, path = "/api/admin/products/campaigns/{id}/toggle-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "Campaign", body = Campaign),
        (status = 400, description = "`{\"error\":\"Maximum 3 campaigns can be marked as popular. Please unmark one first.\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"error\":\"Campaign not found\"}`")))]
async fn toggle_popular_campaign(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Id(id): Id,
) -> ApiResult<Json<Campaign>> {
    toggle_popular(state, id).await
}

/// Ids of popular products in their new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopularOrder(pub Vec<i64>);

impl TryFrom<PopularOrderRequest> for PopularOrder {
    type Error = FieldErrors;

    fn try_from(b: PopularOrderRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let ids = errors.take("order", input::id_list(&b.order)).flatten();
        if ids.is_none() {
            errors.add("order", "This field is required.");
        }
        errors.finish(|| ids.map(PopularOrder))
    }
}

async fn reorder<S: ProductShape>(state: AppState, body: PopularOrderRequest) -> ApiResult<Json<Vec<S>>> {
    let PopularOrder(ids) = PopularOrder::try_from(body)
        .map_err(|_| ApiError::error(StatusCode::BAD_REQUEST, "Order array is required"))?;
    let rows = state.catalog_cache.after_change(products::reorder_popular(&state.pool, S::KIND, &ids).await)?;
    let base = &state.cfg.public_base_url;
    Ok(Json(rows.iter().map(|p| S::build(base, p)).collect()))
}

/// Set the order of the popular packages.
#[utoipa::path(patch, path = "/api/admin/products/packages/reorder-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    request_body = PopularOrderRequest,
    responses((status = 200, description = "[Package] popular, new order", body = Vec<Package>),
        (status = 400, description = "`{\"error\":\"Order array is required\"}`"),
        (status = 401), (status = 403)))]
async fn reorder_popular_packages(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Payload(body): Payload<PopularOrderRequest>,
) -> ApiResult<Json<Vec<Package>>> {
    reorder(state, body).await
}

/// Set the order of the popular campaigns.
#[utoipa::path(patch, path = "/api/admin/products/campaigns/reorder-popular/", tag = "admin-catalogue", security(("bearer" = [])),
    request_body = PopularOrderRequest,
    responses((status = 200, description = "[Campaign] popular, new order", body = Vec<Campaign>),
        (status = 400, description = "`{\"error\":\"Order array is required\"}`"),
        (status = 401), (status = 403)))]
async fn reorder_popular_campaigns(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Payload(body): Payload<PopularOrderRequest>,
) -> ApiResult<Json<Vec<Campaign>>> {
    reorder(state, body).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn package(v: Value) -> Result<ProductDraft, Value> {
        let raw: PackageRequest = serde_json::from_value(v).unwrap();
        ProductDraft::try_from(raw).map_err(FieldErrors::into_value)
    }

    #[test]
    fn a_package_body_parses_with_the_shared_parsers() {
        let d = package(json!({"name": " Kit ", "price": 10, "description": "d", "is_active": "no", "unit": "",
                               "items": [{"name": "Flags", "quantity": "3"}, {"name": "Caps"}]}))
        .unwrap();
        assert_eq!((d.name.as_str(), d.price, d.is_active), ("Kit", Money(1000), Some(false)));
        assert_eq!(d.items, Some(vec![("Flags".into(), 3), ("Caps".into(), 1)]));
        assert_eq!((d.unit.as_str(), d.hsn_sac.as_str(), d.gst_rate.as_deref()), ("", "", None));
        assert_eq!(
            package(json!({"price": "0", "description": "d", "features": "x", "gst_rate": "101", "hsn_sac": "12a",
                           "items": [{"name": ""}, {"name": "ok", "quantity": 0}]}))
            .unwrap_err(),
            json!({"name": ["This field is required."], "price": ["Price must be greater than zero."],
                   "features": ["Expected a list of items but got type \"str\"."],
                   "gst_rate": ["GST rate must be between 0 and 100."],
                   "hsn_sac": ["Enter an HSN or SAC code of at most 8 digits."],
                   "items": [{"name": ["This field may not be blank."]},
                             {"quantity": ["Ensure this value is greater than or equal to 1."]}]})
        );
    }

    #[test]
    fn a_campaign_needs_its_unit_and_ignores_items() {
        let raw: CampaignRequest =
            serde_json::from_value(json!({"name": "C", "price": "0.50", "description": "d", "items": "x"})).unwrap();
        assert_eq!(ProductDraft::try_from(raw).unwrap_err().into_value(), json!({"unit": ["This field is required."]}));
        let raw: CampaignRequest = serde_json::from_value(
            json!({"name": "C", "price": "0.50", "description": "d", "unit": "per 1000", "gst_rate": " "}),
        )
        .unwrap();
        let d = ProductDraft::try_from(raw).unwrap();
        assert_eq!((d.unit.as_str(), d.items, d.gst_rate), ("per 1000", None, None));
    }

    #[test]
    fn popular_order_is_a_list_of_ids() {
        let ids = |v: Value| PopularOrder::try_from(serde_json::from_value::<PopularOrderRequest>(v).unwrap());
        assert_eq!(ids(json!({"order": [3, "1"]})).unwrap(), PopularOrder(vec![3, 1]));
        assert!(ids(json!({})).is_err() && ids(json!({"order": ["x"]})).is_err() && ids(json!({"order": 1})).is_err());
    }
}
