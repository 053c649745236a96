//! The `emails` queue.

use common::accounts::reset::{self, ResetSettings};
use common::jobs::{Attachment, SendEmail, SendPasswordReset};
use common::mail::{self, Delivery, PdfAttachment};

use crate::{JobError, WorkerContext};

/// Sends one email, once per message key: its attachments are fetched first, and
/// `support_email` (`SUPPORT_EMAIL`) is added to its context unless the job names one.
pub async fn send(ctx: &WorkerContext, mut job: SendEmail) -> Result<(), JobError> {
    if let Some(map) = job.context.as_object_mut() {
        map.entry("support_email").or_insert_with(|| serde_json::json!(ctx.cfg.support_email.trim()));
    }
    if !job.attachments.is_empty() && mail::was_sent(&ctx.pool, &job.message_key).await? {
        tracing::info!(message_key = %job.message_key, "email already sent; skipped");
        return Ok(());
    }
    let attachments = resolve(ctx, &job.attachments).await?;
    match mail::deliver_once(&ctx.pool, &ctx.mailer, &ctx.cfg.mail_from, &job, &attachments, ctx.cfg.mail_claim_stale)
        .await
    {
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

/// The files of `attachments`: an invoice or credit note is its stored PDF (rendered again from
/// its snapshot when not stored yet). A missing invoice cannot appear later: permanent.
async fn resolve(ctx: &WorkerContext, attachments: &[Attachment]) -> Result<Vec<PdfAttachment>, JobError> {
    let mut files = Vec::with_capacity(attachments.len());
    for attachment in attachments {
        match attachment {
            Attachment::Invoice { invoice_id } => {
                match common::orders::invoices::pdf(&ctx.pool, &ctx.cfg.media_dir, *invoice_id).await {
                    Ok(Some(file)) => files.push(file),
                    Ok(None) => return Err(JobError::Permanent(format!("attachment: no invoice {invoice_id}"))),
                    Err(e) if e.is_transient() => {
                        return Err(JobError::Retry(format!("attachment: invoice {invoice_id}: {e}")));
                    }
                    Err(e) => return Err(JobError::Permanent(format!("attachment: invoice {invoice_id}: {e}"))),
                }
            }
        }
    }
    Ok(files)
}

/// Sends a password-reset email, or with `welcome` the welcome email of an admin-made account,
/// its link built here from the token row (nothing is sent for a token used or expired
/// meanwhile).
pub async fn send_password_reset(ctx: &WorkerContext, job: SendPasswordReset) -> Result<(), JobError> {
    let settings = ResetSettings::from_config(&ctx.cfg);
    match reset::email_for(&ctx.pool, &settings, job.reset_id, job.welcome).await? {
        Some(email) => send(ctx, email).await,
        None => {
            tracing::info!(reset_id = job.reset_id, "reset token used, expired or without address; nothing sent");
            Ok(())
        }
    }
}
