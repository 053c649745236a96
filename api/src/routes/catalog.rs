//! Public catalogue (API.md §4.3): packages and campaigns, paged, popular lists, product images.
//! Bodies are rendered once per catalogue version and served from process memory
//! ([`crate::catalog_cache`]), with a strong `ETag`; a matching `If-None-Match` gets `304`.

use std::marker::PhantomData;

use axum::body::Body;
use axum::extract::{FromRequestParts, Query, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::catalog::ProductType;
use common::catalog::products;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::catalog_cache::{Key, Rendered};
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

/// The request's `If-None-Match` values (usually none).
#[derive(Debug, Clone, Default)]
pub struct IfNoneMatch(Vec<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get_all(header::IF_NONE_MATCH).iter().cloned().collect()))
    }
}

/// Clients may keep a body but must revalidate it (with its `ETag`) before each use.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("no-cache");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON body of type `T`, rendered once (and maybe served from memory), or `304 Not Modified`
/// when the client holds it already.
#[derive(Debug)]
pub struct Cached<T> {
    rendered: Rendered,
    not_modified: bool,
    shape: PhantomData<T>,
}

impl<T> IntoResponse for Cached<T> {
    fn into_response(self) -> Response {
        let etag = self.rendered.etag;
        if self.not_modified {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, CACHE_CONTROL)])
                .into_response();
        }
        let headers = [(header::CONTENT_TYPE, JSON), (header::ETAG, etag), (header::CACHE_CONTROL, CACHE_CONTROL)];
        (StatusCode::OK, headers, Body::from(self.rendered.body)).into_response()
    }
}

/// Serves `key` from this process's cache or renders it with `render` (from PostgreSQL), then
/// answers `304` if the client's `If-None-Match` matches.
async fn cached<T, F, Fut>(state: &AppState, key: Key, inm: IfNoneMatch, render: F) -> ApiResult<Cached<T>>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<T>>,
{
    let ttl = state.cfg.catalog_cache_ttl;
    let rendered = state
        .catalog_cache
        .get(&state.live, &state.pool, ttl, key, || async {
            let value = render().await?;
            let mut body = Vec::with_capacity(16 * 1024);
            serde_json::to_writer(&mut body, &value).map_err(ApiError::internal)?;
            Ok(body)
        })
        .await?;
    let not_modified = rendered.matches(&inm.0);
    Ok(Cached { rendered, not_modified, shape: PhantomData })
}

/// A page of active products of type `S`. The page is cached without the request's other
/// query parameters; when there are some, its `next`/`previous` links are rewritten to keep them
/// (as DRF does), from the same cached rows.
async fn list<S: ProductShape>(
    state: AppState,
    page: Option<String>,
    raw: Option<String>,
    inm: IfNoneMatch,
) -> ApiResult<Cached<Page<S>>> {
    let kind = S::KIND;
    let spec = PageSpec::parse(page.as_deref())?;
    let number = match spec {
        PageSpec::Number(n) => Some(n),
        PageSpec::Last => None,
    };
    let key = Key::List(kind, number);
    let st = &state;
    let path = format!("/api/{}s/", kind.as_str());
    let p = &path;
    let held = inm.clone();
    let page = cached(&state, key, inm, move || async move {
        let page = match spec {
            PageSpec::Number(n) => n,
            PageSpec::Last => spec.resolve(products::count_active(&st.pool, kind).await?)?,
        };
        let (limit, offset) = window(page);
        let (count, rows) = products::list_active(&st.pool, kind, offset, limit).await?;
        spec.resolve(count)?;
        let base = &st.cfg.public_base_url;
        let links = PageLinks { base, path: p, query: None, explicit_first: false };
        Ok(Page::new(&links, page, count, rows.iter().map(|p| S::build(base, p)).collect()))
    })
    .await?;
    let Some(query) = raw.filter(|q| PageLinks::has_other_parameters(q)) else { return Ok(page) };
    let links = PageLinks { base: &state.cfg.public_base_url, path: &path, query: Some(&query), explicit_first: false };
    let mut value: serde_json::Value = serde_json::from_slice(&page.rendered.body).map_err(ApiError::internal)?;
    for name in ["next", "previous"] {
        if let Some(link) = value.get_mut(name)
            && let Some(url) = link.as_str()
        {
            *link = serde_json::Value::String(links.relink(url));
        }
    }
    let rendered = Rendered::new(serde_json::to_vec(&value).map_err(ApiError::internal)?);
    let not_modified = rendered.matches(&held.0);
    Ok(Cached { rendered, not_modified, shape: PhantomData })
}

async fn detail<S: ProductShape>(state: AppState, id: i64, inm: IfNoneMatch) -> ApiResult<Cached<S>> {
    let kind = S::KIND;
    let st = &state;
    cached(&state, Key::Detail(kind, id), inm, move || async move {
        let p = products::get(&st.pool, kind, id, true).await?.ok_or_else(|| not_found(kind))?;
        Ok(S::build(&st.cfg.public_base_url, &p))
    })
    .await
}

async fn popular<S: ProductShape>(state: AppState, inm: IfNoneMatch) -> ApiResult<Cached<Vec<S>>> {
    let st = &state;
    cached(&state, Key::Popular(S::KIND), inm, move || async move {
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
#[utoipa::path(get, path = "/api/packages/", tag = "catalogue", params(PageQuery, ("If-None-Match" = Option<String>, Header, description = "`ETag`s held (`*`, lists and `W/` tags accepted): `304` when one matches")),
    responses((status = 200, description = "DRF page of Package", body = Page<Package>, headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 304, description = "Not Modified: `If-None-Match` matched the current `ETag`; empty body", headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`")))]
async fn list_packages(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    RawQuery(raw): RawQuery,
    inm: IfNoneMatch,
) -> ApiResult<Cached<Page<Package>>> {
    list(state, q.page, raw, inm).await
}

/// Up to three active popular packages.
#[utoipa::path(get, path = "/api/packages/popular/", tag = "catalogue", params(("If-None-Match" = Option<String>, Header, description = "`ETag`s held (`*`, lists and `W/` tags accepted): `304` when one matches")),
    responses((status = 200, description = "[Package] by popular position", body = Vec<Package>, headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 304, description = "Not Modified: `If-None-Match` matched the current `ETag`; empty body", headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse")))))]
async fn popular_packages(State(state): State<AppState>, inm: IfNoneMatch) -> ApiResult<Cached<Vec<Package>>> {
    popular(state, inm).await
}

/// One active package.
#[utoipa::path(get, path = "/api/packages/{id}/", tag = "catalogue", params(("id" = i64, Path), ("If-None-Match" = Option<String>, Header, description = "`ETag`s held (`*`, lists and `W/` tags accepted): `304` when one matches")),
    responses((status = 200, description = "Package", body = Package, headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 304, description = "Not Modified: `If-None-Match` matched the current `ETag`; empty body", headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn get_package(State(state): State<AppState>, Id(id): Id, inm: IfNoneMatch) -> ApiResult<Cached<Package>> {
    detail(state, id, inm).await
}

/// Active campaigns, paged.
#[utoipa::path(get, path = "/api/campaigns/", tag = "catalogue", params(PageQuery, ("If-None-Match" = Option<String>, Header, description = "`ETag`s held (`*`, lists and `W/` tags accepted): `304` when one matches")),
    responses((status = 200, description = "DRF page of Campaign", body = Page<Campaign>, headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 304, description = "Not Modified: `If-None-Match` matched the current `ETag`; empty body", headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`")))]
async fn list_campaigns(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    RawQuery(raw): RawQuery,
    inm: IfNoneMatch,
) -> ApiResult<Cached<Page<Campaign>>> {
    list(state, q.page, raw, inm).await
}

/// Up to three active popular campaigns.
#[utoipa::path(get, path = "/api/campaigns/popular/", tag = "catalogue", params(("If-None-Match" = Option<String>, Header, description = "`ETag`s held (`*`, lists and `W/` tags accepted): `304` when one matches")),
    responses((status = 200, description = "[Campaign] by popular position", body = Vec<Campaign>, headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 304, description = "Not Modified: `If-None-Match` matched the current `ETag`; empty body", headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse")))))]
async fn popular_campaigns(State(state): State<AppState>, inm: IfNoneMatch) -> ApiResult<Cached<Vec<Campaign>>> {
    popular(state, inm).await
}

/// One active campaign.
#[utoipa::path(get, path = "/api/campaigns/{id}/", tag = "catalogue", params(("id" = i64, Path), ("If-None-Match" = Option<String>, Header, description = "`ETag`s held (`*`, lists and `W/` tags accepted): `304` when one matches")),
    responses((status = 200, description = "Campaign", body = Campaign, headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 304, description = "Not Modified: `If-None-Match` matched the current `ETag`; empty body", headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 404, description = "`{\"detail\":\"No Campaign matches the given query.\"}`")))]
async fn get_campaign(State(state): State<AppState>, Id(id): Id, inm: IfNoneMatch) -> ApiResult<Cached<Campaign>> {
    detail(state, id, inm).await
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
    params(("type" = String, Path, description = "package or campaign"), ("id" = i64, Path), ("If-None-Match" = Option<String>, Header, description = "`ETag`s held (`*`, lists and `W/` tags accepted): `304` when one matches")),
    responses((status = 200, description = "[ProductImage] by order, newest first", body = Vec<ProductImage>, headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 304, description = "Not Modified: `If-None-Match` matched the current `ETag`; empty body", headers(("ETag" = String, description = "Strong tag of the body"), ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"))),
        (status = 400, description = "`{\"error\":\"Invalid product type. Must be \\\"package\\\" or \\\"campaign\\\"\"}`"),
        (status = 404, description = "`{\"detail\":\"No Package matches the given query.\"}`")))]
async fn product_images(
    State(state): State<AppState>,
    path: ProductPath,
    inm: IfNoneMatch,
) -> ApiResult<Cached<Vec<ProductImage>>> {
    let kind = product_type(&path.kind)?;
    let (id, st) = (path.id, &state);
    cached(&state, Key::Images(kind, id), inm, move || async move {
        let product = products::get(&st.pool, kind, id, false).await?.ok_or_else(|| not_found(kind))?;
        let mut images = product.images;
        images.sort_by(|a, b| a.order.cmp(&b.order).then(b.uploaded_at.cmp(&a.uploaded_at)));
        let base = &st.cfg.public_base_url;
        Ok(images.iter().map(|i| ProductImage::new(base, i)).collect::<Vec<_>>())
    })
    .await
}
