//! Refunds (API.md §9.4, §1.1): `POST /api/admin/orders/{id}/refund/` and `GET …/refunds/`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::orders::admin::detail as loader;
use common::orders::refunds::{self, Method, RefundRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::positive_amount;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Body, Id};
use crate::idempotency;
use crate::input::{self, Field, FieldErrors, Text};
use crate::routes::order_errors::{order_not_found, refund_error};
use crate::state::AppState;
use crate::views::orders::Refund;

/// Longest reason.
const MAX_REASON: usize = 500;

/// The refund routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_refund)).routes(routes!(list_refunds))
}

/// Body of `refund/` (empty strings count as not sent).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefundBody {
    /// At least 0.01; default: all that can be refunded (through Razorpay: what is left of one
    /// payment).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "500.00")]
    pub amount: Field,
    /// ≤ 500.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub reason: Field,
    /// `razorpay` or `manual`; default: Razorpay when the order has Razorpay payments.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub method: Field,
}

/// A validated refund request, before its author is known.
#[derive(Debug, Clone)]
struct Asked {
    amount: Option<i64>,
    reason: String,
    method: Option<Method>,
}

impl TryFrom<RefundBody> for Asked {
    type Error = FieldErrors;

    fn try_from(raw: RefundBody) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let amount = errors.take("amount", positive_amount(input::non_blank(&raw.amount))).flatten();
        let reason =
            Text { required: false, allow_blank: true, max: Some(MAX_REASON) }.parse(input::non_blank(&raw.reason));
        let reason = errors.take("reason", reason).flatten().unwrap_or_default();
        let method = errors.take("method", input::choice(input::non_blank(&raw.method), Method::parse)).flatten();
        errors.finish(|| Some(Asked { amount, reason, method }))
    }
}

/// `{refund}` of `refund/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundCreated {
    /// The refund.
    pub refund: Refund,
}

/// Refund all or part of what was paid: Razorpay (202, pending until settled) or offline (201).
#[utoipa::path(post, path = "/api/admin/orders/{id}/refund/", tag = "refunds", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body = RefundBody,
    responses(
        (status = 201, body = RefundCreated, description = "Offline refund, processed"),
        (status = 202, body = RefundCreated, description = "Razorpay refund, pending until the webhook or the sweep"),
        (status = 400, description = "§9 `malformed_body` (not a JSON object) or `invalid_idempotency_key`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "No such order (§9 shape)"),
        (status = 409, description = "`nothing_to_refund` / `amount_exceeds_refundable` / `idempotency_in_progress` (§9 shape)"),
        (status = 422, description = "Invalid fields (§9 shape, `details` per field), or `idempotency_key_reused`"),
        (status = 502, description = "`refund_rejected`: Razorpay refused; the refund is stored as failed"),
    ))]
async fn create_refund(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Id(id): Id,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => return input::ext_rejection(e).into_response(),
    };
    let raw = Value::Object(body.0.clone());
    let path = format!("/api/admin/orders/{id}/refund/");
    idempotency::run(&state, &headers, auth.user.id, &path, &raw, async {
        let request: RefundBody = input::from_map(body.0).map_err(input::ext_rejection)?;
        let asked = Asked::try_from(request).map_err(FieldErrors::validation)?;
        let req =
            RefundRequest { amount: asked.amount, reason: asked.reason, method: asked.method, actor: auth.user.id };
        let refund = refunds::create(
            &state.pool,
            state.razorpay.as_ref(),
            id,
            &req,
            &common::orders::invoices::InvoiceSettings::of(&state.cfg),
            state.clock.now(),
        )
        .await
        .map_err(|e| refund_error(e, &auth.user))?;
        let people = [(auth.user.id, auth.user.clone())].into();
        let status = if refund.method == Method::Manual.as_str() { StatusCode::CREATED } else { StatusCode::ACCEPTED };
        Ok((status, RefundCreated { refund: Refund::new(&refund, &people) }))
    })
    .await
}

/// The order's refunds, newest first.
#[utoipa::path(get, path = "/api/admin/orders/{id}/refunds/", tag = "refunds", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = Vec<Refund>),
        (status = 400, description = "§9 `malformed_body` (not a JSON object) or `invalid_idempotency_key`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "No such order (§9 shape)"),
    ))]
async fn list_refunds(State(state): State<AppState>, _admin: Admin, Id(id): Id) -> ApiResult<Json<Vec<Refund>>> {
    if common::orders::get(&state.pool, id, None).await?.is_none() {
        return Err(order_not_found());
    }
    let refunds = loader::refunds_with_people(&state.pool, id).await?;
    Ok(Json(refunds.rows.iter().map(|r| Refund::new(r, &refunds.people)).collect()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<(Option<i64>, String, Option<Method>), Value> {
        let raw: RefundBody = serde_json::from_value(body).unwrap();
        Asked::try_from(raw).map(|a| (a.amount, a.reason, a.method)).map_err(FieldErrors::into_value)
    }

    #[test]
    fn empty_strings_count_as_not_sent() {
        assert_eq!(parse(json!({"amount": "", "reason": null, "method": ""})), Ok((None, String::new(), None)));
        assert_eq!(
            parse(json!({"amount": "12.50", "reason": " late ", "method": "manual"})),
            Ok((Some(1250), "late".into(), Some(Method::Manual)))
        );
        assert_eq!(
            parse(json!({"amount": 0, "reason": "r".repeat(501), "method": "cash"})),
            Err(json!({
                "amount": ["Ensure this value is greater than or equal to 0.01."],
                "reason": ["Ensure this field has no more than 500 characters."],
                "method": ["\"cash\" is not a valid choice."],
            }))
        );
    }
}
