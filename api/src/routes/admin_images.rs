//! Product images of the admin catalogue (API.md §4.9, §5 #6, #9, #20, §7.9): upload, read,
//! update, delete, set-primary, reorder.
//!
//! An upload is validated by content (magic bytes, extension, size, pixel count from the header
//! before any decoding, then a full decode), staged under `MEDIA_DIR/staging/<random>.<ext>`
//! and recorded with a `StoreProductImage` job in one transaction; the answer's URLs work at
//! once (`/media/staging/…`). The `media` worker then stores the file (Cloudinary or local
//! disk), makes the thumbnail and updates the row.

use axum::Json;
use axum::extract::multipart::{self, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use common::catalog::images::{self, CreateImageError, ImagePatch, NewImage};
use common::media::{self, ImageRejection};
use serde::{Deserialize, Serialize};
use serde_json::Map;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{not_found, product_type};
use crate::error::{ApiError, ApiResult};
use crate::extract::ProductPath;
use crate::extract::{AdminStar, Id};
use crate::input::{self, Field, FieldErrors, Payload, ReorderItem, Text};
use crate::state::AppState;
use crate::views::catalog::ProductImage;

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

/// The fields of an image besides its file (multipart parts, or a JSON or form body on update).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ImageFieldsRequest {
    /// At most 200 characters.
    #[schema(value_type = Option<String>, max_length = 200)]
    #[serde(default)]
    pub alt_text: Field,
    /// Position (upload default: after the last).
    #[schema(value_type = Option<i32>)]
    #[serde(default)]
    pub order: Field,
    /// Make it the product's primary image (the first upload always is).
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub is_primary: Field,
}

/// The multipart form of an upload.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ImageUploadForm {
    /// JPEG, PNG or GIF, at most 5 MB and 89,478,485 pixels.
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    alt_text: Option<String>,
    /// Position (default: after the last).
    order: Option<i32>,
    /// Make it the product's primary image (the first upload always is).
    is_primary: Option<bool>,
}

impl TryFrom<ImageFieldsRequest> for ImagePatch {
    type Error = FieldErrors;

    /// Absent or null keeps the stored value; so does a blank `order` or `is_primary` (forms
    /// send empty parts).
    fn try_from(b: ImageFieldsRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let alt_text = match &b.alt_text {
            Field::Null => None,
            sent => errors.take("alt_text", Text::optional(200).parse(sent)).flatten(),
        };
        let order = errors.take("order", input::integer(input::non_blank(&b.order))).flatten();
        let is_primary = errors.take("is_primary", input::boolean(input::non_blank(&b.is_primary))).flatten();
        errors.finish(|| Some(ImagePatch { alt_text, order, is_primary }))
    }
}

/// Body of the reorder: either form (§5 #9).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ImageReorderRequest {
    /// `[{id, order}]`; wins when sent.
    #[schema(value_type = Option<Vec<ReorderItem>>)]
    #[serde(default)]
    pub items: Field,
    /// Ids in their new order (`order` = 0-based position).
    #[schema(value_type = Option<Vec<i64>>)]
    #[serde(default)]
    pub image_ids: Field,
}

/// `(id, order)` pairs of a reorder, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOrders(pub Vec<(i64, i32)>);

impl TryFrom<ImageReorderRequest> for ImageOrders {
    type Error = FieldErrors;

    fn try_from(b: ImageReorderRequest) -> Result<Self, FieldErrors> {
        let pairs = input::reorder(("items", &b.items), ("image_ids", &b.image_ids))?;
        if pairs.is_empty() {
            let mut errors = FieldErrors::new();
            errors.add(if b.items.is_present() { "items" } else { "image_ids" }, "This list may not be empty.");
            return Err(errors);
        }
        Ok(ImageOrders(pairs))
    }
}

/// `{message, image}` of set-primary.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrimarySet {
    /// `Image set as primary successfully`.
    pub message: String,
    /// The image.
    pub image: ProductImage,
}

/// `{message, items}` of the reorder.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImagesReordered {
    /// `Successfully reordered <n> images`.
    pub message: String,
    /// The images, in the order given.
    pub items: Vec<ProductImage>,
}

fn image_error(msg: impl Into<String>) -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add("image", msg);
    errors
}

fn view(state: &AppState, row: &common::catalog::products::ImageRow) -> ProductImage {
    ProductImage::new(&state.cfg.public_base_url, row)
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
async fn read_capped(field: &mut multipart::Field<'_>, limit: usize) -> Result<Vec<u8>, ApiError> {
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

/// Uploads an image (*multipart*: `image`, `is_primary?`, `order?`, `alt_text?` ≤ 200).
#[utoipa::path(post, path = "/api/admin/products/{type}/{id}/images/", tag = "admin-catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    security(("bearer" = [])),
    request_body(content = ImageUploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "ProductImage; URLs work at once, the stored URLs replace them when the media worker is done", body = ProductImage),
        (status = 400, description = "`{\"image\":[…]}`, `{field:[…]}`, `{\"error\":\"Maximum of 10 images allowed per product\"}` or the invalid type's `{\"error\"}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`"),
        (status = 413, description = "`{\"detail\":\"Request body is too large.\"}`"),
        (status = 415, description = "`{\"detail\":\"Unsupported media type \\\"…\\\" in request.\"}`")))]
async fn upload_image(
    State(state): State<AppState>,
    AdminStar(_admin): AdminStar,
    path: ProductPath,
    headers: axum::http::HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<ProductImage>)> {
    let kind = product_type(&path.kind)?;
    let id = path.id;
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

    let patch = ImagePatch::try_from(input::from_map::<ImageFieldsRequest>(fields)?);
    let Some((file_name, bytes)) = file else {
        let msg = if not_a_file {
            "The submitted data was not a file. Check the encoding type on the form."
        } else {
            "No file was submitted."
        };
        let mut errors = patch.err().unwrap_or_default();
        errors.add("image", msg);
        return Err(errors.bare());
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
    let image_kind = verdict.map_err(|e: ImageRejection| image_error(e.message()).bare())?;
    let patch = patch.map_err(FieldErrors::bare)?;

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
    match state.catalog_cache.after_change(images::create(&state.pool, kind, id, &new).await) {
        Ok(row) => Ok((StatusCode::CREATED, Json(view(&state, &row)))),
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
    responses((status = 200, description = "ProductImage", body = ProductImage),
        (status = 404, description = "`{\"detail\":\"No ProductImage matches the given query.\"}`")))]
async fn get_image(State(state): State<AppState>, Id(id): Id) -> ApiResult<Json<ProductImage>> {
    let row = images::get(&state.pool, id).await?.ok_or_else(no_image)?;
    Ok(Json(view(&state, &row)))
}

/// The fields of an update body: JSON, form-encoded or multipart. A multipart `image` file is
/// refused (the file cannot be replaced).
async fn update_fields(state: &AppState, req: Request) -> ApiResult<ImageFieldsRequest> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        let Payload(body) = Payload::from_request(req, state).await?;
        return Ok(body);
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
    input::from_map(map)
}

fn replace_refused() -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, "Cannot update image file. Delete and upload a new one instead.")
}

async fn update(state: AppState, id: i64, req: Request) -> ApiResult<Json<ProductImage>> {
    if images::get(&state.pool, id).await?.is_none() {
        return Err(no_image());
    }
    let patch = ImagePatch::try_from(update_fields(&state, req).await?).map_err(FieldErrors::bare)?;
    let row = state.catalog_cache.after_change(images::update(&state.pool, id, &patch).await)?.ok_or_else(no_image)?;
    Ok(Json(view(&state, &row)))
}

/// Updates `alt_text`, `order`, `is_primary` (setting primary unsets the product's other one);
/// JSON, form-encoded or multipart (without a file).
#[utoipa::path(put, path = "/api/admin/products/images/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    request_body = ImageFieldsRequest,
    responses((status = 200, description = "ProductImage", body = ProductImage),
        (status = 400, description = "`{\"error\":\"Cannot update image file. Delete and upload a new one instead.\"}` or `{field:[…]}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ProductImage matches the given query.\"}`")))]
async fn put_image(
    State(state): State<AppState>,
    AdminStar(_a): AdminStar,
    Id(id): Id,
    req: Request,
) -> ApiResult<Json<ProductImage>> {
    update(state, id, req).await
}

/// As PUT.
#[utoipa::path(patch, path = "/api/admin/products/images/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    request_body = ImageFieldsRequest,
    responses((status = 200, description = "ProductImage", body = ProductImage),
        (status = 400, description = "`{\"error\":\"Cannot update image file. Delete and upload a new one instead.\"}` or `{field:[…]}`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ProductImage matches the given query.\"}`")))]
async fn patch_image(
    State(state): State<AppState>,
    AdminStar(_a): AdminStar,
    Id(id): Id,
    req: Request,
) -> ApiResult<Json<ProductImage>> {
    update(state, id, req).await
}

/// Deletes an image; the next by order becomes primary; the stored files are removed by the
/// media worker.
#[utoipa::path(delete, path = "/api/admin/products/images/{id}/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ProductImage matches the given query.\"}`")))]
async fn delete_image(State(state): State<AppState>, AdminStar(_a): AdminStar, Id(id): Id) -> ApiResult<StatusCode> {
    let deleted = state.catalog_cache.after_change(images::delete(&state.pool, id).await)?;
    if deleted { Ok(StatusCode::NO_CONTENT) } else { Err(no_image()) }
}

/// Makes the image its product's primary one.
#[utoipa::path(patch, path = "/api/admin/products/images/{id}/set-primary/", tag = "admin-catalogue",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "`{message:\"Image set as primary successfully\", image}`", body = PrimarySet),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"detail\":\"No ProductImage matches the given query.\"}`")))]
async fn set_primary(
    State(state): State<AppState>,
    AdminStar(_a): AdminStar,
    Id(id): Id,
) -> ApiResult<Json<PrimarySet>> {
    let row = state.catalog_cache.after_change(images::set_primary(&state.pool, id).await)?.ok_or_else(no_image)?;
    Ok(Json(PrimarySet { message: "Image set as primary successfully".into(), image: view(&state, &row) }))
}

/// Sets the order of several images, all or none.
#[utoipa::path(patch, path = "/api/admin/products/images/reorder/", tag = "admin-catalogue",
    security(("bearer" = [])),
    request_body = ImageReorderRequest,
    responses((status = 200, description = "`{message:\"Successfully reordered <n> images\", items:[ProductImage]}`", body = ImagesReordered),
        (status = 400, description = "`{\"error\":\"Items array is required with format: [{\\\"id\\\": 1, \\\"order\\\": 0}, ...]\"}`"),
        (status = 401), (status = 403), (status = 404, description = "`{\"error\":\"One or more images not found\"}`")))]
async fn reorder_images(
    State(state): State<AppState>,
    AdminStar(_a): AdminStar,
    Payload(body): Payload<ImageReorderRequest>,
) -> ApiResult<Json<ImagesReordered>> {
    let ImageOrders(items) = ImageOrders::try_from(body).map_err(|_| {
        ApiError::error(
            StatusCode::BAD_REQUEST,
            "Items array is required with format: [{\"id\": 1, \"order\": 0}, ...]",
        )
    })?;
    let rows = state
        .catalog_cache
        .after_change(images::reorder(&state.pool, &items).await)?
        .ok_or_else(|| ApiError::error(StatusCode::NOT_FOUND, "One or more images not found"))?;
    Ok(Json(ImagesReordered {
        message: format!("Successfully reordered {} images", rows.len()),
        items: rows.iter().map(|r| view(&state, r)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::{Value, json};

    use super::*;

    fn patch(v: Value) -> Result<ImagePatch, Value> {
        ImagePatch::try_from(serde_json::from_value::<ImageFieldsRequest>(v).unwrap()).map_err(FieldErrors::into_value)
    }

    #[test]
    fn image_fields_keep_what_is_not_sent() {
        let p = patch(json!({"alt_text": " Front ", "order": "7", "is_primary": "false"})).unwrap();
        assert_eq!((p.alt_text.as_deref(), p.order, p.is_primary), (Some("Front"), Some(7), Some(false)));
        let p = patch(json!({"alt_text": null, "order": "", "is_primary": ""})).unwrap();
        assert_eq!((p.alt_text, p.order, p.is_primary), (None, None, None));
        assert_eq!(
            patch(json!({"alt_text": "x".repeat(201), "order": "x", "is_primary": "maybe"})).unwrap_err(),
            json!({"alt_text": ["Ensure this field has no more than 200 characters."],
                   "order": ["A valid integer is required."], "is_primary": ["Must be a valid boolean."]})
        );
    }

    #[test]
    fn reorder_bodies() {
        let orders = |v: Value| ImageOrders::try_from(serde_json::from_value::<ImageReorderRequest>(v).unwrap());
        assert_eq!(orders(json!({"items": [{"id": 3, "order": 1}]})).unwrap(), ImageOrders(vec![(3, 1)]));
        assert_eq!(orders(json!({"image_ids": [4, "2"]})).unwrap(), ImageOrders(vec![(4, 0), (2, 1)]));
        for bad in [json!({}), json!({"items": []}), json!({"items": "x"}), json!({"items": [{"id": 3}]})] {
            assert!(orders(bad).is_err());
        }
    }
}
