//! Checks of customers' files (API.md §7.4, §7.9), apart from any transport: the client's file
//! name (only its extension is ever used), the content of the first [`HEAD_BYTES`], marker
//! scanning over a stream, document signatures and the image checks on a staged file (pixel
//! count from the header before anything is decoded, then a full decode).
//!
//! Everything here is pure or blocking file I/O; the API streams uploads to staging files and
//! calls these on what it kept.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use image::{ImageFormat, ImageReader, Limits};

use crate::media::{ImageKind, MAX_IMAGE_PIXELS};

/// Bytes of each file kept in memory for the content checks.
pub const HEAD_BYTES: usize = 8 * 1024;
/// One MB as the original counts it in limits and messages.
pub const MB: u64 = 1024 * 1024;
/// Size limit of a resource-field file whose definition sets none (§7.4).
pub const DEFAULT_FIELD_MB: u64 = 10;
/// Size limit of the legacy `candidate_photo` and `party_logo` (§4.5).
pub const LEGACY_IMAGE_MB: u64 = 5;
/// Extensions of image fields (§7.4).
pub const IMAGE_EXTENSIONS: [&str; 4] = [".jpg", ".jpeg", ".png", ".gif"];
/// Extensions of document fields whose definition lists none (§7.4).
pub const DEFAULT_DOCUMENT_EXTENSIONS: [&str; 3] = [".pdf", ".docx", ".doc"];

/// Why a file was refused. [`FileProblem::message`] words it as §7.4 does for resource fields,
/// [`FileProblem::legacy_message`] as DRF's `ImageField` does for the legacy upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// The client's file name carries a path or control characters.
    BadName,
    /// Zero bytes.
    Empty,
    /// Over the field's limit.
    TooLarge {
        /// The limit in MB.
        limit_mb: u64,
    },
    /// The extension is not one the field takes.
    Extension {
        /// The lower-cased extension sent, without its dot (maybe empty).
        found: String,
        /// What the field takes, with their dots.
        allowed: Vec<String>,
    },
    /// Not a JPEG, PNG or GIF, or not decodable.
    NotImage,
    /// The header claims more than [`MAX_IMAGE_PIXELS`].
    TooManyPixels(u64),
    /// The content is not what the extension says (a `.pdf` that is no PDF).
    ContentMismatch,
    /// An executable or script signature (§7.9).
    Dangerous,
}

impl FileProblem {
    /// The message of a resource field named `name` (§7.4 texts where it has them).
    pub fn message(&self, name: &str) -> String {
        match self {
            FileProblem::BadName => format!("{name} has an invalid file name"),
            FileProblem::Empty => format!("{name} is empty"),
            FileProblem::TooLarge { limit_mb } => format!("{name} exceeds maximum size of {limit_mb}MB"),
            FileProblem::Extension { allowed, .. } => format!("{name} must be one of: {}", allowed.join(", ")),
            FileProblem::NotImage => format!("{name} must be a valid image (JPEG, PNG or GIF)"),
            FileProblem::TooManyPixels(n) => {
                format!("{name} is too large: {n} pixels (at most {MAX_IMAGE_PIXELS})")
            }
            FileProblem::ContentMismatch => format!("{name} content does not match its file extension"),
            FileProblem::Dangerous => format!("{name} contains content that is not allowed"),
        }
    }

    /// The message of a legacy image field (DRF's `ImageField` texts where it has them).
    pub fn legacy_message(&self) -> String {
        use crate::media::ImageRejection;
        match self {
            FileProblem::BadName => "Invalid file name.".into(),
            FileProblem::Empty => ImageRejection::Empty.message(),
            FileProblem::TooLarge { .. } => ImageRejection::TooLarge.message(),
            FileProblem::Extension { found, .. } => ImageRejection::Extension(found.clone()).message(),
            FileProblem::NotImage | FileProblem::ContentMismatch => ImageRejection::NotImage.message(),
            FileProblem::TooManyPixels(n) => ImageRejection::TooManyPixels(*n).message(),
            FileProblem::Dangerous => "The file contains content that is not allowed.".into(),
        }
    }
}

/// Whether a client's file name may be taken at all: no path separator (`/`, `\`, hence no
/// `../`), no CR, LF or NUL, and not `.` or `..`. The name is never used as a path; a name
/// that tries to be one is refused rather than trimmed.
pub fn client_name_ok(name: &str) -> bool {
    !name.contains(['/', '\\', '\r', '\n', '\0']) && name != "." && name != ".."
}

/// The lower-cased extension of a client's file name, without its dot (`""` when none).
pub fn extension_of(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() || !ext.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// An extension fit for a stored name (`[a-z0-9]{1,10}`), else `bin`.
pub fn storable_extension(ext: &str) -> String {
    let ext = ext.to_ascii_lowercase();
    if !ext.is_empty() && ext.len() <= 10 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        ext
    } else {
        "bin".into()
    }
}

/// Markers refused anywhere in a file's first [`HEAD_BYTES`] (the tags case-insensitively).
const HEAD_MARKERS: [(&[u8], bool); 3] = [(b"\x7fELF", false), (b"<?php", true), (b"<script", true)];
/// Markers refused anywhere in an image, case-insensitively (see [`MarkerScanner`]).
const STREAM_MARKERS: [&[u8]; 2] = [b"<?php", b"<script"];

fn contains(haystack: &[u8], needle: &[u8], ignore_case: bool) -> bool {
    haystack.windows(needle.len()).any(|w| if ignore_case { w.eq_ignore_ascii_case(needle) } else { w == needle })
}

/// Whether a file's first bytes carry an executable or a script (§7.9): a Windows executable
/// (`MZ`) or a shebang (`#!`) at the start, an ELF header, `<?php` or `<script` anywhere in them.
///
/// The two-byte signatures count at offset 0 only: anywhere in 8 KB of compressed data (a PNG's
/// or a PDF's streams) `#!` turns up by chance in about one file in eight.
pub fn dangerous_head(head: &[u8]) -> bool {
    let head = &head[..head.len().min(HEAD_BYTES)];
    head.starts_with(b"MZ")
        || head.starts_with(b"#!")
        || HEAD_MARKERS.iter().any(|(marker, ignore_case)| contains(head, marker, *ignore_case))
}

/// Looks for `<?php` and `<script` (any case) across the chunks of a stream, so that an image
/// carrying a script after its first 8 KB (a polyglot) is refused too. Keeps only the last few
/// bytes of the previous chunk.
#[derive(Debug, Default, Clone)]
pub struct MarkerScanner {
    tail: Vec<u8>,
    found: bool,
}

impl MarkerScanner {
    /// A scanner that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk; true once a marker has been seen.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        if self.found {
            return true;
        }
        let longest = STREAM_MARKERS.iter().map(|m| m.len()).max().unwrap_or(0);
        // The window: the tail of what came before plus the start of this chunk.
        let mut joined = std::mem::take(&mut self.tail);
        joined.extend_from_slice(&chunk[..chunk.len().min(longest)]);
        self.found = STREAM_MARKERS.iter().any(|m| contains(&joined, m, true))
            || STREAM_MARKERS.iter().any(|m| contains(chunk, m, true));
        let keep = longest.saturating_sub(1);
        if chunk.len() >= keep {
            self.tail = chunk[chunk.len() - keep..].to_vec();
        } else {
            let start = joined.len().saturating_sub(keep);
            self.tail = joined[start..].to_vec();
        }
        self.found
    }

    /// Whether a marker has been seen.
    pub fn found(&self) -> bool {
        self.found
    }
}

/// The signature a document's extension promises, when we know one.
fn document_signature(ext: &str) -> Option<fn(&[u8]) -> bool> {
    match ext {
        "pdf" => Some(|h| h.starts_with(b"%PDF-")),
        "docx" | "xlsx" | "pptx" | "odt" | "ods" | "odp" | "zip" => Some(|h| h.starts_with(b"PK\x03\x04")),
        "doc" | "xls" | "ppt" => Some(|h| h.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])),
        "rtf" => Some(|h| h.starts_with(b"{\\rtf")),
        "jpg" | "jpeg" => Some(|h| crate::media::sniff(h) == Some(ImageKind::Jpeg)),
        "png" => Some(|h| crate::media::sniff(h) == Some(ImageKind::Png)),
        "gif" => Some(|h| crate::media::sniff(h) == Some(ImageKind::Gif)),
        _ => None,
    }
}

/// The allowed extensions of a document field: its definition's list (lower-cased), else
/// [`DEFAULT_DOCUMENT_EXTENSIONS`].
pub fn document_extensions(configured: &serde_json::Value) -> Vec<String> {
    let listed: Vec<String> = configured
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).map(|s| s.trim().to_ascii_lowercase()).collect())
        .unwrap_or_default();
    let listed: Vec<String> = listed.into_iter().filter(|s| s.len() > 1 && s.starts_with('.')).collect();
    if listed.is_empty() { DEFAULT_DOCUMENT_EXTENSIONS.iter().map(|s| s.to_string()).collect() } else { listed }
}

/// Checks a document by its client extension and first bytes (§7.9): not empty, an allowed
/// extension, no executable or script signature, and content matching the extension where we
/// know its signature (PDF `%PDF-`, Office Open XML and OpenDocument ZIP `PK\x03\x04`, legacy
/// Office OLE `D0 CF 11 E0 A1 B1 1A E1`, RTF, images); other allowed extensions (plain text,
/// CSV…) are taken as they come, as `application/octet-stream` is. Returns the extension to
/// store the file under.
pub fn check_document(ext: &str, size: u64, head: &[u8], allowed: &[String]) -> Result<String, FileProblem> {
    let ext = ext.to_ascii_lowercase();
    if size == 0 {
        return Err(FileProblem::Empty);
    }
    if ext.is_empty() || !allowed.iter().any(|a| a.strip_prefix('.') == Some(ext.as_str())) {
        return Err(FileProblem::Extension { found: ext, allowed: allowed.to_vec() });
    }
    if dangerous_head(head) {
        return Err(FileProblem::Dangerous);
    }
    if let Some(matches) = document_signature(&ext)
        && !matches(head)
    {
        return Err(FileProblem::ContentMismatch);
    }
    Ok(storable_extension(&ext))
}

/// Width and height as a PNG's IHDR or a GIF's logical screen states them, read from the first
/// bytes alone (`None` for JPEG, whose size sits in a later segment, or a short head).
pub fn header_dimensions(kind: ImageKind, head: &[u8]) -> Option<(u32, u32)> {
    let be = |at: usize| head.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
    let le = |at: usize| head.get(at..at + 2).and_then(|b| b.try_into().ok()).map(u16::from_le_bytes).map(u32::from);
    match kind {
        ImageKind::Png if head.get(12..16) == Some(b"IHDR") => Some((be(16)?, be(20)?)),
        ImageKind::Gif => Some((le(6)?, le(8)?)),
        _ => None,
    }
}

/// The first checks of an image (§7.9), on its client extension and first bytes: not empty,
/// `.jpg .jpeg .png .gif`, no executable or script signature, JPEG, PNG or GIF magic bytes, and
/// for PNG and GIF the pixel count their header states. The decode (and the pixel count of a
/// JPEG) follow on the staged file ([`verify_image_file`]).
pub fn check_image_head(ext: &str, size: u64, head: &[u8]) -> Result<ImageKind, FileProblem> {
    let ext = ext.to_ascii_lowercase();
    if size == 0 {
        return Err(FileProblem::Empty);
    }
    if !IMAGE_EXTENSIONS.iter().any(|a| a.strip_prefix('.') == Some(ext.as_str())) {
        return Err(FileProblem::Extension {
            found: ext,
            allowed: IMAGE_EXTENSIONS.iter().map(|s| s.to_string()).collect(),
        });
    }
    if dangerous_head(head) {
        return Err(FileProblem::Dangerous);
    }
    let kind = crate::media::sniff(head).ok_or(FileProblem::NotImage)?;
    if let Some((w, h)) = header_dimensions(kind, head) {
        let pixels = u64::from(w) * u64::from(h);
        if pixels > MAX_IMAGE_PIXELS {
            return Err(FileProblem::TooManyPixels(pixels));
        }
    }
    Ok(kind)
}

fn format_of(kind: ImageKind) -> ImageFormat {
    match kind {
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Gif => ImageFormat::Gif,
    }
}

fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    // Enough for 89.5 Mpx of RGBA, yet bounded whatever a header says.
    limits.max_alloc = Some(512 * 1024 * 1024);
    limits
}

fn reader(path: &Path, kind: ImageKind) -> std::io::Result<ImageReader<BufReader<File>>> {
    let mut reader = ImageReader::with_format(BufReader::new(File::open(path)?), format_of(kind));
    reader.limits(decode_limits());
    Ok(reader)
}

/// The rest of the image checks, reading the staged file (blocking, CPU-bound: run it on the
/// blocking pool under the decode permits): the width and height from the header alone, at
/// most [`MAX_IMAGE_PIXELS`] of them — so a decompression bomb allocates nothing — then a full
/// decode, which proves the file is an image. Nothing but the decoder's own buffers is held.
/// The outer error is a failure to read the staged file.
pub fn verify_image_file(path: &Path, kind: ImageKind) -> std::io::Result<Result<(), FileProblem>> {
    let Ok((w, h)) = reader(path, kind)?.into_dimensions() else {
        return Ok(Err(FileProblem::NotImage));
    };
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 {
        return Ok(Err(FileProblem::NotImage));
    }
    if pixels > MAX_IMAGE_PIXELS {
        return Ok(Err(FileProblem::TooManyPixels(pixels)));
    }
    Ok(reader(path, kind)?.decode().map(|_| ()).map_err(|_| FileProblem::NotImage))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor;

    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([10, 200, 10]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn uploads_client_names_with_paths_or_controls_are_refused() {
        for ok in ["photo.png", "my photo.JPG", "a..b.pdf", "résumé.pdf", ""] {
            assert!(client_name_ok(ok), "{ok:?}");
        }
        for bad in ["../x.pdf", "a/b.pdf", "..\\x.pdf", "a\r\n.pdf", "a\n.pdf", "a\0.pdf", "..", "."] {
            assert!(!client_name_ok(bad), "{bad:?}");
        }
        assert_eq!(extension_of("Photo.JPeG"), "jpeg");
        assert_eq!(extension_of("noext"), "");
        assert_eq!(extension_of(".pdf"), "pdf");
        assert_eq!(storable_extension("p d"), "bin");
        assert_eq!(storable_extension("PDF"), "pdf");
    }

    #[test]
    fn uploads_dangerous_heads() {
        assert!(dangerous_head(b"MZ\x90\x00rest"));
        assert!(dangerous_head(b"#!/bin/sh\nrm -rf /"));
        assert!(dangerous_head(b"%PDF-1.4 \x7fELF"));
        assert!(dangerous_head(b"%PDF-1.4 <?PHP echo 1;"));
        assert!(dangerous_head(b"\x89PNG\r\n\x1a\n....<ScRiPt>alert(1)</script>"));
        assert!(!dangerous_head(b"%PDF-1.4 with MZ and #! inside"));
        // Beyond the head: not this check's business.
        let mut late = vec![b' '; HEAD_BYTES];
        late.extend_from_slice(b"<script>");
        assert!(!dangerous_head(&late));
    }

    #[test]
    fn uploads_marker_scanner_finds_markers_across_chunks() {
        let data = b"xxxxxxxxxx<sCrIpt>yyyyyyyy";
        for size in 1..data.len() {
            let mut s = MarkerScanner::new();
            for c in data.chunks(size) {
                s.feed(c);
            }
            assert!(s.found(), "chunk size {size}");
        }
        let mut s = MarkerScanner::new();
        assert!(!s.feed(b"<scri"));
        assert!(!s.feed(b"bble <?ph"));
        assert!(s.feed(b"p"));
        let mut clean = MarkerScanner::new();
        assert!(!b"<scrip t> < ?php".chunks(3).any(|c| clean.feed(c)));
    }

    #[test]
    fn uploads_document_checks() {
        let allowed = document_extensions(&serde_json::Value::Null);
        assert_eq!(allowed, vec![".pdf", ".docx", ".doc"]);
        assert_eq!(check_document("PDF", 10, b"%PDF-1.7\n", &allowed), Ok("pdf".into()));
        assert_eq!(check_document("docx", 10, b"PK\x03\x04....", &allowed), Ok("docx".into()));
        assert_eq!(
            check_document("doc", 10, &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0], &allowed),
            Ok("doc".into())
        );
        assert_eq!(check_document("pdf", 0, b"", &allowed), Err(FileProblem::Empty));
        assert_eq!(check_document("pdf", 10, b"MZ\x90\x00", &allowed), Err(FileProblem::Dangerous));
        assert_eq!(check_document("pdf", 10, b"PK\x03\x04", &allowed), Err(FileProblem::ContentMismatch));
        assert!(matches!(check_document("exe", 10, b"%PDF-", &allowed), Err(FileProblem::Extension { .. })));
        let txt = document_extensions(&serde_json::json!([".TXT", "bogus"]));
        assert_eq!(txt, vec![".txt"]);
        assert_eq!(check_document("txt", 5, b"hello", &txt), Ok("txt".into()));
        assert_eq!(
            FileProblem::Extension { found: "exe".into(), allowed }.message("Manifesto"),
            "Manifesto must be one of: .pdf, .docx, .doc"
        );
        assert_eq!(
            FileProblem::TooLarge { limit_mb: 20 }.message("Manifesto"),
            "Manifesto exceeds maximum size of 20MB"
        );
    }

    #[test]
    fn uploads_image_checks_read_the_staged_file() {
        let dir = std::env::temp_dir().join(format!("ec-uploads-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = png(30, 20);
        assert_eq!(check_image_head("png", ok.len() as u64, &ok), Ok(ImageKind::Png));
        assert!(matches!(check_image_head("bmp", 3, &ok), Err(FileProblem::Extension { .. })));
        assert_eq!(check_image_head("png", 5, b"hello"), Err(FileProblem::NotImage));
        let mut polyglot = ok.clone();
        polyglot.extend_from_slice(b"<script>alert(1)</script>");
        assert_eq!(check_image_head("png", polyglot.len() as u64, &polyglot), Err(FileProblem::Dangerous));

        let path = dir.join("ok.png");
        std::fs::write(&path, &ok).unwrap();
        assert_eq!(verify_image_file(&path, ImageKind::Png).unwrap(), Ok(()));
        // Truncated: right magic, undecodable.
        std::fs::write(&path, &ok[..40]).unwrap();
        assert_eq!(verify_image_file(&path, ImageKind::Png).unwrap(), Err(FileProblem::NotImage));
        // A header claiming 30000×30000: refused from the header.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        std::fs::write(&path, &bomb).unwrap();
        assert_eq!(verify_image_file(&path, ImageKind::Png).unwrap(), Err(FileProblem::TooManyPixels(900_000_000)));
        // The head alone tells, for PNG and GIF.
        assert_eq!(header_dimensions(ImageKind::Png, &bomb), Some((30_000, 30_000)));
        assert_eq!(check_image_head("png", 10, &bomb), Err(FileProblem::TooManyPixels(900_000_000)));
        let gif = b"GIF89a\x30\x75\x30\x75\x00\x00\x00";
        assert_eq!(header_dimensions(ImageKind::Gif, gif), Some((30_000, 30_000)));
        assert_eq!(header_dimensions(ImageKind::Jpeg, &[0xFF, 0xD8, 0xFF]), None);
        let _ = std::fs::remove_dir_all(&dir);
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
}
