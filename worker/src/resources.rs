//! Customers' campaign material on the `media` queue: stores staged resource files privately,
//! deletes replaced ones, and (from the `maintenance` prune) removes staged files nobody
//! points at.
//!
//! Storing mirrors the payment proofs (`media::store_proof`): Cloudinary with delivery type
//! `authenticated` when `CLOUDINARY_URL` is set (images as `image`, documents as `raw`),
//! else a move to `MEDIA_DIR/private/resources/<same name>`; then the row is updated only if it
//! still holds the staged key. The target name derives from the staged one, so a retried or
//! duplicated run writes the same file or asset; a file stored for a row that changed meanwhile
//! is removed again.

use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::jobs::{DeletePrivateFiles, StoreResourceFile};
use common::media::{self, Cloudinary, ImageKind, PrivateFile};
use common::orders::resources;

use crate::media::{io_error, media_error, remove_if_present};
use crate::{JobError, WorkerContext};

/// Staged files older than this that no row names are removed by the prune.
pub const STAGING_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Cloudinary folder of customers' material.
pub const RESOURCES_FOLDER: &str = "resources";

/// Moves `from` to `to` (same file system: a rename; otherwise a copy through a temporary name
/// and a rename, then the source is removed). `Ok(false)` when `from` is gone.
async fn move_file(from: &Path, to: &Path) -> Result<bool, JobError> {
    if let Some(dir) = to.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| io_error("create resources directory", e))?;
    }
    match tokio::fs::rename(from, to).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(_) => {
            let tmp = to.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
            match tokio::fs::copy(from, &tmp).await {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_error("copy staged file", e)),
            }
            if let Err(e) = tokio::fs::rename(&tmp, to).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(io_error("rename stored file", e));
            }
            remove_if_present(from).await?;
            Ok(true)
        }
    }
}

/// Stores one staged customer file and points its row at it.
pub async fn store(ctx: &WorkerContext, job: StoreResourceFile) -> Result<(), JobError> {
    let Some(Some(staged)) = resources::file_of(&ctx.pool, &job.file).await? else {
        return Ok(());
    };
    if !resources::is_staged(&staged) {
        return Ok(());
    }
    let media_dir = &ctx.cfg.media_dir;
    let staged_path = media::resolve_media_path(media_dir, &staged)
        .ok_or_else(|| JobError::Permanent(format!("staged path `{staged}` is not one of ours")))?;
    let name = staged.rsplit('/').next().unwrap_or_default().to_string();
    let (stem, ext) = name.split_once('.').unwrap_or((name.as_str(), ""));
    let still_staged = || async {
        let now = resources::file_of(&ctx.pool, &job.file).await?;
        Ok::<bool, JobError>(now.flatten().as_deref() == Some(staged.as_str()))
    };

    match Cloudinary::from_config(&ctx.cfg).map_err(media_error)? {
        Some(cloud) => {
            let bytes = match tokio::fs::read(&staged_path).await {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return if still_staged().await? {
                        Err(JobError::Permanent(format!("staged file `{staged}` is missing")))
                    } else {
                        Ok(())
                    };
                }
                Err(e) => return Err(io_error("read staged file", e)),
            };
            let (resource_type, public_id) = if ImageKind::from_ext(ext).is_some() {
                ("image", format!("{RESOURCES_FOLDER}/{stem}"))
            } else {
                // Raw public ids keep their extension.
                ("raw", format!("{RESOURCES_FOLDER}/{name}"))
            };
            let stored =
                cloud.upload_private(resource_type, bytes, &name, &public_id).await.map_err(media_error)?.key();
            if resources::finish_file(&ctx.pool, &job.file, &staged, &stored).await? {
                remove_if_present(&staged_path).await?;
                tracing::info!(file = ?job.file, stored = %stored, "resource file stored in Cloudinary");
            } else if resources::file_of(&ctx.pool, &job.file).await?.flatten().as_deref() != Some(stored.as_str()) {
                // The row changed while we uploaded: the asset is nobody's.
                cloud.destroy_private(resource_type, &public_id).await.map_err(media_error)?;
            }
        }
        None => {
            let rel = format!("{}/{name}", media::RESOURCES_DIR);
            let target = media::resolve_media_path(media_dir, &rel)
                .ok_or_else(|| JobError::Permanent(format!("cannot derive a stored name from `{staged}`")))?;
            let moved = move_file(&staged_path, &target).await?;
            if !moved && !tokio::fs::try_exists(&target).await.unwrap_or(false) {
                // Neither staged nor stored: lost, unless the row moved on.
                return if still_staged().await? {
                    Err(JobError::Permanent(format!("staged file `{staged}` is missing")))
                } else {
                    Ok(())
                };
            }
            if resources::finish_file(&ctx.pool, &job.file, &staged, &rel).await? {
                tracing::info!(file = ?job.file, stored = %rel, "resource file stored on local disk");
            } else if resources::file_of(&ctx.pool, &job.file).await?.flatten().as_deref() != Some(rel.as_str()) {
                remove_if_present(&target).await?;
            }
        }
    }
    Ok(())
}

/// Deletes private files by storage key: local files under `MEDIA_DIR` (only where
/// `resolve_media_path` allows) and Cloudinary `authenticated` assets.
pub async fn delete(ctx: &WorkerContext, job: DeletePrivateFiles) -> Result<(), JobError> {
    let mut cloud: Option<Cloudinary> = None;
    for key in &job.keys {
        match PrivateFile::parse(key) {
            Some(PrivateFile::Local(rel)) => match media::resolve_media_path(&ctx.cfg.media_dir, &rel) {
                Some(path) => remove_if_present(&path).await?,
                None => tracing::warn!(key = %rel, "not a media path of ours; left alone"),
            },
            Some(PrivateFile::Cloudinary { resource_type, public_id, .. }) => {
                if cloud.is_none() {
                    cloud = Some(Cloudinary::from_config(&ctx.cfg).map_err(media_error)?.ok_or_else(|| {
                        JobError::Permanent("Cloudinary assets to destroy but CLOUDINARY_URL is unset".into())
                    })?);
                }
                if let Some(cloud) = &cloud {
                    let existed = cloud.destroy_private(&resource_type, &public_id).await.map_err(media_error)?;
                    tracing::info!(public_id = %public_id, existed, "private Cloudinary asset destroyed");
                }
            }
            Some(PrivateFile::LegacyUrl(url)) => {
                tracing::info!(url = %url, "public URL of an older release; left alone")
            }
            None => {}
        }
    }
    Ok(())
}

/// Removes files of `MEDIA_DIR/private/staging` older than [`STAGING_MAX_AGE`] that no row
/// names: uploads whose request failed after staging (a crash, a lost connection) or whose
/// transaction never committed. Files a row still names wait for their store job. Returns how
/// many were removed.
pub async fn prune_staging(ctx: &WorkerContext) -> Result<u64, JobError> {
    let dir = ctx.cfg.media_dir.join(media::PRIVATE_STAGING_DIR);
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error("list private staging", e)),
    };
    let cutoff = SystemTime::now().checked_sub(STAGING_MAX_AGE).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut old = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| io_error("list private staging", e))? {
        let Ok(meta) = entry.metadata().await else { continue };
        let modified = meta.modified().unwrap_or(SystemTime::now());
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if meta.is_file() && modified < cutoff {
            old.push(format!("{}/{name}", media::PRIVATE_STAGING_DIR));
        }
    }
    let mut removed = 0;
    for batch in old.chunks(500) {
        let referenced = resources::referenced_keys(&ctx.pool, batch).await?;
        for key in batch.iter().filter(|k| !referenced.contains(*k)) {
            let Some(name) = key.rsplit('/').next() else { continue };
            remove_if_present(&dir.join(name)).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
