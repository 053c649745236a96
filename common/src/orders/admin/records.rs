//! Offline payments (API.md §4.6 `record-payment/`, §5 #1, §7.2): PaymentRecords, the payment
//! status they give, and their private proofs (issue 9 #5).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{DeskError, first_paid, lock};
use crate::orders::invoices::InvoiceSettings;
use crate::orders::{Actor, OrderStatus, PaymentStatus, set_status};

/// How a payment was made (`payment_record.payment_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    /// Cash.
    Cash,
    /// UPI.
    Upi,
    /// Bank transfer.
    BankTransfer,
    /// Card.
    Card,
    /// Cheque.
    Cheque,
    /// A Razorpay payment (the reference is its `pay_…` id).
    Razorpay,
    /// Anything else.
    Other,
}

impl PaymentMethod {
    /// What `record-payment/` accepts (§4.6): every method.
    pub const RECORDABLE: [PaymentMethod; 7] = [
        PaymentMethod::Cash,
        PaymentMethod::Upi,
        PaymentMethod::BankTransfer,
        PaymentMethod::Card,
        PaymentMethod::Cheque,
        PaymentMethod::Razorpay,
        PaymentMethod::Other,
    ];

    /// What a manual order's initial payment may be (§7.2): every method but Razorpay, whose
    /// payments only Razorpay reports.
    pub const OFFLINE: [PaymentMethod; 6] = [
        PaymentMethod::Cash,
        PaymentMethod::Upi,
        PaymentMethod::BankTransfer,
        PaymentMethod::Card,
        PaymentMethod::Cheque,
        PaymentMethod::Other,
    ];

    /// Stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Upi => "upi",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::Card => "card",
            PaymentMethod::Cheque => "cheque",
            PaymentMethod::Razorpay => "razorpay",
            PaymentMethod::Other => "other",
        }
    }

    /// `value` when it is one of `allowed`.
    pub fn parse_in(allowed: &[PaymentMethod], value: &str) -> Option<PaymentMethod> {
        allowed.iter().copied().find(|m| m.as_str() == value)
    }
}

/// An offline payment.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// Paise (> 0).
    pub amount: i64,
    /// How it was paid.
    pub method: PaymentMethod,
    /// Reference (≤ 100).
    pub reference: String,
    /// Staged proof (path under `MEDIA_DIR`).
    pub proof: Option<String>,
    /// Notes.
    pub notes: String,
}

/// A PaymentRecord row; amount in paise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRecord {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// Amount.
    pub amount: i64,
    /// Method.
    pub payment_method: String,
    /// Reference.
    pub payment_reference: String,
    /// Stored proof.
    pub payment_proof: Option<String>,
    /// Who recorded it (`None`: the service).
    pub recorded_by_id: Option<i64>,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// Notes.
    pub notes: String,
}

const RECORD_COLUMNS: &str = "id, order_id, (amount * 100)::bigint AS amount, payment_method, payment_reference,
    payment_proof, recorded_by_id, recorded_at, notes";

/// An order's payment records, newest first.
pub async fn payment_records(pool: &PgPool, order_id: i64) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RECORD_COLUMNS} FROM payment_record WHERE order_id = $1 ORDER BY recorded_at DESC, id DESC"
    )))
    .bind(order_id)
    .fetch_all(pool)
    .await
}

/// What recording a payment did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The new record.
    pub record: PaymentRecord,
    /// Σ records.
    pub total_paid: i64,
    /// total − Σ records.
    pub balance: i64,
    /// Σ records ≥ total.
    pub fully_paid: bool,
}

/// `record-payment/`: adds a PaymentRecord and recomputes payment_status from Σ records (§7.2);
/// reaching paid moves pending_payment to pending_resources (website) or ready_for_processing
/// (manual) and allocates the invoice number. A staged proof is stored by the media worker.
pub async fn record_payment(
    pool: &PgPool,
    id: i64,
    p: &NewPayment,
    actor: i64,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Recorded, DeskError> {
    let mut tx = crate::db::begin(pool).await?;
    let order = lock(&mut tx, id).await?;
    let record = insert_record(&mut tx, id, p, Some(actor), now).await?;
    if p.proof.as_deref().is_some_and(|proof| proof.starts_with(&format!("{}/", crate::media::PRIVATE_STAGING_DIR))) {
        crate::jobs::enqueue(&mut tx, &crate::jobs::StorePaymentProof { record_id: record.id }, None).await?;
    }
    let paid: i64 =
        sqlx::query_scalar("SELECT (COALESCE(SUM(amount), 0) * 100)::bigint FROM payment_record WHERE order_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let status = PaymentStatus::from_paid(paid, order.total);
    sqlx::query("UPDATE orders SET payment_status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .execute(&mut *tx)
        .await?;
    if status == PaymentStatus::Paid {
        first_paid(&mut tx, id, order.paid_marks(), inv, now).await?;
        if order.status == OrderStatus::PendingPayment.as_str() {
            let next =
                if order.is_manual_order { OrderStatus::ReadyForProcessing } else { OrderStatus::PendingResources };
            set_status(&mut tx, id, &order.status, next, Actor::User(actor), "Payment recorded", false).await?;
        }
    }
    tx.commit().await?;
    Ok(Recorded { record, total_paid: paid, balance: order.total - paid, fully_paid: paid >= order.total })
}

/// Writes a PaymentRecord.
pub(super) async fn insert_record(
    conn: &mut PgConnection,
    id: i64,
    p: &NewPayment,
    actor: Option<i64>,
    now: DateTime<Utc>,
) -> Result<PaymentRecord, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO payment_record (order_id, amount, payment_method, payment_reference, payment_proof, recorded_by_id,
                                     recorded_at, notes)
         VALUES ($1, $2::numeric / 100, $3, $4, $5, $6, $7, $8) RETURNING {RECORD_COLUMNS}"
    )))
    .bind(id)
    .bind(p.amount)
    .bind(p.method.as_str())
    .bind(&p.reference)
    .bind(&p.proof)
    .bind(actor)
    .bind(now)
    .bind(&p.notes)
    .fetch_one(conn)
    .await
}

/// The stored proof of a record, if any.
pub async fn proof_of(pool: &PgPool, record_id: i64) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT payment_proof FROM payment_record WHERE id = $1")
        .bind(record_id)
        .fetch_optional(pool)
        .await
}

/// A record's stored proof and its order's assignee, for the secure-file route.
pub async fn proof_access(pool: &PgPool, record_id: i64) -> Result<Option<(Option<String>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.payment_proof, o.assigned_to_id FROM payment_record r JOIN orders o ON o.id = r.order_id WHERE r.id = $1",
    )
    .bind(record_id)
    .fetch_optional(pool)
    .await
}

/// Points a record at its stored proof, if it still points at the staged file.
pub async fn finish_proof(pool: &PgPool, record_id: i64, staged: &str, stored: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE payment_record SET payment_proof = $3 WHERE id = $1 AND payment_proof = $2")
        .bind(record_id)
        .bind(staged)
        .bind(stored)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn razorpay_is_recordable_but_not_an_offline_method() {
        assert_eq!(PaymentMethod::parse_in(&PaymentMethod::RECORDABLE, "razorpay"), Some(PaymentMethod::Razorpay));
        assert_eq!(PaymentMethod::parse_in(&PaymentMethod::OFFLINE, "razorpay"), None);
        for m in PaymentMethod::OFFLINE {
            assert_eq!(PaymentMethod::parse_in(&PaymentMethod::RECORDABLE, m.as_str()), Some(m));
        }
    }
}
