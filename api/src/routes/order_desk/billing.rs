//! `PATCH /api/admin/orders/{id}/billing/` (API.md §9.5, §1.1): billing details until the invoice
//! is numbered.

use axum::Json;
use axum::extract::State;
use common::orders::admin::billing;
use common::orders::billing::BillingChanges;
use common::orders::{self as order_db};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{null_as_absent, order_detail};
use crate::error::ApiResult;
use crate::extract::{Admin, Id};
use crate::input::{ExtPayload, Field, FieldErrors, Text};
use crate::routes::order_errors::{billing_error, order_not_found};
use crate::state::AppState;
use crate::views::order_desk::AdminOrderDetail;

/// The billing route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_billing))
}

/// The billing fields (§9.5): the optional body of `orders/create/`, the body of `PATCH billing/`
/// (the fields sent replace the order's; null or `""`: the default) and a manual order's `billing`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BillingRequest {
    /// ≤ 200; default: the customer's full name or username.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub billing_name: Field,
    /// A GSTIN whose first two digits are the state code.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub billing_gstin: Field,
    /// GST state code; a new GSTIN sent without it takes the GSTIN's state.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub billing_state_code: Field,
    /// ≤ 500.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub billing_address: Field,
}

impl TryFrom<BillingRequest> for BillingChanges {
    type Error = FieldErrors;

    /// Each field sent must be a string (or a number, as written) or null; `billing::validate`
    /// checks the rest.
    fn try_from(raw: BillingRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut sent = |name: &str, field: &Field| {
            let text = Text { required: false, allow_blank: true, max: None }.parse(null_as_absent(field));
            field.is_present().then(|| errors.take(name, text).flatten())
        };
        let changes = BillingChanges {
            name: sent("billing_name", &raw.billing_name),
            gstin: sent("billing_gstin", &raw.billing_gstin),
            state_code: sent("billing_state_code", &raw.billing_state_code),
            address: sent("billing_address", &raw.billing_address),
        };
        errors.finish(|| Some(changes))
    }
}

/// Change the billing details until the invoice is numbered (§9.5).
#[utoipa::path(patch, path = "/api/admin/orders/{id}/billing/", tag = "order desk", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")), request_body = BillingRequest,
    responses(
        (status = 200, body = AdminOrderDetail),
        (status = 400, description = "§9 `malformed_body`: not a JSON object"),
        (status = 401),
        (status = 403),
        (status = 404, description = "No such order (§9 shape)"),
        (status = 409, description = "`invoice_issued` (§9 shape)"),
        (status = 422, description = "Billing fields invalid (§9 shape, `details` per field)"),
    ))]
async fn update_billing(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    ExtPayload(raw): ExtPayload<BillingRequest>,
) -> ApiResult<Json<AdminOrderDetail>> {
    let order = order_db::get(&state.pool, id, None).await?.ok_or_else(order_not_found)?;
    let changes = BillingChanges::try_from(raw).map_err(FieldErrors::validation)?;
    billing::update(&state.pool, &order, &changes, &state.tax).await.map_err(billing_error)?;
    Ok(Json(order_detail(&state, id, None).await?))
}
