//! `/api/orders/` (API.md §4.5, §6, §9.3, §9.5): checkout with Razorpay, the customer's orders
//! and payments, and the Razorpay webhook.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use common::catalog::products::{self, Product};
use common::money::Money;
use common::orders::billing::{self, BillingInput};
use common::orders::create::{self, CreateError};
use common::orders::payments::{self, Applied, Captured, IssueKind, Source, WebhookOutcome};
use common::orders::{self as order_db, Order, OrderItem, PaymentFilter, PaymentHistory};
use common::ratelimit;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::product_json;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id, Signed};
use crate::idempotency;
use crate::state::AppState;

/// The order routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order))
        .routes(routes!(order_detail))
        .routes(routes!(payment_success))
        .routes(routes!(payment_history))
        .routes(routes!(my_orders))
        .routes(routes!(my_payments))
        .routes(routes!(webhook))
}

fn order_not_found() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "Order not found")
}

/// A model decimal: `"4999.00"`.
pub fn dec(paise: i64) -> String {
    Money(paise).to_string()
}

/// A computed amount: a JSON number.
pub fn num(paise: i64) -> Value {
    Money(paise).as_f64_for_json()
}

/// Products of some order lines, by (type, id); deleted ones are absent.
pub async fn products_of(state: &AppState, items: &[OrderItem]) -> ApiResult<HashMap<(String, i64), Product>> {
    let mut out = HashMap::new();
    for item in items {
        let key = (item.product_type.clone(), item.product_id);
        if out.contains_key(&key) {
            continue;
        }
        if let Some(kind) = item.kind()
            && let Some(p) = products::get(&state.pool, kind, item.product_id, false).await?
        {
            out.insert(key, p);
        }
    }
    Ok(out)
}

/// Name shown for a line (`Unknown Product` once the product is deleted).
pub fn item_name(item: &OrderItem) -> String {
    item.product_name.clone().unwrap_or_else(|| "Unknown Product".to_string())
}

/// §3 OrderItem plus the §9.5 fields.
pub fn item_json(base: &str, item: &OrderItem, products: &HashMap<(String, i64), Product>) -> Value {
    let details = match (item.kind(), products.get(&(item.product_type.clone(), item.product_id))) {
        (Some(kind), Some(p)) => product_json(base, kind, p),
        _ => Value::Null,
    };
    json!({
        "id": item.id,
        "item_type": item.product_type,
        "item_details": details,
        "quantity": item.quantity,
        "price": dec(item.price),
        "subtotal": num(item.price.saturating_mul(i64::from(item.quantity))),
        "resources_uploaded": item.resources_uploaded,
        "hsn_sac": item.hsn_sac,
        "gst_rate": item.gst_rate,
        "taxable_amount": dec(item.taxable_amount),
        "tax_amount": dec(item.tax_amount),
    })
}

/// The §9.5 billing, tax and invoice fields of an order.
pub fn gst_fields(order: &Order, out: &mut Map<String, Value>) {
    let fields = json!({
        "billing_name": order.billing_name,
        "billing_gstin": order.billing_gstin,
        "billing_state_code": order.billing_state_code,
        "billing_address": order.billing_address,
        "place_of_supply": order.place_of_supply,
        "taxable_amount": dec(order.taxable_amount),
        "cgst_amount": dec(order.cgst_amount),
        "sgst_amount": dec(order.sgst_amount),
        "igst_amount": dec(order.igst_amount),
        "tax_amount": dec(order.tax_amount),
        "invoice_number": order.invoice_number,
        "invoice_date": common::time::ist_opt(order.invoice_date),
    });
    if let Value::Object(map) = fields {
        out.extend(map);
    }
}

/// `pending_items` / `pending_resource_items`: lines still without material.
pub fn pending_items(items: &[&OrderItem]) -> Value {
    items
        .iter()
        .filter(|i| !i.resources_uploaded)
        .map(|i| json!({"id": i.id, "item_type": i.product_type, "item_name": item_name(i), "quantity": i.quantity}))
        .collect()
}

/// `int(uploaded ÷ lines × 100)`, 0 without lines.
pub fn upload_progress(items: &[&OrderItem]) -> i64 {
    if items.is_empty() {
        return 0;
    }
    let done = items.iter().filter(|i| i.resources_uploaded).count();
    (done * 100 / items.len()) as i64
}

/// §3 Order with the §9.5 fields.
pub fn order_json(
    base: &str,
    order: &Order,
    items: &[&OrderItem],
    products: &HashMap<(String, i64), Product>,
) -> Value {
    let mut out = json!({
        "id": order.id,
        "order_number": order.order_number,
        "total_amount": dec(order.total_amount),
        "status": order.status,
        "payment_status": order.payment_status,
        "razorpay_order_id": order.razorpay_order_id,
        "razorpay_payment_id": order.razorpay_payment_id,
        "payment_completed_at": common::time::ist_opt(order.payment_completed_at),
        "items": items.iter().map(|i| item_json(base, i, products)).collect::<Vec<_>>(),
        "total_items": items.iter().map(|i| i64::from(i.quantity)).sum::<i64>(),
        "resource_upload_progress": upload_progress(items),
        "pending_resource_items": pending_items(items),
        "total_paid": num(order.total_paid),
        "payment_balance": num(order.total_amount - order.total_paid),
        "created_at": common::time::ist(order.created_at),
        "updated_at": common::time::ist(order.updated_at),
    });
    if let Value::Object(map) = &mut out {
        gst_fields(order, map);
    }
    out
}

/// Loads and renders one order.
async fn render_order(state: &AppState, order: &Order) -> ApiResult<Value> {
    let items = order_db::items(&state.pool, &[order.id]).await?;
    let products = products_of(state, &items).await?;
    let refs: Vec<&OrderItem> = items.iter().collect();
    Ok(order_json(&state.cfg.public_base_url, order, &refs, &products))
}

async fn load_own(state: &AppState, id: i64, user_id: i64) -> ApiResult<Order> {
    order_db::get(&state.pool, id, Some(user_id)).await?.ok_or_else(order_not_found)
}

fn billing_input(body: &Body) -> Result<BillingInput, Value> {
    let mut errors = Map::new();
    let mut text = |key: &str| match body.text(key) {
        Ok(v) => v,
        Err(_) => {
            errors.insert(key.to_string(), json!(["Not a valid string."]));
            None
        }
    };
    let input = BillingInput {
        name: text("billing_name"),
        gstin: text("billing_gstin"),
        state_code: text("billing_state_code"),
        address: text("billing_address"),
    };
    if errors.is_empty() { Ok(input) } else { Err(Value::Object(errors)) }
}

/// Place an order from the cart and open its Razorpay order (§4.5, §6, §7.3, §9.5).
#[utoipa::path(post, path = "/api/orders/create/", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 201, description = "`{order, razorpay_order_id, razorpay_key_id, amount, order_id, currency}`"),
        (status = 400, description = "`{\"error\":\"Cart is empty\"}`"),
        (status = 404, description = "`{\"error\":\"Cart not found\"}`"),
        (status = 422, description = "Billing fields invalid (§9 shape, `details` per field)"),
        (status = 429, description = "10 orders per hour per user"),
        (status = 502, description = "`{\"error\":\"Order creation failed: payment provider unavailable\"}`"),
    ))]
async fn create_order(State(state): State<AppState>, Signed(auth): Signed, headers: HeaderMap, body: Body) -> Response {
    let raw = Value::Object(body.0.clone());
    let user_id = auth.user.id;
    idempotency::run(&state, &headers, user_id, "/api/orders/create/", &raw, async {
        state
            .limiter
            .hit(&ratelimit::ORDER_CREATE, &user_id.to_string())
            .await
            .map_err(|e| ApiError::RateLimited(e.retry_after))?;
        let input = billing_input(&body).map_err(ApiError::validation)?;
        let billing = billing::validate(&input, &auth.user.display_name(), &state.tax.seller_state)
            .map_err(|errors| ApiError::validation(json!(errors)))?;
        let created =
            create::from_cart(&state.pool, user_id, &billing, &state.tax, state.razorpay.as_ref(), state.clock.now())
                .await
                .map_err(|e| match e {
                    CreateError::CartNotFound => ApiError::error(StatusCode::NOT_FOUND, "Cart not found"),
                    CreateError::CartEmpty => ApiError::error(StatusCode::BAD_REQUEST, "Cart is empty"),
                    CreateError::BelowMinimum => {
                        ApiError::error(StatusCode::BAD_REQUEST, "Order total must be at least 1.00 to pay online")
                    }
                    CreateError::Provider(e) => {
                        tracing::warn!(error = %e, "razorpay order creation failed; nothing kept");
                        ApiError::error(StatusCode::BAD_GATEWAY, "Order creation failed: payment provider unavailable")
                    }
                    CreateError::BadRate(e) => ApiError::internal(e),
                    CreateError::Database(e) => e.into(),
                })?;
        let order = load_own(&state, created.order_id, user_id).await?;
        let order_json = render_order(&state, &order).await?;
        Ok((
            StatusCode::CREATED,
            json!({
                "order": order_json,
                "razorpay_order_id": created.razorpay_order_id,
                "razorpay_key_id": state.razorpay.as_ref().map(|r| r.key_id()).unwrap_or(""),
                "amount": created.amount,
                "order_id": created.order_id,
                "currency": "INR",
            }),
        ))
    })
    .await
}

/// One of the user's orders.
#[utoipa::path(get, path = "/api/orders/{id}/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "Order"), (status = 404, description = "`{\"error\":\"Order not found\"}`")))]
async fn order_detail(State(state): State<AppState>, Signed(auth): Signed, Id(id): Id) -> ApiResult<Json<Value>> {
    let order = load_own(&state, id, auth.user.id).await?;
    Ok(Json(render_order(&state, &order).await?))
}

fn signature_failed() -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, "Payment signature verification failed")
}

/// Verify the Razorpay Checkout result and mark the order paid (§7.3 with the §6 fixes).
#[utoipa::path(post, path = "/api/orders/{id}/payment-success/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 200, description = "`{success, message, order, invoice_number}`; a repeat changes nothing"),
        (status = 400, description = "`{field:[…]}` / `{\"error\":\"Payment signature verification failed\"}`"),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
        (status = 409, description = "Payment recorded for review (cancelled or already-paid order)"),
    ))]
async fn payment_success(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let raw = Value::Object(body.0.clone());
    let path = format!("/api/orders/{id}/payment-success/");
    idempotency::run(&state, &headers, auth.user.id, &path, &raw, async {
        let mut errors = Map::new();
        let mut fields = Vec::new();
        for name in ["razorpay_order_id", "razorpay_payment_id", "razorpay_signature"] {
            match body.text(name) {
                Ok(Some(v)) if !v.trim().is_empty() => fields.push(v.trim().to_string()),
                Ok(Some(_)) => {
                    errors.insert(name.into(), json!(["This field may not be blank."]));
                }
                Ok(None) => {
                    errors.insert(name.into(), json!(["This field is required."]));
                }
                Err(_) => {
                    errors.insert(name.into(), json!(["Not a valid string."]));
                }
            }
        }
        let [rzp_order_id, payment_id, signature] = fields.as_slice() else {
            return Err(ApiError::Fields(StatusCode::BAD_REQUEST, Value::Object(errors)));
        };
        let order = load_own(&state, id, auth.user.id).await?;
        let Some(rzp) = &state.razorpay else { return Err(signature_failed()) };
        // §6: the Razorpay order must be this order's, and the signature must be Razorpay's.
        if order.razorpay_order_id.is_empty()
            || order.razorpay_order_id != *rzp_order_id
            || !rzp.verify_checkout(rzp_order_id, payment_id, signature)
        {
            tracing::warn!(order_id = id, "payment signature verification failed");
            return Err(signature_failed());
        }
        let captured =
            Captured { razorpay_order_id: rzp_order_id, payment_id, amount: None, signature: Some(signature) };
        let mut tx = state.pool.begin().await?;
        let applied = payments::apply_captured(
            &mut tx,
            &captured,
            Source::Checkout,
            &state.cfg.invoice_prefix,
            state.clock.now(),
        )
        .await?;
        tx.commit().await?;
        let invoice_number = match applied {
            Applied::Paid { invoice_number } => Some(invoice_number),
            Applied::AlreadyApplied { invoice_number } => invoice_number,
            Applied::Issue(kind) => {
                let why = match kind {
                    IssueKind::CancelledOrder => "this order is cancelled",
                    IssueKind::DuplicatePayment => "this order was already paid",
                    IssueKind::AmountMismatch => "the amount differs from the order total",
                };
                return Err(ApiError::error(
                    StatusCode::CONFLICT,
                    format!("Payment received, but {why}; our team has been notified and will contact you."),
                ));
            }
            Applied::UnknownOrder => return Err(order_not_found()),
        };
        let order = load_own(&state, id, auth.user.id).await?;
        Ok((
            StatusCode::OK,
            json!({
                "success": true,
                "message": "Payment verified successfully",
                "order": render_order(&state, &order).await?,
                "invoice_number": invoice_number,
            }),
        ))
    })
    .await
}

/// §3 PaymentHistory.
pub fn history_json(h: &PaymentHistory) -> Value {
    let display = match h.status.as_str() {
        "pending" => "Pending",
        "completed" => "Completed",
        "failed" => "Failed",
        "refunded" => "Refunded",
        other => other,
    };
    json!({
        "id": h.id,
        "order_id": h.order_id,
        "order_number": h.order_number,
        "payment_method": h.payment_method,
        "transaction_id": h.transaction_id,
        "amount": dec(h.amount),
        "currency": h.currency,
        "status": h.status,
        "status_display": display,
        "payment_date": common::time::ist(h.payment_date),
        "invoice_generated_at": common::time::ist_opt(h.invoice_generated_at),
        "invoice_number": h.invoice_number,
        "metadata": h.metadata,
        "created_at": common::time::ist(h.created_at),
    })
}

/// The payment of one of the user's orders.
#[utoipa::path(get, path = "/api/orders/{id}/payment-history/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "PaymentHistory"),
        (status = 404, description = "`{\"error\":\"Order not found\"}` / `{\"error\":\"Payment history not found for this order\"}`"),
    ))]
async fn payment_history(State(state): State<AppState>, Signed(auth): Signed, Id(id): Id) -> ApiResult<Json<Value>> {
    let order = load_own(&state, id, auth.user.id).await?;
    let history = order_db::payment_history(&state.pool, order.id)
        .await?
        .ok_or_else(|| ApiError::error(StatusCode::NOT_FOUND, "Payment history not found for this order"))?;
    Ok(Json(history_json(&history)))
}

/// The user's orders, newest first (unpaged).
#[utoipa::path(get, path = "/api/orders/my-orders/", tag = "orders", security(("bearer" = [])),
    responses((status = 200, description = "[Order]")))]
async fn my_orders(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Value>> {
    let orders = order_db::list_for_user(&state.pool, auth.user.id).await?;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let items = order_db::items(&state.pool, &ids).await?;
    let products = products_of(&state, &items).await?;
    let mut by_order: HashMap<i64, Vec<&OrderItem>> = HashMap::new();
    for item in &items {
        by_order.entry(item.order_id).or_default().push(item);
    }
    let base = &state.cfg.public_base_url;
    let out: Vec<Value> = orders
        .iter()
        .map(|o| order_json(base, o, by_order.get(&o.id).map(Vec::as_slice).unwrap_or(&[]), &products))
        .collect();
    Ok(Json(Value::Array(out)))
}

/// Filters of `my-payments/`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct PaymentsQuery {
    /// `YYYY-MM-DD`, inclusive.
    start_date: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    end_date: Option<String>,
    /// pending, completed, failed, refunded.
    status: Option<String>,
}

fn parse_day(raw: Option<&str>, name: &str) -> ApiResult<Option<chrono::NaiveDate>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ApiError::error(StatusCode::BAD_REQUEST, format!("Invalid {name} format. Use YYYY-MM-DD"))),
    }
}

/// The user's payments, newest first.
#[utoipa::path(get, path = "/api/orders/my-payments/", tag = "orders", security(("bearer" = [])),
    params(PaymentsQuery),
    responses(
        (status = 200, description = "`{count, payments:[PaymentHistory]}`"),
        (status = 400, description = "`{\"error\":\"Invalid start_date format. Use YYYY-MM-DD\"}`"),
    ))]
async fn my_payments(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Query(q): Query<PaymentsQuery>,
) -> ApiResult<Json<Value>> {
    let filter = PaymentFilter {
        start: parse_day(q.start_date.as_deref(), "start_date")?,
        end: parse_day(q.end_date.as_deref(), "end_date")?,
        status: q.status.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
    };
    let list = order_db::payments_of_user(&state.pool, auth.user.id, &filter).await?;
    Ok(Json(json!({"count": list.len(), "payments": list.iter().map(history_json).collect::<Vec<_>>()})))
}

/// Razorpay webhook (§9.3): signed raw body, deduplicated by event id.
#[utoipa::path(post, path = "/api/orders/razorpay/webhook/", tag = "orders",
    request_body(content = String, content_type = "application/json", description = "Razorpay event (raw)"),
    params(
        ("X-Razorpay-Signature" = String, Header, description = "hex HMAC-SHA256 of the raw body"),
        ("X-Razorpay-Event-Id" = String, Header, description = "unique per event; repeats are no-ops"),
    ),
    responses(
        (status = 200, description = "`{status:\"processed\"|\"duplicate\", outcome}`"),
        (status = 400, description = "`invalid_signature`, `missing_event_id` or `malformed` (§9 shape)"),
        (status = 404, description = "While `RAZORPAY_WEBHOOK_SECRET` is unset"),
    ))]
async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let Some(rzp) = state.razorpay.as_ref().filter(|r| r.has_webhook_secret()) else {
        return Err(ApiError::ext(StatusCode::NOT_FOUND, "not_found", "Not found."));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    if !rzp.verify_webhook(&body, header("x-razorpay-signature")) {
        tracing::warn!("webhook signature invalid");
        return Err(ApiError::ext(StatusCode::BAD_REQUEST, "invalid_signature", "Webhook signature is invalid."));
    }
    let event_id = header("x-razorpay-event-id");
    if event_id.is_empty() || event_id.len() > 100 {
        return Err(ApiError::ext(StatusCode::BAD_REQUEST, "missing_event_id", "X-Razorpay-Event-Id is required."));
    }
    let mut event: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::ext(StatusCode::BAD_REQUEST, "malformed", "The body is not JSON."))?;
    // Stored as jsonb, which refuses NUL.
    crate::extract::scrub_nul(&mut event);
    let outcome =
        payments::handle_webhook(&state.pool, event_id, &event, &state.cfg.invoice_prefix, state.clock.now()).await?;
    Ok(Json(match outcome {
        WebhookOutcome::Duplicate => json!({"status": "duplicate"}),
        WebhookOutcome::Handled(outcome) => json!({"status": "processed", "outcome": outcome}),
    }))
}
