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

/// Issue 17: while PostgreSQL is down every route answers 503 quickly in its family's shape
/// (the original's §1 body, ours §9), `/ready/` names the database, and both recover by
/// themselves when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_gives_fast_503s_in_each_family_shape_and_recovers_by_itself() {
    let db = e2e::fresh_database().await;
    let proxy = Proxy::start("127.0.0.1:5432".into()).await;
    let app = TestAppBuilder::new()
        .database(&db)
        .var("DATABASE_URL", format!("postgres://postgres@{}/{db}", proxy.addr))
        .var("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "2")
        .var("CATALOG_CACHE_SECONDS", "0")
        .var("AUTH_CACHE_SECONDS", "0")
        .spawn()
        .await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let login = serde_json::json!({"username": "boss", "password": "pass-word-123"});
    assert_eq!(app.get("/api/packages/", None).await.status(), 200);

    proxy.down();
    let timed = |started: std::time::Instant| {
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(6), "answered after {took:?}");
    };
    let original = serde_json::json!({
        "error": "Service temporarily unavailable. Please try again shortly.",
        "detail": "Service temporarily unavailable. Please try again shortly.",
    });
    // The original's routes: §1 body (the clients read `error`, DRF's `detail`).
    for (method, path) in [("POST", "/api/auth/login/"), ("GET", "/api/packages/"), ("GET", "/api/auth/me/")] {
        let started = std::time::Instant::now();
        let res = match method {
            "POST" => app.post(path, &login, None).await,
            _ => app.get(path, Some(&admin)).await,
        };
        timed(started);
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.headers()["retry-after"], "5");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body, original, "{path}");
    }
    // Ours: §9 body naming the dependency.
    for path in ["/api/ops/queues/", "/api/admin/orders/1/refunds/"] {
        let started = std::time::Instant::now();
        let res = app.get(path, Some(&admin)).await;
        timed(started);
        assert_eq!(res.status(), 503, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "service_unavailable", "{path}: {body}");
        assert_eq!(body["error"]["details"]["dependency"], "database");
    }
    let started = std::time::Instant::now();
    let res = app.post("/api/auth/password-reset/", &serde_json::json!({"username": "boss"}), None).await;
    timed(started);
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    let started = std::time::Instant::now();
    let res = app.get("/ready/", None).await;
    timed(started);
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "not_ready", "checks": {"database": "error", "redis": "ok"}}));

    // Back: no restart needed.
    proxy.up();
    let back = std::time::Instant::now();
    let ready = app
        .eventually(std::time::Duration::from_secs(20), || async {
            (app.get("/ready/", None).await.status() == 200).then_some(())
        })
        .await;
    assert!(ready.is_some(), "ready again");
    assert_eq!(app.post("/api/auth/login/", &login, None).await.status(), 200);
    assert_eq!(app.get("/api/packages/", None).await.status(), 200);
    assert_eq!(app.get("/api/ops/queues/", Some(&admin)).await.status(), 200);
    eprintln!("serving again {:.1} s after PostgreSQL came back", back.elapsed().as_secs_f64());
    drop(app);
    if let Ok(mut admin) = <sqlx::PgConnection as sqlx::Connection>::connect(&e2e::admin_database_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
            .execute(&mut admin)
            .await;
    }
}
