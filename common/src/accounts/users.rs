//! The `users` table.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use crate::db::is_unique_violation;
use crate::role::Role;

/// A row of `users`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Password hash (argon2id PHC, Django pbkdf2, or `!` unusable).
    pub password: String,
    /// Unique login name.
    pub username: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email, `""` when none.
    pub email: String,
    /// Unique phone number.
    pub phone_number: Option<String>,
    /// Stored role string.
    pub role: String,
    /// Django `is_staff` flag.
    pub is_staff: bool,
    /// Django `is_superuser` flag.
    pub is_superuser: bool,
    /// Inactive users cannot sign in and their tokens are refused.
    pub is_active: bool,
    /// Firebase uid, when linked.
    pub firebase_uid: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Session-less (legacy) access tokens issued before this are refused.
    pub sessions_valid_after: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, password, username, first_name, last_name, email, phone_number, role, is_staff, \
    is_superuser, is_active, firebase_uid, created_at, updated_at, sessions_valid_after";

impl User {
    /// Parsed role; unknown stored values count as `user`.
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::User)
    }

    /// `admin*` of API.md: the `is_staff` flag or role admin.
    pub fn is_admin_star(&self) -> bool {
        self.is_staff || self.role() == Role::Admin
    }

    /// First and last name, else either, else the username.
    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let full = full.trim();
        if full.is_empty() { self.username.clone() } else { full.to_string() }
    }

    /// Whether a session-less (legacy) access token issued at `iat` is still valid.
    pub fn accepts_legacy_token(&self, iat: i64) -> bool {
        self.sessions_valid_after.is_none_or(|cutoff| iat >= cutoff.timestamp())
    }
}

/// Fields of a new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Already hashed password.
    pub password_hash: String,
    /// Phone, if any.
    pub phone_number: Option<String>,
    /// Email or `""`.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Firebase uid.
    pub firebase_uid: Option<String>,
    /// Django flags.
    pub is_staff: bool,
    /// Django flags.
    pub is_superuser: bool,
}

/// Why an account could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserWriteError {
    /// `users_username_key`.
    #[error("username taken")]
    UsernameTaken,
    /// `users_phone_number_key`.
    #[error("phone number taken")]
    PhoneTaken,
    /// `users_firebase_uid_key`.
    #[error("firebase uid taken")]
    FirebaseUidTaken,
    /// Anything else.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn classify(err: sqlx::Error) -> UserWriteError {
    if is_unique_violation(&err, "users_username_key") {
        UserWriteError::UsernameTaken
    } else if is_unique_violation(&err, "users_phone_number_key") {
        UserWriteError::PhoneTaken
    } else if is_unique_violation(&err, "users_firebase_uid_key") {
        UserWriteError::FirebaseUidTaken
    } else {
        UserWriteError::Database(err)
    }
}

/// Inserts an account; uniqueness is enforced by the constraints, not a prior read.
pub async fn create(conn: &mut PgConnection, new: &NewUser) -> Result<User, UserWriteError> {
    sqlx::query_as::<_, User>(AssertSqlSafe(format!(
        "INSERT INTO users (username, password, phone_number, email, role, firebase_uid, is_staff, is_superuser)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING {COLUMNS}"
    )))
    .bind(&new.username)
    .bind(&new.password_hash)
    .bind(&new.phone_number)
    .bind(&new.email)
    .bind(new.role.as_str())
    .bind(&new.firebase_uid)
    .bind(new.is_staff)
    .bind(new.is_superuser)
    .fetch_one(conn)
    .await
    .map_err(classify)
}

/// Loads an account by id.
pub async fn find(pool: &PgPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Loads several accounts by id.
pub async fn find_many(pool: &PgPool, ids: &[i64]) -> Result<std::collections::HashMap<i64, User>, sqlx::Error> {
    let rows = sqlx::query_as::<_, User>(AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = ANY($1)")))
        .bind(ids)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// Loads the account an access token names, with whether the token's session (refresh family)
/// is still open; one query per authenticated request.
///
/// Two statements, for tokens with and without a session id: one statement with
/// `$2 IS NOT NULL AND EXISTS (…)` was planned again on every execution, because PostgreSQL's
/// custom plan for a null `$2` (the subquery folded away) always looked cheaper than the cached
/// generic one. Each of these two gets its generic plan after five executions.
pub async fn find_for_token(pool: &PgPool, id: i64, sid: Option<Uuid>) -> Result<Option<(User, bool)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: User,
        session_open: bool,
    }
    static WITH_SESSION: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {COLUMNS},
                    EXISTS (SELECT 1 FROM refresh_token r
                            WHERE r.family_id = $2 AND r.user_id = users.id AND r.revoked_at IS NULL) AS session_open
             FROM users WHERE id = $1"
        )
    });
    static WITHOUT_SESSION: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {COLUMNS}, false AS session_open FROM users WHERE id = $1"));
    let row = match sid {
        Some(sid) => {
            sqlx::query_as::<_, Row>(AssertSqlSafe(WITH_SESSION.as_str()))
                .bind(id)
                .bind(sid)
                .fetch_optional(pool)
                .await?
        }
        None => sqlx::query_as::<_, Row>(AssertSqlSafe(WITHOUT_SESSION.as_str())).bind(id).fetch_optional(pool).await?,
    };
    Ok(row.map(|r| (r.user, r.session_open)))
}

/// Loads an account by exact username.
pub async fn find_by_username(pool: &PgPool, username: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE username = $1")))
        .bind(username)
        .fetch_optional(pool)
        .await
}

/// Active accounts with this email (case-insensitive), oldest first.
pub async fn find_active_by_email(pool: &PgPool, email: &str) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1) AND email <> '' AND is_active ORDER BY id"
    )))
    .bind(email)
    .fetch_all(pool)
    .await
}

/// Stores a successful login, replacing the hash when it was upgraded.
pub async fn record_login(pool: &PgPool, id: i64, new_hash: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_login = now(), password = COALESCE($2, password) WHERE id = $1")
        .bind(id)
        .bind(new_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Replaces the password and refuses session-less (legacy) access tokens issued before now.
/// Sessions are ended separately ([`super::sessions::revoke_all`]).
pub async fn set_password(conn: &mut PgConnection, id: i64, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password = $2, sessions_valid_after = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// A user with the number of their orders, for the admin list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserWithOrders {
    /// The account.
    #[sqlx(flatten)]
    pub user: User,
    /// Orders placed by the user.
    pub order_count: i64,
}

/// Admin list: optional exact role, optional case-insensitive search of phone or username,
/// newest first.
pub async fn list(pool: &PgPool, role: Option<&str>, search: Option<&str>) -> Result<Vec<UserWithOrders>, sqlx::Error> {
    let pattern = search.map(crate::db::like_pattern);
    sqlx::query_as::<_, UserWithOrders>(AssertSqlSafe(format!(
        "SELECT {cols}, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS order_count
         FROM users u
         WHERE ($1::text IS NULL OR u.role = $1)
           AND ($2::text IS NULL OR u.username ILIKE $2 OR u.phone_number ILIKE $2)
         ORDER BY u.created_at DESC, u.id DESC",
        cols = COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
    )))
    .bind(role)
    .bind(pattern)
    .fetch_all(pool)
    .await
}

/// Customers (role `customer`) whose phone or first or last name contains `text`, oldest first.
pub async fn search_customers(pool: &PgPool, text: &str, limit: i64) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE role = 'customer'
           AND (phone_number ILIKE $1 OR first_name ILIKE $1 OR last_name ILIKE $1)
         ORDER BY id LIMIT $2"
    )))
    .bind(crate::db::like_pattern(text))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A staff member with the number of their orders in assigned or in_progress.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffWithLoad {
    /// The account.
    #[sqlx(flatten)]
    pub user: User,
    /// Open assignments.
    pub assigned_orders_count: i64,
}

/// Staff and admins by username, with their open assignments.
pub async fn staff_with_load(pool: &PgPool) -> Result<Vec<StaffWithLoad>, sqlx::Error> {
    sqlx::query_as::<_, StaffWithLoad>(AssertSqlSafe(format!(
        "SELECT {cols}, (SELECT count(*) FROM orders o WHERE o.assigned_to_id = u.id
                          AND o.status IN ('assigned', 'in_progress')) AS assigned_orders_count
         FROM users u WHERE u.role IN ('staff', 'admin') ORDER BY u.username",
        cols = COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
    )))
    .fetch_all(pool)
    .await
}

/// Why a role change or a deletion was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountChangeError {
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The change would leave no active admin.
    #[error("at least one active admin must remain")]
    LastAdmin,
    /// The user has payments or an issued invoice, which must be kept.
    #[error("the user has paid orders")]
    HasPaidOrders,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Changes the role. The active admins are locked first, so two admins demoting each other at
/// once cannot leave the shop without one.
pub async fn set_role(pool: &PgPool, id: i64, role: Role) -> Result<User, AccountChangeError> {
    let mut tx = crate::db::begin(pool).await?;
    let admins: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    if role != Role::Admin && admins.contains(&id) && admins.len() <= 1 {
        return Err(AccountChangeError::LastAdmin);
    }
    let user = sqlx::query_as::<_, User>(AssertSqlSafe(format!(
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(role.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AccountChangeError::NotFound)?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes the account (unpaid orders, cart and tokens cascade); returns the username. A user
/// with any payment or issued invoice is kept: a GST-registered shop must keep its invoices. The
/// user's orders are locked first, so a payment landing meanwhile waits and is never cascaded away.
pub async fn delete(pool: &PgPool, id: i64) -> Result<String, AccountChangeError> {
    let mut tx = crate::db::begin(pool).await?;
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        return Err(AccountChangeError::NotFound);
    }
    let paid: bool = sqlx::query_scalar(
        "WITH mine AS (SELECT id, invoice_number, payment_completed_at FROM orders WHERE user_id = $1 FOR UPDATE)
         SELECT EXISTS (
             SELECT 1 FROM mine m
             WHERE m.invoice_number IS NOT NULL OR m.payment_completed_at IS NOT NULL
                OR EXISTS (SELECT 1 FROM payment_record r WHERE r.order_id = m.id)
                OR EXISTS (SELECT 1 FROM payment_history h WHERE h.order_id = m.id)
                OR EXISTS (SELECT 1 FROM refund f WHERE f.order_id = m.id))",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if paid {
        return Err(AccountChangeError::HasPaidOrders);
    }
    let username: String =
        sqlx::query_scalar("DELETE FROM users WHERE id = $1 RETURNING username").bind(id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(username)
}
