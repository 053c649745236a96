use std::time::Duration;

use common::jobs::{self, SendEmail};
use e2e::smtp::SmtpServer;
use e2e::{TestApp, TestAppBuilder};
use serde_json::json;

fn email(key: &str, template: &str) -> SendEmail {
    SendEmail {
        message_key: key.into(),
        to: "someone@example.com".into(),
        template: template.into(),
        context: json!({"name": "N", "username": "u", "reset_url": "http://x.test/r", "valid_minutes": 60}),
        attachments: Vec::new(),
    }
}

async fn enqueue(app: &TestApp, job: &SendEmail) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, job, Some(&job.message_key)).await.unwrap().unwrap()
}

async fn job_state(app: &TestApp, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT status, attempts, last_error FROM job WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn wait_status(app: &TestApp, id: i64, status: &str) -> (String, i32, Option<String>) {
    app.eventually(Duration::from_secs(15), || async {
        let s = job_state(app, id).await;
        (s.0 == status).then_some(s)
    })
    .await
    .unwrap_or_else(|| panic!("job {id} never reached {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_with_backoff_and_succeeds_when_smtp_comes_back() {
    // SMTP is a closed port at first.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = TestAppBuilder::new().var("SMTP_URL", format!("smtp://127.0.0.1:{port}")).with_worker().spawn().await;
    let id = enqueue(&app, &email("retry-me", "password_reset")).await;
    // Two attempts take a couple of seconds; a loaded machine (the whole suite beside a release
    // build) has taken more than ten.
    let (_, attempts, last_error) = app
        .eventually(Duration::from_secs(30), || async {
            let s = job_state(&app, id).await;
            (s.1 >= 2).then_some(s)
        })
        .await
        .expect("retried");
    assert!(attempts >= 2);
    assert!(last_error.unwrap().contains("transport"));
    // The mail server appears on that port; the next attempt delivers.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
    if listener.is_err() {
        return; // port taken by someone else meanwhile: nothing more to check
    }
    drop(listener);
    let smtp = start_smtp_on(port).await;
    // Don't wait out the backoff (it grows with every attempt made so far): keep the retry due.
    let (status, _, last_error) = app
        .eventually(Duration::from_secs(30), || async {
            sqlx::query("UPDATE job SET run_at = now() WHERE id = $1 AND status = 'pending'")
                .bind(id)
                .execute(&app.pool)
                .await
                .unwrap();
            let s = job_state(&app, id).await;
            (s.0 == "done").then_some(s)
        })
        .await
        .expect("delivered once SMTP is up");
    assert_eq!(status, "done");
    assert!(last_error.is_none());
    assert_eq!(smtp.messages().len(), 1);
}

async fn start_smtp_on(port: u16) -> SmtpServer {
    SmtpServer::start_on(port).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_cannot_succeed_stays_visible_as_failed_with_its_error() {
    let app = TestAppBuilder::new().with_worker().spawn().await;
    let id = enqueue(&app, &email("bad-template", "no_such_template")).await;
    let (status, attempts, last_error) = wait_status(&app, id, "failed").await;
    assert_eq!(status, "failed");
    assert_eq!(attempts, 1, "a permanent error is not retried");
    assert!(last_error.unwrap().contains("no template `no_such_template`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_max_attempts() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = TestAppBuilder::new()
        .var("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .var("JOB_RETRY_BASE_MS", "10")
        .with_worker()
        .spawn()
        .await;
    let id = enqueue(&app, &email("never", "password_reset")).await;
    sqlx::query("UPDATE job SET max_attempts = 3 WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();
    let (_, attempts, last_error) = wait_status(&app, id, "failed").await;
    assert_eq!(attempts, 3);
    assert!(last_error.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_job_that_runs_twice_sends_once() {
    let smtp = SmtpServer::start().await;
    let app = TestAppBuilder::new().var("SMTP_URL", &smtp.url).with_worker().spawn().await;
    let id = enqueue(&app, &email("twice", "password_reset")).await;
    wait_status(&app, id, "done").await;
    // Redelivery (a crashed worker, a stale requeue): the job runs again.
    sqlx::query("UPDATE job SET status = 'pending', run_at = now() WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_notify('job_outbox', 'emails')").execute(&app.pool).await.unwrap();
    let (_, attempts, _) = app
        .eventually(Duration::from_secs(10), || async {
            let s = job_state(&app, id).await;
            (s.0 == "done" && s.1 == 2).then_some(s)
        })
        .await
        .expect("second run finished");
    assert_eq!(attempts, 2);
    assert_eq!(smtp.messages().len(), 1);
    // The same logical message enqueued again is not even created.
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(jobs::enqueue(&mut conn, &email("twice", "password_reset"), Some("twice")).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_running_job_finish() {
    let smtp = SmtpServer::start().await;
    *smtp.data_delay.lock().unwrap() = Duration::from_millis(1500);
    let mut app = TestAppBuilder::new().var("SMTP_URL", &smtp.url).with_worker().spawn().await;
    let id = enqueue(&app, &email("slow", "password_reset")).await;
    wait_status(&app, id, "running").await;
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let (status, _, _) = job_state(&app, id).await;
    assert_eq!(status, "done", "the in-flight job finished before the worker exited");
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_thousand_job_backlog_drains_without_overloading_redis() {
    let app = TestAppBuilder::new().var("WORKER_CONCURRENCY", "32").with_worker().spawn().await;
    // Jobs of a kind no handler knows: each run is one claim and one update, so the test
    // measures the queue machinery, not a handler.
    sqlx::query(
        "INSERT INTO job (queue, kind, payload) SELECT 'maintenance', 'noop_for_test', '{}' FROM generate_series(1, 20000)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_notify('job_outbox', 'maintenance')").execute(&app.pool).await.unwrap();
    let redis = common::kv::connection(&app.cfg).unwrap();
    let active = common::jobs::storage(redis.clone(), &app.prefix, common::jobs::Queue::Maintenance)
        .get_config()
        .active_jobs_list();
    let mut peak = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let mut conn = redis.clone();
        let len: u64 = redis::cmd("LLEN").arg(&active).query_async(&mut conn).await.unwrap();
        peak = peak.max(len);
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM job WHERE status IN ('pending', 'queued', 'running')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "backlog not drained: {open} open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM job WHERE status = 'dead' AND attempts = 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(dead, 20_000, "every job ran once, to its end");
    // Two dispatchers (API and worker) may each add a batch or two past the limit; what matters is
    // staying well below the ~8,000 due jobs where apalis' fetch script fails.
    let bound = common::jobs::dispatcher::REDIS_BACKLOG_LIMIT + 4 * common::jobs::dispatcher::BATCH as u64;
    assert!(peak <= bound, "Redis backlog peaked at {peak}");
}

async fn open_jobs(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM job WHERE status IN ('pending', 'queued', 'running')")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Issue 9 #2: with the workers stopped, the dispatcher's guard counted only the active list
/// (empty while no worker polls) and pushed a 9,000-job outbox into the scheduled set; the worker
/// then failed every poll (`too many results to unpack`) and 9,000 jobs stayed queued for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nine_thousand_job_backlog_left_while_workers_were_down_drains_once_they_start() {
    // The API (with its dispatcher) runs; no worker does.
    let api = TestAppBuilder::new().spawn().await;
    // Bulk synthetic no-op jobs on purpose: this tests the queue machinery, not `jobs::enqueue`.
    sqlx::query(
        "INSERT INTO job (queue, kind, payload) SELECT 'maintenance', 'noop_for_test', '{}' FROM generate_series(1, 9000)",
    )
    .execute(&api.pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_notify('job_outbox', 'maintenance')").execute(&api.pool).await.unwrap();
    let redis = common::kv::connection(&api.cfg).unwrap();
    let limit = common::jobs::dispatcher::REDIS_BACKLOG_LIMIT;
    let backlog = || async {
        common::jobs::redis_queue::backlog(&redis, &api.prefix, common::jobs::Queue::Maintenance).await.unwrap()
    };
    // The dispatcher fills Redis up to its limit and keeps the rest in PostgreSQL.
    api.eventually(Duration::from_secs(30), || async { (backlog().await >= limit).then_some(()) })
        .await
        .expect("dispatcher pushed up to the limit");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waiting = backlog().await;
    assert!(waiting <= limit + 2 * common::jobs::dispatcher::BATCH as u64, "Redis holds {waiting}");
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM job WHERE status = 'pending'").fetch_one(&api.pool).await.unwrap();
    assert!(pending >= 9000 - waiting as i64, "the rest waits in PostgreSQL ({pending} pending)");

    // What an older dispatcher left behind: every remaining row pushed as well, far past the
    // ~8,000 due ids apalis' fetch can take at once.
    let rows: Vec<(i64, String, serde_json::Value, i32)> =
        sqlx::query_as("SELECT id, kind, payload, pushes FROM job WHERE status = 'pending' ORDER BY id")
            .fetch_all(&api.pool)
            .await
            .unwrap();
    let mut storage = common::jobs::storage(redis.clone(), &api.prefix, common::jobs::Queue::Maintenance);
    for (id, kind, payload, pushes) in rows {
        common::jobs::redis_queue::push(&mut storage, id, pushes + 1, kind, payload).await.unwrap();
    }
    sqlx::query("UPDATE job SET status = 'queued', pushes = pushes + 1 WHERE status = 'pending'")
        .execute(&api.pool)
        .await
        .unwrap();
    assert_eq!(backlog().await, 9000);

    // A worker process starts on it: everything runs, once each.
    let worker = TestAppBuilder::new()
        .database(&api.db_name)
        .prefix(&api.prefix)
        .var("WORKER_CONCURRENCY", "32")
        .with_worker()
        .spawn()
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while open_jobs(&api).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "backlog not drained: {} open", open_jobs(&api).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let once: i64 = sqlx::query_scalar("SELECT count(*) FROM job WHERE status = 'dead' AND attempts = 1")
        .fetch_one(&api.pool)
        .await
        .unwrap();
    assert_eq!(once, 9000, "every job ran exactly once");
    drop(worker);
}

/// Issue 9 #2: a queued row older than JOB_STALE_SECONDS was pushed again even while Redis still
/// held it (a long backlog), doubling the backlog. Only rows Redis lost go back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_queued_job_is_pushed_again_only_when_redis_lost_it() {
    let app = TestAppBuilder::new().var("API_RUNS_DISPATCHER", "false").spawn().await;
    // Bulk synthetic no-op jobs on purpose: this tests the queue machinery, not `jobs::enqueue`.
    sqlx::query(
        "INSERT INTO job (queue, kind, payload) SELECT 'maintenance', 'noop_for_test', '{}' FROM generate_series(1, 3)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let redis = common::kv::connection(&app.cfg).unwrap();
    let dispatcher = common::jobs::dispatcher::Dispatcher::new(&app.cfg, app.pool.clone(), redis.clone());
    assert_eq!(dispatcher.dispatch_due().await.unwrap(), 3);
    let age = || async {
        sqlx::query("UPDATE job SET updated_at = now() - interval '2 hours' WHERE status = 'queued'")
            .execute(&app.pool)
            .await
            .unwrap();
    };
    age().await;
    assert_eq!(dispatcher.requeue_stale().await.unwrap(), 0, "Redis still holds them");
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM job WHERE status = 'queued'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(queued, 3);
    // Redis loses them (a restart without persistence).
    let mut conn = redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}:*", app.prefix)).query_async(&mut conn).await.unwrap();
    let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    age().await;
    assert_eq!(dispatcher.requeue_stale().await.unwrap(), 3);
    assert_eq!(dispatcher.dispatch_due().await.unwrap(), 3, "pushed again, under new task ids");
    let pushes: Vec<i32> = sqlx::query_scalar("SELECT pushes FROM job ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(pushes, vec![2, 2, 2]);
}

/// Issue 9 #6: finished jobs' data (payloads included) used to stay in Redis forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_leave_no_data_in_redis() {
    let app = TestAppBuilder::new().with_worker().spawn().await;
    // Bulk synthetic no-op jobs on purpose: this tests the queue machinery, not `jobs::enqueue`.
    sqlx::query("INSERT INTO job (queue, kind, payload) SELECT 'maintenance', 'noop_for_test', '{\"secret\": \"s3cr3t\"}' FROM generate_series(1, 50)")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_notify('job_outbox', 'maintenance')").execute(&app.pool).await.unwrap();
    app.eventually(Duration::from_secs(30), || async { (open_jobs(&app).await == 0).then_some(()) })
        .await
        .expect("jobs ran");
    let redis = common::kv::connection(&app.cfg).unwrap();
    let data_hash = common::jobs::storage(redis.clone(), &app.prefix, common::jobs::Queue::Maintenance)
        .get_config()
        .job_data_hash();
    let left = app
        .eventually(Duration::from_secs(15), || async {
            let mut conn = redis.clone();
            let n: i64 = redis::cmd("HLEN").arg(&data_hash).query_async(&mut conn).await.unwrap();
            (n == 0).then_some(n)
        })
        .await;
    assert_eq!(left, Some(0), "the dispatcher's housekeeping removed the finished jobs' data");
}

/// Writing a job wakes the dispatcher once, at commit, in the same statement as the row: a job
/// whose dedupe key exists and a rolled-back job wake nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_job_notifies_the_dispatcher_once_and_a_deduplicated_or_rolled_back_one_not_at_all() {
    let app = TestAppBuilder::new().spawn().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&app.pool).await.unwrap();
    listener.listen(jobs::NOTIFY_CHANNEL).await.unwrap();
    let job = email("notify-once", "password_reset");
    let mut conn = app.pool.acquire().await.unwrap();
    let first = jobs::enqueue(&mut conn, &job, Some("notify-once")).await.unwrap();
    assert!(first.is_some());
    assert!(jobs::enqueue(&mut conn, &job, Some("notify-once")).await.unwrap().is_none());
    let mut tx = common::db::begin(&app.pool).await.unwrap();
    assert!(jobs::enqueue(&mut tx, &job, Some("rolled-back")).await.unwrap().is_some());
    tx.rollback().await.unwrap();

    let notice = tokio::time::timeout(Duration::from_secs(5), listener.recv()).await.unwrap().unwrap();
    assert_eq!(notice.payload(), "emails");
    let more = tokio::time::timeout(Duration::from_millis(700), listener.recv()).await;
    assert!(more.is_err(), "one notice only: {more:?}");
}
