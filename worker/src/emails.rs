//! The `emails` queue.

use common::accounts::reset::{self, ResetSettings};
use common::jobs::{SendEmail, SendPasswordReset};
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

/// Sends a password-reset email, its link built here from the token row (nothing is sent for a
/// token used or expired meanwhile).
pub async fn send_password_reset(ctx: &WorkerContext, job: SendPasswordReset) -> Result<(), JobError> {
    let settings = ResetSettings::from_config(&ctx.cfg);
    match reset::email_for(&ctx.pool, &settings, job.reset_id).await? {
        Some(email) => send(ctx, email).await,
        None => {
            tracing::info!(reset_id = job.reset_id, "reset token used, expired or without address; nothing sent");
            Ok(())
        }
    }
}
