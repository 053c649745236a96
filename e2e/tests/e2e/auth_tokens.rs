use e2e::{TEST_JWT_SECRET, spawn_app};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap())
        .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn detail(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn a_token_built_like_the_old_backend_is_accepted() {
    let app = spawn_app().await;
    let id = app.create_user("veteran", "pw-pw-pw-pw", "staff", "").await;
    // PyJWT: jwt.encode({'user_id', 'phone_number', 'role', 'iat', 'exp'}, SECRET_KEY, 'HS256')
    let token = sign(
        &json!({"user_id": id, "phone_number": null, "role": "staff", "iat": now(), "exp": now() + 7 * 86400}),
        TEST_JWT_SECRET,
    );
    let res = app.get("/api/auth/me/", Some(&token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["username"], "veteran");
}

#[tokio::test]
async fn bad_tokens_get_the_drf_bodies_even_on_anonymous_routes() {
    let app = spawn_app().await;
    let id = app.create_user("target", "pw-pw-pw-pw", "user", "").await;
    let claims = |exp: i64| json!({"user_id": id, "phone_number": null, "role": "user", "iat": now() - 10, "exp": exp});

    let expired = sign(&claims(now() - 5), TEST_JWT_SECRET);
    assert_eq!(
        detail(app.get("/api/auth/me/", Some(&expired)).await).await,
        (401, json!({"detail": "Token has expired"}))
    );

    let other_key = sign(&claims(now() + 60), "some-other-secret-0123456789abcdefghij");
    assert_eq!(
        detail(app.get("/api/auth/me/", Some(&other_key)).await).await,
        (401, json!({"detail": "Invalid token"}))
    );

    let good = sign(&claims(now() + 60), TEST_JWT_SECRET);
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    // Tampered payload: role admin, same signature.
    parts[1] =
        base64_url(&json!({"user_id": id, "phone_number": null, "role": "admin", "iat": now(), "exp": now() + 60}));
    let tampered = parts.join(".");
    assert_eq!(
        detail(app.get("/api/auth/me/", Some(&tampered)).await).await,
        (401, json!({"detail": "Invalid token"}))
    );

    // alg: none
    let none = format!("{}.{}.", base64_url(&json!({"alg": "none", "typ": "JWT"})), base64_url(&claims(now() + 60)));
    assert_eq!(detail(app.get("/api/auth/me/", Some(&none)).await).await, (401, json!({"detail": "Invalid token"})));
    assert_eq!(
        detail(app.get("/api/auth/me/", Some("garbage")).await).await,
        (401, json!({"detail": "Invalid token"}))
    );

    // Anonymous views refuse a bad token too: the clients log out on 401.
    let res = app.client.post(app.url("/api/auth/login/")).bearer_auth(&expired).json(&json!({})).send().await.unwrap();
    assert_eq!(detail(res).await, (401, json!({"detail": "Token has expired"})));

    // Deleted and inactive users.
    let ghost = sign(
        &json!({"user_id": 999_999, "phone_number": null, "role": "admin", "iat": now(), "exp": now() + 60}),
        TEST_JWT_SECRET,
    );
    assert_eq!(detail(app.get("/api/auth/me/", Some(&ghost)).await).await, (401, json!({"detail": "User not found"})));
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();
    assert_eq!(detail(app.get("/api/auth/me/", Some(&good)).await).await, (401, json!({"detail": "User not found"})));
}

fn base64_url(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn no_credentials_and_other_schemes() {
    let app = spawn_app().await;
    let res = app.get("/api/auth/me/", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Authentication credentials were not provided."}));
    let res = app.client.get(app.url("/api/auth/me/")).header("authorization", "Token abc").send().await.unwrap();
    assert_eq!(detail(res).await, (401, json!({"detail": "Authentication credentials were not provided."})));
}

#[tokio::test]
async fn permissions_use_the_stored_role_not_the_claim() {
    let app = spawn_app().await;
    let id = app.create_user("pretender", "pw-pw-pw-pw", "user", "").await;
    let token = sign(
        &json!({"user_id": id, "phone_number": null, "role": "admin", "iat": now(), "exp": now() + 60}),
        TEST_JWT_SECRET,
    );
    let res = app.get("/api/auth/users/", Some(&token)).await;
    assert_eq!(detail(res).await, (403, json!({"detail": "You do not have permission to perform this action."})));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    app.create_user("rotor", "pw-pw-pw-pw", "user", "").await;
    let first = app.login("rotor", "pw-pw-pw-pw").await;
    let r1 = first["refresh_token"].as_str().unwrap().to_string();

    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": r1}), None).await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    assert_eq!(second["expires_in"], 604800);
    assert_eq!(app.get("/api/auth/me/", Some(second["token"].as_str().unwrap())).await.status(), 200);

    // r1 again: a replay. The whole family dies, r2 included.
    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": r1}), None).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_refresh_token");
    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": r2}), None).await;
    assert_eq!(res.status(), 401);

    // Another login is a separate family and still works.
    let third = app.login("rotor", "pw-pw-pw-pw").await;
    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": third["refresh_token"]}), None).await;
    assert_eq!(res.status(), 200);

    let res = app.post("/api/auth/token/refresh/", &json!({}), None).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["details"]["refresh_token"][0], "This field is required.");
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = spawn_app().await;
    app.create_user("leaver", "pw-pw-pw-pw", "user", "").await;
    let s = app.login("leaver", "pw-pw-pw-pw").await;
    let token = s["token"].as_str().unwrap();
    let res = app.post("/api/auth/logout/", &json!({"refresh_token": s["refresh_token"]}), Some(token)).await;
    assert_eq!(res.status(), 204);
    // The access token of that session dies with it.
    assert_eq!(detail(app.get("/api/auth/me/", Some(token)).await).await, (401, json!({"detail": "Invalid token"})));
    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": s["refresh_token"]}), None).await;
    assert_eq!(res.status(), 401);
    let res = app.post("/api/auth/logout/", &json!({"refresh_token": "x"}), None).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn legacy_tokens_die_at_a_password_change() {
    let app = spawn_app().await;
    let id = app.create_user("oldtimer", "first-pass-1", "user", "").await;
    let legacy = sign(
        &json!({"user_id": id, "phone_number": null, "role": "user", "iat": now() - 5, "exp": now() + 600}),
        TEST_JWT_SECRET,
    );
    assert_eq!(app.get("/api/auth/me/", Some(&legacy)).await.status(), 200);
    let session = app.login("oldtimer", "first-pass-1").await;
    let res = app
        .post(
            "/api/auth/password/change/",
            &json!({"current_password": "first-pass-1", "new_password": "second-pass-2"}),
            Some(session["token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(detail(app.get("/api/auth/me/", Some(&legacy)).await).await, (401, json!({"detail": "Invalid token"})));
    assert_eq!(app.get("/api/auth/me/", Some(session["token"].as_str().unwrap())).await.status(), 200);
}

#[tokio::test]
async fn password_change_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    app.create_user("changer", "first-pass-1", "user", "").await;
    let here = app.login("changer", "first-pass-1").await;
    let elsewhere = app.login("changer", "first-pass-1").await;
    let t_here = here["token"].as_str().unwrap();

    let res = app
        .post(
            "/api/auth/password/change/",
            &json!({"current_password": "wrong", "new_password": "second-pass-2"}),
            Some(t_here),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "wrong_password");
    let res = app
        .post(
            "/api/auth/password/change/",
            &json!({"current_password": "first-pass-1", "new_password": "short"}),
            Some(t_here),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "weak_password");

    let res = app
        .post(
            "/api/auth/password/change/",
            &json!({"current_password": "first-pass-1", "new_password": "second-pass-2"}),
            Some(t_here),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get("/api/auth/me/", Some(t_here)).await.status(), 200);
    let res = app.get("/api/auth/me/", Some(elsewhere["token"].as_str().unwrap())).await;
    assert_eq!(detail(res).await, (401, json!({"detail": "Invalid token"})));
    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": elsewhere["refresh_token"]}), None).await;
    assert_eq!(res.status(), 401);
    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": here["refresh_token"]}), None).await;
    assert_eq!(res.status(), 200);
    app.login("changer", "second-pass-2").await;
    let res = app.post("/api/auth/login/", &json!({"username": "changer", "password": "first-pass-1"}), None).await;
    assert_eq!(res.status(), 401);
}
