//! The queue dashboard (API.md §9.6, role admin): counts per queue, a queue's jobs by state,
//! throughput of the last hour, retry and discard of failed jobs, and the server-rendered page
//! `/ops/queues/` that shows them (it takes `?token=<JWT>` and its script sends it as Bearer).

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::jobs::Queue;
use common::jobs::ops::{self, Action, DiscardError, JobRow, JobState};
use common::role::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, NO_CREDENTIALS};
use crate::extract::{Admin, Viewer};
use crate::pagination::{Page, PageLinks, PageSpec, window};
use crate::state::AppState;

/// The ops queue routes, JSON and page.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(overview))
        .routes(routes!(throughput))
        .routes(routes!(jobs))
        .routes(routes!(retry))
        .routes(routes!(discard))
}

/// One queue's counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueView {
    /// `emails`, `invoices`, `media`, `payments` or `maintenance`.
    pub name: &'static str,
    /// Waiting in the outbox (due) or in Redis.
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
    /// Seconds since the oldest pending job became due; null when none is pending.
    pub oldest_pending_age_seconds: Option<i64>,
    /// Tasks waiting in the queue's Redis lists (scheduled + active); null when Redis did not answer.
    pub redis_depth: Option<u64>,
}

/// `GET /api/ops/queues/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuesOverview {
    /// Every queue.
    pub queues: Vec<QueueView>,
    /// When counted (UTC).
    pub generated_at: String,
}

/// A job as the dashboard shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: i64,
    /// Queue.
    pub queue: String,
    /// Job kind, e.g. `send_email`.
    pub kind: String,
    /// `pending`, `scheduled`, `running`, `done`, `failed` or `dead`.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When it is (was) due (UTC).
    pub run_at: String,
    /// Written (UTC).
    pub created_at: String,
    /// Last changed (UTC).
    pub updated_at: String,
    /// The payload, secrets and message bodies shown as `"[redacted]"`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<JobRow> for JobView {
    fn from(j: JobRow) -> Self {
        Self {
            id: j.id,
            queue: j.queue,
            kind: j.kind,
            state: j.state.as_str().to_string(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            run_at: common::time::utc(j.run_at),
            created_at: common::time::utc(j.created_at),
            updated_at: common::time::utc(j.updated_at),
            payload: j.payload,
        }
    }
}

/// One minute of throughput.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MinuteView {
    /// Start of the minute (UTC).
    pub minute: String,
    /// Jobs done in it.
    pub done: i64,
    /// Jobs that failed for good or died in it.
    pub failed: i64,
}

/// `GET /api/ops/queues/throughput/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Throughput {
    /// The last 60 minutes, oldest first, the current minute last.
    pub minutes: Vec<MinuteView>,
    /// When counted (UTC).
    pub generated_at: String,
}

fn unknown_queue(name: &str) -> ApiError {
    ApiError::Ext {
        status: StatusCode::NOT_FOUND,
        code: "unknown_queue",
        message: format!("No queue named `{}`.", name.chars().take(60).collect::<String>()),
        details: json!({ "queues": Queue::ALL.iter().map(|q| q.as_str()).collect::<Vec<_>>() }),
    }
}

fn no_job() -> ApiError {
    ApiError::ext(StatusCode::NOT_FOUND, "job_not_found", "No such job in this queue.")
}

fn queue_of(name: &str) -> Result<Queue, ApiError> {
    // `parse` trims; a path segment with blanks is not a queue name.
    Queue::parse(name).filter(|q| q.as_str() == name).ok_or_else(|| unknown_queue(name))
}

/// The queue and job id of a job path; a job id that is not an integer is no job.
fn job_path(queue: &str, job_id: &str) -> Result<(Queue, i64), ApiError> {
    let queue = queue_of(queue)?;
    let id = job_id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(no_job)?;
    Ok((queue, id))
}

/// Counts of every queue: the job table by state, and the depth of each Redis queue.
#[utoipa::path(get, path = "/api/ops/queues/", tag = "ops", security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts per queue", body = QueuesOverview),
        (status = 401, description = "§1 DRF body"),
        (status = 403, description = "Not role admin (§1 DRF body)"),
    ))]
async fn overview(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<QueuesOverview>> {
    let counts = ops::counts(&state.pool).await?;
    let depths = match common::jobs::redis_queue::backlogs(&state.redis, &state.cfg.queue_prefix, &Queue::ALL).await {
        Ok(d) => d.into_iter().map(Some).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "queue depths: Redis did not answer");
            vec![None; Queue::ALL.len()]
        }
    };
    let queues = counts
        .into_iter()
        .zip(depths)
        .filter_map(|(c, redis_depth)| {
            Some(QueueView {
                name: c.queue?.as_str(),
                pending: c.pending,
                running: c.running,
                scheduled: c.scheduled,
                done: c.done,
                failed: c.failed,
                dead: c.dead,
                oldest_pending_age_seconds: c.oldest_pending_age_seconds,
                redis_depth,
            })
        })
        .collect();
    Ok(Json(QueuesOverview { queues, generated_at: common::time::utc(chrono::Utc::now()) }))
}

/// Jobs done and failed per minute over the last hour (every queue).
#[utoipa::path(get, path = "/api/ops/queues/throughput/", tag = "ops", security(("bearer" = [])),
    responses(
        (status = 200, description = "60 minutes, oldest first", body = Throughput),
        (status = 401, description = "§1 DRF body"),
        (status = 403, description = "Not role admin (§1 DRF body)"),
    ))]
async fn throughput(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<Throughput>> {
    let minutes = ops::throughput(&state.pool)
        .await?
        .into_iter()
        .map(|m| MinuteView { minute: common::time::utc(m.minute), done: m.done, failed: m.failed })
        .collect();
    Ok(Json(Throughput { minutes, generated_at: common::time::utc(chrono::Utc::now()) }))
}

/// Query of a queue's job list (documentation; read from the raw query, the last value of a key
/// wins).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct JobsQuery {
    /// `pending`, `scheduled`, `running`, `done`, `failed` or `dead`; all when absent or empty.
    state: Option<String>,
    /// 1-based page number (or `last`).
    page: Option<String>,
}

/// A queue's jobs, newest first, optionally of one state; DRF page of 20.
#[utoipa::path(get, path = "/api/ops/queues/{queue}/jobs/", tag = "ops", security(("bearer" = [])),
    params(("queue" = String, Path, description = "Queue name"), JobsQuery),
    responses(
        (status = 200, description = "DRF page of jobs", body = Page<JobView>),
        (status = 400, description = "`invalid_state` (§9 shape)"),
        (status = 401, description = "§1 DRF body"),
        (status = 403, description = "Not role admin (§1 DRF body)"),
        (status = 404, description = "`unknown_queue` (§9 shape), or `{\"detail\":\"Invalid page.\"}`"),
    ))]
async fn jobs(
    State(state): State<AppState>,
    _admin: Admin,
    Path(queue): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<JobView>>> {
    let queue = queue_of(&queue)?;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let last = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let job_state = match last("state").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| invalid_state(s))?),
    };
    let spec = PageSpec::parse(last("page"))?;
    let page = match spec {
        PageSpec::Number(n) => n,
        PageSpec::Last => spec.resolve(ops::list(&state.pool, queue, job_state, 0, 0).await?.0)?,
    };
    let (limit, offset) = window(page);
    let (count, rows) = ops::list(&state.pool, queue, job_state, limit, offset).await?;
    spec.resolve(count)?;
    let path = format!("/api/ops/queues/{}/jobs/", queue.as_str());
    let links =
        PageLinks { base: &state.cfg.public_base_url, path: &path, query: raw.as_deref(), explicit_first: false };
    Ok(Json(Page::new(&links, page, count, rows.into_iter().map(JobView::from).collect())))
}

fn invalid_state(given: &str) -> ApiError {
    let known: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    ApiError::Ext {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_state",
        message: format!("Unknown state; one of {}.", known.join(", ")),
        details: json!({ "state": given.chars().take(60).collect::<String>(), "states": known }),
    }
}

/// The retry's request: empty (documentation only; nothing is read).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RetryRequest {}

/// Paths of one job.
#[derive(Debug, Deserialize)]
struct JobPath {
    queue: String,
    job_id: String,
}

/// Runs a failed or dead job again: pending, due now, attempts reset, last error kept; recorded
/// in `job_audit`.
#[utoipa::path(post, path = "/api/ops/queues/{queue}/jobs/{job_id}/retry/", tag = "ops", security(("bearer" = [])),
    params(("queue" = String, Path, description = "Queue name"), ("job_id" = i64, Path, description = "Job id")),
    request_body(content = RetryRequest, description = "Nothing is needed: any body (or none) is ignored"),
    responses(
        (status = 200, description = "The job, now pending", body = JobView),
        (status = 401, description = "§1 DRF body"),
        (status = 403, description = "Not role admin (§1 DRF body)"),
        (status = 404, description = "`unknown_queue` or `job_not_found` (§9 shape)"),
        (status = 409, description = "`not_retryable` (§9 shape): the job is not failed or dead"),
    ))]
async fn retry(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(path): Path<JobPath>,
) -> ApiResult<Json<JobView>> {
    let (queue, id) = job_path(&path.queue, &path.job_id)?;
    match ops::retry(&state.pool, queue, id, admin.user.id).await? {
        Action::Done(job) => {
            tracing::info!(job_id = id, queue = queue.as_str(), admin_id = admin.user.id, "job retried by an admin");
            Ok(Json(JobView::from(job)))
        }
        Action::NotFound => Err(no_job()),
        Action::Refused(status) => Err(refused("not_retryable", "retried", &status)),
    }
}

fn refused(code: &'static str, verb: &str, status: &str) -> ApiError {
    ApiError::Ext {
        status: StatusCode::CONFLICT,
        code,
        message: format!("Only failed or dead jobs can be {verb}."),
        details: json!({ "status": status }),
    }
}

/// Deletes a failed or dead job and its Redis entries; recorded in `job_audit`.
#[utoipa::path(delete, path = "/api/ops/queues/{queue}/jobs/{job_id}/", tag = "ops", security(("bearer" = [])),
    params(("queue" = String, Path, description = "Queue name"), ("job_id" = i64, Path, description = "Job id")),
    responses(
        (status = 204, description = "Discarded"),
        (status = 401, description = "§1 DRF body"),
        (status = 403, description = "Not role admin (§1 DRF body)"),
        (status = 404, description = "`unknown_queue` or `job_not_found` (§9 shape)"),
        (status = 409, description = "`not_discardable` (§9 shape): the job is not failed or dead"),
        (status = 503, description = "Redis unavailable: nothing removed"),
    ))]
async fn discard(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(path): Path<JobPath>,
) -> ApiResult<StatusCode> {
    let (queue, id) = job_path(&path.queue, &path.job_id)?;
    match ops::discard(&state.pool, &state.redis, &state.cfg.queue_prefix, queue, id, admin.user.id).await {
        Ok(Action::Done(())) => {
            tracing::info!(job_id = id, queue = queue.as_str(), admin_id = admin.user.id, "job discarded by an admin");
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(Action::NotFound) => Err(no_job()),
        Ok(Action::Refused(status)) => Err(refused("not_discardable", "discarded", &status)),
        Err(DiscardError::Database(e)) => Err(e.into()),
        Err(DiscardError::Redis(e)) => {
            tracing::error!(error = %e, job_id = id, "discard: Redis unavailable");
            Err(ApiError::Unavailable(crate::error::REDIS))
        }
    }
}

/// `?token=<JWT>` of the page.
#[derive(Debug, Deserialize, IntoParams)]
struct PageQuery {
    /// An admin's access token (the page's script sends it as Bearer).
    token: Option<String>,
}

/// The dashboard page: counts refreshing every few seconds, throughput of the last hour, recent
/// failures with retry and discard, a job's redacted payload. Self-contained (inline style and
/// script allowed by a per-response nonce, nothing from another origin).
#[utoipa::path(get, path = "/ops/queues/", tag = "ops", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "HTML page", body = String, content_type = "text/html"),
        (status = 401, description = "No or bad token (§1 DRF body)"),
        (status = 403, description = "Not role admin (§1 DRF body)"),
    ))]
async fn dashboard(State(state): State<AppState>, viewer: Viewer, Query(q): Query<PageQuery>) -> ApiResult<Response> {
    let auth = match (viewer.0, q.token.as_deref().map(str::trim).filter(|t| !t.is_empty())) {
        (Some(auth), _) => auth,
        (None, Some(token)) => crate::middleware::resolve(&state, token).await?,
        (None, None) => return Err(ApiError::Unauthorized(NO_CREDENTIALS)),
    };
    if auth.user.role() != Role::Admin {
        return Err(ApiError::forbidden());
    }
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let html = ops::dashboard_html(&nonce).map_err(ApiError::internal)?;
    let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = res.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // The URL carries a token: keep the page out of caches.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The page's policy: its own origin only, inline code only by `nonce`.
fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; \
         img-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_paths_parse() {
        assert!(matches!(job_path("emails", "12"), Ok((Queue::Emails, 12))));
        assert_eq!(job_path("nope", "1").err().map(|e| e.status()), Some(StatusCode::NOT_FOUND));
        assert_eq!(job_path("emails", "x").err().map(|e| e.status()), Some(StatusCode::NOT_FOUND));
        assert_eq!(job_path(" emails", "1").err().map(|e| e.status()), Some(StatusCode::NOT_FOUND));
    }

    #[test]
    fn policy_allows_only_self_and_the_nonce() {
        let csp = content_security_policy("n1");
        assert!(csp.contains("script-src 'nonce-n1'") && csp.contains("style-src 'nonce-n1'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("http"));
    }
}
