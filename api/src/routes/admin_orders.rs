//! The order desk (API.md §4.6, §4.7 lists, §5, §7.1, §7.2, §9.5): `/api/admin/orders/…` and
//! `/api/staff/orders/…`.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use common::money::Money;
use common::orders::admin::{self, AssigneeFilter, DeskError, ListFilter, NewPayment, StatusFilter};
use common::orders::billing::{self, BillingInput};
use common::orders::{self as order_db, OrderStatus, PaymentStatus};
use common::role::Role;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::desk::{histories_json, list_json, load_detail, order_404, records_json};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Body, Id, Staff};
use crate::state::AppState;

/// Largest payment proof (image or PDF).
pub const MAX_PROOF_BYTES: usize = 10 * 1024 * 1024;

/// The desk routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(statistics))
        .routes(routes!(list_orders))
        .routes(routes!(order_detail))
        .routes(routes!(assign))
        .routes(routes!(update_status))
        .routes(routes!(update_payment_status))
        .routes(routes!(payment_records))
        .routes(routes!(status_history))
        .routes(routes!(update_billing))
        .routes(routes!(staff_orders))
        .routes(routes!(staff_order_detail))
        // Only the proof upload may exceed MAX_BODY_BYTES.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(record_payment))
                .layer(DefaultBodyLimit::max(MAX_PROOF_BYTES + 256 * 1024)),
        )
}

/// Query of the order lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
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

/// Counts for the dashboard.
#[utoipa::path(get, path = "/api/admin/orders/statistics/", tag = "order desk", security(("bearer" = [])),
    responses((status = 200, description = "`{pending, assigned, in_progress, completed, total}`"), (status = 403)))]
async fn statistics(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<Value>> {
    let s = admin::statistics(&state.pool).await?;
    Ok(Json(json!({
        "pending": s.pending, "assigned": s.assigned, "in_progress": s.in_progress,
        "completed": s.completed, "total": s.total,
    })))
}

/// All orders, newest first (bare array without `?page`).
#[utoipa::path(get, path = "/api/admin/orders/", tag = "order desk", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "[AdminOrderRow] or the DRF envelope"), (status = 403)))]
async fn list_orders(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let filter = ListFilter {
        status: StatusFilter::parse(q.status.as_deref()),
        assigned: AssigneeFilter::parse(q.assigned_to.as_deref()),
        search: q.search,
        only_assignee: None,
    };
    Ok(Json(list_json(&state, "/api/admin/orders/", &filter, q.page.as_deref()).await?))
}

/// One order with everything the order page shows.
#[utoipa::path(get, path = "/api/admin/orders/{id}/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "AdminOrderDetail"), (status = 404)))]
async fn order_detail(State(state): State<AppState>, _admin: Admin, Id(id): Id) -> ApiResult<Json<Value>> {
    Ok(Json(load_detail(&state, id, None).await?))
}

fn desk_error(e: DeskError) -> ApiError {
    match e {
        DeskError::NotFound => order_404(),
        DeskError::SameStatus => ApiError::message(StatusCode::BAD_REQUEST, "Order is already in this status"),
        DeskError::StaffNotFound => {
            ApiError::Fields(StatusCode::BAD_REQUEST, json!({"staff_id": ["Staff member not found"]}))
        }
        DeskError::NotStaff => {
            ApiError::Fields(StatusCode::BAD_REQUEST, json!({"staff_id": ["User must have staff or admin role"]}))
        }
        DeskError::Database(e) => e.into(),
    }
}

/// Assign to a staff member: status assigned, checklist built if missing, assignee notified.
#[utoipa::path(post, path = "/api/admin/orders/{id}/assign/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "`{success, message:\"Order assigned to <username>\", order}`"),
        (status = 400, description = "`{\"staff_id\":[…]}`"),
        (status = 404),
    ))]
async fn assign(State(state): State<AppState>, Admin(auth): Admin, Id(id): Id, body: Body) -> ApiResult<Json<Value>> {
    let staff_id = match body.0.get("staff_id") {
        None | Some(Value::Null) => {
            return Err(ApiError::Fields(StatusCode::BAD_REQUEST, json!({"staff_id": ["This field is required."]})));
        }
        Some(v) => super::fields::int_value(v).ok_or_else(|| {
            ApiError::Fields(StatusCode::BAD_REQUEST, json!({"staff_id": ["A valid integer is required."]}))
        })?,
    };
    let username = admin::assign(&state.pool, id, staff_id, auth.user.id).await.map_err(desk_error)?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Order assigned to {username}"),
        "order": load_detail(&state, id, None).await?,
    })))
}

/// Set any status (a manual change in the history).
#[utoipa::path(post, path = "/api/admin/orders/{id}/update-status/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "`{success, message:\"Order status updated to <s>\", order}`"),
        (status = 400, description = "`{success:false, errors}` / `{success:false, message:\"Order is already in this status\"}`"),
        (status = 404),
    ))]
async fn update_status(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<Value>> {
    let mut errors = Map::new();
    let status = match body.text("status") {
        Ok(None) => {
            errors.insert("status".into(), json!(["This field is required."]));
            None
        }
        Ok(Some(s)) => OrderStatus::parse(s.trim()).or_else(|| {
            errors.insert("status".into(), json!([format!("\"{s}\" is not a valid choice.")]));
            None
        }),
        Err(_) => {
            errors.insert("status".into(), json!(["Not a valid string."]));
            None
        }
    };
    let reason = match body.text("reason") {
        Ok(r) => r.unwrap_or_default(),
        Err(_) => {
            errors.insert("reason".into(), json!(["Not a valid string."]));
            String::new()
        }
    };
    let (Some(status), true) = (status, errors.is_empty()) else {
        return Err(ApiError::Errors(StatusCode::BAD_REQUEST, Value::Object(errors)));
    };
    admin::update_status(&state.pool, id, status, &reason, auth.user.id).await.map_err(desk_error)?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Order status updated to {}", status.as_str()),
        "order": load_detail(&state, id, None).await?,
    })))
}

/// Set the payment status; `paid` sets `payment_completed_at` if empty.
#[utoipa::path(post, path = "/api/admin/orders/{id}/update-payment-status/", tag = "order desk",
    security(("bearer" = [])), params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "`{success, message:\"Payment status updated from <a> to <b>\", order}`"),
        (status = 400, description = "`{success:false, message}`"),
        (status = 404),
    ))]
async fn update_payment_status(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<Value>> {
    let raw = body.text_non_empty("payment_status").ok().flatten();
    let Some(raw) = raw else {
        return Err(ApiError::message(StatusCode::BAD_REQUEST, "payment_status is required"));
    };
    let new = match raw.trim() {
        "unpaid" | "partial" | "paid" | "refunded" | "cod" => PaymentStatus::parse(raw.trim()),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::message(
            StatusCode::BAD_REQUEST,
            "Invalid payment status. Must be one of: unpaid, partial, paid, refunded, cod",
        )
    })?;
    let old = admin::update_payment_status(&state.pool, id, new, &state.cfg.invoice_prefix, state.clock.now())
        .await
        .map_err(desk_error)?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Payment status updated from {old} to {}", new.as_str()),
        "order": load_detail(&state, id, None).await?,
    })))
}

const PAYMENT_METHODS: [&str; 7] = ["cash", "upi", "bank_transfer", "card", "cheque", "razorpay", "other"];

/// Checks a proof and stages it privately (`MEDIA_DIR/private/staging`, which `/media/` never
/// serves); returns its staged path. Images are decoded on the blocking pool, under the
/// process-wide decode limit.
async fn store_proof(state: &AppState, file_name: &str, bytes: Vec<u8>) -> Result<String, String> {
    let lower = file_name.to_ascii_lowercase();
    let allowed = [".jpg", ".jpeg", ".png", ".gif", ".pdf"];
    if !allowed.iter().any(|a| lower.ends_with(a)) {
        return Err("Upload a JPEG, PNG or GIF image or a PDF document.".into());
    }
    let (ext, bytes) = if bytes.starts_with(b"%PDF-") {
        if !lower.ends_with(".pdf") {
            return Err("The file's content does not match its extension.".into());
        }
        ("pdf", bytes)
    } else {
        let _permit = state.decode_permits.acquire().await.map_err(|e| format!("decode: {e}"))?;
        let name = file_name.to_string();
        let (verdict, bytes) =
            tokio::task::spawn_blocking(move || (common::media::validate_image(&name, &bytes), bytes))
                .await
                .map_err(|e| format!("decode: {e}"))?;
        (verdict.map_err(|e| e.message())?.ext(), bytes)
    };
    // Staged here; the media worker stores it (Cloudinary `authenticated` or MEDIA_DIR/private).
    let rel = format!("{}/{}.{ext}", common::media::PRIVATE_STAGING_DIR, uuid::Uuid::new_v4().simple());
    let path = state.cfg.media_dir.join(&rel);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| format!("storage: {e}"))?;
    }
    tokio::fs::write(&path, &bytes).await.map_err(|e| format!("storage: {e}"))?;
    Ok(rel)
}

/// Reads a JSON, form or multipart body; a multipart `payment_proof` file comes back apart.
async fn payment_body(state: &AppState, req: Request) -> ApiResult<(Map<String, Value>, Option<(String, Vec<u8>)>)> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let Body(map) = Body::from_request(req, state).await?;
        return Ok((map, None));
    }
    let bad = |m: String| ApiError::detail(StatusCode::BAD_REQUEST, format!("Multipart form parse error - {m}"));
    let mut parts: Result<Multipart, MultipartRejection> = Multipart::from_request(req, state).await;
    let multipart = parts.as_mut().map_err(|e| bad(e.body_text()))?;
    let mut map = Map::new();
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| bad(e.body_text()))? {
        let name = field.name().unwrap_or("").to_string();
        if let Some(fname) = field.file_name().map(str::to_string) {
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.body_text()))? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_PROOF_BYTES {
                    return Err(ApiError::Errors(
                        StatusCode::BAD_REQUEST,
                        json!({"payment_proof": ["The file is larger than 10 MB."]}),
                    ));
                }
            }
            if name == "payment_proof" {
                file = Some((fname, bytes));
            }
        } else {
            let text = field.text().await.map_err(|e| bad(e.body_text()))?;
            map.insert(name, crate::extract::text_part(text));
        }
    }
    Ok((map, file))
}

/// Record an offline payment (JSON or multipart with `payment_proof`).
#[utoipa::path(post, path = "/api/admin/orders/{id}/record-payment/", tag = "order desk",
    security(("bearer" = [])), params(("id" = i64, Path, description = "Order id")),
    request_body(content_type = "multipart/form-data",
        description = "`amount` (≥ 0.01), `payment_method`, `payment_reference?`, `payment_proof?` (JPEG/PNG/GIF/PDF ≤ 10 MB), `notes?`; JSON accepted too"),
    responses(
        (status = 200, description = "`{success, message:\"Payment recorded successfully\", payment, total_paid, balance, fully_paid}`"),
        (status = 400, description = "`{success:false, errors}`"),
        (status = 404),
    ))]
async fn record_payment(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Id(id): Id,
    req: Request,
) -> ApiResult<Json<Value>> {
    let (map, file) = payment_body(&state, req).await?;
    let body = Body(map);
    let mut errors = Map::new();
    let amount = match body.0.get("amount") {
        None | Some(Value::Null) => {
            errors.insert("amount".into(), json!(["This field is required."]));
            None
        }
        Some(v) => match Money::from_json(v, 10) {
            Ok(m) if m.0 >= 1 => Some(m.0),
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
    let method = match body.text("payment_method") {
        Ok(Some(m)) if PAYMENT_METHODS.contains(&m.trim()) => Some(m.trim().to_string()),
        Ok(Some(m)) => {
            errors.insert("payment_method".into(), json!([format!("\"{m}\" is not a valid choice.")]));
            None
        }
        Ok(None) => {
            errors.insert("payment_method".into(), json!(["This field is required."]));
            None
        }
        Err(_) => {
            errors.insert("payment_method".into(), json!(["Not a valid string."]));
            None
        }
    };
    let mut optional_text = |key: &str| match body.text(key) {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => {
            errors.insert(key.into(), json!(["Not a valid string."]));
            String::new()
        }
    };
    let reference = optional_text("payment_reference");
    let notes = optional_text("notes");
    if reference.chars().count() > 100 {
        errors.insert("payment_reference".into(), json!(["Ensure this field has no more than 100 characters."]));
    }
    let (Some(amount), Some(method), true) = (amount, method, errors.is_empty()) else {
        return Err(ApiError::Errors(StatusCode::BAD_REQUEST, Value::Object(errors)));
    };
    if order_db::get(&state.pool, id, None).await?.is_none() {
        return Err(order_404());
    }
    let proof = match file {
        Some((name, bytes)) => Some(
            store_proof(&state, &name, bytes)
                .await
                .map_err(|m| ApiError::Errors(StatusCode::BAD_REQUEST, json!({"payment_proof": [m]})))?,
        ),
        None => None,
    };
    let payment = NewPayment { amount, method, reference: reference.trim().to_string(), proof, notes };
    let done =
        admin::record_payment(&state.pool, id, &payment, auth.user.id, &state.cfg.invoice_prefix, state.clock.now())
            .await
            .map_err(desk_error)?;
    let records = records_json(&state, id).await?;
    let record = records.into_iter().find(|r| r["id"] == json!(done.record_id)).unwrap_or(Value::Null);
    Ok(Json(json!({
        "success": true,
        "message": "Payment recorded successfully",
        "payment": record,
        "total_paid": Money(done.total_paid).as_f64_for_json(),
        "balance": Money(done.balance).as_f64_for_json(),
        "fully_paid": done.fully_paid,
    })))
}

/// The order's payment records, newest first (§5 #1).
#[utoipa::path(get, path = "/api/admin/orders/{id}/payment-records/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "[PaymentRecord]"), (status = 404)))]
async fn payment_records(State(state): State<AppState>, _admin: Admin, Id(id): Id) -> ApiResult<Json<Value>> {
    order_db::get(&state.pool, id, None).await?.ok_or_else(order_404)?;
    Ok(Json(Value::Array(records_json(&state, id).await?)))
}

/// The order's whole status history, newest first, with display labels (§5 #2).
#[utoipa::path(get, path = "/api/admin/orders/{id}/status-history/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "[StatusHistory]"), (status = 404)))]
async fn status_history(State(state): State<AppState>, _admin: Admin, Id(id): Id) -> ApiResult<Json<Value>> {
    order_db::get(&state.pool, id, None).await?.ok_or_else(order_404)?;
    Ok(Json(Value::Array(histories_json(&state, id, i64::MAX).await?)))
}

/// Change the billing details until the invoice is numbered (§9.5).
#[utoipa::path(patch, path = "/api/admin/orders/{id}/billing/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "AdminOrderDetail"),
        (status = 404, description = "§9 shape"),
        (status = 409, description = "`invoice_issued`"),
        (status = 422, description = "Billing fields invalid"),
    ))]
async fn update_billing(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::ext(StatusCode::NOT_FOUND, "not_found", "Order not found.");
    let order = order_db::get(&state.pool, id, None).await?.ok_or_else(not_found)?;
    let mut errors = Map::new();
    let mut text = |key: &str, current: String| match body.text(key) {
        Ok(v) if body.has(key) => v,
        Ok(_) => Some(current),
        Err(_) => {
            errors.insert(key.to_string(), json!(["Not a valid string."]));
            None
        }
    };
    let input = BillingInput {
        name: text("billing_name", order.billing_name.clone()),
        gstin: text("billing_gstin", order.billing_gstin.clone().unwrap_or_default()),
        // A new GSTIN without a state code takes the GSTIN's state.
        state_code: if body.has("billing_gstin") && !body.has("billing_state_code") {
            None
        } else {
            text("billing_state_code", order.billing_state_code.clone())
        },
        address: text("billing_address", order.billing_address.clone()),
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(Value::Object(errors)));
    }
    let customer = common::accounts::users::find(&state.pool, order.user_id).await?;
    let default_name = customer.map(|u| u.display_name()).unwrap_or_default();
    let billing = billing::validate(&input, &default_name, &state.tax.seller_state)
        .map_err(|e| ApiError::validation(json!(e)))?;
    if !admin::update_billing(&state.pool, id, &billing, &state.tax).await.map_err(|e| match e {
        DeskError::NotFound => not_found(),
        other => desk_error(other),
    })? {
        return Err(ApiError::ext(
            StatusCode::CONFLICT,
            "invoice_issued",
            "The invoice is already numbered; billing details can no longer change.",
        ));
    }
    Ok(Json(load_detail(&state, id, None).await?))
}

/// Query of the staff list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct StaffListQuery {
    /// A status, or `pending`.
    status: Option<String>,
    /// Page (the envelope); absent: a bare array.
    page: Option<String>,
}

fn only_assignee(auth: &crate::extract::AuthUser) -> Option<i64> {
    (auth.user.role() != Role::Admin).then_some(auth.user.id)
}

/// Orders of the signed-in staff member (admins: all), newest first.
#[utoipa::path(get, path = "/api/staff/orders/", tag = "order desk", security(("bearer" = [])), params(StaffListQuery),
    responses((status = 200, description = "[AdminOrderRow] or the DRF envelope"), (status = 403)))]
async fn staff_orders(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Query(q): Query<StaffListQuery>,
) -> ApiResult<Json<Value>> {
    let filter = ListFilter {
        status: StatusFilter::parse(q.status.as_deref()),
        assigned: AssigneeFilter::Any,
        search: None,
        only_assignee: only_assignee(&auth),
    };
    Ok(Json(list_json(&state, "/api/staff/orders/", &filter, q.page.as_deref()).await?))
}

/// One order (staff: only one assigned to them).
#[utoipa::path(get, path = "/api/staff/orders/{id}/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 200, description = "AdminOrderDetail"), (status = 404)))]
async fn staff_order_detail(State(state): State<AppState>, Staff(auth): Staff, Id(id): Id) -> ApiResult<Json<Value>> {
    Ok(Json(load_detail(&state, id, only_assignee(&auth)).await?))
}
