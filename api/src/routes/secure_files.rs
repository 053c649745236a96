//! Secure files (API.md §4.11): private files served only after an access check, to a Bearer
//! token or a `?token=` (the admin app opens them in a new tab). A bad Bearer header is a 401 as
//! everywhere (§1); a bad `?token=` counts as anonymous.
//!
//! Local files are streamed from `MEDIA_DIR/private`; Cloudinary files (delivery type
//! `authenticated`) are answered with a redirect to a signed download URL that expires after
//! [`DOWNLOAD_URL_TTL`].

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::media::{self, Cloudinary, PrivateFile};
use common::role::Role;
use serde::Deserialize;
use tower::ServiceExt;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Id, Viewer};
use crate::state::AppState;

/// Lifetime of a signed Cloudinary download URL handed out by a redirect.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(300);

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(payment_proof))
}

/// A file's bytes (the document's `string`/`binary`).
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

/// `?token=<JWT>`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TokenQuery {
    /// An access token, for links opened outside the app (no Authorization header).
    pub token: Option<String>,
}

fn forbidden(text: &'static str) -> Response {
    (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// The caller: the Bearer token's user, else the `?token=`'s when it is valid.
async fn caller(state: &AppState, viewer: Viewer, token: Option<&str>) -> Option<AuthUser> {
    match (viewer.0, token) {
        (Some(auth), _) => Some(auth),
        (None, Some(token)) => crate::middleware::resolve(state, token).await.ok(),
        (None, None) => None,
    }
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
}

/// Sends a private file: `inline`, or `attachment` for documents. The file name is built here
/// from safe parts (`stem` is ours, the extension is checked), so no header can be injected.
pub async fn serve(state: &AppState, stored: &str, stem: &str, attachment: bool) -> ApiResult<Response> {
    let not_found = || ApiError::detail(StatusCode::NOT_FOUND, "Not found.");
    let file = PrivateFile::parse(stored).ok_or_else(not_found)?;
    let ext = file.extension();
    let ext = if ext.bytes().all(|b| b.is_ascii_alphanumeric()) && ext.len() <= 8 { ext } else { String::new() };
    let name = if ext.is_empty() { stem.to_string() } else { format!("{stem}.{ext}") };
    let disposition = format!("{}; filename=\"{name}\"", if attachment { "attachment" } else { "inline" });
    let mut res = match &file {
        PrivateFile::Local(rel) => {
            let path = media::resolve_media_path(&state.cfg.media_dir, rel).ok_or_else(not_found)?;
            let res = tower_http::services::ServeFile::new(path)
                .oneshot(axum::http::Request::new(axum::body::Body::empty()))
                .await
                .map_err(|e| ApiError::internal(format!("serve file: {e}")))?;
            if res.status() == StatusCode::NOT_FOUND {
                return Err(not_found());
            }
            let mut res = res.map(axum::body::Body::new);
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&ext)));
            res
        }
        PrivateFile::Cloudinary { resource_type, public_id, format } => {
            let cloud = Cloudinary::from_config(&state.cfg)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("a Cloudinary file is stored but CLOUDINARY_URL is not set"))?;
            let url = cloud.private_download_url(
                resource_type,
                public_id,
                format,
                DOWNLOAD_URL_TTL,
                chrono::Utc::now().timestamp(),
            );
            redirect(&url)?
        }
        PrivateFile::LegacyUrl(url) => redirect(url)?,
    };
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(res)
}

fn redirect(url: &str) -> ApiResult<Response> {
    let location = HeaderValue::from_str(url).map_err(ApiError::internal)?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// A payment record's proof: role admin, `is_staff`, or the order's assignee.
#[utoipa::path(get, path = "/api/secure-files/payment-proofs/{record_id}/", tag = "secure files",
    params(("record_id" = i64, Path, description = "PaymentRecord id"), TokenQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The file (PNG, JPEG or GIF inline; PDF as an attachment)", content(
            (FileBytes = "image/png"), (FileBytes = "image/jpeg"), (FileBytes = "image/gif"), (FileBytes = "application/pdf"))),
        (status = 302, description = "Cloudinary storage: a signed download URL valid for 5 minutes"),
        (status = 401, description = "A bad Bearer token (§1)"),
        (status = 403, description = "Text `Authentication required` or `You don't have permission to access this file`", content_type = "text/plain"),
        (status = 404, description = "`{\"detail\":\"Not found.\"}`: no such record, or it has no proof"),
    ))]
async fn payment_proof(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(record_id): Id,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Response> {
    let Some(auth) = caller(&state, viewer, q.token.as_deref()).await else {
        return Ok(forbidden("Authentication required"));
    };
    let found = common::orders::admin::proof_access(&state.pool, record_id).await?;
    let Some((Some(proof), assignee)) = found.filter(|(p, _)| p.as_deref().is_some_and(|p| !p.is_empty())) else {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "Not found."));
    };
    let user = &auth.user;
    if !(user.role() == Role::Admin || user.is_staff || assignee == Some(user.id)) {
        return Ok(forbidden("You don't have permission to access this file"));
    }
    let attachment = PrivateFile::parse(&proof).is_some_and(|f| f.extension() == "pdf");
    serve(&state, &proof, &format!("payment-proof-{record_id}"), attachment).await
}
