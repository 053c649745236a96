//! Password reset by email: single-use tokens valid for `PASSWORD_RESET_TTL_SECONDS`.

use std::time::Duration;

use sqlx::PgPool;

use super::sessions::{hash_token, new_token};
use super::users::{self, User};
use crate::jobs::{self, SendEmail};

/// What the client asked to reset.
#[derive(Debug, Clone)]
pub enum ResetTarget {
    /// By email address (every active account with it).
    Email(String),
    /// By username.
    Username(String),
}

/// Settings the reset flow needs.
#[derive(Debug, Clone)]
pub struct ResetSettings {
    /// Token lifetime.
    pub ttl: Duration,
    /// Link with `{token}`.
    pub url_template: String,
}

/// Creates a token and its email job for each matching active account that has an email, in one
/// transaction. Returns how many emails were queued (never shown to the client).
pub async fn request(
    pool: &PgPool,
    settings: &ResetSettings,
    target: &ResetTarget,
    ip: &str,
) -> Result<usize, sqlx::Error> {
    let accounts: Vec<User> = match target {
        ResetTarget::Email(email) => users::find_active_by_email(pool, email).await?,
        ResetTarget::Username(name) => users::find_by_username(pool, name)
            .await?
            .into_iter()
            .filter(|u| u.is_active && !u.email.trim().is_empty())
            .collect(),
    };
    if accounts.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    for user in &accounts {
        let (token, hash) = new_token();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO password_reset_token (user_id, token_hash, expires_at, requested_ip)
             VALUES ($1, $2, now() + make_interval(secs => $3), $4) RETURNING id",
        )
        .bind(user.id)
        .bind(hash)
        .bind(settings.ttl.as_secs_f64())
        .bind(ip)
        .fetch_one(&mut *tx)
        .await?;
        let job = SendEmail {
            message_key: format!("password_reset:{id}"),
            to: user.email.trim().to_string(),
            template: "password_reset".into(),
            context: serde_json::json!({
                "name": user.display_name(),
                "username": user.username,
                "reset_url": settings.url_template.replace("{token}", &token),
                "valid_minutes": settings.ttl.as_secs() / 60,
            }),
        };
        let key = job.message_key.clone();
        jobs::enqueue(&mut tx, &job, Some(&key)).await?;
    }
    tx.commit().await?;
    Ok(accounts.len())
}

/// Why a reset was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// Unknown, used or expired token, or an inactive account.
    #[error("invalid token")]
    InvalidToken,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Whether `token` is an unused, unexpired token of an active account (checked before any
/// password is hashed; [`confirm`] checks again under a lock).
pub async fn is_usable(pool: &PgPool, token: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM password_reset_token t JOIN users u ON u.id = t.user_id
                        WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now() AND u.is_active)",
    )
    .bind(hash_token(token))
    .fetch_one(pool)
    .await
}

/// Uses the token: sets the (already hashed) password, spends every outstanding reset token of
/// the account, signs out every session.
pub async fn confirm(pool: &PgPool, token: &str, new_hash: &str) -> Result<i64, ConfirmError> {
    let mut tx = pool.begin().await?;
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT t.id, t.user_id FROM password_reset_token t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now() AND u.is_active
         FOR UPDATE OF t",
    )
    .bind(hash_token(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((_, user_id)) = row else {
        return Err(ConfirmError::InvalidToken);
    };
    sqlx::query("UPDATE password_reset_token SET used_at = now() WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    users::set_password(&mut tx, user_id, new_hash).await?;
    super::sessions::revoke_all(&mut tx, user_id, None).await?;
    tx.commit().await?;
    Ok(user_id)
}
