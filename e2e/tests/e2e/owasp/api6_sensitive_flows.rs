//! OWASP API6:2023 Unrestricted Access to Sensitive Business Flows. Login brute force stops at
//! the limit (even the right password then gets 429, so guessing cannot go on), a wrong
//! password, an unknown user and a deactivated user get the same answer, sign-up flooding and
//! username probing through sign-up stop at the limit, password-reset requests answer the same
//! for existing and unknown accounts (status, body and headers) and reset confirmations are
//! limited. Cross-process counting and `X-Forwarded-For` are in `rate_limits.rs`.

use serde_json::{Value, json};

use super::answer;
use e2e::builders::{DEFAULT_PASSWORD, UserBuilder};
use e2e::fixtures::inside_one_window;
use e2e::{TestApp, TestAppBuilder};

fn too_many() -> Value {
    json!({"error": "Too many requests. Please try again later.", "detail": "Rate limit exceeded"})
}

async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    answer(app.post("/api/auth/login/", &json!({"username": username, "password": password}), None).await).await
}

#[tokio::test]
async fn owasp_api6_login_brute_force_is_cut_off_and_failures_look_alike() {
    let app = TestAppBuilder::new().spawn().await;
    UserBuilder::new("alice").create(&app).await;
    let idle = UserBuilder::new("idle").create(&app).await;
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1").bind(idle).execute(&app.pool).await.unwrap();
    inside_one_window().await;
    let invalid = (401, json!({"error": "Invalid username or password"}));
    assert_eq!(login(&app, "alice", "guess-1").await, invalid, "wrong password");
    assert_eq!(login(&app, "nobody", "guess-2").await, invalid, "unknown user");
    assert_eq!(login(&app, "idle", DEFAULT_PASSWORD).await, invalid, "deactivated user");
    assert_eq!(login(&app, "alice", "guess-3").await, invalid);
    assert_eq!(login(&app, "alice", "guess-4").await, invalid);
    let res = app.post("/api/auth/login/", &json!({"username": "alice", "password": DEFAULT_PASSWORD}), None).await;
    assert_eq!(res.status(), 429, "the right password after the limit is not tried");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.json::<Value>().await.unwrap(), too_many());
    let last_login: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_login FROM users WHERE username = 'alice'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(last_login, None, "no sign-in happened");
}

#[tokio::test]
async fn owasp_api6_signup_flooding_and_username_probing_stop_at_the_limit() {
    let app = TestAppBuilder::new().spawn().await;
    UserBuilder::new("taken").create(&app).await;
    inside_one_window().await;
    let (status, body) =
        answer(app.post("/api/auth/signup/", &json!({"username": "taken", "password": "p-p-p-p-p"}), None).await).await;
    assert_eq!((status, body), (400, json!({"error": "Username already exists"})));
    for i in 0..2 {
        let res =
            app.post("/api/auth/signup/", &json!({"username": format!("bot{i}"), "password": "p-p-p-p-p"}), None).await;
        assert_eq!(res.status(), 201);
    }
    for username in ["bot9", "taken"] {
        let res = app.post("/api/auth/signup/", &json!({"username": username, "password": "p-p-p-p-p"}), None).await;
        assert_eq!(res.status(), 429, "{username}");
        assert!(res.headers().contains_key("retry-after"));
        assert_eq!(res.json::<Value>().await.unwrap(), too_many());
    }
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(accounts, 3);
}

/// Status, body and the header names of an answer (`x-request-id` and `date` differ per call).
async fn shape(res: reqwest::Response) -> (u16, Vec<String>, Value) {
    let mut headers: Vec<String> = res
        .headers()
        .iter()
        .filter(|(k, _)| !["x-request-id", "date"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
        .collect();
    headers.sort();
    let status = res.status().as_u16();
    (status, headers, res.json().await.unwrap())
}

#[tokio::test]
async fn owasp_api6_password_reset_does_not_tell_which_accounts_exist() {
    let app = TestAppBuilder::new().spawn().await;
    UserBuilder::new("alice").email("alice@example.com").create(&app).await;
    UserBuilder::new("nomail").create(&app).await;
    inside_one_window().await;
    let mut answers = Vec::new();
    for body in [
        json!({"email": "alice@example.com"}),
        json!({"email": "nobody@example.com"}),
        json!({"username": "alice"}),
        json!({"username": "nomail"}),
        json!({"username": "nobody"}),
    ] {
        let res = app.post("/api/auth/password-reset/", &body, None).await;
        answers.push((body, shape(res).await));
    }
    let first = answers[0].1.clone();
    assert_eq!(first.0, 202);
    assert_eq!(first.2, json!({"detail": "If the account exists, a reset link has been sent."}));
    for (body, got) in &answers {
        assert_eq!(*got, first, "{body}");
    }
    // Confirmations are limited too (10 an hour), so tokens cannot be guessed.
    for _ in 0..10 {
        let res = app
            .post(
                "/api/auth/password-reset/confirm/",
                &json!({"token": "guess", "new_password": "long-enough-1"}),
                None,
            )
            .await;
        assert_eq!(res.status(), 422);
    }
    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": "guess", "new_password": "long-enough-1"}), None)
        .await;
    assert_eq!(res.status(), 429);
}
