//! `POST /api/admin/orders/manual/` (API.md §4.6, §5 #8, #16, §6, §7.2): an order taken by phone,
//! WhatsApp or at the counter.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::catalog::ProductType;
use common::orders::admin::manual::{self, ManualCustomer, ManualItem, ManualOrder};
use common::orders::admin::records::PaymentMethod;
use common::orders::billing::BillingInput;
use common::orders::{OrderSource, PaymentStatus, Priority};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::billing::BillingRequest;
use super::{notes, null_as_absent, order_detail, positive_amount, required};
use crate::error::ApiResult;
use crate::extract::Staff;
use crate::input::not_a_list;
use crate::input::{self, Field, FieldErrors, Payload, Text};
use crate::routes::order_errors::manual_error;
use crate::state::AppState;
use crate::views::order_desk::OrderEnvelope;

/// The manual-order route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(manual_order))
}

/// The customer of a manual order.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ManualCustomerRequest {
    /// ≤ 100; a new account's first name.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub name: Field,
    /// ≤ 15; finds the customer's account (phones compared normalised), else is the new
    /// account's username and phone.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub phone: Field,
    /// A new account's email.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Field,
    /// ≤ 500 (checked, not kept).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub address: Field,
    /// ≤ 100 (checked, not kept).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub city: Field,
    /// ≤ 100 (checked, not kept).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub state: Field,
    /// ≤ 10 (checked, not kept).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub pincode: Field,
}

/// A line of a manual order (other keys, such as the admin app's `price`, are ignored).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ManualItemRequest {
    /// `package` or `campaign`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub product_type: Field,
    /// An active product of that type.
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    pub product_id: Field,
    /// 1 to 100000 (default 1).
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub quantity: Field,
}

/// Body of `orders/manual/` (§7.2); empty strings count as not sent (§5 #16).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ManualOrderRequest {
    /// The customer.
    #[serde(default)]
    #[schema(value_type = ManualCustomerRequest, required = true)]
    pub customer: Field,
    /// At least one line; current prices of active products are charged.
    #[serde(default)]
    #[schema(value_type = Vec<ManualItemRequest>, required = true)]
    pub items: Field,
    /// phone_call, whatsapp, walk_in, email, referral or other.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub order_source: Field,
    /// pending or unpaid (the default, stored unpaid), partial, paid, cod or refunded (§5 #8, #16).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub payment_status: Field,
    /// cash (default), upi, bank_transfer, card, cheque or other.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub payment_method: Field,
    /// ≤ 100.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub payment_reference: Field,
    /// The initial payment of a paid or partial order (default: the total).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1000.00")]
    pub payment_amount: Field,
    /// A staff or admin user: the order is assigned (no checklist).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub assigned_to: Field,
    /// low, normal (default), high or urgent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub priority: Field,
    /// Kept as the order's `admin_notes`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Field,
    /// Billing details (§9.5; default: the customer's name and the seller's state).
    #[serde(default)]
    #[schema(value_type = Option<BillingRequest>)]
    pub billing: Field,
}

/// An object of the body as its raw struct; anything else is DRF's "Invalid data. Expected a
/// dictionary.".
fn dictionary<T: DeserializeOwned + Default>(value: &Value) -> Result<T, FieldErrors> {
    match value {
        Value::Object(map) => Ok(input::from_map(map.clone()).unwrap_or_default()),
        _ => {
            let mut errors = FieldErrors::new();
            errors.add("non_field_errors", "Invalid data. Expected a dictionary.");
            Err(errors)
        }
    }
}

/// A nested object of the body: `None` when absent or null.
fn nested<T: DeserializeOwned + Default>(field: &Field) -> Option<Result<T, FieldErrors>> {
    field.value().map(dictionary)
}

/// An optional text member: null and blank count as not sent.
fn optional_text(errors: &mut FieldErrors, name: &str, field: &Field, max: usize) -> Option<String> {
    errors.take(name, Text::optional(max).parse(input::non_blank(field))).flatten()
}

impl TryFrom<ManualCustomerRequest> for ManualCustomer {
    type Error = FieldErrors;

    fn try_from(raw: ManualCustomerRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.take("name", Text::required(100).parse(null_as_absent(&raw.name))).flatten();
        let phone = errors.take("phone", Text::required(15).parse(null_as_absent(&raw.phone))).flatten();
        let email = optional_text(&mut errors, "email", &raw.email, 254);
        let email = email.and_then(|e| errors.take("email", input::email(&e)));
        optional_text(&mut errors, "address", &raw.address, 500);
        optional_text(&mut errors, "city", &raw.city, 100);
        optional_text(&mut errors, "state", &raw.state, 100);
        optional_text(&mut errors, "pincode", &raw.pincode, 10);
        errors.finish(|| Some(ManualCustomer { name: name?, phone: phone?, email }))
    }
}

impl TryFrom<ManualItemRequest> for ManualItem {
    type Error = FieldErrors;

    fn try_from(raw: ManualItemRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let kind = required(input::choice(null_as_absent(&raw.product_type), ProductType::parse));
        let kind = errors.take("product_type", kind).flatten();
        let product_id = errors.take("product_id", required(input::id(null_as_absent(&raw.product_id)))).flatten();
        let quantity = errors.take("quantity", input::quantity_or_one(&raw.quantity, common::cart::MAX_QUANTITY));
        errors.finish(|| Some(ManualItem { kind: kind?, product_id: product_id?, quantity: quantity? }))
    }
}

/// The lines: a non-empty list; `Err` is the value of the `items` error (its message, or each
/// line's errors at its position).
fn items(field: &Field) -> Result<Vec<ManualItem>, Value> {
    let list = match field.value() {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => return Err(json!(["This list may not be empty."])),
        Some(other) => {
            return Err(json!([not_a_list(other)]));
        }
        None => return Err(json!(["This field is required."])),
    };
    let lines: Vec<Result<ManualItem, FieldErrors>> =
        list.iter().map(|entry| dictionary::<ManualItemRequest>(entry).and_then(ManualItem::try_from)).collect();
    if lines.iter().all(Result::is_ok) {
        return Ok(lines.into_iter().flatten().collect());
    }
    Err(Value::Array(lines.into_iter().map(|line| line.err().unwrap_or_default().into_value()).collect()))
}

/// `payment_status`: `pending` (stored unpaid) or one of the five values.
fn manual_payment_status(value: &str) -> Option<PaymentStatus> {
    if value == "pending" { Some(PaymentStatus::Unpaid) } else { PaymentStatus::parse_exact(value) }
}

impl TryFrom<BillingRequest> for BillingInput {
    type Error = FieldErrors;

    /// The billing of a manual order: optional texts (null and blank count as not sent);
    /// `billing::validate` checks the rest.
    fn try_from(raw: BillingRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let input = BillingInput {
            name: optional_text(&mut errors, "billing_name", &raw.billing_name, 200),
            gstin: optional_text(&mut errors, "billing_gstin", &raw.billing_gstin, 15),
            state_code: optional_text(&mut errors, "billing_state_code", &raw.billing_state_code, 2),
            address: optional_text(&mut errors, "billing_address", &raw.billing_address, 500),
        };
        errors.finish(|| Some(input))
    }
}

impl TryFrom<ManualOrderRequest> for ManualOrder {
    type Error = FieldErrors;

    fn try_from(raw: ManualOrderRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let customer =
            match nested::<ManualCustomerRequest>(&raw.customer).map(|c| c.and_then(ManualCustomer::try_from)) {
                Some(Ok(customer)) => Some(customer),
                Some(Err(e)) => {
                    errors.nest("customer", e);
                    None
                }
                None => {
                    errors.add("customer", "This field is required.");
                    None
                }
            };
        let lines = items(&raw.items).unwrap_or_else(|e| {
            errors.nest("items", e);
            Vec::new()
        });
        let source = required(input::choice(input::non_blank(&raw.order_source), OrderSource::parse_manual));
        let order_source = errors.take("order_source", source).flatten();
        let status = input::choice(input::non_blank(&raw.payment_status), manual_payment_status);
        let payment_status = errors.take("payment_status", status).flatten().unwrap_or(PaymentStatus::Unpaid);
        let method = input::choice(input::non_blank(&raw.payment_method), |s| {
            PaymentMethod::parse_in(&PaymentMethod::OFFLINE, s)
        });
        let payment_method = errors.take("payment_method", method).flatten();
        let priority = input::choice(input::non_blank(&raw.priority), Priority::parse);
        let priority = errors.take("priority", priority).flatten().unwrap_or_default();
        let payment_reference =
            optional_text(&mut errors, "payment_reference", &raw.payment_reference, 100).unwrap_or_default();
        let notes = errors.take("notes", notes(&raw.notes)).unwrap_or_default();
        let payment_amount =
            errors.take("payment_amount", positive_amount(input::non_blank(&raw.payment_amount))).flatten();
        let assigned_to = errors.take("assigned_to", input::id(input::non_blank(&raw.assigned_to))).flatten();
        let billing = match nested::<BillingRequest>(&raw.billing).map(|b| b.and_then(BillingInput::try_from)) {
            Some(Ok(billing)) => billing,
            Some(Err(e)) => {
                errors.nest("billing", e);
                BillingInput::default()
            }
            None => BillingInput::default(),
        };
        errors.finish(|| {
            Some(ManualOrder {
                customer: customer?,
                items: lines,
                order_source: order_source?,
                payment_status,
                payment_method,
                payment_reference,
                payment_amount,
                assigned_to,
                priority,
                notes,
                billing,
            })
        })
    }
}

/// Take an order by phone, WhatsApp or at the counter (§7.2).
#[utoipa::path(post, path = "/api/admin/orders/manual/", tag = "order desk", security(("bearer" = [])),
    request_body = ManualOrderRequest,
    responses(
        (status = 201, body = OrderEnvelope, description = "`{success, message:\"Manual order created successfully\", order}`"),
        (status = 400, description = "`{success:false, errors}` (nested per customer field, per line, per billing field)"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{success:false, message:\"Product not found or inactive\"}`"),
    ))]
async fn manual_order(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Payload(raw): Payload<ManualOrderRequest>,
) -> ApiResult<(StatusCode, Json<OrderEnvelope>)> {
    let order = ManualOrder::try_from(raw).map_err(FieldErrors::wrapped)?;
    let id = manual::create(
        &state.pool,
        &order,
        &state.tax,
        auth.user.id,
        &common::orders::invoices::InvoiceSettings::of(&state.cfg),
        state.clock.now(),
    )
    .await
    .map_err(manual_error)?;
    let order = order_detail(&state, id, None).await?;
    Ok((StatusCode::CREATED, Json(OrderEnvelope::new("Manual order created successfully", order))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(body: Value) -> Result<ManualOrder, Value> {
        let raw: ManualOrderRequest = serde_json::from_value(body).unwrap();
        ManualOrder::try_from(raw).map_err(FieldErrors::into_value)
    }

    #[test]
    fn the_admin_apps_form_parses_with_its_defaults() {
        let order = parse(json!({
            "customer": {"name": " Asha ", "phone": "9876543210", "email": "", "city": "Mysuru"},
            "items": [{"product_type": "package", "product_id": "7", "quantity": 2, "price": "1.00"},
                      {"product_type": "campaign", "product_id": 8}],
            "order_source": "phone_call", "payment_status": "unpaid", "priority": "", "notes": " as typed ",
        }))
        .unwrap();
        assert_eq!((order.customer.name.as_str(), order.customer.email.as_deref()), ("Asha", None));
        assert_eq!(order.items.len(), 2);
        assert_eq!((order.items[0].product_id, order.items[0].quantity, order.items[1].quantity), (7, 2, 1));
        assert_eq!(order.order_source, OrderSource::PhoneCall);
        assert_eq!((order.payment_status, order.priority), (PaymentStatus::Unpaid, Priority::Normal));
        assert_eq!(order.notes, " as typed ");
        assert_eq!(order.payment_method, None);
    }

    #[test]
    fn errors_nest_per_customer_field_and_per_line() {
        let errors = parse(json!({
            "customer": {"phone": "1234567890123456"},
            "items": [{"product_type": "package", "product_id": 1}, "x", {"quantity": 0}],
            "payment_method": "razorpay",
            "billing": {"billing_state_code": "123"},
        }))
        .unwrap_err();
        assert_eq!(
            errors,
            json!({
                "customer": {"name": ["This field is required."],
                             "phone": ["Ensure this field has no more than 15 characters."]},
                "items": [{}, {"non_field_errors": ["Invalid data. Expected a dictionary."]},
                          {"product_type": ["This field is required."], "product_id": ["This field is required."],
                           "quantity": ["Ensure this value is greater than or equal to 1."]}],
                "order_source": ["This field is required."],
                "payment_method": ["\"razorpay\" is not a valid choice."],
                "billing": {"billing_state_code": ["Ensure this field has no more than 2 characters."]},
            })
        );
        let errors = parse(json!({"customer": "x", "items": {}, "order_source": "web"})).unwrap_err();
        assert_eq!(errors["customer"], json!({"non_field_errors": ["Invalid data. Expected a dictionary."]}));
        assert_eq!(errors["items"], json!(["Expected a list of items but got type \"dict\"."]));
        assert_eq!(parse(json!({"items": []})).unwrap_err()["items"], json!(["This list may not be empty."]));
    }
}
