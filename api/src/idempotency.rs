//! `Idempotency-Key` (API.md §9): the first response of a key per user is kept for 24 h and
//! replayed for repeats of the same request. A repeat while the first is still running gets
//! 409; the same key on a different request gets 422. Server errors and 429 are not kept, so
//! the client may retry them under the same key.
//!
//! A checkout writes the order it made onto its key in the order's own transaction
//! (`idempotency_key.order_id`). If the answer is then lost — the read-back or the storing of the
//! answer failed, or the process died — the key is free again at once for the same request, and
//! the retry is told of the order ([`Attempt::order_id`]) and answers with it instead of running
//! the checkout a second time.

use std::future::Future;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Longest accepted key.
pub const MAX_KEY: usize = 255;
/// An unfinished first request older than this is taken to have died; its key may be reused.
const STALE_SECONDS: i64 = 60;

fn request_hash(path: &str, body: &Value) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(body).unwrap_or_default());
    h.finalize().to_vec()
}

/// What a handler run under a key knows of earlier attempts of the same request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempt {
    /// The key's row (`None` when the request has no key): a handler that commits a resource
    /// writes its id onto this row in the same transaction.
    pub slot: Option<i64>,
    /// The order an earlier attempt committed before its answer was lost.
    pub order_id: Option<i64>,
}

/// Runs `handler` under the request's `Idempotency-Key`, if any. `body` is the request body as
/// sent (a repeat must send the same); the handler's typed answer is kept as JSON.
pub async fn run<F, T>(
    state: &AppState,
    headers: &HeaderMap,
    user_id: i64,
    path: &str,
    body: &Value,
    handler: F,
) -> Response
where
    F: Future<Output = ApiResult<(StatusCode, T)>>,
    T: Serialize,
{
    run_attempt(state, headers, user_id, path, body, |_| handler).await
}

/// [`run`] for a handler that records what it commits on the key ([`Attempt`]).
pub async fn run_attempt<M, F, T>(
    state: &AppState,
    headers: &HeaderMap,
    user_id: i64,
    path: &str,
    body: &Value,
    make: M,
) -> Response
where
    M: FnOnce(Attempt) -> F,
    F: Future<Output = ApiResult<(StatusCode, T)>>,
    T: Serialize,
{
    let handler = |attempt| async move {
        let (status, answer) = make(attempt).await?;
        let json = serde_json::to_value(answer).map_err(ApiError::internal)?;
        Ok((status, json))
    };
    let key = match headers.get("idempotency-key").map(|v| v.to_str().map(str::trim)) {
        None => return respond(handler(Attempt::default()).await),
        Some(Ok(k)) if !k.is_empty() && k.len() <= MAX_KEY => k.to_string(),
        Some(_) => {
            return ApiError::ext(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_KEY} visible characters."),
            )
            .into_response();
        }
    };
    let hash = request_hash(path, body);
    let attempt = match claim(state, user_id, &key, path, &hash).await {
        Ok(Claim::Run(attempt)) => attempt,
        Ok(Claim::Replay(status, body)) => {
            let mut res = (status, Json(body)).into_response();
            res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return res;
        }
        Err(e) => return e.into_response(),
    };
    let slot = attempt.slot;
    let result = handler(attempt).await;
    let (status, body) = match &result {
        Ok((s, b)) => (*s, Some(b.clone())),
        Err(e) => (e.status(), e.body()),
    };
    let keep = !status.is_server_error() && status != StatusCode::TOO_MANY_REQUESTS && body.is_some();
    let stored = if keep {
        sqlx::query("UPDATE idempotency_key SET status_code = $2, response_body = $3 WHERE id = $1")
            .bind(slot)
            .bind(i32::from(status.as_u16()))
            .bind(body)
            .execute(&state.pool)
            .await
    } else {
        // A key whose request committed an order stays, free for the retry to answer with it.
        sqlx::query("DELETE FROM idempotency_key WHERE id = $1 AND order_id IS NULL")
            .bind(slot)
            .execute(&state.pool)
            .await
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, "idempotency key not updated");
    }
    respond(result)
}

fn respond(result: ApiResult<(StatusCode, Value)>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

enum Claim {
    Run(Attempt),
    Replay(StatusCode, Value),
}

async fn claim(state: &AppState, user_id: i64, key: &str, path: &str, hash: &[u8]) -> ApiResult<Claim> {
    // Taken again: an expired key (as new), an unanswered one whose request committed an order
    // (answered from that order), or an unanswered one whose request is taken to have died.
    let inserted: Option<(i64, Option<i64>)> = sqlx::query_as(
        "INSERT INTO idempotency_key (user_id, idem_key, request_path, request_hash, expires_at)
         VALUES ($1, $2, $3, $4, now() + interval '24 hours')
         ON CONFLICT (user_id, idem_key) DO UPDATE
             SET request_path = EXCLUDED.request_path, request_hash = EXCLUDED.request_hash,
                 status_code = NULL, response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at,
                 order_id = CASE WHEN idempotency_key.expires_at < now() THEN NULL ELSE idempotency_key.order_id END
             WHERE idempotency_key.expires_at < now()
                OR (idempotency_key.status_code IS NULL
                    AND idempotency_key.request_hash = EXCLUDED.request_hash
                    AND (idempotency_key.order_id IS NOT NULL
                         OR idempotency_key.created_at < now() - make_interval(secs => $5)))
         RETURNING id, order_id",
    )
    .bind(user_id)
    .bind(key)
    .bind(path)
    .bind(hash)
    .bind(STALE_SECONDS as f64)
    .fetch_optional(&state.pool)
    .await?;
    if let Some((id, order_id)) = inserted {
        return Ok(Claim::Run(Attempt { slot: Some(id), order_id }));
    }
    let row: Option<(Vec<u8>, Option<i32>, Option<Value>)> = sqlx::query_as(
        "SELECT request_hash, status_code, response_body FROM idempotency_key WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(&state.pool)
    .await?;
    match row {
        Some((stored, _, _)) if stored != hash => Err(ApiError::Ext {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "idempotency_key_reused",
            message: "This Idempotency-Key was already used for a different request.".into(),
            details: serde_json::json!({}),
        }),
        Some((_, Some(code), Some(body))) => {
            Ok(Claim::Replay(StatusCode::from_u16(code as u16).unwrap_or(StatusCode::OK), body))
        }
        // Still running (or the row vanished between the two statements).
        _ => Err(ApiError::ext(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed.",
        )),
    }
}
