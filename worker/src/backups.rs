//! The backup job on the `maintenance` queue ([`common::backup::execute`]): scheduled by
//! `BACKUP_CRON` or asked for with `POST /api/ops/backups/`.

use common::jobs::Backup;

use crate::{JobError, WorkerContext};

/// Takes, verifies and records the backup of the job's `backup_run` row. A failed backup is
/// recorded and notified by `execute`; the job then fails for good (no retry: the next backup is
/// the next tick or request).
pub async fn run(ctx: &WorkerContext, job: Backup) -> Result<(), JobError> {
    match common::backup::execute(&ctx.cfg, &ctx.pool, job.run_id).await {
        Ok(run) => {
            tracing::info!(run_id = run.id, status = %run.status, location = ?run.location, "backup run finished");
            Ok(())
        }
        Err(e) => Err(JobError::Permanent(e)),
    }
}
