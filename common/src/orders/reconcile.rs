//! The reconciliation sweep: for unpaid orders whose Razorpay order is older than
//! `RECONCILE_AFTER_SECONDS`, asks Razorpay for the order's payments and applies captured ones
//! through the mark-paid path (a lost callback and a lost webhook are both recovered here), then
//! settles or re-sends pending refunds.
//!
//! One sweep runs at a time across the cluster: it holds a PostgreSQL advisory lock
//! ([`LOCK_KEY`]) on a connection of its own, opened outside the pool (so no pooled connection
//! is held while Razorpay answers) and closed at the end, which releases the lock even when the
//! process dies mid-sweep. A sweep that finds the lock taken returns at once, `skipped`.
//!
//! Each order is polled with back-off ([`backoff`]) rather than every minute for 30 days, and
//! both phases (orders, then refunds) share one time budget ([`TIME_BUDGET`]).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use super::invoices::InvoiceSettings;
use super::payments::{self, Applied, Captured, Source};
use crate::razorpay::Razorpay;

/// Orders looked at per sweep (due first, so all get their turn).
pub const BATCH: i64 = 100;
/// Orders older than this are no longer looked at.
pub const HORIZON_DAYS: i64 = 30;
/// A sweep starts no Razorpay call after this long (slow answers must not make one run outlast
/// the next ticks); the orders and refunds it did not reach come first next time.
pub const TIME_BUDGET: Duration = Duration::from_secs(45);
/// Session-level advisory lock held by the running sweep (7_6xx are the popular-list locks).
pub const LOCK_KEY: i64 = 7_701;
/// Longest wait between two checks of one order.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// Shortest first wait: the sweep runs once a minute anyway.
pub const MIN_BACKOFF: Duration = Duration::from_secs(60);

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Another sweep held the lock: this one did nothing.
    pub skipped: bool,
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

/// How long after its `checks`-th check (1-based) an unpaid order is checked again:
/// `base × 2^(checks − 1)`, at most [`MAX_BACKOFF`] (6 h), where `base` is
/// `RECONCILE_AFTER_SECONDS` but at least [`MIN_BACKOFF`]. With the default 5 minutes: 5, 10, 20,
/// 40, 80, 160, 320 minutes, then every 6 hours until the order is past the 30-day horizon
/// (about 125 checks instead of 43,200). A failed Razorpay call postpones the order by `base`
/// without counting as a check.
pub fn backoff(base: Duration, checks: i32) -> Duration {
    let base = base.max(MIN_BACKOFF);
    let exponent = u32::try_from(checks.saturating_sub(1)).unwrap_or(0).min(20);
    base.saturating_mul(1 << exponent).min(MAX_BACKOFF.max(base))
}

/// Runs one sweep within [`TIME_BUDGET`].
pub async fn sweep(
    pool: &PgPool,
    rzp: &Razorpay,
    older_than: Duration,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Report, sqlx::Error> {
    sweep_with_budget(pool, rzp, older_than, inv, now, TIME_BUDGET).await
}

/// Runs one sweep; no Razorpay call starts once `budget` is spent. Returns a `skipped` report at
/// once when another sweep is running.
pub async fn sweep_with_budget(
    pool: &PgPool,
    rzp: &Razorpay,
    older_than: Duration,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
    budget: Duration,
) -> Result<Report, sqlx::Error> {
    let started = Instant::now();
    let deadline = started.checked_add(budget).unwrap_or(started + TIME_BUDGET);
    let Some(mut lock) = lock(pool).await? else {
        tracing::debug!("payment sweep: another sweep is running");
        return Ok(Report { skipped: true, ..Report::default() });
    };
    let result = run(pool, rzp, older_than, inv, now, deadline).await;
    // Closing the connection would release the lock too, but the server may see the close a
    // little later: unlock first so that the next sweep finds it free.
    if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK_KEY).execute(&mut lock).await {
        tracing::warn!(error = %e, "payment sweep: unlock failed; closing the connection releases it");
    }
    if let Err(e) = lock.close().await {
        tracing::debug!(error = %e, "payment sweep: closing the lock connection failed");
    }
    result
}

/// Opens a connection outside the pool and takes the sweep lock on it; `None` when taken.
async fn lock(pool: &PgPool) -> Result<Option<PgConnection>, sqlx::Error> {
    let options = pool.connect_options();
    let timeout = pool.options().get_acquire_timeout();
    let mut conn = match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Ok(conn) => conn?,
        Err(_) => {
            return Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connecting for the payment sweep lock timed out",
            )));
        }
    };
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LOCK_KEY).fetch_one(&mut conn).await?;
    if locked {
        return Ok(Some(conn));
    }
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "payment sweep: closing the lock connection failed");
    }
    Ok(None)
}

fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(6))
}

async fn run(
    pool: &PgPool,
    rzp: &Razorpay,
    older_than: Duration,
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<Report, sqlx::Error> {
    let cutoff = now - chrono::Duration::from_std(older_than).unwrap_or_else(|_| chrono::Duration::minutes(5));
    let horizon = now - chrono::Duration::days(HORIZON_DAYS);
    let horizon_days = i32::try_from(HORIZON_DAYS).unwrap_or(30);
    let orders: Vec<(i64, String, i32)> = sqlx::query_as(
        "SELECT id, razorpay_order_id, reconcile_checks FROM orders
         WHERE razorpay_order_id <> '' AND payment_completed_at IS NULL
           AND (reconcile_due_at IS NULL OR reconcile_due_at <= $1)
           AND created_at <= $2 AND created_at > $3
         ORDER BY reconcile_due_at ASC NULLS FIRST, created_at LIMIT $4",
    )
    .bind(now)
    .bind(cutoff)
    .bind(horizon)
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    let mut report = Report::default();
    for (order_id, razorpay_order_id, checks) in orders {
        if Instant::now() >= deadline {
            tracing::warn!(checked = report.checked, "sweep: time budget spent; the rest waits for the next tick");
            break;
        }
        report.checked += 1;
        let found = match rzp.order_payments(&razorpay_order_id).await {
            Ok(p) => p,
            Err(e) => {
                report.errors += 1;
                tracing::warn!(order_id, error = %e, "sweep: fetching payments failed");
                // Postponed by the base wait, not counted as a check (an order whose next
                // check falls past the horizon is never due again: `infinity`).
                sqlx::query(
                    "UPDATE orders SET reconcile_due_at = CASE
                         WHEN $2 > created_at + make_interval(days => $3) THEN 'infinity'::timestamptz ELSE $2 END
                     WHERE id = $1",
                )
                .bind(order_id)
                .bind(after(now, backoff(older_than, 1)))
                .bind(horizon_days)
                .execute(pool)
                .await?;
                continue;
            }
        };
        let mut tx = crate::db::begin(pool).await?;
        let paid_before = report.paid;
        // Only captured INR payments of this very order count (the API's answer is checked too).
        for p in found.iter().filter(|p| {
            p.is_captured() && p.currency == "INR" && p.order_id.as_deref().is_none_or(|o| o == razorpay_order_id)
        }) {
            let captured = Captured {
                razorpay_order_id: &razorpay_order_id,
                payment_id: &p.id,
                amount: Some(p.amount),
                signature: None,
                expected: None,
            };
            match payments::apply_captured(&mut tx, &captured, Source::Sweep, inv, now).await? {
                Applied::Paid { .. } => report.paid += 1,
                Applied::Issue(_) => report.issues += 1,
                Applied::AlreadyApplied { .. } | Applied::UnknownOrder => {}
            }
        }
        // Checked: due again after the back-off, or never once that is past the horizon.
        let checks = checks.saturating_add(1);
        sqlx::query(
            "UPDATE orders SET reconciled_at = $2, reconcile_checks = $3, reconcile_due_at = CASE
                 WHEN $4 > created_at + make_interval(days => $5) THEN 'infinity'::timestamptz ELSE $4 END
             WHERE id = $1",
        )
        .bind(order_id)
        .bind(now)
        .bind(checks)
        .bind(after(now, backoff(older_than, checks)))
        .bind(horizon_days)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // The paid order's jobs were written without the dispatcher's notice (`apply_captured`).
        if report.paid > paid_before {
            crate::jobs::doorbell::wake_now(pool).await;
        }
    }
    report.refunds = super::refunds::sync_pending(pool, rzp, inv, now, BATCH, deadline).await?;
    if report != Report::default() {
        tracing::info!(?report, "payment sweep");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn backoff_doubles_from_the_base_up_to_six_hours() {
        let base = 5 * MIN;
        let waits: Vec<u64> = (1..=9).map(|n| backoff(base, n).as_secs() / 60).collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 80, 160, 320, 360, 360]);
        assert_eq!(backoff(base, i32::MAX), MAX_BACKOFF);
        assert_eq!(backoff(base, 0), base, "never below the base");
        assert_eq!(backoff(base, -3), base);
    }

    #[test]
    fn backoff_base_is_at_least_a_minute_and_may_exceed_the_cap() {
        assert_eq!(backoff(Duration::ZERO, 1), MIN);
        assert_eq!(backoff(Duration::ZERO, 3), 4 * MIN);
        let day = Duration::from_secs(86_400);
        assert_eq!(backoff(day, 1), day);
        assert_eq!(backoff(day, 5), day);
    }
}
