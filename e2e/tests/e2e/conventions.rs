use e2e::spawn_app;
use serde_json::{Value, json};

#[tokio::test]
async fn missing_trailing_slash_redirects_permanently_keeping_the_query() {
    let app = spawn_app().await;
    let res = app.get("/api/auth/users?role=admin", None).await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "/api/auth/users/?role=admin");
    let res = app.get("/api/auth/users/12/role", None).await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "/api/auth/users/12/role/");
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_405() {
    let app = spawn_app().await;
    let res = app.get("/api/nothing-here/", None).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Not found."}));
    let res = app.get("/api/nothing-here", None).await;
    assert_eq!(res.status(), 404, "no redirect to a path that does not exist");
    let res = app.get("/api/auth/login/", None).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Method \"GET\" not allowed."}));
    let res = app.client.delete(app.url("/api/auth/signup/")).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Method \"DELETE\" not allowed."}));
    // A non-integer id is a 404, as Django's <int:id> routes answer.
    let (_, admin) = app.user_token("root", "admin").await;
    let res =
        app.send(reqwest::Method::PATCH, "/api/auth/users/abc/role/", &json!({"role": "staff"}), Some(&admin)).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn malformed_json_and_wrong_content_type() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/auth/login/"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().starts_with("JSON parse error - "), "{body}");

    let res = app
        .client
        .post(app.url("/api/auth/login/"))
        .header("content-type", "text/plain")
        .body("username=a")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );

    let res = app.client.post(app.url("/api/auth/login/")).json(&json!(["a"])).send().await.unwrap();
    assert_eq!(res.status(), 400);

    // Form bodies are accepted like DRF's FormParser.
    app.create_user("formy", "form-pass-123", "user", "").await;
    let res = app
        .client
        .post(app.url("/api/auth/login/"))
        .form(&[("username", "formy"), ("password", "form-pass-123")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// §9 routes answer a body that is not a JSON object in their own shape (found by schemathesis:
/// they answered with DRF's `{"detail"}`, which their documents did not declare).
#[tokio::test]
async fn extension_routes_answer_malformed_bodies_in_the_extension_shape() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("root", "admin").await;
    for (method, path) in [
        ("POST", "/api/auth/token/refresh/"),
        ("POST", "/api/auth/logout/"),
        ("POST", "/api/auth/password-reset/"),
        ("POST", "/api/auth/password-reset/confirm/"),
        ("POST", "/api/auth/password/change/"),
        ("PATCH", "/api/admin/orders/1/billing/"),
        ("POST", "/api/admin/orders/1/refund/"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        for body in ["[null, null]", "\"text\"", "{\"broken\": "] {
            let res = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{method} {path} {body}");
            let got: Value = res.json().await.unwrap();
            assert_eq!(got["error"]["code"], "malformed_body", "{method} {path} {body}: {got}");
            assert!(got["error"]["message"].is_string() && got["error"]["details"].is_object(), "{got}");
        }
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415, "{method} {path}");
        let got: Value = res.json().await.unwrap();
        assert_eq!(got["error"]["code"], "unsupported_media_type", "{method} {path}: {got}");
    }
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = e2e::TestAppBuilder::new().var("MAX_BODY_BYTES", "1024").spawn().await;
    let big = "x".repeat(4096);
    let res = app.post("/api/auth/login/", &json!({"username": big, "password": "p"}), None).await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Request body is too large."}));
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health/")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let long = "a".repeat(129);
    let res = app.client.get(app.url("/health/")).header("x-request-id", &long).send().await.unwrap();
    let got = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(got, long);
    assert_eq!(got.len(), 32);
    let res = app.get("/api/nope/", None).await;
    assert!(res.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn security_headers_everywhere_and_hsts_when_configured() {
    let app = spawn_app().await;
    let res = app.get("/api/nope/", None).await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    assert!(!res.headers().contains_key("strict-transport-security"));

    let app = e2e::TestAppBuilder::new().var("SECURITY_HSTS_SECONDS", "31536000").spawn().await;
    let res = app.get("/health/", None).await;
    assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
}

#[tokio::test]
async fn cors_allows_configured_origins_with_credentials() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/login/"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type,idempotency-key")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    assert_eq!(h["access-control-allow-credentials"], "true");
    let allowed = h["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("idempotency-key") && allowed.contains("authorization"));

    let res = app.client.get(app.url("/health/")).header("origin", "http://localhost:5173").send().await.unwrap();
    let exposed = res.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase();
    assert!(exposed.contains("content-disposition"));

    let res = app.client.get(app.url("/health/")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn openapi_document_and_docs_page_are_served_from_the_binary() {
    let app = spawn_app().await;
    let res = app.get("/api/schema/", None).await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/auth/login/",
        "/api/auth/signup/",
        "/api/auth/me/",
        "/api/auth/users/",
        "/api/auth/users/create/",
        "/api/auth/users/{id}/role/",
        "/api/auth/users/{id}/",
        "/api/auth/token/refresh/",
        "/api/auth/logout/",
        "/api/auth/password-reset/",
        "/api/auth/password-reset/confirm/",
        "/api/auth/password/change/",
        "/health/",
        "/api/health/",
        "/ready/",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    let res = app.get("/api/docs/", None).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("//cdn") && !html.contains("unpkg.com") && !html.contains("jsdelivr"),
        "docs must not load a CDN"
    );
    // The script and stylesheet the page references are served by us.
    for asset in ["/api/docs/swagger-ui.css", "/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-initializer.js"] {
        assert_eq!(app.get(asset, None).await.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn api_root_needs_a_user() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/", None).await.status(), 401);
    let (_, token) = app.user_token("rooter", "user").await;
    let body: Value = app.get("/api/", Some(&token)).await.json().await.unwrap();
    assert_eq!(body["packages"], "http://127.0.0.1:8080/api/packages/");
}
