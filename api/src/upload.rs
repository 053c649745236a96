//! Multipart uploads in bounded memory: a form is read part by part, each file part streamed
//! chunk by chunk to a staging file `MEDIA_DIR/private/staging/<random>.<ext>` while its bytes
//! are counted, so a request holds a few chunks and the first [`HEAD_BYTES`] of each file,
//! whatever the sizes.
//!
//! - Each part gets a [`PartRule`] from the route: a file with its byte limit (as soon as the
//!   part passes it its staged file is deleted and the rest of the part skipped: it becomes
//!   [`Part::Refused`] with [`Refusal::TooLarge`]), a small text (at most [`TEXT_PART_LIMIT`]),
//!   or ignored.
//! - The whole body is limited too ([`read_form`]'s `limit`, which the route computes from the
//!   sum of its fields' limits; a text part such as `order_item_id` may tighten it, see
//!   [`FormRules::limit_after`]): past it the request is a 413.
//! - A client's file name is only used for its extension; a name carrying a path or control
//!   characters is refused unread ([`Refusal::BadFileName`]).
//! - Every staged file is a [`StagedFile`], which deletes its file when dropped unless
//!   [`StagedFile::keep`] was called after the database committed: an error anywhere, a lost
//!   connection or a timeout leaves nothing behind.
//!
//! A refused part does not end the reading: the other parts are read as usual, so a route can
//! report every field's error at once (as DRF does) and the client receives the answer after
//! sending its body, not a reset connection.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use common::media::{self, PRIVATE_STAGING_DIR};
use common::uploads::{HEAD_BYTES, MarkerScanner, client_name_ok, extension_of, storable_extension};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// Largest text part.
pub const TEXT_PART_LIMIT: usize = 64 * 1024;
/// Room for the multipart envelope of a form, on top of its parts' limits.
pub const FORM_OVERHEAD: u64 = 64 * 1024;
/// Room for each part's boundary and headers.
pub const PART_OVERHEAD: u64 = 1024;

/// What to do with a part, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartRule {
    /// A file of at most `max_bytes`; with `scan_markers` the whole stream is searched for
    /// `<?php` and `<script` (images: a polyglot is refused wherever its script sits).
    File {
        /// Byte limit.
        max_bytes: u64,
        /// Scan every chunk for script markers.
        scan_markers: bool,
    },
    /// A text of at most [`TEXT_PART_LIMIT`] bytes.
    Text,
    /// Read and discarded.
    Ignore,
}

/// A route's rules for its form.
pub trait FormRules {
    /// The rule of the part named `name`.
    fn part(&self, name: &str) -> PartRule;

    /// A smaller body limit once the text part `name` is known (e.g. the form's
    /// `order_item_id` names the line whose fields bound the form).
    fn limit_after(&self, _name: &str, _value: &str) -> Option<u64> {
        None
    }
}

/// A file part written to the private staging directory. Dropping it deletes the file, unless
/// [`StagedFile::keep`] was called.
#[derive(Debug)]
pub struct StagedFile {
    rel: String,
    path: PathBuf,
    size: u64,
    head: Vec<u8>,
    client_ext: String,
    kept: bool,
}

impl StagedFile {
    /// The storage key, `private/staging/<random>.<ext>`.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// The staged file on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes received.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first [`HEAD_BYTES`] (fewer for a smaller file).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The lower-cased extension of the client's file name, without its dot (maybe empty).
    pub fn client_extension(&self) -> &str {
        &self.client_ext
    }

    /// Renames the staged file to carry `ext` (the extension its content proved).
    pub async fn set_extension(&mut self, ext: &str) -> io::Result<()> {
        let stem = self.rel.rsplit_once('.').map(|(s, _)| s).unwrap_or(&self.rel).to_string();
        let rel = format!("{stem}.{ext}");
        if rel == self.rel {
            return Ok(());
        }
        let path = self.path.with_extension(ext);
        if self.size > 0 {
            tokio::fs::rename(&self.path, &path).await?;
        }
        self.rel = rel;
        self.path = path;
        Ok(())
    }

    /// Keeps the file (its key is committed); returns the key.
    pub fn keep(mut self) -> String {
        self.kept = true;
        std::mem::take(&mut self.rel)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.kept {
            // One unlink, done at once so nothing is left even if the request ends right here.
            match std::fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = %self.path.display(), error = %e, "staged file not removed"),
            }
        }
    }
}

/// One received part.
#[derive(Debug)]
pub enum Part {
    /// A text part.
    Text(String),
    /// A file part.
    File(StagedFile),
    /// An empty file input (`filename=""`, no bytes): what a browser sends when no file was
    /// chosen; counts as absent.
    NoFile,
    /// A part refused while it was read; nothing of it is kept.
    Refused(Refusal),
}

/// Why a part was refused while it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A file part passed its limit.
    TooLarge,
    /// A text part passed [`TEXT_PART_LIMIT`].
    TextTooLong,
    /// A file name with a path or control characters.
    BadFileName,
    /// A script marker in a scanned file.
    Forbidden,
}

/// The parts of a form by name (the last part of a name wins).
#[derive(Debug, Default)]
pub struct Form {
    parts: HashMap<String, Part>,
}

impl Form {
    /// A text part's value.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.parts.get(name) {
            Some(Part::Text(t)) => Some(t),
            _ => None,
        }
    }

    /// A part.
    pub fn get(&self, name: &str) -> Option<&Part> {
        self.parts.get(name)
    }

    /// Takes a part out of the form.
    pub fn take(&mut self, name: &str) -> Option<Part> {
        self.parts.remove(name)
    }
}

/// Why a form could not be read at all.
#[derive(Debug)]
pub enum UploadError {
    /// Not `multipart/form-data` (the content type sent).
    NotMultipart(String),
    /// Not a well-formed multipart body.
    Malformed(String),
    /// The body passed the form's limit.
    BodyTooLarge,
    /// The staging directory failed us.
    Storage(String),
}

impl From<UploadError> for ApiError {
    /// 415, 400 parse error, 413 or 500.
    fn from(e: UploadError) -> ApiError {
        match e {
            UploadError::NotMultipart(ct) => ApiError::detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported media type \"{ct}\" in request."),
            ),
            UploadError::Malformed(m) => {
                ApiError::detail(StatusCode::BAD_REQUEST, format!("Multipart form parse error - {m}"))
            }
            UploadError::BodyTooLarge => ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large."),
            UploadError::Storage(m) => ApiError::internal(format!("staging upload: {m}")),
        }
    }
}

/// Counts the body's bytes against a limit that may only shrink.
#[derive(Debug)]
struct BodyBudget {
    seen: AtomicU64,
    limit: AtomicU64,
    exceeded: AtomicBool,
}

impl BodyBudget {
    fn add(&self, n: usize) -> bool {
        let seen = self.seen.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if seen > self.limit.load(Ordering::Relaxed) {
            self.exceeded.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Lowers the limit; false when what was already received passes it.
    fn tighten(&self, limit: u64) -> bool {
        self.limit.fetch_min(limit, Ordering::Relaxed);
        if self.seen.load(Ordering::Relaxed) > limit {
            self.exceeded.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }
}

fn multipart_error(e: MultipartError, budget: &BodyBudget) -> UploadError {
    if budget.exceeded() || e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        UploadError::BodyTooLarge
    } else {
        UploadError::Malformed(e.body_text())
    }
}

fn storage(what: &str, e: io::Error) -> UploadError {
    UploadError::Storage(format!("{what}: {e}"))
}

/// Reads a multipart form of at most `limit` bytes under `rules`, staging its files under
/// `media_dir`. On any error every file staged so far is deleted.
pub async fn read_form(
    req: Request,
    media_dir: &Path,
    limit: u64,
    rules: &impl FormRules,
) -> Result<Form, UploadError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(UploadError::BodyTooLarge);
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let budget = Arc::new(BodyBudget {
        seen: AtomicU64::new(0),
        limit: AtomicU64::new(limit),
        exceeded: AtomicBool::new(false),
    });
    let (parts, body) = req.into_parts();
    let counted = budget.clone();
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(io::Error::other)?;
        if counted.add(chunk.len()) { Ok(chunk) } else { Err(io::Error::other("request body too large")) }
    });
    let req = Request::from_parts(parts, Body::from_stream(stream));
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|_| UploadError::NotMultipart(content_type))?;
    let mut form = Form::default();
    // On error the form is dropped with every file staged so far.
    read_parts(&mut multipart, media_dir, rules, &budget, &mut form).await?;
    Ok(form)
}

async fn read_parts(
    multipart: &mut Multipart,
    media_dir: &Path,
    rules: &impl FormRules,
    budget: &BodyBudget,
    form: &mut Form,
) -> Result<(), UploadError> {
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_error(e, budget))? {
        let Some(name) = field.name().map(str::to_string) else {
            discard(&mut field, budget).await?;
            continue;
        };
        let file_name = field.file_name().map(str::to_string);
        let part = match (rules.part(&name), file_name) {
            (PartRule::Ignore, _) | (PartRule::Text, Some(_)) => {
                discard(&mut field, budget).await?;
                continue;
            }
            (PartRule::Text | PartRule::File { .. }, None) => match read_text(&mut field, budget).await? {
                Some(text) => {
                    if let Some(limit) = rules.limit_after(&name, &text)
                        && !budget.tighten(limit)
                    {
                        return Err(UploadError::BodyTooLarge);
                    }
                    Part::Text(text)
                }
                None => Part::Refused(Refusal::TextTooLong),
            },
            (PartRule::File { .. }, Some(file_name)) if !client_name_ok(&file_name) => {
                discard(&mut field, budget).await?;
                Part::Refused(Refusal::BadFileName)
            }
            (PartRule::File { max_bytes, scan_markers }, Some(file_name)) => {
                stage(&mut field, &file_name, media_dir, max_bytes, scan_markers, budget).await?
            }
        };
        // A later part of the same name replaces an earlier one (its staged file is deleted).
        form.parts.insert(name, part);
    }
    Ok(())
}

async fn discard(field: &mut Field<'_>, budget: &BodyBudget) -> Result<(), UploadError> {
    while field.chunk().await.map_err(|e| multipart_error(e, budget))?.is_some() {}
    Ok(())
}

/// A text part; `None` (the rest skipped) when it passes [`TEXT_PART_LIMIT`].
async fn read_text(field: &mut Field<'_>, budget: &BodyBudget) -> Result<Option<String>, UploadError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, budget))? {
        if bytes.len() + chunk.len() > TEXT_PART_LIMIT {
            discard(field, budget).await?;
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Streams a file part to a new staging file (created at its first byte). A part over its limit
/// or carrying a script marker is refused at once: its file is deleted, the rest skipped.
async fn stage(
    field: &mut Field<'_>,
    file_name: &str,
    media_dir: &Path,
    max_bytes: u64,
    scan_markers: bool,
    budget: &BodyBudget,
) -> Result<Part, UploadError> {
    let client_ext = extension_of(file_name);
    let rel = format!("{PRIVATE_STAGING_DIR}/{}.{}", uuid::Uuid::new_v4().simple(), storable_extension(&client_ext));
    let path = media::resolve_media_path(media_dir, &rel)
        .ok_or_else(|| UploadError::Storage(format!("staging key `{rel}` refused")))?;
    let mut staged = StagedFile { rel, path, size: 0, head: Vec::new(), client_ext, kept: false };
    let mut file: Option<tokio::fs::File> = None;
    let mut scanner = MarkerScanner::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, budget))? {
        staged.size += chunk.len() as u64;
        if staged.size > max_bytes {
            drop((file.take(), staged));
            discard(field, budget).await?;
            return Ok(Part::Refused(Refusal::TooLarge));
        }
        if staged.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - staged.head.len()).min(chunk.len());
            staged.head.extend_from_slice(&chunk[..take]);
        }
        if scan_markers && scanner.feed(&chunk) {
            drop((file.take(), staged));
            discard(field, budget).await?;
            return Ok(Part::Refused(Refusal::Forbidden));
        }
        let out = match &mut file {
            Some(f) => f,
            None => {
                if let Some(dir) = staged.path.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(|e| storage("create staging directory", e))?;
                }
                let f = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&staged.path)
                    .await
                    .map_err(|e| storage("create staged file", e))?;
                file.insert(f)
            }
        };
        out.write_all(&chunk).await.map_err(|e| storage("write staged file", e))?;
    }
    if let Some(mut f) = file {
        f.flush().await.map_err(|e| storage("write staged file", e))?;
    }
    if staged.size == 0 && file_name.is_empty() {
        return Ok(Part::NoFile);
    }
    Ok(Part::File(staged))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    struct Rules;

    impl FormRules for Rules {
        fn part(&self, name: &str) -> PartRule {
            match name {
                "doc" => PartRule::File { max_bytes: 10, scan_markers: false },
                "img" => PartRule::File { max_bytes: 100, scan_markers: true },
                "note" => PartRule::Text,
                _ => PartRule::Ignore,
            }
        }

        fn limit_after(&self, name: &str, value: &str) -> Option<u64> {
            (name == "note" && value == "tight").then_some(50)
        }
    }

    fn request(parts: &[(&str, Option<&str>, &[u8])]) -> Request {
        let mut body = Vec::new();
        for (name, file, data) in parts {
            body.extend_from_slice(b"--XX\r\n");
            match file {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\r\n").as_bytes(),
                ),
                None => body
                    .extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XX--\r\n");
        Request::builder()
            .method("POST")
            .uri("/")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX")
            .body(Body::from(body))
            .unwrap()
    }

    fn staged_files(dir: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(dir.join(PRIVATE_STAGING_DIR)) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    #[tokio::test]
    async fn upload_staged_files_live_only_until_dropped_or_kept() {
        let dir = std::env::temp_dir().join(format!("ec-upload-{}", uuid::Uuid::new_v4().simple()));
        let req = request(&[("note", None, b"hi"), ("doc", Some("a.PDF"), b"%PDF-1"), ("other", None, b"x")]);
        let mut form = read_form(req, &dir, 10_000, &Rules).await.unwrap();
        assert_eq!(form.text("note"), Some("hi"));
        assert_eq!(form.text("other"), None);
        let Some(Part::File(doc)) = form.take("doc") else { panic!("a file") };
        assert_eq!((doc.size(), doc.head(), doc.client_extension()), (6, &b"%PDF-1"[..], "pdf"));
        assert!(doc.rel().starts_with("private/staging/") && doc.rel().ends_with(".pdf"));
        assert_eq!(staged_files(&dir).len(), 1);
        drop(doc);
        assert!(staged_files(&dir).is_empty());

        let req = request(&[("doc", Some("a.pdf"), b"%PDF-1")]);
        let mut form = read_form(req, &dir, 10_000, &Rules).await.unwrap();
        let Some(Part::File(mut doc)) = form.take("doc") else { panic!("a file") };
        doc.set_extension("txt").await.unwrap();
        let key = doc.keep();
        assert!(key.ends_with(".txt"));
        assert_eq!(staged_files(&dir).len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn upload_limits_names_and_markers() {
        let dir = std::env::temp_dir().join(format!("ec-upload-{}", uuid::Uuid::new_v4().simple()));
        let refused = request(&[
            ("doc", Some("a.pdf"), b"01234567890"),
            ("img", Some("a.png"), b"\x89PNG....<SCRIPT>"),
            ("note", None, &[b'n'; TEXT_PART_LIMIT + 1]),
        ]);
        let mut form = read_form(refused, &dir, 1_000_000, &Rules).await.unwrap();
        assert!(matches!(form.take("doc"), Some(Part::Refused(Refusal::TooLarge))));
        assert!(matches!(form.take("img"), Some(Part::Refused(Refusal::Forbidden))));
        assert!(matches!(form.take("note"), Some(Part::Refused(Refusal::TextTooLong))));
        assert!(staged_files(&dir).is_empty());
        let bad = request(&[("doc", Some("../a.pdf"), b"x"), ("note", None, b"after")]);
        let mut form = read_form(bad, &dir, 10_000, &Rules).await.unwrap();
        assert!(matches!(form.take("doc"), Some(Part::Refused(Refusal::BadFileName))));
        assert_eq!(form.text("note"), Some("after"));
        let body = request(&[("doc", Some("a.pdf"), b"0123")]);
        assert!(matches!(read_form(body, &dir, 20, &Rules).await, Err(UploadError::BodyTooLarge)));
        let tightened = request(&[("note", None, b"tight"), ("other", None, &[b'x'; 200])]);
        assert!(matches!(read_form(tightened, &dir, 10_000, &Rules).await, Err(UploadError::BodyTooLarge)));
        let empty = request(&[("doc", Some(""), b"")]);
        let mut form = read_form(empty, &dir, 10_000, &Rules).await.unwrap();
        assert!(matches!(form.take("doc"), Some(Part::NoFile)));
        assert!(staged_files(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
