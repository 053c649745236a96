//! `PATCH /api/staff/checklist/{item_id}/` (API.md §4.7, §7.1, §7.5) and the §3 Checklist shape.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::orders::checklist::{self, Checklist, ChecklistItem, CompletedBy, TickError};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id, Staff};
use crate::state::AppState;

/// The staff checklist route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_item))
}

/// §3 UserBasic of the user who ticked an item.
fn completed_by_basic(u: &CompletedBy) -> Value {
    super::dto::basic_json(u.id, &u.username, u.phone_number.as_deref(), &u.first_name, &u.last_name, &u.email, &u.role)
}

/// §3 Checklist: progress counts (§7.5) and the items by `order_index`, then id.
pub fn checklist_json(c: &Checklist) -> Value {
    let p = c.progress();
    let items: Vec<Value> = c
        .items
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "description": i.description,
                "completed": i.completed,
                "completed_at": common::time::ist_opt(i.completed_at),
                "completed_by": i.completed_by.as_ref().map(completed_by_basic),
                "order_index": i.order_index,
                "is_optional": i.is_optional,
                "template_item_id": i.template_item_id,
            })
        })
        .collect();
    json!({
        "id": c.id,
        "total_items": p.total_items,
        "completed_items": p.completed_items,
        "required_items": p.required_items,
        "completed_required": p.completed_required,
        "progress_percentage": p.progress_percentage,
        "items": items,
    })
}

/// The item as the PATCH answers it: `completed_by` reduced to `{id, username, phone_number}`.
fn item_json(i: &ChecklistItem) -> Value {
    json!({
        "id": i.id,
        "description": i.description,
        "completed": i.completed,
        "completed_at": common::time::ist_opt(i.completed_at),
        "completed_by": i.completed_by.as_ref().map(|u| json!({
            "id": u.id,
            "username": u.username,
            "phone_number": u.phone_number,
        })),
        "order_index": i.order_index,
        "is_optional": i.is_optional,
    })
}

/// `completed` as a boolean: JSON `true`/`false` or the strings `"true"`/`"false"` (any case,
/// as form-encoded bodies send them).
fn completed_field(body: &Body) -> Option<bool> {
    match body.0.get("completed")? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn tick_error(e: TickError) -> ApiError {
    match e {
        TickError::NotFound => ApiError::detail(StatusCode::NOT_FOUND, "No ChecklistItem matches the given query."),
        TickError::Forbidden => {
            ApiError::message(StatusCode::FORBIDDEN, "You do not have permission to update this checklist")
        }
        TickError::Database(e) => e.into(),
    }
}

/// Tick or untick a checklist item (staff: orders assigned to them; admins: any). Progress moves
/// the order to in_progress, at 100 % to completed; admins hear of 25/50/75/100 % once each.
#[utoipa::path(patch, path = "/api/staff/checklist/{item_id}/", tag = "staff", security(("bearer" = [])),
    params(("item_id" = i64, Path, description = "Checklist item id")),
    responses(
        (status = 200, description = "`{success, message, checklist_item, order_progress}`"),
        (status = 400, description = "`{success:false, message:\"completed field is required\"}`"),
        (status = 401),
        (status = 403, description = "Not staff, or staff but not the order's assignee"),
        (status = 404, description = "No such checklist item"),
    ))]
async fn update_item(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Id(item_id): Id,
    body: Body,
) -> ApiResult<Json<Value>> {
    let Some(completed) = completed_field(&body) else {
        // The item lookup and the permission check come first, as in the original view.
        checklist::check_access(&state.pool, item_id, &auth.user).await.map_err(tick_error)?;
        return Err(ApiError::message(StatusCode::BAD_REQUEST, "completed field is required"));
    };
    let done = checklist::tick(&state.pool, item_id, completed, &auth.user).await.map_err(tick_error)?;
    let p = done.progress;
    Ok(Json(json!({
        "success": true,
        "message": "Checklist item updated successfully",
        "checklist_item": item_json(&done.item),
        "order_progress": {
            "total_items": p.total_items,
            "completed_items": p.completed_items,
            "required_items": p.required_items,
            "completed_required": p.completed_required,
            "progress_percentage": p.progress_percentage,
            "order_status": done.order_status,
        },
    })))
}
