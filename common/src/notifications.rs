//! In-app notifications (API.md §4.8, §7.7): each user reads and marks only their own.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// A notification with the number of the order it is about.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// Recipient.
    pub user_id: i64,
    /// `new_order`, `order_assigned`, `progress_update`, `order_completed`, ….
    pub notification_type: String,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// The order it is about, if any.
    pub order_id: Option<i64>,
    /// That order's number.
    pub order_number: Option<String>,
    /// Read yet.
    pub is_read: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A page of the user's notifications (only unread ones if asked), newest first with ties by id
/// descending, and the count of all that match.
pub async fn list(
    pool: &PgPool,
    user_id: i64,
    unread_only: bool,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Notification>), sqlx::Error> {
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notification WHERE user_id = $1 AND (NOT $2 OR NOT is_read)")
            .bind(user_id)
            .bind(unread_only)
            .fetch_one(pool)
            .await?;
    if limit <= 0 || offset >= count {
        return Ok((count, Vec::new()));
    }
    let rows = sqlx::query_as(
        "SELECT n.id, n.user_id, n.notification_type, n.title, n.message, n.order_id,
                o.order_number, n.is_read, n.created_at
         FROM notification n LEFT JOIN orders o ON o.id = n.order_id
         WHERE n.user_id = $1 AND (NOT $2 OR NOT n.is_read)
         ORDER BY n.created_at DESC, n.id DESC
         LIMIT $3 OFFSET $4",
    )
    .bind(user_id)
    .bind(unread_only)
    .bind(limit)
    .bind(offset.max(0))
    .fetch_all(pool)
    .await?;
    Ok((count, rows))
}

/// Marks one of the user's notifications read; `false` when the user has no notification with
/// that id (another user's counts as missing). Marking a read one again succeeds.
pub async fn mark_read(pool: &PgPool, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE notification SET is_read = true WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Marks all of the user's unread notifications read; returns how many changed.
pub async fn mark_all_read(pool: &PgPool, user_id: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("UPDATE notification SET is_read = true WHERE user_id = $1 AND NOT is_read")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Notifies one user (unread, created now), in the caller's transaction if it has one.
pub async fn notify_user(
    conn: &mut PgConnection,
    user_id: i64,
    kind: &str,
    title: &str,
    message: &str,
    order_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notification (user_id, notification_type, title, message, order_id)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(kind)
    .bind(title)
    .bind(message)
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}
