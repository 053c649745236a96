//! The life of a job row once it reaches a worker: claim, then done, retry or failed.

use std::time::Duration;

use sqlx::PgPool;

/// A job a worker has claimed.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// `job.id`.
    pub id: i64,
    /// Job kind.
    pub kind: String,
    /// Payload as stored.
    pub payload: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Another attempt is scheduled after this delay.
    Retry(Duration),
    /// No attempts left: the job is `failed`.
    Exhausted,
}

/// Takes the job for this worker. `None` when it is not waiting (already done, or another
/// delivery of the same job has it), which makes duplicate deliveries harmless. A due `pending`
/// row is taken too: its push reached Redis but the dispatcher's transaction rolled back.
pub async fn claim(pool: &PgPool, job_id: i64) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let row: Option<(i64, String, serde_json::Value, i32, i32)> = sqlx::query_as(
        "UPDATE job SET status = 'running', attempts = attempts + 1, updated_at = now()
         WHERE id = $1 AND (status = 'queued' OR (status = 'pending' AND run_at <= now()))
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .bind(job_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, kind, payload, attempt, max_attempts)| ClaimedJob { id, kind, payload, attempt, max_attempts }))
}

/// Marks the job done.
pub async fn complete(pool: &PgPool, job_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE job SET status = 'done', last_error = NULL, finished_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(job_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Exponential backoff: `base`, 2×, 4×… capped at one hour.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1u32 << exp.min(16)).min(Duration::from_secs(3_600))
}

/// Records a failed attempt: schedules a retry with backoff, or marks the job `failed` when its
/// attempts are used up (`permanent` failures skip the remaining attempts).
pub async fn fail(
    pool: &PgPool,
    job: &ClaimedJob,
    error: &str,
    permanent: bool,
    retry_base: Duration,
) -> Result<FailureOutcome, sqlx::Error> {
    let error: String = error.chars().take(2_000).collect();
    if permanent || job.attempt >= job.max_attempts {
        sqlx::query(
            "UPDATE job SET status = 'failed', last_error = $2, finished_at = now(), updated_at = now()
             WHERE id = $1",
        )
        .bind(job.id)
        .bind(&error)
        .execute(pool)
        .await?;
        return Ok(FailureOutcome::Exhausted);
    }
    let delay = backoff(retry_base, job.attempt);
    sqlx::query(
        "UPDATE job SET status = 'pending', last_error = $2, updated_at = now(),
                run_at = now() + make_interval(secs => $3)
         WHERE id = $1",
    )
    .bind(job.id)
    .bind(&error)
    .bind(delay.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(FailureOutcome::Retry(delay))
}

/// Marks a job that can never run (unknown kind, undecodable payload).
pub async fn bury(pool: &PgPool, job_id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE job SET status = 'dead', last_error = $2, finished_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(job_id)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 15), Duration::from_secs(3_600));
    }
}
