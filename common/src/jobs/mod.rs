//! Background jobs: payload types, queue names and the transactional enqueue path.
//!
//! A job is written to the `job` table in the transaction of the change that causes it
//! ([`enqueue`]). The [`dispatcher`] pushes due rows to the Redis queue (apalis) of their
//! [`Queue`]; workers claim the row, run it and record the outcome in the same row, so the
//! state of every job survives a Redis restart.

pub mod dispatcher;
pub mod doorbell;
pub mod ops;
pub mod payloads;
pub mod redis_queue;
pub mod runs;

use std::fmt;
use std::time::Duration;

use apalis_redis::{ConnectionManager, RedisStorage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

pub use doorbell::Doorbell;
pub use payloads::*;

/// Channel that `enqueue` (in its transaction) and the [`Doorbell`] (after a commit) notify so
/// the dispatcher wakes at once; the dispatcher reads no payload.
pub const NOTIFY_CHANNEL: &str = "job_outbox";

/// The queue families; each has its own Redis queue and can run in its own worker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// Transactional email.
    Emails,
    /// Invoice PDFs.
    Invoices,
    /// Image and file storage.
    Media,
    /// Payment reconciliation and refunds.
    Payments,
    /// Housekeeping: expiry, pruning, backups.
    Maintenance,
}

impl Queue {
    /// Every queue, in the order workers start them.
    pub const ALL: [Queue; 5] = [Queue::Emails, Queue::Invoices, Queue::Media, Queue::Payments, Queue::Maintenance];

    /// Name used in the database, in Redis keys and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Emails => "emails",
            Queue::Invoices => "invoices",
            Queue::Media => "media",
            Queue::Payments => "payments",
            Queue::Maintenance => "maintenance",
        }
    }

    /// Parses a queue name.
    pub fn parse(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.as_str() == name.trim())
    }

    /// The apalis queue name under the deployment's prefix.
    pub fn redis_name(self, prefix: &str) -> String {
        format!("{prefix}:queue:{}", self.as_str())
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job payload type: its kind string and queue are fixed at compile time.
pub trait Job: Serialize + DeserializeOwned + Send + Sync {
    /// Stable identifier stored with the job.
    const KIND: &'static str;
    /// Queue that runs it.
    const QUEUE: Queue;
    /// Attempts before the job is marked failed.
    const MAX_ATTEMPTS: i32 = 8;
}

/// What travels through Redis: the job row's id and what the handler needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobEnvelope {
    /// `job.id`.
    pub job_id: i64,
    /// `job.kind`.
    pub kind: String,
    /// `job.payload`.
    pub payload: serde_json::Value,
}

/// The apalis storage of one queue.
pub type QueueStorage = RedisStorage<JobEnvelope, ConnectionManager>;

/// Builds the apalis storage of `queue` on an existing connection.
///
/// Task locks are off: the job row's claim is the lock (a second delivery finds the row taken),
/// and apalis' lease script removes each started task from the active list with an `LREM` that
/// scans the whole list, a cost per job that grows with the backlog. A fetched task still sits
/// in its worker's in-flight set until acknowledged, which is what crash recovery
/// ([`redis_queue::release_worker`], apalis' orphan re-enqueue) works from. Pub/sub events are
/// off: nothing subscribes.
pub fn storage(conn: ConnectionManager, prefix: &str, queue: Queue) -> QueueStorage {
    let config = apalis_redis::Config::default()
        .queue(queue.redis_name(prefix))
        .idempotency_ttl(Some(Duration::from_secs(86_400)))
        .heartbeat_interval(Duration::from_secs(10))
        .missed_heartbeats(6)
        .lock_tasks(false)
        .emit_events(false)
        .batch_size(FETCH_BATCH);
    RedisStorage::new(conn).with_config(config)
}

/// Tasks one apalis fetch takes (and the order of the number of acknowledgements one Redis call
/// carries). A worker holds at most this many fetched tasks beyond those running.
pub const FETCH_BATCH: usize = 32;

/// The values of a job's outbox row, for a statement that writes it along with other rows
/// ([`enqueue`] writes one on its own). Whatever writes it also wakes the dispatcher: with
/// `pg_notify(NOTIFY_CHANNEL, queue)` for the row it wrote, in the same statement, or (orders and
/// payments) by ringing the [`Doorbell`] after the commit.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// `job.queue`.
    pub queue: &'static str,
    /// `job.kind`.
    pub kind: &'static str,
    /// `job.payload`.
    pub payload: serde_json::Value,
    /// `job.dedupe_key`.
    pub dedupe_key: Option<String>,
    /// `job.max_attempts`.
    pub max_attempts: i32,
}

impl OutboxRow {
    /// The row of `job`.
    pub fn of<J: Job>(job: &J, dedupe_key: Option<&str>) -> Result<Self, sqlx::Error> {
        Ok(OutboxRow {
            queue: J::QUEUE.as_str(),
            kind: J::KIND,
            payload: serde_json::to_value(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
            dedupe_key: dedupe_key.map(str::to_owned),
            max_attempts: J::MAX_ATTEMPTS,
        })
    }
}

/// Writes `job` to the outbox in the caller's transaction. With a `dedupe_key`, a second job
/// with the same key is not created and `None` is returned.
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    dedupe_key: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    enqueue_row(conn, OutboxRow::of(job, dedupe_key)?).await
}

/// [`enqueue`] for a row already made.
pub async fn enqueue_row(conn: &mut PgConnection, row: OutboxRow) -> Result<Option<i64>, sqlx::Error> {
    // One round trip: the row, and the dispatcher's wake-up only when a row was written (the
    // notice is delivered at commit, so the dispatcher never wakes for a rolled-back job).
    // `pg_notify` sits in the select list, so it runs once per written row: never when the
    // dedupe key already existed.
    let written: Option<(i64, String)> = sqlx::query_as(
        "WITH j AS (
             INSERT INTO job (queue, kind, payload, dedupe_key, max_attempts)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (dedupe_key) DO NOTHING
             RETURNING id)
         SELECT j.id, pg_notify($6, $1)::text FROM j",
    )
    .bind(row.queue)
    .bind(row.kind)
    .bind(row.payload)
    .bind(row.dedupe_key)
    .bind(row.max_attempts)
    .bind(NOTIFY_CHANNEL)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(written.map(|(id, _)| id))
}
