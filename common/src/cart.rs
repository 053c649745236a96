//! The customer's cart (API.md §4.4): one per user, made on first use; a line per product.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::catalog::ProductType;
use crate::catalog::products::{self, Product};

/// Largest quantity of one line.
pub const MAX_QUANTITY: i32 = 100_000;

/// A cart row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartRow {
    /// Id.
    pub id: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A line with its product (lines of deleted products are dropped).
#[derive(Debug, Clone)]
pub struct CartLine {
    /// Line id.
    pub id: i64,
    /// Product type.
    pub kind: ProductType,
    /// The product as it is now.
    pub product: Product,
    /// Quantity.
    pub quantity: i32,
    /// When first added.
    pub added_at: DateTime<Utc>,
}

/// A cart with its lines.
#[derive(Debug, Clone)]
pub struct Cart {
    /// The cart.
    pub cart: CartRow,
    /// Its lines, oldest first.
    pub lines: Vec<CartLine>,
}

/// The user's cart, made if missing.
pub async fn get_or_create(conn: &mut PgConnection, user_id: i64) -> Result<CartRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO cart (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
         RETURNING id, created_at, updated_at",
    )
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// The user's cart if it exists.
pub async fn find(pool: &PgPool, user_id: i64) -> Result<Option<CartRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, created_at, updated_at FROM cart WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

/// Loads the lines of a cart with their products: the lines, then the products of each type in
/// one batch ([`products::get_many`]), whatever the number of lines.
pub async fn load(pool: &PgPool, cart: CartRow) -> Result<Cart, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let rows: Vec<(i64, String, i64, i32, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, product_type, product_id, quantity, added_at FROM cart_item WHERE cart_id = $1 ORDER BY added_at, id",
    )
    .bind(cart.id)
    .fetch_all(&mut *conn)
    .await?;
    let mut found: HashMap<(ProductType, i64), Product> = HashMap::new();
    for kind in [ProductType::Package, ProductType::Campaign] {
        let ids: Vec<i64> = rows.iter().filter(|r| ProductType::parse(&r.1) == Some(kind)).map(|r| r.2).collect();
        for product in products::get_many(&mut conn, kind, &ids).await? {
            found.insert((kind, product.id), product);
        }
    }
    let lines = rows
        .into_iter()
        .filter_map(|(id, kind, product_id, quantity, added_at)| {
            let kind = ProductType::parse(&kind)?;
            let product = found.remove(&(kind, product_id))?;
            Some(CartLine { id, kind, product, quantity, added_at })
        })
        .collect();
    Ok(Cart { cart, lines })
}

/// Why an item could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// No active product with that id.
    #[error("product not found")]
    ProductNotFound,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Adds `quantity` of an active product; an existing line grows (capped at [`MAX_QUANTITY`]).
pub async fn add(
    pool: &PgPool,
    user_id: i64,
    kind: ProductType,
    product_id: i64,
    quantity: i32,
) -> Result<CartRow, AddError> {
    let mut tx = crate::db::begin(pool).await?;
    let active: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = $1 AND is_active)",
        kind.table()
    )))
    .bind(product_id)
    .fetch_one(&mut *tx)
    .await?;
    if !active {
        return Err(AddError::ProductNotFound);
    }
    let cart = get_or_create(&mut tx, user_id).await?;
    sqlx::query(
        "INSERT INTO cart_item (cart_id, product_type, product_id, quantity) VALUES ($1, $2, $3, $4)
         ON CONFLICT (cart_id, product_type, product_id)
         DO UPDATE SET quantity = LEAST(cart_item.quantity + EXCLUDED.quantity, $5)",
    )
    .bind(cart.id)
    .bind(kind.as_str())
    .bind(product_id)
    .bind(quantity)
    .bind(MAX_QUANTITY)
    .execute(&mut *tx)
    .await?;
    let cart: CartRow =
        sqlx::query_as("UPDATE cart SET updated_at = now() WHERE id = $1 RETURNING id, created_at, updated_at")
            .bind(cart.id)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(cart)
}

/// Removes a line of the user's cart; `false` when the cart has no such line.
pub async fn remove(pool: &PgPool, cart_id: i64, line_id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    let done = sqlx::query("DELETE FROM cart_item WHERE id = $1 AND cart_id = $2")
        .bind(line_id)
        .bind(cart_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    touch(&mut tx, cart_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Empties the cart.
pub async fn clear(pool: &PgPool, cart_id: i64) -> Result<(), sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    sqlx::query("DELETE FROM cart_item WHERE cart_id = $1").bind(cart_id).execute(&mut *tx).await?;
    touch(&mut tx, cart_id).await?;
    tx.commit().await?;
    Ok(())
}

async fn touch(conn: &mut PgConnection, cart_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE cart SET updated_at = now() WHERE id = $1").bind(cart_id).execute(conn).await?;
    Ok(())
}
