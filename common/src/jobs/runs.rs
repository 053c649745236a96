//! The life of a job row once it reaches a worker: claim, then done, retry or failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
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

/// Takes the job for this worker, with a lease of `lease` (see [`Leases`]). `None` when it is not
/// waiting (already done, or another delivery of the same job has it), which makes duplicate
/// deliveries harmless. A due `pending` row is taken too: its push reached Redis but the
/// dispatcher's transaction rolled back.
pub async fn claim(pool: &PgPool, job_id: i64, lease: Duration) -> Result<Option<ClaimedJob>, sqlx::Error> {
    Ok(claim_many(pool, &[job_id], lease).await?.pop())
}

/// [`claim`] for many jobs in one statement: returns the rows taken (at most one per id; ids
/// that are not waiting are left out). Bookkeeping: the commit does not wait for an fsync
/// ([`relaxed`]).
pub async fn claim_many(pool: &PgPool, job_ids: &[i64], lease: Duration) -> Result<Vec<ClaimedJob>, sqlx::Error> {
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
        "UPDATE job SET status = 'running', attempts = attempts + 1, updated_at = now(),
                lease_until = now() + make_interval(secs => $2)
         WHERE id = ANY($1)
           AND CASE status WHEN 'queued' THEN true WHEN 'pending' THEN run_at <= now() ELSE false END
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .bind(&ids)
    .bind(lease.as_secs_f64())
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, payload, attempt, max_attempts)| ClaimedJob { id, kind, payload, attempt, max_attempts })
        .collect())
}

/// Marks the job done, if its `attempt` still holds it (see [`complete_many`]).
pub async fn complete(pool: &PgPool, job_id: i64, attempt: i32) -> Result<(), sqlx::Error> {
    complete_many(pool, &[(job_id, attempt)]).await
}

/// Marks jobs done in one statement, each only while the attempt given is still the row's
/// latest: an attempt whose lease lapsed and whose job another worker has taken since (a worker
/// paused longer than `JOB_LEASE_SECONDS`) leaves the row to the newer attempt. Bookkeeping: the
/// commit does not wait for an fsync ([`relaxed`]); a "done" lost in a database crash makes an
/// idempotent job run again.
pub async fn complete_many(pool: &PgPool, jobs: &[(i64, i32)]) -> Result<(), sqlx::Error> {
    let mut jobs = jobs.to_vec();
    jobs.sort_unstable();
    jobs.dedup();
    let (ids, attempts): (Vec<i64>, Vec<i32>) = jobs.into_iter().unzip();
    let mut tx = relaxed(pool).await?;
    sqlx::query(
        "UPDATE job SET status = 'done', last_error = NULL, finished_at = now(), updated_at = now(),
                lease_until = NULL
         FROM unnest($1::bigint[], $2::int[]) AS mine(id, attempt)
         WHERE job.id = mine.id AND job.attempts = mine.attempt",
    )
    .bind(&ids)
    .bind(&attempts)
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
    let mut tx = crate::db::begin(pool).await?;
    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    Ok(tx)
}

/// Exponential backoff: `base`, 2×, 4×… capped at one hour.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1u32 << exp.min(16)).min(Duration::from_secs(3_600))
}

/// Records a failed attempt: schedules a retry with backoff, or marks the job `failed` when its
/// attempts are used up (`permanent` failures skip the remaining attempts). Like
/// [`complete_many`], only while `job.attempt` is still the row's latest attempt.
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
            "UPDATE job SET status = 'failed', last_error = $2, finished_at = now(), updated_at = now(),
                    lease_until = NULL
             WHERE id = $1 AND attempts = $3",
        )
        .bind(job.id)
        .bind(&error)
        .bind(job.attempt)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(FailureOutcome::Exhausted);
    }
    let delay = backoff(retry_base, job.attempt);
    sqlx::query(
        "UPDATE job SET status = 'pending', last_error = $2, updated_at = now(), lease_until = NULL,
                run_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND attempts = $4",
    )
    .bind(job.id)
    .bind(&error)
    .bind(delay.as_secs_f64())
    .bind(job.attempt)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(FailureOutcome::Retry(delay))
}

/// Marks a job that can never run (unknown kind, undecodable payload), if `attempt` still
/// holds it.
pub async fn bury(pool: &PgPool, job_id: i64, attempt: i32, error: &str) -> Result<(), sqlx::Error> {
    let mut tx = relaxed(pool).await?;
    sqlx::query(
        "UPDATE job SET status = 'dead', last_error = $2, finished_at = now(), updated_at = now(),
                lease_until = NULL
         WHERE id = $1 AND attempts = $3",
    )
    .bind(job_id)
    .bind(error)
    .bind(attempt)
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
type Completion = (i64, i32);
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
    completions: mpsc::Sender<(Completion, CompleteReply)>,
}

impl Bookkeeper {
    /// Starts the batching tasks on the current Tokio runtime; claims take leases of `lease`.
    pub fn spawn(pool: PgPool, lease: Duration) -> Self {
        let (claims, claim_rx) = mpsc::channel(4 * MAX_BATCH);
        let (completions, complete_rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run_claims(pool.clone(), claim_rx, lease));
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
    pub async fn complete(&self, job_id: i64, attempt: i32) -> Result<(), BookkeepingError> {
        let (tx, rx) = oneshot::channel();
        self.completions.send(((job_id, attempt), tx)).await.map_err(|_| BookkeepingError::Stopped)?;
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

async fn run_claims(pool: PgPool, mut rx: mpsc::Receiver<(i64, ClaimReply)>, lease: Duration) {
    while let Some(batch) = gather(&mut rx).await {
        let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
        match claim_many(&pool, &ids, lease).await {
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

async fn run_completions(pool: PgPool, mut rx: mpsc::Receiver<(Completion, CompleteReply)>) {
    while let Some(batch) = gather(&mut rx).await {
        let jobs: Vec<Completion> = batch.iter().map(|(job, _)| *job).collect();
        let result = complete_many(&pool, &jobs).await.map_err(|e| BookkeepingError::Database(Arc::new(e)));
        for (_, reply) in batch {
            let _ = reply.send(result.clone());
        }
    }
}

/// The leases of the jobs one worker process is running. A claim gives the job a lease of
/// `JOB_LEASE_SECONDS` (`job.lease_until`); while its handler runs the job is held here
/// ([`Leases::hold`]) and one statement every `JOB_LEASE_RENEW_SECONDS` extends the leases of
/// every job held. A job whose lease lapses lost its worker (killed, frozen, cut off from
/// PostgreSQL) and the dispatcher takes it back; a live job, however long, keeps its lease and
/// is never run twice. Renewals are bookkeeping commits ([`relaxed`]): one lost in a crash only
/// makes the lease end sooner than it would have.
#[derive(Clone)]
pub struct Leases {
    held: Arc<Mutex<HashMap<i64, i32>>>,
}

/// A job held by [`Leases`]: its lease is renewed until the guard is dropped.
#[must_use = "the lease is renewed only while the guard lives"]
pub struct LeaseGuard {
    held: Arc<Mutex<HashMap<i64, i32>>>,
    job_id: i64,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(&self.job_id);
        }
    }
}

impl Leases {
    /// Starts the renewal task on the current Tokio runtime; it ends when the last clone is
    /// dropped.
    pub fn spawn(pool: PgPool, lease: Duration, every: Duration) -> Self {
        let held = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(renew_leases(pool, Arc::downgrade(&held), lease, every));
        Self { held }
    }

    /// Keeps renewing `job`'s lease until the returned guard is dropped.
    pub fn hold(&self, job: &ClaimedJob) -> LeaseGuard {
        if let Ok(mut held) = self.held.lock() {
            held.insert(job.id, job.attempt);
        }
        LeaseGuard { held: self.held.clone(), job_id: job.id }
    }
}

/// Extends the lease of every held job that its attempt still holds (`running`, same attempt);
/// returns the ids renewed.
pub async fn renew(pool: &PgPool, jobs: &[(i64, i32)], lease: Duration) -> Result<Vec<i64>, sqlx::Error> {
    let (ids, attempts): (Vec<i64>, Vec<i32>) = jobs.iter().copied().unzip();
    let mut tx = relaxed(pool).await?;
    let renewed = sqlx::query_scalar(
        "UPDATE job SET lease_until = now() + make_interval(secs => $3)
         FROM unnest($1::bigint[], $2::int[]) AS mine(id, attempt)
         WHERE job.id = mine.id AND job.attempts = mine.attempt AND job.status = 'running'
         RETURNING job.id",
    )
    .bind(&ids)
    .bind(&attempts)
    .bind(lease.as_secs_f64())
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(renewed)
}

async fn renew_leases(pool: PgPool, held: Weak<Mutex<HashMap<i64, i32>>>, lease: Duration, every: Duration) {
    // A failed renewal (PostgreSQL away) is tried again every second, so that leases are renewed
    // as soon as it is back, before any dispatcher takes them for lapsed.
    let retry = every.min(Duration::from_secs(1));
    let mut wait = every;
    loop {
        tokio::time::sleep(wait).await;
        let jobs: Vec<(i64, i32)> = match held.upgrade() {
            None => return,
            Some(held) => match held.lock() {
                Ok(held) => held.iter().map(|(id, attempt)| (*id, *attempt)).collect(),
                Err(_) => return,
            },
        };
        if jobs.is_empty() {
            wait = every;
            continue;
        }
        match renew(&pool, &jobs, lease).await {
            Ok(renewed) => {
                wait = every;
                if renewed.len() < jobs.len() {
                    // Those that finished meanwhile are no longer held; the others were taken
                    // again elsewhere after their lease lapsed.
                    let still_held =
                        |id: &i64| held.upgrade().is_some_and(|h| h.lock().is_ok_and(|h| h.contains_key(id)));
                    let lost: Vec<i64> =
                        jobs.iter().map(|(id, _)| *id).filter(|id| !renewed.contains(id) && still_held(id)).collect();
                    if !lost.is_empty() {
                        tracing::warn!(jobs = ?lost, "job leases lost: taken again after their lease lapsed");
                    }
                }
            }
            Err(e) => {
                if wait != retry {
                    tracing::warn!(error = %e, jobs = jobs.len(), "job leases not renewed; retrying");
                }
                wait = retry;
            }
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
