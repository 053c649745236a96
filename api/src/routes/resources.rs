//! The customer's view of the material of their order (API.md §4.5): `resources/` (the legacy
//! uploads per line), `resource-status/` (which lines are done) and `resource-fields/` (the
//! fields each line's product asks for, with what was submitted). Another user's order is
//! `404 {"error":"Order not found"}`, as on the other `/api/orders/` routes.
//!
//! Files are named by the secure-file routes' paths (§4.11), never by a storage key.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::orders::OrderItem as ItemRow;
use common::orders::admin::detail::{DynamicResource as DynamicRow, StaticResource as StaticRow};
use common::orders::resource_views::{self, LegacyFile, OrderMaterial};
use common::time::{ist, ist_opt};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin_resource_fields::ResourceFieldType;
use super::secure_files::{legacy_file_url, submission_url};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Signed};
use crate::state::AppState;
use crate::views::Num;
use crate::views::order_desk::ResourceValue;
use crate::views::orders::upload_progress;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(order_resources))
        .routes(routes!(resource_status))
        .routes(routes!(resource_fields))
}

fn order_not_found() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "Order not found")
}

/// One of the caller's orders with its material.
async fn own_material(state: &AppState, id: i64, user_id: i64, with_fields: bool) -> ApiResult<OrderMaterial> {
    resource_views::load_own(&state.pool, id, user_id, with_fields).await?.ok_or_else(order_not_found)
}

/// A line's legacy upload (`order_resource`, the original's OrderResource serializer): photo and
/// logo as their secure-file paths. Also the `resource` of `upload-resources/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderResource {
    /// Id.
    pub id: i64,
    /// The line's id.
    pub order_item: i64,
    /// `/api/secure-files/orders/{order_id}/candidate_photo/` (plus `?item=` for a line other than
    /// the order's first with an upload); null when none.
    pub candidate_photo: Option<String>,
    /// As `candidate_photo`, for the logo.
    pub party_logo: Option<String>,
    /// Slogan.
    pub campaign_slogan: String,
    /// `YYYY-MM-DD`.
    pub preferred_date: Option<String>,
    /// WhatsApp number.
    pub whatsapp_number: String,
    /// Notes.
    pub additional_notes: String,
    /// Asia/Kolkata.
    pub uploaded_at: String,
}

impl OrderResource {
    /// A legacy upload of order `order_id`, whose first line with an upload is `first_item`.
    pub fn new(order_id: i64, first_item: Option<i64>, r: &StaticRow) -> Self {
        let url = |file: LegacyFile| {
            (!file.of(r).is_empty()).then(|| legacy_file_url(order_id, file, r.order_item_id, first_item))
        };
        Self {
            id: r.id,
            order_item: r.order_item_id,
            candidate_photo: url(LegacyFile::CandidatePhoto),
            party_logo: url(LegacyFile::PartyLogo),
            campaign_slogan: r.campaign_slogan.clone(),
            preferred_date: r.preferred_date.map(|d| d.to_string()),
            whatsapp_number: r.whatsapp_number.clone(),
            additional_notes: r.additional_notes.clone(),
            uploaded_at: ist(r.uploaded_at),
        }
    }
}

/// A line with its legacy upload.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineResources {
    /// Line id.
    pub id: i64,
    /// `package` or `campaign`.
    pub item_type: String,
    /// The product's name (`Unknown Product` once deleted).
    pub item_name: String,
    /// Quantity.
    pub quantity: i32,
    /// The line's material is in.
    pub resources_uploaded: bool,
    /// The legacy upload; null when the line has none.
    pub resources: Option<OrderResource>,
}

/// `200` of `resources/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderResources {
    /// Order id.
    pub order_id: i64,
    /// `EC-…`.
    pub order_number: String,
    /// §7.1 status.
    pub status: String,
    /// The lines, in insertion order.
    pub items: Vec<LineResources>,
}

impl From<&OrderMaterial> for OrderResources {
    fn from(m: &OrderMaterial) -> Self {
        let first = m.first_static_item();
        Self {
            order_id: m.order.id,
            order_number: m.order.order_number.clone(),
            status: m.order.status.clone(),
            items: m
                .items
                .iter()
                .map(|i| LineResources {
                    id: i.id,
                    item_type: i.product_type.clone(),
                    item_name: i.name().to_string(),
                    quantity: i.quantity,
                    resources_uploaded: i.resources_uploaded,
                    resources: m.static_of(i).map(|r| OrderResource::new(m.order.id, first, r)),
                })
                .collect(),
        }
    }
}

/// The legacy uploads of one of the caller's orders, per line.
#[utoipa::path(get, path = "/api/orders/{id}/resources/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = OrderResources),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
    ))]
async fn order_resources(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
) -> ApiResult<Json<OrderResources>> {
    let material = own_material(&state, id, auth.user.id, false).await?;
    Ok(Json(OrderResources::from(&material)))
}

/// A line still waiting for material, with its price.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingLine {
    /// Line id.
    pub id: i64,
    /// `package` or `campaign`.
    pub item_type: String,
    /// The product's name.
    pub item_name: String,
    /// Quantity.
    pub quantity: i32,
    /// Unit price at order time (a number).
    pub price: Num,
}

/// A line whose material is in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadedLine {
    /// Line id.
    pub id: i64,
    /// `package` or `campaign`.
    pub item_type: String,
    /// The product's name.
    pub item_name: String,
    /// Quantity.
    pub quantity: i32,
    /// When it came in (Asia/Kolkata): the legacy upload's time, else the latest submission's;
    /// null when neither exists (e.g. a manual order's lines, marked done by the desk).
    pub uploaded_at: Option<String>,
}

/// `200` of `resource-status/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceStatus {
    /// Order id.
    pub order_id: i64,
    /// `EC-…`.
    pub order_number: String,
    /// §7.1 status.
    pub status: String,
    /// Number of lines.
    pub total_items: i64,
    /// Percentage of lines with their material in.
    pub progress_percentage: i64,
    /// Every line's material is in.
    pub all_resources_uploaded: bool,
    /// Lines still waiting for material.
    pub pending_items: Vec<PendingLine>,
    /// Lines whose material is in.
    pub uploaded_items: Vec<UploadedLine>,
}

impl From<&OrderMaterial> for ResourceStatus {
    fn from(m: &OrderMaterial) -> Self {
        let (uploaded, pending): (Vec<&ItemRow>, Vec<&ItemRow>) = m.items.iter().partition(|i| i.resources_uploaded);
        Self {
            order_id: m.order.id,
            order_number: m.order.order_number.clone(),
            status: m.order.status.clone(),
            total_items: m.items.len() as i64,
            progress_percentage: upload_progress(&m.items),
            all_resources_uploaded: pending.is_empty(),
            pending_items: pending
                .into_iter()
                .map(|i| PendingLine {
                    id: i.id,
                    item_type: i.product_type.clone(),
                    item_name: i.name().to_string(),
                    quantity: i.quantity,
                    price: Num(i.price),
                })
                .collect(),
            uploaded_items: uploaded
                .into_iter()
                .map(|i| UploadedLine {
                    id: i.id,
                    item_type: i.product_type.clone(),
                    item_name: i.name().to_string(),
                    quantity: i.quantity,
                    uploaded_at: ist_opt(m.uploaded_at(i)),
                })
                .collect(),
        }
    }
}

/// Which lines of one of the caller's orders still wait for material.
#[utoipa::path(get, path = "/api/orders/{id}/resource-status/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = ResourceStatus),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
    ))]
async fn resource_status(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
) -> ApiResult<Json<ResourceStatus>> {
    let material = own_material(&state, id, auth.user.id, false).await?;
    Ok(Json(ResourceStatus::from(&material)))
}

/// A submitted value as the clients read it: text, phone and date as text, numbers as
/// integers, files as their secure-file path; `None` when nothing usable is stored.
pub fn submitted_value(d: &DynamicRow) -> Option<ResourceValue> {
    match d.field_type.as_str() {
        "number" => d.number_value.map(ResourceValue::Number),
        "image" | "document" => {
            d.file_value.as_deref().filter(|f| !f.is_empty()).map(|_| ResourceValue::Text(submission_url(d.id)))
        }
        _ => d.text_value.clone().map(ResourceValue::Text),
    }
}

/// A resource field of a line's product, with the line's submission for it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldWithValue {
    /// Field definition id (the form key is `field_<id>`).
    pub id: i64,
    /// Label.
    pub field_name: String,
    /// Kind of value.
    #[schema(value_type = ResourceFieldType)]
    pub field_type: String,
    /// A value must be submitted.
    pub is_required: bool,
    /// Position among the product's fields.
    pub order: i32,
    /// Hint.
    pub help_text: String,
    /// File size limit in MB.
    pub max_file_size_mb: Option<i32>,
    /// Text length limit.
    pub max_length: Option<i32>,
    /// Smallest number accepted.
    pub min_value: Option<i32>,
    /// Largest number accepted.
    pub max_value: Option<i32>,
    /// `[".pdf", …]`, as stored.
    #[schema(value_type = Vec<String>)]
    pub allowed_extensions: Value,
    /// The line has a submission for this field.
    pub submitted: bool,
    /// That submission's id.
    pub submission_id: Option<i64>,
    /// Its value: text, phone and date as text, numbers as integers, files as
    /// `/api/secure-files/resources/{submission_id}/`; null when not submitted.
    pub value: Option<ResourceValue>,
}

/// A line with the fields of its product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemFields {
    /// Line id (the form's `order_item_id`).
    pub order_item_id: i64,
    /// `package` or `campaign`.
    pub item_type: String,
    /// The product's name.
    pub item_name: String,
    /// Quantity.
    pub quantity: i32,
    /// The line's material is in.
    pub resources_uploaded: bool,
    /// The product's fields by position, with what was submitted.
    pub fields: Vec<FieldWithValue>,
}

/// `200` of `resource-fields/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceFields {
    /// Order id.
    pub order_id: i64,
    /// `EC-…`.
    pub order_number: String,
    /// §7.1 status.
    pub status: String,
    /// The lines, in insertion order.
    pub items: Vec<ItemFields>,
}

impl ItemFields {
    fn new(m: &OrderMaterial, item: &ItemRow) -> Self {
        let fields = m
            .fields_of(item)
            .map(|f| {
                let submission = m.submission(item, f.id);
                FieldWithValue {
                    id: f.id,
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
                    submitted: submission.is_some(),
                    submission_id: submission.map(|s| s.id),
                    value: submission.and_then(submitted_value),
                }
            })
            .collect();
        Self {
            order_item_id: item.id,
            item_type: item.product_type.clone(),
            item_name: item.name().to_string(),
            quantity: item.quantity,
            resources_uploaded: item.resources_uploaded,
            fields,
        }
    }
}

impl From<&OrderMaterial> for ResourceFields {
    fn from(m: &OrderMaterial) -> Self {
        Self {
            order_id: m.order.id,
            order_number: m.order.order_number.clone(),
            status: m.order.status.clone(),
            items: m.items.iter().map(|i| ItemFields::new(m, i)).collect(),
        }
    }
}

/// The fields each line of one of the caller's orders asks for, with what was submitted (the
/// customer site adds `?t=` against caches; it is ignored).
#[utoipa::path(get, path = "/api/orders/{id}/resource-fields/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = ResourceFields),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
    ))]
async fn resource_fields(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
) -> ApiResult<Json<ResourceFields>> {
    let material = own_material(&state, id, auth.user.id, true).await?;
    Ok(Json(ResourceFields::from(&material)))
}
