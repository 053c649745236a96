//! Secure files (API.md §4.11): private files served only after an access check, to a Bearer
//! token or a `?token=` (the admin app opens them in a new tab). A bad Bearer header is a 401 as
//! everywhere (§1); a bad `?token=` counts as anonymous.
//!
//! Local files are streamed from `MEDIA_DIR/private`; Cloudinary files (delivery type
//! `authenticated`) are answered with a redirect to a signed download URL that expires after
//! [`DOWNLOAD_URL_TTL`]. Product images (public anyway) are streamed from `MEDIA_DIR/products`,
//! or redirected to when stored as a Cloudinary URL.
//!
//! The answers that name a customer's file give these routes' paths ([`submission_url`],
//! [`legacy_file_url`]), never a storage key.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::media::{self, Cloudinary, PrivateFile};
use common::orders::resource_views::{self, LegacyFile};
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

/// Text of the 403 to anonymous callers (and to a bad `?token=`).
const AUTH_REQUIRED: &str = "Authentication required";
/// Text of the 403 to signed-in callers the file is not for.
const NO_PERMISSION: &str = "You don't have permission to access this file";

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(image))
        .routes(routes!(resource))
        .routes(routes!(order_file))
        .routes(routes!(payment_proof))
}

/// Where a resource-field submission's file is served: `/api/secure-files/resources/{id}/`.
pub fn submission_url(submission_id: i64) -> String {
    format!("/api/secure-files/resources/{submission_id}/")
}

/// Where a legacy upload's photo or logo is served:
/// `/api/secure-files/orders/{order_id}/{candidate_photo|party_logo}/`. That path serves the
/// order's first line with a legacy upload (`first_item`); the files of any other line get
/// `?item=<line id>` (a Rust addition), so every link opens its own line's file.
pub fn legacy_file_url(order_id: i64, file: LegacyFile, item_id: i64, first_item: Option<i64>) -> String {
    let path = format!("/api/secure-files/orders/{order_id}/{}/", file.as_str());
    if first_item.is_none_or(|first| first == item_id) { path } else { format!("{path}?item={item_id}") }
}

fn not_found() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "Not found.")
}

/// An integer path segment or query value, as Django's `<int:…>` reads it; anything else is
/// `None` (the routes answer 404).
fn integer(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
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
        return Ok(forbidden(AUTH_REQUIRED));
    };
    let found = common::orders::admin::proof_access(&state.pool, record_id).await?;
    let Some((Some(proof), assignee)) = found.filter(|(p, _)| p.as_deref().is_some_and(|p| !p.is_empty())) else {
        return Err(not_found());
    };
    let user = &auth.user;
    if !(user.role() == Role::Admin || user.is_staff || assignee == Some(user.id)) {
        return Ok(forbidden(NO_PERMISSION));
    }
    let attachment = PrivateFile::parse(&proof).is_some_and(|f| f.extension() == "pdf");
    serve(&state, &proof, &format!("payment-proof-{record_id}"), attachment).await
}

/// `?thumbnail=true`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ImageQuery {
    /// `true` (or `1`): the image's thumbnail, when it has one (else the image itself).
    pub thumbnail: Option<String>,
}

/// A product image, or its thumbnail: any signed-in user. Product images are public, so one
/// stored as a Cloudinary URL is answered with a redirect to it.
#[utoipa::path(get, path = "/api/secure-files/images/{image_id}/", tag = "secure files",
    params(("image_id" = i64, Path, description = "ProductImage id"), ImageQuery, TokenQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The image, inline, its type by its extension", content(
            (FileBytes = "image/png"), (FileBytes = "image/jpeg"), (FileBytes = "image/gif"))),
        (status = 302, description = "Stored at Cloudinary: its public URL"),
        (status = 401, description = "A bad Bearer token (§1)"),
        (status = 403, description = "Text `Authentication required`", content_type = "text/plain"),
        (status = 404, description = "`{\"detail\":\"Not found.\"}`: no such image, or its file is gone"),
    ))]
async fn image(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(image_id): Id,
    Query(q): Query<TokenQuery>,
    Query(which): Query<ImageQuery>,
) -> ApiResult<Response> {
    if caller(&state, viewer, q.token.as_deref()).await.is_none() {
        return Ok(forbidden(AUTH_REQUIRED));
    }
    let row = common::catalog::images::get(&state.pool, image_id).await?.ok_or_else(not_found)?;
    let wants_thumbnail = which.thumbnail.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("true") || t == "1");
    match row.thumbnail.as_deref().filter(|t| wants_thumbnail && !t.is_empty()) {
        Some(thumbnail) => serve(&state, thumbnail, &format!("image-{image_id}-thumbnail"), false).await,
        None => serve(&state, &row.image, &format!("image-{image_id}"), false).await,
    }
}

/// A resource-field submission's file: the order's customer, its assignee, `is_staff` users and
/// role admin. Documents are sent as attachments, images inline.
#[utoipa::path(get, path = "/api/secure-files/resources/{submission_id}/", tag = "secure files",
    params(("submission_id" = i64, Path, description = "DynamicResourceSubmission id"), TokenQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The file (images inline; documents as an attachment)", content(
            (FileBytes = "image/png"), (FileBytes = "image/jpeg"), (FileBytes = "image/gif"),
            (FileBytes = "application/pdf"), (FileBytes = "application/msword"),
            (FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))),
        (status = 302, description = "Cloudinary storage: a signed download URL valid for 5 minutes"),
        (status = 401, description = "A bad Bearer token (§1)"),
        (status = 403, description = "Text `Authentication required` or `You don't have permission to access this file`", content_type = "text/plain"),
        (status = 404, description = "`{\"detail\":\"Not found.\"}`: no such submission, or it has no file"),
    ))]
async fn resource(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(submission_id): Id,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Response> {
    let Some(auth) = caller(&state, viewer, q.token.as_deref()).await else {
        return Ok(forbidden(AUTH_REQUIRED));
    };
    let file = resource_views::submission_file(&state.pool, submission_id).await?.ok_or_else(not_found)?;
    if !file.parties.allow(&auth.user) {
        return Ok(forbidden(NO_PERMISSION));
    }
    let stored = file.stored().ok_or_else(not_found)?;
    serve(&state, stored, &format!("resource-{submission_id}"), file.is_document()).await
}

/// `?item=<order item id>` (Rust addition).
#[derive(Debug, Deserialize, IntoParams)]
pub struct ItemQuery {
    /// A line of the order: its legacy upload rather than the first line's.
    pub item: Option<String>,
}

/// The candidate photo or party logo of an order's legacy upload (that of its first line having
/// one, or of `?item=`), inline: the order's customer, its assignee, `is_staff` users and role
/// admin.
#[utoipa::path(get, path = "/api/secure-files/orders/{order_id}/{resource_type}/", tag = "secure files",
    params(
        ("order_id" = i64, Path, description = "Order id"),
        ("resource_type" = String, Path, description = "`candidate_photo` or `party_logo` (anything else: 404)"),
        ItemQuery, TokenQuery,
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The image, inline", content(
            (FileBytes = "image/png"), (FileBytes = "image/jpeg"), (FileBytes = "image/gif"))),
        (status = 302, description = "Cloudinary storage: a signed download URL valid for 5 minutes"),
        (status = 401, description = "A bad Bearer token (§1)"),
        (status = 403, description = "Text `Authentication required` or `You don't have permission to access this file`", content_type = "text/plain"),
        (status = 404, description = "`{\"detail\":\"Not found.\"}`: no such order, resource type or file"),
    ))]
async fn order_file(
    State(state): State<AppState>,
    viewer: Viewer,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    Query(q): Query<TokenQuery>,
    Query(which): Query<ItemQuery>,
) -> ApiResult<Response> {
    let Path((order_id, resource_type)) = path.map_err(|_| not_found())?;
    let order_id = integer(&order_id).ok_or_else(not_found)?;
    let Some(auth) = caller(&state, viewer, q.token.as_deref()).await else {
        return Ok(forbidden(AUTH_REQUIRED));
    };
    let file = LegacyFile::parse(&resource_type).ok_or_else(not_found)?;
    let item = match which.item.as_deref() {
        Some(raw) => Some(integer(raw).ok_or_else(not_found)?),
        None => None,
    };
    let found = resource_views::legacy_files(&state.pool, order_id, item).await?.ok_or_else(not_found)?;
    if !found.parties.allow(&auth.user) {
        return Ok(forbidden(NO_PERMISSION));
    }
    let resource = found.resource.ok_or_else(not_found)?;
    let stored = Some(file.of(&resource)).filter(|s| !s.is_empty()).ok_or_else(not_found)?;
    serve(&state, stored, &format!("{}-{order_id}", file.as_str().replace('_', "-")), false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls() {
        assert_eq!(submission_url(7), "/api/secure-files/resources/7/");
        assert_eq!(
            legacy_file_url(3, LegacyFile::CandidatePhoto, 10, Some(10)),
            "/api/secure-files/orders/3/candidate_photo/"
        );
        assert_eq!(
            legacy_file_url(3, LegacyFile::PartyLogo, 12, Some(10)),
            "/api/secure-files/orders/3/party_logo/?item=12"
        );
        assert_eq!(integer("12"), Some(12));
        for bad in ["", "-1", "1.0", "x", "99999999999999999999"] {
            assert_eq!(integer(bad), None, "{bad}");
        }
    }
}
