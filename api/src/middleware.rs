//! Request-wide behaviour: request ids, the access log, security headers, timeouts, panics,
//! CORS and Bearer authentication.

use std::any::Any;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use common::accounts::users;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use crate::error::{ApiError, Unavailable};
use crate::extract::AuthUser;
use crate::state::AppState;

/// `X-Request-Id` of the current request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.to_string())
}

/// Echoes a client's `X-Request-Id` (≤128 visible characters) or makes one, and writes one log
/// line per request.
pub async fn request_id_and_log(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    let status = res.status().as_u16();
    let user_id = res.extensions().get::<LoggedUser>().map(|u| u.0);
    let elapsed = started.elapsed();
    state.http_metrics.observe(status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(request_id = %id, %method, path, status, latency_ms, user_id, "request");
        let cause = res.extensions().get::<crate::error::ErrorCause>().map(|c| c.0.as_str());
        state.reporter.http_error(&id, method.as_str(), &path, status, cause);
    } else {
        tracing::info!(request_id = %id, %method, path, status, latency_ms, user_id, "request");
    }
    res
}

/// Marks the response with the authenticated user's id for the access log.
#[derive(Debug, Clone, Copy)]
struct LoggedUser(i64);

/// Security headers on every response; HSTS when `SECURITY_HSTS_SECONDS` > 0.
/// Query values with a NUL (`%00`) can never match stored text (PostgreSQL text cannot hold one)
/// and would make PostgreSQL refuse the query. At the edge, once for every route, each NUL in a
/// query key or value becomes U+FFFD, as undecodable bytes already do: a search or filter with
/// it matches nothing (an unknown filter value gives an empty list, §5 #21), a malformed date or
/// page gets the route's usual 400 or 404, a `?token=` with it is a bad token.
pub async fn nul_free_query(mut req: Request, next: Next) -> Response {
    if let Some(query) = req.uri().query()
        && query.to_ascii_lowercase().contains("%00")
    {
        let cleaned = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                url::form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), v.replace('\0', "\u{FFFD}"))),
            )
            .finish();
        let path_and_query = format!("{}?{cleaned}", req.uri().path());
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if state.cfg.hsts_seconds > 0
        && let Ok(v) = HeaderValue::from_str(&format!("max-age={}; includeSubDomains", state.cfg.hsts_seconds))
    {
        h.insert(header::STRICT_TRANSPORT_SECURITY, v);
    }
    res
}

/// Whether a request is a file upload (a multipart body of up to tens of MB), which gets
/// `UPLOAD_TIMEOUT_SECONDS` instead of `REQUEST_TIMEOUT_SECONDS`: a 20 MB document takes longer
/// than 30 s below about 5.5 Mbit/s.
fn is_upload(req: &Request) -> bool {
    req.method() == axum::http::Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Ends requests that run longer than `REQUEST_TIMEOUT_SECONDS` (uploads:
/// `UPLOAD_TIMEOUT_SECONDS`) with a 503.
pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = if is_upload(&req) { state.cfg.upload_timeout } else { state.cfg.request_timeout };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!("request timed out");
            Unavailable { dependency: None, message: "The request took too long. Please try again." }.into_response()
        }
    }
}

/// Whether a path is one of this service's own routes (API.md §9), whose errors use the §9
/// shape, rather than one of the original's (§1). `login/` and `signup/` are the original's
/// even though §9.2 adds fields to them.
pub fn is_extension_path(path: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "/ready/",
        "/metrics",
        "/ops/",
        "/api/ops/",
        "/api/schema/",
        "/api/docs/",
        "/api/auth/token/",
        "/api/auth/password",
        "/api/orders/razorpay/webhook/",
    ];
    if PREFIXES.iter().any(|p| path.starts_with(p)) || path == "/api/auth/logout/" {
        return true;
    }
    // /api/admin/orders/{id}/refund/, refunds/, billing/
    path.strip_prefix("/api/admin/orders/").and_then(|rest| rest.split_once('/')).is_some_and(|(id, tail)| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && matches!(tail, "refund/" | "refunds/" | "billing/")
    })
}

/// Gives every 503 marked [`Unavailable`] (a dependency down, a request out of time) the body
/// of its route's family: the §9 shape on our routes, the original's otherwise.
pub async fn unavailable_shape(req: Request, next: Next) -> Response {
    let extension = is_extension_path(req.uri().path());
    let res = next.run(req).await;
    match res.extensions().get::<Unavailable>().copied() {
        Some(unavailable) if extension => {
            let (mut parts, _) = res.into_parts();
            let mut fresh = unavailable.response(unavailable.extension_body());
            // Keep what outer layers already set (request id, CORS) besides the body's own headers.
            parts.headers.remove(header::CONTENT_LENGTH);
            for (name, value) in fresh.headers().iter() {
                parts.headers.insert(name.clone(), value.clone());
            }
            *fresh.headers_mut() = parts.headers;
            fresh.extensions_mut().extend(parts.extensions);
            fresh
        }
        _ => res,
    }
}

/// Turns a panic into a 500 that reveals nothing; the panic is logged.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %msg, "handler panicked");
    let mut res =
        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "detail": "A server error occurred." })))
            .into_response();
    res.extensions_mut().insert(crate::error::ErrorCause(format!("panic: {msg}")));
    res
}

/// CORS per API.md §1 (credentials, the original's methods and headers, plus ours), exposing
/// `Content-Disposition` for invoice downloads.
pub fn cors(origins: &[String]) -> CorsLayer {
    let wildcard = origins.iter().any(|o| o == "*");
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    // A wildcard means any origin *without* credentials (`Access-Control-Allow-Origin: *`):
    // mirroring every origin with credentials would let any site act with a user's session.
    // The clients send Bearer tokens, which need no credentials mode. `check --deploy` reports
    // the wildcard.
    let origin = if wildcard { AllowOrigin::any() } else { AllowOrigin::list(allowed) };
    let headers = [
        "accept",
        "accept-encoding",
        "authorization",
        "content-type",
        "dnt",
        "origin",
        "user-agent",
        "x-csrftoken",
        "x-requested-with",
        "idempotency-key",
        "x-request-id",
    ]
    .into_iter()
    .map(HeaderName::from_static)
    .collect::<Vec<_>>();
    CorsLayer::new()
        .allow_origin(origin)
        .allow_credentials(!wildcard)
        .allow_methods([Method::DELETE, Method::GET, Method::OPTIONS, Method::PATCH, Method::POST, Method::PUT])
        .allow_headers(headers)
        .expose_headers([header::CONTENT_DISPOSITION, HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(86_400))
}

/// Resolves a Bearer token, when one is sent, to the stored user. A token that is present but
/// bad is refused here on every API route, anonymous ones included (API.md §1).
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let header_value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(token) = header_value.as_deref().and_then(bearer_token) else {
        return next.run(req).await;
    };
    let auth = match resolve(&state, token).await {
        Ok(auth) => auth,
        Err(err) => return err.into_response(),
    };
    let user_id = auth.user.id;
    req.extensions_mut().insert(auth);
    let mut res = next.run(req).await;
    res.extensions_mut().insert(LoggedUser(user_id));
    res
}

/// The token of a `Bearer` header (case-insensitive scheme); other schemes count as no
/// credentials (API.md §1.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The user of an access token, with every check the Bearer header gets.
pub async fn resolve(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    if token.is_empty() {
        return Err(ApiError::Unauthorized("Invalid token"));
    }
    let claims = state.jwt.verify(token).map_err(|e| ApiError::Unauthorized(e.detail()))?;
    // A recent positive answer of this process, kept current by change notices (auth_cache.rs);
    // else the database, and a positive answer is kept unless the user changed meanwhile.
    let found = match state.auth_cache.get(claims.user_id, claims.sid) {
        Some(hit) => Some(hit),
        None => {
            let ticket = state.auth_cache.ticket(claims.user_id);
            let found = users::find_for_token(&state.pool, claims.user_id, claims.sid).await?;
            if let (Some(ticket), Some((user, session_open))) = (ticket, &found)
                && user.is_active
                && (claims.sid.is_none() || *session_open)
            {
                state.auth_cache.put(ticket, claims.sid, user, *session_open);
            }
            found
        }
    };
    match found {
        Some((user, session_open)) if user.is_active => {
            // Our tokens die with their session (logout, password change or reset, refresh
            // reuse); the old backend's tokens with the password-change cutoff.
            let valid = match claims.sid {
                Some(_) => session_open,
                None => user.accepts_legacy_token(claims.iat),
            };
            if !valid {
                return Err(ApiError::Unauthorized("Invalid token"));
            }
            Ok(AuthUser { user, claims })
        }
        _ => Err(ApiError::Unauthorized("User not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_families() {
        for ours in [
            "/ready/",
            "/ops/queues/",
            "/api/ops/queues/emails/jobs/",
            "/api/ops/backups/",
            "/api/auth/token/refresh/",
            "/api/auth/logout/",
            "/api/auth/password-reset/confirm/",
            "/api/auth/password/change/",
            "/api/orders/razorpay/webhook/",
            "/api/admin/orders/12/refund/",
            "/api/admin/orders/12/refunds/",
            "/api/admin/orders/12/billing/",
        ] {
            assert!(is_extension_path(ours), "{ours}");
        }
        for original in [
            "/health/",
            "/api/auth/login/",
            "/api/auth/me/",
            "/api/auth/users/",
            "/api/packages/",
            "/api/admin/orders/",
            "/api/admin/orders/12/",
            "/api/admin/orders/12/status/",
            "/api/admin/orders/x/refund/",
        ] {
            assert!(!is_extension_path(original), "{original}");
        }
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer"), Some(""));
        assert_eq!(bearer_token("Token abc"), None);
        assert_eq!(bearer_token("Basic dXNlcjpw"), None);
    }
}

#[cfg(test)]
mod layer_tests {
    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::panic_response;

    async fn boom() -> &'static str {
        panic!("secret internal detail")
    }

    #[tokio::test]
    async fn a_panic_becomes_a_500_that_reveals_nothing() {
        let app: Router = Router::new().route("/boom", get(boom)).layer(CatchPanicLayer::custom(panic_response));
        let res = app.oneshot(Request::builder().uri("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(text, r#"{"detail":"A server error occurred."}"#);
    }

    #[tokio::test]
    async fn a_slow_request_ends_with_503() {
        let cfg = common::Config::from_vars([("REQUEST_TIMEOUT_SECONDS", "1")]).unwrap();
        let state = crate::AppState::new(cfg).unwrap();
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(state.clone(), super::timeout))
            .with_state(state);
        let started = std::time::Instant::now();
        let res = app.oneshot(Request::builder().uri("/slow").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
