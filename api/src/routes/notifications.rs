//! `/api/admin/notifications/` (API.md §4.8, §5 #5, #11): any signed-in user's own notifications,
//! paged newest first, and marking them read (POST or PATCH).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use common::notifications::{self, Notification};
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{PAGE_SIZE, PageSpec, envelope, page_number};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Signed};
use crate::state::AppState;

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
#[allow(dead_code)]
pub struct ListQuery {
    /// `true` (or `1`, any case) → unread ones only.
    unread_only: Option<String>,
    /// 1-based page number (or `last`).
    page: Option<String>,
}

/// §3 Notification with the Rust additions `type` and `related_url` (§5 #11).
pub fn notification_json(n: &Notification) -> Value {
    json!({
        "id": n.id,
        "notification_type": n.notification_type,
        "title": n.title,
        "message": n.message,
        "order": n.order_id,
        "order_number": n.order_number,
        "is_read": n.is_read,
        "created_at": common::time::ist(n.created_at),
        "type": if n.order_id.is_some() { "order" } else { "system" },
        "related_url": n.order_id.map(|id| format!("/orders/{id}")),
    })
}

/// `true`, `1` (any case, surrounding blanks ignored) turn the filter on; anything else is off.
fn truthy(raw: Option<&str>) -> bool {
    raw.map(str::trim).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// DRF's page links keep the other query parameters, sorted by name, with `page` replaced
/// (removed for page 1).
fn page_link(base: &str, others: &[(String, String)], page: i64) -> String {
    let mut params: Vec<(&str, String)> = others.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    if page > 1 {
        params.push(("page", page.to_string()));
    }
    params.sort_by(|a, b| a.0.cmp(b.0));
    if params.is_empty() {
        return format!("{base}{LIST_PATH}");
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        query.append_pair(k, v);
    }
    format!("{base}{LIST_PATH}?{}", query.finish())
}

/// The caller's notifications, newest first (ties by id, descending), paged.
#[utoipa::path(get, path = "/api/admin/notifications/", tag = "notifications", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "DRF page of Notification"),
        (status = 401),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`"),
    ))]
async fn list(State(state): State<AppState>, Signed(auth): Signed, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let last = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let unread_only = truthy(last("unread_only"));
    let spec = page_number(last("page"))?;
    let user = auth.user.id;
    let page = match spec {
        PageSpec::Number(n) => n,
        PageSpec::Last => {
            let (count, _) = notifications::list(&state.pool, user, unread_only, 0, 0).await?;
            ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
        }
    };
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let (count, rows) = notifications::list(&state.pool, user, unread_only, PAGE_SIZE, offset).await?;
    if page > 1 && offset >= count {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "Invalid page."));
    }
    let base = &state.cfg.public_base_url;
    let mut body = envelope(base, LIST_PATH, page, count, rows.iter().map(notification_json).collect());
    let others: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "page").collect();
    if let Value::Object(map) = &mut body {
        for (key, target) in [("next", page + 1), ("previous", page - 1)] {
            if map.get(key).is_some_and(Value::is_string) {
                map.insert(key.into(), Value::String(page_link(base, &others, target)));
            }
        }
    }
    Ok(Json(body))
}

async fn mark_read(state: AppState, user_id: i64, id: i64) -> ApiResult<Json<Value>> {
    if !notifications::mark_read(&state.pool, user_id, id).await? {
        return Err(ApiError::message(StatusCode::NOT_FOUND, "Notification not found"));
    }
    Ok(Json(json!({"success": true, "message": "Notification marked as read"})))
}

/// Mark one of the caller's notifications read (another user's → 404).
#[utoipa::path(post, path = "/api/admin/notifications/{id}/mark-read/", tag = "notifications",
    operation_id = "notification_mark_read_post", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notification id")),
    responses(
        (status = 200, description = "`{success:true, message:\"Notification marked as read\"}`"),
        (status = 401),
        (status = 404, description = "`{success:false, message:\"Notification not found\"}`"),
    ))]
async fn mark_read_post(State(state): State<AppState>, Signed(auth): Signed, Id(id): Id) -> ApiResult<Json<Value>> {
    mark_read(state, auth.user.id, id).await
}

/// Same as POST (the admin app sends PATCH, §5 #5).
#[utoipa::path(patch, path = "/api/admin/notifications/{id}/mark-read/", tag = "notifications",
    operation_id = "notification_mark_read_patch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Notification id")),
    responses(
        (status = 200, description = "`{success:true, message:\"Notification marked as read\"}`"),
        (status = 401),
        (status = 404, description = "`{success:false, message:\"Notification not found\"}`"),
    ))]
async fn mark_read_patch(State(state): State<AppState>, Signed(auth): Signed, Id(id): Id) -> ApiResult<Json<Value>> {
    mark_read(state, auth.user.id, id).await
}

async fn mark_all_read(state: AppState, user_id: i64) -> ApiResult<Json<Value>> {
    let n = notifications::mark_all_read(&state.pool, user_id).await?;
    Ok(Json(json!({"success": true, "message": format!("{n} notifications marked as read")})))
}

/// Mark all of the caller's unread notifications read; `<n>` is how many changed.
#[utoipa::path(post, path = "/api/admin/notifications/mark-all-read/", tag = "notifications",
    operation_id = "notification_mark_all_read_post", security(("bearer" = [])),
    responses((status = 200, description = "`{success:true, message:\"<n> notifications marked as read\"}`"), (status = 401)))]
async fn mark_all_read_post(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Value>> {
    mark_all_read(state, auth.user.id).await
}

/// Same as POST (the admin app sends PATCH, §5 #5).
#[utoipa::path(patch, path = "/api/admin/notifications/mark-all-read/", tag = "notifications",
    operation_id = "notification_mark_all_read_patch", security(("bearer" = [])),
    responses((status = 200, description = "`{success:true, message:\"<n> notifications marked as read\"}`"), (status = 401)))]
async fn mark_all_read_patch(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Value>> {
    mark_all_read(state, auth.user.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_other_parameters_sorted_and_drop_page_one() {
        let others = vec![("unread_only".to_string(), "true".to_string())];
        assert_eq!(page_link("http://h", &others, 2), "http://h/api/admin/notifications/?page=2&unread_only=true");
        assert_eq!(page_link("http://h", &others, 1), "http://h/api/admin/notifications/?unread_only=true");
        assert_eq!(page_link("http://h", &[], 1), "http://h/api/admin/notifications/");
        assert_eq!(page_link("http://h", &[], 3), "http://h/api/admin/notifications/?page=3");
        assert!(truthy(Some("True")) && truthy(Some("1")) && truthy(Some(" true ")));
        assert!(!truthy(Some("false")) && !truthy(Some("yes")) && !truthy(None));
    }
}
