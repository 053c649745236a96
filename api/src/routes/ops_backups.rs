//! `/api/ops/backups/` (API.md §9.6): the list of backup runs and asking for one now. The
//! backup itself runs on the `maintenance` queue ([`common::backup::execute`]); nothing slow
//! happens in the request.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use common::backup::{self, BackupRun, RequestError, RunKind};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::Admin;
use crate::pagination::{Page, PageLinks, PageSpec, window};
use crate::state::AppState;

const LIST_PATH: &str = "/api/ops/backups/";

/// The backup routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

/// Query of the list (documentation; parsed from the raw query).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQuery {
    /// 1-based page number (or `last`).
    page: Option<String>,
}

/// One backup run (§9.6, plus `kind`, `created_at`, `encrypted`, `media_location`, `pruned_at`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupView {
    /// Id.
    pub id: i64,
    /// `scheduled`, `manual` or `cli`.
    pub kind: String,
    /// `queued`, `running`, `ok` or `failed`.
    pub status: String,
    /// When it was asked for (Asia/Kolkata).
    pub created_at: String,
    /// When the dump started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Size of the stored file in bytes.
    pub size_bytes: Option<i64>,
    /// SHA-256 of the stored file, hex.
    pub sha256: Option<String>,
    /// Path of the stored file on the backup volume; null once retention deleted it.
    pub location: Option<String>,
    /// Stored encrypted (AES-256-GCM, `BACKUP_ENCRYPTION_KEY`).
    pub encrypted: bool,
    /// Path of the media archive taken alongside, if any.
    pub media_location: Option<String>,
    /// Test-restored and found with the snapshot's row counts and order total.
    pub verified: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// When retention deleted the file.
    pub pruned_at: Option<String>,
}

impl From<&BackupRun> for BackupView {
    fn from(r: &BackupRun) -> Self {
        Self {
            id: r.id,
            kind: r.kind.clone(),
            status: r.status.clone(),
            created_at: common::time::ist(r.created_at),
            started_at: common::time::ist_opt(r.started_at),
            finished_at: common::time::ist_opt(r.finished_at),
            size_bytes: r.size_bytes,
            sha256: r.sha256.clone(),
            location: r.location.clone(),
            encrypted: r.encrypted,
            media_location: r.media_location.clone(),
            verified: r.verified,
            error: r.error.clone(),
            pruned_at: common::time::ist_opt(r.pruned_at),
        }
    }
}

/// `202` body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupQueued {
    /// The run's id.
    pub id: i64,
    /// Always `queued`.
    pub status: &'static str,
}

/// Backup runs, newest first (ties by id, descending), paged.
#[utoipa::path(get, path = "/api/ops/backups/", tag = "ops", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "DRF page of backup runs", body = Page<BackupView>),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`"),
    ))]
async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Page<BackupView>>> {
    let query = raw.as_deref().unwrap_or("");
    let requested = url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "page").last().map(|(_, v)| v);
    let spec = PageSpec::parse(requested.as_deref())?;
    let page = match spec {
        PageSpec::Number(n) => n,
        PageSpec::Last => spec.resolve(backup::list(&state.pool, 0, 0).await?.0)?,
    };
    let (limit, offset) = window(page);
    let (count, rows) = backup::list(&state.pool, limit, offset).await?;
    spec.resolve(count)?;
    let links =
        PageLinks { base: &state.cfg.public_base_url, path: LIST_PATH, query: raw.as_deref(), explicit_first: false };
    Ok(Json(Page::new(&links, page, count, rows.iter().map(BackupView::from).collect())))
}

/// Queue a backup now; it runs on the `maintenance` queue.
#[utoipa::path(post, path = "/api/ops/backups/", tag = "ops", security(("bearer" = [])),
    responses(
        (status = 202, description = "`{id, status:\"queued\"}`", body = BackupQueued),
        (status = 401), (status = 403),
        (status = 409, description = "§9 error, code `backup_running`: a backup is queued or running"),
    ))]
async fn create(State(state): State<AppState>, Admin(admin): Admin) -> ApiResult<(StatusCode, Json<BackupQueued>)> {
    match backup::request(&state.pool, RunKind::Manual, Some(admin.user.id), None).await {
        Ok(Some(id)) => Ok((StatusCode::ACCEPTED, Json(BackupQueued { id, status: "queued" }))),
        Ok(None) => Err(ApiError::internal("backup request created no run")),
        Err(RequestError::Running) => {
            Err(ApiError::ext(StatusCode::CONFLICT, "backup_running", "A backup is already queued or running."))
        }
        Err(RequestError::Database(e)) => Err(e.into()),
    }
}
