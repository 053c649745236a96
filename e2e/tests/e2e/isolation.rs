//! A slow or hanging payment provider never slows the rest of the API (issue 13): no
//! connection is held while Razorpay is called, and Razorpay calls have their own limit.

use std::time::{Duration, Instant};

use e2e::builders::ProductBuilder;
use e2e::razorpay::FakeRazorpay;
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};

use crate::shop::{SAC, add};

/// `n` customers, each with a full cart of one package; returns their tokens.
async fn buyers(app: &TestApp, n: usize) -> Vec<String> {
    let pkg = ProductBuilder::package("Kit").price("4999.00").gst_rate("18").hsn_sac(SAC).create(app).await;
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        let (_, token) = app.user_token(&format!("buyer{i}"), "user").await;
        add(app, &token, "package", pkg, 1).await;
        tokens.push(token);
    }
    tokens
}

async fn create(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app.post("/api/orders/create/", &json!({}), Some(token)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn fifty_checkouts_held_by_a_slow_razorpay_do_not_slow_the_catalogue_or_me() {
    let fake = FakeRazorpay::start().await;
    // Eight pooled connections (the test default), far fewer than the checkouts in flight.
    let app = TestAppBuilder::new()
        .razorpay(&fake)
        .var("RAZORPAY_TIMEOUT_SECONDS", "15")
        .var("RATE_LIMITS_ENABLED", "false")
        .var("CATALOG_CACHE_SECONDS", "0")
        .spawn()
        .await;
    let tokens = buyers(&app, 50).await;
    fake.set_delay(Duration::from_secs(5));

    let started = Instant::now();
    let checkouts = futures::future::join_all(tokens.iter().map(|t| create(&app, t)));
    let others = async {
        // Let every checkout reach Razorpay first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut slowest = Duration::ZERO;
        let mut statuses = Vec::new();
        for round in 0..20 {
            let batch = (0..10).map(|i| {
                let token = tokens[(round * 10 + i) % tokens.len()].clone();
                let app = &app;
                async move {
                    let t = Instant::now();
                    let status = if i % 2 == 0 {
                        app.get("/api/packages/", None).await.status().as_u16()
                    } else {
                        app.get("/api/auth/me/", Some(&token)).await.status().as_u16()
                    };
                    (status, t.elapsed())
                }
            });
            for (status, took) in futures::future::join_all(batch).await {
                statuses.push(status);
                slowest = slowest.max(took);
            }
        }
        (statuses, slowest, started.elapsed())
    };
    let (created, (statuses, slowest, others_done)) = tokio::join!(checkouts, others);

    assert_eq!(statuses.len(), 200);
    assert!(statuses.iter().all(|s| *s == 200), "every catalogue and /me request answers 200: {statuses:?}");
    assert!(slowest < Duration::from_secs(1), "slowest catalogue or /me request took {slowest:?}");
    assert!(others_done < Duration::from_secs(5), "all 200 answered while the checkouts were held ({others_done:?})");
    // The checkouts waited for Razorpay and then all went through.
    assert!(started.elapsed() >= Duration::from_secs(5));
    for (status, body) in &created {
        assert_eq!(*status, 201, "{body}");
        assert!(body["razorpay_order_id"].as_str().is_some_and(|id| id.starts_with("order_")));
    }
    let (orders, linked): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE razorpay_order_id LIKE 'order_%') FROM orders")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((orders, linked), (50, 50));
    assert_eq!(fake.calls("POST /v1/orders"), 50);
}

#[tokio::test]
async fn a_hanging_razorpay_fills_its_own_slots_and_the_rest_fail_fast_with_502() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new()
        .razorpay(&fake)
        .var("RAZORPAY_TIMEOUT_SECONDS", "6")
        .var("RAZORPAY_MAX_IN_FLIGHT", "3")
        .var("RATE_LIMITS_ENABLED", "false")
        .spawn()
        .await;
    let tokens = buyers(&app, 10).await;
    fake.set_delay(Duration::from_secs(30));

    let timed = |token: String| {
        let app = &app;
        async move {
            let t = Instant::now();
            let (status, body) = create(app, &token).await;
            (status, body, t.elapsed())
        }
    };
    let results = futures::future::join_all(tokens.iter().cloned().map(timed)).await;
    let fast: Vec<_> = results.iter().filter(|(s, _, took)| *s == 502 && *took < Duration::from_secs(3)).collect();
    let timed_out: Vec<_> =
        results.iter().filter(|(s, _, took)| *s == 502 && *took >= Duration::from_secs(5)).collect();
    assert_eq!(fast.len(), 7, "past the 3 slots, checkouts fail within the slot wait: {results:?}");
    assert_eq!(timed_out.len(), 3, "the 3 in flight fail at RAZORPAY_TIMEOUT_SECONDS: {results:?}");
    for (_, body, _) in &results {
        assert_eq!(*body, json!({"error": "Order creation failed: payment provider unavailable"}));
    }
    // Nothing payable was left behind and every cart is kept.
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 0);
    let carts: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_item").fetch_one(&app.pool).await.unwrap();
    assert_eq!(carts, 10);

    fake.set_delay(Duration::ZERO);
    assert_eq!(create(&app, &tokens[0]).await.0, 201);
}

#[tokio::test]
async fn a_cart_changed_while_razorpay_answers_is_priced_again() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).var("RATE_LIMITS_ENABLED", "false").spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let kit = ProductBuilder::package("Kit").price("100.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    let sms = ProductBuilder::campaign("SMS").price("0.50").gst_rate("18").hsn_sac(SAC).create(&app).await;
    add(&app, &token, "package", kit, 1).await;
    fake.set_delay(Duration::from_millis(800));

    let checkout = create(&app, &token);
    let change = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        add(&app, &token, "campaign", sms, 100).await;
    };
    let ((status, body), ()) = tokio::join!(checkout, change);
    assert_eq!(status, 201, "{body}");
    // The order holds what the cart held when it was written, and the Razorpay order handed
    // to Checkout is the one for that amount.
    assert_eq!(body["order"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(body["amount"], 15_000);
    let rzp = fake.order(body["razorpay_order_id"].as_str().unwrap()).unwrap();
    assert_eq!(rzp["amount"], 15_000);
    assert_eq!(rzp["receipt"], body["order"]["order_number"]);
    assert_eq!(fake.calls("POST /v1/orders"), 2, "the first Razorpay order (₹100.00) is left unused");
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 1);
    let cart: Value = app.get("/api/cart/", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 0);
}
