//! The job path under load: batched claims and completions keep duplicate deliveries harmless,
//! and a backlog of 50,000 due jobs drains with every job run exactly once and no worker crash.

use std::collections::HashSet;
use std::time::Duration;

use common::jobs::runs::{self, Bookkeeper};
use common::jobs::{Queue, redis_queue};
use e2e::{TestApp, TestAppBuilder};

/// Inserts `n` benchmark jobs (`noop`, maintenance queue) with the given status; returns their ids.
async fn insert_noops(app: &TestApp, n: i64, status: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "INSERT INTO job (queue, kind, payload, status, max_attempts)
         SELECT 'maintenance', 'noop', '{}', $2, 3 FROM generate_series(1, $1)
         RETURNING id",
    )
    .bind(n)
    .bind(status)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// A claim's lease (the default `JOB_LEASE_SECONDS`).
const LEASE: Duration = Duration::from_secs(30);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_claims_give_each_job_to_one_delivery() {
    let app = TestAppBuilder::new().var("API_RUNS_DISPATCHER", "false").spawn().await;
    let ids = insert_noops(&app, 3, "queued").await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    // A retry that is not due yet, and a due pending row (its dispatcher rolled back after the push).
    let later = insert_noops(&app, 1, "pending").await[0];
    sqlx::query("UPDATE job SET run_at = now() + interval '1 hour' WHERE id = $1")
        .bind(later)
        .execute(&app.pool)
        .await
        .unwrap();
    let due = insert_noops(&app, 1, "pending").await[0];

    let keeper = Bookkeeper::spawn(app.pool.clone(), LEASE);
    // Twenty deliveries of `a` and five of `b` at once: they share batches.
    let mut asks = Vec::new();
    for id in std::iter::repeat_n(a, 20).chain(std::iter::repeat_n(b, 5)).chain([later, due]) {
        let keeper = keeper.clone();
        asks.push(tokio::spawn(async move { (id, keeper.claim(id).await.unwrap()) }));
    }
    let mut claimed = Vec::new();
    for ask in asks {
        let (id, job) = ask.await.unwrap();
        if let Some(job) = job {
            assert_eq!(job.id, id, "a request gets its own job");
            assert_eq!(job.attempt, 1);
            assert_eq!(job.kind, "noop");
            claimed.push(id);
        }
    }
    claimed.sort_unstable();
    assert_eq!(claimed, vec![a, b, due], "each waiting job to exactly one delivery; the retry waits");

    // The same job twice in one statement is claimed once.
    let jobs = runs::claim_many(&app.pool, &[c, c, c], LEASE).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, c);

    // Completions batch too; a later delivery of a finished job is skipped.
    let done = futures::future::join_all([a, b, c, due, a].map(|id| {
        let keeper = keeper.clone();
        async move { keeper.complete(id, 1).await }
    }))
    .await;
    assert!(done.iter().all(Result::is_ok));
    assert!(keeper.claim(a).await.unwrap().is_none(), "a finished job is not claimed again");
    let states: Vec<(String, i32)> = sqlx::query_as("SELECT status, attempts FROM job WHERE id = ANY($1) ORDER BY id")
        .bind(vec![a, b, c, due, later])
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        states,
        vec![
            ("done".to_string(), 1),
            ("done".to_string(), 1),
            ("done".to_string(), 1),
            ("pending".to_string(), 0),
            ("done".to_string(), 1),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_delivered_twice_by_redis_run_once() {
    let app = TestAppBuilder::new().var("API_RUNS_DISPATCHER", "false").var("WORKER_CONCURRENCY", "32").spawn().await;
    // 200 rows, each pushed twice under different task ids (a push repeated after a lost
    // `queued` mark, or a stale requeue while the first copy still waited): 400 deliveries, all
    // in flight together, so duplicates meet in the same claim batches.
    let ids = insert_noops(&app, 200, "queued").await;
    sqlx::query("UPDATE job SET pushes = 2 WHERE id = ANY($1)").bind(&ids).execute(&app.pool).await.unwrap();
    let redis = common::kv::connection(&app.cfg).unwrap();
    let mut storage = common::jobs::storage(redis.clone(), &app.prefix, Queue::Maintenance);
    for push in [1, 2] {
        let deliveries = ids
            .iter()
            .map(|&job_id| redis_queue::Delivery { job_id, push, kind: "noop".into(), payload: serde_json::json!({}) })
            .collect();
        redis_queue::push_batch(&mut storage, deliveries).await.unwrap();
    }
    assert_eq!(redis_queue::backlog(&redis, &app.prefix, Queue::Maintenance).await.unwrap(), 400);

    let worker = TestAppBuilder::new()
        .database(&app.db_name)
        .prefix(&app.prefix)
        .var("API_RUNS_DISPATCHER", "false")
        .var("WORKER_CONCURRENCY", "32")
        .with_worker()
        .spawn()
        .await;
    app.eventually(Duration::from_secs(30), || async {
        let acked = redis_queue::backlog(&redis, &app.prefix, Queue::Maintenance).await.unwrap() == 0;
        let open = count(&app, "SELECT count(*) FROM job WHERE status <> 'done'").await;
        (acked && open == 0).then_some(())
    })
    .await
    .expect("every delivery handled");
    assert_eq!(count(&app, "SELECT count(*) FROM job WHERE status = 'done' AND attempts = 1").await, 200, "run once");
    drop(worker);
}

/// 50,000 due jobs waiting in the outbox when a worker starts (about 10 s in a debug build).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_backlog_of_fifty_thousand_due_jobs_drains_once_each() {
    const JOBS: i64 = 50_000;
    let app = TestAppBuilder::new().var("API_RUNS_DISPATCHER", "false").spawn().await;
    sqlx::query(
        "INSERT INTO job (queue, kind, payload, max_attempts)
         SELECT 'maintenance', 'noop', '{}', 3 FROM generate_series(1, $1)",
    )
    .bind(JOBS)
    .execute(&app.pool)
    .await
    .unwrap();

    let mut cfg = app.cfg.clone();
    cfg.worker_concurrency = 128;
    let options = worker::Options { queues: vec![Queue::Maintenance], scheduler: false, dispatcher: true };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = std::time::Instant::now();
    let mut run = tokio::spawn(worker::run(cfg, options, async {
        let _ = stopped.await;
    }));

    // Every apalis worker registers under a new name, and a crashed one is replaced under
    // another: one name seen throughout means no crash.
    let redis = common::kv::connection(&app.cfg).unwrap();
    let workers_set = common::jobs::storage(redis.clone(), &app.prefix, Queue::Maintenance).get_config().workers_set();
    let mut names = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        assert!(!run.is_finished(), "the worker stopped by itself");
        let mut conn = redis.clone();
        let seen: Vec<String> =
            redis::cmd("ZRANGE").arg(&workers_set).arg(0).arg(-1).query_async(&mut conn).await.unwrap();
        names.extend(seen);
        let open = count(&app, "SELECT count(*) FROM job WHERE status IN ('pending', 'queued', 'running')").await;
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "backlog not drained: {open} open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(count(&app, "SELECT count(*) FROM job WHERE status = 'done'").await, JOBS, "none lost");
    assert_eq!(count(&app, "SELECT count(*) FROM job WHERE attempts <> 1").await, 0, "each run exactly once");
    assert_eq!(names.len(), 1, "one apalis worker served the queue throughout: {names:?}");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), &mut run).await.expect("worker stops").unwrap().unwrap();
    eprintln!(
        "{JOBS} due jobs drained in {:.1} s ({:.0} jobs/s)",
        elapsed.as_secs_f64(),
        JOBS as f64 / elapsed.as_secs_f64()
    );
}
