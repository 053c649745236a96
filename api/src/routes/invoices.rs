//! Invoice and credit-note downloads (API.md §4.5, §4.6, §7.10, §9.5).
//!
//! The PDF is the one the `invoices` worker stored; when it has not stored it yet (an order paid a
//! second ago) the request renders it from the frozen snapshot with the same renderer (a few
//! milliseconds on a blocking thread: the one place a request makes a PDF). An order paid before
//! invoices were issued gets its snapshot on first download, with its existing number.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::orders::invoices::{self, InvoiceError, InvoiceSettings};
use common::role::Role;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::secure_files::FileBytes;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Id, Ids, Signed, Staff};
use crate::state::AppState;

/// The download routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customer_invoice))
        .routes(routes!(desk_invoice))
        .routes(routes!(customer_credit_note))
        .routes(routes!(desk_credit_note))
}

/// Who asks: the customer site (§4.5 bodies) or the admin app (§4.6 bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Desk {
    Customer,
    Admin,
}

impl Desk {
    fn forbidden(self) -> ApiError {
        match self {
            Desk::Customer => {
                ApiError::error(StatusCode::FORBIDDEN, "You do not have permission to download this invoice")
            }
            Desk::Admin => {
                ApiError::error(StatusCode::FORBIDDEN, "You can only download invoices for orders assigned to you")
            }
        }
    }

    fn failed(self, e: &InvoiceError) -> ApiError {
        tracing::error!(error = %e, "invoice download failed");
        match self {
            Desk::Customer => {
                ApiError::error(StatusCode::INTERNAL_SERVER_ERROR, format!("Invoice generation error: {e}"))
            }
            Desk::Admin => {
                ApiError::error(StatusCode::INTERNAL_SERVER_ERROR, format!("Failed to generate invoice: {e}"))
            }
        }
    }
}

fn order_not_found() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "Order not found")
}

fn not_paid() -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, "Invoice is only available for paid orders")
}

/// Checks the caller may download the order's documents: on the customer site the owner, an
/// admin or the assignee; on the desk an admin, or staff for orders assigned to them.
async fn check_access(state: &AppState, auth: &AuthUser, order_id: i64, desk: Desk) -> ApiResult<()> {
    let row: Option<(i64, Option<i64>)> = sqlx::query_as("SELECT user_id, assigned_to_id FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_optional(&state.pool)
        .await?;
    let (owner, assignee) = row.ok_or_else(order_not_found)?;
    let me = auth.user.id;
    let admin = auth.user.role() == Role::Admin;
    let allowed = match desk {
        Desk::Customer => owner == me || admin || assignee == Some(me),
        Desk::Admin => admin || assignee == Some(me),
    };
    if allowed { Ok(()) } else { Err(desk.forbidden()) }
}

fn pdf_response(name: &str, bytes: Vec<u8>) -> ApiResult<Response> {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(ApiError::internal)?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}

async fn invoice(state: &AppState, auth: &AuthUser, order_id: i64, desk: Desk) -> ApiResult<Response> {
    check_access(state, auth, order_id, desk).await?;
    let settings = InvoiceSettings::of(&state.cfg);
    let id =
        invoices::ensure_invoice(&state.pool, order_id, &settings, state.clock.now()).await?.ok_or_else(not_paid)?;
    let (name, bytes) = invoices::pdf(&state.pool, &state.cfg.media_dir, id)
        .await
        .map_err(|e| match e {
            InvoiceError::Database(e) => ApiError::from(e),
            other => desk.failed(&other),
        })?
        .ok_or_else(order_not_found)?;
    pdf_response(&name, bytes)
}

async fn credit_note(
    state: &AppState,
    auth: &AuthUser,
    order_id: i64,
    note_id: i64,
    desk: Desk,
) -> ApiResult<Response> {
    check_access(state, auth, order_id, desk).await?;
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM invoice WHERE id = $1 AND order_id = $2 AND kind = 'credit_note'")
            .bind(note_id)
            .bind(order_id)
            .fetch_optional(&state.pool)
            .await?;
    let id = found.ok_or_else(|| ApiError::error(StatusCode::NOT_FOUND, "Credit note not found"))?;
    let (name, bytes) = invoices::pdf(&state.pool, &state.cfg.media_dir, id)
        .await
        .map_err(|e| match e {
            InvoiceError::Database(e) => ApiError::from(e),
            other => desk.failed(&other),
        })?
        .ok_or_else(|| ApiError::error(StatusCode::NOT_FOUND, "Credit note not found"))?;
    pdf_response(&name, bytes)
}

/// The order's invoice PDF: the owner, an admin or the assignee (§4.5, §7.10, §9.5).
#[utoipa::path(get, path = "/api/orders/{id}/invoice/download/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "`attachment; filename=\"Invoice-<number, / as ->-<YYYYMMDD>.pdf\"`",
            content((FileBytes = "application/pdf"))),
        (status = 400, description = "`{\"error\":\"Invoice is only available for paid orders\"}`"),
        (status = 401),
        (status = 403, description = "`{\"error\":\"You do not have permission to download this invoice\"}`"),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
        (status = 500, description = "`{\"error\":\"Invoice generation error: …\"}`"),
    ))]
async fn customer_invoice(State(state): State<AppState>, Signed(auth): Signed, Id(id): Id) -> ApiResult<Response> {
    invoice(&state, &auth, id, Desk::Customer).await
}

/// The order's invoice PDF for the desk: admins, staff for orders assigned to them (§4.6).
#[utoipa::path(get, path = "/api/admin/orders/{id}/invoice/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "`attachment; filename=\"Invoice-<number, / as ->-<YYYYMMDD>.pdf\"`",
            content((FileBytes = "application/pdf"))),
        (status = 400, description = "`{\"error\":\"Invoice is only available for paid orders\"}`"),
        (status = 401),
        (status = 403, description = "`{\"error\":\"You can only download invoices for orders assigned to you\"}`"),
        (status = 404, description = "`{\"error\":\"Order not found\"}`"),
        (status = 500, description = "`{\"error\":\"Failed to generate invoice: …\"}`"),
    ))]
async fn desk_invoice(State(state): State<AppState>, Staff(auth): Staff, Id(id): Id) -> ApiResult<Response> {
    invoice(&state, &auth, id, Desk::Admin).await
}

/// A credit note of one of the order's refunds: the same people as the invoice (§9.4).
#[utoipa::path(get, path = "/api/orders/{id}/credit-notes/{note_id}/download/", tag = "orders",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id"), ("note_id" = i64, Path, description = "Credit note id")),
    responses(
        (status = 200, description = "`attachment; filename=\"CreditNote-<number, / as ->-<YYYYMMDD>.pdf\"`",
            content((FileBytes = "application/pdf"))),
        (status = 401),
        (status = 403, description = "`{\"error\":\"You do not have permission to download this invoice\"}`"),
        (status = 404, description = "`{\"error\":\"Order not found\"}` / `{\"error\":\"Credit note not found\"}`"),
    ))]
async fn customer_credit_note(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Ids(id, note_id): Ids,
) -> ApiResult<Response> {
    credit_note(&state, &auth, id, note_id, Desk::Customer).await
}

/// A credit note for the desk: admins, staff for orders assigned to them.
#[utoipa::path(get, path = "/api/admin/orders/{id}/credit-notes/{note_id}/", tag = "order desk",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id"), ("note_id" = i64, Path, description = "Credit note id")),
    responses(
        (status = 200, description = "`attachment; filename=\"CreditNote-<number, / as ->-<YYYYMMDD>.pdf\"`",
            content((FileBytes = "application/pdf"))),
        (status = 401),
        (status = 403, description = "`{\"error\":\"You can only download invoices for orders assigned to you\"}`"),
        (status = 404, description = "`{\"error\":\"Order not found\"}` / `{\"error\":\"Credit note not found\"}`"),
    ))]
async fn desk_credit_note(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Ids(id, note_id): Ids,
) -> ApiResult<Response> {
    credit_note(&state, &auth, id, note_id, Desk::Admin).await
}
