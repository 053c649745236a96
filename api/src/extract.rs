//! Extractors: request bodies with DRF-shaped errors, the signed-in user and roles, the client
//! address.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use common::accounts::jwt::Claims;
use common::accounts::users::User;
use common::role::Role;
use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::error::{ApiError, NO_CREDENTIALS};
use crate::state::AppState;

/// PostgreSQL text cannot hold a NUL character, so no string carrying one may reach a query.
/// A body string with a NUL becomes an empty object: every field parser refuses a non-string
/// where it expects text, so the endpoint answers its usual 400 for that field (`Not a valid
/// string.` and the like) and nothing is written. Keys with a NUL are dropped (no field has one).
pub fn scrub_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *value = Value::Object(Map::new()),
        Value::Array(items) => items.iter_mut().for_each(scrub_nul),
        Value::Object(map) => scrub_nul_map(map),
        _ => {}
    }
}

/// [`scrub_nul`] over an object's keys and values.
pub fn scrub_nul_map(map: &mut Map<String, Value>) {
    map.retain(|k, _| !k.contains('\0'));
    map.values_mut().for_each(scrub_nul);
}

/// The value of a multipart text part, scrubbed like a body string.
pub fn text_part(text: String) -> Value {
    let mut v = Value::String(text);
    scrub_nul(&mut v);
    v
}

/// A JSON (or form-encoded) object body. An empty body is an empty object, as DRF's
/// `request.data` is. Strings with a NUL are scrubbed ([`scrub_nul`]). Malformed JSON → `400 {"detail":"JSON parse error - …"}`; other content
/// types → 415.
#[derive(Debug, Clone, Default)]
pub struct Body(pub Map<String, Value>);

/// A field that is present but of a type a text field cannot take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotText;

impl Body {
    /// Text value of `key`: strings as given, numbers as written; absent or null → `None`.
    pub fn text(&self, key: &str) -> Result<Option<String>, NotText> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(NotText),
        }
    }

    /// Like [`Body::text`] but an empty or blank string counts as absent (§5 #16, #17).
    pub fn text_non_empty(&self, key: &str) -> Result<Option<String>, NotText> {
        Ok(self.text(key)?.filter(|s| !s.trim().is_empty()))
    }

    /// True when the key is present (even null).
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// `key` as a [`crate::input::Field`], for the shared parsers.
    pub fn field(&self, key: &str) -> crate::input::Field {
        match self.0.get(key) {
            None => crate::input::Field::Absent,
            Some(Value::Null) => crate::input::Field::Null,
            Some(v) => crate::input::Field::Value(v.clone()),
        }
    }
}

/// The raw body under the route's body limit; over it → `413 {"detail":"Request body is too
/// large."}` like every other route (axum's own rejection is plain text).
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|e| match e {
            BytesRejection::FailedToBufferBody(ref inner)
                if inner.body_text().to_ascii_lowercase().contains("length limit") =>
            {
                ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            }
            _ => ApiError::detail(StatusCode::BAD_REQUEST, "Could not read the request body."),
        })
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media = media_type(req.headers());
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        let media = match media {
            None if bytes.iter().all(u8::is_ascii_whitespace) => return Ok(Body::default()),
            None => String::new(),
            Some(m) => m,
        };
        if media == "application/json" || (media.starts_with("application/") && media.ends_with("+json")) {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Body::default());
            }
            return match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(mut map)) => {
                    scrub_nul_map(&mut map);
                    Ok(Body(map))
                }
                Ok(other) => Err(ApiError::detail(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Invalid data. Expected a dictionary, but got {}.",
                        match other {
                            Value::Array(_) => "list",
                            Value::String(_) => "str",
                            Value::Number(_) => "number",
                            Value::Bool(_) => "bool",
                            _ => "null",
                        }
                    ),
                )),
                Err(e) => Err(ApiError::detail(StatusCode::BAD_REQUEST, format!("JSON parse error - {e}"))),
            };
        }
        if media == "application/x-www-form-urlencoded" {
            let mut map = Map::new();
            for (k, v) in url::form_urlencoded::parse(&bytes) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
            scrub_nul_map(&mut map);
            return Ok(Body(map));
        }
        Err(ApiError::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported media type \"{media}\" in request."),
        ))
    }
}

/// The user behind a valid Bearer token, resolved once per request by
/// [`crate::middleware::authenticate`].
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The stored account (role and flags as stored, not as claimed).
    pub user: User,
    /// The token's claims.
    pub claims: Claims,
}

/// Whoever is calling: `None` for anonymous callers.
#[derive(Debug, Clone)]
pub struct Viewer(pub Option<AuthUser>);

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Viewer(parts.extensions.get::<AuthUser>().cloned()))
    }
}

/// A signed-in user (any role); none → 401.
#[derive(Debug, Clone)]
pub struct Signed(pub AuthUser);

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<AuthUser>().cloned().map(Signed).ok_or(ApiError::Unauthorized(NO_CREDENTIALS))
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub AuthUser);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                let Signed(auth) = Signed::from_request_parts(parts, state).await?;
                let check: fn(&User) -> bool = $check;
                if check(&auth.user) { Ok($name(auth)) } else { Err(ApiError::forbidden()) }
            }
        }
    };
}

role_extractor!(
    /// Role admin (the original's `IsAdmin`).
    Admin,
    |u| u.role() == Role::Admin
);
role_extractor!(
    /// `admin*`: `is_staff` flag or role admin.
    AdminStar,
    |u| u.is_admin_star()
);
role_extractor!(
    /// Role staff or admin.
    Staff,
    |u| u.role().is_staff_or_admin()
);

/// The client's address: the TCP peer, or, when the peer is a trusted proxy
/// (`TRUSTED_PROXIES`), the nearest `X-Forwarded-For` hop that is not itself trusted. Never an
/// address the client could have written: when every hop is trusted, or a hop does not parse,
/// the peer is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Resolves the client address from the peer and headers.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Hops in the order they were appended; each proxy appends the address it saw, so reading
    // from the right, the first untrusted hop is the client as our own proxies saw it.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => break,
        }
    }
    peer
}

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let peer =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(client_ip(peer, &parts.headers, &app.cfg.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_peers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.2".parse().unwrap());
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer_proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer_other: IpAddr = "198.51.100.4".parse().unwrap();
        assert_eq!(client_ip(peer_proxy, &headers, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(peer_other, &headers, &trusted), peer_other);
        assert_eq!(client_ip(peer_proxy, &HeaderMap::new(), &trusted), peer_proxy);
    }

    #[test]
    fn a_spoofed_leftmost_hop_is_never_taken() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        // Every hop trusted: the leftmost was written by the client; the peer is used.
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "10.9.9.9, 10.0.0.2".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &trusted), proxy);
        // A client-written prefix before the real client changes nothing.
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.2".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        // Garbage nearer than any untrusted hop: the peer.
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, bogus, 10.0.0.2".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &trusted), proxy);
        // Several headers are one list.
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        headers.append("x-forwarded-for", "198.51.100.7, 10.0.0.3".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
    }
}

/// An integer path parameter; anything else is a 404, as Django's `<int:id>` routes answer.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = || ApiError::detail(StatusCode::NOT_FOUND, "Not found.");
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_found());
        }
        raw.parse::<i64>().map(Id).map_err(|_| not_found())
    }
}

/// Two integer path parameters, e.g. `{id}` and `{note_id}`; anything else is the DRF 404.
#[derive(Debug, Clone, Copy)]
pub struct Ids(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = || ApiError::detail(StatusCode::NOT_FOUND, "Not found.");
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        let int = |raw: &str| {
            if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_found());
            }
            raw.parse::<i64>().map_err(|_| not_found())
        };
        Ok(Ids(int(&a)?, int(&b)?))
    }
}

/// `{type}` and `{id}` of `/api/admin/products/{type}/{id}/…`: the id must be an integer (else
/// 404, as Django's `<int:…>` converter answers); the type is checked by the route, whose error
/// body differs.
#[derive(Debug, Clone)]
pub struct ProductPath {
    /// Raw `{type}`.
    pub kind: String,
    /// `{id}`.
    pub id: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for ProductPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = || ApiError::detail(StatusCode::NOT_FOUND, "Not found.");
        let axum::extract::Path((kind, raw)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_found());
        }
        let id = raw.parse::<i64>().map_err(|_| not_found())?;
        Ok(ProductPath { kind, id })
    }
}
