//! Packages and campaigns: reads for the public catalogue and the admin app, and every change
//! with its audit-log entry and catalogue-version bump in one transaction.
//!
//! Products are read in two queries whatever their number: their rows, then the items and
//! images of all of them at once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, PgConnection, PgExecutor, PgPool};

use super::ProductType;
use crate::money::Money;

/// A package item.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PackageItem {
    /// Id.
    pub id: i64,
    /// Owning package.
    pub package_id: i64,
    /// What it is.
    pub name: String,
    /// How many.
    pub quantity: i32,
}

/// A product image row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImageRow {
    /// Id.
    pub id: i64,
    /// Product type.
    pub product_type: String,
    /// Product id.
    pub product_id: i64,
    /// Stored image (URL or storage path).
    pub image: String,
    /// Stored thumbnail.
    pub thumbnail: Option<String>,
    /// The product's main image.
    pub is_primary: bool,
    /// Position.
    pub order: i32,
    /// Alternative text.
    pub alt_text: String,
    /// Upload time.
    pub uploaded_at: DateTime<Utc>,
}

/// A package or a campaign with everything its JSON shape needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Product {
    /// Id.
    pub id: i64,
    /// Unique name (per type, any case).
    pub name: String,
    /// Price as stored, e.g. `4999.00`.
    pub price: String,
    /// Description.
    pub description: String,
    /// `[str]`.
    pub features: Value,
    /// `[str]`.
    pub deliverables: Value,
    /// Campaigns only (`""` for packages).
    pub unit: String,
    /// Sold now.
    pub is_active: bool,
    /// On the popular list.
    pub is_popular: bool,
    /// Position on the popular list (0 when not popular).
    pub popular_order: i32,
    /// Creator.
    pub created_by_id: Option<i64>,
    /// Creator's username.
    pub created_by_name: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// HSN/SAC code.
    pub hsn_sac: String,
    /// GST rate in percent, e.g. `18.00`.
    pub gst_rate: String,
    /// Package items in insertion order (empty for campaigns).
    #[sqlx(skip)]
    pub items: Vec<PackageItem>,
    /// Images, primary first, then by order.
    #[sqlx(skip)]
    pub images: Vec<ImageRow>,
}

/// `SELECT` of product rows of type `kind` from `from` (a source aliased `p`), with `extra`
/// columns; items and images come from [`attach`].
fn select_from(kind: ProductType, from: &str, extra: &str) -> String {
    let unit = match kind {
        ProductType::Package => "''::varchar",
        ProductType::Campaign => "p.unit",
    };
    format!(
        "SELECT p.id, p.name, p.price::text AS price, p.description, p.features, p.deliverables, {unit} AS unit,
                p.is_active, p.is_popular, p.popular_order, p.created_by_id, u.username AS created_by_name,
                p.created_at, p.updated_at, p.hsn_sac, p.gst_rate::text AS gst_rate{extra}
         FROM {from} LEFT JOIN users u ON u.id = p.created_by_id"
    )
}

fn select(kind: ProductType) -> String {
    select_from(kind, &format!("{} p", kind.table()), "")
}

/// A package item or a product image, as [`attach`] reads both: image?, id, product id, item
/// name or stored image, thumbnail, quantity or position, primary?, alternative text, upload
/// time (read by position: hundreds of these make a page).
type Child = (bool, i64, i64, String, Option<String>, i32, bool, String, Option<DateTime<Utc>>);

/// Fills in the items and images of `products`, in one query.
async fn attach(conn: &mut PgConnection, kind: ProductType, products: &mut [Product]) -> Result<(), sqlx::Error> {
    if products.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let items = match kind {
        ProductType::Package => {
            "SELECT false AS image, id, package_id AS product_id, name, NULL::varchar AS thumbnail, quantity AS number,
                    false AS is_primary, ''::varchar AS alt_text, NULL::timestamptz AS uploaded_at
             FROM package_item WHERE package_id = ANY($1)
             UNION ALL "
        }
        ProductType::Campaign => "",
    };
    let sql = format!(
        r#"{items}SELECT true AS image, id, product_id, image AS name, thumbnail, "order" AS number, is_primary,
                    alt_text, uploaded_at
             FROM product_image WHERE product_type = $2 AND product_id = ANY($1)"#
    );
    let rows: Vec<Child> =
        sqlx::query_as(AssertSqlSafe(sql)).bind(&ids).bind(kind.as_str()).fetch_all(&mut *conn).await?;
    let at: HashMap<i64, usize> = products.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    for (image, id, product_id, name, thumbnail, number, is_primary, alt_text, uploaded_at) in rows {
        let Some(p) = at.get(&product_id).map(|&i| &mut products[i]) else { continue };
        if image {
            p.images.push(ImageRow {
                id,
                product_type: kind.as_str().to_string(),
                product_id,
                image: name,
                thumbnail,
                is_primary,
                order: number,
                alt_text,
                uploaded_at: uploaded_at.unwrap_or_default(),
            });
        } else {
            p.items.push(PackageItem { id, package_id: product_id, name, quantity: number });
        }
    }
    for p in products.iter_mut() {
        p.items.sort_unstable_by_key(|i| i.id);
        p.images.sort_unstable_by(|a, b| {
            (b.is_primary, a.order, b.uploaded_at, b.id).cmp(&(a.is_primary, b.order, a.uploaded_at, a.id))
        });
    }
    Ok(())
}

/// One product; `active_only` for the public catalogue. Two queries.
pub async fn get(pool: &PgPool, kind: ProductType, id: i64, active_only: bool) -> Result<Option<Product>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    get_in(&mut conn, kind, id, active_only).await
}

async fn get_in(
    conn: &mut PgConnection,
    kind: ProductType,
    id: i64,
    active_only: bool,
) -> Result<Option<Product>, sqlx::Error> {
    let sql = format!("{} WHERE p.id = $1 AND (p.is_active OR NOT $2)", select(kind));
    let found: Option<Product> =
        sqlx::query_as(AssertSqlSafe(sql)).bind(id).bind(active_only).fetch_optional(&mut *conn).await?;
    let Some(product) = found else { return Ok(None) };
    let mut list = [product];
    attach(conn, kind, &mut list).await?;
    let [product] = list;
    Ok(Some(product))
}

/// Products of one type by id (active or not), with their items and images, in two queries
/// whatever their number; missing ids are left out.
pub async fn get_many(conn: &mut PgConnection, kind: ProductType, ids: &[i64]) -> Result<Vec<Product>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{} WHERE p.id = ANY($1)", select(kind));
    let mut rows: Vec<Product> = sqlx::query_as(AssertSqlSafe(sql)).bind(ids).fetch_all(&mut *conn).await?;
    attach(conn, kind, &mut rows).await?;
    Ok(rows)
}

/// A product of a page, with the number of rows in all pages.
#[derive(sqlx::FromRow)]
struct PageRow {
    #[sqlx(flatten)]
    product: Product,
    total: i64,
}

/// Number of active products of a type.
pub async fn count_active<'e>(db: impl PgExecutor<'e>, kind: ProductType) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {} WHERE is_active", kind.table())))
        .fetch_one(db)
        .await
}

/// A page of active products: by `popular_order`, then newest (API.md §4.3). Returns the total
/// count and the page with items and images, in two queries (the rows with the count, then
/// their items and images); a page past the end costs a count instead.
pub async fn list_active(
    pool: &PgPool,
    kind: ProductType,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Product>), sqlx::Error> {
    const ORDER: &str = "popular_order, created_at DESC, id DESC";
    let mut conn = pool.acquire().await?;
    // The page is cut first; only its rows get the user join.
    let page = format!(
        "(SELECT t.*, count(*) OVER () AS total FROM {table} t WHERE t.is_active ORDER BY {ORDER} OFFSET $1 LIMIT $2) p",
        table = kind.table()
    );
    let sql = format!("{} ORDER BY p.{}", select_from(kind, &page, ", p.total"), ORDER.replace(", ", ", p."));
    let rows: Vec<PageRow> = sqlx::query_as(AssertSqlSafe(sql)).bind(offset).bind(limit).fetch_all(&mut *conn).await?;
    let count = match rows.first() {
        Some(row) => row.total,
        None if offset == 0 && limit > 0 => 0,
        None => return Ok((count_active(&mut *conn, kind).await?, Vec::new())),
    };
    let mut products: Vec<Product> = rows.into_iter().map(|r| r.product).collect();
    attach(&mut conn, kind, &mut products).await?;
    Ok((count, products))
}

/// Active popular products by position, at most three. Two queries.
pub async fn popular(pool: &PgPool, kind: ProductType) -> Result<Vec<Product>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let sql = format!("{} WHERE p.is_active AND p.is_popular ORDER BY p.popular_order, p.id LIMIT 3", select(kind));
    let mut rows: Vec<Product> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
    attach(&mut conn, kind, &mut rows).await?;
    Ok(rows)
}

/// Popular products (active or not) by position, for the admin reorder answer.
async fn popular_all(conn: &mut PgConnection, kind: ProductType) -> Result<Vec<Product>, sqlx::Error> {
    let sql = format!("{} WHERE p.is_popular ORDER BY p.popular_order, p.id", select(kind));
    let mut rows: Vec<Product> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
    attach(conn, kind, &mut rows).await?;
    Ok(rows)
}

/// Admin list of both types (or one), optional name search, newest first.
pub async fn admin_list(
    pool: &PgPool,
    kind: Option<ProductType>,
    search: Option<&str>,
) -> Result<Vec<(ProductType, Product)>, sqlx::Error> {
    let pattern = search.map(crate::db::like_pattern);
    let mut out = Vec::new();
    for k in [ProductType::Package, ProductType::Campaign] {
        if kind.is_some_and(|want| want != k) {
            continue;
        }
        let sql = format!("{} WHERE ($1::text IS NULL OR p.name ILIKE $1)", select(k));
        let rows: Vec<Product> = sqlx::query_as(AssertSqlSafe(sql)).bind(&pattern).fetch_all(pool).await?;
        out.extend(rows.into_iter().map(|p| (k, p)));
    }
    out.sort_by(|a, b| b.1.created_at.cmp(&a.1.created_at).then(b.1.id.cmp(&a.1.id)));
    Ok(out)
}

/// Validated fields of a create or full update.
#[derive(Debug, Clone)]
pub struct ProductInput {
    /// Name.
    pub name: String,
    /// Price.
    pub price: Money,
    /// Description.
    pub description: String,
    /// Features.
    pub features: Vec<String>,
    /// Deliverables.
    pub deliverables: Vec<String>,
    /// Package items; `None` keeps the current ones on update.
    pub items: Option<Vec<(String, i32)>>,
    /// Active flag; `None` keeps (update) or defaults to true (create).
    pub is_active: Option<bool>,
    /// Campaign unit.
    pub unit: String,
    /// HSN/SAC code.
    pub hsn_sac: String,
    /// GST rate, e.g. `18.00`.
    pub gst_rate: String,
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProductWriteError {
    /// Another product of the type has this name (any case).
    #[error("name taken")]
    NameTaken,
    /// An order that is not finished holds the product.
    #[error("pending orders")]
    PendingOrders,
    /// More than three would be popular.
    #[error("too many popular")]
    TooManyPopular,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn classify(err: sqlx::Error) -> ProductWriteError {
    match &err {
        sqlx::Error::Database(db)
            if db.is_unique_violation()
                && matches!(db.constraint(), Some("package_name_key") | Some("campaign_name_key")) =>
        {
            ProductWriteError::NameTaken
        }
        _ => ProductWriteError::Database(err),
    }
}

/// Marks the catalogue changed (same transaction as the change).
pub async fn bump_version(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE catalog_version SET version = version + 1").execute(conn).await?;
    Ok(())
}

/// Current catalogue version, the key of cached public reads (every bump also notifies
/// `catalog_changed` with the new version, by a trigger).
pub async fn version(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM catalog_version").fetch_one(pool).await
}

async fn audit(
    conn: &mut PgConnection,
    kind: ProductType,
    id: i64,
    action: &str,
    user_id: Option<i64>,
    changes: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO product_audit_log (product_type, product_id, action, user_id, changes) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(action)
    .bind(user_id)
    .bind(changes)
    .execute(conn)
    .await?;
    Ok(())
}

async fn replace_items(conn: &mut PgConnection, id: i64, items: &[(String, i32)]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM package_item WHERE package_id = $1").bind(id).execute(&mut *conn).await?;
    for (name, quantity) in items {
        sqlx::query("INSERT INTO package_item (package_id, name, quantity) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(quantity)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Creates a product (audit `create {name, price}`).
pub async fn create(
    pool: &PgPool,
    kind: ProductType,
    input: &ProductInput,
    user_id: Option<i64>,
) -> Result<Product, ProductWriteError> {
    let mut tx = crate::db::begin(pool).await?;
    let sql = match kind {
        ProductType::Package => {
            "INSERT INTO package (name, price, description, features, deliverables, is_active, created_by_id, hsn_sac, gst_rate)
             VALUES ($1, $2::numeric, $3, $4, $5, $6, $7, $8, $9::numeric) RETURNING id"
        }
        ProductType::Campaign => {
            "INSERT INTO campaign (name, price, description, features, deliverables, is_active, created_by_id, hsn_sac, gst_rate, unit)
             VALUES ($1, $2::numeric, $3, $4, $5, $6, $7, $8, $9::numeric, $10) RETURNING id"
        }
    };
    let mut query = sqlx::query_scalar(sql)
        .bind(&input.name)
        .bind(input.price.to_string())
        .bind(&input.description)
        .bind(json!(input.features))
        .bind(json!(input.deliverables))
        .bind(input.is_active.unwrap_or(true))
        .bind(user_id)
        .bind(&input.hsn_sac)
        .bind(&input.gst_rate);
    if kind == ProductType::Campaign {
        query = query.bind(&input.unit);
    }
    let id: i64 = query.fetch_one(&mut *tx).await.map_err(classify)?;
    if kind == ProductType::Package
        && let Some(items) = &input.items
    {
        replace_items(&mut tx, id, items).await?;
    }
    audit(&mut tx, kind, id, "create", user_id, json!({"name": input.name, "price": input.price.to_string()})).await?;
    bump_version(&mut tx).await?;
    let product = get_in(&mut tx, kind, id, false).await?.ok_or(sqlx::Error::RowNotFound)?;
    tx.commit().await?;
    Ok(product)
}

/// Full update; items replaced when given (audit `update` with the changed name/price/is_active).
pub async fn update(
    pool: &PgPool,
    kind: ProductType,
    id: i64,
    input: &ProductInput,
    user_id: Option<i64>,
) -> Result<Option<Product>, ProductWriteError> {
    let mut tx = crate::db::begin(pool).await?;
    let Some(before) = lock(&mut tx, kind, id).await? else { return Ok(None) };
    let sql = match kind {
        ProductType::Package => {
            "UPDATE package SET name = $2, price = $3::numeric, description = $4, features = $5, deliverables = $6,
                    is_active = COALESCE($7, is_active), hsn_sac = $8, gst_rate = $9::numeric, updated_at = now()
             WHERE id = $1"
        }
        ProductType::Campaign => {
            "UPDATE campaign SET name = $2, price = $3::numeric, description = $4, features = $5, deliverables = $6,
                    is_active = COALESCE($7, is_active), hsn_sac = $8, gst_rate = $9::numeric, unit = $10, updated_at = now()
             WHERE id = $1"
        }
    };
    let mut query = sqlx::query(sql)
        .bind(id)
        .bind(&input.name)
        .bind(input.price.to_string())
        .bind(&input.description)
        .bind(json!(input.features))
        .bind(json!(input.deliverables))
        .bind(input.is_active)
        .bind(&input.hsn_sac)
        .bind(&input.gst_rate);
    if kind == ProductType::Campaign {
        query = query.bind(&input.unit);
    }
    query.execute(&mut *tx).await.map_err(classify)?;
    if kind == ProductType::Package
        && let Some(items) = &input.items
    {
        replace_items(&mut tx, id, items).await?;
    }
    let mut changes = serde_json::Map::new();
    if before.name != input.name {
        changes.insert("name".into(), json!({"old": before.name, "new": input.name}));
    }
    let new_price = input.price.to_string();
    if before.price != new_price {
        changes.insert("price".into(), json!({"old": before.price, "new": new_price}));
    }
    if let Some(active) = input.is_active
        && active != before.is_active
    {
        changes.insert("is_active".into(), json!({"old": before.is_active, "new": active}));
    }
    audit(&mut tx, kind, id, "update", user_id, Value::Object(changes)).await?;
    bump_version(&mut tx).await?;
    let product = get_in(&mut tx, kind, id, false).await?;
    tx.commit().await?;
    Ok(product)
}

/// The product row, locked for the transaction.
async fn lock(conn: &mut PgConnection, kind: ProductType, id: i64) -> Result<Option<Product>, sqlx::Error> {
    let sql = format!("{} WHERE p.id = $1 FOR UPDATE OF p", select(kind));
    sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await
}

/// Order statuses that hold a product against deletion.
pub const HOLDING_STATUSES: [&str; 5] =
    ["pending_payment", "pending_resources", "ready_for_processing", "assigned", "in_progress"];

/// Deletes a product unless an unfinished order holds it (audit `delete {name, deleted_at}`).
/// Returns `false` when there is no such product.
pub async fn delete(
    pool: &PgPool,
    kind: ProductType,
    id: i64,
    user_id: Option<i64>,
) -> Result<bool, ProductWriteError> {
    let mut tx = crate::db::begin(pool).await?;
    let Some(before) = lock(&mut tx, kind, id).await? else { return Ok(false) };
    let held: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM order_item oi JOIN orders o ON o.id = oi.order_id
                        WHERE oi.product_type = $1 AND oi.product_id = $2 AND o.status = ANY($3))",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(&HOLDING_STATUSES[..])
    .fetch_one(&mut *tx)
    .await?;
    if held {
        return Err(ProductWriteError::PendingOrders);
    }
    sqlx::query(AssertSqlSafe(format!("DELETE FROM {} WHERE id = $1", kind.table())))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM cart_item WHERE product_type = $1 AND product_id = $2")
        .bind(kind.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // Definitions that past orders still reference stay, as the original's PROTECT kept them.
    sqlx::query(
        "DELETE FROM checklist_template_item t WHERE product_type = $1 AND product_id = $2
           AND NOT EXISTS (SELECT 1 FROM checklist_item c WHERE c.template_item_id = t.id)",
    )
    .bind(kind.as_str())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM resource_field_definition f WHERE product_type = $1 AND product_id = $2
           AND NOT EXISTS (SELECT 1 FROM dynamic_resource_submission s WHERE s.field_definition_id = f.id)",
    )
    .bind(kind.as_str())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let images: Vec<ImageRow> = sqlx::query_as(
        r#"DELETE FROM product_image WHERE product_type = $1 AND product_id = $2
           RETURNING id, product_type, product_id, image, thumbnail, is_primary, "order", alt_text, uploaded_at"#,
    )
    .bind(kind.as_str())
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !images.is_empty() {
        // The stored files go through the media worker, committed with the deletion.
        let mut job = crate::jobs::DeleteStoredMedia::default();
        for image in &images {
            let one = super::images::stored_media(image);
            job.paths.extend(one.paths);
            job.public_ids.extend(one.public_ids);
        }
        crate::jobs::enqueue(&mut tx, &job, None).await?;
    }
    if before.is_popular {
        renumber_popular(&mut tx, kind).await?;
    }
    audit(
        &mut tx,
        kind,
        id,
        "delete",
        user_id,
        json!({"name": before.name, "deleted_at": crate::time::utc(Utc::now())}),
    )
    .await?;
    bump_version(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// Flips `is_active` (audit `activate`/`deactivate`).
pub async fn toggle_status(
    pool: &PgPool,
    kind: ProductType,
    id: i64,
    user_id: Option<i64>,
) -> Result<Option<Product>, ProductWriteError> {
    let mut tx = crate::db::begin(pool).await?;
    let Some(before) = lock(&mut tx, kind, id).await? else { return Ok(None) };
    let now_active = !before.is_active;
    sqlx::query(AssertSqlSafe(format!("UPDATE {} SET is_active = $2, updated_at = now() WHERE id = $1", kind.table())))
        .bind(id)
        .bind(now_active)
        .execute(&mut *tx)
        .await?;
    let action = if now_active { "activate" } else { "deactivate" };
    audit(&mut tx, kind, id, action, user_id, json!({"is_active": {"old": before.is_active, "new": now_active}}))
        .await?;
    bump_version(&mut tx).await?;
    let product = get_in(&mut tx, kind, id, false).await?;
    tx.commit().await?;
    Ok(product)
}

/// Serializes popular-list changes of one type, whatever the timing of concurrent requests.
async fn lock_popular(conn: &mut PgConnection, kind: ProductType) -> Result<(), sqlx::Error> {
    let key: i64 = match kind {
        ProductType::Package => 7_601,
        ProductType::Campaign => 7_602,
    };
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(conn).await?;
    Ok(())
}

async fn renumber_popular(conn: &mut PgConnection, kind: ProductType) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {t} p SET popular_order = r.n FROM (
             SELECT id, row_number() OVER (ORDER BY popular_order, id)::int AS n FROM {t} WHERE is_popular) r
         WHERE p.id = r.id",
        t = kind.table()
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// Most popular products per type (API.md §7.6).
pub const MAX_POPULAR: i64 = 3;

/// Toggles `is_popular` (§7.6): on → last position; off → 0 and the rest renumbered 1…n.
pub async fn toggle_popular(pool: &PgPool, kind: ProductType, id: i64) -> Result<Option<Product>, ProductWriteError> {
    let mut tx = crate::db::begin(pool).await?;
    lock_popular(&mut tx, kind).await?;
    let Some(before) = lock(&mut tx, kind, id).await? else { return Ok(None) };
    if before.is_popular {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET is_popular = false, popular_order = 0, updated_at = now() WHERE id = $1",
            kind.table()
        )))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        renumber_popular(&mut tx, kind).await?;
    } else {
        let count: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {} WHERE is_popular", kind.table())))
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_POPULAR {
            return Err(ProductWriteError::TooManyPopular);
        }
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET is_popular = true, updated_at = now(),
                 popular_order = (SELECT COALESCE(max(popular_order), 0) + 1 FROM {t} WHERE is_popular)
             WHERE id = $1",
            t = kind.table()
        )))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    bump_version(&mut tx).await?;
    let product = get_in(&mut tx, kind, id, false).await?;
    tx.commit().await?;
    Ok(product)
}

/// Sets the 1-based position of each listed popular product; returns the popular list.
pub async fn reorder_popular(pool: &PgPool, kind: ProductType, ids: &[i64]) -> Result<Vec<Product>, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    lock_popular(&mut tx, kind).await?;
    for (position, id) in ids.iter().enumerate() {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET popular_order = $2, updated_at = now() WHERE id = $1 AND is_popular",
            kind.table()
        )))
        .bind(id)
        .bind(i32::try_from(position + 1).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
    }
    bump_version(&mut tx).await?;
    let list = popular_all(&mut tx, kind).await?;
    tx.commit().await?;
    Ok(list)
}

/// A row of `product_audit_log` with the user's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    /// Id.
    pub id: i64,
    /// create, update, delete, activate, deactivate.
    pub action: String,
    /// Who.
    pub user_id: Option<i64>,
    /// Their username.
    pub user_name: Option<String>,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// What changed.
    pub changes: Value,
    /// Product type.
    pub product_type: String,
    /// Product id.
    pub object_id: i64,
}

/// Audit entries of a product, newest first.
pub async fn audit_logs(pool: &PgPool, kind: ProductType, id: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT a.id, a.action, a.user_id, u.username AS user_name, a."timestamp", a.changes,
                  a.product_type, a.product_id AS object_id
           FROM product_audit_log a LEFT JOIN users u ON u.id = a.user_id
           WHERE a.product_type = $1 AND a.product_id = $2
           ORDER BY a."timestamp" DESC, a.id DESC"#,
    )
    .bind(kind.as_str())
    .bind(id)
    .fetch_all(pool)
    .await
}
