//! The `payments` queue: the reconciliation sweep of Razorpay payments and refunds.

use common::jobs::ReconcilePayments;
use common::orders::reconcile;

use crate::{JobError, WorkerContext};

/// One sweep. Without Razorpay configured there is nothing to reconcile; while another worker's
/// sweep is still running this one returns at once (one sweep at a time across the cluster).
pub async fn reconcile(ctx: &WorkerContext, _job: ReconcilePayments) -> Result<(), JobError> {
    let Some(rzp) = &ctx.razorpay else { return Ok(()) };
    let report = reconcile::sweep(
        &ctx.pool,
        rzp,
        ctx.cfg.reconcile_after,
        &common::orders::invoices::InvoiceSettings::of(&ctx.cfg),
        chrono::Utc::now(),
    )
    .await?;
    if report.skipped {
        tracing::info!("payment sweep skipped: the previous one is still running");
        return Ok(());
    }
    if report.checked > 0 && report.errors == report.checked {
        // Razorpay unreachable for every order: fail so the run is visible; the next tick retries anyway.
        return Err(JobError::Retry(format!("razorpay unreachable for all {} orders", report.checked)));
    }
    Ok(())
}
