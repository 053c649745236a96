//! Orders taken by phone, WhatsApp or at the counter (API.md §4.6 `orders/manual/`, §5 #8,
//! #16, §6, §7.1, §7.2).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::records::{NewPayment, PaymentMethod, insert_record};
use super::status::{Assignment, assign_in};
use super::{AssigneeError, PaidMarks, first_paid};
use crate::catalog::ProductType;
use crate::orders::billing::{self, BillingErrors, BillingInput};
use crate::orders::create::{self, TaxSettings};
use crate::orders::invoices::InvoiceSettings;
use crate::orders::{Actor, OrderSource, OrderStatus, PaymentStatus, Priority};

/// The customer of a manual order (§7.2).
#[derive(Debug, Clone)]
pub struct ManualCustomer {
    /// Name (first_name of a new account).
    pub name: String,
    /// Phone: finds a customer account (never changed), or is the new account's username and phone.
    pub phone: String,
    /// Email, when given.
    pub email: Option<String>,
}

/// One requested line.
#[derive(Debug, Clone)]
pub struct ManualItem {
    /// Product type.
    pub kind: ProductType,
    /// Product id.
    pub product_id: i64,
    /// Quantity ≥ 1.
    pub quantity: i32,
}

/// A manual order (§7.2), validated.
#[derive(Debug, Clone)]
pub struct ManualOrder {
    /// Customer.
    pub customer: ManualCustomer,
    /// Lines (at least one).
    pub items: Vec<ManualItem>,
    /// Where it came from (not `website`).
    pub order_source: OrderSource,
    /// Stored as sent (`pending` → `unpaid`).
    pub payment_status: PaymentStatus,
    /// How the initial payment was made (default cash).
    pub payment_method: Option<PaymentMethod>,
    /// Reference.
    pub payment_reference: String,
    /// Paise of the initial payment (default: the total).
    pub payment_amount: Option<i64>,
    /// Assignee (staff or admin).
    pub assigned_to: Option<i64>,
    /// Priority.
    pub priority: Priority,
    /// admin_notes.
    pub notes: String,
    /// Billing fields (the customer's name and the seller's state by default).
    pub billing: BillingInput,
}

/// Why a manual order was refused. Nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    /// A product is missing or inactive.
    #[error("product not found or inactive")]
    ProductNotFound,
    /// The phone belongs to a staff or admin account.
    #[error("the phone number belongs to a staff account")]
    StaffPhone,
    /// The phone is the username of an account with another phone number.
    #[error("an account with this phone number as its username already exists")]
    PhoneIsUsername,
    /// The billing fields are invalid.
    #[error("invalid billing fields")]
    Billing(BillingErrors),
    /// The named assignee cannot take orders.
    #[error(transparent)]
    Assignee(#[from] AssigneeError),
    /// A stored GST rate does not parse.
    #[error(transparent)]
    BadRate(#[from] crate::gst::GstError),
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Finds the customer by phone or creates one (role `customer`, no usable password). Phones are
/// compared by `phone_key` (one key per number however it is written). Only customer accounts
/// (roles `user` and `customer`) are matched, and an existing account is never changed: writing
/// the form's email into an account would let whoever fills the form reset its password.
async fn customer(conn: &mut PgConnection, c: &ManualCustomer) -> Result<i64, ManualError> {
    let phone = c.phone.trim();
    let found: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT id, (role IN ('staff', 'admin') OR is_staff OR is_superuser) AS privileged FROM users
         WHERE phone_key(phone_number) = phone_key($1)
         ORDER BY (phone_number = $1) DESC, id",
    )
    .bind(phone)
    .fetch_all(&mut *conn)
    .await?;
    if found.iter().any(|(_, privileged)| *privileged) {
        return Err(ManualError::StaffPhone);
    }
    if let Some((id, _)) = found.first() {
        return Ok(*id);
    }
    let created: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO users (username, password, first_name, email, phone_number, role)
         VALUES ($1, '!', $2, $3, $1, 'customer') RETURNING id",
    )
    .bind(phone)
    .bind(c.name.trim())
    .bind(c.email.clone().unwrap_or_default())
    .fetch_one(&mut *conn)
    .await;
    match created {
        Ok(id) => Ok(id),
        Err(e) if crate::db::is_unique_violation(&e, "users_username_key") => Err(ManualError::PhoneIsUsername),
        Err(e) => Err(e.into()),
    }
}

/// Creates a manual order (§7.1, §7.2, §6): the customer found or created by phone, current prices
/// of active products, items with resources marked uploaded, status ready_for_processing (then
/// assigned when an assignee is given, without checklist), the initial payment. Returns the id.
pub async fn create(
    pool: &PgPool,
    m: &ManualOrder,
    tax: &TaxSettings,
    actor: i64,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<i64, ManualError> {
    let billing =
        billing::validate(&m.billing, m.customer.name.trim(), &tax.seller_state).map_err(ManualError::Billing)?;
    let intra = billing.intra_state(&tax.seller_state);
    let mut tx = crate::db::begin(pool).await?;
    let mut lines = Vec::with_capacity(m.items.len());
    for item in &m.items {
        let row: Option<(i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT (price * 100)::bigint, hsn_sac, gst_rate::text FROM {} WHERE id = $1 AND is_active",
            item.kind.table()
        )))
        .bind(item.product_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (price, hsn, rate) = row.ok_or(ManualError::ProductNotFound)?;
        lines.push(create::price_line(
            item.kind,
            item.product_id,
            item.quantity,
            crate::money::Money(price),
            hsn,
            &rate,
            tax.prices_include_gst,
            intra,
        )?);
    }
    if let Some(staff) = m.assigned_to {
        super::staff_member(&mut tx, staff).await??;
    }
    let customer_id = customer(&mut tx, &m.customer).await?;
    let number = create::new_order_number(now);
    let reason = format!("Manual order created via {}", m.order_source.as_str());
    let status = OrderStatus::ReadyForProcessing;
    let id = create::insert_order(&mut tx, customer_id, &number, status, &billing, &lines, Actor::User(actor), &reason)
        .await?;
    sqlx::query(
        "UPDATE orders SET is_manual_order = true, order_source = $2, created_by_id = $3, payment_reference = $4,
                payment_status = $5, priority = $6, admin_notes = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(m.order_source.as_str())
    .bind(actor)
    .bind(&m.payment_reference)
    .bind(m.payment_status.as_str())
    .bind(m.priority.as_str())
    .bind(&m.notes)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE order_item SET resources_uploaded = true WHERE order_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let total = create::totals(&lines).total;
    if matches!(m.payment_status, PaymentStatus::Paid | PaymentStatus::Partial) {
        let amount = m.payment_amount.unwrap_or(total);
        let payment = NewPayment {
            amount,
            method: m.payment_method.unwrap_or(PaymentMethod::Cash),
            reference: m.payment_reference.clone(),
            proof: None,
            notes: "Initial payment for manual order".into(),
        };
        insert_record(&mut tx, id, &payment, Some(actor), now).await?;
        if amount >= total {
            // Made just now in this transaction: neither completed nor numbered yet.
            first_paid(&mut tx, id, PaidMarks::default(), inv, now).await?;
        }
    }
    if let Some(staff) = m.assigned_to {
        let assignment = Assignment { id, order_number: &number, status: status.as_str() };
        assign_in(&mut tx, assignment, staff, actor, false).await??;
    }
    tx.commit().await?;
    Ok(id)
}
