//! Media of the original: Cloudinary URLs and public ids are kept as URLs (see
//! `map::Ctx::file`); files it stored on local disk (`<32 hex>_<8 hex>.<ext>`) are copied from
//! `--media-from DIR` into our `MEDIA_DIR`, else listed in the report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::report::{Note, NoteKind};

/// A local file a mapped row names.
#[derive(Debug, Clone)]
pub struct Copy {
    /// Source table of the row.
    pub source_table: &'static str,
    /// Source id of the row.
    pub source_id: i64,
    /// File name in the original's storage.
    pub name: String,
    /// Path under our `MEDIA_DIR` that the row now stores.
    pub rel: String,
}

/// Whether a stored name is one the original's local storage wrote: `<32 hex>_<8 hex>.<ext>`.
pub fn is_local_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else { return false };
    let Some((a, b)) = stem.split_once('_') else { return false };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_hexdigit());
    hex(a, 32) && hex(b, 8) && !ext.is_empty() && ext.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// Every file under `dir` by name (the original kept them under `upload_to` subdirectories).
fn index(dir: &Path) -> HashMap<String, PathBuf> {
    let mut found = HashMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                found.entry(name.to_string()).or_insert(path);
            }
        }
    }
    found
}

/// Copies the local files not yet in `media_dir` (nothing in a dry run) and reports those that
/// cannot be.
pub fn copy_all(copies: &[Copy], media_from: Option<&Path>, media_dir: &Path, dry_run: bool) -> Vec<Note> {
    let mut notes = Vec::new();
    let files = media_from.map(index).unwrap_or_default();
    for c in copies {
        let dest = media_dir.join(&c.rel);
        if dest.is_file() {
            continue;
        }
        let mut note = |allowed: bool, message: String| {
            notes.push(Note {
                source_table: c.source_table.to_string(),
                source_id: c.source_id,
                kind: NoteKind::Media,
                allowed,
                message,
            });
        };
        let Some(dir) = media_from else {
            note(
                true,
                format!("local file {} not copied (no --media-from); the row points at MEDIA_DIR/{}", c.name, c.rel),
            );
            continue;
        };
        let Some(src) = files.get(&c.name) else {
            note(false, format!("local file {} not found under {}", c.name, dir.display()));
            continue;
        };
        if dry_run {
            continue;
        }
        let copied = dest.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::copy(src, &dest));
        if let Err(e) = copied {
            note(false, format!("local file {} could not be copied to MEDIA_DIR/{}: {e}", c.name, c.rel));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::is_local_name;

    #[test]
    fn local_names_of_the_original() {
        assert!(is_local_name("0123456789abcdef0123456789abcdef_89abcdef.jpg"));
        assert!(!is_local_name("media/products/images/banner_x7k2pq"));
        assert!(!is_local_name("0123456789abcdef0123456789abcdef_89abcdef"));
        assert!(!is_local_name("../0123456789abcdef0123456789abcdef_89abcdef.jpg"));
    }
}
