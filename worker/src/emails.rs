//! The `emails` queue.

use common::jobs::SendEmail;
use common::mail::{self, Delivery};

use crate::{JobError, WorkerContext};

/// Sends one email, once per message key.
pub async fn send(ctx: &WorkerContext, job: SendEmail) -> Result<(), JobError> {
    match mail::deliver_once(&ctx.pool, &ctx.mailer, &ctx.cfg.mail_from, &job).await {
        Ok(Delivery::Sent) => {
            tracing::info!(message_key = %job.message_key, template = %job.template, "email sent");
            Ok(())
        }
        Ok(Delivery::AlreadySent) => {
            tracing::info!(message_key = %job.message_key, "email already sent; skipped");
            Ok(())
        }
        Err(e) if e.is_permanent() => Err(JobError::Permanent(e.to_string())),
        Err(e) => Err(JobError::Retry(e.to_string())),
    }
}
