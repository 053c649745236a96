//! The desk's look-ups (API.md §4.6, §5 #3): the products a manual order may take and the admin
//! app's top-bar search.

use sqlx::PgPool;

use crate::catalog::ProductType;

/// A product as the manual-order form lists it; price in paise.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderableProduct {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Current price.
    pub price: i64,
    /// Always true (only active products are listed).
    pub is_active: bool,
}

/// The active products of one type, by name.
pub async fn orderable_products(pool: &PgPool, kind: ProductType) -> Result<Vec<OrderableProduct>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, description, (price * 100)::bigint AS price, is_active FROM {} WHERE is_active
         ORDER BY name, id",
        kind.table()
    )))
    .fetch_all(pool)
    .await
}

/// An order found by the top-bar search, with its customer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderHit {
    /// Id.
    pub id: i64,
    /// Order number.
    pub order_number: String,
    /// §7.1 status.
    pub status: String,
    /// The customer's username.
    pub username: String,
    /// The customer's phone.
    pub phone_number: Option<String>,
    /// The customer's first name.
    pub first_name: String,
    /// The customer's last name.
    pub last_name: String,
}

/// A product found by the top-bar search; price in paise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductHit {
    /// Type.
    pub kind: ProductType,
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Price.
    pub price: i64,
}

/// An account found by the top-bar search.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserHit {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Phone.
    pub phone_number: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Role.
    pub role: String,
}

/// What the top-bar search found, at most [`Found::LIMIT`] of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Orders by number, customer phone or username, newest first.
    pub orders: Vec<OrderHit>,
    /// Products by name: packages, then campaigns, by name.
    pub products: Vec<ProductHit>,
    /// Customer accounts (roles user and customer) by username.
    pub users: Vec<UserHit>,
    /// Staff and admin accounts by username.
    pub staff: Vec<UserHit>,
}

impl Found {
    /// Hits of each kind at most.
    pub const LIMIT: usize = 5;
}

/// Who searches: admins see every order and the accounts; staff only the orders assigned to them
/// and no accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Searcher {
    /// Role admin.
    Admin,
    /// A staff member (their id).
    Staff(i64),
}

/// The top-bar search (§5 #3) for `text` (at least two characters, checked by the caller).
pub async fn search(pool: &PgPool, text: &str, who: Searcher) -> Result<Found, sqlx::Error> {
    let pattern = crate::db::like_pattern(text);
    let limit = Found::LIMIT as i64;
    let only = match who {
        Searcher::Admin => None,
        Searcher::Staff(id) => Some(id),
    };
    let orders = sqlx::query_as(
        "SELECT o.id, o.order_number, o.status, u.username, u.phone_number, u.first_name, u.last_name
         FROM orders o JOIN users u ON u.id = o.user_id
         WHERE (o.order_number ILIKE $1 OR u.phone_number ILIKE $1 OR u.username ILIKE $1)
           AND ($2::bigint IS NULL OR o.assigned_to_id = $2)
         ORDER BY o.created_at DESC, o.id DESC LIMIT $3",
    )
    .bind(&pattern)
    .bind(only)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut products = Vec::new();
    for kind in [ProductType::Package, ProductType::Campaign] {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, (price * 100)::bigint FROM {} WHERE name ILIKE $1 ORDER BY name, id LIMIT $2",
            kind.table()
        )))
        .bind(&pattern)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        products.extend(rows.into_iter().map(|(id, name, price)| ProductHit { kind, id, name, price }));
    }
    products.truncate(Found::LIMIT);
    let mut found = Found { orders, products, ..Found::default() };
    if who == Searcher::Admin {
        found.users = accounts(pool, &pattern, &["user", "customer"]).await?;
        found.staff = accounts(pool, &pattern, &["staff", "admin"]).await?;
    }
    Ok(found)
}

/// Accounts of `roles` whose username, phone, names or email match.
async fn accounts(pool: &PgPool, pattern: &str, roles: &[&str]) -> Result<Vec<UserHit>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, username, phone_number, first_name, last_name, role FROM users
         WHERE role = ANY($2) AND (username ILIKE $1 OR phone_number ILIKE $1 OR first_name ILIKE $1
                                   OR last_name ILIKE $1 OR email ILIKE $1)
         ORDER BY username LIMIT $3",
    )
    .bind(pattern)
    .bind(roles)
    .bind(Found::LIMIT as i64)
    .fetch_all(pool)
    .await
}
