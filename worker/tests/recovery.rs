//! Recovery without waiting (issue 17): a worker killed mid-job, a long job that outlives its
//! lease, and Redis losing its data. The killed worker is the real `worker` binary, killed with
//! SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::jobs::{self, Noop, TestSleep};
use e2e::{TestApp, TestAppBuilder};
use tokio::process::{Child, Command};

/// Lease settings of these tests: short, so that a lapse shows within seconds. The kill test
/// measures the defaults with `RECOVERY_TEST_LEASE_SECONDS=30 RECOVERY_TEST_RENEW_SECONDS=10`.
fn lease() -> String {
    std::env::var("RECOVERY_TEST_LEASE_SECONDS").unwrap_or_else(|_| "4".into())
}

fn renew() -> String {
    std::env::var("RECOVERY_TEST_RENEW_SECONDS").unwrap_or_else(|_| "1".into())
}

async fn enqueue_sleep(app: &TestApp, millis: u64) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, &TestSleep { millis }, None).await.unwrap().unwrap()
}

async fn state(app: &TestApp, id: i64) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM job WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap()
}

async fn wait_for(app: &TestApp, id: i64, within: Duration, want: impl Fn(&(String, i32)) -> bool) -> (String, i32) {
    let deadline = Instant::now() + within;
    loop {
        let s = state(app, id).await;
        if want(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "job {id} stuck at {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `worker` binary on the app's database and Redis prefix, consuming the maintenance queue
/// (with a dispatcher, without the scheduler).
fn worker_process(app: &TestApp, name: &str) -> Child {
    let log = std::env::temp_dir().join(format!("ec-worker-{}-{name}.log", app.prefix));
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    eprintln!("worker {name} logs to {}", log.display());
    Command::new(env!("CARGO_BIN_EXE_worker"))
        .args(["--queues", "maintenance"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_ENV", "development")
        .env("DATABASE_URL", app.cfg.database_url.expose())
        .env("DATABASE_MAX_CONNECTIONS", "4")
        .env("REDIS_URL", app.cfg.redis_url.expose())
        .env("QUEUE_PREFIX", &app.prefix)
        .env("MAIL_OUTBOX_DIR", std::env::temp_dir().join(format!("ec-mail-{}", app.prefix)))
        .env("MEDIA_DIR", std::env::temp_dir().join(format!("ec-media-{}", app.prefix)))
        .env("OUTBOX_POLL_MS", "100")
        .env("WORKER_POLL_MS", "50")
        .env("JOB_LEASE_SECONDS", lease())
        .env("JOB_LEASE_RENEW_SECONDS", renew())
        .env("WORKER_TEST_JOBS", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The API alone (its dispatcher off): the tests' database, prefix and pool.
async fn bare_app() -> TestApp {
    TestAppBuilder::new().var("API_RUNS_DISPATCHER", "false").spawn().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_killed_worker_is_taken_again_once_its_lease_lapses() {
    let app = bare_app().await;
    // Outlives the kill by more than a lease, so that only a lapse can explain a second run.
    let lease_ms: u64 = lease().parse::<u64>().unwrap() * 1_000;
    let id = enqueue_sleep(&app, lease_ms + 3_000).await;
    let mut first = worker_process(&app, "first");
    wait_for(&app, id, Duration::from_secs(60), |s| s.0 == "running").await;
    // Well into the job, past a renewal or two.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    first.kill().await.unwrap();
    let killed = Instant::now();
    let _second = worker_process(&app, "second");
    wait_for(&app, id, Duration::from_secs(60), |s| s.1 == 2).await;
    let retaken = killed.elapsed();
    eprintln!(
        "job of the killed worker taken again {:.1} s after the kill (lease {} s)",
        retaken.as_secs_f64(),
        lease()
    );
    let (status, attempts) = wait_for(&app, id, Duration::from_secs(120), |s| s.0 == "done").await;
    assert_eq!((status.as_str(), attempts), ("done", 2), "run again once, to its end");
    assert!(retaken < Duration::from_secs(60), "taken again after {retaken:?}");
    let lease: f64 = lease().parse().unwrap();
    assert!(retaken.as_secs_f64() < lease + 10.0, "taken again soon after the lease lapsed: {retaken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_job_that_renews_its_lease_is_never_taken_by_another_worker() {
    let app = bare_app().await;
    // Three leases long, with two workers (and two dispatchers) looking.
    let id = enqueue_sleep(&app, 3 * lease().parse::<u64>().unwrap() * 1_000).await;
    let _one = worker_process(&app, "one");
    let _two = worker_process(&app, "two");
    wait_for(&app, id, Duration::from_secs(60), |s| s.0 == "running").await;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3 * lease().parse::<u64>().unwrap() + 60);
    let (status, attempts) = loop {
        let s = state(&app, id).await;
        if !seen.contains(&s) {
            seen.push(s.clone());
        }
        if s.0 == "done" {
            break s;
        }
        assert!(Instant::now() < deadline, "job not done: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((status.as_str(), attempts), ("done", 1), "run once");
    assert_eq!(
        seen,
        vec![("running".to_string(), 1), ("done".to_string(), 1)],
        "never put back while its worker lived"
    );
}

/// A throwaway Redis without persistence, restarted on the same port with its data lost.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("ec-redis-{port}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = OwnRedis { port, dir, child: None };
        redis.spawn();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/provision.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = redis::Client::open(self.url()).unwrap();
        loop {
            if let Ok(mut conn) = client.get_connection()
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "own redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it (SIGKILL: nothing saved) and starts it again, empty.
    fn restart_empty(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn enqueue_noops(app: &TestApp, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut conn = app.pool.acquire().await.unwrap();
        ids.push(jobs::enqueue(&mut conn, &Noop {}, None).await.unwrap().unwrap());
    }
    ids
}

async fn states(app: &TestApp, ids: &[i64]) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT status, attempts FROM job WHERE id = ANY($1) ORDER BY id")
        .bind(ids)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn wait_all(app: &TestApp, ids: &[i64], within: Duration, status: &str) -> Duration {
    let started = Instant::now();
    loop {
        let s = states(app, ids).await;
        if s.iter().all(|(st, _)| st == status) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "not all {status} within {within:?}: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_redis_lost_run_once_soon_after_it_is_back_and_workers_keep_polling() {
    let mut redis = OwnRedis::start();
    // The API's dispatcher pushes; no worker runs yet.
    let api = TestAppBuilder::new().var("REDIS_URL", redis.url()).spawn().await;
    let first = enqueue_noops(&api, 25).await;
    wait_all(&api, &first, Duration::from_secs(30), "queued").await;

    // Redis restarts without its data: the 25 pushes are gone.
    redis.restart_empty();
    let worker = TestAppBuilder::new()
        .database(&api.db_name)
        .prefix(&api.prefix)
        .var("REDIS_URL", redis.url())
        .var("API_RUNS_DISPATCHER", "false")
        .with_worker()
        .spawn()
        .await;
    let took = wait_all(&api, &first, Duration::from_secs(30), "done").await;
    eprintln!("25 jobs Redis lost ran {:.1} s after it came back", took.as_secs_f64());
    assert!(states(&api, &first).await.iter().all(|(_, attempts)| *attempts == 1), "each ran once");
    // Counted for /metrics.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let counted: Option<i64> = redis::cmd("HGET")
        .arg(format!("{}:metrics:jobs", api.prefix))
        .arg("r|redis_data_loss")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(counted.unwrap_or(0) >= 25, "recoveries counted: {counted:?}");

    // Again, with the worker running: its apalis registration vanishes with the data, and it
    // must keep taking jobs.
    redis.restart_empty();
    let back = Instant::now();
    let second = enqueue_noops(&api, 10).await;
    wait_all(&api, &second, Duration::from_secs(30), "done").await;
    eprintln!("jobs enqueued after the second loss ran within {:.1} s", back.elapsed().as_secs_f64());
    assert!(states(&api, &second).await.iter().all(|(_, attempts)| *attempts == 1), "each ran once");

    drop(worker);
}
