//! Moves due jobs from the PostgreSQL outbox to their Redis queues.
//!
//! Any number of dispatchers may run (in every API and worker process): rows are taken with
//! `FOR UPDATE SKIP LOCKED`, and a push repeated after a crash carries the same task id and
//! apalis idempotency key, so Redis keeps one copy. While Redis is down rows stay `pending` and
//! go out when it is back. The dispatcher is also Redis' housekeeper: it removes finished jobs'
//! data and puts back queued rows that Redis no longer holds.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use apalis_redis::ConnectionManager;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::redis_queue::{self, task_id};
use super::{NOTIFY_CHANNEL, Queue, QueueStorage, storage};
use crate::config::Config;

/// Rows pushed per transaction; keeps lock times short.
pub const BATCH: i64 = 200;
/// A queue with this many jobs waiting in Redis (scheduled + active) gets no more until workers
/// catch up: PostgreSQL holds the rest safely, and Redis holds no more than workers can start on.
pub const REDIS_BACKLOG_LIMIT: u64 = 4_000;
/// Finished jobs' data removed from Redis per queue and housekeeping round.
pub const VACUUM_BATCH: usize = 5_000;

/// The outbox dispatcher of one process.
#[derive(Clone)]
pub struct Dispatcher {
    pool: PgPool,
    redis: ConnectionManager,
    prefix: String,
    poll: Duration,
    stale_after: Duration,
}

type DueRow = (i64, String, String, serde_json::Value, i32);

impl Dispatcher {
    /// A dispatcher over the given pool and Redis connection.
    pub fn new(cfg: &Config, pool: PgPool, redis: ConnectionManager) -> Self {
        Self { pool, redis, prefix: cfg.queue_prefix.clone(), poll: cfg.outbox_poll, stale_after: cfg.job_stale_after }
    }

    /// Pushes every due job once; returns how many went out. Errors leave rows pending.
    pub async fn dispatch_due(&self) -> Result<usize, DispatchError> {
        let mut total = 0;
        loop {
            let pushed = self.dispatch_batch().await?;
            total += pushed;
            if pushed < BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// Queues whose Redis backlog (scheduled + active: pushes land in the scheduled set and only a
    /// worker's fetch moves them on, so counting the active list alone sees 0 while no worker
    /// polls) is at the limit.
    async fn saturated_queues(&self) -> Result<Vec<String>, DispatchError> {
        let mut full = Vec::new();
        for queue in Queue::ALL {
            let waiting = redis_queue::backlog(&self.redis, &self.prefix, queue)
                .await
                .map_err(|e| DispatchError::Redis(e.to_string()))?;
            if waiting >= REDIS_BACKLOG_LIMIT {
                full.push(queue.as_str().to_string());
            }
        }
        Ok(full)
    }

    async fn dispatch_batch(&self) -> Result<usize, DispatchError> {
        let saturated = self.saturated_queues().await?;
        let mut tx = self.pool.begin().await?;
        let rows: Vec<DueRow> = sqlx::query_as(
            "SELECT id, queue, kind, payload, pushes FROM job
             WHERE status = 'pending' AND run_at <= now() AND queue <> ALL($2)
             ORDER BY run_at, id
             LIMIT $1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .bind(&saturated)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut storages: HashMap<Queue, QueueStorage> = HashMap::new();
        let mut pushed = Vec::with_capacity(rows.len());
        let mut unknown = Vec::new();
        let mut push_error = None;
        for (id, queue_name, kind, payload, pushes) in rows {
            let Some(queue) = Queue::parse(&queue_name) else {
                unknown.push(id);
                continue;
            };
            let storage = storages.entry(queue).or_insert_with(|| storage(self.redis.clone(), &self.prefix, queue));
            match redis_queue::push(storage, id, pushes + 1, kind, payload).await {
                Ok(()) => pushed.push(id),
                Err(e) => {
                    push_error = Some(e);
                    break;
                }
            }
        }
        if !pushed.is_empty() {
            sqlx::query(
                "UPDATE job SET status = 'queued', pushes = pushes + 1, queued_at = now(), updated_at = now()
                 WHERE id = ANY($1)",
            )
            .bind(&pushed)
            .execute(&mut *tx)
            .await?;
        }
        if !unknown.is_empty() {
            sqlx::query(
                "UPDATE job SET status = 'dead', last_error = 'unknown queue', updated_at = now() WHERE id = ANY($1)",
            )
            .bind(&unknown)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        match push_error {
            Some(e) => Err(DispatchError::Redis(e)),
            None => Ok(pushed.len()),
        }
    }

    /// Puts back jobs that were pushed or started long ago and never finished; handlers are
    /// idempotent, so running one again is safe. A `running` row past `JOB_STALE_SECONDS` lost its
    /// worker. A `queued` row is put back only when Redis no longer holds its push (Redis lost
    /// it): one still waiting behind a long backlog is left alone, so it is never pushed twice.
    /// Returns how many rows went back to `pending`.
    pub async fn requeue_stale(&self) -> Result<u64, DispatchError> {
        let stale = self.stale_after.as_secs_f64();
        let running = sqlx::query(
            "UPDATE job SET status = 'pending', updated_at = now(), run_at = now()
             WHERE status = 'running' AND updated_at < now() - make_interval(secs => $1)",
        )
        .bind(stale)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let queued: Vec<(i64, String, i32)> = sqlx::query_as(
            "SELECT id, queue, pushes FROM job
             WHERE status = 'queued' AND updated_at < now() - make_interval(secs => $1)
             ORDER BY id LIMIT 5000",
        )
        .bind(stale)
        .fetch_all(&self.pool)
        .await?;
        if queued.is_empty() {
            return Ok(running);
        }
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
        Ok(running + requeued)
    }

    /// Removes finished jobs' data from Redis (every queue, up to [`VACUUM_BATCH`] each).
    pub async fn vacuum(&self) -> Result<u64, DispatchError> {
        let mut total = 0;
        for queue in Queue::ALL {
            total += redis_queue::vacuum_finished(&self.redis, &self.prefix, queue, VACUUM_BATCH)
                .await
                .map_err(|e| DispatchError::Redis(e.to_string()))?;
        }
        Ok(total)
    }

    /// Runs until `shutdown` resolves: wakes on every committed enqueue (LISTEN/NOTIFY) and at
    /// least every `OUTBOX_POLL_MS`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let worker = async {
            let mut listener: Option<PgListener> = None;
            let mut last_stale_check = tokio::time::Instant::now();
            let mut last_vacuum = tokio::time::Instant::now();
            let mut failures: u32 = 0;
            loop {
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
                match self.dispatch_due().await {
                    Ok(n) => {
                        if n > 0 {
                            tracing::debug!(pushed = n, "outbox dispatched");
                        }
                        failures = 0;
                    }
                    Err(e) => {
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
                        Ok(n) => tracing::warn!(requeued = n, "stale jobs queued again"),
                        Err(e) => tracing::warn!(error = %e, "stale job check failed"),
                    }
                }
                let wait = if failures > 0 { self.poll.max(Duration::from_millis(500)) } else { self.poll };
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
            }
        };
        tokio::select! {
            _ = worker => {}
            _ = shutdown => {}
        }
    }
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
