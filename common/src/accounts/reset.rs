//! Password reset by email: single-use tokens valid for `PASSWORD_RESET_TTL_SECONDS`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use sqlx::{PgConnection, PgPool};

use super::sessions::hash_token;
use super::users::{self, User};
use crate::jobs::{self, SendEmail, SendPasswordReset};

/// The token of a reset link: HMAC-SHA256 of the row's random salt under the signing secret.
/// Only its SHA-256 is stored; the worker derives it again to build the link, so neither the job
/// table nor Redis ever holds it.
pub fn derive_token(secret: &SecretString, salt: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; unreachable.
        Err(_) => return String::new(),
    };
    mac.update(b"password-reset:");
    mac.update(salt);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// What the client asked to reset.
#[derive(Debug, Clone)]
pub enum ResetTarget {
    /// By email address (every active account with it).
    Email(String),
    /// By username.
    Username(String),
}

impl ResetSettings {
    /// The settings of `cfg`.
    pub fn from_config(cfg: &crate::Config) -> Self {
        Self {
            ttl: cfg.password_reset_ttl,
            url_template: cfg.password_reset_url.clone(),
            secret: cfg.jwt_secret.clone(),
        }
    }
}

/// Settings the reset flow needs.
#[derive(Debug, Clone)]
pub struct ResetSettings {
    /// Token lifetime.
    pub ttl: Duration,
    /// Link with `{token}`.
    pub url_template: String,
    /// The signing secret tokens are derived with (`JWT_SECRET`).
    pub secret: SecretString,
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
    let mut tx = crate::db::begin(pool).await?;
    for user in &accounts {
        let id = create_token_row(&mut tx, user.id, &settings.secret, settings.ttl, ip).await?;
        jobs::enqueue(&mut tx, &SendPasswordReset { reset_id: id, welcome: false }, Some(&message_key(id))).await?;
    }
    tx.commit().await?;
    Ok(accounts.len())
}

/// Writes a `password_reset_token` row for `user_id` valid for `ttl`: a random salt and the
/// SHA-256 of the token derived from it (the token itself is derived again by the worker that
/// sends the link). Returns the row's id.
pub async fn create_token_row(
    conn: &mut PgConnection,
    user_id: i64,
    secret: &SecretString,
    ttl: Duration,
    ip: &str,
) -> Result<i64, sqlx::Error> {
    let mut salt = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut salt);
    let token = derive_token(secret, &salt);
    sqlx::query_scalar(
        "INSERT INTO password_reset_token (user_id, token_hash, salt, expires_at, requested_ip)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5) RETURNING id",
    )
    .bind(user_id)
    .bind(hash_token(&token))
    .bind(&salt[..])
    .bind(ttl.as_secs_f64())
    .bind(ip)
    .fetch_one(conn)
    .await
}

/// The dedupe key of a reset email (one per token row).
pub fn message_key(reset_id: i64) -> String {
    format!("password_reset:{reset_id}")
}

/// The dedupe key of the welcome email of an account (one per account).
pub fn welcome_key(user_id: i64) -> String {
    format!("welcome:{user_id}")
}

/// The email of one reset token, built for sending: the password-reset email, or with `welcome`
/// the welcome email of an account an admin created (same link, to set its first password).
/// `None` when the token was used, has expired, has no salt (sent by an older release), or its
/// account is gone, inactive or has no email address; nothing is sent then.
pub async fn email_for(
    pool: &PgPool,
    settings: &ResetSettings,
    reset_id: i64,
    welcome: bool,
) -> Result<Option<SendEmail>, sqlx::Error> {
    let row: Option<(i64, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT user_id, salt, EXTRACT(EPOCH FROM expires_at - created_at)::bigint FROM password_reset_token
         WHERE id = $1 AND used_at IS NULL AND expires_at > now() AND salt IS NOT NULL",
    )
    .bind(reset_id)
    .fetch_optional(pool)
    .await?;
    let Some((user_id, salt, valid_secs)) = row else { return Ok(None) };
    let Some(user) = users::find(pool, user_id).await?.filter(|u| u.is_active && !u.email.trim().is_empty()) else {
        return Ok(None);
    };
    let token = derive_token(&settings.secret, &salt);
    let url = settings.url_template.replace("{token}", &token);
    let (message_key, template, context) = if welcome {
        let context = serde_json::json!({
            "name": user.display_name(),
            "username": user.username,
            "set_password_url": url,
            // Whole hours of the link's lifetime as written, at least one.
            "valid_hours": (valid_secs / 3600).max(1),
        });
        (welcome_key(user_id), "welcome", context)
    } else {
        let context = serde_json::json!({
            "name": user.display_name(),
            "username": user.username,
            "reset_url": url,
            "valid_minutes": settings.ttl.as_secs() / 60,
        });
        (message_key(reset_id), "password_reset", context)
    };
    Ok(Some(SendEmail {
        message_key,
        to: user.email.trim().to_string(),
        template: template.into(),
        context,
        attachments: Vec::new(),
    }))
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
    let mut tx = crate::db::begin(pool).await?;
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
