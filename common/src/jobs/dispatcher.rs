//! Moves due jobs from the PostgreSQL outbox to their Redis queues.
//!
//! Any number of dispatchers may run (in every API and worker process): rows are taken with
//! `FOR UPDATE SKIP LOCKED`, and a push repeated after a crash carries the same apalis
//! idempotency key, so Redis keeps one copy. While Redis is down rows stay `pending` and go out
//! when it is back.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use apalis_core::backend::TaskSink;
use apalis_core::task::builder::TaskBuilder;
use apalis_redis::ConnectionManager;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::{JobEnvelope, NOTIFY_CHANNEL, Queue, QueueStorage, storage};
use crate::config::Config;

/// Rows pushed per transaction; keeps lock times short.
pub const BATCH: i64 = 200;
/// A queue with this many jobs waiting in Redis gets no more until workers catch up: apalis'
/// fetch script fails on backlogs of about 8,000 due jobs, and PostgreSQL holds the rest safely.
pub const REDIS_BACKLOG_LIMIT: u64 = 4_000;

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

    /// Queues whose Redis backlog is at the limit.
    async fn saturated_queues(&self) -> Result<Vec<String>, DispatchError> {
        let mut conn = self.redis.clone();
        let mut full = Vec::new();
        for queue in Queue::ALL {
            let key = storage(self.redis.clone(), &self.prefix, queue).get_config().active_jobs_list();
            let len: u64 = redis::cmd("LLEN")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(|e| DispatchError::Redis(e.to_string()))?;
            if len >= REDIS_BACKLOG_LIMIT {
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
            let task = TaskBuilder::new(JobEnvelope { job_id: id, kind, payload })
                // Same key if this transaction rolls back and the row is pushed again: Redis keeps
                // one copy. A later push (retry, stale requeue) has a new key.
                .idempotency_key(format!("job-{id}-{}", pushes + 1))
                .build();
            match storage.push_task(task).await {
                Ok(()) => pushed.push(id),
                Err(e) => {
                    push_error = Some(e.to_string());
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

    /// Puts back jobs that were pushed or started long ago and never finished (Redis lost them,
    /// or their worker died); handlers are idempotent, so running one again is safe.
    pub async fn requeue_stale(&self) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE job SET status = 'pending', updated_at = now(), run_at = now()
             WHERE status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => $1)",
        )
        .bind(self.stale_after.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Runs until `shutdown` resolves: wakes on every committed enqueue (LISTEN/NOTIFY) and at
    /// least every `OUTBOX_POLL_MS`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let worker = async {
            let mut listener: Option<PgListener> = None;
            let mut last_stale_check = tokio::time::Instant::now();
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
