//! Moves due jobs from the PostgreSQL outbox to their Redis queues.
//!
//! Any number of dispatchers may run (in every API and worker process): rows are taken with
//! `FOR UPDATE SKIP LOCKED`, and a push repeated after a crash carries the same task id and
//! apalis idempotency key, so Redis keeps one copy. While Redis is down rows stay `pending` and
//! go out when it is back. The dispatcher is also Redis' housekeeper: it removes finished jobs'
//! data and puts back queued rows that Redis no longer holds, at once when Redis lost its data
//! (the epoch key is gone, [`Dispatcher::check_epoch`]), else after `JOB_STALE_SECONDS`. And it
//! takes back running jobs whose lease lapsed (their worker died, [`Dispatcher::take_back_lapsed`]).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use apalis_redis::ConnectionManager;
use futures::FutureExt;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::redis_queue::{self, Delivery, task_id};
use super::{NOTIFY_CHANNEL, Queue, runs, storage};
use crate::config::Config;

/// Rows pushed per transaction (one Redis round trip per queue for all of them); keeps lock times
/// short, and a few batches past [`REDIS_BACKLOG_LIMIT`] stay far below the ~8,000 due jobs
/// apalis' fetch script can take.
pub const BATCH: i64 = 500;
/// A queue with this many jobs waiting in Redis (scheduled + active) gets no more until workers
/// catch up: PostgreSQL holds the rest safely, and Redis holds no more than workers can start on.
pub const REDIS_BACKLOG_LIMIT: u64 = 4_000;
/// Finished jobs' data removed from Redis per script call; a housekeeping round repeats the call
/// (up to [`VACUUM_ROUNDS`] times per queue) while it finds a full batch.
pub const VACUUM_BATCH: usize = 5_000;
/// Vacuum calls per queue and housekeeping round: up to 100,000 finished jobs every 5 s.
pub const VACUUM_ROUNDS: usize = 20;
/// How soon a dispatcher looks again at a queue it left full: workers drain a full Redis backlog
/// in about a second at thousands of jobs a second, so a refill at every `OUTBOX_POLL_MS` would
/// leave them idle.
const REFILL_MIN: Duration = Duration::from_millis(25);

/// The outbox dispatcher of one process.
#[derive(Clone)]
pub struct Dispatcher {
    pool: PgPool,
    redis: ConnectionManager,
    prefix: String,
    poll: Duration,
    stale_after: Duration,
    lease_renew: Duration,
}

type DueRow = (String, i64, String, serde_json::Value, i32);

/// What one dispatch round did.
#[derive(Debug, Default)]
struct Round {
    /// Rows pushed.
    pushed: usize,
    /// Some queue reached [`REDIS_BACKLOG_LIMIT`]: its due rows (if any) wait for room.
    saturated: bool,
}

impl Dispatcher {
    /// A dispatcher over the given pool and Redis connection.
    pub fn new(cfg: &Config, pool: PgPool, redis: ConnectionManager) -> Self {
        Self {
            pool,
            redis,
            prefix: cfg.queue_prefix.clone(),
            poll: cfg.outbox_poll,
            stale_after: cfg.job_stale_after,
            lease_renew: cfg.job_lease_renew,
        }
    }

    /// Pushes every due job once; returns how many went out. Errors leave rows pending.
    pub async fn dispatch_due(&self) -> Result<usize, DispatchError> {
        Ok(self.dispatch_round().await?.pushed)
    }

    /// Pushes the due jobs of every queue, each up to its room in Redis: [`REDIS_BACKLOG_LIMIT`]
    /// less what already waits there (scheduled + active: pushes land in the scheduled set and
    /// only a worker's fetch moves them on, so counting the active list alone sees 0 while no
    /// worker polls). One Redis round trip tells every queue's backlog; it is read again before
    /// each further batch, so dispatchers pushing at the same time overshoot the limit by a batch
    /// each at most.
    async fn dispatch_round(&self) -> Result<Round, DispatchError> {
        let backlogs = redis_queue::backlogs(&self.redis, &self.prefix, &Queue::ALL)
            .await
            .map_err(|e| DispatchError::Redis(e.to_string()))?;
        let mut round = Round::default();
        for (queue, mut waiting) in Queue::ALL.into_iter().zip(backlogs) {
            loop {
                let room = REDIS_BACKLOG_LIMIT.saturating_sub(waiting);
                if room == 0 {
                    round.saturated = true;
                    break;
                }
                let want = room.min(BATCH as u64) as i64;
                let pushed = self.dispatch_batch(queue, want).await?;
                round.pushed += pushed;
                if (pushed as i64) < want {
                    break;
                }
                waiting = redis_queue::backlog(&self.redis, &self.prefix, queue)
                    .await
                    .map_err(|e| DispatchError::Redis(e.to_string()))?;
            }
        }
        Ok(round)
    }

    /// One transaction: takes up to `limit` due rows of `queue` (oldest first, through the
    /// `(queue, status, id)` index, so a long backlog of one queue costs the others nothing),
    /// pushes them in one batch, and marks them `queued` (a bookkeeping commit that does not
    /// wait for an fsync: if a crash loses it, the rows are `pending` again and their next push
    /// carries the same keys, which Redis drops; a worker that already got the first copy claims
    /// the due `pending` row). If the push fails the transaction rolls back and the rows stay
    /// `pending`.
    async fn dispatch_batch(&self, queue: Queue, limit: i64) -> Result<usize, DispatchError> {
        let mut tx = runs::relaxed(&self.pool).await?;
        let rows: Vec<DueRow> = sqlx::query_as(
            "SELECT ctid::text, id, kind, payload, pushes FROM job
             WHERE queue = $1 AND status = 'pending' AND run_at <= now()
             ORDER BY id
             LIMIT $2
             FOR UPDATE SKIP LOCKED",
        )
        .bind(queue.as_str())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // The rows stay locked while Redis takes the push: if this process freezes (SIGSTOP)
        // meanwhile, PostgreSQL ends the transaction after a while and the other dispatchers
        // take the rows (a repeated push carries the same task ids).
        sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 15000").execute(&mut *tx).await?;
        let mut tids = Vec::with_capacity(rows.len());
        let mut deliveries = Vec::with_capacity(rows.len());
        for (tid, job_id, kind, payload, pushes) in rows {
            tids.push(tid);
            deliveries.push(Delivery { job_id, push: pushes + 1, kind, payload });
        }
        let count = deliveries.len();
        let mut storage = storage(self.redis.clone(), &self.prefix, queue);
        if let Err(e) = redis_queue::push_batch(&mut storage, deliveries).await {
            tx.rollback().await?;
            return Err(DispatchError::Redis(e));
        }
        // By row address: the rows are locked since the SELECT, so their `ctid` has not moved,
        // and a TID scan never depends on the planner's estimates.
        sqlx::query(
            "UPDATE job SET status = 'queued', pushes = pushes + 1, queued_at = now(), updated_at = now()
             WHERE ctid = ANY($1::text[]::tid[])",
        )
        .bind(&tids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(count)
    }

    /// Marks `dead` the pending rows naming a queue this build does not know: no worker can
    /// take them. Runs with the stale-job check, not per round (it reads every pending row).
    pub async fn bury_unknown_queues(&self) -> Result<u64, DispatchError> {
        let known: Vec<&str> = Queue::ALL.iter().map(|q| q.as_str()).collect();
        Ok(sqlx::query(
            "UPDATE job SET status = 'dead', last_error = 'unknown queue', updated_at = now()
             WHERE status = 'pending' AND queue <> ALL($1)",
        )
        .bind(&known)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The outer safety net: puts back jobs that were pushed or started long ago and never
    /// finished; handlers are idempotent, so running one again is safe. A `running` row without a
    /// lease (claimed before leases existed) past `JOB_STALE_SECONDS` lost its worker; rows with a
    /// lease are [`Dispatcher::take_back_lapsed`]'s. A `queued` row is put back only when Redis no
    /// longer holds its push (Redis lost it): one still waiting behind a long backlog is left
    /// alone, so it is never pushed twice. Returns how many rows went back to `pending`.
    pub async fn requeue_stale(&self) -> Result<u64, DispatchError> {
        let stale = self.stale_after.as_secs_f64();
        let running = sqlx::query(
            "UPDATE job SET status = 'pending', updated_at = now(), run_at = now()
             WHERE status = 'running' AND lease_until IS NULL
               AND updated_at < now() - make_interval(secs => $1)",
        )
        .bind(stale)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(running + self.requeue_lost(Some(stale), None).await?)
    }

    /// Puts back to `pending` the `queued` rows (pushed more than `older_than` seconds ago, or
    /// all; and last touched before `queued_before`, if given) whose push Redis no longer holds;
    /// returns how many. Rows Redis still holds (pushed
    /// again since, or waiting behind a backlog) are left alone. A push that a worker fetched but
    /// has not claimed yet looks lost too; pushing it again is harmless, since the claim lets
    /// only one delivery run the job.
    async fn requeue_lost(
        &self,
        older_than: Option<f64>,
        queued_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<u64, DispatchError> {
        let mut total = 0;
        let mut after = 0i64;
        loop {
            let queued: Vec<(i64, String, i32)> = sqlx::query_as(
                "SELECT id, queue, pushes FROM job
                 WHERE status = 'queued' AND id > $2
                   AND ($1::float8 IS NULL OR updated_at < now() - make_interval(secs => $1))
                   AND ($3::timestamptz IS NULL OR updated_at < $3)
                 ORDER BY id LIMIT 5000",
            )
            .bind(older_than)
            .bind(after)
            .bind(queued_before)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = queued.last().map(|(id, _, _)| *id) else { return Ok(total) };
            let full = queued.len() == 5000;
            total += self.requeue_unless_held(queued).await?;
            // The stale check looks at 5,000 rows per round; a recovery takes every one at once.
            if !full || older_than.is_some() {
                return Ok(total);
            }
            after = last;
        }
    }

    async fn requeue_unless_held(&self, queued: Vec<(i64, String, i32)>) -> Result<u64, DispatchError> {
        let mut held_by: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
        let (mut lost, mut held) = (Vec::new(), Vec::new());
        for (id, queue_name, pushes) in queued {
            let Some(queue) = Queue::parse(&queue_name) else { continue };
            if !held_by.contains_key(queue.as_str()) {
                let ids = redis_queue::waiting_ids(&self.redis, &self.prefix, queue)
                    .await
                    .map_err(|e| DispatchError::Redis(e.to_string()))?;
                held_by.insert(queue.as_str().to_string(), ids);
            }
            let waiting = held_by.get(queue.as_str()).is_some_and(|ids| ids.contains(&task_id(id, pushes)));
            if waiting { held.push(id) } else { lost.push(id) }
        }
        // Still waiting: looked at again only after another stale period.
        sqlx::query("UPDATE job SET updated_at = now() WHERE id = ANY($1) AND status = 'queued'")
            .bind(&held)
            .execute(&self.pool)
            .await?;
        let requeued = sqlx::query(
            "UPDATE job SET status = 'pending', updated_at = now(), run_at = now()
             WHERE id = ANY($1) AND status = 'queued'",
        )
        .bind(&lost)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(requeued)
    }

    /// Takes back the running jobs whose lease lapsed: their worker stopped renewing it (killed,
    /// frozen, cut off). Each goes back to `pending` at once (or `failed` if that was its last
    /// attempt), so it runs again within `JOB_LEASE_SECONDS` plus a few seconds of the worker's
    /// death. Returns how many.
    pub async fn take_back_lapsed(&self) -> Result<u64, DispatchError> {
        let taken: Vec<(i64, String, String)> = sqlx::query_as(
            "UPDATE job SET
                 status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
                 finished_at = CASE WHEN attempts >= max_attempts THEN now() ELSE finished_at END,
                 last_error = 'worker lost: its lease lapsed during attempt ' || attempts,
                 lease_until = NULL, run_at = now(), updated_at = now()
             WHERE status = 'running' AND lease_until < now()
             RETURNING id, kind, status",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, kind, status) in &taken {
            tracing::warn!(job_id = id, kind = %kind, now = %status, "job lease lapsed: its worker is gone; taken back");
        }
        Ok(taken.len() as u64)
    }

    /// Tells whether Redis lost its data since this dispatcher last looked (`known` is the epoch
    /// it saw then; `None` on the first look). The epoch is a random value kept under the queue
    /// prefix; Redis restarted empty, or flushed, has none, and the first dispatcher to notice
    /// writes a new one. Returns true when the epoch was missing or changed.
    pub async fn check_epoch(&self, known: &mut Option<String>) -> Result<bool, DispatchError> {
        let (epoch, created) =
            redis_queue::epoch(&self.redis, &self.prefix).await.map_err(|e| DispatchError::Redis(e.to_string()))?;
        let lost = created || known.as_ref().is_some_and(|k| *k != epoch);
        *known = Some(epoch);
        Ok(lost)
    }

    /// After Redis lost its data: every `queued` row (last touched before `queued_before`, if
    /// given) whose push is gone goes back to `pending` at once, so the next round pushes it
    /// again. Returns how many.
    pub async fn recover_lost_redis(
        &self,
        queued_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<u64, DispatchError> {
        self.requeue_lost(None, queued_before).await
    }

    /// Removes finished jobs' data from Redis (every queue, up to [`VACUUM_ROUNDS`] ×
    /// [`VACUUM_BATCH`] each).
    pub async fn vacuum(&self) -> Result<u64, DispatchError> {
        let mut total = 0;
        for queue in Queue::ALL {
            for _ in 0..VACUUM_ROUNDS {
                let removed = redis_queue::vacuum_finished(&self.redis, &self.prefix, queue, VACUUM_BATCH)
                    .await
                    .map_err(|e| DispatchError::Redis(e.to_string()))?;
                total += removed;
                // Each set gives up to VACUUM_BATCH: fewer in total means both are empty.
                if removed < VACUUM_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// Runs until `shutdown` resolves: wakes on committed enqueues (LISTEN/NOTIFY; all those that
    /// arrived during a round are served by the next one), at least every `OUTBOX_POLL_MS`, and
    /// every [`REFILL_MIN`] (backing off to `OUTBOX_POLL_MS` while nothing drains) while a
    /// queue is at [`REDIS_BACKLOG_LIMIT`].
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let worker = async {
            let mut listener: Option<PgListener> = None;
            let mut last_stale_check = tokio::time::Instant::now();
            let mut last_vacuum = tokio::time::Instant::now();
            let mut failures: u32 = 0;
            let mut saturated = false;
            let mut refill = REFILL_MIN;
            let mut recovery = Recovery::default();
            loop {
                self.recover(&mut recovery).await;
                if listener.is_none() {
                    listener = match PgListener::connect_with(&self.pool).await {
                        Ok(mut l) => match l.listen(NOTIFY_CHANNEL).await {
                            Ok(()) => Some(l),
                            Err(e) => {
                                tracing::warn!(error = %e, "outbox listener: LISTEN failed");
                                None
                            }
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "outbox listener: cannot connect");
                            None
                        }
                    };
                }
                match self.dispatch_round().await {
                    Ok(round) => {
                        if round.pushed > 0 {
                            tracing::debug!(pushed = round.pushed, "outbox dispatched");
                        }
                        failures = 0;
                        recovery.database_answered();
                        // A full queue is looked at again soon, so its workers never run dry;
                        // less and less often while nothing drains it (no worker running).
                        refill = if round.pushed > 0 || !saturated { REFILL_MIN } else { (refill * 2).min(self.poll) };
                        saturated = round.saturated;
                    }
                    Err(e) => {
                        if matches!(e, DispatchError::Database(_)) {
                            recovery.database_failed();
                        }
                        failures = failures.saturating_add(1);
                        if failures == 1 || failures.is_multiple_of(30) {
                            tracing::warn!(error = %e, failures, "outbox dispatch failed; jobs stay pending");
                        }
                    }
                }
                if last_vacuum.elapsed() >= Duration::from_secs(5) {
                    last_vacuum = tokio::time::Instant::now();
                    match self.vacuum().await {
                        Ok(n) if n > 0 => tracing::debug!(removed = n, "finished jobs removed from Redis"),
                        Ok(_) => {}
                        Err(e) => tracing::debug!(error = %e, "Redis vacuum skipped"),
                    }
                }
                if last_stale_check.elapsed() >= Duration::from_secs(30) {
                    last_stale_check = tokio::time::Instant::now();
                    match self.requeue_stale().await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::warn!(requeued = n, "stale jobs queued again");
                            self.count_recovered("stale", n).await;
                        }
                        Err(e) => tracing::warn!(error = %e, "stale job check failed"),
                    }
                    match self.bury_unknown_queues().await {
                        Ok(0) => {}
                        Ok(n) => tracing::error!(jobs = n, "jobs for an unknown queue marked dead"),
                        Err(e) => tracing::warn!(error = %e, "unknown queue check failed"),
                    }
                }
                let wait = if failures > 0 {
                    self.poll.max(Duration::from_millis(500))
                } else if saturated {
                    refill.min(self.poll)
                } else {
                    self.poll
                };
                let notified = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    res = notified => {
                        if let Err(e) = res {
                            tracing::warn!(error = %e, "outbox listener lost");
                            listener = None;
                        }
                    }
                    _ = tokio::time::sleep(wait) => {}
                }
                // One round per burst, not per job: every notification that arrived meanwhile
                // (each committed enqueue sends one) is served by the same round.
                if let Some(l) = listener.as_mut() {
                    coalesce(l);
                }
            }
        };
        tokio::select! {
            _ = worker => {}
            _ = shutdown => {}
        }
    }
}

/// How often a dispatcher reads the queue epoch: Redis' loss of its data is noticed within this
/// (plus a round) of Redis answering again.
const EPOCH_EVERY: Duration = Duration::from_secs(1);
/// Longest wait between two looks for lapsed leases.
const LEASE_SWEEP_MAX: Duration = Duration::from_secs(5);

/// What a dispatcher's recovery duties remember between rounds.
#[derive(Debug, Default)]
struct Recovery {
    /// The queue epoch seen last.
    epoch: Option<String>,
    last_epoch_check: Option<tokio::time::Instant>,
    /// Redis lost its data and the queued rows are not all put back yet: `Some(None)` all of
    /// them, `Some(Some(t))` those queued before `t`.
    redis_lost: Option<Option<chrono::DateTime<chrono::Utc>>>,
    /// When this dispatcher started.
    started: Option<chrono::DateTime<chrono::Utc>>,
    last_lease_sweep: Option<tokio::time::Instant>,
    /// Since when PostgreSQL has answered (`None`: it failed last).
    database_ok_since: Option<tokio::time::Instant>,
}

impl Recovery {
    fn database_failed(&mut self) {
        self.database_ok_since = None;
    }

    fn database_answered(&mut self) {
        self.database_ok_since.get_or_insert_with(tokio::time::Instant::now);
    }
}

impl Dispatcher {
    /// Once per [`EPOCH_EVERY`], notices Redis' loss of its data and puts back what was queued;
    /// every few seconds takes back the jobs whose lease lapsed. Failures are logged and tried
    /// again next time.
    async fn recover(&self, r: &mut Recovery) {
        let now = tokio::time::Instant::now();
        let started = *r.started.get_or_insert_with(chrono::Utc::now);
        if r.last_epoch_check.is_none_or(|t| now.duration_since(t) >= EPOCH_EVERY) {
            r.last_epoch_check = Some(now);
            let first_look = r.epoch.is_none();
            match self.check_epoch(&mut r.epoch).await {
                Ok(true) => {
                    if first_look {
                        tracing::info!(
                            "queue epoch written: new queues, or Redis lost its data while this process was away"
                        );
                    } else {
                        tracing::warn!(
                            "Redis lost its data (the queue epoch changed or is gone): queued jobs are pushed again"
                        );
                    }
                    // On a first look the epoch may be missing only because these queues are
                    // new: what was queued since this process started is not this loss's.
                    r.redis_lost = Some(first_look.then_some(started));
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "queue epoch not read"),
            }
        }
        if let Some(queued_before) = r.redis_lost {
            match self.recover_lost_redis(queued_before).await {
                Ok(n) => {
                    r.redis_lost = None;
                    r.database_answered();
                    if n > 0 {
                        tracing::warn!(requeued = n, "jobs Redis lost queued again");
                        self.count_recovered("redis_data_loss", n).await;
                    }
                }
                Err(e) => {
                    if matches!(e, DispatchError::Database(_)) {
                        r.database_failed();
                    }
                    tracing::warn!(error = %e, "jobs Redis lost not queued again yet; retrying");
                }
            }
        }
        // While PostgreSQL was away no worker could renew its leases either: give them one
        // renewal period after it is back before any lapsed lease counts as a dead worker.
        let sweep_every = self.lease_renew.min(LEASE_SWEEP_MAX);
        let settled = r.database_ok_since.is_some_and(|t| now.duration_since(t) >= self.lease_renew);
        if settled && r.last_lease_sweep.is_none_or(|t| now.duration_since(t) >= sweep_every) {
            r.last_lease_sweep = Some(now);
            match self.take_back_lapsed().await {
                Ok(0) => {}
                Ok(n) => self.count_recovered("lease_lapsed", n).await,
                Err(e) => {
                    r.database_failed();
                    tracing::warn!(error = %e, "lapsed leases not checked");
                }
            }
        } else if r.database_ok_since.is_none() {
            // Learn whether PostgreSQL answers (a round that finds nothing to push does not ask it
            // anything distinctive).
            match sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool).await {
                Ok(_) => r.database_answered(),
                Err(_) => r.database_failed(),
            }
        }
    }

    async fn count_recovered(&self, cause: &str, jobs: u64) {
        if jobs == 0 {
            return;
        }
        let mut redis = self.redis.clone();
        if let Err(e) = crate::job_metrics::recovered(&mut redis, &self.prefix, cause, jobs).await {
            tracing::debug!(error = %e, cause, "job recovery not counted in the metrics");
        }
    }
}

/// Most notifications taken without waiting before a round: bounds the drain under a flood.
const COALESCE_LIMIT: usize = 100_000;

/// Consumes the notifications that have already arrived, without waiting for more.
fn coalesce(listener: &mut PgListener) -> usize {
    let mut taken = 0;
    while taken < COALESCE_LIMIT {
        match listener.recv().now_or_never() {
            Some(Ok(_)) => taken += 1,
            // Pending (nothing more has arrived) or an error the next `recv` reports again.
            None | Some(Err(_)) => break,
        }
    }
    taken
}

/// Why a dispatch round stopped.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Redis refused or timed out.
    #[error("redis: {0}")]
    Redis(String),
}
