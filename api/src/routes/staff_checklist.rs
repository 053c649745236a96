//! `PATCH /api/staff/checklist/{item_id}/` (API.md §4.7, §7.1, §7.5): a staff member ticks a task
//! of an order's checklist.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::orders::checklist::{self, Checklist, ChecklistItem, Progress};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::order_errors::tick_error;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Staff};
use crate::input::{Field, Payload};
use crate::state::AppState;
use crate::views::order_desk;

/// The staff checklist route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_item))
}

/// The §3 Checklist of an order as JSON.
pub fn checklist_json(c: &Checklist) -> Value {
    serde_json::to_value(order_desk::Checklist::from(c)).unwrap_or(Value::Null)
}

/// Body of the tick.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TickRequest {
    /// `true` or `false` (a form sends the strings `"true"`/`"false"`, any case).
    #[serde(default)]
    #[schema(value_type = bool, required = true)]
    pub completed: Field,
}

impl TryFrom<TickRequest> for bool {
    type Error = ApiError;

    /// Only a boolean, as the original view read it: a JSON `true`/`false` or, from a form, the
    /// words `true`/`false`; anything else (absent, null, 1, "yes") is
    /// `{success:false, message:"completed field is required"}`.
    fn try_from(raw: TickRequest) -> Result<bool, ApiError> {
        match raw.completed {
            Field::Value(Value::Bool(b)) => Ok(b),
            Field::Value(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            Field::Value(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(ApiError::message(StatusCode::BAD_REQUEST, "completed field is required")),
        }
    }
}

/// The user who ticked an item, as the tick answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TickedBy {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Phone number.
    pub phone_number: Option<String>,
}

/// The item as the tick answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TickedItem {
    /// Id.
    pub id: i64,
    /// The task.
    pub description: String,
    /// Done.
    pub completed: bool,
    /// When ticked (Asia/Kolkata).
    pub completed_at: Option<String>,
    /// Who ticked it.
    pub completed_by: Option<TickedBy>,
    /// Position.
    pub order_index: i32,
    /// Optional tasks do not count towards progress.
    pub is_optional: bool,
}

impl From<&ChecklistItem> for TickedItem {
    fn from(i: &ChecklistItem) -> Self {
        Self {
            id: i.id,
            description: i.description.clone(),
            completed: i.completed,
            completed_at: common::time::ist_opt(i.completed_at),
            completed_by: i.completed_by.as_ref().map(|u| TickedBy {
                id: u.id,
                username: u.username.clone(),
                phone_number: u.phone_number.clone(),
            }),
            order_index: i.order_index,
            is_optional: i.is_optional,
        }
    }
}

/// The checklist's progress and the order's status after the tick.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderProgress {
    /// All items.
    pub total_items: i64,
    /// Ticked items.
    pub completed_items: i64,
    /// Non-optional items.
    pub required_items: i64,
    /// Ticked non-optional items.
    pub completed_required: i64,
    /// §7.5 progress.
    pub progress_percentage: i64,
    /// §7.1 status of the order now.
    pub order_status: String,
}

impl OrderProgress {
    fn new(p: Progress, order_status: String) -> Self {
        Self {
            total_items: p.total_items,
            completed_items: p.completed_items,
            required_items: p.required_items,
            completed_required: p.completed_required,
            progress_percentage: p.progress_percentage,
            order_status,
        }
    }
}

/// `200` of the tick.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ticked {
    /// Always `true`.
    pub success: bool,
    /// `Checklist item updated successfully`.
    pub message: &'static str,
    /// The item now.
    pub checklist_item: TickedItem,
    /// The checklist's progress.
    pub order_progress: OrderProgress,
}

/// Tick or untick a checklist item (staff: orders assigned to them; admins: any). Progress moves
/// the order to in_progress, at 100 % to completed; admins hear of 25/50/75/100 % once each.
#[utoipa::path(patch, path = "/api/staff/checklist/{item_id}/", tag = "staff", security(("bearer" = [])),
    params(("item_id" = i64, Path, description = "Checklist item id")), request_body = TickRequest,
    responses(
        (status = 200, body = Ticked, description = "`{success, message, checklist_item, order_progress}`"),
        (status = 400, description = "`{success:false, message:\"completed field is required\"}`"),
        (status = 401),
        (status = 403, description = "Not staff (`{\"detail\":…}`), or staff but not the order's assignee (`{success:false, message:\"You do not have permission to update this checklist\"}`)"),
        (status = 404, description = "`{\"detail\":\"No ChecklistItem matches the given query.\"}`"),
    ))]
async fn update_item(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Id(item_id): Id,
    Payload(raw): Payload<TickRequest>,
) -> ApiResult<Json<Ticked>> {
    let completed = match bool::try_from(raw) {
        Ok(completed) => completed,
        Err(e) => {
            // The item lookup and the permission check come first, as in the original view.
            checklist::check_access(&state.pool, item_id, &auth.user).await.map_err(tick_error)?;
            return Err(e);
        }
    };
    let done = checklist::tick(&state.pool, item_id, completed, &auth.user).await.map_err(tick_error)?;
    Ok(Json(Ticked {
        success: true,
        message: "Checklist item updated successfully",
        checklist_item: TickedItem::from(&done.item),
        order_progress: OrderProgress::new(done.progress, done.order_status),
    }))
}
