//! One order as the desk shows it (API.md §4.6, §4.7, §5 #1, #2): its page, its payment records
//! and its whole status history.

use axum::Json;
use axum::extract::State;
use common::orders::admin::detail as loader;
use common::orders::{self as order_db};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{only_assignee, order_detail};
use crate::error::ApiResult;
use crate::extract::{Admin, Id, Staff};
use crate::routes::order_errors::order_404;
use crate::state::AppState;
use crate::views::order_desk::{AdminOrderDetail, PaymentRecord, StatusHistory};

/// The detail routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_order))
        .routes(routes!(staff_order))
        .routes(routes!(payment_records))
        .routes(routes!(status_history))
}

/// One order with everything the order page shows.
#[utoipa::path(get, path = "/api/admin/orders/{id}/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = AdminOrderDetail),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}`"),
    ))]
async fn admin_order(State(state): State<AppState>, _admin: Admin, Id(id): Id) -> ApiResult<Json<AdminOrderDetail>> {
    Ok(Json(order_detail(&state, id, None).await?))
}

/// One order (staff: only one assigned to them).
#[utoipa::path(get, path = "/api/staff/orders/{id}/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = AdminOrderDetail),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}` (also another staff member's order)"),
    ))]
async fn staff_order(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Id(id): Id,
) -> ApiResult<Json<AdminOrderDetail>> {
    Ok(Json(order_detail(&state, id, only_assignee(&auth)).await?))
}

/// The order's payment records, newest first (§5 #1).
#[utoipa::path(get, path = "/api/admin/orders/{id}/payment-records/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = Vec<PaymentRecord>),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}`"),
    ))]
async fn payment_records(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> ApiResult<Json<Vec<PaymentRecord>>> {
    order_db::get(&state.pool, id, None).await?.ok_or_else(order_404)?;
    let records = loader::records_with_people(&state.pool, id).await?;
    Ok(Json(records.rows.iter().map(|r| PaymentRecord::new(r, &records.people)).collect()))
}

/// The order's whole status history, newest first, with display labels (§5 #2).
#[utoipa::path(get, path = "/api/admin/orders/{id}/status-history/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = Vec<StatusHistory>),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}`"),
    ))]
async fn status_history(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> ApiResult<Json<Vec<StatusHistory>>> {
    order_db::get(&state.pool, id, None).await?.ok_or_else(order_404)?;
    let history = loader::full_history(&state.pool, id).await?;
    Ok(Json(history.rows.iter().map(|h| StatusHistory::new(h, &history.people)).collect()))
}
