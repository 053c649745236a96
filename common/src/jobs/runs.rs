//! The life of a job row once it reaches a worker: claim, then done, retry or failed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{mpsc, oneshot};

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
    Ok(claim_many(pool, &[job_id]).await?.pop())
}

/// [`claim`] for many jobs in one statement: returns the rows taken (at most one per id; ids
/// that are not waiting are left out). Bookkeeping: the commit does not wait for an fsync
/// ([`relaxed`]).
pub async fn claim_many(pool: &PgPool, job_ids: &[i64]) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let mut ids = job_ids.to_vec();
    // One order for every claimer, so concurrent batches lock rows in the same order.
    ids.sort_unstable();
    ids.dedup();
    let mut tx = relaxed(pool).await?;
    // Waiting means `queued`, or `pending` and due. Written as a CASE so that the rows are looked
    // up by id: the same test as an OR matches the predicates of the partial indexes on `status`,
    // and with statistics taken while the table was small the planner then reads every waiting
    // row (tens of thousands in a backlog) to find the few asked for. Planned afresh for every
    // batch (not a cached generic plan) for the same reason.
    let rows: Vec<(i64, String, serde_json::Value, i32, i32)> = sqlx::query_as(
        "UPDATE job SET status = 'running', attempts = attempts + 1, updated_at = now()
         WHERE id = ANY($1)
           AND CASE status WHEN 'queued' THEN true WHEN 'pending' THEN run_at <= now() ELSE false END
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .bind(&ids)
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, payload, attempt, max_attempts)| ClaimedJob { id, kind, payload, attempt, max_attempts })
        .collect())
}

/// Marks the job done.
pub async fn complete(pool: &PgPool, job_id: i64) -> Result<(), sqlx::Error> {
    complete_many(pool, &[job_id]).await
}

/// Marks jobs done in one statement. Bookkeeping: the commit does not wait for an fsync
/// ([`relaxed`]); a "done" lost in a database crash makes an idempotent job run again.
pub async fn complete_many(pool: &PgPool, job_ids: &[i64]) -> Result<(), sqlx::Error> {
    let mut ids = job_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = relaxed(pool).await?;
    sqlx::query(
        "UPDATE job SET status = 'done', last_error = NULL, finished_at = now(), updated_at = now()
         WHERE id = ANY($1)",
    )
    .bind(&ids)
    .persistent(false)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A transaction for job bookkeeping (claims, outcomes, the dispatcher's `queued` marks) whose
/// commit does not wait for the WAL to reach the disk (`SET LOCAL synchronous_commit = off`).
/// A database crash may lose the last few hundred milliseconds of such commits, never corrupt
/// anything: a lost claim or outcome leaves the row `queued` or `running`, and the stale-job
/// check runs the (idempotent) job again. Never use it for what must not be lost or repeated
/// (a sent email's record, an invoice or credit-note number): handlers commit those themselves,
/// durably, and a durable commit also flushes every earlier relaxed one.
pub async fn relaxed(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    Ok(tx)
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
    let mut tx = relaxed(pool).await?;
    if permanent || job.attempt >= job.max_attempts {
        sqlx::query(
            "UPDATE job SET status = 'failed', last_error = $2, finished_at = now(), updated_at = now()
             WHERE id = $1",
        )
        .bind(job.id)
        .bind(&error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
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
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(FailureOutcome::Retry(delay))
}

/// Marks a job that can never run (unknown kind, undecodable payload).
pub async fn bury(pool: &PgPool, job_id: i64, error: &str) -> Result<(), sqlx::Error> {
    let mut tx = relaxed(pool).await?;
    sqlx::query(
        "UPDATE job SET status = 'dead', last_error = $2, finished_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(job_id)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How long a batch waits for more requests after its first one.
pub const BATCH_WINDOW: Duration = Duration::from_millis(1);
/// Most job ids in one claim or completion statement.
pub const MAX_BATCH: usize = 256;

/// Why a batched claim or completion has no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BookkeepingError {
    /// The batch's statement failed (every request in it gets the same error).
    #[error("database: {0}")]
    Database(Arc<sqlx::Error>),
    /// The batching task is gone (the process is stopping).
    #[error("job bookkeeping stopped")]
    Stopped,
}

type ClaimReply = oneshot::Sender<Result<Option<ClaimedJob>, BookkeepingError>>;
type CompleteReply = oneshot::Sender<Result<(), BookkeepingError>>;

/// The claims and completions of one worker process, batched: concurrently running handlers
/// ask for their job ([`Bookkeeper::claim`]) and report it done ([`Bookkeeper::complete`]), and
/// a task per kind gathers the requests for [`BATCH_WINDOW`] (or up to [`MAX_BATCH`] ids, and
/// for as long as the previous statement runs) and answers all of them from one statement
/// ([`claim_many`], [`complete_many`]). Semantics are those of [`claim`] and [`complete`]: a job
/// asked for twice in a batch (a duplicate delivery) is given to one request, the other gets
/// `None`. Cloning is cheap; the tasks end when the last clone is dropped.
#[derive(Clone)]
pub struct Bookkeeper {
    claims: mpsc::Sender<(i64, ClaimReply)>,
    completions: mpsc::Sender<(i64, CompleteReply)>,
}

impl Bookkeeper {
    /// Starts the batching tasks on the current Tokio runtime.
    pub fn spawn(pool: PgPool) -> Self {
        let (claims, claim_rx) = mpsc::channel(4 * MAX_BATCH);
        let (completions, complete_rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run_claims(pool.clone(), claim_rx));
        tokio::spawn(run_completions(pool, complete_rx));
        Self { claims, completions }
    }

    /// [`claim`], batched with the other handlers' claims.
    pub async fn claim(&self, job_id: i64) -> Result<Option<ClaimedJob>, BookkeepingError> {
        let (tx, rx) = oneshot::channel();
        self.claims.send((job_id, tx)).await.map_err(|_| BookkeepingError::Stopped)?;
        rx.await.map_err(|_| BookkeepingError::Stopped)?
    }

    /// [`complete`], batched with the other handlers' completions.
    pub async fn complete(&self, job_id: i64) -> Result<(), BookkeepingError> {
        let (tx, rx) = oneshot::channel();
        self.completions.send((job_id, tx)).await.map_err(|_| BookkeepingError::Stopped)?;
        rx.await.map_err(|_| BookkeepingError::Stopped)?
    }
}

/// Waits for a first request, then gathers more for [`BATCH_WINDOW`] or up to [`MAX_BATCH`].
/// `None` once every sender is gone.
async fn gather<T>(rx: &mut mpsc::Receiver<T>) -> Option<Vec<T>> {
    let first = rx.recv().await?;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    batch.push(first);
    let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => batch.push(item),
                Ok(None) | Err(_) => break,
            },
        }
    }
    Some(batch)
}

async fn run_claims(pool: PgPool, mut rx: mpsc::Receiver<(i64, ClaimReply)>) {
    while let Some(batch) = gather(&mut rx).await {
        let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
        match claim_many(&pool, &ids).await {
            Ok(rows) => {
                let mut claimed: HashMap<i64, ClaimedJob> = rows.into_iter().map(|job| (job.id, job)).collect();
                // The first request for an id gets the row; a second delivery in the same batch
                // finds it taken, as it would one batch later.
                for (id, reply) in batch {
                    let _ = reply.send(Ok(claimed.remove(&id)));
                }
            }
            Err(e) => {
                let e = BookkeepingError::Database(Arc::new(e));
                for (_, reply) in batch {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

async fn run_completions(pool: PgPool, mut rx: mpsc::Receiver<(i64, CompleteReply)>) {
    while let Some(batch) = gather(&mut rx).await {
        let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
        let result = complete_many(&pool, &ids).await.map_err(|e| BookkeepingError::Database(Arc::new(e)));
        for (_, reply) in batch {
            let _ = reply.send(result.clone());
        }
    }
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
