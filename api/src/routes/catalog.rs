//! Public catalogue (API.md §4.3): packages and campaigns, paged, popular lists, product images.
//! Reads are cached in Redis under the catalogue version, which every change bumps in its own
//! transaction: a change is visible on the very next request.

use std::marker::PhantomData;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::catalog::ProductType;
use common::catalog::products;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::Id;
use crate::extract::ProductPath;
use crate::pagination::{Page, PageLinks, PageSpec, window};
use crate::state::AppState;
pub use crate::views::catalog::media_url;
use crate::views::catalog::{Campaign, Package, ProductImage, ProductShape};

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
    /// 1-based page number (or `last`).
    page: Option<String>,
}

/// A JSON body of type `T`, serialized once (and maybe served from the cache).
#[derive(Debug)]
pub struct Cached<T> {
    body: String,
    shape: PhantomData<T>,
}

impl<T: Serialize> Cached<T> {
    fn of(value: &T) -> ApiResult<Self> {
        Ok(Self::raw(serde_json::to_string(value).map_err(ApiError::internal)?))
    }

    fn raw(body: String) -> Self {
        Self { body, shape: PhantomData }
    }
}

impl<T> IntoResponse for Cached<T> {
    fn into_response(self) -> Response {
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], self.body).into_response()
    }
}

/// Serves `key` from the cache or computes, stores and serves it. Redis trouble only costs the
/// cache; the answer is always computed from PostgreSQL when the cache cannot help.
async fn cached<T, F, Fut>(state: &AppState, key: &str, compute: F) -> ApiResult<Cached<T>>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<T>>,
{
    let ttl = state.cfg.catalog_cache_ttl;
    if ttl.is_zero() {
        return Cached::of(&compute().await?);
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
        return Ok(Cached::raw(body));
    }
    let answer = Cached::of(&compute().await?)?;
    let mut set = redis::cmd("SET");
    set.arg(&full_key).arg(&answer.body).arg("EX").arg(ttl.as_secs().max(1));
    let store = set.query_async::<()>(&mut conn);
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(500), store).await {
        tracing::debug!(error = %e, "catalogue cache write failed");
    }
    Ok(answer)
}

/// A page of active products of type `S`.
async fn list<S: ProductShape>(state: AppState, page: Option<String>) -> ApiResult<Cached<Page<S>>> {
    let kind = S::KIND;
    let spec = PageSpec::parse(page.as_deref())?;
    let key = format!("list:{}:{:?}", kind.as_str(), spec);
    let st = state.clone();
    cached(&state, &key, || async move {
        let page = match spec {
            PageSpec::Number(n) => n,
            PageSpec::Last => spec.resolve(products::list_active(&st.pool, kind, 0, 0).await?.0)?,
        };
        let (limit, offset) = window(page);
        let (count, rows) = products::list_active(&st.pool, kind, offset, limit).await?;
        spec.resolve(count)?;
        let base = &st.cfg.public_base_url;
        // The route reads no other parameter, and the cache key holds only the page.
        let path = format!("/api/{}s/", kind.as_str());
        let links = PageLinks { base, path: &path, query: None };
        Ok(Page::new(&links, page, count, rows.iter().map(|p| S::build(base, p)).collect()))
    })
    .await
}

async fn detail<S: ProductShape>(state: AppState, id: i64) -> ApiResult<Cached<S>> {
    let kind = S::KIND;
    let key = format!("detail:{}:{id}", kind.as_str());
    let st = state.clone();
    cached(&state, &key, || async move {
        let p = products::get(&st.pool, kind, id, true).await?.ok_or_else(|| not_found(kind))?;
        Ok(S::build(&st.cfg.public_base_url, &p))
    })
    .await
}

async fn popular<S: ProductShape>(state: AppState) -> ApiResult<Cached<Vec<S>>> {
    let key = format!("popular:{}", S::KIND.as_str());
    let st = state.clone();
    cached(&state, &key, || async move {
        let rows = products::popular(&st.pool, S::KIND).await?;
        Ok(rows.iter().map(|p| S::build(&st.cfg.public_base_url, p)).collect())
    })
    .await
}

/// `404 {"detail":"No Package matches the given query."}`.
pub fn not_found(kind: ProductType) -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, format!("No {} matches the given query.", kind.model_name()))
}

/// Active packages, paged: popular positions first, then newest.
#[utoipa::path(get, path = "/api/packages/", tag = "catalogue", params(PageQuery),
    responses((status = 200, description = "DRF page of Package", body = Page<Package>),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`")))]
async fn list_packages(State(state): State<AppState>, Query(q): Query<PageQuery>) -> ApiResult<Cached<Page<Package>>> {
    list(state, q.page).await
}

/// Up to three active popular packages.
#[utoipa::path(get, path = "/api/packages/popular/", tag = "catalogue",
    responses((status = 200, description = "[Package] by popular position", body = Vec<Package>)))]
async fn popular_packages(State(state): State<AppState>) -> ApiResult<Cached<Vec<Package>>> {
    popular(state).await
}

/// One active package.
#[utoipa::path(get, path = "/api/packages/{id}/", tag = "catalogue", params(("id" = i64, Path)),
    responses((status = 200, description = "Package", body = Package),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn get_package(State(state): State<AppState>, Id(id): Id) -> ApiResult<Cached<Package>> {
    detail(state, id).await
}

/// Active campaigns, paged.
#[utoipa::path(get, path = "/api/campaigns/", tag = "catalogue", params(PageQuery),
    responses((status = 200, description = "DRF page of Campaign", body = Page<Campaign>),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`")))]
async fn list_campaigns(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Cached<Page<Campaign>>> {
    list(state, q.page).await
}

/// Up to three active popular campaigns.
#[utoipa::path(get, path = "/api/campaigns/popular/", tag = "catalogue",
    responses((status = 200, description = "[Campaign] by popular position", body = Vec<Campaign>)))]
async fn popular_campaigns(State(state): State<AppState>) -> ApiResult<Cached<Vec<Campaign>>> {
    popular(state).await
}

/// One active campaign.
#[utoipa::path(get, path = "/api/campaigns/{id}/", tag = "catalogue", params(("id" = i64, Path)),
    responses((status = 200, description = "Campaign", body = Campaign),
        (status = 404, description = "`{\"detail\":\"No Campaign matches the given query.\"}`")))]
async fn get_campaign(State(state): State<AppState>, Id(id): Id) -> ApiResult<Cached<Campaign>> {
    detail(state, id).await
}

/// Error of an unknown `{type}` on the product routes.
pub fn invalid_type() -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, "Invalid product type. Must be \"package\" or \"campaign\"")
}

/// The `{type}` of a product path, or [`invalid_type`].
pub fn product_type(raw: &str) -> ApiResult<ProductType> {
    ProductType::parse(raw).ok_or_else(invalid_type)
}

/// A product's images by order, newest first.
#[utoipa::path(get, path = "/api/products/{type}/{id}/images/", tag = "catalogue",
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path)),
    responses((status = 200, description = "[ProductImage] by order, newest first", body = Vec<ProductImage>),
        (status = 400, description = "`{\"error\":\"Invalid product type. Must be \\\"package\\\" or \\\"campaign\\\"\"}`"),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn product_images(State(state): State<AppState>, path: ProductPath) -> ApiResult<axum::Json<Vec<ProductImage>>> {
    let kind = product_type(&path.kind)?;
    let product = products::get(&state.pool, kind, path.id, false).await?.ok_or_else(|| not_found(kind))?;
    let mut images = product.images;
    images.sort_by(|a, b| a.order.cmp(&b.order).then(b.uploaded_at.cmp(&a.uploaded_at)));
    let base = &state.cfg.public_base_url;
    Ok(axum::Json(images.iter().map(|i| ProductImage::new(base, i)).collect()))
}
