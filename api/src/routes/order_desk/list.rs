//! The desk's order lists (API.md §4.6, §4.7, §1 bare-array rule, §5 #7, #21) and the dashboard
//! statistics.

use axum::Json;
use axum::extract::{Query, RawQuery, State};
use common::orders::admin::list::{self, AssigneeFilter, ListFilter, Statistics, StatusFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::only_assignee;
use crate::error::ApiResult;
use crate::extract::{Admin, Staff};
use crate::pagination::{Page, PageLinks, PageSpec, window};
use crate::state::AppState;
use crate::views::order_desk::{AdminOrderRow, Listing};

/// The list routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(statistics)).routes(routes!(list_orders)).routes(routes!(staff_orders))
}

/// `orders/statistics/`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct OrderStatistics {
    /// pending_payment + pending_resources.
    pub pending: i64,
    /// assigned.
    pub assigned: i64,
    /// in_progress.
    pub in_progress: i64,
    /// completed.
    pub completed: i64,
    /// All orders.
    pub total: i64,
}

impl From<Statistics> for OrderStatistics {
    fn from(s: Statistics) -> Self {
        Self {
            pending: s.pending,
            assigned: s.assigned,
            in_progress: s.in_progress,
            completed: s.completed,
            total: s.total,
        }
    }
}

/// Counts for the dashboard.
#[utoipa::path(get, path = "/api/admin/orders/statistics/", tag = "order desk", security(("bearer" = [])),
    responses((status = 200, body = OrderStatistics), (status = 401), (status = 403)))]
async fn statistics(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<OrderStatistics>> {
    Ok(Json(list::statistics(&state.pool).await?.into()))
}

/// Query of the admin list.
#[derive(Debug, Deserialize, IntoParams)]
struct ListQuery {
    /// A status, or `pending` (pending_payment + pending_resources); unknown values match nothing.
    status: Option<String>,
    /// A staff id or `unassigned`.
    assigned_to: Option<String>,
    /// Order number, customer phone or username.
    search: Option<String>,
    /// Page (the envelope); absent: a bare array of all rows.
    page: Option<String>,
}

/// The §1 list: every row without `?page`, the DRF envelope with it.
async fn listing(
    state: &AppState,
    path: &str,
    query: Option<&str>,
    filter: &ListFilter,
    page: Option<&str>,
) -> ApiResult<Listing<AdminOrderRow>> {
    let Some(raw) = page else {
        let rows = list::list(&state.pool, filter, None).await?;
        return Ok(Listing::All(AdminOrderRow::all(&rows)));
    };
    let spec = PageSpec::parse(Some(raw))?;
    let n = match spec {
        PageSpec::Number(n) => n,
        PageSpec::Last => spec.resolve(list::list(&state.pool, filter, Some((0, 0))).await?.count)?,
    };
    let rows = list::list(&state.pool, filter, Some(window(n))).await?;
    spec.resolve(rows.count)?;
    let links = PageLinks { base: &state.cfg.public_base_url, path, query, explicit_first: true };
    Ok(Listing::Page(Page::new(&links, n, rows.count, AdminOrderRow::all(&rows))))
}

/// All orders, newest first (bare array without `?page`).
#[utoipa::path(get, path = "/api/admin/orders/", tag = "order desk", security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, body = Listing<AdminOrderRow>, description = "[AdminOrderRow], or the DRF page with `?page`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`"),
    ))]
async fn list_orders(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<ListQuery>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Listing<AdminOrderRow>>> {
    let filter = ListFilter {
        status: StatusFilter::parse(q.status.as_deref()),
        assigned: AssigneeFilter::parse(q.assigned_to.as_deref()),
        search: q.search,
        only_assignee: None,
    };
    Ok(Json(listing(&state, "/api/admin/orders/", raw.as_deref(), &filter, q.page.as_deref()).await?))
}

/// Query of the staff list.
#[derive(Debug, Deserialize, IntoParams)]
struct StaffListQuery {
    /// A status, or `pending`.
    status: Option<String>,
    /// Page (the envelope); absent: a bare array.
    page: Option<String>,
}

/// Orders of the signed-in staff member (admins: all), newest first.
#[utoipa::path(get, path = "/api/staff/orders/", tag = "order desk", security(("bearer" = [])), params(StaffListQuery),
    responses(
        (status = 200, body = Listing<AdminOrderRow>, description = "[AdminOrderRow], or the DRF page with `?page`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`"),
    ))]
async fn staff_orders(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Query(q): Query<StaffListQuery>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Listing<AdminOrderRow>>> {
    let filter = ListFilter {
        status: StatusFilter::parse(q.status.as_deref()),
        assigned: AssigneeFilter::Any,
        search: None,
        only_assignee: only_assignee(&auth),
    };
    Ok(Json(listing(&state, "/api/staff/orders/", raw.as_deref(), &filter, q.page.as_deref()).await?))
}
