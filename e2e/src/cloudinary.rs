//! A fake Cloudinary upload API on a random local port, reached through `CLOUDINARY_API_BASE`.
//! Like the real one it checks `api_key`, `timestamp` and the SHA-1 signature of the sorted
//! parameters (401 `Invalid Signature`, 401 unknown key, 400 missing or stale parameters),
//! keeps uploaded assets by public id with their delivery type (`upload`, or `authenticated`
//! for private files), answers with a realistic `secure_url`, destroys them, and serves private
//! assets only through a signed, unexpired `download` URL (as the real private download API).
//! It can be told to fail the next uploads with 500, or to answer them with a given raw body
//! (garbage, HTML, a foreign URL or public id) after authenticating them, storing nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use sha1::{Digest, Sha1};

/// One stored asset.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Public id.
    pub public_id: String,
    /// Format from the content (`png`, `jpg`, `gif`).
    pub format: String,
    /// The bytes uploaded.
    pub bytes: Vec<u8>,
    /// Version number in its URL.
    pub version: i64,
    /// Delivery type: `upload` (public) or `authenticated` (private).
    pub delivery_type: String,
    /// `image` or `raw`.
    pub resource_type: String,
}

#[derive(Default)]
struct Inner {
    assets: HashMap<String, Asset>,
    destroyed: Vec<(String, bool)>,
    upload_calls: usize,
    /// Raw answers for the next authenticated uploads: `(status, content type, body)`.
    canned_uploads: Vec<(u16, String, String)>,
}

#[derive(Clone)]
struct FakeState {
    cloud: String,
    api_key: String,
    api_secret: String,
    fail_uploads: Arc<AtomicUsize>,
    inner: Arc<Mutex<Inner>>,
}

/// The running fake.
pub struct FakeCloudinary {
    /// `http://127.0.0.1:PORT`, the value for `CLOUDINARY_API_BASE`.
    pub base: String,
    state: FakeState,
    task: tokio::task::JoinHandle<()>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message}}))).into_response()
}

/// Cloudinary's signature, computed independently of `common::media::sign`.
fn expected_signature(params: &BTreeMap<String, String>, secret: &str) -> String {
    let joined = params
        .iter()
        .filter(|(k, v)| {
            !["file", "cloud_name", "resource_type", "api_key", "signature"].contains(&k.as_str()) && !v.is_empty()
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    hex::encode(Sha1::digest(format!("{joined}{secret}").as_bytes()))
}

/// Checks cloud, key, timestamp and signature; `Err` is the real service's refusal.
fn authenticate(state: &FakeState, cloud: &str, params: &BTreeMap<String, String>) -> Result<(), (StatusCode, String)> {
    if cloud != state.cloud {
        return Err((StatusCode::NOT_FOUND, "Invalid cloud_name".to_string()));
    }
    let Some(key) = params.get("api_key") else {
        return Err((StatusCode::UNAUTHORIZED, "Must supply api_key".to_string()));
    };
    if *key != state.api_key {
        return Err((StatusCode::UNAUTHORIZED, format!("Unknown API key {key}")));
    }
    let Some(ts) = params.get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err((StatusCode::BAD_REQUEST, "Missing required parameter - timestamp".to_string()));
    };
    if (chrono::Utc::now().timestamp() - ts).abs() > 3600 {
        return Err((StatusCode::BAD_REQUEST, "Stale request - reported time is too far from now".to_string()));
    }
    let expected = expected_signature(params, &state.api_secret);
    if params.get("signature") != Some(&expected) {
        return Err((StatusCode::UNAUTHORIZED, "Invalid Signature. String to sign - see docs.".to_string()));
    }
    Ok(())
}

fn format_of(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if bytes.starts_with(b"\x89PNG") {
        Some("png")
    } else if bytes.starts_with(b"GIF8") {
        Some("gif")
    } else {
        None
    }
}

async fn upload(State(state): State<FakeState>, Path(cloud): Path<String>, form: Multipart) -> Response {
    store_upload(state, cloud, form, false).await
}

/// `raw/upload`: any bytes (documents); the public id keeps its extension, as Cloudinary's does.
async fn upload_raw(State(state): State<FakeState>, Path(cloud): Path<String>, form: Multipart) -> Response {
    store_upload(state, cloud, form, true).await
}

async fn store_upload(state: FakeState, cloud: String, mut form: Multipart, raw: bool) -> Response {
    state.inner.lock().unwrap().upload_calls += 1;
    let mut params = BTreeMap::new();
    let mut file: Option<Vec<u8>> = None;
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let Ok(bytes) = field.bytes().await else {
            return error(StatusCode::BAD_REQUEST, "Bad multipart body");
        };
        if name == "file" {
            file = Some(bytes.to_vec());
        } else {
            params.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    if let Err((status, message)) = authenticate(&state, &cloud, &params) {
        return error(status, &message);
    }
    let canned = {
        let mut inner = state.inner.lock().unwrap();
        (!inner.canned_uploads.is_empty()).then(|| inner.canned_uploads.remove(0))
    };
    if let Some((status, content_type, body)) = canned {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        return (status, [(axum::http::header::CONTENT_TYPE, content_type)], body).into_response();
    }
    if state.fail_uploads.load(Ordering::SeqCst) > 0 {
        state.fail_uploads.fetch_sub(1, Ordering::SeqCst);
        return error(StatusCode::INTERNAL_SERVER_ERROR, "General Error");
    }
    let Some(bytes) = file else {
        return error(StatusCode::BAD_REQUEST, "Missing required parameter - file");
    };
    let format = match (format_of(&bytes), raw) {
        (Some(f), false) => f,
        (None, false) => return error(StatusCode::BAD_REQUEST, "Invalid image file"),
        (_, true) => "",
    };
    let public_id = params
        .get("public_id")
        .cloned()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..20].to_string());
    let version = chrono::Utc::now().timestamp();
    let delivery_type = params.get("type").cloned().unwrap_or_else(|| "upload".to_string());
    if !["upload", "authenticated", "private"].contains(&delivery_type.as_str()) {
        return error(StatusCode::BAD_REQUEST, "Invalid type");
    }
    // Authenticated assets are reachable only through signed URLs.
    let delivery =
        if delivery_type == "upload" { "upload".to_string() } else { format!("{delivery_type}/s--x0x0x0x0--") };
    let resource_type = if raw { "raw" } else { "image" };
    let secure_url = if raw {
        format!("https://res.cloudinary.com/{}/raw/{delivery}/v{version}/{public_id}", state.cloud)
    } else {
        format!("https://res.cloudinary.com/{}/image/{delivery}/v{version}/{public_id}.{format}", state.cloud)
    };
    let size = bytes.len();
    state.inner.lock().unwrap().assets.insert(
        public_id.clone(),
        Asset {
            public_id: public_id.clone(),
            format: format.to_string(),
            bytes,
            version,
            delivery_type: delivery_type.clone(),
            resource_type: resource_type.to_string(),
        },
    );
    Json(json!({
        "asset_id": uuid::Uuid::new_v4().simple().to_string(),
        "public_id": public_id,
        "version": version,
        "signature": expected_signature(&BTreeMap::from([("public_id".to_string(), public_id.clone()), ("version".to_string(), version.to_string())]), &state.api_secret),
        "format": format,
        "resource_type": resource_type,
        "created_at": chrono::Utc::now().to_rfc3339(),
        "bytes": size,
        "type": delivery_type,
        "url": secure_url.replacen("https://", "http://", 1),
        "secure_url": secure_url,
    }))
    .into_response()
}

/// `POST /v1_1/{cloud}/{resource_type}/destroy`: as Cloudinary, an asset is found only under its
/// resource type and its delivery `type` (default `upload`): destroying a private
/// (`authenticated`) asset without `type=authenticated`, or a raw file through `image/`, answers
/// "not found" and keeps it.
async fn destroy(
    State(state): State<FakeState>,
    Path((cloud, resource_type)): Path<(String, String)>,
    axum::Form(params): axum::Form<BTreeMap<String, String>>,
) -> Response {
    if let Err((status, message)) = authenticate(&state, &cloud, &params) {
        return error(status, &message);
    }
    let Some(public_id) = params.get("public_id").cloned() else {
        return error(StatusCode::BAD_REQUEST, "Missing required parameter - public_id");
    };
    let invalidate = params.get("invalidate").is_some_and(|v| v == "true");
    let delivery = params.get("type").map(String::as_str).unwrap_or("upload").to_string();
    let mut inner = state.inner.lock().unwrap();
    let matches =
        inner.assets.get(&public_id).is_some_and(|a| a.resource_type == resource_type && a.delivery_type == delivery);
    let existed = matches && inner.assets.remove(&public_id).is_some();
    inner.destroyed.push((public_id, invalidate));
    Json(json!({"result": if existed { "ok" } else { "not found" }})).into_response()
}

/// `GET /v1_1/{cloud}/{resource_type}/download`: a signed private download URL. Checks key,
/// timestamp and signature like the upload API, then `expires_at`, then serves the asset.
async fn download(
    State(state): State<FakeState>,
    Path((cloud, resource_type)): Path<(String, String)>,
    axum::extract::Query(params): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    if let Err((status, message)) = authenticate(&state, &cloud, &params) {
        return error(status, &message);
    }
    match params.get("expires_at").and_then(|t| t.parse::<i64>().ok()) {
        Some(t) if t > chrono::Utc::now().timestamp() => {}
        _ => return error(StatusCode::UNAUTHORIZED, "Link expired or expires_at missing"),
    }
    let Some(public_id) = params.get("public_id") else {
        return error(StatusCode::BAD_REQUEST, "Missing required parameter - public_id");
    };
    let delivery_type = params.get("type").map(String::as_str).unwrap_or("upload");
    let inner = state.inner.lock().unwrap();
    let Some(asset) =
        inner.assets.get(public_id).filter(|a| a.resource_type == resource_type && a.delivery_type == delivery_type)
    else {
        return error(StatusCode::NOT_FOUND, "Resource not found");
    };
    if resource_type == "image" && params.get("format").map(String::as_str) != Some(asset.format.as_str()) {
        return error(StatusCode::NOT_FOUND, "Resource not found - format");
    }
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/octet-stream")], asset.bytes.clone())
        .into_response()
}

impl FakeCloudinary {
    /// Starts the fake for cloud `cloud` with the given credentials.
    pub async fn start(cloud: &str, api_key: &str, api_secret: &str) -> Self {
        let state = FakeState {
            cloud: cloud.to_string(),
            api_key: api_key.to_string(),
            api_secret: api_secret.to_string(),
            fail_uploads: Arc::new(AtomicUsize::new(0)),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new()
            .route("/v1_1/{cloud}/image/upload", post(upload))
            .route("/v1_1/{cloud}/raw/upload", post(upload_raw))
            .route("/v1_1/{cloud}/{resource_type}/destroy", post(destroy))
            .route("/v1_1/{cloud}/{resource_type}/download", axum::routing::get(download))
            .layer(DefaultBodyLimit::max(20 * 1024 * 1024))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, state, task }
    }

    /// The next `n` authenticated uploads answer 500.
    pub fn fail_next_uploads(&self, n: usize) {
        self.state.fail_uploads.store(n, Ordering::SeqCst);
    }

    /// The next authenticated upload is answered with this raw answer and stores nothing.
    pub fn answer_next_upload(&self, status: u16, content_type: &str, body: &str) {
        self.state.inner.lock().unwrap().canned_uploads.push((status, content_type.to_string(), body.to_string()));
    }

    /// Upload requests received (any outcome).
    pub fn upload_calls(&self) -> usize {
        self.state.inner.lock().unwrap().upload_calls
    }

    /// The asset stored under `public_id`.
    pub fn asset(&self, public_id: &str) -> Option<Asset> {
        self.state.inner.lock().unwrap().assets.get(public_id).cloned()
    }

    /// Public ids of stored assets.
    pub fn public_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.state.inner.lock().unwrap().assets.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Destroy calls received: `(public_id, invalidate)`.
    pub fn destroyed(&self) -> Vec<(String, bool)> {
        self.state.inner.lock().unwrap().destroyed.clone()
    }
}

impl Drop for FakeCloudinary {
    fn drop(&mut self) {
        self.task.abort();
    }
}
