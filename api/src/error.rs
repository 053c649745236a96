//! One error type whose variants render every error body of API.md.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Everything a handler can answer with besides success.
#[derive(Debug)]
pub enum ApiError {
    /// `{"detail": str}` (DRF views).
    Detail(StatusCode, String),
    /// `{"error": str}` (most original views).
    Error(StatusCode, String),
    /// `{"success": false, "message": str}`.
    Message(StatusCode, String),
    /// `{"success": false, "errors": {...}}`.
    Errors(StatusCode, Value),
    /// Bare `{field: [str]}` (DRF serializer errors).
    Fields(StatusCode, Value),
    /// §9 shape `{"error": {"code", "message", "details"}}`.
    Ext {
        /// HTTP status.
        status: StatusCode,
        /// snake_case code.
        code: &'static str,
        /// Human message.
        message: String,
        /// Per-field or other details.
        details: Value,
    },
    /// 401 with the DRF body and `WWW-Authenticate: Bearer`.
    Unauthorized(&'static str),
    /// 429 with the §1 body and `Retry-After`.
    RateLimited(u64),
    /// A dependency (`database`, `redis`) is unavailable: 503 in the route family's shape
    /// ([`Unavailable`]), nothing internal revealed.
    Unavailable(&'static str),
    /// Anything unexpected: logged in full, answered with a body that reveals nothing.
    Internal(String),
}

/// DRF's message for a missing token.
pub const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";
/// DRF's message for a wrong role.
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";

impl ApiError {
    /// `{"detail": msg}` with status.
    pub fn detail(status: StatusCode, msg: impl Into<String>) -> Self {
        ApiError::Detail(status, msg.into())
    }

    /// `{"error": msg}` with status.
    pub fn error(status: StatusCode, msg: impl Into<String>) -> Self {
        ApiError::Error(status, msg.into())
    }

    /// `{"success": false, "message": msg}`.
    pub fn message(status: StatusCode, msg: impl Into<String>) -> Self {
        ApiError::Message(status, msg.into())
    }

    /// 403 with the DRF body.
    pub fn forbidden() -> Self {
        ApiError::Detail(StatusCode::FORBIDDEN, NO_PERMISSION.into())
    }

    /// §9 shape with empty details.
    pub fn ext(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Ext { status, code, message: message.into(), details: json!({}) }
    }

    /// §9 422 with per-field details.
    pub fn validation(details: Value) -> Self {
        ApiError::Ext {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_error",
            message: "The request is not valid.".into(),
            details,
        }
    }

    /// An unexpected failure with its cause, for the log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Detail(s, _)
            | ApiError::Error(s, _)
            | ApiError::Message(s, _)
            | ApiError::Errors(s, _)
            | ApiError::Fields(s, _) => *s,
            ApiError::Ext { status, .. } => *status,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body of a client error (`None` for 401, 429 and server errors, whose responses
    /// carry headers or must not be kept).
    pub fn body(&self) -> Option<Value> {
        Some(match self {
            ApiError::Detail(_, m) => json!({ "detail": m }),
            ApiError::Error(_, m) => json!({ "error": m }),
            ApiError::Message(_, m) => json!({ "success": false, "message": m }),
            ApiError::Errors(_, e) => json!({ "success": false, "errors": e }),
            ApiError::Fields(_, e) => e.clone(),
            ApiError::Ext { code, message, details, .. } => {
                json!({ "error": { "code": code, "message": message, "details": details } })
            }
            ApiError::Unauthorized(_) | ApiError::RateLimited(_) | ApiError::Unavailable(_) | ApiError::Internal(_) => {
                return None;
            }
        })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if common::db::is_unavailable(&err) {
            tracing::error!(error = %err, "database unavailable");
            return ApiError::Unavailable(DATABASE);
        }
        ApiError::Internal(format!("database: {err}"))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("blocking task: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Detail(s, m) => (s, json!({ "detail": m })),
            ApiError::Error(s, m) => (s, json!({ "error": m })),
            ApiError::Message(s, m) => (s, json!({ "success": false, "message": m })),
            ApiError::Errors(s, e) => (s, json!({ "success": false, "errors": e })),
            ApiError::Fields(s, e) => (s, e),
            ApiError::Ext { status, code, message, details } => {
                (status, json!({ "error": { "code": code, "message": message, "details": details } }))
            }
            ApiError::Unauthorized(m) => {
                let mut res = (StatusCode::UNAUTHORIZED, axum::Json(json!({ "detail": m }))).into_response();
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return res;
            }
            ApiError::RateLimited(secs) => {
                let mut res = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({
                        "error": "Too many requests. Please try again later.",
                        "detail": "Rate limit exceeded",
                    })),
                )
                    .into_response();
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return res;
            }
            ApiError::Unavailable(dependency) => {
                return Unavailable { dependency: Some(dependency), message: UNAVAILABLE_MESSAGE }.into_response();
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                let mut res =
                    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({ "detail": "A server error occurred." })))
                        .into_response();
                res.extensions_mut().insert(ErrorCause(cause));
                return res;
            }
        };
        (status, axum::Json(body)).into_response()
    }
}

/// The dependency name of PostgreSQL in 503 answers and `/ready/`.
pub const DATABASE: &str = "database";
/// The dependency name of Redis.
pub const REDIS: &str = "redis";
/// Message of a 503 for a dependency that is down.
pub const UNAVAILABLE_MESSAGE: &str = "Service temporarily unavailable. Please try again shortly.";
/// Seconds a 503 asks clients to wait before trying again.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// A 503: a dependency is down or the request ran out of time. Its body depends on the route
/// family, which only the path tells, so the response carries this marker and
/// [`crate::middleware::unavailable_shape`] writes the body: the original's routes (API.md §1)
/// get `{"error": msg, "detail": msg}` (the clients read `error`, DRF's `detail`, as the §1
/// 429 body has both), ours (§9) `{"error": {"code": "service_unavailable", "message", "details":
/// {"dependency"}}}`. Until then the body is the §1 one.
#[derive(Debug, Clone, Copy)]
pub struct Unavailable {
    /// `database`, `redis`, or none (a request timeout).
    pub dependency: Option<&'static str>,
    /// What the client is told.
    pub message: &'static str,
}

impl Unavailable {
    /// The original's shape (§1).
    pub fn original_body(&self) -> Value {
        json!({ "error": self.message, "detail": self.message })
    }

    /// The §9 shape.
    pub fn extension_body(&self) -> Value {
        let details = match self.dependency {
            Some(d) => json!({ "dependency": d }),
            None => json!({}),
        };
        json!({ "error": { "code": "service_unavailable", "message": self.message, "details": details } })
    }

    /// A 503 with `body`, `Retry-After` and this marker.
    pub fn response(self, body: Value) -> Response {
        let mut res = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_AFTER));
        res.extensions_mut().insert(self);
        res
    }
}

impl IntoResponse for Unavailable {
    fn into_response(self) -> Response {
        self.response(self.original_body())
    }
}

/// Why a 5xx answer was given (never in its body): read by the access log's error reporting.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub String);

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;
