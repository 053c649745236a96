//! What the service does to apalis-redis' keys itself, because the library leaves it undone:
//! counting what waits in a queue, telling whether a pushed job is still there, moving due jobs
//! to the active list in bounded batches, and removing finished jobs' data.
//!
//! apalis-redis 1.0 turns every push into a scheduled one (the `:scheduled` zset); only a
//! worker's fetch moves due ids to the active list, and its script `unpack`s all of them at once,
//! which fails past about 8,000 ids (`too many results to unpack`) and kills the worker on every
//! poll. [`promote_due`] moves them 1,000 at a time, so a worker can start on any backlog.

use std::collections::HashSet;
use std::sync::LazyLock;

use apalis_redis::ConnectionManager;
use redis::Script;

use apalis_core::backend::TaskSink;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;

use super::{JobEnvelope, Queue, QueueStorage, storage};

/// Ids moved per script call: far below Lua's unpack limit.
pub const PROMOTE_BATCH: usize = 1_000;

/// The Redis task id of a job row's `push`th push. Deterministic, so the dispatcher can tell
/// whether Redis still holds a queued row.
pub fn task_id(job_id: i64, push: i32) -> String {
    format!("job-{job_id}-{push}")
}

/// Pushes the `push`th delivery of a job row. The same row and push number always give the same
/// task id and idempotency key, so a push repeated after a rolled-back dispatch is kept once;
/// a later push (a retry, a lost push) is a new task.
pub async fn push(
    storage: &mut QueueStorage,
    job_id: i64,
    push: i32,
    kind: String,
    payload: serde_json::Value,
) -> Result<(), String> {
    let id = task_id(job_id, push);
    let task = TaskBuilder::new(JobEnvelope { job_id, kind, payload })
        .task_id(TaskId::from_string(id.clone()))
        .idempotency_key(id)
        .build();
    storage.push_task(task).await.map_err(|e| e.to_string())
}

/// One delivery of a job row, for [`push_batch`].
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `job.id`.
    pub job_id: i64,
    /// The push number (`job.pushes + 1`): task id and idempotency key are [`task_id`] of both.
    pub push: i32,
    /// `job.kind`.
    pub kind: String,
    /// `job.payload`.
    pub payload: serde_json::Value,
}

/// [`push`] for many deliveries of one queue in one round trip: apalis' own batch push (one Lua
/// script call writing exactly the keys its single push writes, with the same task ids and
/// idempotency keys). The script runs atomically in Redis: either every delivery is written or,
/// when the call fails, the caller cannot tell, and the next push of the same rows carries the
/// same keys, so Redis keeps one copy of each.
pub async fn push_batch(storage: &mut QueueStorage, deliveries: Vec<Delivery>) -> Result<(), String> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let tasks = deliveries.into_iter().map(|d| {
        let id = task_id(d.job_id, d.push);
        TaskBuilder::new(JobEnvelope { job_id: d.job_id, kind: d.kind, payload: d.payload })
            .task_id(TaskId::from_string(id.clone()))
            .idempotency_key(id)
            .build()
    });
    storage.push_all(futures::stream::iter(tasks)).await.map_err(|e| e.to_string())
}

fn keys(redis: &ConnectionManager, prefix: &str, queue: Queue) -> apalis_redis::Config {
    storage(redis.clone(), prefix, queue).get_config().clone()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// Jobs waiting in the queue: the scheduled set plus the active list.
pub async fn backlog(redis: &ConnectionManager, prefix: &str, queue: Queue) -> redis::RedisResult<u64> {
    Ok(backlogs(redis, prefix, &[queue]).await?.pop().unwrap_or_default())
}

/// [`backlog`] of several queues in one round trip, in the order given.
pub async fn backlogs(redis: &ConnectionManager, prefix: &str, queues: &[Queue]) -> redis::RedisResult<Vec<u64>> {
    let mut pipe = redis::pipe();
    for queue in queues {
        let cfg = keys(redis, prefix, *queue);
        pipe.cmd("ZCARD").arg(cfg.scheduled_jobs_set()).cmd("LLEN").arg(cfg.active_jobs_list());
    }
    let mut conn = redis.clone();
    let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
    Ok(counts.chunks(2).map(|pair| pair.iter().sum()).collect())
}

/// Ids of every job waiting in the queue (scheduled or active). Bounded by the dispatcher's
/// backlog limit, so reading them whole is cheap.
pub async fn waiting_ids(redis: &ConnectionManager, prefix: &str, queue: Queue) -> redis::RedisResult<HashSet<String>> {
    let cfg = keys(redis, prefix, queue);
    let mut conn = redis.clone();
    let (scheduled, active): (Vec<String>, Vec<String>) = redis::pipe()
        .cmd("ZRANGE")
        .arg(cfg.scheduled_jobs_set())
        .arg(0)
        .arg(-1)
        .cmd("LRANGE")
        .arg(cfg.active_jobs_list())
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await?;
    Ok(scheduled.into_iter().chain(active).collect())
}

static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local ids = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        if #ids > 0 then
            redis.call('rpush', KEYS[2], unpack(ids))
            redis.call('zrem', KEYS[1], unpack(ids))
            redis.call('del', KEYS[3])
            redis.call('lpush', KEYS[3], 1)
        end
        return #ids
        ",
    )
});

/// Moves every due scheduled job to the active list, [`PROMOTE_BATCH`] per call; returns how
/// many moved. Safe beside running workers (each call is one atomic script).
pub async fn promote_due(redis: &ConnectionManager, prefix: &str, queue: Queue) -> redis::RedisResult<u64> {
    let cfg = keys(redis, prefix, queue);
    let mut conn = redis.clone();
    let mut total = 0u64;
    loop {
        let moved: u64 = PROMOTE
            .key(cfg.scheduled_jobs_set())
            .key(cfg.active_jobs_list())
            .key(cfg.signal_list())
            .arg(now_secs())
            .arg(PROMOTE_BATCH)
            .invoke_async(&mut conn)
            .await?;
        total += moved;
        if moved < PROMOTE_BATCH as u64 {
            return Ok(total);
        }
    }
}

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local ids = redis.call('smembers', KEYS[1])
        if #ids > 0 then
            redis.call('rpush', KEYS[2], unpack(ids))
            redis.call('del', KEYS[1])
            redis.call('del', KEYS[3])
            redis.call('lpush', KEYS[3], 1)
        end
        redis.call('zrem', KEYS[4], ARGV[1])
        return #ids
        ",
    )
});

/// Gives back what a stopped worker had fetched but not finished: the ids in its in-flight set
/// go back to the active list and it leaves the workers set; returns how many. Without this,
/// apalis hands them to another worker only once the stopped one has missed its heartbeats
/// (a minute here), so a restart would delay them. A job that did finish meanwhile is skipped
/// when claimed again (its row is no longer waiting).
pub async fn release_worker(
    redis: &ConnectionManager,
    prefix: &str,
    queue: Queue,
    worker: &str,
) -> redis::RedisResult<u64> {
    let cfg = keys(redis, prefix, queue);
    let mut conn = redis.clone();
    RELEASE
        .key(format!("{}:{worker}", cfg.inflight_jobs_set()))
        .key(cfg.active_jobs_list())
        .key(cfg.signal_list())
        .key(cfg.workers_set())
        .arg(worker)
        .invoke_async(&mut conn)
        .await
}

static VACUUM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local n = 0
        for _, set in ipairs({KEYS[1], KEYS[2]}) do
            local ids = redis.call('spop', set, tonumber(ARGV[1]))
            for _, id in ipairs(ids) do
                redis.call('hdel', KEYS[3], id)
                redis.call('hdel', KEYS[4] .. ':result', id)
                redis.call('del', KEYS[4] .. ':' .. id)
                redis.call('del', KEYS[5] .. ':' .. id)
                n = n + 1
            end
        end
        return n
        ",
    )
});

/// Removes the data of finished jobs (acknowledged done or dead) from Redis, at most `limit` per
/// call and set; returns how many. The job table keeps every job's state, so nothing is lost.
///
/// Their idempotency keys go too (every push here uses its task id as idempotency key), rather
/// than after the 24 h TTL: at thousands of jobs a second those keys alone would hold hundreds of
/// millions of entries. A finished task's key only ever stopped a repeated push of a row that is
/// no longer waiting for that push (it was claimed, or it is a retry that the repeated push may
/// as well deliver), so dropping it loses no protection.
pub async fn vacuum_finished(
    redis: &ConnectionManager,
    prefix: &str,
    queue: Queue,
    limit: usize,
) -> redis::RedisResult<u64> {
    let cfg = keys(redis, prefix, queue);
    let mut conn = redis.clone();
    VACUUM
        .key(cfg.done_jobs_set())
        .key(cfg.dead_jobs_set())
        .key(cfg.job_data_hash())
        .key(cfg.job_meta_hash())
        .key(cfg.idempotency_key_set())
        .arg(limit)
        .invoke_async(&mut conn)
        .await
}

static EPOCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local epoch = redis.call('get', KEYS[1])
        if epoch then
            return {epoch, 0}
        end
        redis.call('set', KEYS[1], ARGV[1])
        return {ARGV[1], 1}
        ",
    )
});

/// The key of the queue epoch: a random value that lives as long as Redis keeps its data.
pub fn epoch_key(prefix: &str) -> String {
    format!("{prefix}:queue:epoch")
}

/// The queue epoch, and whether this call wrote it (it was missing: Redis lost its data, or
/// this deployment's queues were never used).
pub async fn epoch(redis: &ConnectionManager, prefix: &str) -> redis::RedisResult<(String, bool)> {
    let mut conn = redis.clone();
    let (epoch, created): (String, i64) =
        EPOCH.key(epoch_key(prefix)).arg(uuid::Uuid::new_v4().simple().to_string()).invoke_async(&mut conn).await?;
    Ok((epoch, created == 1))
}
