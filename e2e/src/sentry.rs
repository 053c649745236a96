//! A fake Sentry ingestion endpoint on a random local port (`SENTRY_DSN=<fake>.dsn()`). Like the
//! real one it takes envelopes at `POST /api/<project>/envelope/`, refuses an unknown project
//! (404) or a missing or wrong `X-Sentry-Auth` key (401), and keeps what it accepted.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

/// The public key and project of the fake DSN.
const KEY: &str = "e2epublickey0123456789abcdef";
const PROJECT: &str = "42";

/// One accepted envelope.
#[derive(Debug, Clone)]
pub struct Received {
    /// Every request header, as text (`name: value` lines).
    pub headers: String,
    /// The envelope as sent.
    pub body: String,
}

impl Received {
    /// The JSON items of the envelope (its header line excluded).
    pub fn items(&self) -> Vec<serde_json::Value> {
        self.body.lines().skip(1).filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).collect()
    }

    /// The event item (the payload with `platform`; an item header has `type` instead), if any.
    pub fn event(&self) -> Option<serde_json::Value> {
        self.items().into_iter().find(|v| v.get("platform").is_some())
    }
}

#[derive(Clone, Default)]
struct FakeState {
    received: Arc<Mutex<Vec<Received>>>,
}

/// The running fake.
pub struct FakeSentry {
    base: String,
    state: FakeState,
    task: tokio::task::JoinHandle<()>,
}

impl FakeSentry {
    /// Starts the fake on a random port.
    pub async fn start() -> Self {
        let state = FakeState::default();
        let app = Router::new().route("/api/{project}/envelope/", post(envelope)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, state, task }
    }

    /// The DSN to configure.
    pub fn dsn(&self) -> String {
        let host = self.base.trim_start_matches("http://");
        format!("http://{KEY}@{host}/{PROJECT}")
    }

    /// Envelopes accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for FakeSentry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn envelope(
    State(state): State<FakeState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if project != PROJECT {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "project not found"}))).into_response();
    }
    let auth = headers.get("x-sentry-auth").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !auth.starts_with("Sentry ") || !auth.contains(&format!("sentry_key={KEY}")) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"detail": "missing authorization information"})))
            .into_response();
    }
    let text = String::from_utf8_lossy(&body).to_string();
    let first = text.lines().next().unwrap_or("");
    if serde_json::from_str::<serde_json::Value>(first).is_err() {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"detail": "invalid envelope header"}))).into_response();
    }
    let header_text =
        headers.iter().map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or(""))).collect::<Vec<_>>().join("\n");
    if let Ok(mut r) = state.received.lock() {
        r.push(Received { headers: header_text, body: text });
    }
    (StatusCode::OK, axum::Json(json!({"id": "0"}))).into_response()
}
