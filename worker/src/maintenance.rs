//! The `maintenance` queue: housekeeping.

use std::time::Duration;

use common::jobs::{Noop, PruneExpired, TestSleep};

use crate::{JobError, WorkerContext};

/// Deletes expired refresh and reset tokens, expired idempotency keys, finished jobs older
/// than `keep_jobs_days`, and staged private files older than a day that no row names
/// ([`crate::resources::prune_staging`]); folds the analytics rollups' rows
/// ([`common::analytics::compact`]).
pub async fn prune(ctx: &WorkerContext, job: PruneExpired) -> Result<(), JobError> {
    let days = f64::from(job.keep_jobs_days.max(1));
    let refresh = sqlx::query("DELETE FROM refresh_token WHERE expires_at < now() - interval '1 day'")
        .execute(&ctx.pool)
        .await?
        .rows_affected();
    let resets = sqlx::query("DELETE FROM password_reset_token WHERE expires_at < now() - interval '1 day'")
        .execute(&ctx.pool)
        .await?
        .rows_affected();
    let idem =
        sqlx::query("DELETE FROM idempotency_key WHERE expires_at < now()").execute(&ctx.pool).await?.rows_affected();
    let jobs =
        sqlx::query("DELETE FROM job WHERE status = 'done' AND finished_at < now() - make_interval(days => $1::int)")
            .bind(days as i32)
            .execute(&ctx.pool)
            .await?
            .rows_affected();
    let staged = crate::resources::prune_staging(ctx).await?;
    common::analytics::compact(&ctx.pool).await?;
    tracing::info!(refresh, resets, idem, jobs, staged, "pruned expired rows and staged files, compacted analytics");
    Ok(())
}

/// The benchmark job ([`Noop`]): nothing to do.
pub fn noop(_job: Noop) -> Result<(), JobError> {
    Ok(())
}

/// The recovery tests' long job ([`TestSleep`]), only where `WORKER_TEST_JOBS` allows it.
pub async fn test_sleep(ctx: &WorkerContext, job: TestSleep) -> Result<(), JobError> {
    if !ctx.cfg.worker_test_jobs {
        return Err(JobError::Unrunnable("test jobs are off (WORKER_TEST_JOBS)".into()));
    }
    tokio::time::sleep(Duration::from_millis(job.millis.min(600_000))).await;
    Ok(())
}
