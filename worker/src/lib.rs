//! Election Cart's job workers: one apalis worker per queue over Redis, the outbox dispatcher and
//! the scheduler. [`run`] is what the `worker` binary and the tests call.

pub mod backups;
pub mod emails;
pub mod invoices;
pub mod maintenance;
pub mod media;
pub mod payments;
pub mod resources;
pub mod scheduler;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis_core::backend::ext::BackendExt;
use apalis_core::error::{AbortError, BoxDynError};
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use common::Config;
use common::jobs::dispatcher::Dispatcher;
use common::jobs::runs::{self, Bookkeeper, ClaimedJob, FailureOutcome, Leases};
use common::jobs::{self, Job, JobEnvelope, Queue};
use common::mail::Mailer;
use sqlx::PgPool;
use tokio::sync::watch;

/// What every handler may use.
pub struct WorkerContext {
    /// Settings.
    pub cfg: Config,
    /// PostgreSQL.
    pub pool: PgPool,
    /// Mail transport.
    pub mailer: Mailer,
    /// Razorpay, when configured.
    pub razorpay: Option<common::razorpay::Razorpay>,
    /// Claims and completions, batched across the handlers running in this process.
    pub runs: Bookkeeper,
    /// The leases of the jobs this process runs, renewed while their handlers run.
    pub leases: Leases,
    /// Error tracking (`SENTRY_DSN`): jobs that fail for good.
    pub reporter: common::error_report::ErrorReporter,
    /// Durations and failures of this process's attempts, added to Redis every few seconds.
    pub metrics: Arc<common::job_metrics::JobMetrics>,
}

/// A handler's failure.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later.
    #[error("{0}")]
    Retry(String),
    /// Another attempt cannot succeed.
    #[error("{0}")]
    Permanent(String),
    /// The job cannot run at all here (unknown kind, undecodable payload): it is marked dead.
    #[error("{0}")]
    Unrunnable(String),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Retry(format!("database: {e}"))
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Queues to consume; empty runs none (scheduler only).
    pub queues: Vec<Queue>,
    /// Run the scheduler.
    pub scheduler: bool,
    /// Run an outbox dispatcher in this process.
    pub dispatcher: bool,
}

impl Options {
    /// Every queue, the scheduler and a dispatcher.
    pub fn all() -> Self {
        Self { queues: Queue::ALL.to_vec(), scheduler: true, dispatcher: true }
    }
}

/// Runs one job: decodes its payload and calls the handler of its kind.
async fn dispatch(ctx: &WorkerContext, job: &ClaimedJob) -> Result<(), JobError> {
    fn decode<J: Job>(job: &ClaimedJob) -> Result<J, JobError> {
        serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Unrunnable(format!("undecodable {} payload: {e}", J::KIND)))
    }
    match job.kind.as_str() {
        jobs::SendEmail::KIND => emails::send(ctx, decode(job)?).await,
        jobs::SendPasswordReset::KIND => emails::send_password_reset(ctx, decode(job)?).await,
        jobs::RenderInvoice::KIND => invoices::render(ctx, decode(job)?).await,
        jobs::PruneExpired::KIND => maintenance::prune(ctx, decode(job)?).await,
        jobs::StoreProductImage::KIND => media::store(ctx, decode(job)?).await,
        jobs::DeleteStoredMedia::KIND => media::delete(ctx, decode(job)?).await,
        jobs::StorePaymentProof::KIND => media::store_proof(ctx, decode(job)?).await,
        jobs::ReconcilePayments::KIND => payments::reconcile(ctx, decode(job)?).await,
        jobs::StoreResourceFile::KIND => resources::store(ctx, decode(job)?).await,
        jobs::DeletePrivateFiles::KIND => resources::delete(ctx, decode(job)?).await,
        jobs::Noop::KIND => maintenance::noop(decode(job)?),
        jobs::TestSleep::KIND => maintenance::test_sleep(ctx, decode(job)?).await,
        jobs::Backup::KIND => backups::run(ctx, decode(job)?).await,
        other => Err(JobError::Unrunnable(format!("no handler for job kind `{other}`"))),
    }
}

/// How long a handler keeps trying to claim its job or record its outcome while PostgreSQL does
/// not answer (a restart, a failover) before leaving it to the lease and stale checks.
const BOOKKEEPING_PATIENCE: Duration = Duration::from_secs(300);

/// Runs `op` until it succeeds, PostgreSQL being away meanwhile, for up to
/// [`BOOKKEEPING_PATIENCE`]. The handler keeps its apalis slot while it waits, so a worker takes
/// no new jobs during an outage; the job's lease is renewed as soon as PostgreSQL is back.
async fn patiently<T, E, F, Fut>(what: &'static str, job_id: i64, mut op: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + BOOKKEEPING_PATIENCE;
    let mut delay = Duration::from_millis(250);
    let mut tries = 0u32;
    loop {
        match op().await {
            Ok(v) => {
                if tries > 0 {
                    tracing::info!(job_id, what, tries, "job bookkeeping went through after PostgreSQL came back");
                }
                return Ok(v);
            }
            Err(e) if tokio::time::Instant::now() + delay < deadline => {
                if tries == 0 {
                    tracing::warn!(job_id, what, error = %e, "job bookkeeping failed; retrying until PostgreSQL answers");
                }
                tries += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The apalis handler shared by every queue: claims the job row (with a lease), runs it in its
/// own task (a panic is a failed attempt, not a dead worker) while the lease is renewed, and
/// records the outcome. Claims and "done" marks go through the process' [`Bookkeeper`], one
/// statement for many concurrent handlers; the rarer outcomes (retry, failed, dead) are written
/// one by one. Every outcome applies only while this attempt still holds the row.
async fn handle(envelope: JobEnvelope, ctx: Data<Arc<WorkerContext>>) -> Result<(), BoxDynError> {
    let ctx: Arc<WorkerContext> = ctx.0.clone();
    let claimed = patiently("claim", envelope.job_id, || ctx.runs.claim(envelope.job_id)).await?;
    let Some(job) = claimed else {
        tracing::debug!(job_id = envelope.job_id, "job not waiting (duplicate delivery); skipped");
        return Ok(());
    };
    let started = std::time::Instant::now();
    let run_ctx = ctx.clone();
    let run_job = job.clone();
    // The lease lives with the handler's task: renewed while it runs, kept until the outcome is
    // written, dropped (and no longer renewed) if the task dies.
    let ran = tokio::spawn(async move {
        let lease = run_ctx.leases.hold(&run_job);
        (dispatch(&run_ctx, &run_job).await, lease)
    })
    .await;
    let (outcome, _lease) = match ran {
        Ok((outcome, lease)) => (outcome, Some(lease)),
        Err(e) => (Err(JobError::Retry(format!("handler panicked: {e}"))), None),
    };
    let elapsed = started.elapsed();
    ctx.metrics.observe(&job.kind, elapsed);
    let elapsed_ms = elapsed.as_millis();
    match outcome {
        Ok(()) => {
            patiently("complete", job.id, || ctx.runs.complete(job.id, job.attempt)).await?;
            tracing::info!(job_id = job.id, kind = %job.kind, attempt = job.attempt, elapsed_ms, "job done");
            Ok(())
        }
        Err(JobError::Unrunnable(message)) => {
            patiently("bury", job.id, || runs::bury(&ctx.pool, job.id, job.attempt, &message)).await?;
            tracing::error!(job_id = job.id, kind = %job.kind, error = %message, "job cannot run; marked dead");
            ctx.metrics.failure(&job.kind, "dead");
            ctx.reporter.job_failed(job.id, &job.kind, job.attempt, &message);
            Err(Box::new(AbortError::new(message)))
        }
        Err(err) => {
            let permanent = matches!(err, JobError::Permanent(_));
            let message = err.to_string();
            let recorded =
                patiently("fail", job.id, || runs::fail(&ctx.pool, &job, &message, permanent, ctx.cfg.job_retry_base))
                    .await?;
            match recorded {
                FailureOutcome::Retry(delay) => {
                    tracing::warn!(job_id = job.id, kind = %job.kind, attempt = job.attempt, error = %message,
                        retry_in_ms = delay.as_millis() as u64, "job failed; will retry");
                    ctx.metrics.failure(&job.kind, "retry");
                    Ok(())
                }
                FailureOutcome::Exhausted => {
                    tracing::error!(job_id = job.id, kind = %job.kind, attempt = job.attempt, error = %message,
                        "job failed for good");
                    ctx.metrics.failure(&job.kind, "failed");
                    ctx.reporter.job_failed(job.id, &job.kind, job.attempt, &message);
                    Err(Box::new(AbortError::new(message)))
                }
            }
        }
    }
}

/// Adds this process's job counts to Redis every 5 s, and once more on the way out.
async fn flush_metrics(
    metrics: Arc<common::job_metrics::JobMetrics>,
    mut redis: redis::aio::ConnectionManager,
    prefix: String,
    stop: impl Future<Output = ()> + Send,
) {
    let ticking = async {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if let Err(e) = metrics.flush(&mut redis, &prefix).await {
                tracing::debug!(error = %e, "job metrics not flushed; kept for the next round");
            }
        }
    };
    tokio::select! {
        _ = ticking => {}
        _ = stop => {}
    }
    let _ = metrics.flush(&mut redis, &prefix).await;
}

/// Connects to Redis, retrying until it answers or `stop` fires.
async fn connect_redis(cfg: &Config, stop: &mut watch::Receiver<bool>) -> Option<redis::aio::ConnectionManager> {
    let mut delay = Duration::from_millis(250);
    loop {
        let attempt = async {
            let conn = common::kv::connection(cfg).map_err(|e| e.to_string())?;
            let mut probe = conn.clone();
            if common::kv::ping(&mut probe).await { Ok(conn) } else { Err("no answer to PING".to_string()) }
        };
        match attempt.await {
            Ok(conn) => return Some(conn),
            Err(e) => tracing::warn!(error = %e, "Redis unavailable; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Runs the selected queues, scheduler and dispatcher until `shutdown` resolves; then stops
/// taking jobs and gives in-flight ones `SHUTDOWN_TIMEOUT_SECONDS` to finish.
pub async fn run(
    cfg: Config,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = common::db::pool(&cfg)?;
    let mailer = Mailer::from_config(&cfg)?;
    let razorpay = common::razorpay::Razorpay::from_config(&cfg)?;
    let runs = Bookkeeper::spawn(pool.clone(), cfg.job_lease);
    let leases = Leases::spawn(pool.clone(), cfg.job_lease, cfg.job_lease_renew);
    let reporter = common::error_report::ErrorReporter::new(cfg.sentry_dsn.as_ref(), "worker", cfg.app_env.as_str());
    let metrics = Arc::new(common::job_metrics::JobMetrics::default());
    let ctx = Arc::new(WorkerContext {
        cfg: cfg.clone(),
        pool: pool.clone(),
        mailer,
        razorpay,
        runs,
        leases,
        reporter,
        metrics: metrics.clone(),
    });
    let (stop_tx, mut stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let Some(redis) = connect_redis(&cfg, &mut stop_rx).await else {
        return Ok(());
    };
    let mut background = Vec::new();
    background.push(tokio::spawn(flush_metrics(
        metrics,
        redis.clone(),
        cfg.queue_prefix.clone(),
        stopped(stop_rx.clone()),
    )));
    if options.dispatcher {
        let d = Dispatcher::new(&cfg, pool.clone(), redis.clone());
        background.push(tokio::spawn(d.run(stopped(stop_rx.clone()))));
    }
    if options.scheduler {
        background.push(tokio::spawn(scheduler::run(pool.clone(), cfg.backup_cron.clone(), stopped(stop_rx.clone()))));
    }

    let mut supervisors = Vec::new();
    for queue in options.queues.iter().copied() {
        supervisors.push(tokio::spawn(supervise(queue, cfg.clone(), redis.clone(), ctx.clone(), stop_rx.clone())));
        tracing::info!(queue = queue.as_str(), concurrency = cfg.concurrency_of(queue), "worker consuming");
    }
    stopped(stop_rx.clone()).await;
    tracing::info!("shutting down: no new jobs, finishing in-flight ones");
    let drain = futures::future::join_all(supervisors);
    if tokio::time::timeout(cfg.shutdown_timeout + Duration::from_secs(1), drain).await.is_err() {
        tracing::warn!(grace = ?cfg.shutdown_timeout, "in-flight jobs did not finish in time; exiting");
    }
    for handle in background {
        let _ = handle.await;
    }
    Ok(())
}

/// Runs the apalis worker of one queue, building a fresh one (with a new name, as apalis-redis
/// requires) after any failure such as a Redis outage, with backoff, until `stop` fires. On stop
/// the worker takes no new jobs and finishes those in flight.
async fn supervise(
    queue: Queue,
    cfg: Config,
    redis: redis::aio::ConnectionManager,
    ctx: Arc<WorkerContext>,
    mut stop: watch::Receiver<bool>,
) {
    let mut delay = Duration::from_millis(250);
    loop {
        if *stop.borrow() {
            return;
        }
        // apalis' fetch moves every due scheduled id at once and fails past ~8,000: start on any
        // backlog by moving them in bounded batches first.
        match jobs::redis_queue::promote_due(&redis, &cfg.queue_prefix, queue).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(queue = queue.as_str(), moved = n, "due backlog moved to the active list"),
            Err(e) => tracing::warn!(queue = queue.as_str(), error = %e, "could not move the due backlog"),
        }
        let storage = jobs::storage(redis.clone(), &cfg.queue_prefix, queue).poll_with_interval(cfg.worker_poll);
        let name = format!("{}-{}-{}", cfg.queue_prefix, queue.as_str(), uuid::Uuid::new_v4().simple());
        let worker = WorkerBuilder::new(name.clone())
            .backend(storage)
            .data(ctx.clone())
            .concurrency(cfg.concurrency_of(queue))
            .build(handle);
        let mut signal_rx = stop.clone();
        let signal = async move {
            let _ = signal_rx.wait_for(|s| *s).await;
            Ok::<(), std::io::Error>(())
        };
        let started = tokio::time::Instant::now();
        let result = worker.run_until(signal).await;
        // Whatever this worker fetched and did not finish goes back to the queue now.
        match jobs::redis_queue::release_worker(&redis, &cfg.queue_prefix, queue, &name).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(queue = queue.as_str(), released = n, "unfinished jobs given back to the queue"),
            Err(e) => tracing::warn!(queue = queue.as_str(), error = %e, "could not give back unfinished jobs"),
        }
        match result {
            Ok(()) if *stop.borrow() => return,
            Ok(()) => tracing::warn!(queue = queue.as_str(), "worker stream ended; restarting"),
            Err(e) => tracing::warn!(queue = queue.as_str(), error = %e, "worker failed; restarting"),
        }
        if started.elapsed() > Duration::from_secs(30) {
            delay = Duration::from_millis(250);
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Parses `--queues emails,invoices`.
pub fn parse_queues(list: &str) -> Result<Vec<Queue>, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let q = Queue::parse(name).ok_or_else(|| {
            format!(
                "unknown queue `{name}`; known: {}",
                Queue::ALL.iter().map(|q| q.as_str()).collect::<Vec<_>>().join(", ")
            )
        })?;
        if !out.contains(&q) {
            out.push(q);
        }
    }
    if out.is_empty() {
        return Err("no queue named".into());
    }
    Ok(out)
}
