//! The per-process cache of Bearer-token checks (api/src/auth_cache.rs): a warmed process answers
//! without asking PostgreSQL, and every change to an account or a session takes effect at once
//! in every process (changes over HTTP: the very next request; plain SQL: within a second).

use std::collections::HashMap;
use std::time::Duration;

use e2e::{TestApp, TestAppBuilder};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "pass-word-123";

/// Two API processes (A, B) on one database and one Redis prefix, with their change listeners
/// connected (until then nothing would be cached and every test below would prove nothing).
async fn two_processes() -> (TestApp, TestApp) {
    let a = TestAppBuilder::new().var("RATE_LIMITS_ENABLED", "false").spawn().await;
    let b =
        TestAppBuilder::new().database(&a.db_name).prefix(&a.prefix).var("RATE_LIMITS_ENABLED", "false").spawn().await;
    listening(&a, 2).await;
    (a, b)
}

/// Waits until `n` processes listen for change notices on the test database.
async fn listening(app: &TestApp, n: i64) {
    app.eventually(Duration::from_secs(10), || async {
        let listeners: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        (listeners >= n).then_some(())
    })
    .await
    .expect("the change listeners connect");
    // The hub marks itself live right after its LISTEN returns.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// A new account; signs in and returns (id, access token, refresh token).
async fn account(app: &TestApp, username: &str, role: &str) -> (i64, String, String) {
    let id = app.create_user(username, PASSWORD, role, &format!("{username}@example.com")).await;
    let (token, refresh) = sign_in(app, username, PASSWORD).await;
    (id, token, refresh)
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let body = app.login(username, password).await;
    (body["token"].as_str().unwrap().to_string(), body["refresh_token"].as_str().unwrap().to_string())
}

async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app.get("/api/auth/me/", Some(token)).await;
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// A few successful requests, so the process holds the token's check.
async fn warm(app: &TestApp, token: &str, path: &str) {
    for _ in 0..3 {
        let res = app.get(path, Some(token)).await;
        assert_eq!(res.status(), 200, "{path} while warming");
    }
}

fn refused(detail: &str) -> (u16, Value) {
    (401, json!({"detail": detail}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_in_one_process_ends_the_session_in_the_other_at_once() {
    let (a, b) = two_processes().await;
    let (_, token, refresh) = account(&a, "asha", "user").await;
    let (other, _) = sign_in(&a, "asha", PASSWORD).await;
    warm(&a, &token, "/api/auth/me/").await;
    warm(&b, &token, "/api/auth/me/").await;
    warm(&b, &other, "/api/auth/me/").await;

    let res = a.post("/api/auth/logout/", &json!({"refresh_token": refresh}), Some(&token)).await;
    assert_eq!(res.status(), 204);
    // The very next request, on either process.
    assert_eq!(me(&b, &token).await, refused("Invalid token"));
    assert_eq!(me(&a, &token).await, refused("Invalid token"));
    // The user's other session is not affected.
    assert_eq!(me(&b, &other).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_and_reset_end_the_other_sessions_everywhere_at_once() {
    let (a, b) = two_processes().await;
    let (id, kept, _) = account(&a, "meera", "user").await;
    let (ended, _) = sign_in(&a, "meera", PASSWORD).await;
    warm(&b, &kept, "/api/auth/me/").await;
    warm(&b, &ended, "/api/auth/me/").await;

    let change = json!({"current_password": PASSWORD, "new_password": "brand-new-pass-9"});
    let res = a.post("/api/auth/password/change/", &change, Some(&kept)).await;
    assert_eq!(res.status(), 204, "{:?}", res.text().await);
    assert_eq!(me(&b, &ended).await, refused("Invalid token"));
    assert_eq!(me(&b, &kept).await.0, 200, "the session that changed the password stays");

    // A reset through the emailed link ends every session, the kept one too.
    warm(&b, &kept, "/api/auth/me/").await;
    let secret = a.cfg.jwt_secret.clone();
    let mut conn = a.pool.acquire().await.unwrap();
    let reset_id =
        common::accounts::reset::create_token_row(&mut conn, id, &secret, Duration::from_secs(600), "127.0.0.1")
            .await
            .unwrap();
    drop(conn);
    let salt: Vec<u8> = sqlx::query_scalar("SELECT salt FROM password_reset_token WHERE id = $1")
        .bind(reset_id)
        .fetch_one(&a.pool)
        .await
        .unwrap();
    let link_token = common::accounts::reset::derive_token(&secret, &salt);
    let confirm = json!({"token": link_token, "new_password": "another-pass-77"});
    let res = a.post("/api/auth/password-reset/confirm/", &confirm, None).await;
    assert_eq!(res.status(), 204, "{:?}", res.text().await);
    assert_eq!(me(&b, &kept).await, refused("Invalid token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_admin_is_refused_in_the_other_process_at_once() {
    let (a, b) = two_processes().await;
    let (_, boss, _) = account(&a, "boss", "admin").await;
    let (deputy_id, deputy, _) = account(&a, "deputy", "admin").await;
    warm(&b, &deputy, "/api/auth/users/").await;

    let res = a
        .send(Method::PATCH, &format!("/api/auth/users/{deputy_id}/role/"), &json!({"role": "user"}), Some(&boss))
        .await;
    assert_eq!(res.status(), 200);
    let res = b.get("/api/auth/users/", Some(&deputy)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "You do not have permission to perform this action."})
    );
    assert_eq!(me(&b, &deputy).await.1["role"], "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_is_refused_in_the_other_process_at_once() {
    let (a, b) = two_processes().await;
    let (_, boss, _) = account(&a, "boss", "admin").await;
    let (gone_id, gone, _) = account(&a, "gone", "user").await;
    warm(&b, &gone, "/api/auth/me/").await;
    warm(&a, &gone, "/api/auth/me/").await;

    let res = a.send(Method::DELETE, &format!("/api/auth/users/{gone_id}/"), &json!({}), Some(&boss)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(me(&b, &gone).await, refused("User not found"));
    assert_eq!(me(&a, &gone).await, refused("User not found"));
}

/// Changes made outside the API (plain SQL, another tool) reach every process through the
/// database triggers: within a second, not on the very next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_sql_changes_take_effect_in_every_process_within_a_second() {
    let (a, b) = two_processes().await;
    let (id, token, _) = account(&a, "ravi", "admin").await;
    let (_, other, _) = account(&a, "kumar", "user").await;

    // A role change.
    for app in [&a, &b] {
        warm(app, &token, "/api/auth/users/").await;
    }
    sqlx::query("UPDATE users SET role = 'user' WHERE id = $1").bind(id).execute(&a.pool).await.unwrap();
    for app in [&a, &b] {
        within_a_second(app, &token, "/api/auth/users/", 403).await;
    }
    // Deactivation (there is no HTTP route for it).
    for app in [&a, &b] {
        warm(app, &token, "/api/auth/me/").await;
    }
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1").bind(id).execute(&a.pool).await.unwrap();
    for app in [&a, &b] {
        within_a_second(app, &token, "/api/auth/me/", 401).await;
    }
    assert_eq!(me(&b, &token).await, refused("User not found"));

    // A session revoked by hand.
    for app in [&a, &b] {
        warm(app, &other, "/api/auth/me/").await;
    }
    sqlx::query(
        "UPDATE refresh_token SET revoked_at = now() WHERE user_id = (SELECT id FROM users WHERE username = 'kumar')",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    for app in [&a, &b] {
        within_a_second(app, &other, "/api/auth/me/", 401).await;
    }
}

async fn within_a_second(app: &TestApp, token: &str, path: &str, status: u16) {
    let seen = app
        .eventually(Duration::from_secs(1), || async {
            (app.get(path, Some(token)).await.status().as_u16() == status).then_some(())
        })
        .await;
    assert!(seen.is_some(), "{} {path}: no {status} within a second", app.base);
}

/// The backends of the API's pool and when each last began a query.
async fn api_queries(app: &TestApp) -> HashMap<i32, Option<chrono::DateTime<chrono::Utc>>> {
    let rows: Vec<(i32, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "SELECT pid, query_start FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'electioncart' AND query NOT LIKE 'LISTEN %'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// Whether 50 `GET /api/auth/me/` (which itself reads nothing: it shows the resolved user) made
/// the API start any query: `pg_stat_activity` is live, unlike the delayed `xact_commit` counters.
async fn me_queries_the_database(app: &TestApp, token: &str) -> bool {
    warm(app, token, "/api/auth/me/").await;
    let before = api_queries(app).await;
    for _ in 0..50 {
        assert_eq!(me(app, token).await.0, 200);
    }
    let after = api_queries(app).await;
    after.iter().any(|(pid, started)| before.get(pid) != Some(started))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warmed_process_checks_tokens_without_the_database() {
    // No outbox dispatcher: it would poll the database meanwhile.
    let app = TestAppBuilder::new().var("API_RUNS_DISPATCHER", "false").spawn().await;
    listening(&app, 1).await;
    let (_, token, _) = account(&app, "asha", "user").await;
    assert!(!me_queries_the_database(&app, &token).await, "a warmed process asked PostgreSQL");

    // The measure does see the queries of a process without the cache.
    let uncached = TestAppBuilder::new()
        .database(&app.db_name)
        .prefix(&app.prefix)
        .var("API_RUNS_DISPATCHER", "false")
        .var("AUTH_CACHE_SECONDS", "0")
        .spawn()
        .await;
    assert!(me_queries_the_database(&uncached, &token).await, "AUTH_CACHE_SECONDS=0 still asks PostgreSQL");
}

/// A cache miss reads the account with one of two statements, and PostgreSQL keeps a generic plan
/// for each: one statement with `$2 IS NOT NULL AND EXISTS (…)` was planned again on every
/// execution (its custom plan for a null session id always looked cheaper than the generic one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_check_is_not_planned_again_on_every_miss() {
    let app = TestAppBuilder::new().spawn().await;
    let id = app.create_user("planned", PASSWORD, "user", "planned@example.com").await;
    // One connection: its prepared statements are the ones counted below.
    let pool = app.one_connection_pool().await;
    // Tokens without a session id (the old backend's), then tokens with one.
    for _ in 0..12 {
        let (user, open) = common::accounts::users::find_for_token(&pool, id, None).await.unwrap().unwrap();
        assert_eq!((user.id, open), (id, false));
    }
    for _ in 0..12 {
        let (_, open) =
            common::accounts::users::find_for_token(&pool, id, Some(uuid::Uuid::new_v4())).await.unwrap().unwrap();
        assert!(!open, "an unknown session is not open");
    }
    let plans: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements
         WHERE statement LIKE '%session_open%' AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!plans.is_empty(), "the statements are prepared on this connection");
    for (generic, custom) in plans {
        // PostgreSQL tries custom plans for the first five executions at most.
        assert!(custom <= 5 && generic >= 7, "planned again on executions: {generic} generic, {custom} custom plans");
    }
}
