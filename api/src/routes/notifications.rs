//! `/api/admin/notifications/` (API.md §4.8, §5 #5, #11): any signed-in user's own notifications,
//! paged newest first, and marking them read (POST or PATCH).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use common::notifications::{self, Notification};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Signed};
use crate::pagination::{Page, PageLinks, PageSpec, window};
use crate::state::AppState;
use crate::views::SuccessMessage;

const LIST_PATH: &str = "/api/admin/notifications/";

/// The notification routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(mark_read_post, mark_read_patch))
        .routes(routes!(mark_all_read_post, mark_all_read_patch))
}

/// Query of the list (documentation; parsed from the raw query, the last value of a key wins as
/// in Django's `QueryDict.get`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQuery {
    /// `true` (or `1`, any case) → unread ones only.
    unread_only: Option<String>,
    /// 1-based page number (or `last`).
    page: Option<String>,
}

/// §3 Notification with the Rust additions `type` and `related_url` (§5 #11).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationView {
    /// Id.
    pub id: i64,
    /// `new_order`, `order_assigned`, `progress_update`, `order_completed`, `order_on_hold`,
    /// `payment_issue`.
    pub notification_type: String,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// The order it is about.
    pub order: Option<i64>,
    /// That order's number.
    pub order_number: Option<String>,
    /// Read yet.
    pub is_read: bool,
    /// Asia/Kolkata, microseconds.
    pub created_at: String,
    /// `order` when it is about an order, else `system`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `/orders/{order}` or null.
    pub related_url: Option<String>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id,
            notification_type: n.notification_type.clone(),
            title: n.title.clone(),
            message: n.message.clone(),
            order: n.order_id,
            order_number: n.order_number.clone(),
            is_read: n.is_read,
            created_at: common::time::ist(n.created_at),
            kind: if n.order_id.is_some() { "order" } else { "system" },
            related_url: n.order_id.map(|id| format!("/orders/{id}")),
        }
    }
}

/// `true`, `1` (any case, surrounding blanks ignored) turn the filter on; anything else is off.
fn truthy(raw: Option<&str>) -> bool {
    raw.map(str::trim).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The caller's notifications, newest first (ties by id, descending), paged.
#[utoipa::path(get, path = "/api/admin/notifications/", tag = "notifications", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "DRF page of Notification", body = Page<NotificationView>),
        (status = 401),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`"),
    ))]
async fn list(
    State(state): State<AppState>,
    Signed(auth): Signed,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<NotificationView>>> {
    let query = raw.as_deref().unwrap_or("");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let last = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let unread_only = truthy(last("unread_only"));
    let spec = PageSpec::parse(last("page"))?;
    let user = auth.user.id;
    let page = match spec {
        PageSpec::Number(n) => n,
        PageSpec::Last => {
            let (count, _) = notifications::list(&state.pool, user, unread_only, 0, 0).await?;
            spec.resolve(count)?
        }
    };
    let (limit, offset) = window(page);
    let (count, rows) = notifications::list(&state.pool, user, unread_only, limit, offset).await?;
    spec.resolve(count)?;
    let links =
        PageLinks { base: &state.cfg.public_base_url, path: LIST_PATH, query: raw.as_deref(), explicit_first: false };
    Ok(Json(Page::new(&links, page, count, rows.iter().map(NotificationView::from).collect())))
}

async fn mark_read(state: AppState, user_id: i64, id: i64) -> ApiResult<Json<SuccessMessage>> {
    if !notifications::mark_read(&state.pool, user_id, id).await? {
        return Err(ApiError::message(StatusCode::NOT_FOUND, "Notification not found"));
    }
    Ok(Json(SuccessMessage::new("Notification marked as read")))
}

/// Mark one of the caller's notifications read (another user's → 404).
#[utoipa::path(post, path = "/api/admin/notifications/{id}/mark-read/", tag = "notifications",
    operation_id = "notification_mark_read_post", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notification id")),
    responses(
        (status = 200, description = "`{success:true, message:\"Notification marked as read\"}`", body = SuccessMessage),
        (status = 401),
        (status = 404, description = "`{success:false, message:\"Notification not found\"}`"),
    ))]
async fn mark_read_post(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
) -> ApiResult<Json<SuccessMessage>> {
    mark_read(state, auth.user.id, id).await
}

/// Same as POST (the admin app sends PATCH, §5 #5).
#[utoipa::path(patch, path = "/api/admin/notifications/{id}/mark-read/", tag = "notifications",
    operation_id = "notification_mark_read_patch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notification id")),
    responses(
        (status = 200, description = "`{success:true, message:\"Notification marked as read\"}`", body = SuccessMessage),
        (status = 401),
        (status = 404, description = "`{success:false, message:\"Notification not found\"}`"),
    ))]
async fn mark_read_patch(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
) -> ApiResult<Json<SuccessMessage>> {
    mark_read(state, auth.user.id, id).await
}

async fn mark_all_read(state: AppState, user_id: i64) -> ApiResult<Json<SuccessMessage>> {
    let n = notifications::mark_all_read(&state.pool, user_id).await?;
    Ok(Json(SuccessMessage::new(format!("{n} notifications marked as read"))))
}

/// Mark all of the caller's unread notifications read; `<n>` is how many changed.
#[utoipa::path(post, path = "/api/admin/notifications/mark-all-read/", tag = "notifications",
    operation_id = "notification_mark_all_read_post", security(("bearer" = [])),
    responses((status = 200, description = "`{success:true, message:\"<n> notifications marked as read\"}`", body = SuccessMessage), (status = 401)))]
async fn mark_all_read_post(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<SuccessMessage>> {
    mark_all_read(state, auth.user.id).await
}

/// Same as POST (the admin app sends PATCH, §5 #5).
#[utoipa::path(patch, path = "/api/admin/notifications/mark-all-read/", tag = "notifications",
    operation_id = "notification_mark_all_read_patch", security(("bearer" = [])),
    responses((status = 200, description = "`{success:true, message:\"<n> notifications marked as read\"}`", body = SuccessMessage), (status = 401)))]
async fn mark_all_read_patch(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<SuccessMessage>> {
    mark_all_read(state, auth.user.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_only_spellings() {
        assert!(truthy(Some("True")) && truthy(Some("1")) && truthy(Some(" true ")));
        assert!(!truthy(Some("false")) && !truthy(Some("yes")) && !truthy(None));
    }
}
