//! Cron-like schedule. Each tick becomes an outbox job whose dedupe key names the tick, so with
//! any number of scheduler processes a tick runs once across the cluster (the unique key in
//! PostgreSQL decides).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
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

/// Runs until `shutdown`: wakes at the start of every minute.
pub async fn run(pool: PgPool, shutdown: impl Future<Output = ()> + Send) {
    let ticking = async {
        loop {
            let now = Utc::now();
            match fire(&pool, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "scheduler enqueued"),
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed"),
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
