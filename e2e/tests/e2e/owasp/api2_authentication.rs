//! OWASP API2:2023 Broken Authentication. A table of bad access tokens (algorithm `none` in
//! every spelling, an RS256 or HS384/HS512 header over our secret, HS256 signed with a
//! public-key-looking or empty key, expired, without `exp`, wrong secret, tampered claims,
//! malformed, a refresh token, tokens of a deleted and of a deactivated user) is sent to an
//! anonymous, a customer, a staff and an admin route: every one gets the API.md §1 401 body,
//! also where no token is needed; `?token=` on secure files counts as anonymous (403).
//! The DRF shapes of single cases are also in `auth_tokens.rs`; this is the full matrix.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{World, answer, token_for};
use e2e::{TEST_JWT_SECRET, spawn_app};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

/// A token with a chosen header, HMAC-SHA256-signed with `secret` whatever the header says.
fn forged(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mac = e2e::razorpay::hmac_hex(std::str::from_utf8(secret).unwrap(), signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&hex::decode(mac).unwrap()))
}

/// A public key as a confused verifier would use it as an HMAC key.
const PUBLIC_KEY_PEM: &str =
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";

#[tokio::test]
async fn owasp_api2_every_bad_token_gets_the_drf_401_on_every_kind_of_route() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let claims = |user: i64, role: &str, exp: i64| json!({"user_id": user, "phone_number": null, "role": role, "iat": now() - 10, "exp": exp});
    let admin_claims = claims(world.admin.id, "admin", now() + 600);
    let secret = TEST_JWT_SECRET.as_bytes();

    // Tokens of a deleted and of a deactivated user: built while they existed.
    let gone = e2e::builders::UserBuilder::new("gone").create(&app).await;
    let gone_token = token_for(gone);
    let path = format!("/api/auth/users/{gone}/");
    let res = app.send(reqwest::Method::DELETE, &path, &json!({}), Some(&world.admin.token)).await;
    assert_eq!(res.status(), 200, "the admin deletes the account");
    let idle = e2e::builders::UserBuilder::new("idle").create(&app).await;
    let idle_token = token_for(idle);
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1").bind(idle).execute(&app.pool).await.unwrap();
    let refresh =
        app.login("alice", e2e::builders::DEFAULT_PASSWORD).await["refresh_token"].as_str().unwrap().to_string();
    let good = sign(Algorithm::HS256, &admin_claims, secret);
    let mut tampered: Vec<String> = good.split('.').map(str::to_string).collect();
    tampered[1] = b64(claims(world.bob.id, "admin", now() + 600).to_string().as_bytes());
    let tampered = tampered.join(".");

    let invalid = json!({"detail": "Invalid token"});
    let expired = json!({"detail": "Token has expired"});
    let user_not_found = json!({"detail": "User not found"});
    let mut cases: Vec<(&str, String, Value)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        let unsigned = format!("{}.{}.", b64(header.to_string().as_bytes()), b64(admin_claims.to_string().as_bytes()));
        cases.push(("alg none, no signature", unsigned, invalid.clone()));
        cases.push(("alg none, our signature", forged(&header, &admin_claims, secret), invalid.clone()));
    }
    cases.extend([
        (
            "RS256 header over an HMAC of our secret",
            forged(&json!({"alg": "RS256", "typ": "JWT"}), &admin_claims, secret),
            invalid.clone(),
        ),
        (
            "ES256 header over an HMAC of our secret",
            forged(&json!({"alg": "ES256", "typ": "JWT"}), &admin_claims, secret),
            invalid.clone(),
        ),
        ("HS384 with our secret", sign(Algorithm::HS384, &admin_claims, secret), invalid.clone()),
        ("HS512 with our secret", sign(Algorithm::HS512, &admin_claims, secret), invalid.clone()),
        (
            "HS256 keyed with a public key",
            sign(Algorithm::HS256, &admin_claims, PUBLIC_KEY_PEM.as_bytes()),
            invalid.clone(),
        ),
        (
            "HS256 with an empty key",
            forged(&json!({"alg": "HS256", "typ": "JWT"}), &admin_claims, b""),
            invalid.clone(),
        ),
        (
            "a jku header pointing elsewhere",
            forged(&json!({"alg": "HS256", "jku": "http://127.0.0.1:9/k"}), &admin_claims, b"x"),
            invalid.clone(),
        ),
        (
            "wrong secret",
            sign(Algorithm::HS256, &admin_claims, b"another-secret-0123456789-abcdefghij"),
            invalid.clone(),
        ),
        ("tampered claims", tampered, invalid.clone()),
        ("expired", sign(Algorithm::HS256, &claims(world.admin.id, "admin", now() - 1), secret), expired.clone()),
        (
            "no exp",
            sign(Algorithm::HS256, &json!({"user_id": world.admin.id, "role": "admin", "iat": now()}), secret),
            invalid.clone(),
        ),
        (
            "user_id a string",
            sign(
                Algorithm::HS256,
                &json!({"user_id": "1 OR 1=1", "role": "admin", "iat": now(), "exp": now() + 60}),
                secret,
            ),
            invalid.clone(),
        ),
        (
            "unknown user",
            sign(Algorithm::HS256, &claims(987_654, "admin", now() + 600), secret),
            user_not_found.clone(),
        ),
        ("deleted user", gone_token, user_not_found.clone()),
        ("deactivated user", idle_token, user_not_found.clone()),
        ("a refresh token", refresh, invalid.clone()),
        ("two segments", "abc.def".to_string(), invalid.clone()),
        ("four segments", format!("{good}.x"), invalid.clone()),
        ("not base64", "!!!.???.***".to_string(), invalid.clone()),
        ("JSON, not a JWT", "{\"user_id\":1}".to_string(), invalid.clone()),
        ("8 KB of garbage", "A".repeat(8 * 1024), invalid.clone()),
    ]);
    let routes = [
        ("GET", "/api/packages/".to_string()),
        ("POST", "/api/auth/login/".to_string()),
        ("GET", "/api/auth/me/".to_string()),
        ("GET", format!("/api/orders/{}/", world.order.id)),
        ("GET", "/api/staff/orders/".to_string()),
        ("GET", "/api/admin/orders/".to_string()),
        ("GET", format!("/api/secure-files/resources/{}/", world.submission)),
    ];
    for (case, token, expected) in &cases {
        for (method, path) in &routes {
            let res = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(answer(res).await, (401, expected.clone()), "{case}: {method} {path}");
        }
        // `?token=` on secure files: a bad one counts as anonymous (§4.11).
        let res = app.get(&format!("/api/secure-files/resources/{}/?token={token}", world.submission), None).await;
        assert_eq!(
            answer(res).await,
            (403, Value::String("Authentication required".into())),
            "{case}: ?token= on a secure file"
        );
    }
    assert!(cases.len() >= 28, "{}", cases.len());
}

#[tokio::test]
async fn owasp_api2_a_good_token_still_works_and_an_empty_bearer_is_invalid() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    assert_eq!(app.get("/api/auth/me/", Some(&world.alice.token)).await.status(), 200);
    let res = app.client.get(app.url("/api/auth/me/")).header("authorization", "Bearer ").send().await.unwrap();
    let (status, body) = answer(res).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body == json!({"detail": "Invalid token"}) || body == super::not_provided(),
        "an empty Bearer token is refused with a §1 body: {body}"
    );
}
