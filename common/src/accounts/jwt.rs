//! Access tokens: HS256 JWTs with the original backend's claims, so a token it signed with the
//! same secret is accepted and ours are accepted by anything that read its tokens.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `users.id`.
    pub user_id: i64,
    /// Phone number at issue time.
    pub phone_number: Option<String>,
    /// Role at issue time (permissions use the stored role).
    pub role: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
    /// Session family (refresh-token family) this token belongs to; absent in legacy tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Why a token was refused; the messages are the original's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Signature, algorithm or format is wrong.
    Invalid,
    /// `exp` has passed.
    Expired,
}

impl TokenError {
    /// The `detail` the original returned.
    pub fn detail(self) -> &'static str {
        match self {
            TokenError::Invalid => "Invalid token",
            TokenError::Expired => "Token has expired",
        }
    }
}

/// Signs and checks access tokens with `JWT_SECRET`.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl JwtKeys {
    /// Keys from the secret and token lifetime.
    pub fn new(secret: &SecretString, ttl: Duration) -> Result<Self, jsonwebtoken::errors::Error> {
        let bytes = secret.expose_secret().as_bytes();
        Ok(Self { encoding: EncodingKey::from_secret(bytes)?, decoding: DecodingKey::from_secret(bytes)?, ttl })
    }

    /// Token lifetime in seconds.
    pub fn ttl_seconds(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)
    }

    /// Issues a token for the user.
    pub fn issue(
        &self,
        user_id: i64,
        phone_number: Option<&str>,
        role: &str,
        sid: Option<Uuid>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            user_id,
            phone_number: phone_number.map(str::to_string),
            role: role.to_string(),
            iat: now,
            exp: now.saturating_add(self.ttl_seconds()),
            sid,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Checks signature (HS256 only: `none` and other algorithms are refused) and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => match e.kind() {
                ErrorKind::ExpiredSignature => Err(TokenError::Expired),
                _ => Err(TokenError::Invalid),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&SecretString::from("unit-test-secret-0123456789abcdef"), Duration::from_secs(60)).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let t = k.issue(7, Some("9876543210"), "admin", None).unwrap();
        let c = k.verify(&t).unwrap();
        assert_eq!(c.user_id, 7);
        assert_eq!(c.exp - c.iat, 60);
    }

    #[test]
    fn tampered_and_foreign_keys_are_invalid() {
        let k = keys();
        let t = k.issue(7, None, "user", None).unwrap();
        let other =
            JwtKeys::new(&SecretString::from("another-secret-0123456789abcdefgh"), Duration::from_secs(60)).unwrap();
        assert_eq!(other.verify(&t), Err(TokenError::Invalid));
        let mut bad = t.clone();
        bad.pop();
        bad.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(k.verify(&bad), Err(TokenError::Invalid));
    }
}
