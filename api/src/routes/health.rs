//! Health, readiness and the API root (API.md §4.1, §9.1).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Signed;
use crate::state::AppState;

/// Routes outside `/api/` (no Bearer processing).
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready))
}

/// Routes under `/api/`.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_health)).routes(routes!(api_root))
}

/// `/health/` body: `healthy` with the memory figures, or `unhealthy` with a generic `error`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `healthy` or `unhealthy`.
    status: &'static str,
    /// `election-cart-api`.
    service: &'static str,
    /// `connected` or `disconnected`.
    database: &'static str,
    /// Resident memory in MB, two decimals (healthy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_mb: Option<f64>,
    /// `memory_mb` > 400 (healthy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_warning: Option<bool>,
    /// `database unavailable` (unhealthy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    /// UTC.
    timestamp: String,
}

/// `ok` or `error`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The dependency answered.
    Ok,
    /// It did not, in time.
    Error,
}

impl From<bool> for Check {
    fn from(ok: bool) -> Self {
        if ok { Check::Ok } else { Check::Error }
    }
}

/// The dependencies `/ready/` checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// PostgreSQL.
    database: Check,
    /// Redis.
    redis: Check,
}

/// `/ready/` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Each dependency.
    checks: Checks,
}

/// Links to the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiRoot {
    /// Absolute URL of the package list.
    packages: String,
    /// Absolute URL of the campaign list.
    campaigns: String,
}

/// Resident memory of this process in bytes, from `/proc/self/status` (0 where unavailable).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resident memory in MB, two decimals.
fn memory_mb() -> f64 {
    (resident_bytes() as f64 / 1_048_576.0 * 100.0).round() / 100.0
}

async fn database_ok(state: &AppState) -> bool {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool);
    matches!(tokio::time::timeout(Duration::from_secs(2), ping).await, Ok(Ok(1)))
}

async fn health_response(state: &AppState) -> (StatusCode, Json<HealthOut>) {
    let timestamp = common::time::utc(chrono::Utc::now());
    let up = database_ok(state).await;
    let memory = up.then(memory_mb);
    let body = HealthOut {
        status: if up { "healthy" } else { "unhealthy" },
        service: "election-cart-api",
        database: if up { "connected" } else { "disconnected" },
        memory_mb: memory,
        memory_warning: memory.map(|mb| mb > 400.0),
        error: (!up).then_some("database unavailable"),
        timestamp,
    };
    (if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// Liveness with a database check.
#[utoipa::path(get, path = "/health/", tag = "ops",
    responses((status = 200, body = HealthOut), (status = 503, body = HealthOut)))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthOut>) {
    health_response(&state).await
}

/// Alias of `/health/` (the admin app's health page).
#[utoipa::path(get, path = "/api/health/", tag = "ops",
    responses((status = 200, body = HealthOut), (status = 503, body = HealthOut)))]
async fn api_health(State(state): State<AppState>) -> (StatusCode, Json<HealthOut>) {
    health_response(&state).await
}

/// Readiness: PostgreSQL and Redis both answer.
#[utoipa::path(get, path = "/ready/", tag = "ops",
    responses(
        (status = 200, description = "`{status:\"ready\", checks:{database:\"ok\", redis:\"ok\"}}`", body = Readiness),
        (status = 503, description = "`{status:\"not_ready\", checks:{...:\"error\"}}`", body = Readiness),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let mut redis = state.redis.clone();
    let (db, redis_ok) = tokio::join!(database_ok(&state), common::kv::ping(&mut redis));
    let ready = db && redis_ok;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks: Checks { database: db.into(), redis: redis_ok.into() },
    };
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// Links to the catalogue.
#[utoipa::path(get, path = "/api/", tag = "catalogue", security(("bearer" = [])),
    responses((status = 200, body = ApiRoot), (status = 401)))]
async fn api_root(State(state): State<AppState>, _user: Signed) -> Json<ApiRoot> {
    let base = &state.cfg.public_base_url;
    Json(ApiRoot { packages: format!("{base}/api/packages/"), campaigns: format!("{base}/api/campaigns/") })
}
