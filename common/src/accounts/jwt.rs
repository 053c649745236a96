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
    /// `users.id` (djangorestframework-simplejwt may write it as a string).
    #[serde(deserialize_with = "user_id_claim")]
    pub user_id: i64,
    /// Phone number at issue time (absent in simplejwt tokens).
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Role at issue time (permissions use the stored role; absent in simplejwt tokens).
    #[serde(default)]
    pub role: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
    /// Session family (refresh-token family) this token belongs to; absent in legacy tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// `access` in tokens of the old backend's djangorestframework-simplejwt; its `refresh`
    /// tokens (signed with the same key) are not access tokens and are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
}

/// `user_id` as a number, or as the decimal string some simplejwt versions write.
fn user_id_claim<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Int(i64),
        Text(String),
    }
    match Id::deserialize(d)? {
        Id::Int(i) => Ok(i),
        Id::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
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
            token_type: None,
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
            Ok(data) if data.claims.token_type.as_deref().is_some_and(|t| t != "access") => Err(TokenError::Invalid),
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

    /// A token as the old backend's djangorestframework-simplejwt signed it (same key).
    fn simplejwt(k: &JwtKeys, token_type: &str, user_id: serde_json::Value) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "token_type": token_type, "exp": now + 600, "iat": now, "jti": "a3f1c9d2e4b5", "user_id": user_id,
        });
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap()
    }

    #[test]
    fn simplejwt_access_tokens_are_accepted_and_refresh_tokens_refused() {
        let k = keys();
        let c = k.verify(&simplejwt(&k, "access", serde_json::json!(7))).unwrap();
        assert_eq!((c.user_id, c.role.as_str(), c.phone_number, c.sid), (7, "", None, None));
        assert_eq!(k.verify(&simplejwt(&k, "access", serde_json::json!("12"))).unwrap().user_id, 12);
        assert_eq!(k.verify(&simplejwt(&k, "refresh", serde_json::json!(7))), Err(TokenError::Invalid));
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
