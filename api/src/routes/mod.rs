//! Routes by resource and the application router.

pub mod admin_checklists;
pub mod admin_images;
pub mod admin_products;
pub mod admin_resource_fields;
pub mod analytics;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod dto;
pub mod health;
pub mod invoices;
pub mod notifications;
pub mod ops_backups;
pub mod ops_queues;
pub mod order_desk;
pub mod order_errors;
pub mod orders;
pub mod resource_uploads;
pub mod resources;
pub mod secure_files;
pub mod staff_checklist;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::middleware;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Every documented route and the OpenAPI document built from them.
pub fn documented() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(users::router())
        .merge(health::api_router())
        .merge(catalog::router())
        .merge(admin_products::router())
        .merge(cart::router())
        .merge(orders::router())
        .merge(resource_uploads::router())
        .merge(resources::router())
        .merge(invoices::router())
        .merge(order_desk::router())
        .merge(staff_checklist::router())
        .merge(admin_images::router())
        .merge(admin_checklists::router())
        .merge(admin_resource_fields::router())
        .merge(notifications::router())
        .merge(secure_files::router())
        .merge(analytics::router())
        .merge(ops_backups::router())
        .merge(ops_queues::router())
        .split_for_parts();
    let (public, public_doc) = health::public_router().merge(crate::metrics::router()).split_for_parts();
    doc.merge(public_doc);
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    crate::openapi::flatten_all_of(&mut doc);
    (public, api, doc)
}

/// The application: routes, documentation, fallbacks and every request-wide layer.
pub fn app(state: AppState) -> Router {
    let (public, api, doc) = documented();
    let matcher = Arc::new(route_matcher(&doc));
    let api = api.layer(from_fn_with_state(state.clone(), middleware::authenticate));
    let docs: Router<AppState> = SwaggerUi::new("/api/docs/").url("/api/schema/", doc).into();
    let cfg = state.cfg.clone();
    Router::new()
        .merge(public)
        .merge(api)
        .merge(docs)
        .merge(media_files(&cfg.media_dir))
        .fallback(move |req: Request| not_found(req, matcher.clone()))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), middleware::timeout))
        .layer(axum::middleware::from_fn(middleware::unavailable_shape))
        .layer(from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(axum::middleware::from_fn(middleware::nul_free_query))
        .layer(middleware::cors(&cfg.cors_allowed_origins))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(from_fn_with_state(state.clone(), middleware::request_id_and_log))
        .with_state(state)
}

/// `/media/…`: public product images only: `products/` (stored, with thumbnails) and `staging/`
/// (product images the worker has not stored yet), random names, no directory listing or index
/// pages; `nosniff` comes from the security headers layer. Nothing else under `MEDIA_DIR` (the
/// private files under `private/`, proofs of older releases under `payment_proofs/`) is served.
fn media_files(dir: &std::path::Path) -> Router<AppState> {
    let serve = |sub: &str| tower_http::services::ServeDir::new(dir.join(sub)).append_index_html_on_directories(false);
    Router::new()
        .nest_service(&format!("/media/{}", common::media::PRODUCTS_DIR), serve(common::media::PRODUCTS_DIR))
        .nest_service(&format!("/media/{}", common::media::STAGING_DIR), serve(common::media::STAGING_DIR))
}

/// Paths of the document, for telling "missing slash" from "no such route".
fn route_matcher(doc: &utoipa::openapi::OpenApi) -> matchit::Router<()> {
    let mut m = matchit::Router::new();
    for path in doc.paths.paths.keys() {
        let _ = m.insert(path.as_str(), ());
    }
    let _ = m.insert("/api/docs/", ());
    m
}

/// Django's `APPEND_SLASH`: a path that exists with a trailing slash → 301 there; else 404.
async fn not_found(req: Request, matcher: Arc<matchit::Router<()>>) -> Response {
    let path = req.uri().path();
    if !path.ends_with('/') {
        let slashed = format!("{path}/");
        if matcher.at(&slashed).is_ok() {
            let location = match req.uri().query() {
                Some(q) => format!("{slashed}?{q}"),
                None => slashed,
            };
            return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response();
        }
    }
    ApiError::detail(StatusCode::NOT_FOUND, "Not found.").into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    ApiError::detail(StatusCode::METHOD_NOT_ALLOWED, format!("Method \"{method}\" not allowed.")).into_response()
}
