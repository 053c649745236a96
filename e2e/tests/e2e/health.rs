use e2e::proxy::Proxy;
use e2e::{TestAppBuilder, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn health_reports_database_and_memory() {
    let app = spawn_app().await;
    for path in ["/health/", "/api/health/"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["service"], "election-cart-api");
        assert_eq!(body["database"], "connected");
        let memory = body["memory_mb"].as_f64().unwrap();
        assert!(memory > 0.0);
        // The whole test process is measured (many apps at once), so only the rule is checked.
        assert_eq!(body["memory_warning"], memory > 400.0);
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}

#[tokio::test]
async fn ready_when_both_dependencies_answer() {
    let app = spawn_app().await;
    let res = app.get("/ready/", None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ready", "checks": {"database": "ok", "redis": "ok"}}));
}

#[tokio::test]
async fn ready_names_redis_when_it_is_down() {
    let proxy = Proxy::start("127.0.0.1:6379".into()).await;
    proxy.down();
    let app = TestAppBuilder::new().var("REDIS_URL", format!("redis://{}", proxy.addr)).spawn().await;
    let res = app.get("/ready/", None).await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "not_ready", "checks": {"database": "ok", "redis": "error"}}));
    // Liveness only needs the database.
    assert_eq!(app.get("/health/", None).await.status(), 200);
}

#[tokio::test]
async fn database_down_gives_503_without_details() {
    let app = TestAppBuilder::new()
        .var("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")
        .var("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")
        .spawn()
        .await;
    let res = app.get("/ready/", None).await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "error");
    assert_eq!(body["checks"]["redis"], "ok");
    let res = app.get("/health/", None).await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["database"], "disconnected");
    assert_eq!(body["error"], "database unavailable");
    // A login needing the database answers 503 with a generic body.
    let res = app.post("/api/auth/login/", &serde_json::json!({"username": "a", "password": "b"}), None).await;
    assert_eq!(res.status(), 503);
    let text = res.text().await.unwrap();
    assert!(!text.contains("127.0.0.1") && !text.to_lowercase().contains("connection refused"), "{text}");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = TestAppBuilder::new().var("METRICS_TOKEN", "scrape-me-please").spawn().await;
    app.get("/health/", None).await;
    app.get("/api/missing/", None).await;
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status(), 401);
    let res = app.get("/metrics", Some("wrong")).await;
    assert_eq!(res.status(), 401);
    let res = app.get("/metrics", Some("scrape-me-please")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let value = |line: &str| -> f64 {
        text.lines().find(|l| l.starts_with(line)).and_then(|l| l.rsplit(' ').next()).unwrap().parse().unwrap()
    };
    assert!(value("electioncart_http_requests_total{class=\"2xx\"}") >= 1.0);
    assert!(value("electioncart_http_requests_total{class=\"4xx\"}") >= 3.0);
    assert_eq!(value("electioncart_dependency_up{dependency=\"database\"}"), 1.0);
    assert_eq!(value("electioncart_dependency_up{dependency=\"redis\"}"), 1.0);
    assert!(value("electioncart_http_request_duration_seconds_count") >= 4.0);
}
