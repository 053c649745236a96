//! Offline payments (API.md §4.6 `record-payment/`, §7.2): JSON, a form, or multipart with a
//! private proof (issue 9 #5).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use common::orders::admin::records::{self, NewPayment, PaymentMethod};
use common::orders::{self as order_db};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{notes, null_as_absent, positive_amount, required};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Body, Id};
use crate::input::{self, Field, FieldErrors, Text};
use crate::routes::order_errors::{desk_error, order_404};
use crate::state::AppState;
use crate::views::order_desk::PaymentRecord;
use crate::views::{Num, UserBasic};

/// Largest payment proof (image or PDF).
pub const MAX_PROOF_BYTES: usize = 10 * 1024 * 1024;

/// The payment route: only the proof upload may exceed `MAX_BODY_BYTES`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(record_payment)).layer(DefaultBodyLimit::max(MAX_PROOF_BYTES + 256 * 1024))
}

/// Body of `record-payment/` (multipart text parts, a form or JSON; the proof is a multipart file).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RecordPaymentRequest {
    /// At least 0.01 (number or numeric string).
    #[serde(default)]
    #[schema(value_type = String, example = "4999.00", required = true)]
    pub amount: Field,
    /// cash, upi, bank_transfer, card, cheque, razorpay or other.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub payment_method: Field,
    /// ≤ 100.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub payment_reference: Field,
    /// JPEG, PNG, GIF or PDF, ≤ 10 MB: a multipart file (anything else under this name is ignored).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Binary)]
    pub payment_proof: Field,
    /// Notes.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Field,
}

/// A validated payment, before its proof is staged.
#[derive(Debug, Clone)]
struct Payment {
    amount: i64,
    method: PaymentMethod,
    reference: String,
    notes: String,
}

impl TryFrom<RecordPaymentRequest> for Payment {
    type Error = FieldErrors;

    fn try_from(raw: RecordPaymentRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let amount = errors.take("amount", required(positive_amount(null_as_absent(&raw.amount)))).flatten();
        let method = input::choice(null_as_absent(&raw.payment_method), |s| {
            PaymentMethod::parse_in(&PaymentMethod::RECORDABLE, s)
        });
        let method = errors.take("payment_method", required(method)).flatten();
        let reference = Text::optional(100).parse(null_as_absent(&raw.payment_reference));
        let reference = errors.take("payment_reference", reference).flatten().unwrap_or_default();
        let notes = errors.take("notes", notes(&raw.notes)).unwrap_or_default();
        errors.finish(|| Some(Payment { amount: amount?, method: method?, reference, notes }))
    }
}

/// `200` of `record-payment/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentRecorded {
    /// Always `true`.
    pub success: bool,
    /// `Payment recorded successfully`.
    pub message: &'static str,
    /// The new record.
    pub payment: PaymentRecord,
    /// Σ records.
    pub total_paid: Num,
    /// total − Σ records.
    pub balance: Num,
    /// Σ records ≥ total.
    pub fully_paid: bool,
}

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

/// `{success:false, errors:{payment_proof:[msg]}}`.
fn proof_error(msg: impl Into<String>) -> ApiError {
    let mut errors = FieldErrors::new();
    errors.add("payment_proof", msg);
    errors.wrapped()
}

/// Reads a JSON, form or multipart body; a multipart `payment_proof` file comes back apart.
async fn payment_body(state: &AppState, req: Request) -> ApiResult<(Map<String, Value>, Option<(String, Vec<u8>)>)> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        // JSON and form bodies get `MAX_BODY_BYTES` like every other route: only a multipart
        // body (the proof upload) may be as large as this route's layer allows.
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, state.cfg.max_body_bytes).await.map_err(|e| {
            if e.to_string().to_ascii_lowercase().contains("length limit") {
                ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            } else {
                ApiError::detail(StatusCode::BAD_REQUEST, "Could not read the request body.")
            }
        })?;
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
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
                    return Err(proof_error("The file is larger than 10 MB."));
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

/// Record an offline payment (JSON, a form, or multipart with `payment_proof`).
#[utoipa::path(post, path = "/api/admin/orders/{id}/record-payment/", tag = "order desk",
    security(("bearer" = [])), params(("id" = i64, Path, description = "Order id")),
    request_body(
        content(
            (RecordPaymentRequest = "multipart/form-data"),
            (RecordPaymentRequest = "application/json"),
            (RecordPaymentRequest = "application/x-www-form-urlencoded"),
        ),
        description = "`payment_proof` (JPEG/PNG/GIF/PDF ≤ 10 MB) in multipart only"),
    responses(
        (status = 200, body = PaymentRecorded, description = "`{success, message:\"Payment recorded successfully\", payment, total_paid, balance, fully_paid}`"),
        (status = 400, description = "`{success:false, errors}`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"No Order matches the given query.\"}`"),
        (status = 413, description = "`{\"detail\":\"Request body is too large.\"}`"),
    ))]
async fn record_payment(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Id(id): Id,
    req: Request,
) -> ApiResult<Json<PaymentRecorded>> {
    let (map, file) = payment_body(&state, req).await?;
    let raw: RecordPaymentRequest = input::from_map(map)?;
    let payment = Payment::try_from(raw).map_err(FieldErrors::wrapped)?;
    if order_db::get(&state.pool, id, None).await?.is_none() {
        return Err(order_404());
    }
    let proof = match file {
        Some((name, bytes)) => Some(store_proof(&state, &name, bytes).await.map_err(proof_error)?),
        None => None,
    };
    let new = NewPayment {
        amount: payment.amount,
        method: payment.method,
        reference: payment.reference,
        proof,
        notes: payment.notes,
    };
    let done = records::record_payment(
        &state.pool,
        id,
        &new,
        auth.user.id,
        &common::orders::invoices::InvoiceSettings::of(&state.cfg),
        state.clock.now(),
    )
    .await
    .map_err(desk_error)?;
    Ok(Json(PaymentRecorded {
        success: true,
        message: "Payment recorded successfully",
        payment: PaymentRecord::with_recorder(&done.record, Some(UserBasic::from(&auth.user))),
        total_paid: Num(done.total_paid),
        balance: Num(done.balance),
        fully_paid: done.fully_paid,
    }))
}
