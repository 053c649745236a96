//! Refunds (API.md §9.4): through Razorpay (pending until the webhook or the sweep settles them)
//! or offline (processed at once). Pending and processed refunds both count against what can
//! still be refunded; processed refunds equal to the paid amount set payment_status `refunded`.
//! A Razorpay refund goes against one Razorpay payment of the order, by that payment's own id
//! (payments recorded as issues included), and never more than is left of that payment.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::invoices::{self, InvoiceSettings};
use crate::razorpay::{Razorpay, RazorpayError};

/// How the money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Razorpay refunds API.
    Razorpay,
    /// Paid back outside the service (cash, bank transfer).
    Manual,
}

impl Method {
    /// Stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Razorpay => "razorpay",
            Method::Manual => "manual",
        }
    }

    /// Parses `razorpay` / `manual`.
    pub fn parse(value: &str) -> Option<Method> {
        match value {
            "razorpay" => Some(Method::Razorpay),
            "manual" => Some(Method::Manual),
            _ => None,
        }
    }
}

/// A refund row; amount in paise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Refund {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// Amount.
    pub amount: i64,
    /// `razorpay` or `manual`.
    pub method: String,
    /// The refunded Razorpay payment.
    pub razorpay_payment_id: Option<String>,
    /// `rfnd_…` once Razorpay accepted it.
    pub razorpay_refund_id: Option<String>,
    /// Sent as `X-Refund-Idempotency`.
    pub idempotency_key: String,
    /// pending, processed, failed.
    pub status: String,
    /// Why.
    pub reason: String,
    /// Why Razorpay failed it.
    pub failure_reason: String,
    /// Admin who asked.
    pub created_by_id: Option<i64>,
    /// Asked at.
    pub created_at: DateTime<Utc>,
    /// Settled at.
    pub processed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, order_id, (amount * 100)::bigint AS amount, method, razorpay_payment_id, razorpay_refund_id,
    idempotency_key, status, reason, failure_reason, created_by_id, created_at, processed_at";

/// Why a refund was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such order.
    #[error("order not found")]
    NotFound,
    /// Everything paid is refunded or being refunded.
    #[error("nothing to refund")]
    NothingToRefund,
    /// More than can be refunded.
    #[error("amount exceeds the refundable {refundable}")]
    AmountExceedsRefundable {
        /// Paise still refundable.
        refundable: i64,
    },
    /// A Razorpay refund was asked for (or is due, the order having Razorpay payments) but the
    /// order has no Razorpay payment with anything left to refund, or Razorpay is off.
    #[error("no razorpay payment to refund")]
    NoRazorpayPayment,
    /// Razorpay refused; the refund is stored as failed.
    #[error("razorpay refused the refund: {0}")]
    Rejected(String, Box<Refund>),
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A refund request.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// Paise; `None` = all refundable (through Razorpay: all that is left of one payment, the
    /// newest with anything left; see [`pick_payment`]).
    pub amount: Option<i64>,
    /// Why.
    pub reason: String,
    /// `None`: Razorpay when the order has Razorpay payments, else manual (see [`create`]).
    pub method: Option<Method>,
    /// Admin.
    pub actor: i64,
}

/// The refunds of an order, newest first.
pub async fn list(pool: &PgPool, order_id: i64) -> Result<Vec<Refund>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM refund WHERE order_id = $1 ORDER BY created_at DESC, id DESC"
    )))
    .bind(order_id)
    .fetch_all(pool)
    .await
}

async fn get(conn: &mut PgConnection, id: i64) -> Result<Refund, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM refund WHERE id = $1")))
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Sets payment_status `refunded` when processed refunds reach the paid amount.
async fn recompute(conn: &mut PgConnection, order_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders o SET payment_status = 'refunded', updated_at = now()
         WHERE o.id = $1 AND o.payment_status <> 'refunded'
           AND (SELECT COALESCE(SUM(amount), 0) FROM payment_record WHERE order_id = o.id) > 0
           AND (SELECT COALESCE(SUM(amount), 0) FROM refund WHERE order_id = o.id AND status = 'processed')
               >= (SELECT COALESCE(SUM(amount), 0) FROM payment_record WHERE order_id = o.id)",
    )
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Settles a pending Razorpay refund (`processed` or `failed`); `false` when unknown or settled.
pub async fn settle(
    conn: &mut PgConnection,
    razorpay_refund_id: &str,
    status: &str,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let settled: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE refund SET status = $2, processed_at = CASE WHEN $2 = 'processed' THEN $3 ELSE processed_at END
         WHERE razorpay_refund_id = $1 AND status = 'pending' RETURNING id, order_id",
    )
    .bind(razorpay_refund_id)
    .bind(status)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, order_id)) = settled else { return Ok(false) };
    if status == "processed" {
        recompute(conn, order_id).await?;
        invoices::refund_processed(conn, id, inv, now).await?;
    }
    Ok(true)
}

/// A Razorpay payment recorded on an order (`payment_record` of method `razorpay` whose reference
/// is a `pay_…` id) and what is left to refund of it, in paise.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefundablePayment {
    /// `pay_…`.
    pub payment_id: String,
    /// Amount recorded.
    pub amount: i64,
    /// Amount − Σ pending and processed refunds made against this payment id.
    pub refundable: i64,
}

/// The order's Razorpay payments, newest first, each with what is left to refund of it. Checkout,
/// webhook and sweep payments all count, those recorded as issues (a cancelled order, a wrong
/// amount, a second payment) included, as do desk records of method `razorpay` with a `pay_…`
/// reference.
pub async fn razorpay_payments(conn: &mut PgConnection, order_id: i64) -> Result<Vec<RefundablePayment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT pr.payment_reference AS payment_id, (pr.amount * 100)::bigint AS amount,
                ((pr.amount - (SELECT COALESCE(SUM(r.amount), 0) FROM refund r
                               WHERE r.razorpay_payment_id = pr.payment_reference
                                 AND r.status IN ('pending', 'processed'))) * 100)::bigint AS refundable
         FROM payment_record pr
         WHERE pr.order_id = $1 AND pr.payment_method = 'razorpay' AND left(pr.payment_reference, 4) = 'pay_'
         ORDER BY pr.recorded_at DESC, pr.id DESC",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await
}

/// Picks the Razorpay payment a refund goes against: the newest whose refundable covers the
/// amount. `refundable` is per payment, newest first; `order_refundable` (> 0) is the order-level
/// bound and `amount` (≤ `order_refundable`) the requested one. Without an amount the newest
/// payment with anything left is refunded in full, up to the order-level bound; the admin asks
/// again for the next one. Returns (index, amount).
///
/// Errors: [`RefundError::NoRazorpayPayment`] when no payment has anything left (what remains on
/// the order was paid otherwise: the admin refunds it with `method: manual`);
/// [`RefundError::AmountExceedsRefundable`] with the largest single-payment refundable when the
/// amount exceeds every payment's (one refund goes against one payment).
pub fn pick_payment(
    refundable: &[i64],
    order_refundable: i64,
    amount: Option<i64>,
) -> Result<(usize, i64), RefundError> {
    let largest = refundable.iter().copied().max().unwrap_or(0);
    if largest <= 0 {
        return Err(RefundError::NoRazorpayPayment);
    }
    match amount {
        None => {
            let index = refundable.iter().position(|&r| r > 0).ok_or(RefundError::NoRazorpayPayment)?;
            Ok((index, refundable[index].min(order_refundable)))
        }
        Some(amount) => match refundable.iter().position(|&r| r >= amount) {
            Some(index) => Ok((index, amount)),
            None => Err(RefundError::AmountExceedsRefundable { refundable: largest.min(order_refundable) }),
        },
    }
}

/// Creates a refund. Manual refunds are processed at once. Razorpay refunds are committed as
/// pending first, then sent with their idempotency key; if Razorpay cannot be reached the refund
/// stays pending and the sweep sends it again with the same key.
///
/// The method: an explicit `manual` stays manual (money returned offline). Otherwise, when the
/// order has Razorpay payments ([`razorpay_payments`]), the refund goes through Razorpay against
/// one of them ([`pick_payment`]), never silently offline: without Razorpay configured that is
/// [`RefundError::NoRazorpayPayment`]. An order without Razorpay payments is refunded manually
/// unless `razorpay` was asked for ([`RefundError::NoRazorpayPayment`]). Amounts are bounded by the
/// order's paid − pending − processed as well.
pub async fn create(
    pool: &PgPool,
    razorpay: Option<&Razorpay>,
    order_id: i64,
    req: &RefundRequest,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Refund, RefundError> {
    let mut tx = crate::db::begin(pool).await?;
    let order: Option<(i64, i64)> = sqlx::query_as(
        "SELECT (SELECT (COALESCE(SUM(amount), 0) * 100)::bigint FROM payment_record WHERE order_id = o.id),
                (SELECT (COALESCE(SUM(amount), 0) * 100)::bigint FROM refund
                 WHERE order_id = o.id AND status IN ('pending', 'processed'))
         FROM orders o WHERE o.id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((paid, committed)) = order else { return Err(RefundError::NotFound) };
    let refundable = paid - committed;
    if refundable <= 0 {
        return Err(RefundError::NothingToRefund);
    }
    if let Some(amount) = req.amount
        && amount > refundable
    {
        return Err(RefundError::AmountExceedsRefundable { refundable });
    }
    let payments =
        if req.method == Some(Method::Manual) { Vec::new() } else { razorpay_payments(&mut tx, order_id).await? };
    let (method, amount, payment_id, rzp) = match (req.method, payments.is_empty(), razorpay) {
        (Some(Method::Manual), _, _) | (None, true, _) => {
            (Method::Manual, req.amount.unwrap_or(refundable), None, None)
        }
        (Some(Method::Razorpay), true, _) | (_, false, None) => return Err(RefundError::NoRazorpayPayment),
        (_, false, Some(rzp)) => {
            let left: Vec<i64> = payments.iter().map(|p| p.refundable).collect();
            let (index, amount) = pick_payment(&left, refundable, req.amount)?;
            (Method::Razorpay, amount, Some(payments[index].payment_id.clone()), Some(rzp))
        }
    };
    let key = format!("ec-refund-{}", uuid::Uuid::new_v4().simple());
    let status = if method == Method::Manual { "processed" } else { "pending" };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO refund (order_id, amount, method, razorpay_payment_id, idempotency_key, status, reason,
                             created_by_id, created_at, processed_at)
         VALUES ($1, $2::numeric / 100, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $6 = 'processed' THEN $9 END)
         RETURNING id",
    )
    .bind(order_id)
    .bind(amount)
    .bind(method.as_str())
    .bind(&payment_id)
    .bind(&key)
    .bind(status)
    .bind(&req.reason)
    .bind(req.actor)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if method == Method::Manual {
        recompute(&mut tx, order_id).await?;
        invoices::refund_processed(&mut tx, id, inv, now).await?;
    }
    tx.commit().await?;
    // The transaction is over: only now is Razorpay called.
    let (Some(rzp), Some(payment_id)) = (rzp, payment_id) else {
        let mut conn = pool.acquire().await?;
        return Ok(get(&mut conn, id).await?);
    };
    send(pool, rzp, Outgoing { id, payment_id: &payment_id, amount, key: &key }, inv, now).await
}

/// A pending Razorpay refund to send: its row id, the payment it goes against, paise and
/// idempotency key.
struct Outgoing<'a> {
    id: i64,
    payment_id: &'a str,
    amount: i64,
    key: &'a str,
}

/// Sends a pending Razorpay refund (again): the idempotency key makes repeats safe.
async fn send(
    pool: &PgPool,
    rzp: &Razorpay,
    refund: Outgoing<'_>,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Refund, RefundError> {
    let Outgoing { id, payment_id, amount, key } = refund;
    let result = rzp.refund(payment_id, amount, key, json!({"refund_id": id.to_string()})).await;
    let mut tx = crate::db::begin(pool).await?;
    match result {
        Ok(r) => {
            sqlx::query("UPDATE refund SET razorpay_refund_id = $2 WHERE id = $1 AND razorpay_refund_id IS NULL")
                .bind(id)
                .bind(&r.id)
                .execute(&mut *tx)
                .await?;
            if r.status == "processed" || r.status == "failed" {
                settle(&mut tx, &r.id, &r.status, inv, now).await?;
            }
            tx.commit().await?;
            let mut conn = pool.acquire().await?;
            Ok(get(&mut conn, id).await?)
        }
        Err(RazorpayError::Rejected { description, .. }) => {
            let reason: String = description.chars().take(500).collect();
            sqlx::query(
                "UPDATE refund SET status = 'failed', failure_reason = $2 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(&reason)
            .execute(&mut *tx)
            .await?;
            let row = get(&mut tx, id).await?;
            tx.commit().await?;
            Err(RefundError::Rejected(reason, Box::new(row)))
        }
        Err(e) => {
            tracing::warn!(refund_id = id, error = %e, "refund left pending for the sweep");
            let row = get(&mut tx, id).await?;
            tx.commit().await?;
            Ok(row)
        }
    }
}

/// id, payment id, Razorpay refund id, paise, idempotency key.
type PendingRow = (i64, Option<String>, Option<String>, i64, String);

/// Settles or re-sends pending Razorpay refunds (the sweep), oldest first; returns how many
/// changed. No new Razorpay call starts once `deadline` has passed: the rest waits for the next
/// sweep.
pub async fn sync_pending(
    pool: &PgPool,
    rzp: &Razorpay,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
    limit: i64,
    deadline: Instant,
) -> Result<usize, sqlx::Error> {
    let pending: Vec<PendingRow> = sqlx::query_as(
        "SELECT id, razorpay_payment_id, razorpay_refund_id, (amount * 100)::bigint, idempotency_key FROM refund
         WHERE status = 'pending' AND method = 'razorpay' ORDER BY created_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut changed = 0;
    let total = pending.len();
    for (done, (id, payment_id, refund_id, amount, key)) in pending.into_iter().enumerate() {
        if Instant::now() >= deadline {
            tracing::warn!(
                done,
                left = total - done,
                "refund sync: time budget spent; the rest waits for the next sweep"
            );
            break;
        }
        match (refund_id, payment_id) {
            (Some(refund_id), _) => match rzp.fetch_refund(&refund_id).await {
                Ok(r) if r.status == "processed" || r.status == "failed" => {
                    let mut tx = crate::db::begin(pool).await?;
                    changed += usize::from(settle(&mut tx, &refund_id, &r.status, inv, now).await?);
                    tx.commit().await?;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(refund_id = id, error = %e, "refund status fetch failed"),
            },
            (None, Some(payment_id)) => {
                match send(pool, rzp, Outgoing { id, payment_id: &payment_id, amount, key: &key }, inv, now).await {
                    Ok(r) if r.razorpay_refund_id.is_some() => changed += 1,
                    Ok(_) => {}
                    Err(RefundError::Rejected(..)) => changed += 1,
                    Err(RefundError::Database(e)) => return Err(e),
                    Err(e) => tracing::warn!(refund_id = id, error = %e, "refund resend failed"),
                }
            }
            (None, None) => {}
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exceeds(r: Result<(usize, i64), RefundError>) -> Option<i64> {
        match r {
            Err(RefundError::AmountExceedsRefundable { refundable }) => Some(refundable),
            _ => None,
        }
    }

    #[test]
    fn default_amount_refunds_the_newest_payment_with_something_left_in_full() {
        // Newest first: an issue payment of 1000.00, then the order's own of 4999.00.
        assert_eq!(pick_payment(&[100_000, 499_900], 599_900, None).unwrap(), (0, 100_000));
        assert_eq!(pick_payment(&[0, 499_900], 499_900, None).unwrap(), (1, 499_900));
        // Bounded by the order: an offline refund already covered part of it.
        assert_eq!(pick_payment(&[499_900], 400_000, None).unwrap(), (0, 400_000));
    }

    #[test]
    fn an_amount_goes_to_the_newest_payment_that_covers_it() {
        assert_eq!(pick_payment(&[100_000, 499_900], 599_900, Some(50_000)).unwrap(), (0, 50_000));
        assert_eq!(pick_payment(&[100_000, 499_900], 599_900, Some(200_000)).unwrap(), (1, 200_000));
        assert_eq!(pick_payment(&[100_000, 499_900], 599_900, Some(100_000)).unwrap(), (0, 100_000));
    }

    #[test]
    fn an_amount_above_every_single_payment_is_refused_with_the_largest() {
        assert_eq!(exceeds(pick_payment(&[100_000, 499_900], 599_900, Some(500_000))), Some(499_900));
        assert_eq!(exceeds(pick_payment(&[300, 200], 500, Some(400))), Some(300));
    }

    #[test]
    fn nothing_left_on_any_razorpay_payment_is_never_a_manual_refund() {
        for amount in [None, Some(100)] {
            assert!(matches!(pick_payment(&[0, 0], 10_000, amount), Err(RefundError::NoRazorpayPayment)));
            assert!(matches!(pick_payment(&[], 10_000, amount), Err(RefundError::NoRazorpayPayment)));
        }
    }
}
