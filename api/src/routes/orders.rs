//! `/api/orders/` (API.md §4.5, §6, §9.3, §9.5): checkout with Razorpay, the customer's orders
//! and payments, and the Razorpay webhook.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use common::orders::billing::{self, BillingChanges, BillingInput};
use common::orders::create;
use common::orders::payments::{self, Applied, Captured, IssueKind, Source, WebhookOutcome};
use common::orders::{self as order_db, Order as OrderRow, OrdersWithLines, PaymentFilter};
use common::ratelimit;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::order_desk::billing::BillingRequest;
use super::order_desk::null_as_absent;
use super::order_errors;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id, RawBody, Signed};
use crate::idempotency;
use crate::input::{self, Field, FieldErrors, Text};
use crate::state::AppState;
use crate::views::orders::{Order, PaymentHistory};

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

async fn load_own(state: &AppState, id: i64, user_id: i64) -> ApiResult<OrderRow> {
    order_db::get(&state.pool, id, Some(user_id)).await?.ok_or_else(order_not_found)
}

/// One of the user's orders: its row and its §3 Order (the reads on one connection).
async fn own_order_with_row(state: &AppState, id: i64, user_id: i64) -> ApiResult<(OrderRow, Order)> {
    let mut conn = state.pool.acquire().await?;
    let row = order_db::get(&mut *conn, id, Some(user_id)).await?.ok_or_else(order_not_found)?;
    let loaded = OrdersWithLines::load(&mut conn, vec![row.clone()]).await?;
    let order = loaded.orders.first().ok_or_else(order_not_found)?;
    Ok((row, Order::new(&state.cfg.public_base_url, order, &loaded)))
}

/// One of the user's orders as §3 Order.
async fn own_order(state: &AppState, id: i64, user_id: i64) -> ApiResult<Order> {
    own_order_with_row(state, id, user_id).await.map(|(_, order)| order)
}

/// The `201` of an order just committed (or committed by an earlier attempt of the same
/// `Idempotency-Key` whose answer was lost). The order exists now: a 5xx here makes the client
/// retry, so the read is retried through a short outage (about 10 s) first (found by
/// `scripts/chaos` across a PostgreSQL restart); past that the key still carries the order and
/// the retry answers with it.
async fn created_answer(state: &AppState, id: i64, user_id: i64) -> ApiResult<CreatedOrder> {
    let mut wait = std::time::Duration::from_millis(200);
    let mut left = 6;
    loop {
        let read = async {
            let (row, order) = own_order_with_row(state, id, user_id).await?;
            ApiResult::Ok(CreatedOrder {
                order,
                razorpay_order_id: row.razorpay_order_id,
                razorpay_key_id: state.razorpay.as_ref().map(|r| r.key_id()).unwrap_or("").to_string(),
                amount: row.total_amount,
                order_id: row.id,
                currency: "INR",
            })
        };
        match read.await {
            Err(e) if e.status().is_server_error() && left > 0 => {
                tracing::warn!(order_id = id, error = ?e.status(), "order created but not read back yet; retrying");
                left -= 1;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(3));
            }
            result => return result,
        }
    }
}

/// `201` of `orders/create/` (§4.5, §5 #12).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedOrder {
    /// The new order.
    pub order: Order,
    /// The Razorpay order to open Checkout with (`""` without Razorpay).
    pub razorpay_order_id: String,
    /// `RAZORPAY_KEY_ID`.
    pub razorpay_key_id: String,
    /// Total in paise.
    pub amount: i64,
    /// = `order.id`.
    pub order_id: i64,
    /// `INR`.
    pub currency: &'static str,
}

/// Place an order from the cart and open its Razorpay order (§4.5, §6, §7.3, §9.5).
#[utoipa::path(post, path = "/api/orders/create/", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body(content = Option<BillingRequest>, description = "Optional billing details (§9.5)"),
    responses(
        (status = 201, body = CreatedOrder, description = "`{order, razorpay_order_id, razorpay_key_id, amount, order_id, currency}`"),
        (status = 400, description = "`{\"error\":\"Cart is empty\"}`"),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Cart not found\"}`"),
        (status = 409, description = "`{\"error\":\"Cart changed during checkout; please try again\"}` (the cart kept changing while the order was made), or a repeat of an `Idempotency-Key` still running"),
        (status = 422, description = "Billing fields invalid (§9 shape, `details` per field)"),
        (status = 429, description = "10 orders per hour per user"),
        (status = 502, description = "`{\"error\":\"Order creation failed: payment provider unavailable\"}`"),
    ))]
async fn create_order(State(state): State<AppState>, Signed(auth): Signed, headers: HeaderMap, body: Body) -> Response {
    let raw = Value::Object(body.0.clone());
    let user_id = auth.user.id;
    let state = &state;
    idempotency::run_attempt(state, &headers, user_id, "/api/orders/create/", &raw, |attempt| async move {
        if let Some(order_id) = attempt.order_id {
            tracing::info!(order_id, "checkout retried after its answer was lost; answering with its order");
            return Ok((StatusCode::CREATED, created_answer(state, order_id, user_id).await?));
        }
        state
            .limiter
            .hit(&ratelimit::ORDER_CREATE, &user_id.to_string())
            .await
            .map_err(|e| ApiError::RateLimited(e.retry_after))?;
        let request: BillingRequest = input::from_map(body.0)?;
        let input = BillingInput::from(BillingChanges::try_from(request).map_err(FieldErrors::validation)?);
        let billing = billing::validate(&input, &auth.user.display_name(), &state.tax.seller_state)
            .map_err(|e| order_errors::billing_fields(e).validation())?;
        let created = create::from_cart(
            &state.pool,
            &state.doorbell,
            user_id,
            &billing,
            &state.tax,
            state.razorpay.as_ref(),
            state.clock.now(),
            attempt.slot,
        )
        .await
        .map_err(order_errors::create_error)?;
        Ok((StatusCode::CREATED, created_answer(state, created.order_id, user_id).await?))
    })
    .await
}

/// One of the user's orders.
#[utoipa::path(get, path = "/api/orders/{id}/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
    ))]
async fn order_detail(State(state): State<AppState>, Signed(auth): Signed, Id(id): Id) -> ApiResult<Json<Order>> {
    Ok(Json(own_order(&state, id, auth.user.id).await?))
}

fn signature_failed() -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, "Payment signature verification failed")
}

/// The Razorpay Checkout result (§7.3): all three required.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PaymentSuccessRequest {
    /// The order's Razorpay order id.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub razorpay_order_id: Field,
    /// `pay_…`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub razorpay_payment_id: Field,
    /// hex HMAC-SHA256 of `"<order id>|<payment id>"`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub razorpay_signature: Field,
}

/// A validated Checkout result.
#[derive(Debug, Clone)]
struct CheckoutResult {
    razorpay_order_id: String,
    payment_id: String,
    signature: String,
}

impl TryFrom<PaymentSuccessRequest> for CheckoutResult {
    type Error = FieldErrors;

    /// Each a non-blank string (null counts as not sent: "This field is required.").
    fn try_from(raw: PaymentSuccessRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut required = |name: &str, field: &Field| {
            errors
                .take(name, Text { required: true, allow_blank: false, max: None }.parse(null_as_absent(field)))
                .flatten()
        };
        let razorpay_order_id = required("razorpay_order_id", &raw.razorpay_order_id);
        let payment_id = required("razorpay_payment_id", &raw.razorpay_payment_id);
        let signature = required("razorpay_signature", &raw.razorpay_signature);
        errors.finish(|| {
            Some(CheckoutResult {
                razorpay_order_id: razorpay_order_id?,
                payment_id: payment_id?,
                signature: signature?,
            })
        })
    }
}

/// `200` of `payment-success/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentVerified {
    /// Always `true`.
    pub success: bool,
    /// `Payment verified successfully`.
    pub message: &'static str,
    /// The order, paid.
    pub order: Order,
    /// Its invoice number.
    pub invoice_number: Option<String>,
}

/// Verify the Razorpay Checkout result and mark the order paid (§7.3 with the §6 fixes).
#[utoipa::path(post, path = "/api/orders/{id}/payment-success/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body = PaymentSuccessRequest,
    responses(
        (status = 200, body = PaymentVerified, description = "`{success, message, order, invoice_number}`; a repeat changes nothing"),
        (status = 400, description = "`{field:[…]}` / `{\"error\":\"Payment signature verification failed\"}`"),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
        (status = 409, description = "`{\"error\":…}`: payment recorded for review (cancelled or already-paid order, wrong amount); §9 `idempotency_in_progress`"),
        (status = 422, description = "§9 `idempotency_key_reused`: the key was used for another request"),
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
        let request: PaymentSuccessRequest = input::from_map(body.0)?;
        let checkout = CheckoutResult::try_from(request).map_err(FieldErrors::bare)?;
        // §6: the Razorpay order must be this order's, and the signature must be Razorpay's. A
        // request for an order that is not the user's is a 404 first, whatever its signature.
        // The usual case (a valid signature) does not read the order ahead: the payment is
        // applied to the Razorpay order only where it is this user's order `id`, and the order
        // is read only to tell apart the answers when it is not.
        let rejected = |order: OrderRow| {
            tracing::warn!(order_id = order.id, "payment signature verification failed");
            signature_failed()
        };
        let signed = state.razorpay.as_ref().is_some_and(|rzp| {
            rzp.verify_checkout(&checkout.razorpay_order_id, &checkout.payment_id, &checkout.signature)
        });
        if !signed {
            return Err(rejected(load_own(&state, id, auth.user.id).await?));
        }
        let captured = Captured {
            razorpay_order_id: &checkout.razorpay_order_id,
            payment_id: &checkout.payment_id,
            amount: None,
            signature: Some(&checkout.signature),
            expected: Some((id, auth.user.id)),
        };
        let mut tx = common::db::begin(&state.pool).await?;
        let applied = payments::apply_captured(
            &mut tx,
            &captured,
            Source::Checkout,
            &common::orders::invoices::InvoiceSettings::of(&state.cfg),
            state.clock.now(),
        )
        .await?;
        tx.commit().await?;
        if matches!(applied, Applied::Paid { .. }) {
            state.doorbell.ring();
        }
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
            // Not this user's order `id` paid through that Razorpay order.
            Applied::UnknownOrder => return Err(rejected(load_own(&state, id, auth.user.id).await?)),
        };
        let order = own_order(&state, id, auth.user.id).await?;
        Ok((
            StatusCode::OK,
            PaymentVerified { success: true, message: "Payment verified successfully", order, invoice_number },
        ))
    })
    .await
}

/// The payment of one of the user's orders.
#[utoipa::path(get, path = "/api/orders/{id}/payment-history/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = PaymentHistory),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}` / `{\"error\":\"Payment history not found for this order\"}`"),
    ))]
async fn payment_history(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
) -> ApiResult<Json<PaymentHistory>> {
    let order = load_own(&state, id, auth.user.id).await?;
    let history = order_db::payment_history(&state.pool, order.id)
        .await?
        .ok_or_else(|| ApiError::error(StatusCode::NOT_FOUND, "Payment history not found for this order"))?;
    Ok(Json(PaymentHistory::from(&history)))
}

/// The user's orders, newest first (unpaged).
#[utoipa::path(get, path = "/api/orders/my-orders/", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = Vec<Order>), (status = 401)))]
async fn my_orders(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Vec<Order>>> {
    let mut conn = state.pool.acquire().await?;
    let orders = order_db::list_for_user(&mut *conn, auth.user.id).await?;
    let loaded = OrdersWithLines::load(&mut conn, orders).await?;
    Ok(Json(Order::all(&state.cfg.public_base_url, &loaded)))
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

/// `200` of `my-payments/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyPayments {
    /// How many.
    pub count: usize,
    /// Newest first.
    pub payments: Vec<PaymentHistory>,
}

/// The user's payments, newest first.
#[utoipa::path(get, path = "/api/orders/my-payments/", tag = "orders", security(("bearer" = [])),
    params(PaymentsQuery),
    responses(
        (status = 200, body = MyPayments),
        (status = 400, description = "`{\"error\":\"Invalid start_date format. Use YYYY-MM-DD\"}` (end_date alike)"),
        (status = 401),
    ))]
async fn my_payments(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Query(q): Query<PaymentsQuery>,
) -> ApiResult<Json<MyPayments>> {
    let filter = PaymentFilter {
        start: parse_day(q.start_date.as_deref(), "start_date")?,
        end: parse_day(q.end_date.as_deref(), "end_date")?,
        status: q.status.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
    };
    let list = order_db::payments_of_user(&state.pool, auth.user.id, &filter).await?;
    Ok(Json(MyPayments { count: list.len(), payments: list.iter().map(PaymentHistory::from).collect() }))
}

/// `200` of the webhook: `{status: "duplicate"}` or `{status: "processed", outcome}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookAck {
    /// `processed` or `duplicate`.
    pub status: &'static str,
    /// What the event did (processed events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// Razorpay webhook (§9.3): signed raw body, deduplicated by event id.
#[utoipa::path(post, path = "/api/orders/razorpay/webhook/", tag = "orders",
    request_body(content = String, content_type = "application/json", description = "Razorpay event (raw)"),
    params(
        ("X-Razorpay-Signature" = String, Header, description = "hex HMAC-SHA256 of the raw body"),
        ("X-Razorpay-Event-Id" = String, Header, description = "unique per event; repeats are no-ops"),
    ),
    responses(
        (status = 200, body = WebhookAck),
        (status = 400, description = "`invalid_signature`, `missing_event_id` or `malformed` (§9 shape)"),
        (status = 404, description = "While `RAZORPAY_WEBHOOK_SECRET` is unset"),
        (status = 413, description = "`{\"detail\":\"Request body is too large.\"}` over `MAX_BODY_BYTES`"),
    ))]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookAck>> {
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
    let outcome = payments::handle_webhook(
        &state.pool,
        &state.doorbell,
        event_id,
        &event,
        &common::orders::invoices::InvoiceSettings::of(&state.cfg),
        state.clock.now(),
    )
    .await?;
    Ok(Json(match outcome {
        WebhookOutcome::Duplicate => WebhookAck { status: "duplicate", outcome: None },
        WebhookOutcome::Handled(outcome) => WebhookAck { status: "processed", outcome: Some(outcome) },
    }))
}
