//! How the order family's refusals answer (API.md §4.5–§4.7, §9.4, §9.5). `common::orders` types
//! them (`CreateError`, `DeskError`, `AssigneeError`, `ManualError`, `RefundError`,
//! `TickError`, billing field errors); this module is the one place their HTTP bodies are written.

use std::collections::HashMap;

use axum::http::StatusCode;
use common::accounts::users::User;
use common::money::Money;
use common::orders::admin::manual::ManualError;
use common::orders::admin::{AssigneeError, DeskError};
use common::orders::billing::BillingErrors;
use common::orders::checklist::TickError;
use common::orders::create::CreateError;
use common::orders::refunds::RefundError;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::input::FieldErrors;
use crate::views::orders::Refund;

/// DRF's `get_object_or_404` body for orders.
pub fn order_404() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "No Order matches the given query.")
}

/// The §9 404 of the Rust-only order routes (billing, refunds).
pub fn order_not_found() -> ApiError {
    ApiError::ext(StatusCode::NOT_FOUND, "not_found", "Order not found.")
}

/// Billing field errors (§9.5) keyed by input name, every message kept.
pub fn billing_fields(errors: BillingErrors) -> FieldErrors {
    let mut fields = FieldErrors::new();
    for (field, messages) in errors {
        fields.nest(field, messages);
    }
    fields
}

/// `orders/create/` (§4.5, §6).
pub fn create_error(e: CreateError) -> ApiError {
    match e {
        CreateError::CartNotFound => ApiError::error(StatusCode::NOT_FOUND, "Cart not found"),
        CreateError::CartEmpty => ApiError::error(StatusCode::BAD_REQUEST, "Cart is empty"),
        CreateError::BelowMinimum => {
            ApiError::error(StatusCode::BAD_REQUEST, "Order total must be at least 1.00 to pay online")
        }
        CreateError::Provider(e) => {
            tracing::warn!(error = %e, "razorpay order creation failed; nothing kept");
            ApiError::error(StatusCode::BAD_GATEWAY, "Order creation failed: payment provider unavailable")
        }
        CreateError::CartChanged => {
            ApiError::error(StatusCode::CONFLICT, "Cart changed during checkout; please try again")
        }
        CreateError::BadRate(e) => ApiError::internal(e),
        CreateError::Database(e) => e.into(),
    }
}

/// The message of an assignee that cannot take orders (§4.6).
pub fn assignee_message(e: AssigneeError) -> &'static str {
    match e {
        AssigneeError::StaffNotFound => "Staff member not found",
        AssigneeError::NotStaff => "User must have staff or admin role",
    }
}

/// The desk's changes (§4.6 assign, update-status, update-payment-status, record-payment).
pub fn desk_error(e: DeskError) -> ApiError {
    match e {
        DeskError::NotFound => order_404(),
        DeskError::SameStatus => ApiError::message(StatusCode::BAD_REQUEST, "Order is already in this status"),
        DeskError::Assignee(e) => {
            let mut errors = FieldErrors::new();
            errors.add("staff_id", assignee_message(e));
            errors.bare()
        }
        DeskError::Billing(errors) => billing_fields(errors).validation(),
        DeskError::InvoiceIssued => ApiError::ext(
            StatusCode::CONFLICT,
            "invoice_issued",
            "The invoice is already numbered; billing details can no longer change.",
        ),
        DeskError::BadRate(e) => ApiError::internal(e),
        DeskError::Database(e) => e.into(),
    }
}

/// `PATCH billing/` (§9.5): the §9 shapes, its 404 included.
pub fn billing_error(e: DeskError) -> ApiError {
    match e {
        DeskError::NotFound => order_not_found(),
        other => desk_error(other),
    }
}

/// `orders/manual/` (§4.6, §6): `{success:false, errors}` or `{success:false, message}`.
pub fn manual_error(e: ManualError) -> ApiError {
    let field = |outer: &str, inner: &str, msg: &str| {
        let mut nested = FieldErrors::new();
        nested.add(inner, msg);
        let mut errors = FieldErrors::new();
        errors.nest(outer, nested);
        errors.wrapped()
    };
    match e {
        ManualError::ProductNotFound => ApiError::message(StatusCode::NOT_FOUND, "Product not found or inactive"),
        ManualError::StaffPhone => field("customer", "phone", "This phone number belongs to a staff account"),
        ManualError::PhoneIsUsername => {
            field("customer", "phone", "An account with this phone number as its username already exists.")
        }
        ManualError::Billing(errors) => {
            let mut wrapped = FieldErrors::new();
            wrapped.nest("billing", billing_fields(errors));
            wrapped.wrapped()
        }
        ManualError::Assignee(e) => {
            let mut errors = FieldErrors::new();
            errors.add("assigned_to", assignee_message(e));
            errors.wrapped()
        }
        ManualError::BadRate(e) => ApiError::internal(e),
        ManualError::Database(e) => e.into(),
    }
}

/// `refund/` (§9.4); `actor` is the admin asking (the author of a refund Razorpay rejected).
pub fn refund_error(e: RefundError, actor: &User) -> ApiError {
    match e {
        RefundError::NotFound => order_not_found(),
        RefundError::NothingToRefund => {
            ApiError::ext(StatusCode::CONFLICT, "nothing_to_refund", "Nothing is left to refund.")
        }
        RefundError::AmountExceedsRefundable { refundable } => ApiError::Ext {
            status: StatusCode::CONFLICT,
            code: "amount_exceeds_refundable",
            message: format!("At most {} can be refunded.", Money(refundable)),
            details: json!({"refundable": Money(refundable).to_string()}),
        },
        RefundError::NoRazorpayPayment => {
            let mut errors = FieldErrors::new();
            errors.add("method", "This order has no Razorpay payment to refund.");
            errors.validation()
        }
        RefundError::Rejected(reason, row) => {
            let people = HashMap::from([(actor.id, actor.clone())]);
            let refund = serde_json::to_value(Refund::new(&row, &people)).unwrap_or(Value::Null);
            ApiError::Ext {
                status: StatusCode::BAD_GATEWAY,
                code: "refund_rejected",
                message: format!("Razorpay refused the refund: {reason}"),
                details: json!({ "refund": refund }),
            }
        }
        RefundError::Database(e) => e.into(),
    }
}

/// `PATCH /api/staff/checklist/{item_id}/` (§4.7).
pub fn tick_error(e: TickError) -> ApiError {
    match e {
        TickError::NotFound => ApiError::detail(StatusCode::NOT_FOUND, "No ChecklistItem matches the given query."),
        TickError::Forbidden => {
            ApiError::message(StatusCode::FORBIDDEN, "You do not have permission to update this checklist")
        }
        TickError::Database(e) => e.into(),
    }
}
