//! Product images (`product_image`, API.md §4.9): every change in one transaction with its
//! catalogue-version bump and the media job it causes. Changes to a product's images take a
//! transaction-scoped advisory lock on the product, so concurrent uploads cannot pass the limit
//! of ten and the one-primary index (`product_image_one_primary`) is never raced.

use sqlx::{PgConnection, PgPool};

use super::ProductType;
use super::products::{ImageRow, bump_version};
use crate::jobs::{self, DeleteStoredMedia, StoreProductImage};
use crate::media;

/// Images a product may have.
pub const MAX_IMAGES_PER_PRODUCT: i64 = 10;

const COLUMNS: &str = r#"id, product_type, product_id, image, thumbnail, is_primary, "order", alt_text, uploaded_at"#;

/// A new image row, its file already staged.
#[derive(Debug, Clone)]
pub struct NewImage {
    /// Stored path relative to `MEDIA_DIR` (`staging/<random>.<ext>`).
    pub image: String,
    /// Requested primary flag; the first image is primary whatever it says.
    pub is_primary: Option<bool>,
    /// Position; `None` → after the last (0 for the first).
    pub order: Option<i32>,
    /// Alternative text (≤ 200 characters).
    pub alt_text: String,
}

/// A change: `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ImagePatch {
    /// New alternative text.
    pub alt_text: Option<String>,
    /// New position.
    pub order: Option<i32>,
    /// New primary flag.
    pub is_primary: Option<bool>,
}

/// Why an upload could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum CreateImageError {
    /// The product has ten images already.
    #[error("too many images")]
    TooMany,
    /// The product does not exist (any more).
    #[error("product not found")]
    ProductMissing,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

async fn lock_product(conn: &mut PgConnection, kind: &str, product_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("product_image:{kind}:{product_id}"))
        .execute(conn)
        .await?;
    Ok(())
}

async fn fetch(conn: &mut PgConnection, id: i64) -> Result<Option<ImageRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM product_image WHERE id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Locks the product of image `id` and returns the image, re-read under the lock.
async fn fetch_locked(conn: &mut PgConnection, id: i64) -> Result<Option<ImageRow>, sqlx::Error> {
    let Some(row) = fetch(conn, id).await? else { return Ok(None) };
    lock_product(conn, &row.product_type, row.product_id).await?;
    fetch(conn, id).await
}

async fn unset_primary(conn: &mut PgConnection, kind: &str, product_id: i64, except: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE product_image SET is_primary = false
         WHERE product_type = $1 AND product_id = $2 AND is_primary AND id <> $3",
    )
    .bind(kind)
    .bind(product_id)
    .bind(except)
    .execute(conn)
    .await?;
    Ok(())
}

/// One image.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<ImageRow>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    fetch(&mut conn, id).await
}

/// Records a staged upload and enqueues its storage, in one transaction.
pub async fn create(
    pool: &PgPool,
    kind: ProductType,
    product_id: i64,
    new: &NewImage,
) -> Result<ImageRow, CreateImageError> {
    let mut tx = crate::db::begin(pool).await?;
    lock_product(&mut tx, kind.as_str(), product_id).await?;
    if !super::product_exists(&mut *tx, kind, product_id).await? {
        return Err(CreateImageError::ProductMissing);
    }
    let (count, max_order): (i64, Option<i32>) = sqlx::query_as(
        r#"SELECT count(*), max("order") FROM product_image WHERE product_type = $1 AND product_id = $2"#,
    )
    .bind(kind.as_str())
    .bind(product_id)
    .fetch_one(&mut *tx)
    .await?;
    if count >= MAX_IMAGES_PER_PRODUCT {
        return Err(CreateImageError::TooMany);
    }
    let is_primary = count == 0 || new.is_primary == Some(true);
    if is_primary {
        unset_primary(&mut tx, kind.as_str(), product_id, 0).await?;
    }
    let order = new.order.unwrap_or_else(|| max_order.map_or(0, |m| m.saturating_add(1)));
    let row: ImageRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"INSERT INTO product_image (product_type, product_id, image, thumbnail, is_primary, "order", alt_text)
           VALUES ($1, $2, $3, NULL, $4, $5, $6) RETURNING {COLUMNS}"#
    )))
    .bind(kind.as_str())
    .bind(product_id)
    .bind(&new.image)
    .bind(is_primary)
    .bind(order)
    .bind(&new.alt_text)
    .fetch_one(&mut *tx)
    .await?;
    jobs::enqueue(&mut tx, &StoreProductImage { image_id: row.id }, Some(&format!("store_product_image:{}", row.id)))
        .await?;
    bump_version(&mut tx).await?;
    tx.commit().await?;
    Ok(row)
}

/// Applies a change; `None` when there is no such image.
pub async fn update(pool: &PgPool, id: i64, patch: &ImagePatch) -> Result<Option<ImageRow>, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    let Some(current) = fetch_locked(&mut tx, id).await? else { return Ok(None) };
    if patch.is_primary == Some(true) {
        unset_primary(&mut tx, &current.product_type, current.product_id, id).await?;
    }
    let row: ImageRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"UPDATE product_image SET alt_text = COALESCE($2, alt_text), "order" = COALESCE($3, "order"),
                  is_primary = COALESCE($4, is_primary)
           WHERE id = $1 RETURNING {COLUMNS}"#
    )))
    .bind(id)
    .bind(&patch.alt_text)
    .bind(patch.order)
    .bind(patch.is_primary)
    .fetch_one(&mut *tx)
    .await?;
    bump_version(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// Makes image `id` its product's primary image; `None` when there is no such image.
pub async fn set_primary(pool: &PgPool, id: i64) -> Result<Option<ImageRow>, sqlx::Error> {
    update(pool, id, &ImagePatch { is_primary: Some(true), ..ImagePatch::default() }).await
}

/// What deleting an image's stored files takes.
pub fn stored_media(row: &ImageRow) -> DeleteStoredMedia {
    let mut job = DeleteStoredMedia::default();
    for stored in std::iter::once(row.image.as_str()).chain(row.thumbnail.as_deref()) {
        if stored.is_empty() {
            continue;
        }
        if media::is_url(stored) {
            if let Some(id) = media::public_id_from_url(stored)
                && !job.public_ids.contains(&id)
            {
                job.public_ids.push(id);
            }
        } else if !job.paths.iter().any(|p| p == stored) {
            job.paths.push(stored.to_string());
        }
    }
    job
}

/// Deletes image `id`; when it was primary the next by order becomes primary. Its stored files
/// are removed by a job enqueued in the same transaction. `false` when there is no such image.
pub async fn delete(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    let Some(row) = fetch_locked(&mut tx, id).await? else { return Ok(false) };
    sqlx::query("DELETE FROM product_image WHERE id = $1").bind(id).execute(&mut *tx).await?;
    if row.is_primary {
        sqlx::query(
            r#"UPDATE product_image SET is_primary = true WHERE id = (
                 SELECT id FROM product_image WHERE product_type = $1 AND product_id = $2
                 ORDER BY "order", uploaded_at, id LIMIT 1)"#,
        )
        .bind(&row.product_type)
        .bind(row.product_id)
        .execute(&mut *tx)
        .await?;
    }
    let job = stored_media(&row);
    if !job.paths.is_empty() || !job.public_ids.is_empty() {
        jobs::enqueue(&mut tx, &job, Some(&format!("delete_stored_media:product_image:{id}"))).await?;
    }
    bump_version(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// Sets each listed image's order; `None` (nothing changed) when any id does not exist.
/// Returns the images in the order given.
pub async fn reorder(pool: &PgPool, items: &[(i64, i32)]) -> Result<Option<Vec<ImageRow>>, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
    let found: i64 = sqlx::query_scalar("SELECT count(DISTINCT id) FROM product_image WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_one(&mut *tx)
        .await?;
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if found != distinct.len() as i64 {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(items.len());
    for (id, order) in items {
        let row: ImageRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            r#"UPDATE product_image SET "order" = $2 WHERE id = $1 RETURNING {COLUMNS}"#
        )))
        .bind(id)
        .bind(order)
        .fetch_one(&mut *tx)
        .await?;
        out.push(row);
    }
    bump_version(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(out))
}

/// The worker's final step: points the row at its stored files if it still holds the staged
/// path `staged`, bumping the catalogue version. `false` when the row is gone or already
/// stored (the caller then removes what it wrote, unless it is what the row holds).
pub async fn finish_store(
    pool: &PgPool,
    id: i64,
    staged: &str,
    image: &str,
    thumbnail: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    let done = sqlx::query("UPDATE product_image SET image = $3, thumbnail = $4 WHERE id = $1 AND image = $2")
        .bind(id)
        .bind(staged)
        .bind(image)
        .bind(thumbnail)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if done {
        bump_version(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(done)
}
