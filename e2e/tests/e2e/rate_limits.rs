use e2e::TestAppBuilder;
use e2e::fixtures::inside_one_window;
use serde_json::{Value, json};

async fn login(app: &e2e::TestApp) -> reqwest::Response {
    app.post("/api/auth/login/", &json!({"username": "nobody", "password": "x"}), None).await
}

#[tokio::test]
async fn sixth_login_in_a_minute_is_429_across_two_api_processes() {
    let a = TestAppBuilder::new().spawn().await;
    let b = TestAppBuilder::new().database(&a.db_name).prefix(&a.prefix).spawn().await;
    inside_one_window().await;
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(login(app).await.status(), 401, "attempt {}", i + 1);
    }
    let res = login(&b).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Too many requests. Please try again later.", "detail": "Rate limit exceeded"})
    );
    assert_eq!(login(&a).await.status(), 429);
}

#[tokio::test]
async fn signup_three_an_hour_and_reset_five_an_hour() {
    let app = TestAppBuilder::new().spawn().await;
    inside_one_window().await;
    for i in 0..3 {
        let res = app.post("/api/auth/signup/", &json!({"username": format!("s{i}"), "password": "p"}), None).await;
        assert_eq!(res.status(), 201);
    }
    let res = app.post("/api/auth/signup/", &json!({"username": "s9", "password": "p"}), None).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() <= 3600);
    for _ in 0..5 {
        let res = app.post("/api/auth/password-reset/", &json!({"email": "a@b.co"}), None).await;
        assert_eq!(res.status(), 202);
    }
    assert_eq!(app.post("/api/auth/password-reset/", &json!({"email": "a@b.co"}), None).await.status(), 429);
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let app = TestAppBuilder::new().var("TRUSTED_PROXIES", "127.0.0.1").spawn().await;
    inside_one_window().await;
    let send = |ip: &'static str| {
        app.client
            .post(app.url("/api/auth/login/"))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": "nobody", "password": "x"}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(send("203.0.113.1").await.unwrap().status(), 401);
    }
    assert_eq!(send("203.0.113.1").await.unwrap().status(), 429);
    // Another client behind the same proxy has its own window.
    assert_eq!(send("203.0.113.2").await.unwrap().status(), 401);

    // Without trust, the header is ignored: all share the peer's window.
    let plain = TestAppBuilder::new().spawn().await;
    inside_one_window().await;
    for i in 0..5 {
        let res = plain
            .client
            .post(plain.url("/api/auth/login/"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"username": "nobody", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(login(&plain).await.status(), 429);
}

/// Issue 9 #4: when every hop is trusted, the leftmost entry (written by the client) used to be
/// the limiter's key, so a client got a fresh window by writing a new address each time.
#[tokio::test]
async fn a_spoofed_leftmost_forwarded_for_does_not_change_the_key() {
    let app = TestAppBuilder::new().var("TRUSTED_PROXIES", "127.0.0.0/8").spawn().await;
    inside_one_window().await;
    for i in 0..5 {
        let res = app
            .client
            .post(app.url("/api/auth/login/"))
            .header("x-forwarded-for", format!("127.0.0.{}, 127.0.0.1", i + 10))
            .json(&json!({"username": "nobody", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = app
        .client
        .post(app.url("/api/auth/login/"))
        .header("x-forwarded-for", "127.0.0.99")
        .json(&json!({"username": "nobody", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "every attempt counted against the peer");
}
