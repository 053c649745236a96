//! `/api/admin/orders/{id}/refund/` and `refunds/` (API.md §9.4).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use common::accounts::users;
use common::money::Money;
use common::orders::refunds::{self, Method, Refund, RefundError, RefundRequest};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{system_user, user_basic};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Body, Id};
use crate::idempotency;
use crate::state::AppState;

/// Longest reason.
const MAX_REASON: usize = 500;

/// The refund routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_refund)).routes(routes!(list_refunds))
}

/// §9.4 Refund.
pub async fn refund_json(state: &AppState, r: &Refund) -> ApiResult<Value> {
    let created_by = match r.created_by_id {
        Some(id) => users::find(&state.pool, id).await?.map(|u| user_basic(&u)).unwrap_or_else(system_user),
        None => system_user(),
    };
    Ok(json!({
        "id": r.id,
        "order": r.order_id,
        "amount": Money(r.amount).to_string(),
        "method": r.method,
        "razorpay_refund_id": r.razorpay_refund_id,
        "status": r.status,
        "reason": r.reason,
        "created_by": created_by,
        "created_at": common::time::ist(r.created_at),
        "processed_at": common::time::ist_opt(r.processed_at),
    }))
}

fn order_not_found() -> ApiError {
    ApiError::ext(StatusCode::NOT_FOUND, "not_found", "Order not found.")
}

/// Refund all or part of what was paid: Razorpay (202, pending until settled) or offline (201).
#[utoipa::path(post, path = "/api/admin/orders/{id}/refund/", tag = "refunds", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "`{refund}` offline refund, processed"),
        (status = 202, description = "`{refund}` Razorpay refund, pending until the webhook or the sweep"),
        (status = 404, description = "No such order (§9 shape)"),
        (status = 409, description = "`nothing_to_refund` / `amount_exceeds_refundable`"),
        (status = 422, description = "Invalid fields (§9 shape)"),
        (status = 502, description = "`refund_rejected`: Razorpay refused; the refund is stored as failed"),
    ))]
async fn create_refund(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Id(id): Id,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let raw = Value::Object(body.0.clone());
    let path = format!("/api/admin/orders/{id}/refund/");
    idempotency::run(&state, &headers, auth.user.id, &path, &raw, async {
        let mut errors = Map::new();
        let amount = match body.0.get("amount") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => match Money::from_json(v, 10) {
                Ok(m) if m.0 > 0 => Some(m.0),
                Ok(_) => {
                    errors.insert("amount".into(), json!(["Ensure this value is greater than or equal to 0.01."]));
                    None
                }
                Err(e) => {
                    errors.insert("amount".into(), json!([e.to_string()]));
                    None
                }
            },
        };
        let reason = match body.text("reason") {
            Ok(r) => r.unwrap_or_default().trim().to_string(),
            Err(_) => {
                errors.insert("reason".into(), json!(["Not a valid string."]));
                String::new()
            }
        };
        if reason.chars().count() > MAX_REASON {
            errors.insert(
                "reason".into(),
                json!([format!("Ensure this field has no more than {MAX_REASON} characters.")]),
            );
        }
        let method = match body.text_non_empty("method") {
            Ok(None) => None,
            Ok(Some(m)) => Method::parse(m.trim()).or_else(|| {
                errors.insert("method".into(), json!([format!("\"{m}\" is not a valid choice.")]));
                None
            }),
            Err(_) => {
                errors.insert("method".into(), json!(["Not a valid string."]));
                None
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(Value::Object(errors)));
        }
        let req = RefundRequest { amount, reason, method, actor: auth.user.id };
        let refund = refunds::create(&state.pool, state.razorpay.as_ref(), id, &req, state.clock.now()).await;
        let refund = match refund {
            Ok(r) => r,
            Err(RefundError::NotFound) => return Err(order_not_found()),
            Err(RefundError::NothingToRefund) => {
                return Err(ApiError::ext(StatusCode::CONFLICT, "nothing_to_refund", "Nothing is left to refund."));
            }
            Err(RefundError::AmountExceedsRefundable { refundable }) => {
                return Err(ApiError::Ext {
                    status: StatusCode::CONFLICT,
                    code: "amount_exceeds_refundable",
                    message: format!("At most {} can be refunded.", Money(refundable)),
                    details: json!({"refundable": Money(refundable).to_string()}),
                });
            }
            Err(RefundError::NoRazorpayPayment) => {
                return Err(ApiError::validation(json!({"method": ["This order has no Razorpay payment to refund."]})));
            }
            Err(RefundError::Rejected(reason, row)) => {
                return Err(ApiError::Ext {
                    status: StatusCode::BAD_GATEWAY,
                    code: "refund_rejected",
                    message: format!("Razorpay refused the refund: {reason}"),
                    details: json!({"refund": refund_json(&state, &row).await?}),
                });
            }
            Err(RefundError::Database(e)) => return Err(e.into()),
        };
        let status = if refund.method == "manual" { StatusCode::CREATED } else { StatusCode::ACCEPTED };
        Ok((status, json!({"refund": refund_json(&state, &refund).await?})))
    })
    .await
}

/// The order's refunds, newest first.
#[utoipa::path(get, path = "/api/admin/orders/{id}/refunds/", tag = "refunds", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "[Refund]"), (status = 404, description = "No such order (§9 shape)")))]
async fn list_refunds(State(state): State<AppState>, _admin: Admin, Id(id): Id) -> ApiResult<Json<Value>> {
    if common::orders::get(&state.pool, id, None).await?.is_none() {
        return Err(order_not_found());
    }
    let mut out = Vec::new();
    for r in refunds::list(&state.pool, id).await? {
        out.push(refund_json(&state, &r).await?);
    }
    Ok(Json(Value::Array(out)))
}
