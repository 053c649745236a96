//! Public catalogue (API.md §4.3): packages and campaigns, paged, popular lists, product images.
//! Reads are cached in Redis under the catalogue version, which every change bumps in its own
//! transaction: a change is visible on the very next request.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::catalog::ProductType;
use common::catalog::products::{self, ImageRow, Product};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::Id;
use crate::state::AppState;

/// Page size of DRF's PageNumberPagination in the original.
pub const PAGE_SIZE: i64 = 20;

/// The public catalogue routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_packages))
        .routes(routes!(popular_packages))
        .routes(routes!(get_package))
        .routes(routes!(list_campaigns))
        .routes(routes!(popular_campaigns))
        .routes(routes!(get_campaign))
        .routes(routes!(product_images))
}

/// `?page=N`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based page number.
    page: Option<String>,
}

/// Absolute URL of a stored media path (Cloudinary URLs are stored absolute already).
pub fn media_url(base: &str, stored: &str) -> String {
    if stored.starts_with("http://") || stored.starts_with("https://") {
        stored.to_string()
    } else {
        format!("{base}/media/{}", stored.trim_start_matches('/'))
    }
}

/// §3 ProductImage.
pub fn image_json(base: &str, img: &ImageRow) -> Value {
    let image = media_url(base, &img.image);
    let thumb = img.thumbnail.as_deref().filter(|t| !t.is_empty()).map(|t| media_url(base, t));
    json!({
        "id": img.id,
        "image": image,
        "image_url": image,
        "thumbnail": thumb,
        "thumbnail_url": thumb,
        "is_primary": img.is_primary,
        "order": img.order,
        "alt_text": img.alt_text,
        "uploaded_at": common::time::ist(img.uploaded_at),
        "product_type": img.product_type,
        "product_id": img.product_id,
    })
}

/// §3 Package or Campaign, plus the §9.5 GST fields.
pub fn product_json(base: &str, kind: ProductType, p: &Product) -> Value {
    let images: Vec<Value> = p.images.iter().map(|i| image_json(base, i)).collect();
    let primary = p.images.iter().find(|i| i.is_primary).map(|i| image_json(base, i));
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "price": p.price,
        "description": p.description,
        "features": p.features,
        "deliverables": p.deliverables,
        "is_active": p.is_active,
        "is_popular": p.is_popular,
        "popular_order": p.popular_order,
        "created_at": common::time::ist(p.created_at),
        "updated_at": common::time::ist(p.updated_at),
        "created_by": p.created_by_id,
        "created_by_name": p.created_by_name,
        "images": images,
        "primary_image": primary,
        "type": kind.as_str(),
        "hsn_sac": p.hsn_sac,
        "gst_rate": p.gst_rate,
    });
    if let Value::Object(map) = &mut v {
        match kind {
            ProductType::Package => {
                let items: Vec<Value> =
                    p.items.iter().map(|i| json!({"id": i.id, "name": i.name, "quantity": i.quantity})).collect();
                map.insert("items".into(), Value::Array(items));
            }
            ProductType::Campaign => {
                map.insert("unit".into(), Value::String(p.unit.clone()));
            }
        }
    }
    v
}

fn invalid_page() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "Invalid page.")
}

/// Parses `?page` as DRF does (`last` accepted); out-of-range pages are 404 "Invalid page.".
pub fn page_number(raw: Option<&str>) -> Result<PageSpec, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(PageSpec::Number(1)),
        Some("last") => Ok(PageSpec::Last),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(PageSpec::Number(n)),
            _ => Err(invalid_page()),
        },
    }
}

/// The page number a request names, for `count` rows: `last` is the last page; a page past the
/// end is 404 "Invalid page." (page 1 always exists).
pub fn page_of(spec: PageSpec, count: i64) -> Result<i64, ApiError> {
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    match spec {
        PageSpec::Last => Ok(pages),
        PageSpec::Number(n) if n <= pages => Ok(n),
        PageSpec::Number(_) => Err(invalid_page()),
    }
}

/// A requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSpec {
    /// 1-based page.
    Number(i64),
    /// `?page=last`.
    Last,
}

/// DRF's envelope `{count, next, previous, results}` with absolute links.
pub fn envelope(base: &str, path: &str, page: i64, count: i64, results: Vec<Value>) -> Value {
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |n: i64| {
        if n == 1 { format!("{base}{path}") } else { format!("{base}{path}?page={n}") }
    };
    json!({
        "count": count,
        "next": if page < pages { Value::String(link(page + 1)) } else { Value::Null },
        "previous": if page > 1 { Value::String(link(page - 1)) } else { Value::Null },
        "results": results,
    })
}

fn json_response(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Serves `key` from the cache or computes, stores and serves it. Redis trouble only costs the
/// cache; the answer is always computed from PostgreSQL when the cache cannot help.
async fn cached<F, Fut>(state: &AppState, key: &str, compute: F) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<Value>>,
{
    let ttl = state.cfg.catalog_cache_ttl;
    if ttl.is_zero() {
        return Ok(json_response(compute().await?.to_string()));
    }
    let version = products::version(&state.pool).await?;
    let full_key = common::kv::key(&state.cfg, &["cache", "catalog", &version.to_string(), key]);
    let mut conn = state.redis.clone();
    let hit = tokio::time::timeout(
        Duration::from_millis(500),
        redis::cmd("GET").arg(&full_key).query_async::<Option<String>>(&mut conn),
    )
    .await;
    if let Ok(Ok(Some(body))) = hit {
        return Ok(json_response(body));
    }
    let body = compute().await?.to_string();
    let mut set = redis::cmd("SET");
    set.arg(&full_key).arg(&body).arg("EX").arg(ttl.as_secs().max(1));
    let store = set.query_async::<()>(&mut conn);
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(500), store).await {
        tracing::debug!(error = %e, "catalogue cache write failed");
    }
    Ok(json_response(body))
}

async fn list(state: AppState, kind: ProductType, page: Option<String>) -> ApiResult<Response> {
    let spec = page_number(page.as_deref())?;
    let path = format!("/api/{}s/", kind.as_str());
    let key = format!("list:{}:{:?}", kind.as_str(), spec);
    let st = state.clone();
    cached(&state, &key, || async move {
        let page = match spec {
            PageSpec::Number(n) => n,
            PageSpec::Last => {
                let (count, _) = products::list_active(&st.pool, kind, 0, 0).await?;
                ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
            }
        };
        let (count, rows) = products::list_active(&st.pool, kind, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
        if page > 1 && (page - 1) * PAGE_SIZE >= count {
            return Err(invalid_page());
        }
        let base = &st.cfg.public_base_url;
        let results = rows.iter().map(|p| product_json(base, kind, p)).collect();
        Ok(envelope(base, &path, page, count, results))
    })
    .await
}

async fn detail(state: AppState, kind: ProductType, id: i64) -> ApiResult<Response> {
    let key = format!("detail:{}:{id}", kind.as_str());
    let st = state.clone();
    cached(&state, &key, || async move {
        let p = products::get(&st.pool, kind, id, true).await?.ok_or_else(|| not_found(kind))?;
        Ok(product_json(&st.cfg.public_base_url, kind, &p))
    })
    .await
}

async fn popular(state: AppState, kind: ProductType) -> ApiResult<Response> {
    let key = format!("popular:{}", kind.as_str());
    let st = state.clone();
    cached(&state, &key, || async move {
        let rows = products::popular(&st.pool, kind).await?;
        Ok(Value::Array(rows.iter().map(|p| product_json(&st.cfg.public_base_url, kind, p)).collect()))
    })
    .await
}

/// `404 {"detail":"No Package matches the given query."}`.
pub fn not_found(kind: ProductType) -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, format!("No {} matches the given query.", kind.model_name()))
}

/// Active packages, paged: popular positions first, then newest.
#[utoipa::path(get, path = "/api/packages/", tag = "catalogue", params(PageQuery),
    responses((status = 200, description = "DRF page of Package"), (status = 404, description = "`{\"detail\":\"Invalid page.\"}`")))]
async fn list_packages(State(state): State<AppState>, Query(q): Query<PageQuery>) -> ApiResult<Response> {
    list(state, ProductType::Package, q.page).await
}

/// Up to three active popular packages.
#[utoipa::path(get, path = "/api/packages/popular/", tag = "catalogue", responses((status = 200, description = "[Package]")))]
async fn popular_packages(State(state): State<AppState>) -> ApiResult<Response> {
    popular(state, ProductType::Package).await
}

/// One active package.
#[utoipa::path(get, path = "/api/packages/{id}/", tag = "catalogue", params(("id" = i64, Path)),
    responses((status = 200, description = "Package"), (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn get_package(State(state): State<AppState>, Id(id): Id) -> ApiResult<Response> {
    detail(state, ProductType::Package, id).await
}

/// Active campaigns, paged.
#[utoipa::path(get, path = "/api/campaigns/", tag = "catalogue", params(PageQuery),
    responses((status = 200, description = "DRF page of Campaign"), (status = 404, description = "`{\"detail\":\"Invalid page.\"}`")))]
async fn list_campaigns(State(state): State<AppState>, Query(q): Query<PageQuery>) -> ApiResult<Response> {
    list(state, ProductType::Campaign, q.page).await
}

/// Up to three active popular campaigns.
#[utoipa::path(get, path = "/api/campaigns/popular/", tag = "catalogue", responses((status = 200, description = "[Campaign]")))]
async fn popular_campaigns(State(state): State<AppState>) -> ApiResult<Response> {
    popular(state, ProductType::Campaign).await
}

/// One active campaign.
#[utoipa::path(get, path = "/api/campaigns/{id}/", tag = "catalogue", params(("id" = i64, Path)),
    responses((status = 200, description = "Campaign"), (status = 404, description = "`{\"detail\":\"No Campaign matches the given query.\"}`")))]
async fn get_campaign(State(state): State<AppState>, Id(id): Id) -> ApiResult<Response> {
    detail(state, ProductType::Campaign, id).await
}

/// Error of an unknown `{type}` on the product routes.
pub fn invalid_type() -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, "Invalid product type. Must be \"package\" or \"campaign\"")
}

/// A product's images by order, newest first.
#[utoipa::path(get, path = "/api/products/{type}/{id}/images/", tag = "catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    responses((status = 200, description = "[ProductImage]"), (status = 400, description = "Invalid product type"), (status = 404)))]
async fn product_images(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let kind = ProductType::parse(&kind).ok_or_else(invalid_type)?;
    let id: i64 = id.parse().map_err(|_| ApiError::detail(StatusCode::NOT_FOUND, "Not found."))?;
    let product = products::get(&state.pool, kind, id, false).await?.ok_or_else(|| not_found(kind))?;
    let mut images = product.images;
    images.sort_by(|a, b| a.order.cmp(&b.order).then(b.uploaded_at.cmp(&a.uploaded_at)));
    let base = &state.cfg.public_base_url;
    Ok(axum::Json(Value::Array(images.iter().map(|i| image_json(base, i)).collect())).into_response())
}
