//! The reconciliation sweep: for unpaid orders whose Razorpay order is older than
//! `RECONCILE_AFTER_SECONDS`, asks Razorpay for the order's payments and applies captured ones
//! through the mark-paid path (a lost callback and a lost webhook are both recovered here), then
//! settles or re-sends pending refunds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::payments::{self, Applied, Captured, Source};
use crate::razorpay::Razorpay;

/// Orders looked at per sweep (oldest-checked first, so all get their turn).
pub const BATCH: i64 = 100;
/// Orders older than this are no longer looked at.
pub const HORIZON_DAYS: i64 = 30;
/// A sweep stops asking Razorpay after this long (slow answers must not make one run outlast
/// the next ticks); the orders it did not reach come first next time.
pub const TIME_BUDGET: Duration = Duration::from_secs(45);

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Orders asked about.
    pub checked: usize,
    /// Orders the sweep marked paid.
    pub paid: usize,
    /// Payments recorded as issues.
    pub issues: usize,
    /// Razorpay calls that failed.
    pub errors: usize,
    /// Refunds settled or re-sent.
    pub refunds: usize,
}

/// Runs one sweep.
pub async fn sweep(
    pool: &PgPool,
    rzp: &Razorpay,
    older_than: Duration,
    invoice_prefix: &str,
    now: DateTime<Utc>,
) -> Result<Report, sqlx::Error> {
    let cutoff = now - chrono::Duration::from_std(older_than).unwrap_or_else(|_| chrono::Duration::minutes(5));
    let horizon = now - chrono::Duration::days(HORIZON_DAYS);
    let orders: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, razorpay_order_id FROM orders
         WHERE razorpay_order_id <> '' AND payment_completed_at IS NULL AND created_at <= $1 AND created_at > $2
         ORDER BY reconciled_at NULLS FIRST, created_at LIMIT $3",
    )
    .bind(cutoff)
    .bind(horizon)
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    let mut report = Report::default();
    let started = std::time::Instant::now();
    for (order_id, razorpay_order_id) in orders {
        if started.elapsed() > TIME_BUDGET {
            tracing::warn!(checked = report.checked, "sweep: time budget spent; the rest waits for the next tick");
            break;
        }
        report.checked += 1;
        let found = match rzp.order_payments(&razorpay_order_id).await {
            Ok(p) => p,
            Err(e) => {
                report.errors += 1;
                tracing::warn!(order_id, error = %e, "sweep: fetching payments failed");
                continue;
            }
        };
        let mut tx = pool.begin().await?;
        for p in found.iter().filter(|p| p.is_captured()) {
            let captured = Captured {
                razorpay_order_id: &razorpay_order_id,
                payment_id: &p.id,
                amount: Some(p.amount),
                signature: None,
            };
            match payments::apply_captured(&mut tx, &captured, Source::Sweep, invoice_prefix, now).await? {
                Applied::Paid { .. } => report.paid += 1,
                Applied::Issue(_) => report.issues += 1,
                Applied::AlreadyApplied { .. } | Applied::UnknownOrder => {}
            }
        }
        sqlx::query("UPDATE orders SET reconciled_at = $2 WHERE id = $1")
            .bind(order_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    report.refunds = super::refunds::sync_pending(pool, rzp, now, BATCH).await?;
    if report != Report::default() {
        tracing::info!(?report, "payment sweep");
    }
    Ok(report)
}
