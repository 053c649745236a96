//! The order desk (API.md §4.6, §4.7, §5, §7.1, §7.2, §9.5), one module per operation:
//!
//! | module | operations |
//! |---|---|
//! | [`list`] | the admin and staff order lists, the dashboard statistics |
//! | [`detail`] | an order with everything its page shows, loaded as one aggregate |
//! | [`status`] | status and payment-status changes, assignment |
//! | [`records`] | offline payments (PaymentRecords) and their proofs |
//! | [`manual`] | orders taken by phone, WhatsApp or at the counter |
//! | [`billing`] | billing changes until the invoice is numbered |
//! | [`search`] | customers, products for a manual order, the top-bar search |
//!
//! Each change locks the order row and writes its status history in the same transaction. The
//! refusals are typed ([`DeskError`], [`AssigneeError`], [`manual::ManualError`]); the HTTP
//! layer turns them into the bodies of API.md.

pub mod billing;
pub mod detail;
pub mod list;
pub mod manual;
pub mod records;
pub mod search;
pub mod status;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

pub use records::{finish_proof, proof_access, proof_of};

use super::invoices::InvoiceSettings;
use super::payments::allocate_invoice_number;

/// Why a named user cannot take an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AssigneeError {
    /// No active user has that id.
    #[error("staff member not found")]
    StaffNotFound,
    /// The user is not staff or admin.
    #[error("user must have staff or admin role")]
    NotStaff,
}

/// Why a desk change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No such order.
    #[error("order not found")]
    NotFound,
    /// The order already has that status.
    #[error("order is already in this status")]
    SameStatus,
    /// The named assignee cannot take the order.
    #[error(transparent)]
    Assignee(#[from] AssigneeError),
    /// The billing fields are invalid.
    #[error("invalid billing fields")]
    Billing(crate::orders::billing::BillingErrors),
    /// The invoice is numbered: billing details can no longer change.
    #[error("the invoice is already issued")]
    InvoiceIssued,
    /// A stored GST rate does not parse (the schema's check should prevent it).
    #[error("bad stored GST rate: {0}")]
    BadRate(#[from] crate::gst::GstError),
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The columns of a locked order that the desk's changes read.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Locked {
    order_number: String,
    status: String,
    payment_status: String,
    total: i64,
    assigned_to_id: Option<i64>,
    is_manual_order: bool,
    payment_completed_at: Option<DateTime<Utc>>,
    invoice_number: Option<String>,
}

/// Locks an order row for the rest of the transaction.
async fn lock(conn: &mut PgConnection, id: i64) -> Result<Locked, DeskError> {
    let found: Option<Locked> = sqlx::query_as(
        "SELECT order_number, status, payment_status, (total_amount * 100)::bigint AS total, assigned_to_id,
                is_manual_order, payment_completed_at, invoice_number
         FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    found.ok_or(DeskError::NotFound)
}

impl Locked {
    /// What the order already has of a first full payment.
    fn paid_marks(&self) -> PaidMarks {
        PaidMarks { completed_at: self.payment_completed_at.is_some(), invoice_number: self.invoice_number.is_some() }
    }
}

/// What an order already has of a first full payment (a new order has neither).
#[derive(Debug, Clone, Copy, Default)]
struct PaidMarks {
    /// `payment_completed_at` is set.
    completed_at: bool,
    /// The invoice number is allocated.
    invoice_number: bool,
}

/// Sets `payment_completed_at` once and allocates the invoice number once: the order is fully
/// paid for the first time.
async fn first_paid(
    conn: &mut PgConnection,
    id: i64,
    marks: PaidMarks,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if !marks.completed_at {
        sqlx::query("UPDATE orders SET payment_completed_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    if !marks.invoice_number {
        let number = allocate_invoice_number(conn, inv.invoice_prefix, now).await?;
        sqlx::query("UPDATE orders SET invoice_number = $2, invoice_date = $3 WHERE id = $1")
            .bind(id)
            .bind(number)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        // Freezes the invoice, queues its PDF and the "payment received" email.
        crate::orders::invoices::issue(conn, id, inv).await?;
    }
    Ok(())
}

/// A user who may take orders.
#[derive(Debug, Clone)]
struct StaffMember {
    username: String,
    first_name: String,
}

impl StaffMember {
    /// The name history reasons show: the first name, else the username.
    fn shown(&self) -> &str {
        let first = self.first_name.trim();
        if first.is_empty() { &self.username } else { first }
    }
}

/// The active staff or admin user `staff_id`.
async fn staff_member(
    conn: &mut PgConnection,
    staff_id: i64,
) -> Result<Result<StaffMember, AssigneeError>, sqlx::Error> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT username, first_name, role FROM users WHERE id = $1 AND is_active")
            .bind(staff_id)
            .fetch_optional(conn)
            .await?;
    Ok(match row {
        None => Err(AssigneeError::StaffNotFound),
        Some((_, _, role)) if role != "staff" && role != "admin" => Err(AssigneeError::NotStaff),
        Some((username, first_name, _)) => Ok(StaffMember { username, first_name }),
    })
}
