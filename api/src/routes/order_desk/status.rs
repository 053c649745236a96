//! An admin moves an order (API.md §4.6, §6, §7.1, §7.2): assignment, any status, the payment
//! status.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::orders::admin::status;
use common::orders::{OrderStatus, PaymentStatus};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{null_as_absent, order_detail, required};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Id};
use crate::input::{self, Field, FieldErrors, Payload, Text};
use crate::routes::order_errors::desk_error;
use crate::state::AppState;
use crate::views::order_desk::OrderEnvelope;

/// The status routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(assign)).routes(routes!(update_status)).routes(routes!(update_payment_status))
}

/// Body of `assign/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AssignRequest {
    /// A staff or admin user.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub staff_id: Field,
}

/// The staff member to assign.
#[derive(Debug, Clone, Copy)]
struct Assignee(i64);

impl TryFrom<AssignRequest> for Assignee {
    type Error = FieldErrors;

    fn try_from(raw: AssignRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let id = errors.take("staff_id", required(input::id(null_as_absent(&raw.staff_id)))).flatten();
        errors.finish(|| id.map(Assignee))
    }
}

/// Assign to a staff member: status assigned, checklist built if missing, assignee notified.
#[utoipa::path(post, path = "/api/admin/orders/{id}/assign/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")), request_body = AssignRequest,
    responses(
        (status = 200, body = OrderEnvelope, description = "`{success, message:\"Order assigned to <username>\", order}`"),
        (status = 400, description = "`{\"staff_id\":[…]}` (required, not an integer, \"Staff member not found\", \"User must have staff or admin role\")"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}`"),
    ))]
async fn assign(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Id(id): Id,
    Payload(raw): Payload<AssignRequest>,
) -> ApiResult<Json<OrderEnvelope>> {
    let Assignee(staff_id) = raw.try_into().map_err(FieldErrors::bare)?;
    let username = status::assign(&state.pool, id, staff_id, auth.user.id).await.map_err(desk_error)?;
    let order = order_detail(&state, id, None).await?;
    Ok(Json(OrderEnvelope::new(format!("Order assigned to {username}"), order)))
}

/// Body of `update-status/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateStatusRequest {
    /// One of the eight §7.1 statuses.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub status: Field,
    /// Why (default "Status changed from <a> to <b>").
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub reason: Field,
}

/// A validated status change.
#[derive(Debug, Clone)]
struct StatusChange {
    status: OrderStatus,
    reason: String,
}

impl TryFrom<UpdateStatusRequest> for StatusChange {
    type Error = FieldErrors;

    fn try_from(raw: UpdateStatusRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let status = required(input::choice(null_as_absent(&raw.status), OrderStatus::parse));
        let status = errors.take("status", status).flatten();
        let reason = Text { required: false, allow_blank: true, max: None }.parse(null_as_absent(&raw.reason));
        let reason = errors.take("reason", reason).flatten().unwrap_or_default();
        errors.finish(|| Some(StatusChange { status: status?, reason }))
    }
}

/// Set any status (a manual change in the history).
#[utoipa::path(post, path = "/api/admin/orders/{id}/update-status/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")), request_body = UpdateStatusRequest,
    responses(
        (status = 200, body = OrderEnvelope, description = "`{success, message:\"Order status updated to <s>\", order}`"),
        (status = 400, description = "`{success:false, errors}` / `{success:false, message:\"Order is already in this status\"}`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}`"),
    ))]
async fn update_status(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Id(id): Id,
    Payload(raw): Payload<UpdateStatusRequest>,
) -> ApiResult<Json<OrderEnvelope>> {
    let change = StatusChange::try_from(raw).map_err(FieldErrors::wrapped)?;
    status::update_status(&state.pool, id, change.status, &change.reason, auth.user.id).await.map_err(desk_error)?;
    let order = order_detail(&state, id, None).await?;
    Ok(Json(OrderEnvelope::new(format!("Order status updated to {}", change.status.as_str()), order)))
}

/// Body of `update-payment-status/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdatePaymentStatusRequest {
    /// unpaid, partial, paid, refunded or cod.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub payment_status: Field,
}

impl TryFrom<UpdatePaymentStatusRequest> for PaymentStatus {
    type Error = ApiError;

    /// The view's own answers: `payment_status is required` (absent, null, blank or not text)
    /// and `Invalid payment status. …`.
    fn try_from(raw: UpdatePaymentStatusRequest) -> Result<Self, ApiError> {
        let text = Text { required: false, allow_blank: false, max: None }.parse(input::non_blank(&raw.payment_status));
        let Ok(Some(value)) = text else {
            return Err(ApiError::message(StatusCode::BAD_REQUEST, "payment_status is required"));
        };
        PaymentStatus::parse_exact(&value).ok_or_else(|| {
            ApiError::message(
                StatusCode::BAD_REQUEST,
                "Invalid payment status. Must be one of: unpaid, partial, paid, refunded, cod",
            )
        })
    }
}

/// Set the payment status; `paid` sets `payment_completed_at` (and the invoice number) if missing.
#[utoipa::path(post, path = "/api/admin/orders/{id}/update-payment-status/", tag = "order desk",
    security(("bearer" = [])), params(("id" = i64, Path, description = "Order id")),
    request_body = UpdatePaymentStatusRequest,
    responses(
        (status = 200, body = OrderEnvelope, description = "`{success, message:\"Payment status updated from <a> to <b>\", order}`"),
        (status = 400, description = "`{success:false, message:\"payment_status is required\"}` / `\"Invalid payment status. Must be one of: unpaid, partial, paid, refunded, cod\"`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}`"),
    ))]
async fn update_payment_status(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    Payload(raw): Payload<UpdatePaymentStatusRequest>,
) -> ApiResult<Json<OrderEnvelope>> {
    let new = PaymentStatus::try_from(raw)?;
    let old = status::update_payment_status(
        &state.pool,
        id,
        new,
        &common::orders::invoices::InvoiceSettings::of(&state.cfg),
        state.clock.now(),
    )
    .await
    .map_err(desk_error)?;
    let order = order_detail(&state, id, None).await?;
    Ok(Json(OrderEnvelope::new(format!("Payment status updated from {old} to {}", new.as_str()), order)))
}
