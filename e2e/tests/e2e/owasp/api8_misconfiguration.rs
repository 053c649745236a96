//! OWASP API8:2023 Security Misconfiguration. Every kind of answer (JSON 200, a secure file,
//! the docs page and schema, 301, 400, 401, 403, 404, 405, 413) carries the security headers and
//! no `Server`/`X-Powered-By` version; HSTS is sent when configured, and production configures
//! it by default; CORS never reflects an origin that is not configured, `null` included, and
//! with `CORS_ALLOWED_ORIGINS=*` never grants credentials; a 500 caused by the database says
//! nothing about it. `api check --deploy` with unsafe production settings (exit code and every
//! problem named, passwords not printed) is tested on the real binary in
//! `api/tests/check_deploy.rs` (`every_unsafe_setting_is_printed_and_the_exit_code_is_non_zero`),
//! since only the api crate's tests can run it.

use reqwest::Method;
use serde_json::{Value, json};

use super::{World, answer, call_with};
use e2e::TestAppBuilder;
use e2e::builders::DEFAULT_PASSWORD;

fn assert_hardened(what: &str, h: &reqwest::header::HeaderMap) {
    assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{what}");
    let frame = h.get("x-frame-options").map(|v| v.to_str().unwrap().to_string());
    let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(frame.as_deref() == Some("DENY") || csp.contains("frame-ancestors 'none'"), "{what}: framing allowed");
    assert!(h.contains_key("referrer-policy"), "{what}: no Referrer-Policy");
    assert!(!h.contains_key("x-powered-by"), "{what}: X-Powered-By");
    if let Some(server) = h.get("server") {
        let server = server.to_str().unwrap();
        assert!(!server.chars().any(|c| c.is_ascii_digit()), "{what}: Server header leaks a version: {server}");
    }
    assert_eq!(
        h.get("strict-transport-security").map(|v| v.to_str().unwrap()),
        Some("max-age=31536000; includeSubDomains"),
        "{what}: HSTS"
    );
}

#[tokio::test]
async fn owasp_api8_every_kind_of_answer_carries_the_security_headers() {
    let app =
        TestAppBuilder::new().var("SECURITY_HSTS_SECONDS", "31536000").var("MAX_BODY_BYTES", "1024").spawn().await;
    let world = World::new(&app).await;
    let big = json!({"x": "y".repeat(4096)});
    let cases: Vec<(&str, Method, String, Option<&str>, Value)> = vec![
        ("200 JSON", Method::GET, "/api/packages/".into(), None, json!({})),
        ("200 health", Method::GET, "/health/".into(), None, json!({})),
        ("200 docs", Method::GET, "/api/docs/".into(), None, json!({})),
        ("200 schema", Method::GET, "/api/schema/".into(), None, json!({})),
        (
            "200 file",
            Method::GET,
            format!("/api/secure-files/resources/{}/", world.submission),
            Some(&world.alice.token),
            json!({}),
        ),
        ("301", Method::GET, "/api/packages".into(), None, json!({})),
        ("400", Method::POST, "/api/auth/login/".into(), None, json!({})),
        ("401", Method::GET, "/api/auth/me/".into(), None, json!({})),
        ("403", Method::GET, "/api/admin/orders/".into(), Some(&world.bob.token), json!({})),
        ("404", Method::GET, "/api/nothing/".into(), None, json!({})),
        ("405", Method::DELETE, "/api/packages/".into(), None, json!({})),
        ("413", Method::POST, "/api/auth/login/".into(), None, big),
    ];
    for (what, method, path, token, body) in cases {
        let res = call_with(&app, &method, &path, token, &body).await;
        assert_eq!(res.status().as_str(), &what[..3], "{what}: {path}");
        assert_hardened(what, res.headers());
    }
}

#[test]
fn owasp_api8_production_sends_hsts_by_default() {
    let cfg =
        common::Config::from_vars([("APP_ENV", "production"), ("JWT_SECRET", "q8Vz1Lr0pN4mW7sYk2Hd9Jf5Tb3Xc6Ga")])
            .expect("a production configuration");
    assert_eq!(cfg.hsts_seconds, 31_536_000, "the header checked above is on unless switched off");
    assert!(!cfg.debug);
}

#[tokio::test]
async fn owasp_api8_cors_never_reflects_unknown_origins_with_credentials() {
    let app = TestAppBuilder::new().var("CORS_ALLOWED_ORIGINS", "https://admin.electioncart.in").spawn().await;
    for origin in
        ["https://evil.example", "null", "https://admin.electioncart.in.evil.example", "http://admin.electioncart.in"]
    {
        let res = app
            .client
            .request(Method::OPTIONS, app.url("/api/auth/me/"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert!(!res.headers().contains_key("access-control-allow-origin"), "preflight from {origin}");
        let res = app.client.get(app.url("/api/packages/")).header("origin", origin).send().await.unwrap();
        assert!(!res.headers().contains_key("access-control-allow-origin"), "GET from {origin}");
    }
    let res = app
        .client
        .get(app.url("/api/packages/"))
        .header("origin", "https://admin.electioncart.in")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://admin.electioncart.in");

    // A wildcard (refused by `check --deploy`, possible in development) must not turn into
    // "every origin, with credentials".
    let app = TestAppBuilder::new().var("CORS_ALLOWED_ORIGINS", "*").spawn().await;
    let res = app.client.get(app.url("/api/packages/")).header("origin", "https://evil.example").send().await.unwrap();
    let h = res.headers();
    let reflected = h.get("access-control-allow-origin").is_some_and(|v| v == "https://evil.example");
    let credentials = h.get("access-control-allow-credentials").is_some_and(|v| v == "true");
    assert!(!(reflected && credentials), "an arbitrary origin is reflected with credentials: {h:?}");
}

#[tokio::test]
async fn owasp_api8_a_database_failure_is_a_500_that_says_nothing_about_it() {
    let app = TestAppBuilder::new().spawn().await;
    let world = World::new(&app).await;
    e2e::builders::UserBuilder::new("carol").create(&app).await;
    sqlx::query("DROP TABLE notification CASCADE").execute(&app.pool).await.unwrap();
    sqlx::query("DROP TABLE refresh_token CASCADE").execute(&app.pool).await.unwrap();
    let leaks =
        ["notification", "refresh_token", "relation", "sqlx", "database", "postgres", "SELECT", "INSERT", ".rs"];
    let cases = [
        (Method::GET, "/api/admin/notifications/", Some(world.alice.token.as_str()), json!({})),
        (Method::POST, "/api/auth/login/", None, json!({"username": "carol", "password": DEFAULT_PASSWORD})),
    ];
    for (method, path, token, body) in cases {
        let res = call_with(&app, &method, path, token, &body).await;
        let (status, body) = answer(res).await;
        assert_eq!(status, 500, "{path}: {body}");
        let text = body.to_string();
        for word in leaks {
            assert!(!text.to_lowercase().contains(&word.to_lowercase()), "{path}: the 500 says `{word}`: {text}");
        }
    }
}
