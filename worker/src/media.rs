//! The `media` queue: stores staged product images (Cloudinary's signed upload API, or local
//! disk under `MEDIA_DIR` while `CLOUDINARY_URL` is unset) with their 300×300 thumbnails, and
//! removes the stored files of deleted images.
//!
//! Both handlers are idempotent. A store job whose row no longer points at `staging/` has
//! nothing to do; target names derive from the staged random name, so a retried run writes the
//! same files (or the same Cloudinary public id, uploaded with `overwrite`). Until the row is
//! updated it keeps its staged path, which `/media/` serves, so a job that fails for good loses
//! nothing.

use std::io::ErrorKind;
use std::path::Path;

use common::catalog::images;
use common::jobs::{DeleteStoredMedia, StorePaymentProof, StoreProductImage};
use common::media::{self, Cloudinary, MediaError};
use common::orders::admin;

use crate::{JobError, WorkerContext};

/// A Cloudinary failure as a job outcome: transient → retry, rejected → permanent.
pub(crate) fn media_error(e: MediaError) -> JobError {
    match e {
        MediaError::Transient(m) => JobError::Retry(format!("cloudinary: {m}")),
        MediaError::Rejected(m) => JobError::Permanent(format!("cloudinary: {m}")),
    }
}

/// A file-system failure: worth a retry.
pub(crate) fn io_error(what: &str, e: std::io::Error) -> JobError {
    JobError::Retry(format!("{what}: {e}"))
}

/// Removes a file; one already gone is fine.
pub(crate) async fn remove_if_present(path: &Path) -> Result<(), JobError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove file", e)),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a
/// file and a retried run simply replaces it.
async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), JobError> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| io_error("create media directory", e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    tokio::fs::write(&tmp, bytes).await.map_err(|e| io_error("write media file", e))?;
    if let Err(e) = tokio::fs::rename(&tmp, path).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io_error("rename media file", e));
    }
    Ok(())
}

/// Stores one staged product image.
pub async fn store(ctx: &WorkerContext, job: StoreProductImage) -> Result<(), JobError> {
    let Some(row) = images::get(&ctx.pool, job.image_id).await? else {
        tracing::debug!(image_id = job.image_id, "image deleted before it was stored; nothing to do");
        return Ok(());
    };
    let staged = row.image.clone();
    if !staged.starts_with(&format!("{}/", media::STAGING_DIR)) {
        return Ok(());
    }
    let media_dir = &ctx.cfg.media_dir;
    let staged_path = media::resolve_media_path(media_dir, &staged)
        .ok_or_else(|| JobError::Permanent(format!("staged path `{staged}` is not one of ours")))?;
    let name = staged.rsplit('/').next().unwrap_or_default().to_string();
    let stem = name.split('.').next().unwrap_or_default().to_string();
    let bytes = match tokio::fs::read(&staged_path).await {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            // Deleted meanwhile (its delete job removed the staged file)?
            return match images::get(&ctx.pool, job.image_id).await? {
                Some(r) if r.image == staged => Err(JobError::Permanent(format!("staged file `{staged}` is missing"))),
                _ => Ok(()),
            };
        }
        Err(e) => return Err(io_error("read staged image", e)),
    };

    let cloud = Cloudinary::from_config(&ctx.cfg).map_err(media_error)?;
    match cloud {
        Some(cloud) => {
            let public_id = format!("{}/{stem}", media::PRODUCTS_DIR);
            let uploaded = cloud.upload(bytes, &name, &public_id).await.map_err(media_error)?;
            let thumb = media::thumbnail_url(&uploaded.secure_url);
            if images::finish_store(&ctx.pool, job.image_id, &staged, &uploaded.secure_url, thumb.as_deref()).await? {
                remove_if_present(&staged_path).await?;
                tracing::info!(image_id = job.image_id, url = %uploaded.secure_url, "image stored in Cloudinary");
            } else if images::get(&ctx.pool, job.image_id).await?.is_none_or(|r| r.image != uploaded.secure_url) {
                // The row went away while we uploaded: the asset is nobody's.
                cloud.destroy(&uploaded.public_id).await.map_err(media_error)?;
            }
        }
        None => {
            let image_rel = format!("{}/{name}", media::PRODUCTS_DIR);
            let thumb_rel = format!("{}/{stem}.jpg", media::THUMBS_DIR);
            let (Some(image_path), Some(thumb_path)) =
                (media::resolve_media_path(media_dir, &image_rel), media::resolve_media_path(media_dir, &thumb_rel))
            else {
                return Err(JobError::Permanent(format!("cannot derive stored names from `{staged}`")));
            };
            let source = bytes.clone();
            let thumbnail = tokio::task::spawn_blocking(move || media::make_thumbnail(&source))
                .await
                .map_err(|e| JobError::Retry(format!("thumbnail task: {e}")))?
                .map_err(|e| JobError::Permanent(format!("thumbnail of `{staged}`: {e}")))?;
            write_atomic(&image_path, &bytes).await?;
            write_atomic(&thumb_path, &thumbnail).await?;
            if images::finish_store(&ctx.pool, job.image_id, &staged, &image_rel, Some(&thumb_rel)).await? {
                remove_if_present(&staged_path).await?;
                tracing::info!(image_id = job.image_id, image = %image_rel, "image stored on local disk");
            } else if images::get(&ctx.pool, job.image_id).await?.is_none_or(|r| r.image != image_rel) {
                remove_if_present(&image_path).await?;
                remove_if_present(&thumb_path).await?;
            }
        }
    }
    Ok(())
}

/// Removes the stored files of deleted images.
pub async fn delete(ctx: &WorkerContext, job: DeleteStoredMedia) -> Result<(), JobError> {
    for rel in &job.paths {
        match media::resolve_media_path(&ctx.cfg.media_dir, rel) {
            Some(path) => remove_if_present(&path).await?,
            None => tracing::warn!(path = %rel, "not a media path of ours; left alone"),
        }
    }
    if !job.public_ids.is_empty() {
        let cloud = Cloudinary::from_config(&ctx.cfg)
            .map_err(media_error)?
            .ok_or_else(|| JobError::Permanent("Cloudinary assets to destroy but CLOUDINARY_URL is unset".into()))?;
        for public_id in &job.public_ids {
            let existed = cloud.destroy(public_id).await.map_err(media_error)?;
            tracing::info!(public_id = %public_id, existed, "Cloudinary asset destroyed");
        }
    }
    Ok(())
}

/// Stores one staged payment proof privately: Cloudinary with delivery type `authenticated`
/// (images as images, PDFs as raw files) or `MEDIA_DIR/private/payment_proofs`, then points the
/// record at its storage key.
pub async fn store_proof(ctx: &WorkerContext, job: StorePaymentProof) -> Result<(), JobError> {
    let Some(Some(staged)) = admin::proof_of(&ctx.pool, job.record_id).await? else {
        return Ok(());
    };
    let staging = [media::PRIVATE_STAGING_DIR, media::STAGING_DIR];
    if !staging.iter().any(|dir| staged.starts_with(&format!("{dir}/"))) {
        return Ok(());
    }
    let staged_path = media::resolve_media_path(&ctx.cfg.media_dir, &staged)
        .ok_or_else(|| JobError::Permanent(format!("staged path `{staged}` is not one of ours")))?;
    let name = staged.rsplit('/').next().unwrap_or_default().to_string();
    let bytes = match tokio::fs::read(&staged_path).await {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(JobError::Permanent(format!("staged file `{staged}` is missing")));
        }
        Err(e) => return Err(io_error("read staged proof", e)),
    };
    let stored = match Cloudinary::from_config(&ctx.cfg).map_err(media_error)? {
        Some(cloud) => {
            let stem = name.split('.').next().unwrap_or_default();
            let folder = media::PROOFS_FOLDER;
            let file = if name.ends_with(".pdf") {
                // Raw public ids keep their extension.
                cloud.upload_private("raw", bytes, &name, &format!("{folder}/{name}")).await
            } else {
                cloud.upload_private("image", bytes, &name, &format!("{folder}/{stem}")).await
            }
            .map_err(media_error)?;
            file.key()
        }
        None => {
            let rel = format!("{}/{name}", media::PROOFS_DIR);
            let path = media::resolve_media_path(&ctx.cfg.media_dir, &rel)
                .ok_or_else(|| JobError::Permanent(format!("cannot derive a stored name from `{staged}`")))?;
            write_atomic(&path, &bytes).await?;
            rel
        }
    };
    if admin::finish_proof(&ctx.pool, job.record_id, &staged, &stored).await? {
        remove_if_present(&staged_path).await?;
        tracing::info!(record_id = job.record_id, proof = %stored, "payment proof stored");
    }
    Ok(())
}
