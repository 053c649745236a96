//! Product images of the admin catalogue (API.md §4.9, §5 #6, #9, #20, §7.9): upload, read,
//! update, delete, set-primary, reorder.
//!
//! An upload is validated by content (magic bytes, extension, size, pixel count from the header
//! before any decoding, then a full decode), staged under `MEDIA_DIR/staging/<random>.<ext>`
//! and recorded with a `StoreProductImage` job in one transaction; the answer's URLs work at
//! once (`/media/staging/…`). The `media` worker then stores the file (Cloudinary or local
//! disk), makes the thumbnail and updates the row.

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::catalog::ProductType;
use common::catalog::images::{self, CreateImageError, ImagePatch, NewImage};
use common::catalog::products::ImageRow;
use common::media::{self, ImageRejection};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{image_json, invalid_type, not_found};
use super::fields::bool_value;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminStar, Body, Id};
use crate::state::AppState;

/// Room for the multipart envelope and the small fields around a 5 MB image.
const UPLOAD_BODY_LIMIT: usize = media::MAX_IMAGE_BYTES + 512 * 1024;

/// The product image routes.
pub fn router() -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new().routes(routes!(upload_image)).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT));
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(reorder_images))
        .routes(routes!(get_image, put_image, patch_image, delete_image))
        .routes(routes!(set_primary))
}

fn no_image() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "No ProductImage matches the given query.")
}

fn image_error(msg: impl Into<String>) -> ApiError {
    ApiError::Fields(StatusCode::BAD_REQUEST, json!({ "image": [msg.into()] }))
}

fn respond(state: &AppState, status: StatusCode, row: &ImageRow) -> Response {
    (status, Json(image_json(&state.cfg.public_base_url, row))).into_response()
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
    } else {
        ApiError::detail(StatusCode::BAD_REQUEST, format!("Multipart form parse error - {}", e.body_text()))
    }
}

fn unsupported(headers: &axum::http::HeaderMap) -> ApiError {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    ApiError::detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Unsupported media type \"{media}\" in request."))
}

/// Reads a field's bytes, stopping one byte past `limit` (the caller reports "too large").
async fn read_capped(field: &mut Field<'_>, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if out.len() + chunk.len() > limit {
            out.extend_from_slice(&chunk[..limit + 1 - out.len()]);
            break;
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// DRF `IntegerField` input over an `integer` column.
fn int_value(v: &Value) -> Option<i32> {
    super::fields::int_value(v).and_then(|n| i32::try_from(n).ok())
}

/// Validates `alt_text`, `order`, `is_primary` of a map; absent or null keeps.
fn parse_patch(fields: &Map<String, Value>) -> Result<ImagePatch, ApiError> {
    let mut errors = Map::new();
    let mut patch = ImagePatch::default();
    match fields.get("alt_text") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.chars().count() > 200 => {
            errors.insert("alt_text".into(), json!(["Ensure this field has no more than 200 characters."]));
        }
        Some(Value::String(s)) => patch.alt_text = Some(s.trim().to_string()),
        Some(Value::Number(n)) => patch.alt_text = Some(n.to_string()),
        Some(_) => {
            errors.insert("alt_text".into(), json!(["Not a valid string."]));
        }
    }
    match fields.get("order") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.trim().is_empty() => {}
        Some(v) => match int_value(v) {
            Some(o) => patch.order = Some(o),
            None => {
                errors.insert("order".into(), json!(["A valid integer is required."]));
            }
        },
    }
    match fields.get("is_primary") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.trim().is_empty() => {}
        Some(v) => match bool_value(v) {
            Some(b) => patch.is_primary = Some(b),
            None => {
                errors.insert("is_primary".into(), json!(["Must be a valid boolean."]));
            }
        },
    }
    if errors.is_empty() { Ok(patch) } else { Err(ApiError::Fields(StatusCode::BAD_REQUEST, Value::Object(errors))) }
}

/// Uploads an image (*multipart*: `image`, `is_primary?`, `order?`, `alt_text?` ≤ 200).
#[utoipa::path(post, path = "/api/admin/products/{type}/{id}/images/", tag = "admin-catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "`image` (JPEG/PNG/GIF, ≤ 5 MB, ≤ 89,478,485 pixels), `is_primary?`, `order?`, `alt_text?`"),
    responses((status = 201, description = "ProductImage; URLs work at once, the stored URLs replace them when the media worker is done"),
        (status = 400, description = "`{\"image\":[…]}` or `{\"error\":\"Maximum of 10 images allowed per product\"}`"),
        (status = 401), (status = 403), (status = 404), (status = 413), (status = 415)))]
async fn upload_image(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    Path((kind, id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let kind = ProductType::parse(&kind).ok_or_else(invalid_type)?;
    let id: i64 = id.parse().map_err(|_| ApiError::detail(StatusCode::NOT_FOUND, "Not found."))?;
    if !common::catalog::product_exists(&state.pool, kind, id).await? {
        return Err(not_found(kind));
    }
    let mut multipart = multipart.map_err(|_| unsupported(&headers))?;

    let mut file: Option<(String, Vec<u8>)> = None;
    let mut not_a_file = false;
    let mut fields = Map::new();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" {
            match field.file_name().map(str::to_string) {
                Some(file_name) if file.is_none() => {
                    let bytes = read_capped(&mut field, media::MAX_IMAGE_BYTES).await?;
                    file = Some((file_name, bytes));
                }
                Some(_) => {}
                None => not_a_file = true,
            }
        } else if ["is_primary", "order", "alt_text"].contains(&name.as_str()) {
            let bytes = read_capped(&mut field, 4096).await?;
            fields.insert(name, crate::extract::text_part(String::from_utf8_lossy(&bytes).into_owned()));
        }
    }

    let patch = parse_patch(&fields);
    let Some((file_name, bytes)) = file else {
        let msg = if not_a_file {
            "The submitted data was not a file. Check the encoding type on the form."
        } else {
            "No file was submitted."
        };
        let mut errors = match patch {
            Err(ApiError::Fields(_, Value::Object(m))) => m,
            _ => Map::new(),
        };
        errors.insert("image".into(), json!([msg]));
        return Err(ApiError::Fields(StatusCode::BAD_REQUEST, Value::Object(errors)));
    };
    // Decoding may take hundreds of MB: a few at a time across every upload route.
    let permit = state.decode_permits.acquire().await.map_err(ApiError::internal)?;
    let kind_of_file = tokio::task::spawn_blocking(move || {
        let verdict = media::validate_image(&file_name, &bytes);
        (verdict, bytes)
    })
    .await?;
    drop(permit);
    let (verdict, bytes) = kind_of_file;
    let image_kind = verdict.map_err(|e: ImageRejection| image_error(e.message()))?;
    let patch = patch?;

    // Stage the bytes under a random name; the row points at them until the worker is done.
    let rel = format!("{}/{}", media::STAGING_DIR, media::random_name(image_kind));
    let path = media::resolve_media_path(&state.cfg.media_dir, &rel)
        .ok_or_else(|| ApiError::internal(format!("staging path `{rel}` refused")))?;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| ApiError::internal(format!("create staging dir: {e}")))?;
    }
    tokio::fs::write(&path, &bytes).await.map_err(|e| ApiError::internal(format!("write staged image: {e}")))?;

    let new = NewImage {
        image: rel,
        is_primary: patch.is_primary,
        order: patch.order,
        alt_text: patch.alt_text.unwrap_or_default(),
    };
    match images::create(&state.pool, kind, id, &new).await {
        Ok(row) => Ok(respond(&state, StatusCode::CREATED, &row)),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(match e {
                CreateImageError::TooMany => {
                    ApiError::error(StatusCode::BAD_REQUEST, "Maximum of 10 images allowed per product")
                }
                CreateImageError::ProductMissing => not_found(kind),
                CreateImageError::Database(e) => e.into(),
            })
        }
    }
}

/// One image (anonymous).
#[utoipa::path(get, path = "/api/admin/products/images/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path)),
    responses((status = 200, description = "ProductImage"), (status = 404, description = "`{\"detail\":\"No ProductImage matches the given query.\"}`")))]
async fn get_image(State(state): State<AppState>, Id(id): Id) -> ApiResult<Response> {
    let row = images::get(&state.pool, id).await?.ok_or_else(no_image)?;
    Ok(respond(&state, StatusCode::OK, &row))
}

/// The fields of an update body: JSON, form-encoded or multipart. A multipart `image` file is
/// refused (the file cannot be replaced).
async fn update_fields(state: &AppState, req: Request) -> ApiResult<Map<String, Value>> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        let Body(map) = Body::from_request(req, state).await?;
        return Ok(map);
    }
    let headers = req.headers().clone();
    let mut multipart = Multipart::from_request(req, state).await.map_err(|_| unsupported(&headers))?;
    let mut map = Map::new();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" && field.file_name().is_some() {
            return Err(replace_refused());
        }
        let bytes = read_capped(&mut field, 4096).await?;
        map.insert(name, crate::extract::text_part(String::from_utf8_lossy(&bytes).into_owned()));
    }
    Ok(map)
}

fn replace_refused() -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, "Cannot update image file. Delete and upload a new one instead.")
}

async fn update(state: AppState, id: i64, req: Request) -> ApiResult<Response> {
    if images::get(&state.pool, id).await?.is_none() {
        return Err(no_image());
    }
    let fields = update_fields(&state, req).await?;
    let patch = parse_patch(&fields)?;
    let row = images::update(&state.pool, id, &patch).await?.ok_or_else(no_image)?;
    Ok(respond(&state, StatusCode::OK, &row))
}

/// Updates `alt_text`, `order`, `is_primary` (setting primary unsets the product's other one).
#[utoipa::path(put, path = "/api/admin/products/images/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    request_body(content_type = "application/json", description = "`{alt_text?, order?, is_primary?}`"),
    responses((status = 200, description = "ProductImage"),
        (status = 400, description = "`{\"error\":\"Cannot update image file. Delete and upload a new one instead.\"}` or `{field:[…]}`"),
        (status = 401), (status = 403), (status = 404)))]
async fn put_image(
    State(state): State<AppState>,
    AdminStar(_a): AdminStar,
    Id(id): Id,
    req: Request,
) -> ApiResult<Response> {
    update(state, id, req).await
}

/// As PUT.
#[utoipa::path(patch, path = "/api/admin/products/images/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    request_body(content_type = "application/json", description = "`{alt_text?, order?, is_primary?}`"),
    responses((status = 200, description = "ProductImage"), (status = 400), (status = 401), (status = 403), (status = 404)))]
async fn patch_image(
    State(state): State<AppState>,
    AdminStar(_a): AdminStar,
    Id(id): Id,
    req: Request,
) -> ApiResult<Response> {
    update(state, id, req).await
}

/// Deletes an image; the next by order becomes primary; the stored files are removed by the
/// media worker.
#[utoipa::path(delete, path = "/api/admin/products/images/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
async fn delete_image(State(state): State<AppState>, AdminStar(_a): AdminStar, Id(id): Id) -> ApiResult<Response> {
    if images::delete(&state.pool, id).await? { Ok(StatusCode::NO_CONTENT.into_response()) } else { Err(no_image()) }
}

/// Makes the image its product's primary one.
#[utoipa::path(patch, path = "/api/admin/products/images/{id}/set-primary/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "`{message:\"Image set as primary successfully\", image}`"),
        (status = 401), (status = 403), (status = 404)))]
async fn set_primary(State(state): State<AppState>, AdminStar(_a): AdminStar, Id(id): Id) -> ApiResult<Response> {
    let row = images::set_primary(&state.pool, id).await?.ok_or_else(no_image)?;
    Ok(Json(json!({
        "message": "Image set as primary successfully",
        "image": image_json(&state.cfg.public_base_url, &row),
    }))
    .into_response())
}

/// `(id, order)` pairs of `{items:[{id, order}]}` or §5 #9 `{image_ids:[…]}`.
fn parse_reorder(body: &Body) -> Option<Vec<(i64, i32)>> {
    let present = |key: &str| body.0.get(key).filter(|v| !v.is_null());
    let as_id = |v: &Value| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    if let Some(items) = present("items") {
        let items = items.as_array().filter(|a| !a.is_empty())?;
        return items
            .iter()
            .map(|entry| {
                let entry = entry.as_object()?;
                Some((as_id(entry.get("id")?)?, int_value(entry.get("order")?)?))
            })
            .collect();
    }
    let ids = present("image_ids")?.as_array().filter(|a| !a.is_empty())?;
    ids.iter().enumerate().map(|(pos, v)| Some((as_id(v)?, i32::try_from(pos).ok()?))).collect()
}

/// Sets the order of several images.
#[utoipa::path(patch, path = "/api/admin/products/images/reorder/", tag = "admin-catalogue",
    security(("bearer" = [])),
    request_body(content_type = "application/json", description = "`{items:[{id, order}]}` or `{image_ids:[…]}` (order = 0-based position)"),
    responses((status = 200, description = "`{message:\"Successfully reordered <n> images\", items:[ProductImage]}`"),
        (status = 400, description = "`{\"error\":\"Items array is required with format: [{\\\"id\\\": 1, \\\"order\\\": 0}, ...]\"}`"),
        (status = 401), (status = 403), (status = 404, description = "`{\"error\":\"One or more images not found\"}`")))]
async fn reorder_images(State(state): State<AppState>, AdminStar(_a): AdminStar, body: Body) -> ApiResult<Response> {
    let items = parse_reorder(&body).ok_or_else(|| {
        ApiError::error(
            StatusCode::BAD_REQUEST,
            "Items array is required with format: [{\"id\": 1, \"order\": 0}, ...]",
        )
    })?;
    let rows = images::reorder(&state.pool, &items)
        .await?
        .ok_or_else(|| ApiError::error(StatusCode::NOT_FOUND, "One or more images not found"))?;
    let base = &state.cfg.public_base_url;
    Ok(Json(json!({
        "message": format!("Successfully reordered {} images", rows.len()),
        "items": rows.iter().map(|r| image_json(base, r)).collect::<Vec<_>>(),
    }))
    .into_response())
}
