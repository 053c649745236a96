//! What the queue dashboard (API.md §9.6) reads and does: counts per queue, job lists by state
//! with redacted payloads, throughput of the last hour, and an admin's retry or discard of a
//! failed job, each recorded in `job_audit` in the transaction that changes the job.

use std::sync::LazyLock;

use apalis_redis::ConnectionManager;
use chrono::{DateTime, Utc};
use redis::Script;
use serde::Serialize;
use sqlx::{AssertSqlSafe, PgPool};

use super::redis_queue::task_id;
use super::{NOTIFY_CHANNEL, Queue, storage};

/// A job's state as the dashboard shows it (not the stored status: `pending` there covers both
/// waiting jobs and retries whose time has not come).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting in the outbox (due) or pushed to Redis (`queued`).
    Pending,
    /// Stored `pending` with `run_at` in the future (a retry waiting out its back-off).
    Scheduled,
    /// A worker has it.
    Running,
    /// Finished.
    Done,
    /// Attempts used up, or failed for good.
    Failed,
    /// Cannot run (unknown kind, undecodable payload).
    Dead,
}

impl JobState {
    /// Every state, in the order the dashboard lists them.
    pub const ALL: [JobState; 6] =
        [JobState::Pending, JobState::Scheduled, JobState::Running, JobState::Done, JobState::Failed, JobState::Dead];

    /// The name used in `?state=` and in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    /// Parses a state name.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }

    /// The state of a stored row.
    pub fn of(status: &str, run_at: DateTime<Utc>, now: DateTime<Utc>) -> JobState {
        match status {
            "pending" if run_at > now => JobState::Scheduled,
            "pending" | "queued" => JobState::Pending,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => JobState::Dead,
        }
    }

    /// SQL condition on `job` that selects this state (a fixed string: no input reaches it).
    fn predicate(self) -> &'static str {
        match self {
            JobState::Pending => "(status = 'queued' OR (status = 'pending' AND run_at <= now()))",
            JobState::Scheduled => "(status = 'pending' AND run_at > now())",
            JobState::Running => "status = 'running'",
            JobState::Done => "status = 'done'",
            JobState::Failed => "status = 'failed'",
            JobState::Dead => "status = 'dead'",
        }
    }
}

/// The jobs of one queue, counted by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// The queue.
    pub queue: Option<Queue>,
    /// Waiting in the outbox or in Redis.
    pub pending: i64,
    /// A worker has them.
    pub running: i64,
    /// Retries waiting for their time.
    pub scheduled: i64,
    /// Finished.
    pub done: i64,
    /// Failed for good.
    pub failed: i64,
    /// Cannot run.
    pub dead: i64,
    /// Seconds since the oldest pending job became due; `None` when none is pending.
    pub oldest_pending_age_seconds: Option<i64>,
}

/// Counts of every queue, in [`Queue::ALL`] order (queues without jobs count zero).
pub async fn counts(pool: &PgPool) -> Result<Vec<QueueCounts>, sqlx::Error> {
    let rows: Vec<(String, String, bool, i64, Option<f64>)> = sqlx::query_as(
        "SELECT queue, status, status = 'pending' AND run_at > now() AS later, count(*),
                extract(epoch FROM now() - min(run_at))::float8
         FROM job GROUP BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<QueueCounts> =
        Queue::ALL.iter().map(|q| QueueCounts { queue: Some(*q), ..QueueCounts::default() }).collect();
    for (queue, status, later, n, age) in rows {
        let Some(c) = out.iter_mut().find(|c| c.queue.is_some_and(|q| q.as_str() == queue)) else { continue };
        match (status.as_str(), later) {
            ("pending", true) => c.scheduled += n,
            ("pending", false) | ("queued", _) => {
                c.pending += n;
                let age = age.unwrap_or_default().max(0.0) as i64;
                c.oldest_pending_age_seconds = Some(c.oldest_pending_age_seconds.map_or(age, |a| a.max(age)));
            }
            ("running", _) => c.running += n,
            ("done", _) => c.done += n,
            ("failed", _) => c.failed += n,
            _ => c.dead += n,
        }
    }
    Ok(out)
}

/// A job row as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// `job.id`.
    pub id: i64,
    /// Queue name as stored.
    pub queue: String,
    /// Kind.
    pub kind: String,
    /// Dashboard state.
    pub state: JobState,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When it is (or was) due.
    pub run_at: DateTime<Utc>,
    /// Written.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Payload with secrets and message bodies replaced ([`redact`]).
    pub payload: serde_json::Value,
}

type RawRow = (
    i64,
    String,
    String,
    String,
    i32,
    i32,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    serde_json::Value,
);

const COLUMNS: &str =
    "id, queue, kind, status, attempts, max_attempts, last_error, run_at, created_at, updated_at, payload";

fn to_row(raw: RawRow, now: DateTime<Utc>) -> JobRow {
    let (id, queue, kind, status, attempts, max_attempts, last_error, run_at, created_at, updated_at, payload) = raw;
    JobRow {
        id,
        queue,
        kind,
        state: JobState::of(&status, run_at, now),
        attempts,
        max_attempts,
        last_error,
        run_at,
        created_at,
        updated_at,
        payload: redact(&payload),
    }
}

/// One page of a queue's jobs, newest first (by id), optionally of one state; returns the total
/// count and the rows.
pub async fn list(
    pool: &PgPool,
    queue: Queue,
    state: Option<JobState>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<JobRow>), sqlx::Error> {
    let filter = state.map_or("true", JobState::predicate);
    let count: i64 =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM job WHERE queue = $1 AND {filter}")))
            .bind(queue.as_str())
            .fetch_one(pool)
            .await?;
    if limit == 0 {
        return Ok((count, Vec::new()));
    }
    let (now, rows): (DateTime<Utc>, Vec<RawRow>) = {
        let mut tx = crate::db::begin(pool).await?;
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(&mut *tx).await?;
        // `filter` is one of the fixed predicates of `JobState`.
        let rows = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM job WHERE queue = $1 AND {filter} ORDER BY id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(queue.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        (now, rows)
    };
    Ok((count, rows.into_iter().map(|r| to_row(r, now)).collect()))
}

/// Words that mark a payload key whose value is not shown: secrets, and email bodies.
const REDACTED_WORDS: [&str; 9] =
    ["password", "token", "secret", "key", "signature", "authorization", "html", "text", "body"];

/// Whether a payload key names something the dashboard hides: one of [`REDACTED_WORDS`] as a word
/// of the key (`api_key`, `resetToken`, `html`), or a long one anywhere in it (`webhooksecret`).
pub fn is_sensitive_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    if ["password", "token", "secret", "signature", "authorization"].iter().any(|w| lower.contains(w)) {
        return true;
    }
    words(key).iter().any(|w| REDACTED_WORDS.contains(&w.as_str()))
}

/// The words of a key: split at `_`, `-`, `.`, blanks and lower-to-upper case changes.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `value` with the value of every sensitive key ([`is_sensitive_key`]) replaced by
/// `"[redacted]"`, at any depth.
pub fn redact(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown = if is_sensitive_key(k) { Value::String("[redacted]".into()) } else { redact(v) };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// What an admin's retry or discard found.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<T> {
    /// Done; the value is the job after the change (retry) or `()` (discard).
    Done(T),
    /// No such job in that queue.
    NotFound,
    /// The job is not failed or dead; its stored status.
    Refused(String),
}

type Locked = (String, String, i32, Option<String>, i32);

async fn lock(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    queue: Queue,
    job_id: i64,
) -> Result<Option<Locked>, sqlx::Error> {
    sqlx::query_as("SELECT kind, status, attempts, last_error, pushes FROM job WHERE id = $1 AND queue = $2 FOR UPDATE")
        .bind(job_id)
        .bind(queue.as_str())
        .fetch_optional(&mut **tx)
        .await
}

async fn audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    job_id: i64,
    queue: Queue,
    kind: &str,
    action: &str,
    admin_id: i64,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO job_audit (job_id, queue, kind, action, admin_id, details) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(job_id)
    .bind(queue.as_str())
    .bind(kind)
    .bind(action)
    .bind(admin_id)
    .bind(details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn retryable(status: &str) -> bool {
    status == "failed" || status == "dead"
}

/// Puts a failed or dead job back in the outbox, due now, with its attempts reset (its last
/// error kept), records the retry and wakes the dispatchers as [`super::enqueue`] does; the job
/// then runs through the usual path.
pub async fn retry(pool: &PgPool, queue: Queue, job_id: i64, admin_id: i64) -> Result<Action<JobRow>, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    let Some((kind, status, attempts, last_error, _)) = lock(&mut tx, queue, job_id).await? else {
        return Ok(Action::NotFound);
    };
    if !retryable(&status) {
        return Ok(Action::Refused(status));
    }
    let (now, raw): (DateTime<Utc>, RawRow) = {
        let raw: RawRow = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE job SET status = 'pending', attempts = 0, run_at = now(), finished_at = NULL, updated_at = now()
             WHERE id = $1 RETURNING {COLUMNS}"
        )))
        .bind(job_id)
        .fetch_one(&mut *tx)
        .await?;
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(&mut *tx).await?;
        (now, raw)
    };
    let details =
        serde_json::json!({"previous_status": status, "previous_attempts": attempts, "last_error": last_error});
    audit(&mut tx, job_id, queue, &kind, "retry", admin_id, details).await?;
    sqlx::query("SELECT pg_notify($1, $2)").bind(NOTIFY_CHANNEL).bind(queue.as_str()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Action::Done(to_row(raw, now)))
}

/// Why a discard did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DiscardError {
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Redis failed: nothing was removed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

static FORGET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local n = 0
        for _, id in ipairs(ARGV) do
            n = n + redis.call('zrem', KEYS[1], id)
            n = n + redis.call('lrem', KEYS[2], 0, id)
            n = n + redis.call('srem', KEYS[3], id)
            n = n + redis.call('srem', KEYS[4], id)
            n = n + redis.call('hdel', KEYS[5], id)
            n = n + redis.call('del', KEYS[6] .. ':' .. id)
            redis.call('del', KEYS[7] .. ':' .. id)
        end
        return n
        ",
    )
});

/// Removes every Redis entry of a job row's pushes 1..=`pushes` (waiting, finished, data,
/// metadata, idempotency key); returns how many entries went.
pub async fn forget_in_redis(
    redis: &ConnectionManager,
    prefix: &str,
    queue: Queue,
    job_id: i64,
    pushes: i32,
) -> redis::RedisResult<u64> {
    if pushes < 1 {
        return Ok(0);
    }
    let cfg = storage(redis.clone(), prefix, queue).get_config().clone();
    let mut call = FORGET.prepare_invoke();
    call.key(cfg.scheduled_jobs_set())
        .key(cfg.active_jobs_list())
        .key(cfg.done_jobs_set())
        .key(cfg.dead_jobs_set())
        .key(cfg.job_data_hash())
        .key(cfg.job_meta_hash())
        .key(cfg.idempotency_key_set());
    for push in 1..=pushes {
        call.arg(task_id(job_id, push));
    }
    let mut conn = redis.clone();
    call.invoke_async(&mut conn).await
}

/// Deletes a failed or dead job: its Redis entries first (while the row is locked, so nothing
/// pushes it meanwhile), then the row, with the audit record in the same transaction.
pub async fn discard(
    pool: &PgPool,
    redis: &ConnectionManager,
    prefix: &str,
    queue: Queue,
    job_id: i64,
    admin_id: i64,
) -> Result<Action<()>, DiscardError> {
    let mut tx = crate::db::begin(pool).await?;
    let Some((kind, status, attempts, last_error, pushes)) = lock(&mut tx, queue, job_id).await? else {
        return Ok(Action::NotFound);
    };
    if !retryable(&status) {
        return Ok(Action::Refused(status));
    }
    let removed = forget_in_redis(redis, prefix, queue, job_id, pushes).await?;
    sqlx::query("DELETE FROM job WHERE id = $1").bind(job_id).execute(&mut *tx).await?;
    let details = serde_json::json!({
        "status": status, "attempts": attempts, "last_error": last_error, "redis_entries_removed": removed,
    });
    audit(&mut tx, job_id, queue, &kind, "discard", admin_id, details).await?;
    tx.commit().await?;
    Ok(Action::Done(()))
}

/// Jobs finished in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCount {
    /// Start of the minute.
    pub minute: DateTime<Utc>,
    /// Jobs done.
    pub done: i64,
    /// Jobs that failed for good or died.
    pub failed: i64,
}

/// Jobs finished per minute over the last 60 minutes, oldest first, the current minute last
/// (minutes without any count zero).
pub async fn throughput(pool: &PgPool) -> Result<Vec<MinuteCount>, sqlx::Error> {
    let rows: Vec<(DateTime<Utc>, i64, i64)> = sqlx::query_as(
        "WITH minutes AS (
             SELECT generate_series(date_trunc('minute', now()) - interval '59 minutes',
                                    date_trunc('minute', now()), interval '1 minute') AS minute
         ), finished AS (
             SELECT date_trunc('minute', finished_at) AS minute,
                    count(*) FILTER (WHERE status = 'done') AS done,
                    count(*) FILTER (WHERE status IN ('failed', 'dead')) AS failed
             FROM job
             WHERE finished_at >= date_trunc('minute', now()) - interval '59 minutes'
             GROUP BY 1
         )
         SELECT m.minute, coalesce(f.done, 0), coalesce(f.failed, 0)
         FROM minutes m LEFT JOIN finished f USING (minute)
         ORDER BY m.minute",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(minute, done, failed)| MinuteCount { minute, done, failed }).collect())
}

/// Whether a provider's HTTP answer with this status is worth another attempt: 5xx, and the
/// 4xx that mean "not now" (408 timeout, 409 conflict, 420 and 429 rate limits). Every other 4xx
/// (bad signature, key or parameters, not found) fails the job for good at once. Razorpay's and
/// Cloudinary's error classifications both use this rule.
pub fn retryable_http_status(status: u16) -> bool {
    matches!(status, 500..=599 | 408 | 409 | 420 | 429)
}

/// The dashboard page's template.
const DASHBOARD: &str = include_str!("../../../templates/ops/queues.html");

/// Renders the dashboard page; `nonce` goes on its inline `<style>` and `<script>` (the page's
/// Content-Security-Policy allows them by that nonce only).
pub fn dashboard_html(nonce: &str) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let queues: Vec<&str> = Queue::ALL.iter().map(|q| q.as_str()).collect();
    env.render_named_str("ops/queues.html", DASHBOARD, minijinja::context! { nonce, queues })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_parse_and_map_from_rows() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("queued"), None);
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(30);
        assert_eq!(JobState::of("pending", later, now), JobState::Scheduled);
        assert_eq!(JobState::of("pending", now, now), JobState::Pending);
        assert_eq!(JobState::of("queued", later, now), JobState::Pending);
        assert_eq!(JobState::of("failed", now, now), JobState::Failed);
    }

    #[test]
    fn secrets_and_bodies_are_redacted_at_any_depth() {
        let payload = json!({
            "to": "a@example.com",
            "context": {"name": "N", "reset_token": "t", "html": "<p>", "nested": [{"apiKey": "k", "ok": 1}]},
            "password": "p", "Authorization": "Bearer x", "text": "hi", "body": "b", "webhooksecret": "s",
            "signature": "sig", "invoice_id": 7,
        });
        assert_eq!(
            redact(&payload),
            json!({
                "to": "a@example.com",
                "context": {"name": "N", "reset_token": "[redacted]", "html": "[redacted]",
                            "nested": [{"apiKey": "[redacted]", "ok": 1}]},
                "password": "[redacted]", "Authorization": "[redacted]", "text": "[redacted]",
                "body": "[redacted]", "webhooksecret": "[redacted]", "signature": "[redacted]", "invoice_id": 7,
            })
        );
        // Words inside other words are not matches: `context` is not `text`, `monkey` not `key`.
        assert!(!is_sensitive_key("context") && !is_sensitive_key("monkey") && !is_sensitive_key("template"));
    }

    #[test]
    fn provider_statuses_retry_only_when_later_may_work() {
        for s in [500, 502, 503, 504, 599, 408, 409, 420, 429] {
            assert!(retryable_http_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 410, 413, 415, 422, 499] {
            assert!(!retryable_http_status(s), "{s}");
        }
    }

    #[test]
    fn dashboard_renders_with_its_nonce() {
        let html = dashboard_html("abc123").expect("renders");
        assert!(html.contains("nonce=\"abc123\""));
        assert!(html.contains("maintenance"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
