//! The `invoices` queue: renders an issued invoice or credit note from its snapshot, stores the
//! PDF privately and records it (`common::orders::invoices::store`). Idempotent: a recorded
//! document is done, and a retry after a crash between storing and recording overwrites the
//! same file (its key is derived from the invoice) before recording it.

use common::jobs::RenderInvoice;
use common::media::Cloudinary;
use common::orders::invoices::{self, InvoiceError, Stored};

use crate::{JobError, WorkerContext};

fn job_error(e: InvoiceError) -> JobError {
    if e.is_transient() { JobError::Retry(e.to_string()) } else { JobError::Permanent(e.to_string()) }
}

/// Renders, stores and records one document.
pub async fn render(ctx: &WorkerContext, job: RenderInvoice) -> Result<(), JobError> {
    let cloud = Cloudinary::from_config(&ctx.cfg).map_err(|e| JobError::Permanent(e.to_string()))?;
    let started = std::time::Instant::now();
    match invoices::store(&ctx.pool, &ctx.cfg.media_dir, cloud.as_ref(), job.invoice_id, chrono::Utc::now())
        .await
        .map_err(job_error)?
    {
        Stored::Recorded { key, bytes } => {
            tracing::info!(
                invoice_id = job.invoice_id,
                key,
                bytes,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "invoice document stored"
            );
        }
        Stored::AlreadyRecorded => tracing::info!(invoice_id = job.invoice_id, "invoice document already stored"),
        Stored::Missing => tracing::warn!(invoice_id = job.invoice_id, "invoice gone; nothing to render"),
    }
    Ok(())
}
