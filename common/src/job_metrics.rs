//! Job durations and failures for `/metrics`, counted across every worker process: each worker
//! counts in memory and adds its counts to one Redis hash every few seconds
//! (`<QUEUE_PREFIX>:metrics:jobs`, `HINCRBY` in one pipeline), and the API renders that hash as
//! a Prometheus histogram and counter at scrape time. Counts only grow (a failed flush keeps its
//! counts for the next one), so they are proper Prometheus counters whichever API process is
//! scraped.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::ConnectionManager;

/// Upper bounds (seconds) of the job duration histogram.
pub const BUCKETS: [f64; 11] = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How a failed attempt ended: `retry` (another attempt later), `failed` (for good), `dead`
/// (could not run).
pub const OUTCOMES: [&str; 3] = ["retry", "failed", "dead"];

/// A job kind as a label value: stored kinds are ours, but a row may name anything.
fn label(kind: &str) -> String {
    kind.chars().take(60).map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

fn key(prefix: &str) -> String {
    format!("{prefix}:metrics:jobs")
}

/// Counts of one process not yet added to Redis.
#[derive(Debug, Default)]
pub struct JobMetrics {
    pending: Mutex<HashMap<String, i64>>,
}

impl JobMetrics {
    /// A finished attempt of `kind` that took `elapsed` (success or not).
    pub fn observe(&self, kind: &str, elapsed: Duration) {
        let kind = label(kind);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS.iter().position(|le| secs <= *le).unwrap_or(BUCKETS.len());
        let micros = i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX);
        if let Ok(mut p) = self.pending.lock() {
            *p.entry(format!("d|{kind}|{bucket}")).or_default() += 1;
            *p.entry(format!("dsum|{kind}")).or_default() += micros;
            *p.entry(format!("dcount|{kind}")).or_default() += 1;
        }
    }

    /// A failed attempt of `kind` with its outcome (one of [`OUTCOMES`]).
    pub fn failure(&self, kind: &str, outcome: &str) {
        let kind = label(kind);
        if let Ok(mut p) = self.pending.lock() {
            *p.entry(format!("f|{kind}|{outcome}")).or_default() += 1;
        }
    }

    /// Adds the counts to Redis; on failure they are kept for the next flush.
    pub async fn flush(&self, redis: &mut ConnectionManager, prefix: &str) -> Result<(), redis::RedisError> {
        let batch: HashMap<String, i64> = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(());
        }
        let key = key(prefix);
        let mut pipe = redis::pipe();
        for (field, n) in &batch {
            pipe.hincr(&key, field, *n).ignore();
        }
        if let Err(e) = pipe.query_async::<()>(redis).await {
            if let Ok(mut p) = self.pending.lock() {
                for (field, n) in batch {
                    *p.entry(field).or_default() += n;
                }
            }
            return Err(e);
        }
        Ok(())
    }
}

/// Why the dispatcher put jobs back: Redis lost its data (`redis_data_loss`), a running job's
/// lease lapsed (`lease_lapsed`), or the stale check found them (`stale`).
pub const RECOVERY_CAUSES: [&str; 3] = ["redis_data_loss", "lease_lapsed", "stale"];

/// Adds `jobs` recovered for `cause` (one of [`RECOVERY_CAUSES`]) to the shared counts at once
/// (recoveries are rare, and a dispatcher keeps no counts of its own).
pub async fn recovered(
    redis: &mut ConnectionManager,
    prefix: &str,
    cause: &str,
    jobs: u64,
) -> Result<(), redis::RedisError> {
    let n = i64::try_from(jobs).unwrap_or(i64::MAX);
    redis::cmd("HINCRBY").arg(key(prefix)).arg(format!("r|{}", label(cause))).arg(n).query_async::<i64>(redis).await?;
    Ok(())
}

/// Reads the shared counts and writes them as Prometheus text.
pub async fn render(redis: &mut ConnectionManager, prefix: &str, out: &mut String) -> Result<(), redis::RedisError> {
    let all: HashMap<String, i64> = redis::cmd("HGETALL").arg(key(prefix)).query_async(redis).await?;
    let mut buckets: BTreeMap<&str, [i64; BUCKETS.len() + 1]> = BTreeMap::new();
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    let mut failures: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut recovered: BTreeMap<&str, i64> = RECOVERY_CAUSES.iter().map(|c| (*c, 0)).collect();
    for (field, n) in &all {
        let parts: Vec<&str> = field.split('|').collect();
        match parts.as_slice() {
            ["d", kind, i] => {
                if let Ok(i) = i.parse::<usize>()
                    && i <= BUCKETS.len()
                {
                    buckets.entry(kind).or_default()[i] += n;
                }
            }
            ["dsum", kind] => *sums.entry(kind).or_default() += n,
            ["dcount", kind] => *counts.entry(kind).or_default() += n,
            ["f", kind, outcome] => *failures.entry((kind, outcome)).or_default() += n,
            ["r", cause] => *recovered.entry(cause).or_default() += n,
            _ => {}
        }
    }
    let _ = writeln!(out, "# HELP electioncart_job_duration_seconds Time a job attempt took, by job kind.");
    let _ = writeln!(out, "# TYPE electioncart_job_duration_seconds histogram");
    for (kind, per_bucket) in &buckets {
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += per_bucket[i];
            let _ =
                writeln!(out, "electioncart_job_duration_seconds_bucket{{kind=\"{kind}\",le=\"{le}\"}} {cumulative}");
        }
        let count = counts.get(kind).copied().unwrap_or(0);
        let _ = writeln!(out, "electioncart_job_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {count}");
        let sum = sums.get(kind).copied().unwrap_or(0) as f64 / 1e6;
        let _ = writeln!(out, "electioncart_job_duration_seconds_sum{{kind=\"{kind}\"}} {sum}");
        let _ = writeln!(out, "electioncart_job_duration_seconds_count{{kind=\"{kind}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "# HELP electioncart_job_failures_total Failed job attempts by kind and outcome (retry, failed for good, dead)."
    );
    let _ = writeln!(out, "# TYPE electioncart_job_failures_total counter");
    for ((kind, outcome), n) in &failures {
        let _ = writeln!(out, "electioncart_job_failures_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP electioncart_job_recovered_total Jobs put back to run again by cause (Redis lost its data, a worker's lease lapsed, stale)."
    );
    let _ = writeln!(out, "# TYPE electioncart_job_recovered_total counter");
    for (cause, n) in &recovered {
        let _ = writeln!(out, "electioncart_job_recovered_total{{cause=\"{cause}\"}} {n}");
    }
    Ok(())
}
