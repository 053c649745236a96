//! The order desk (API.md §4.6, §4.7, §5, §7.1, §7.2, §9.4, §9.5): `/api/admin/orders/…`,
//! `/api/staff/orders/…` and the desk's tools, one module per part of the admin app's work.
//!
//! | module | routes |
//! |---|---|
//! | [`list`] | `GET admin/orders/`, `admin/orders/statistics/`, `staff/orders/` |
//! | [`detail`] | `GET admin/orders/{id}/`, `staff/orders/{id}/`, `…/payment-records/`, `…/status-history/` |
//! | [`status`] | `POST …/assign/`, `…/update-status/`, `…/update-payment-status/` |
//! | [`payments`] | `POST …/record-payment/` (JSON, form or multipart with a proof) |
//! | [`refunds`] | `POST …/refund/`, `GET …/refunds/` |
//! | [`billing`] | `PATCH …/billing/` |
//! | [`manual`] | `POST admin/orders/manual/` |
//! | [`search`] | `GET admin/customers/search/`, `admin/products/for-order/`, `admin/staff/`, `admin/search/` |
//!
//! Each handler converts its typed request into the values `common::orders::admin` takes, calls
//! one operation there, and answers with a view of `crate::views::order_desk`; refusals are
//! written in [`super::order_errors`].

pub mod billing;
pub mod detail;
pub mod list;
pub mod manual;
pub mod payments;
pub mod refunds;
pub mod search;
pub mod status;

use common::orders::admin::detail as loader;
use common::role::Role;
use utoipa_axum::router::OpenApiRouter;

use super::order_errors::order_404;
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::input::{self, Field, Text};
use crate::state::AppState;
use crate::views::order_desk::AdminOrderDetail;

/// Every route of the desk.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(list::router())
        .merge(detail::router())
        .merge(status::router())
        .merge(payments::router())
        .merge(refunds::router())
        .merge(billing::router())
        .merge(manual::router())
        .merge(search::router())
}

/// Staff see only the orders assigned to them; admins see all.
fn only_assignee(auth: &AuthUser) -> Option<i64> {
    (auth.user.role() != Role::Admin).then_some(auth.user.id)
}

/// An order's detail as the desk shows it (staff: only an order assigned to them; else the DRF
/// 404).
async fn order_detail(state: &AppState, id: i64, only_assignee: Option<i64>) -> ApiResult<AdminOrderDetail> {
    let detail = loader::load(&state.pool, id, only_assignee).await?.ok_or_else(order_404)?;
    Ok(AdminOrderDetail::new(&state.cfg.public_base_url, &detail))
}

/// The field with `null` read as not sent (the desk's views answer "This field is required."
/// for both).
pub(crate) fn null_as_absent(field: &Field) -> &Field {
    if *field == Field::Null { &Field::Absent } else { field }
}

/// A parsed field that must have been sent: absent → "This field is required.".
fn required<T>(parsed: Result<Option<T>, String>) -> Result<Option<T>, String> {
    match parsed {
        Ok(None) => Err("This field is required.".into()),
        other => other,
    }
}

/// Notes, kept as written (the desk's other texts are trimmed): a string, a number as written,
/// or nothing (absent or null).
fn notes(field: &Field) -> Result<String, String> {
    match field {
        Field::Value(serde_json::Value::String(s)) => Ok(s.clone()),
        other => Text { required: false, allow_blank: true, max: None }
            .parse(null_as_absent(other))
            .map(Option::unwrap_or_default),
    }
}

/// The one parser of the desk's amounts (payments, initial payments, refunds): a money value of
/// at most 10 digits and 2 places, at least 0.01; paise (`Ok(None)`: absent).
fn positive_amount(field: &Field) -> Result<Option<i64>, String> {
    match input::amount(field, 10)? {
        Some(m) if m.0 < 1 => Err("Ensure this value is greater than or equal to 0.01.".into()),
        other => Ok(other.map(|m| m.0)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn amounts_are_at_least_a_paisa() {
        let v = |j| Field::Value(j);
        assert_eq!(positive_amount(&v(json!("4999.5"))), Ok(Some(499_950)));
        assert_eq!(positive_amount(&v(json!(0.01))), Ok(Some(1)));
        assert_eq!(positive_amount(&Field::Absent), Ok(None));
        assert_eq!(positive_amount(&v(json!("0"))), Err("Ensure this value is greater than or equal to 0.01.".into()));
        assert_eq!(positive_amount(&v(json!(-3))), Err("Ensure this value is greater than or equal to 0.01.".into()));
        assert_eq!(positive_amount(&v(json!("x"))), Err("A valid number is required.".into()));
        assert_eq!(
            positive_amount(&v(json!("1.234"))),
            Err("Ensure that there are no more than 2 decimal places.".into())
        );
    }
}
