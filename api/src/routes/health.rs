//! Health, readiness and the API root (API.md §4.1, §9.1).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
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

/// `/health/` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    status: &'static str,
    service: &'static str,
    database: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_warning: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    timestamp: String,
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

async fn health_response(state: &AppState) -> Response {
    let timestamp = common::time::utc(chrono::Utc::now());
    if database_ok(state).await {
        let memory = memory_mb();
        Json(HealthOut {
            status: "healthy",
            service: "election-cart-api",
            database: "connected",
            memory_mb: Some(memory),
            memory_warning: Some(memory > 400.0),
            error: None,
            timestamp,
        })
        .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthOut {
                status: "unhealthy",
                service: "election-cart-api",
                database: "disconnected",
                memory_mb: None,
                memory_warning: None,
                error: Some("database unavailable"),
                timestamp,
            }),
        )
            .into_response()
    }
}

/// Liveness with a database check.
#[utoipa::path(get, path = "/health/", tag = "ops",
    responses((status = 200, body = HealthOut), (status = 503, body = HealthOut)))]
async fn health(State(state): State<AppState>) -> Response {
    health_response(&state).await
}

/// Alias of `/health/` (the admin app's health page).
#[utoipa::path(get, path = "/api/health/", tag = "ops",
    responses((status = 200, body = HealthOut), (status = 503, body = HealthOut)))]
async fn api_health(State(state): State<AppState>) -> Response {
    health_response(&state).await
}

/// Readiness: PostgreSQL and Redis both answer.
#[utoipa::path(get, path = "/ready/", tag = "ops",
    responses(
        (status = 200, description = "`{status:\"ready\", checks:{database:\"ok\", redis:\"ok\"}}`"),
        (status = 503, description = "`{status:\"not_ready\", checks:{...:\"error\"}}`"),
    ))]
async fn ready(State(state): State<AppState>) -> Response {
    let mut redis = state.redis.clone();
    let (db, redis_ok) = tokio::join!(database_ok(&state), common::kv::ping(&mut redis));
    let word = |ok: bool| if ok { "ok" } else { "error" };
    let body = json!({
        "status": if db && redis_ok { "ready" } else { "not_ready" },
        "checks": { "database": word(db), "redis": word(redis_ok) },
    });
    let status = if db && redis_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// Links to the catalogue.
#[utoipa::path(get, path = "/api/", tag = "catalogue", security(("bearer" = [])),
    responses((status = 200, description = "`{packages: url, campaigns: url}`"), (status = 401)))]
async fn api_root(State(state): State<AppState>, _user: Signed) -> Json<serde_json::Value> {
    let base = &state.cfg.public_base_url;
    Json(json!({ "packages": format!("{base}/api/packages/"), "campaigns": format!("{base}/api/campaigns/") }))
}
