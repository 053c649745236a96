//! Cron-like schedule. Each tick becomes an outbox job whose dedupe key names the tick, so with
//! any number of scheduler processes a tick runs once across the cluster (the unique key in
//! PostgreSQL decides).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Asia::Kolkata;
use common::backup::cron::CronSchedule;
use common::backup::{self, RequestError, RunKind};
use common::jobs::{self, Job, PruneExpired, ReconcilePayments};
use sqlx::PgPool;

/// One scheduled job: runs when the minute of the day is a multiple of `every_minutes`.
struct Entry {
    name: &'static str,
    every_minutes: u32,
}

const SCHEDULE: &[Entry] =
    &[Entry { name: "prune_expired", every_minutes: 60 }, Entry { name: "reconcile_payments", every_minutes: 1 }];

/// The tick a time falls in, for an entry (`None` when the entry is not due this minute).
fn tick_key(entry: &Entry, now: DateTime<Utc>) -> Option<String> {
    let minute_of_day = now.hour() * 60 + now.minute();
    minute_of_day
        .is_multiple_of(entry.every_minutes)
        .then(|| format!("schedule:{}:{}", entry.name, now.format("%Y%m%dT%H%M")))
}

/// Enqueues the entries due at `now`; returns how many were new (0 when another scheduler got
/// there first).
pub async fn fire(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let mut created = 0;
    for entry in SCHEDULE {
        let Some(key) = tick_key(entry, now) else { continue };
        let mut conn = pool.acquire().await?;
        let id = match entry.name {
            PruneExpired::KIND => jobs::enqueue(&mut conn, &PruneExpired { keep_jobs_days: 14 }, Some(&key)).await?,
            ReconcilePayments::KIND => jobs::enqueue(&mut conn, &ReconcilePayments {}, Some(&key)).await?,
            _ => None,
        };
        created += usize::from(id.is_some());
    }
    Ok(created)
}

/// The backup tick of `cron` (evaluated in Asia/Kolkata) at `now`: records a scheduled
/// `backup_run` and enqueues its job, once per tick across the cluster (the job's dedupe key
/// names the tick). Returns the run's id when this call created it; `None` when the minute is
/// not a tick, another scheduler took the tick, or a backup is still queued or running.
pub async fn fire_backup(pool: &PgPool, cron: &CronSchedule, now: DateTime<Utc>) -> Result<Option<i64>, sqlx::Error> {
    if !cron.matches(&now.with_timezone(&Kolkata)) {
        return Ok(None);
    }
    let key = format!("schedule:backup:{}", now.format("%Y%m%dT%H%M"));
    match backup::request(pool, RunKind::Scheduled, None, Some(&key)).await {
        Ok(id) => Ok(id),
        Err(RequestError::Running) => {
            tracing::warn!("scheduled backup skipped: another backup is queued or running");
            Ok(None)
        }
        Err(RequestError::Database(e)) => Err(e),
    }
}

/// Runs until `shutdown`: wakes at the start of every minute; takes a backup on the ticks of
/// `backup_cron`.
pub async fn run(pool: PgPool, backup_cron: Option<CronSchedule>, shutdown: impl Future<Output = ()> + Send) {
    let ticking = async {
        loop {
            let now = Utc::now();
            match fire(&pool, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "scheduler enqueued"),
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed"),
            }
            if let Some(cron) = &backup_cron {
                match fire_backup(&pool, cron, now).await {
                    Ok(Some(id)) => tracing::info!(run_id = id, "scheduled backup enqueued"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "scheduled backup could not be enqueued"),
                }
            }
            let into_minute = u64::from(Utc::now().second());
            tokio::time::sleep(Duration::from_secs(60 - into_minute.min(59))).await;
        }
    };
    tokio::select! {
        _ = ticking => {}
        _ = shutdown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hourly_entry_fires_on_the_hour_only() {
        let e = Entry { name: "x", every_minutes: 60 };
        assert!(tick_key(&e, Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 30).unwrap()).is_some());
        assert!(tick_key(&e, Utc.with_ymd_and_hms(2026, 1, 1, 5, 1, 0).unwrap()).is_none());
    }
}
