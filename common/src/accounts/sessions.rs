//! Refresh tokens: opaque random strings stored as SHA-256 hashes, rotated on every use.
//! A token presented after it was used (a stolen copy, or a replay) revokes its whole family.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A new random token (256 bits, URL-safe) and its stored hash.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a presented token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A freshly issued refresh token.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    /// The token to hand to the client.
    pub token: String,
    /// Its family (session) id.
    pub family_id: Uuid,
}

/// Where a session came from, kept for the user's records.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// `User-Agent`, truncated.
    pub user_agent: String,
    /// Client address.
    pub ip: String,
}

/// Starts a new session family (login, signup).
pub async fn start(
    conn: &mut PgConnection,
    user_id: i64,
    ttl: Duration,
    client: &ClientInfo,
) -> Result<IssuedRefresh, sqlx::Error> {
    insert(conn, user_id, Uuid::new_v4(), ttl, client).await
}

async fn insert(
    conn: &mut PgConnection,
    user_id: i64,
    family_id: Uuid,
    ttl: Duration,
    client: &ClientInfo,
) -> Result<IssuedRefresh, sqlx::Error> {
    let (token, hash) = new_token();
    let agent: String = client.user_agent.chars().take(255).collect();
    sqlx::query(
        "INSERT INTO refresh_token (user_id, family_id, token_hash, expires_at, user_agent, ip)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6)",
    )
    .bind(user_id)
    .bind(family_id)
    .bind(hash)
    .bind(ttl.as_secs_f64())
    .bind(agent)
    .bind(&client.ip)
    .execute(conn)
    .await?;
    Ok(IssuedRefresh { token, family_id })
}

/// Outcome of presenting a refresh token.
#[derive(Debug, Clone)]
pub enum Rotation {
    /// Valid: here is its successor, for this user.
    Rotated {
        /// Owner.
        user_id: i64,
        /// New token.
        refresh: IssuedRefresh,
    },
    /// Unknown, expired or revoked.
    Invalid,
    /// Already used: the family is now revoked.
    Reused,
}

/// Exchanges a refresh token for a new one in the same family.
pub async fn rotate(pool: &PgPool, token: &str, ttl: Duration, client: &ClientInfo) -> Result<Rotation, sqlx::Error> {
    let mut tx = crate::db::begin(pool).await?;
    let row: Option<(i64, i64, Uuid, bool, bool, bool)> = sqlx::query_as(
        "SELECT id, user_id, family_id, used_at IS NOT NULL, revoked_at IS NOT NULL, expires_at <= now()
         FROM refresh_token WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hash_token(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, user_id, family_id, used, revoked, expired)) = row else {
        return Ok(Rotation::Invalid);
    };
    if used {
        revoke_family_in(&mut tx, family_id).await?;
        tx.commit().await?;
        tracing::warn!(user_id, %family_id, "refresh token reused; session family revoked");
        return Ok(Rotation::Reused);
    }
    if revoked || expired {
        return Ok(Rotation::Invalid);
    }
    sqlx::query("UPDATE refresh_token SET used_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
    let refresh = insert(&mut tx, user_id, family_id, ttl, client).await?;
    tx.commit().await?;
    Ok(Rotation::Rotated { user_id, refresh })
}

async fn revoke_family_in(conn: &mut PgConnection, family_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_token SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Logout: revokes the family of `token` when it belongs to `user_id`. Returns whether it did.
pub async fn revoke_by_token(pool: &PgPool, user_id: i64, token: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_token SET revoked_at = now()
         WHERE revoked_at IS NULL AND family_id = (
             SELECT family_id FROM refresh_token WHERE token_hash = $1 AND user_id = $2)",
    )
    .bind(hash_token(token))
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Revokes every session of the user except `keep` (password change keeps the caller's).
pub async fn revoke_all(conn: &mut PgConnection, user_id: i64, keep: Option<Uuid>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_token SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR family_id <> $2)",
    )
    .bind(user_id)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
