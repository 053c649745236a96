//! A fake Razorpay REST API on a random local port; `base` is the API base URL (the service appends
//! `/v1/...`). Like the real one it requires HTTP Basic auth with the key id and secret (401
//! `Authentication failed`), validates request bodies strictly (unknown fields are refused,
//! `notes` come back as `[]` when empty), answers with Razorpay-shaped entities and errors, and
//! honours the `X-Refund-Idempotency` header. Tests drive the customer's side directly
//! ([`FakeRazorpay::capture_payment`], [`FakeRazorpay::fail_payment`]), settle refunds, build
//! signed webhook deliveries, take the service down (503) or slow it down, or make it answer a
//! route with a given raw answer (garbage, HTML, a wrong amount or currency) once.
//!
//! With a delay set, a request is fully processed first and only the answer is held back, so a
//! client that times out has still created the order or refund, as can happen with the real one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// Key id the fake accepts.
pub const KEY_ID: &str = "rzp_test_e2e000000001";
/// Key secret the fake accepts (also signs Checkout results).
pub const KEY_SECRET: &str = "e2e-razorpay-key-secret-0123";
/// Secret webhook deliveries are signed with.
pub const WEBHOOK_SECRET: &str = "e2e-razorpay-webhook-secret-0123";
/// Account id in webhook bodies.
pub const ACCOUNT_ID: &str = "acc_E2E0000000001";

/// Hex HMAC-SHA256 of `message` under `secret`: Razorpay's Checkout and webhook signatures.
pub fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

fn random_id(prefix: &str) -> String {
    let tail: String =
        rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(14).map(char::from).collect();
    format!("{prefix}_{tail}")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Razorpay renders empty notes as an empty array.
fn notes_json(notes: &Map<String, Value>) -> Value {
    if notes.is_empty() { json!([]) } else { Value::Object(notes.clone()) }
}

struct Order {
    id: String,
    amount: i64,
    currency: String,
    receipt: Option<String>,
    notes: Map<String, Value>,
    created_at: i64,
}

struct Payment {
    id: String,
    order_id: String,
    amount: i64,
    captured: bool,
    failed: bool,
    created_at: i64,
}

struct Refund {
    id: String,
    payment_id: String,
    amount: i64,
    notes: Map<String, Value>,
    receipt: Option<String>,
    status: String,
    speed_requested: String,
    idempotency_key: Option<String>,
    created_at: i64,
}

struct Inner {
    orders: Vec<Order>,
    payments: Vec<Payment>,
    refunds: Vec<Refund>,
    /// `"METHOD /path"` of every request received.
    requests: Vec<String>,
    down: bool,
    delay: Duration,
    refund_status: String,
    /// One-shot raw answers: `(route pattern, status, content type, body)`.
    canned: Vec<(String, u16, String, String)>,
}

impl Inner {
    fn order(&self, id: &str) -> Option<&Order> {
        self.orders.iter().find(|o| o.id == id)
    }

    fn payment(&self, id: &str) -> Option<&Payment> {
        self.payments.iter().find(|p| p.id == id)
    }

    fn refund(&self, id: &str) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.id == id)
    }

    /// Sum of the payment's refunds that have not failed.
    fn refunded(&self, payment_id: &str) -> i64 {
        self.refunds.iter().filter(|r| r.payment_id == payment_id && r.status != "failed").map(|r| r.amount).sum()
    }

    fn order_json(&self, o: &Order) -> Value {
        let payments = self.payments.iter().filter(|p| p.order_id == o.id);
        let attempts = payments.clone().count();
        let amount_paid: i64 = payments.filter(|p| p.captured).map(|p| p.amount).sum();
        let status = if amount_paid >= o.amount {
            "paid"
        } else if attempts > 0 {
            "attempted"
        } else {
            "created"
        };
        json!({
            "id": o.id,
            "entity": "order",
            "amount": o.amount,
            "amount_paid": amount_paid,
            "amount_due": (o.amount - amount_paid).max(0),
            "currency": o.currency,
            "receipt": o.receipt,
            "offer_id": null,
            "status": status,
            "attempts": attempts,
            "notes": notes_json(&o.notes),
            "created_at": o.created_at,
        })
    }

    fn payment_json(&self, p: &Payment) -> Value {
        let refunded = self.refunded(&p.id);
        let status = if p.failed {
            "failed"
        } else if p.captured && refunded >= p.amount {
            "refunded"
        } else if p.captured {
            "captured"
        } else {
            "authorized"
        };
        let refund_status = match refunded {
            0 => Value::Null,
            r if r >= p.amount => json!("full"),
            _ => json!("partial"),
        };
        let (fee, tax) = if p.captured {
            let fee = p.amount * 2 / 100;
            (json!(fee), json!(fee * 18 / 100))
        } else {
            (Value::Null, Value::Null)
        };
        let error = |v: &str| if p.failed { json!(v) } else { Value::Null };
        json!({
            "id": p.id,
            "entity": "payment",
            "amount": p.amount,
            "currency": "INR",
            "status": status,
            "order_id": p.order_id,
            "invoice_id": null,
            "international": false,
            "method": "upi",
            "amount_refunded": refunded,
            "refund_status": refund_status,
            "captured": p.captured,
            "description": null,
            "card_id": null,
            "bank": null,
            "wallet": null,
            "vpa": if p.failed { "failure@razorpay" } else { "success@razorpay" },
            "email": "void@razorpay.com",
            "contact": "+919000090000",
            "notes": [],
            "fee": fee,
            "tax": tax,
            "error_code": error("BAD_REQUEST_ERROR"),
            "error_description": error("Payment failed"),
            "error_source": error("customer"),
            "error_step": error("payment_authorization"),
            "error_reason": error("payment_failed"),
            "created_at": p.created_at,
        })
    }

    fn refund_json(&self, r: &Refund) -> Value {
        json!({
            "id": r.id,
            "entity": "refund",
            "amount": r.amount,
            "currency": "INR",
            "payment_id": r.payment_id,
            "notes": notes_json(&r.notes),
            "receipt": r.receipt,
            "acquirer_data": {"arn": null},
            "created_at": r.created_at,
            "batch_id": null,
            "status": r.status,
            "speed_processed": "normal",
            "speed_requested": r.speed_requested,
        })
    }

    fn add_payment(&mut self, order_id: &str, amount: Option<i64>, captured: bool, failed: bool) -> String {
        let order = self.order(order_id).unwrap_or_else(|| panic!("fake Razorpay has no order {order_id}"));
        let amount = amount.unwrap_or(order.amount);
        let id = random_id("pay");
        self.payments.push(Payment {
            id: id.clone(),
            order_id: order_id.to_string(),
            amount,
            captured,
            failed,
            created_at: now(),
        });
        id
    }
}

#[derive(Clone)]
struct FakeState {
    key_id: String,
    key_secret: String,
    inner: Arc<Mutex<Inner>>,
}

/// The running fake.
pub struct FakeRazorpay {
    /// `http://127.0.0.1:PORT`, the API base URL (without `/v1`).
    pub base: String,
    /// Key id ([`KEY_ID`]).
    pub key_id: String,
    /// Key secret ([`KEY_SECRET`]).
    pub key_secret: String,
    /// Webhook secret ([`WEBHOOK_SECRET`]).
    pub webhook_secret: String,
    state: FakeState,
    task: tokio::task::JoinHandle<()>,
}

fn error_body(code: &str, description: &str, field: Option<&str>, validation: bool) -> Value {
    let (source, step, reason) =
        if validation { ("business", "payment_initiation", "input_validation_failed") } else { ("NA", "NA", "NA") };
    json!({"error": {
        "code": code,
        "description": description,
        "source": source,
        "step": step,
        "reason": reason,
        "metadata": {},
        "field": field,
    }})
}

/// A refusal in Razorpay's error shape.
struct ApiError {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// 400 `BAD_REQUEST_ERROR` (not about a request field).
fn bad_request(description: &str) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, body: error_body("BAD_REQUEST_ERROR", description, None, false) }
}

/// 400 `BAD_REQUEST_ERROR` about a request field.
fn invalid(description: &str, field: &str) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, body: error_body("BAD_REQUEST_ERROR", description, Some(field), true) }
}

fn not_found() -> ApiError {
    bad_request("The id provided does not exist")
}

type Answer = Result<Response, ApiError>;

fn authorized(state: &FakeState, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else { return false };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    let Ok(pair) = String::from_utf8(decoded) else { return false };
    pair.split_once(':').is_some_and(|(id, secret)| id == state.key_id && secret == state.key_secret)
}

/// Counts, then refuses (down, unauthenticated) or runs the route; the answer waits for the delay.
async fn guard(State(state): State<FakeState>, req: Request, next: Next) -> Response {
    let (down, delay, canned) = {
        let mut inner = state.inner.lock().unwrap();
        let request = format!("{} {}", req.method(), req.uri().path());
        let canned = inner.canned.iter().position(|(route, ..)| route_matches(route, &request));
        let canned = canned.map(|i| inner.canned.remove(i));
        inner.requests.push(request);
        (inner.down, inner.delay, canned)
    };
    let response = if let Some((_, status, content_type, body)) = canned {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        (status, [(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
    } else if down {
        let body = error_body(
            "SERVER_ERROR",
            "The server encountered an error. The incident has been reported to admins.",
            None,
            false,
        );
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    } else if !authorized(&state, req.headers()) {
        let body = error_body("BAD_REQUEST_ERROR", "Authentication failed", None, false);
        (StatusCode::UNAUTHORIZED, Json(body)).into_response()
    } else {
        next.run(req).await
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

/// The JSON object body (an empty body is `{}`).
fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad_request("The request body is not valid JSON")),
    }
}

/// Razorpay refuses fields it does not know.
fn only_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(invalid(&format!("{extra} is/are not required and should not be sent"), extra)),
        None => Ok(()),
    }
}

/// An optional JSON integer field.
fn int_field(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| invalid(&format!("The {name} must be an integer."), name)),
    }
}

/// An optional string field of at most `max` characters.
fn string_field(body: &Map<String, Value>, name: &str, max: Option<usize>) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match max {
            Some(max) if s.chars().count() > max => {
                Err(invalid(&format!("The {name} may not be greater than {max} characters."), name))
            }
            _ => Ok(Some(s.clone())),
        },
        Some(_) => Err(invalid(&format!("The {name} must be a string."), name)),
    }
}

/// `notes`: at most 15 keys, scalar values of at most 256 characters.
fn notes_field(body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let notes = match body.get("notes") {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Array(a)) if a.is_empty() => return Ok(Map::new()),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(invalid("The notes must be an array.", "notes")),
    };
    if notes.len() > 15 {
        return Err(invalid("Number of fields in notes should be less than or equal to 15", "notes"));
    }
    for value in notes.values() {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            _ => return Err(invalid("The notes values must be strings.", "notes")),
        };
        if text.chars().count() > 256 {
            return Err(invalid("Notes value can't be greater than 256 characters", "notes"));
        }
    }
    Ok(notes)
}

async fn create_order(State(state): State<FakeState>, body: Bytes) -> Answer {
    let body = parse_body(&body)?;
    let allowed =
        ["amount", "currency", "receipt", "payment_capture", "notes", "partial_payment", "first_payment_min_amount"];
    only_fields(&body, &allowed)?;
    let Some(amount) = int_field(&body, "amount")? else {
        return Err(invalid("The amount field is required.", "amount"));
    };
    if amount < 100 {
        return Err(invalid("The amount must be atleast INR 1.00", "amount"));
    }
    let Some(currency) = string_field(&body, "currency", None)? else {
        return Err(invalid("The currency field is required.", "currency"));
    };
    if currency != "INR" {
        return Err(invalid("Currency is not supported", "currency"));
    }
    let receipt = string_field(&body, "receipt", Some(40))?;
    match body.get("payment_capture") {
        None | Some(Value::Null | Value::Bool(_)) => {}
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {}
        Some(_) => return Err(invalid("The payment capture field must be true or false.", "payment_capture")),
    }
    let notes = notes_field(&body)?;
    let order = Order { id: random_id("order"), amount, currency, receipt, notes, created_at: now() };
    let mut inner = state.inner.lock().unwrap();
    let rendered = inner.order_json(&order);
    inner.orders.push(order);
    Ok(Json(rendered).into_response())
}

async fn fetch_order(State(state): State<FakeState>, Path(id): Path<String>) -> Response {
    let inner = state.inner.lock().unwrap();
    match inner.order(&id) {
        Some(o) => Json(inner.order_json(o)).into_response(),
        None => not_found().into_response(),
    }
}

async fn order_payments(State(state): State<FakeState>, Path(id): Path<String>) -> Response {
    let inner = state.inner.lock().unwrap();
    if inner.order(&id).is_none() {
        return not_found().into_response();
    }
    // Collections list the newest first.
    let items: Vec<Value> =
        inner.payments.iter().rev().filter(|p| p.order_id == id).map(|p| inner.payment_json(p)).collect();
    Json(json!({"entity": "collection", "count": items.len(), "items": items})).into_response()
}

async fn fetch_payment(State(state): State<FakeState>, Path(id): Path<String>) -> Response {
    let inner = state.inner.lock().unwrap();
    match inner.payment(&id) {
        Some(p) => Json(inner.payment_json(p)).into_response(),
        None => not_found().into_response(),
    }
}

async fn payment_refunds(State(state): State<FakeState>, Path(id): Path<String>) -> Response {
    let inner = state.inner.lock().unwrap();
    if inner.payment(&id).is_none() {
        return not_found().into_response();
    }
    let items: Vec<Value> =
        inner.refunds.iter().rev().filter(|r| r.payment_id == id).map(|r| inner.refund_json(r)).collect();
    Json(json!({"entity": "collection", "count": items.len(), "items": items})).into_response()
}

fn valid_idempotency_key(key: &str) -> bool {
    (10..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn create_refund(
    State(state): State<FakeState>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let key = match headers.get("x-refund-idempotency").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if valid_idempotency_key(k) => Some(k.to_string()),
        Some(_) => {
            return Err(bad_request(
                "The X-Refund-Idempotency header must be 10 to 255 characters of letters, digits, - and _",
            ));
        }
    };
    let mut inner = state.inner.lock().unwrap();
    let Some(payment) = inner.payment(&payment_id) else { return Err(not_found()) };
    let (captured, amount) = (payment.captured, payment.amount);
    if let Some(key) = &key
        && let Some(existing) =
            inner.refunds.iter().find(|r| r.payment_id == payment_id && r.idempotency_key.as_ref() == Some(key))
    {
        return Ok(Json(inner.refund_json(existing)).into_response());
    }
    let body = parse_body(&body)?;
    only_fields(&body, &["amount", "speed", "notes", "receipt"])?;
    let requested = int_field(&body, "amount")?;
    if requested.is_some_and(|a| a < 1) {
        return Err(invalid("The amount must be at least 1.", "amount"));
    }
    let speed = string_field(&body, "speed", None)?.unwrap_or_else(|| "normal".to_string());
    if speed != "normal" && speed != "optimum" {
        return Err(invalid("The selected speed is invalid.", "speed"));
    }
    let receipt = string_field(&body, "receipt", None)?;
    let notes = notes_field(&body)?;
    if !captured {
        return Err(bad_request("Only captured payments can be refunded"));
    }
    let rest = amount - inner.refunded(&payment_id);
    if rest <= 0 {
        return Err(bad_request("The payment has been fully refunded already"));
    }
    let refund_amount = requested.unwrap_or(rest);
    if refund_amount > rest {
        return Err(invalid("The total refund amount is greater than the refund payment amount", "amount"));
    }
    let refund = Refund {
        id: random_id("rfnd"),
        payment_id,
        amount: refund_amount,
        notes,
        receipt,
        status: inner.refund_status.clone(),
        speed_requested: speed,
        idempotency_key: key,
        created_at: now(),
    };
    let rendered = inner.refund_json(&refund);
    inner.refunds.push(refund);
    Ok(Json(rendered).into_response())
}

async fn fetch_refund(State(state): State<FakeState>, Path(id): Path<String>) -> Response {
    let inner = state.inner.lock().unwrap();
    match inner.refund(&id) {
        Some(r) => Json(inner.refund_json(r)).into_response(),
        None => not_found().into_response(),
    }
}

async fn fetch_payment_refund(
    State(state): State<FakeState>,
    Path((payment_id, refund_id)): Path<(String, String)>,
) -> Response {
    let inner = state.inner.lock().unwrap();
    match inner.refund(&refund_id) {
        Some(r) if r.payment_id == payment_id => Json(inner.refund_json(r)).into_response(),
        _ => not_found().into_response(),
    }
}

async fn unknown_route() -> Response {
    bad_request("The requested URL was not found on the server.").into_response()
}

/// Whether a recorded `"METHOD /path"` matches `pattern`, where a `{..}` segment matches any one.
fn route_matches(pattern: &str, request: &str) -> bool {
    let (Some((pm, pp)), Some((rm, rp))) = (pattern.split_once(' '), request.split_once(' ')) else {
        return false;
    };
    let (pp, rp): (Vec<&str>, Vec<&str>) = (pp.split('/').collect(), rp.split('/').collect());
    pm.eq_ignore_ascii_case(rm)
        && pp.len() == rp.len()
        && pp.iter().zip(&rp).all(|(p, r)| p == r || (p.starts_with('{') && p.ends_with('}')))
}

impl FakeRazorpay {
    /// Starts the fake with [`KEY_ID`], [`KEY_SECRET`] and [`WEBHOOK_SECRET`].
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts the fake on a given address (the benchmark runs it on a fixed port).
    pub async fn start_on(addr: &str) -> Self {
        let state = FakeState {
            key_id: KEY_ID.to_string(),
            key_secret: KEY_SECRET.to_string(),
            inner: Arc::new(Mutex::new(Inner {
                orders: Vec::new(),
                payments: Vec::new(),
                refunds: Vec::new(),
                requests: Vec::new(),
                down: false,
                delay: Duration::ZERO,
                refund_status: "pending".to_string(),
                canned: Vec::new(),
            })),
        };
        let app = Router::new()
            .route("/v1/orders", post(create_order))
            .route("/v1/orders/{id}", get(fetch_order))
            .route("/v1/orders/{id}/payments", get(order_payments))
            .route("/v1/payments/{id}", get(fetch_payment))
            .route("/v1/payments/{id}/refund", post(create_refund))
            .route("/v1/payments/{id}/refunds", get(payment_refunds))
            .route("/v1/payments/{pid}/refunds/{rid}", get(fetch_payment_refund))
            .route("/v1/refunds/{id}", get(fetch_refund))
            .fallback(unknown_route)
            .method_not_allowed_fallback(unknown_route)
            .layer(middleware::from_fn_with_state(state.clone(), guard))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            key_id: KEY_ID.to_string(),
            key_secret: KEY_SECRET.to_string(),
            webhook_secret: WEBHOOK_SECRET.to_string(),
            state,
            task,
        }
    }

    /// Requests received (refused ones too) matching `route`, e.g. `"POST /v1/orders"`,
    /// `"GET /v1/orders/{id}"` (any id) or `"GET /v1/orders/order_Abc..."` (that one).
    pub fn calls(&self, route: &str) -> usize {
        self.state.inner.lock().unwrap().requests.iter().filter(|r| route_matches(route, r)).count()
    }

    /// Every request received, as `"METHOD /path"`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state.inner.lock().unwrap().requests.clone()
    }

    /// While down, every route answers 503 `SERVER_ERROR`.
    pub fn set_down(&self, down: bool) {
        self.state.inner.lock().unwrap().down = down;
    }

    /// The next request matching `route` (as in [`FakeRazorpay::calls`]) gets this raw answer
    /// instead of being processed: a provider answering garbage, HTML or a wrong entity.
    pub fn answer_next(&self, route: &str, status: u16, content_type: &str, body: &str) {
        self.state.inner.lock().unwrap().canned.push((
            route.to_string(),
            status,
            content_type.to_string(),
            body.to_string(),
        ));
    }

    /// Holds every answer back this long (the request itself is processed at once).
    pub fn set_delay(&self, delay: Duration) {
        self.state.inner.lock().unwrap().delay = delay;
    }

    /// Status new refunds start with (`pending` by default).
    pub fn set_refund_status(&self, status: &str) {
        self.state.inner.lock().unwrap().refund_status = status.to_string();
    }

    /// Every order created, oldest first.
    pub fn orders(&self) -> Vec<Value> {
        let inner = self.state.inner.lock().unwrap();
        inner.orders.iter().map(|o| inner.order_json(o)).collect()
    }

    /// The order `id`.
    pub fn order(&self, id: &str) -> Option<Value> {
        let inner = self.state.inner.lock().unwrap();
        inner.order(id).map(|o| inner.order_json(o))
    }

    /// The customer pays: a captured UPI payment on the order (of the order amount unless given).
    /// Panics on an unknown order.
    pub fn capture_payment(&self, order_id: &str, amount: Option<i64>) -> String {
        self.state.inner.lock().unwrap().add_payment(order_id, amount, true, false)
    }

    /// An authorized, not captured, payment of the order amount. Panics on an unknown order.
    pub fn authorize_payment(&self, order_id: &str) -> String {
        self.state.inner.lock().unwrap().add_payment(order_id, None, false, false)
    }

    /// A failed payment attempt on the order. Panics on an unknown order.
    pub fn fail_payment(&self, order_id: &str) -> String {
        self.state.inner.lock().unwrap().add_payment(order_id, None, false, true)
    }

    /// The payment `id`.
    pub fn payment(&self, id: &str) -> Option<Value> {
        let inner = self.state.inner.lock().unwrap();
        inner.payment(id).map(|p| inner.payment_json(p))
    }

    /// Every refund created, oldest first.
    pub fn refunds(&self) -> Vec<Value> {
        let inner = self.state.inner.lock().unwrap();
        inner.refunds.iter().map(|r| inner.refund_json(r)).collect()
    }

    /// The refund `id`.
    pub fn refund(&self, id: &str) -> Option<Value> {
        let inner = self.state.inner.lock().unwrap();
        inner.refund(id).map(|r| inner.refund_json(r))
    }

    /// Settles a refund (`processed`, `failed`, ...); a failed refund no longer counts in the
    /// payment's `amount_refunded`. Panics on an unknown refund.
    pub fn set_refund_state(&self, refund_id: &str, status: &str) {
        let mut inner = self.state.inner.lock().unwrap();
        let refund = inner
            .refunds
            .iter_mut()
            .find(|r| r.id == refund_id)
            .unwrap_or_else(|| panic!("fake Razorpay has no refund {refund_id}"));
        refund.status = status.to_string();
    }

    /// `razorpay_signature` that Checkout hands the browser for this order and payment.
    pub fn checkout_signature(&self, order_id: &str, payment_id: &str) -> String {
        hmac_hex(&self.key_secret, format!("{order_id}|{payment_id}").as_bytes())
    }

    /// A webhook delivery as Razorpay would send it now: `(event id, raw body, X-Razorpay-Signature)`.
    /// `payment.*` events carry the payment, `order.paid` the payment and its order, `refund.*`
    /// the refund and its payment (`payment_id` may then be omitted). Panics on a missing entity.
    pub fn event(&self, event: &str, payment_id: Option<&str>, refund_id: Option<&str>) -> (String, Vec<u8>, String) {
        let inner = self.state.inner.lock().unwrap();
        let payment_of = |id: Option<&str>| {
            let id = id.unwrap_or_else(|| panic!("{event} needs a payment"));
            inner.payment(id).unwrap_or_else(|| panic!("fake Razorpay has no payment {id}"))
        };
        let (contains, payload) = if event.starts_with("refund.") {
            let id = refund_id.unwrap_or_else(|| panic!("{event} needs a refund"));
            let refund = inner.refund(id).unwrap_or_else(|| panic!("fake Razorpay has no refund {id}"));
            let payment = payment_of(Some(payment_id.unwrap_or(&refund.payment_id)));
            (
                vec!["refund", "payment"],
                json!({"refund": {"entity": inner.refund_json(refund)}, "payment": {"entity": inner.payment_json(payment)}}),
            )
        } else if event.starts_with("order.") {
            let payment = payment_of(payment_id);
            let order = inner.order(&payment.order_id).expect("payment's order");
            (
                vec!["payment", "order"],
                json!({"payment": {"entity": inner.payment_json(payment)}, "order": {"entity": inner.order_json(order)}}),
            )
        } else if event.starts_with("payment.") {
            let payment = payment_of(payment_id);
            (vec!["payment"], json!({"payment": {"entity": inner.payment_json(payment)}}))
        } else {
            panic!("fake Razorpay does not know event {event}");
        };
        let body = json!({
            "entity": "event",
            "account_id": ACCOUNT_ID,
            "event": event,
            "contains": contains,
            "payload": payload,
            "created_at": now(),
        });
        let body = serde_json::to_vec(&body).unwrap();
        let signature = hmac_hex(&self.webhook_secret, &body);
        (random_id("evt"), body, signature)
    }

    /// POSTs a webhook delivery to `url` with Razorpay's headers.
    pub async fn deliver(
        &self,
        client: &reqwest::Client,
        url: &str,
        event_id: &str,
        body: &[u8],
        signature: &str,
    ) -> reqwest::Response {
        client
            .post(url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "Razorpay-Webhook/v1")
            .header("X-Razorpay-Signature", signature)
            .header("X-Razorpay-Event-Id", event_id)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }
}

impl Drop for FakeRazorpay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
    }

    async fn post(rzp: &FakeRazorpay, path: &str, body: Value, key: Option<&str>) -> (u16, Value) {
        let mut req = client().post(format!("{}{path}", rzp.base)).basic_auth(&rzp.key_id, Some(&rzp.key_secret));
        if let Some(key) = key {
            req = req.header("X-Refund-Idempotency", key);
        }
        let res = req.json(&body).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    async fn get(rzp: &FakeRazorpay, path: &str) -> (u16, Value) {
        let res = client()
            .get(format!("{}{path}", rzp.base))
            .basic_auth(&rzp.key_id, Some(&rzp.key_secret))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    #[test]
    fn hmac_test_vector() {
        assert_eq!(
            hmac_hex("EnLs21M47BllR3X8PSFtjtbd", b"order_IEIaMR65cu6nz3|pay_IH4NVgf4Dreq1l"),
            "0d4e745a1838664ad6c9c9902212a32d627d68e917290b0ad5f08ff4561bc50f"
        );
    }

    #[tokio::test]
    async fn refuses_without_valid_basic_auth() {
        let rzp = FakeRazorpay::start().await;
        let expected = json!({"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed",
            "source": "NA", "step": "NA", "reason": "NA", "metadata": {}, "field": null}});
        let res = client()
            .post(format!("{}/v1/orders", rzp.base))
            .json(&json!({"amount": 1000, "currency": "INR", "receipt": "r1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.json::<Value>().await.unwrap(), expected);
        let res = client()
            .get(format!("{}/v1/orders/order_whatever", rzp.base))
            .basic_auth(&rzp.key_id, Some("wrong-secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(rzp.calls("POST /v1/orders"), 1);
        assert_eq!(rzp.calls("GET /v1/orders/{id}"), 1);
        assert!(rzp.orders().is_empty());

        rzp.set_down(true);
        let (status, body) = get(&rzp, "/v1/orders/order_whatever").await;
        assert_eq!(status, 503);
        assert_eq!(body["error"]["code"], "SERVER_ERROR");
        rzp.set_down(false);
        let (status, body) = get(&rzp, "/v1/orders/order_whatever").await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["description"], "The id provided does not exist");
        assert_eq!(rzp.calls("GET /v1/orders/order_whatever"), 3);
    }

    #[tokio::test]
    async fn delay_holds_back_the_answer_not_the_work() {
        let rzp = FakeRazorpay::start().await;
        rzp.set_delay(Duration::from_millis(400));
        let quick = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
        let res = quick
            .post(format!("{}/v1/orders", rzp.base))
            .basic_auth(&rzp.key_id, Some(&rzp.key_secret))
            .json(&json!({"amount": 1000, "currency": "INR", "receipt": "slow"}))
            .send()
            .await;
        assert!(res.unwrap_err().is_timeout());
        assert_eq!(rzp.orders().len(), 1);
        rzp.set_delay(Duration::ZERO);
        let (status, _) = get(&rzp, "/v1/orders").await;
        assert_eq!(status, 400, "GET on a POST-only route is not found");
    }

    #[tokio::test]
    async fn order_capture_and_payments_round_trip() {
        let rzp = FakeRazorpay::start().await;
        let (status, body) =
            post(&rzp, "/v1/orders", json!({"amount": 99, "currency": "INR", "receipt": "r"}), None).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["description"], "The amount must be atleast INR 1.00");
        assert_eq!(body["error"]["field"], "amount");
        let (status, body) =
            post(&rzp, "/v1/orders", json!({"amount": 500, "currency": "INR", "customer": "x"}), None).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["field"], "customer");

        let (status, order) = post(
            &rzp,
            "/v1/orders",
            json!({"amount": 123_400, "currency": "INR", "receipt": "ec-order-42", "payment_capture": 1,
                   "notes": {"order": "42"}}),
            None,
        )
        .await;
        assert_eq!(status, 200, "{order}");
        let id = order["id"].as_str().unwrap();
        assert!(id.starts_with("order_") && id.len() == 20, "{id}");
        assert_eq!(order["status"], "created");
        assert_eq!(order["amount_due"], 123_400);
        assert_eq!(order["amount_paid"], 0);
        assert_eq!(order["notes"]["order"], "42");
        assert_eq!(rzp.orders().len(), 1);

        let failed = rzp.fail_payment(id);
        assert_eq!(rzp.order(id).unwrap()["status"], "attempted");
        let paid = rzp.capture_payment(id, None);
        let (status, fetched) = get(&rzp, &format!("/v1/orders/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(fetched["status"], "paid");
        assert_eq!(fetched["amount_paid"], 123_400);
        assert_eq!(fetched["amount_due"], 0);
        assert_eq!(fetched["attempts"], 2);

        let (status, list) = get(&rzp, &format!("/v1/orders/{id}/payments")).await;
        assert_eq!(status, 200);
        assert_eq!(list["entity"], "collection");
        assert_eq!(list["count"], 2);
        assert_eq!(list["items"][0]["id"], paid.as_str());
        assert_eq!(list["items"][0]["status"], "captured");
        assert_eq!(list["items"][0]["captured"], true);
        assert_eq!(list["items"][1]["id"], failed.as_str());
        assert_eq!(list["items"][1]["status"], "failed");
        assert_eq!(list["items"][1]["error_description"], "Payment failed");

        let (status, payment) = get(&rzp, &format!("/v1/payments/{paid}")).await;
        assert_eq!(status, 200);
        assert_eq!(payment["order_id"], id);
        assert_eq!(payment["method"], "upi");
        assert_eq!(payment["refund_status"], Value::Null);
        let signature = rzp.checkout_signature(id, &paid);
        assert_eq!(signature, hmac_hex(KEY_SECRET, format!("{id}|{paid}").as_bytes()));
        assert_eq!(rzp.calls("GET /v1/payments/{id}"), 1);
    }

    #[tokio::test]
    async fn refunds_are_idempotent_and_bounded() {
        let rzp = FakeRazorpay::start().await;
        let (_, order) =
            post(&rzp, "/v1/orders", json!({"amount": 10_000, "currency": "INR", "receipt": "r"}), None).await;
        let order_id = order["id"].as_str().unwrap();
        let pay = rzp.capture_payment(order_id, None);
        let path = format!("/v1/payments/{pay}/refund");

        let (status, _) = post(&rzp, &path, json!({"amount": 100}), Some("short")).await;
        assert_eq!(status, 400);
        let (status, first) = post(&rzp, &path, json!({"amount": 4_000}), Some("ec-refund-0001")).await;
        assert_eq!(status, 200, "{first}");
        assert!(first["id"].as_str().unwrap().starts_with("rfnd_"));
        assert_eq!(first["status"], "pending");
        assert_eq!(first["payment_id"], pay.as_str());
        let (status, again) = post(&rzp, &path, json!({"amount": 4_000}), Some("ec-refund-0001")).await;
        assert_eq!(status, 200);
        assert_eq!(again["id"], first["id"]);
        assert_eq!(rzp.refunds().len(), 1);
        assert_eq!(rzp.payment(&pay).unwrap()["refund_status"], "partial");
        assert_eq!(rzp.payment(&pay).unwrap()["amount_refunded"], 4_000);

        let (status, over) = post(&rzp, &path, json!({"amount": 6_001}), Some("ec-refund-0002")).await;
        assert_eq!(status, 400);
        assert_eq!(over["error"]["description"], "The total refund amount is greater than the refund payment amount");
        assert_eq!(rzp.refunds().len(), 1);

        rzp.set_refund_status("processed");
        let (status, rest) = post(&rzp, &path, json!({}), Some("ec-refund-0003")).await;
        assert_eq!(status, 200);
        assert_eq!(rest["amount"], 6_000);
        assert_eq!(rest["status"], "processed");
        let payment = rzp.payment(&pay).unwrap();
        assert_eq!(payment["status"], "refunded");
        assert_eq!(payment["refund_status"], "full");

        let first_id = first["id"].as_str().unwrap();
        rzp.set_refund_state(first_id, "failed");
        let payment = rzp.payment(&pay).unwrap();
        assert_eq!(payment["amount_refunded"], 6_000);
        assert_eq!(payment["status"], "captured");
        let (status, fetched) = get(&rzp, &format!("/v1/payments/{pay}/refunds/{first_id}")).await;
        assert_eq!(status, 200);
        assert_eq!(fetched["status"], "failed");
        let (status, _) = get(&rzp, &format!("/v1/refunds/{first_id}")).await;
        assert_eq!(status, 200);

        let (event_id, body, signature) = rzp.event("refund.processed", None, rest["id"].as_str());
        assert!(event_id.starts_with("evt_") && event_id.len() == 18);
        assert_eq!(signature, hmac_hex(WEBHOOK_SECRET, &body));
        let event: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(event["contains"], json!(["refund", "payment"]));
        assert_eq!(event["payload"]["refund"]["entity"]["id"], rest["id"]);
        assert_eq!(event["payload"]["payment"]["entity"]["id"], pay.as_str());
        let (_, body, _) = rzp.event("order.paid", Some(&pay), None);
        let event: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(event["payload"]["order"]["entity"]["status"], "paid");
    }
}
