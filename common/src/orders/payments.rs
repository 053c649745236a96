//! The one "mark paid" path for Razorpay payments, called by the checkout callback, the webhook
//! and the reconciliation sweep, and the webhook's event handling.
//!
//! A payment is applied at most once: the order row is locked, and a payment id that already has
//! its PaymentRecord (unique per Razorpay payment id) is a no-op. The invoice number is allocated
//! in the same transaction from a per-financial-year counter row, so the series has no gaps.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use super::invoices::InvoiceSettings;
use super::{OrderStatus, PaymentStatus, notify_admins};
use crate::gst::{self, FinancialYear};
use crate::jobs::Doorbell;
use crate::money::Money;

/// Which path brought the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `payment-success/` from the browser.
    Checkout,
    /// A Razorpay webhook delivery.
    Webhook,
    /// The reconciliation sweep.
    Sweep,
}

impl Source {
    /// Name stored in metadata and issues.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Checkout => "checkout",
            Source::Webhook => "webhook",
            Source::Sweep => "sweep",
        }
    }
}

/// A captured Razorpay payment.
#[derive(Debug, Clone)]
pub struct Captured<'a> {
    /// The Razorpay order it pays.
    pub razorpay_order_id: &'a str,
    /// `pay_…`.
    pub payment_id: &'a str,
    /// Paise, when known (the checkout callback does not carry it: the Razorpay order's amount).
    pub amount: Option<i64>,
    /// The checkout signature, kept like the original did.
    pub signature: Option<&'a str>,
    /// Checkout: the order id and customer the browser's request names. The payment applies
    /// only to that order of that customer (else [`Applied::UnknownOrder`]).
    pub expected: Option<(i64, i64)>,
}

/// Kinds of payment that are recorded but not fulfilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// The order was cancelled.
    CancelledOrder,
    /// Paid amount differs from the order total.
    AmountMismatch,
    /// The order was already paid by another payment.
    DuplicatePayment,
}

impl IssueKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::CancelledOrder => "cancelled_order",
            IssueKind::AmountMismatch => "amount_mismatch",
            IssueKind::DuplicatePayment => "duplicate_payment",
        }
    }
}

/// What applying a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The order is now paid, with this invoice number.
    Paid {
        /// Allocated invoice number.
        invoice_number: String,
    },
    /// This payment was applied before; nothing changed.
    AlreadyApplied {
        /// The order's invoice number.
        invoice_number: Option<String>,
    },
    /// Recorded as money received, not fulfilled; admins notified.
    Issue(IssueKind),
    /// No order has this Razorpay order id.
    UnknownOrder,
}

#[derive(sqlx::FromRow)]
struct Locked {
    id: i64,
    order_number: String,
    status: String,
    payment_status: String,
    total: i64,
    payment_completed_at: Option<DateTime<Utc>>,
    invoice_number: Option<String>,
    invoice_date: Option<DateTime<Utc>>,
}

/// A gap-free number series, one counter row per financial year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// Invoices (`invoice_counter`, `INVOICE_PREFIX`).
    Invoice,
    /// Credit notes (`credit_note_counter`, `CREDIT_NOTE_PREFIX`).
    CreditNote,
}

/// Allocates the next number of `series` in the financial year of `now` (the counter row stays
/// locked until the caller's transaction ends, so concurrent allocations get consecutive numbers
/// and a rolled-back one gives its number back).
pub async fn allocate_number(
    conn: &mut PgConnection,
    series: Series,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let fy = FinancialYear::of(now);
    let sql = match series {
        Series::Invoice => {
            "INSERT INTO invoice_counter (fy_start_year, last_seq) VALUES ($1, 1)
             ON CONFLICT (fy_start_year) DO UPDATE SET last_seq = invoice_counter.last_seq + 1
             RETURNING last_seq"
        }
        Series::CreditNote => {
            "INSERT INTO credit_note_counter (fy_start_year, last_seq) VALUES ($1, 1)
             ON CONFLICT (fy_start_year) DO UPDATE SET last_seq = credit_note_counter.last_seq + 1
             RETURNING last_seq"
        }
    };
    let seq: i64 = sqlx::query_scalar(sql).bind(fy.start_year).fetch_one(conn).await?;
    Ok(gst::invoice_number(prefix, fy, seq))
}

/// Allocates the next invoice number ([`allocate_number`] of [`Series::Invoice`]).
pub async fn allocate_invoice_number(
    conn: &mut PgConnection,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    allocate_number(conn, Series::Invoice, prefix, now).await
}

/// Applies a captured Razorpay payment inside the caller's transaction. The jobs of an order it
/// marks paid (the invoice's rendering, the "payment received" email) are written without the
/// dispatcher's notice (`jobs::doorbell`): on [`Applied::Paid`] the caller rings the doorbell
/// once the transaction has committed.
pub async fn apply_captured(
    conn: &mut PgConnection,
    payment: &Captured<'_>,
    source: Source,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Applied, sqlx::Error> {
    let Some(order) = sqlx::query_as::<_, Locked>(
        "SELECT id, order_number, status, payment_status, (total_amount * 100)::bigint AS total, payment_completed_at,
                invoice_number, invoice_date
         FROM orders WHERE razorpay_order_id = $1 AND razorpay_order_id <> ''
                       AND ($2::bigint IS NULL OR (id = $2 AND user_id = $3))
         FOR UPDATE",
    )
    .bind(payment.razorpay_order_id)
    .bind(payment.expected.map(|(order, _)| order))
    .bind(payment.expected.map(|(_, user)| user))
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Applied::UnknownOrder);
    };
    // The record and the "seen before" check in one statement: the unique index on Razorpay
    // payment ids makes a repeat a no-op.
    let amount = payment.amount.unwrap_or(order.total);
    let recorded: Option<i64> = sqlx::query_scalar(
        "INSERT INTO payment_record (order_id, amount, payment_method, payment_reference, recorded_at, notes)
         VALUES ($1, $2::numeric / 100, 'razorpay', $3, $4, $5)
         ON CONFLICT (payment_reference) WHERE payment_method = 'razorpay' DO NOTHING
         RETURNING id",
    )
    .bind(order.id)
    .bind(amount)
    .bind(payment.payment_id)
    .bind(now)
    .bind(format!("Razorpay payment ({})", source.as_str()))
    .fetch_optional(&mut *conn)
    .await?;
    if recorded.is_none() {
        return Ok(Applied::AlreadyApplied { invoice_number: order.invoice_number });
    }

    let already_paid = order.payment_completed_at.is_some()
        || PaymentStatus::parse(&order.payment_status) == Some(PaymentStatus::Paid);
    let issue = if already_paid {
        Some(IssueKind::DuplicatePayment)
    } else if order.status == OrderStatus::Cancelled.as_str() {
        Some(IssueKind::CancelledOrder)
    } else if amount != order.total {
        Some(IssueKind::AmountMismatch)
    } else {
        None
    };
    if let Some(kind) = issue {
        record_issue(conn, &order, payment, amount, kind, source).await?;
        return Ok(Applied::Issue(kind));
    }

    // Paid, and moved forward from pending_payment to pending_resources (a payment only moves an
    // order forward) with its history row, in one statement. This is `set_status` inlined: a
    // change to pending_resources sends the customer no email (`notices::NOTIFIED_STATUSES`).
    let moves = order.status == OrderStatus::PendingPayment.as_str();
    sqlx::query(
        "WITH paid AS (
             UPDATE orders SET razorpay_payment_id = $2, razorpay_signature = COALESCE($3, razorpay_signature),
                    payment_completed_at = $4, payment_status = 'paid', updated_at = now(),
                    status = CASE WHEN $5 THEN $6 ELSE status END
             WHERE id = $1)
         INSERT INTO order_status_history (order_id, old_status, new_status, changed_by_id, reason, is_manual_change)
         SELECT $1, $7, $6, NULL, $8, false WHERE $5",
    )
    .bind(order.id)
    .bind(payment.payment_id)
    .bind(payment.signature)
    .bind(now)
    .bind(moves)
    .bind(OrderStatus::PendingResources.as_str())
    .bind(&order.status)
    .bind(format!("Payment received via Razorpay ({})", source.as_str()))
    .execute(&mut *conn)
    .await?;
    // Everything of the invoice that does not need its number, before the number is allocated.
    let prepared = match order.invoice_number {
        None => {
            let details = super::invoices::razorpay_payment(payment.payment_id, amount, now);
            super::invoices::prepare(conn, order.id, order.invoice_date.unwrap_or(now), details, inv).await?
        }
        Some(_) => None,
    };
    let metadata = json!({
        "razorpay_order_id": payment.razorpay_order_id,
        "razorpay_signature": payment.signature,
        "source": source.as_str(),
    });
    // Last statement before the commit, and the only one while the invoice counter row is
    // locked (from here to the commit, so concurrent payments wait on it as briefly as
    // possible): the number, the order's copy of it, the PaymentHistory row and, for an invoice
    // prepared above, the invoice row, its rendering job and the "payment received" email under
    // that number (the jobs only with the invoice row: an order that had one keeps it).
    let fy = FinancialYear::of(now);
    let series = format!("{}/{}/", inv.invoice_prefix, fy.label());
    let rows = prepared.map(|p| p.rows(&series)).transpose()?;
    let (invoice, jobs) = match rows {
        Some(r) => (Some((r.invoice_id, r.amount, r.issued_at, r.snapshot)), r.jobs),
        None => (None, Vec::new()),
    };
    let (invoice_number, inserted): (String, Option<i64>) = sqlx::query_as(
        "WITH seq AS (
             INSERT INTO invoice_counter (fy_start_year, last_seq)
             SELECT $6, 1 WHERE $7::text IS NULL
             ON CONFLICT (fy_start_year) DO UPDATE SET last_seq = invoice_counter.last_seq + 1
             RETURNING last_seq),
         num AS (
             SELECT COALESCE($7, (SELECT $8 || CASE WHEN last_seq < 100000 THEN lpad(last_seq::text, 5, '0')
                                                      ELSE last_seq::text END FROM seq)) AS n),
         upd AS (
             UPDATE orders SET invoice_number = (SELECT n FROM num), invoice_date = COALESCE(invoice_date, $4)
             WHERE id = $1),
         hist AS (
             INSERT INTO payment_history (order_id, payment_method, transaction_id, amount, currency, status,
                                          payment_date, invoice_number, metadata)
             SELECT $1, 'Razorpay', $2, $3::numeric / 100, 'INR', 'completed', $4, (SELECT n FROM num), $5
             ON CONFLICT (order_id) DO UPDATE SET payment_method = EXCLUDED.payment_method,
                 transaction_id = EXCLUDED.transaction_id, amount = EXCLUDED.amount, status = 'completed',
                 payment_date = EXCLUDED.payment_date, invoice_number = EXCLUDED.invoice_number,
                 metadata = EXCLUDED.metadata, updated_at = now()),
         inv AS (
             INSERT INTO invoice (id, order_id, kind, number, amount, issued_at, snapshot)
             SELECT $9, $1, 'invoice', n, $10::numeric / 100, $11, jsonb_set($12, '{number}', to_jsonb(n))
             FROM num WHERE $9::bigint IS NOT NULL
             ON CONFLICT (order_id) WHERE kind = 'invoice' DO NOTHING
             RETURNING id),
         jobs AS (
             INSERT INTO job (queue, kind, payload, dedupe_key, max_attempts)
             SELECT j.queue, j.kind,
                    CASE WHEN j.numbered THEN jsonb_set(j.payload, '{context,invoice_number}', to_jsonb(n))
                         ELSE j.payload END,
                    j.dedupe_key, j.max_attempts
             FROM num, inv,
                  unnest($13::text[], $14::text[], $15::jsonb[], $16::text[], $17::int[], $18::bool[])
                      AS j(queue, kind, payload, dedupe_key, max_attempts, numbered)
             ON CONFLICT (dedupe_key) DO NOTHING
             RETURNING queue)
         SELECT (SELECT n FROM num), (SELECT id FROM inv)",
    )
    .bind(order.id)
    .bind(payment.payment_id)
    .bind(amount)
    .bind(now)
    .bind(metadata)
    .bind(fy.start_year)
    .bind(order.invoice_number.as_deref())
    .bind(&series)
    .bind(invoice.as_ref().map(|i| i.0))
    .bind(invoice.as_ref().map(|i| i.1))
    .bind(invoice.as_ref().map(|i| i.2))
    .bind(invoice.as_ref().map(|i| &i.3))
    .bind(jobs.iter().map(|(j, _)| j.queue).collect::<Vec<_>>())
    .bind(jobs.iter().map(|(j, _)| j.kind).collect::<Vec<_>>())
    .bind(jobs.iter().map(|(j, _)| j.payload.clone()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|(j, _)| j.dedupe_key.clone()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|(j, _)| j.max_attempts).collect::<Vec<_>>())
    .bind(jobs.iter().map(|(_, numbered)| *numbered).collect::<Vec<_>>())
    .fetch_one(&mut *conn)
    .await?;
    match (invoice, inserted) {
        (Some((id, ..)), Some(_)) => {
            tracing::info!(order_id = order.id, invoice_id = id, number = %invoice_number, "invoice issued");
        }
        // The order had an invoice already (it keeps it), or was numbered before this release
        // (issued as before).
        (Some(_), None) => {}
        (None, _) => {
            super::invoices::issue(conn, order.id, inv).await?;
        }
    }
    tracing::info!(
        order_id = order.id,
        payment_id = payment.payment_id,
        source = source.as_str(),
        invoice_number,
        "order paid"
    );
    Ok(Applied::Paid { invoice_number })
}

async fn record_issue(
    conn: &mut PgConnection,
    order: &Locked,
    payment: &Captured<'_>,
    amount: i64,
    kind: IssueKind,
    source: Source,
) -> Result<(), sqlx::Error> {
    // The payment is money received: payment_status follows Σ records, the order status stays.
    let paid: i64 =
        sqlx::query_scalar("SELECT (COALESCE(SUM(amount), 0) * 100)::bigint FROM payment_record WHERE order_id = $1")
            .bind(order.id)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query("UPDATE orders SET payment_status = $2, updated_at = now() WHERE id = $1")
        .bind(order.id)
        .bind(PaymentStatus::from_paid(paid, order.total).as_str())
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO payment_issue (order_id, razorpay_payment_id, kind, amount, detected_by, details)
         VALUES ($1, $2, $3, $4::numeric / 100, $5, $6)
         ON CONFLICT (razorpay_payment_id, kind) DO NOTHING",
    )
    .bind(order.id)
    .bind(payment.payment_id)
    .bind(kind.as_str())
    .bind(amount)
    .bind(source.as_str())
    .bind(json!({"order_status": order.status, "order_total": Money(order.total).to_string()}))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        let why = match kind {
            IssueKind::CancelledOrder => "the order is cancelled".to_string(),
            IssueKind::AmountMismatch => {
                format!("the amount ₹{} differs from the total ₹{}", Money(amount), Money(order.total))
            }
            IssueKind::DuplicatePayment => "the order was already paid".to_string(),
        };
        notify_admins(
            conn,
            "payment_issue",
            "Payment Needs Review",
            &format!(
                "Payment {} of ₹{} for order {} was recorded but not applied: {why}.",
                payment.payment_id,
                Money(amount),
                order.order_number
            ),
            Some(order.id),
        )
        .await?;
        tracing::warn!(
            order_id = order.id,
            payment_id = payment.payment_id,
            kind = kind.as_str(),
            "payment issue recorded"
        );
    }
    Ok(())
}

/// What a webhook delivery did (stored as the event's outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// This event id was handled before.
    Duplicate,
    /// Handled; a short description.
    Handled(String),
}

/// Handles one verified webhook delivery: stores the event id (unique) and applies it in the same
/// transaction, so a crash never leaves an event marked seen but not applied. `doorbell` is rung
/// after the commit when the event paid an order.
pub async fn handle_webhook(
    pool: &PgPool,
    doorbell: &Doorbell,
    event_id: &str,
    event: &Value,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<WebhookOutcome, sqlx::Error> {
    let name = event["event"].as_str().unwrap_or("").chars().take(60).collect::<String>();
    let mut tx = crate::db::begin(pool).await?;
    let stored: Option<i64> = sqlx::query_scalar(
        "INSERT INTO payment_event (event_id, event, payload) VALUES ($1, $2, $3)
         ON CONFLICT (event_id) DO NOTHING RETURNING id",
    )
    .bind(event_id)
    .bind(&name)
    .bind(event)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = stored else { return Ok(WebhookOutcome::Duplicate) };
    let payment = &event["payload"]["payment"]["entity"];
    let mut paid = false;
    let outcome = match name.as_str() {
        "payment.captured" | "order.paid" => {
            match (payment["order_id"].as_str(), payment["id"].as_str(), payment["amount"].as_i64()) {
                // Signed, but still checked: an amount that is not an integer of paise, or a
                // currency other than INR, is not a payment of our order (never "the total").
                (Some(_), Some(_), None) => "payment without an amount in paise: ignored".into(),
                (Some(_), Some(_), Some(_)) if payment["currency"].as_str() != Some("INR") => {
                    tracing::warn!(currency = %payment["currency"], "webhook payment not in INR; ignored");
                    "payment not in INR: ignored".into()
                }
                (Some(order_id), Some(payment_id), Some(amount)) => {
                    let captured = Captured {
                        razorpay_order_id: order_id,
                        payment_id,
                        amount: Some(amount),
                        signature: None,
                        expected: None,
                    };
                    match apply_captured(&mut tx, &captured, Source::Webhook, inv, now).await? {
                        Applied::Paid { invoice_number } => {
                            paid = true;
                            format!("paid, invoice {invoice_number}")
                        }
                        Applied::AlreadyApplied { .. } => "already applied".into(),
                        Applied::Issue(kind) => format!("issue: {}", kind.as_str()),
                        Applied::UnknownOrder => "unknown order".into(),
                    }
                }
                _ => "payment without order id".into(),
            }
        }
        "payment.failed" => {
            let code = payment["error_code"].as_str().unwrap_or("");
            let text = payment["error_description"].as_str().unwrap_or("");
            tracing::info!(payment_id = payment["id"].as_str().unwrap_or(""), code, text, "payment failed");
            format!("payment failed: {code} {text}")
        }
        "refund.processed" | "refund.failed" => {
            let refund = &event["payload"]["refund"]["entity"];
            match refund["id"].as_str() {
                Some(id) => {
                    let status = if name == "refund.processed" { "processed" } else { "failed" };
                    match super::refunds::settle(&mut tx, id, status, inv, now).await? {
                        true => format!("refund {status}"),
                        false => "refund unknown or settled".into(),
                    }
                }
                None => "refund without id".into(),
            }
        }
        _ => "ignored".into(),
    };
    let outcome: String = outcome.chars().take(200).collect();
    sqlx::query("UPDATE payment_event SET outcome = $2 WHERE id = $1")
        .bind(row)
        .bind(&outcome)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if paid {
        doorbell.ring();
    }
    Ok(WebhookOutcome::Handled(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `apply_captured` moves a paid order to pending_resources without `set_status`, so
    /// without the status email: that holds only while the change sends none.
    #[test]
    fn the_move_to_pending_resources_sends_no_email() {
        assert!(!crate::notices::NOTIFIED_STATUSES.contains(&OrderStatus::PendingResources));
    }
}
