//! Product images: validation by content (API.md §7.9), thumbnails, random storage names, safe
//! media paths, and the Cloudinary client (signed upload and destroy against
//! `CLOUDINARY_API_BASE`).
//!
//! Nothing a client names reaches a path: stored names are random and their extension comes
//! from the sniffed content.

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use image::{ImageFormat, ImageReader, Limits};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha1::{Digest, Sha1};

use crate::Config;

/// Largest image accepted (§7.9).
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Largest pixel count accepted, read from the header before decoding (Pillow's limit).
pub const MAX_IMAGE_PIXELS: u64 = 89_478_485;
/// Side of the square thumbnail.
pub const THUMBNAIL_SIZE: u32 = 300;
/// Cloudinary transformation of the thumbnail URL (§3 ProductImage).
pub const THUMBNAIL_TRANSFORMATION: &str = "c_fill,f_auto,g_auto,h_300,q_auto,w_300";
/// File-name extensions accepted for images.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "gif"];
/// Directory (under `MEDIA_DIR`) of uploads not yet stored by the worker.
pub const STAGING_DIR: &str = "staging";
/// Directory (under `MEDIA_DIR`) of private uploads not yet stored by the worker. Nothing under
/// `private/` is ever served by `/media/`.
pub const PRIVATE_STAGING_DIR: &str = "private/staging";
/// Directory (under `MEDIA_DIR`) of stored payment proofs.
pub const PROOFS_DIR: &str = "private/payment_proofs";
/// Issued invoices and credit notes (`common::orders::invoices`).
pub const INVOICES_DIR: &str = "private/invoices";
/// Customers' campaign material (resource submissions and the legacy photo and logo).
pub const RESOURCES_DIR: &str = "private/resources";
/// Where releases before the secure-file route stored payment proofs (no longer served publicly).
pub const LEGACY_PROOFS_DIR: &str = "payment_proofs";
/// Cloudinary folder of payment proofs.
pub const PROOFS_FOLDER: &str = "payment_proofs";
/// Directory (under `MEDIA_DIR`) of stored product images.
pub const PRODUCTS_DIR: &str = "products";
/// Directory (under `MEDIA_DIR`) of product thumbnails.
pub const THUMBS_DIR: &str = "products/thumbs";

/// Image content types we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// GIF.
    Gif,
}

impl ImageKind {
    /// Extension of stored files of this kind.
    pub fn ext(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Gif => "gif",
        }
    }

    /// Kind of a stored file from its extension.
    pub fn from_ext(ext: &str) -> Option<ImageKind> {
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Some(ImageKind::Jpeg),
            "png" => Some(ImageKind::Png),
            "gif" => Some(ImageKind::Gif),
            _ => None,
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::Png => ImageFormat::Png,
            ImageKind::Gif => ImageFormat::Gif,
        }
    }
}

/// The kind of image the bytes are, by their magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageKind::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageKind::Gif)
    } else {
        None
    }
}

/// Why an uploaded image was refused; [`ImageRejection::message`] is the `{"image":[…]}` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRejection {
    /// Zero bytes.
    Empty,
    /// Over [`MAX_IMAGE_BYTES`].
    TooLarge,
    /// Extension not in [`IMAGE_EXTENSIONS`] (the lower-cased extension, maybe empty).
    Extension(String),
    /// Not a JPEG, PNG or GIF, or corrupt.
    NotImage,
    /// Header claims more than [`MAX_IMAGE_PIXELS`].
    TooManyPixels(u64),
}

impl ImageRejection {
    /// Error text in the original's words where it had them.
    pub fn message(&self) -> String {
        match self {
            ImageRejection::Empty => "The submitted file is empty.".into(),
            ImageRejection::TooLarge => "Image file too large. Maximum size is 5MB.".into(),
            ImageRejection::Extension(ext) => format!(
                "File extension \u{201c}{ext}\u{201d} is not allowed. Allowed extensions are: jpg, jpeg, png, gif."
            ),
            ImageRejection::NotImage => {
                "Upload a valid image. The file you uploaded was either not an image or a corrupted image.".into()
            }
            ImageRejection::TooManyPixels(n) => {
                format!("Image size ({n} pixels) exceeds the limit of {MAX_IMAGE_PIXELS} pixels.")
            }
        }
    }
}

/// Validates an upload: extension of the client's name, size, magic bytes, pixel count from
/// the header (before anything is decoded, so a decompression bomb allocates nothing), then a
/// full decode. Returns the content's kind, which names the stored file.
pub fn validate_image(file_name: &str, bytes: &[u8]) -> Result<ImageKind, ImageRejection> {
    let ext = Path::new(file_name).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        return Err(ImageRejection::Extension(ext));
    }
    if bytes.is_empty() {
        return Err(ImageRejection::Empty);
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImageRejection::TooLarge);
    }
    let kind = sniff(bytes).ok_or(ImageRejection::NotImage)?;
    let (w, h) = dimensions(kind, bytes).ok_or(ImageRejection::NotImage)?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 {
        return Err(ImageRejection::NotImage);
    }
    if pixels > MAX_IMAGE_PIXELS {
        return Err(ImageRejection::TooManyPixels(pixels));
    }
    decode(kind, bytes).map_err(|_| ImageRejection::NotImage)?;
    Ok(kind)
}

/// Width and height from the header only.
pub fn dimensions(kind: ImageKind, bytes: &[u8]) -> Option<(u32, u32)> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(decode_limits());
    reader.into_dimensions().ok()
}

fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    // Generous for 89.5 Mpx of RGBA, yet bounded whatever the header says.
    limits.max_alloc = Some(512 * 1024 * 1024);
    limits
}

fn decode(kind: ImageKind, bytes: &[u8]) -> Result<image::DynamicImage, image::ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(decode_limits());
    reader.decode()
}

/// A 300×300 fill-crop JPEG thumbnail of an image (CPU-bound: call from a blocking task).
pub fn make_thumbnail(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let kind = sniff(bytes).ok_or("not an image")?;
    let (w, h) = dimensions(kind, bytes).ok_or("unreadable image header")?;
    if u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS {
        return Err("image too large".into());
    }
    let img = decode(kind, bytes).map_err(|e| format!("decode: {e}"))?;
    let thumb = img.resize_to_fill(THUMBNAIL_SIZE, THUMBNAIL_SIZE, image::imageops::FilterType::Triangle);
    let rgb = thumb.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&rgb)
        .map_err(|e| format!("encode: {e}"))?;
    Ok(out)
}

/// A random file name with the extension of `kind`.
pub fn random_name(kind: ImageKind) -> String {
    format!("{}.{}", uuid::Uuid::new_v4().simple(), kind.ext())
}

/// The file under `media_dir` that a stored relative path names, if the path is one we could
/// have written: `staging/<name>`, `products/<name>`, `products/thumbs/<name>` or one of the
/// private directories, names of `[A-Za-z0-9_-]` with one extension. Anything else (`..`,
/// absolute, other directories) is `None`.
pub fn resolve_media_path(media_dir: &Path, rel: &str) -> Option<PathBuf> {
    let (dir, name) = rel.rsplit_once('/')?;
    if ![
        STAGING_DIR,
        PRODUCTS_DIR,
        THUMBS_DIR,
        PRIVATE_STAGING_DIR,
        PROOFS_DIR,
        INVOICES_DIR,
        RESOURCES_DIR,
        LEGACY_PROOFS_DIR,
    ]
    .contains(&dir)
    {
        return None;
    }
    let (stem, ext) = name.split_once('.')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok(stem) || !ok(ext) {
        return None;
    }
    Some(media_dir.join(dir).join(name))
}

/// Where a private file (payment proof, customer material, invoice) is kept: the stored value is
/// this key, never a public URL. `/media/` serves none of them; the secure-file routes do, after
/// their access checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateFile {
    /// A path under `MEDIA_DIR` ([`resolve_media_path`] rules).
    Local(String),
    /// A Cloudinary asset of delivery type `authenticated`: `cloudinary:<resource_type>/<public_id>`
    /// plus `.<format>` for images (raw public ids keep their extension).
    Cloudinary {
        /// `image` or `raw`.
        resource_type: String,
        /// Public id.
        public_id: String,
        /// Format of an image (`png`, `jpg`, `gif`); empty for raw files.
        format: String,
    },
    /// A public URL stored by an older release; it is public already.
    LegacyUrl(String),
}

impl PrivateFile {
    /// Reads a stored value.
    pub fn parse(stored: &str) -> Option<Self> {
        if let Some(rest) = stored.strip_prefix("cloudinary:") {
            let (resource_type, id) = rest.split_once('/')?;
            return match resource_type {
                "image" => {
                    let (public_id, format) = id.rsplit_once('.')?;
                    Some(Self::Cloudinary {
                        resource_type: "image".into(),
                        public_id: public_id.into(),
                        format: format.into(),
                    })
                }
                "raw" => {
                    Some(Self::Cloudinary { resource_type: "raw".into(), public_id: id.into(), format: String::new() })
                }
                _ => None,
            };
        }
        if is_url(stored) {
            return Some(Self::LegacyUrl(stored.to_string()));
        }
        (!stored.is_empty()).then(|| Self::Local(stored.to_string()))
    }

    /// The value to store.
    pub fn key(&self) -> String {
        match self {
            Self::Local(rel) => rel.clone(),
            Self::Cloudinary { resource_type, public_id, format } if format.is_empty() => {
                format!("cloudinary:{resource_type}/{public_id}")
            }
            Self::Cloudinary { resource_type, public_id, format } => {
                format!("cloudinary:{resource_type}/{public_id}.{format}")
            }
            Self::LegacyUrl(url) => url.clone(),
        }
    }

    /// The file's extension (lower case), which gives its content type.
    pub fn extension(&self) -> String {
        let name = match self {
            Self::Local(rel) => rel.as_str(),
            Self::Cloudinary { public_id, format, .. } if format.is_empty() => public_id.as_str(),
            Self::Cloudinary { format, .. } => return format.to_ascii_lowercase(),
            Self::LegacyUrl(url) => url.split(['?', '#']).next().unwrap_or(url),
        };
        name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).filter(|e| !e.contains('/')).unwrap_or_default()
    }
}

/// Whether a stored value is an absolute URL (Cloudinary) rather than a path under `MEDIA_DIR`.
pub fn is_url(stored: &str) -> bool {
    stored.starts_with("https://") || stored.starts_with("http://")
}

/// Cloudinary account from `CLOUDINARY_URL` (`cloudinary://KEY:SECRET@CLOUD`).
#[derive(Clone)]
pub struct CloudinaryCredentials {
    /// Cloud name.
    pub cloud_name: String,
    /// API key.
    pub api_key: String,
    /// API secret.
    pub api_secret: SecretString,
}

impl fmt::Debug for CloudinaryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudinaryCredentials")
            .field("cloud_name", &self.cloud_name)
            .field("api_key", &self.api_key)
            .field("api_secret", &"***")
            .finish()
    }
}

impl CloudinaryCredentials {
    /// Parses `cloudinary://KEY:SECRET@CLOUD`; `None` when any part is missing.
    pub fn parse(url: &str) -> Option<Self> {
        let url = url::Url::parse(url.trim()).ok()?;
        if url.scheme() != "cloudinary" {
            return None;
        }
        let decode = |s: &str| url::form_urlencoded::parse(s.as_bytes()).map(|(k, _)| k.into_owned()).next();
        let api_key = decode(url.username()).filter(|s| !s.is_empty())?;
        let api_secret = url.password().and_then(decode).filter(|s| !s.is_empty())?;
        let cloud_name = url.host_str().map(str::to_string).filter(|s| !s.is_empty())?;
        Some(Self { cloud_name, api_key, api_secret: SecretString::from(api_secret) })
    }
}

/// Parameters never signed.
const UNSIGNED: [&str; 5] = ["file", "cloud_name", "resource_type", "api_key", "signature"];

/// Cloudinary's request signature: the parameters except `file`, `cloud_name`, `resource_type`
/// and `api_key`, sorted by name, joined `k=v&…`, the API secret appended, SHA-1 in hex.
/// Empty values are left out, as Cloudinary's SDKs do.
pub fn sign(params: &[(&str, &str)], api_secret: &str) -> String {
    let mut signed: Vec<&(&str, &str)> =
        params.iter().filter(|(k, v)| !UNSIGNED.contains(k) && !v.is_empty()).collect();
    signed.sort_by(|a, b| a.0.cmp(b.0));
    let joined = signed.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut hasher = Sha1::new();
    hasher.update(joined.as_bytes());
    hasher.update(api_secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// The thumbnail URL of a Cloudinary delivery URL: [`THUMBNAIL_TRANSFORMATION`] inserted after
/// `/upload/`. `None` when the URL has no `/upload/`.
pub fn thumbnail_url(secure_url: &str) -> Option<String> {
    let at = secure_url.find("/upload/")? + "/upload/".len();
    Some(format!("{}{THUMBNAIL_TRANSFORMATION}/{}", &secure_url[..at], &secure_url[at..]))
}

/// The public id of a Cloudinary delivery URL we stored (`…/upload/v123/<public_id>.<ext>`).
pub fn public_id_from_url(url: &str) -> Option<String> {
    let at = url.find("/upload/")? + "/upload/".len();
    let mut rest = &url[at..];
    if let Some(stripped) = rest.strip_prefix(THUMBNAIL_TRANSFORMATION).and_then(|r| r.strip_prefix('/')) {
        rest = stripped;
    }
    if let Some((first, tail)) = rest.split_once('/')
        && first.len() > 1
        && first.starts_with('v')
        && first[1..].bytes().all(|b| b.is_ascii_digit())
    {
        rest = tail;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let id = match rest.rsplit_once('.') {
        Some((id, ext)) if !ext.contains('/') => id,
        _ => rest,
    };
    (!id.is_empty()).then(|| id.to_string())
}

/// A failed Cloudinary call.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Network trouble, timeout, 5xx or 429: worth another try.
    #[error("cloudinary unavailable: {0}")]
    Transient(String),
    /// Cloudinary refused the request (4xx: signature, key, parameters): retrying cannot help.
    #[error("cloudinary refused: {0}")]
    Rejected(String),
}

/// Classifies a non-2xx Cloudinary answer ([`crate::jobs::ops::retryable_http_status`]): 5xx,
/// 408, 409, 420 and 429 are [`MediaError::Transient`] (retried), every other status is
/// [`MediaError::Rejected`] (final); both keep Cloudinary's message.
pub fn refusal(status: u16, message: &str) -> MediaError {
    let text = format!("HTTP {status}: {message}");
    if crate::jobs::ops::retryable_http_status(status) {
        MediaError::Transient(text)
    } else {
        MediaError::Rejected(text)
    }
}

/// What an upload returned.
#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    /// Public id.
    pub public_id: String,
    /// HTTPS delivery URL.
    pub secure_url: String,
}

impl Uploaded {
    /// Checks an upload answer before its URL is stored and served to browsers: the public id
    /// asked for, and an HTTPS delivery URL on Cloudinary's CDN (`res.cloudinary.com` or another
    /// `*.cloudinary.com` host) that ends with that public id.
    pub fn check(&self, public_id: &str) -> Result<(), MediaError> {
        if self.public_id != public_id {
            return Err(MediaError::Rejected(format!("upload answered another public id `{}`", self.public_id)));
        }
        let url = url::Url::parse(&self.secure_url)
            .map_err(|_| MediaError::Rejected("upload answered a secure_url that is not a URL".into()))?;
        let host = url.host_str().unwrap_or("");
        let cdn = host == "res.cloudinary.com" || host.ends_with(".cloudinary.com");
        let path = url.path();
        let named =
            path.ends_with(public_id) || path.rsplit_once('.').is_some_and(|(stem, _)| stem.ends_with(public_id));
        if url.scheme() != "https" || !cdn || !named || url.query().is_some() {
            return Err(MediaError::Rejected(format!(
                "upload answered an unexpected secure_url `{}`",
                self.secure_url
            )));
        }
        Ok(())
    }
}

/// Whole-call timeout of a Cloudinary API request (uploads of up to tens of MB).
pub const CLOUDINARY_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Cloudinary calls at once per process.
pub const CLOUDINARY_MAX_IN_FLIGHT: usize = 16;
static CLOUDINARY_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CLOUDINARY_MAX_IN_FLIGHT);

/// Signed upload and destroy calls to Cloudinary's upload API.
#[derive(Debug, Clone)]
pub struct Cloudinary {
    creds: CloudinaryCredentials,
    api_base: String,
    http: reqwest::Client,
}

impl Cloudinary {
    /// A client for `creds` at `api_base` (e.g. `https://api.cloudinary.com`).
    pub fn new(creds: CloudinaryCredentials, api_base: &str, timeout: Duration) -> Result<Self, MediaError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| MediaError::Transient(format!("http client: {e}")))?;
        Ok(Self { creds, api_base: api_base.trim_end_matches('/').to_string(), http })
    }

    /// The configured client, or `None` while `CLOUDINARY_URL` is unset. A set but unparsable
    /// URL is an error (images would otherwise silently go to local disk).
    pub fn from_config(cfg: &Config) -> Result<Option<Self>, MediaError> {
        let Some(url) = &cfg.cloudinary_url else { return Ok(None) };
        let creds = CloudinaryCredentials::parse(url.expose())
            .ok_or_else(|| MediaError::Rejected("CLOUDINARY_URL is not cloudinary://KEY:SECRET@CLOUD".into()))?;
        Self::new(creds, &cfg.cloudinary_api_base, CLOUDINARY_CALL_TIMEOUT).map(Some)
    }

    /// Cloud name.
    pub fn cloud_name(&self) -> &str {
        &self.creds.cloud_name
    }

    fn endpoint(&self, action: &str) -> String {
        self.endpoint_for("image", action)
    }

    fn endpoint_for(&self, resource_type: &str, action: &str) -> String {
        format!("{}/v1_1/{}/{resource_type}/{action}", self.api_base, self.creds.cloud_name)
    }

    fn signed(&self, params: &[(&str, &str)]) -> Vec<(String, String)> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("timestamp", &timestamp));
        let signature = sign(&all, self.creds.api_secret.expose_secret());
        let mut out: Vec<(String, String)> = all.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        out.push(("api_key".into(), self.creds.api_key.clone()));
        out.push(("signature".into(), signature));
        out
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<serde_json::Value, MediaError> {
        // A slow Cloudinary holds at most this many calls of the process; the rest wait for a
        // slot up to the call timeout and are retried later (transient).
        let _slot = tokio::time::timeout(CLOUDINARY_CALL_TIMEOUT, CLOUDINARY_SLOTS.acquire())
            .await
            .map_err(|_| MediaError::Transient("every Cloudinary call slot busy".into()))?
            .map_err(|e| MediaError::Transient(e.to_string()))?;
        let res = req.send().await.map_err(|e| MediaError::Transient(e.to_string()))?;
        let status = res.status();
        let body: serde_json::Value = res.json().await.unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            // A 2xx that is not a JSON object (an HTML page of a proxy, garbage) is not an answer
            // of Cloudinary's: nothing may be recorded from it; a later try may get a real one.
            if !body.is_object() {
                return Err(MediaError::Transient(format!("HTTP {status}: the answer is not a JSON object")));
            }
            return Ok(body);
        }
        Err(refusal(status.as_u16(), body["error"]["message"].as_str().unwrap_or("no message")))
    }

    /// Uploads an image under `public_id` (overwriting, so a retried upload is the same asset).
    pub async fn upload(&self, bytes: Vec<u8>, file_name: &str, public_id: &str) -> Result<Uploaded, MediaError> {
        self.upload_to("image", bytes, file_name, public_id).await
    }

    /// Uploads a document (`raw/upload`; the public id keeps the file's extension).
    pub async fn upload_raw(&self, bytes: Vec<u8>, file_name: &str, public_id: &str) -> Result<Uploaded, MediaError> {
        self.upload_to("raw", bytes, file_name, public_id).await
    }

    /// Uploads a private file (delivery type `authenticated`: no public URL reaches it) as an
    /// image or a raw file; returns its storage key.
    pub async fn upload_private(
        &self,
        resource_type: &str,
        bytes: Vec<u8>,
        file_name: &str,
        public_id: &str,
    ) -> Result<PrivateFile, MediaError> {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in self.signed(&[("public_id", public_id), ("overwrite", "true"), ("type", "authenticated")]) {
            form = form.text(k, v);
        }
        form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()));
        let body = self.send(self.http.post(self.endpoint_for(resource_type, "upload")).multipart(form)).await?;
        // The asset is ours only if it is stored under the id we asked for.
        if body["public_id"].as_str() != Some(public_id) {
            return Err(MediaError::Rejected(format!("upload answered another public id: {}", body["public_id"])));
        }
        let public_id = public_id.to_string();
        let format =
            if resource_type == "raw" { String::new() } else { body["format"].as_str().unwrap_or("").to_string() };
        Ok(PrivateFile::Cloudinary { resource_type: resource_type.to_string(), public_id, format })
    }

    /// A signed download URL of a private asset that stops working after `valid_for`
    /// (Cloudinary's `download` API with `expires_at`). Built locally, no call is made.
    pub fn private_download_url(
        &self,
        resource_type: &str,
        public_id: &str,
        format: &str,
        valid_for: Duration,
        now_unix: i64,
    ) -> String {
        let expires_at = (now_unix + valid_for.as_secs() as i64).to_string();
        let mut params: Vec<(&str, &str)> =
            vec![("public_id", public_id), ("type", "authenticated"), ("expires_at", &expires_at)];
        if !format.is_empty() {
            params.push(("format", format));
        }
        let timestamp = now_unix.to_string();
        params.push(("timestamp", &timestamp));
        let signature = sign(&params, self.creds.api_secret.expose_secret());
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            query.append_pair(k, v);
        }
        query.append_pair("api_key", &self.creds.api_key);
        query.append_pair("signature", &signature);
        format!("{}?{}", self.endpoint_for(resource_type, "download"), query.finish())
    }

    async fn upload_to(
        &self,
        resource_type: &str,
        bytes: Vec<u8>,
        file_name: &str,
        public_id: &str,
    ) -> Result<Uploaded, MediaError> {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in self.signed(&[("public_id", public_id), ("overwrite", "true")]) {
            form = form.text(k, v);
        }
        form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()));
        let body = self.send(self.http.post(self.endpoint_for(resource_type, "upload")).multipart(form)).await?;
        let uploaded: Uploaded =
            serde_json::from_value(body).map_err(|e| MediaError::Rejected(format!("unexpected upload answer: {e}")))?;
        uploaded.check(public_id)?;
        Ok(uploaded)
    }

    /// Deletes an asset and invalidates CDN copies. `Ok(false)` when it did not exist.
    pub async fn destroy(&self, public_id: &str) -> Result<bool, MediaError> {
        let params = self.signed(&[("public_id", public_id), ("invalidate", "true")]);
        let body = self.send(self.http.post(self.endpoint("destroy")).form(&params)).await?;
        match body["result"].as_str() {
            Some("ok") => Ok(true),
            Some("not found") => Ok(false),
            other => Err(MediaError::Transient(format!("unexpected destroy result {other:?}"))),
        }
    }

    /// Deletes a private asset (delivery type `authenticated`) of `resource_type` (`image` or
    /// `raw`) and invalidates CDN copies. `Ok(false)` when it did not exist.
    pub async fn destroy_private(&self, resource_type: &str, public_id: &str) -> Result<bool, MediaError> {
        let params = self.signed(&[("public_id", public_id), ("type", "authenticated"), ("invalidate", "true")]);
        let body = self.send(self.http.post(self.endpoint_for(resource_type, "destroy")).form(&params)).await?;
        match body["result"].as_str() {
            Some("ok") => Ok(true),
            Some("not found") => Ok(false),
            other => Err(MediaError::Transient(format!("unexpected destroy result {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cloudinary_answers_are_classified_by_status() {
        let e = refusal(401, "Invalid Signature abc");
        assert!(matches!(&e, MediaError::Rejected(m) if m == "HTTP 401: Invalid Signature abc"));
        assert!(matches!(refusal(404, "Resource not found"), MediaError::Rejected(_)));
        for s in [408, 409, 420, 429, 500, 503] {
            assert!(matches!(refusal(s, "later"), MediaError::Transient(_)), "{s}");
        }
    }

    #[test]
    fn media_signature_matches_cloudinary_vector() {
        assert_eq!(
            sign(&[("timestamp", "1315060510"), ("public_id", "sample_image")], "abcd"),
            "b4ad47fb4e25c7bf5f92a20089f9db59bc302313"
        );
        // Excluded parameters do not change it.
        assert_eq!(
            sign(
                &[
                    ("public_id", "sample_image"),
                    ("file", "x"),
                    ("api_key", "k"),
                    ("cloud_name", "demo"),
                    ("resource_type", "image"),
                    ("timestamp", "1315060510")
                ],
                "abcd"
            ),
            "b4ad47fb4e25c7bf5f92a20089f9db59bc302313"
        );
    }

    #[test]
    fn media_credentials_parse() {
        let c = CloudinaryCredentials::parse("cloudinary://123456:s3cr%2Fet@demo").unwrap();
        assert_eq!(c.cloud_name, "demo");
        assert_eq!(c.api_key, "123456");
        assert_eq!(c.api_secret.expose_secret(), "s3cr/et");
        assert!(!format!("{c:?}").contains("s3cr"));
        assert!(CloudinaryCredentials::parse("cloudinary://key@demo").is_none());
        assert!(CloudinaryCredentials::parse("https://key:secret@demo").is_none());
    }

    #[test]
    fn media_thumbnail_url_and_public_id() {
        let url = "https://res.cloudinary.com/demo/image/upload/v1700000000/products/abc.png";
        let thumb = thumbnail_url(url).unwrap();
        assert_eq!(
            thumb,
            "https://res.cloudinary.com/demo/image/upload/c_fill,f_auto,g_auto,h_300,q_auto,w_300/v1700000000/products/abc.png"
        );
        assert_eq!(public_id_from_url(url).as_deref(), Some("products/abc"));
        assert_eq!(public_id_from_url(&thumb).as_deref(), Some("products/abc"));
        assert_eq!(public_id_from_url("https://x/upload/sample.jpg").as_deref(), Some("sample"));
        assert!(thumbnail_url("https://example.com/a.png").is_none());
    }

    #[test]
    fn media_paths_are_confined() {
        let dir = Path::new("/m");
        assert_eq!(resolve_media_path(dir, "staging/abc.png"), Some(PathBuf::from("/m/staging/abc.png")));
        assert_eq!(
            resolve_media_path(dir, "products/thumbs/a_b-c.jpg"),
            Some(PathBuf::from("/m/products/thumbs/a_b-c.jpg"))
        );
        for bad in [
            "../etc/passwd",
            "staging/../x.png",
            "/etc/x.png",
            "other/a.png",
            "staging/.png",
            "staging/a",
            "products/a/b.png",
            "staging/a.b.png",
        ] {
            assert_eq!(resolve_media_path(dir, bad), None, "{bad}");
        }
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 10, 10]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn media_validation_by_content() {
        let ok = png(40, 20);
        assert_eq!(validate_image("a.PNG", &ok), Ok(ImageKind::Png));
        assert_eq!(validate_image("a.jpg", &ok), Ok(ImageKind::Png));
        assert_eq!(validate_image("a.bmp", &ok), Err(ImageRejection::Extension("bmp".into())));
        assert_eq!(validate_image("a.png", b"not an image at all"), Err(ImageRejection::NotImage));
        assert_eq!(validate_image("a.png", b""), Err(ImageRejection::Empty));
        // A truncated PNG: right magic, undecodable.
        assert_eq!(validate_image("a.png", &ok[..40]), Err(ImageRejection::NotImage));
    }

    #[test]
    fn media_decompression_bomb_refused_from_header() {
        // A PNG header claiming 30000×30000 with almost no data behind it.
        let mut bomb = png(1, 1);
        // IHDR data starts at byte 16: width, height big-endian; fix its CRC.
        bomb[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(validate_image("bomb.png", &bomb), Err(ImageRejection::TooManyPixels(900_000_000)));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn media_thumbnail_is_300_square_jpeg() {
        let t = make_thumbnail(&png(640, 200)).unwrap();
        assert_eq!(sniff(&t), Some(ImageKind::Jpeg));
        assert_eq!(dimensions(ImageKind::Jpeg, &t), Some((300, 300)));
    }
}
