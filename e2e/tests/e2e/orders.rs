//! Customer orders (API.md §4.5, §6, §7.3, §9.5): checkout against the fake Razorpay.

use e2e::TestAppBuilder;
use e2e::builders::ProductBuilder;
use e2e::razorpay::FakeRazorpay;
use serde_json::{Value, json};

use crate::shop::{SAC, add, callback, count, place};

#[tokio::test]
async fn checkout_creates_the_razorpay_order_and_verifies_the_payment() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (_, other) = app.user_token("someone", "user").await;

    // No cart yet, then an empty cart.
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Cart not found"}));
    app.get("/api/cart/", Some(&token)).await;
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Cart is empty"}));

    let pkg = ProductBuilder::package("Kit").price("4999.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    let camp = ProductBuilder::campaign("SMS").price("0.50").gst_rate("18").hsn_sac(SAC).create(&app).await;
    add(&app, &token, "package", pkg, 2).await;
    add(&app, &token, "campaign", camp, 1000).await;
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let order = &body["order"];
    let id = order["id"].as_i64().unwrap();
    let rzp_order = body["razorpay_order_id"].as_str().unwrap().to_string();
    assert!(rzp_order.starts_with("order_"));
    assert_eq!(body["razorpay_key_id"], fake.key_id);
    assert_eq!(body["amount"], 1_049_800);
    assert_eq!(body["order_id"], id);
    assert_eq!(body["currency"], "INR");
    assert_eq!(order["total_amount"], "10498.00");
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["payment_status"], "unpaid");
    assert_eq!(order["razorpay_order_id"], rzp_order.as_str());
    assert_eq!(order["razorpay_payment_id"], Value::Null);
    assert_eq!(order["total_paid"], json!(0.0));
    assert_eq!(order["payment_balance"], json!(10498.0));
    assert_eq!(order["total_items"], 1002);
    assert_eq!(order["resource_upload_progress"], 0);
    assert_eq!(order["pending_resource_items"].as_array().unwrap().len(), 2);
    assert_eq!(order["items"][0]["price"], "4999.00");
    assert_eq!(order["items"][0]["subtotal"], json!(9998.0));
    assert_eq!(order["items"][0]["item_details"]["name"], "Kit");
    assert_eq!(order["items"][0]["gst_rate"], "18.00");
    assert_eq!(order["items"][0]["hsn_sac"], "998361");
    assert_eq!(order["invoice_number"], Value::Null);
    let number = order["order_number"].as_str().unwrap();
    assert!(number.starts_with("EC-") && number.len() == 20, "{number}");

    // The Razorpay order: amount in paise, receipt = order number, what the fake checked.
    let rzp = fake.order(&rzp_order).unwrap();
    assert_eq!(rzp["amount"], 1_049_800);
    assert_eq!(rzp["receipt"], number);
    assert_eq!(rzp["currency"], "INR");
    // The cart is empty now.
    let cart: Value = app.get("/api/cart/", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"], json!([]));

    // Another user's order is not found; so is a missing one.
    for (path, who) in [(format!("/api/orders/{id}/"), &other), ("/api/orders/999999/".to_string(), &token)] {
        let res = app.get(&path, Some(who)).await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Order not found"}));
    }
    let got: Value = app.get(&format!("/api/orders/{id}/"), Some(&token)).await.json().await.unwrap();
    assert_eq!(got["order_number"], number);

    let payment = fake.capture_payment(&rzp_order, None);
    let path = format!("/api/orders/{id}/payment-success/");
    // Bad input: missing fields, one character changed in the payment id or in the signature,
    // and another user's token.
    let res = app.post(&path, &json!({"razorpay_order_id": rzp_order}), Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"razorpay_payment_id": ["This field is required."], "razorpay_signature": ["This field is required."]})
    );
    let good = callback(&fake, &rzp_order, &payment);
    let mut changed_payment = good.clone();
    changed_payment["razorpay_payment_id"] = json!(format!("{}X", &payment[..payment.len() - 1]));
    let mut changed_signature = good.clone();
    let sig = good["razorpay_signature"].as_str().unwrap();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    changed_signature["razorpay_signature"] = json!(format!("{flipped}{}", &sig[1..]));
    for bad in [changed_payment, changed_signature] {
        let res = app.post(&path, &bad, Some(&token)).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Payment signature verification failed"}));
    }
    let res = app.post(&path, &good, Some(&other)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(count(&app, "payment_record", id).await, 0, "nothing changed");
    let status: String =
        sqlx::query_scalar("SELECT status FROM orders WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "pending_payment");

    let res = app.post(&path, &good, Some(&token)).await;
    assert_eq!(res.status(), 200);
    let paid: Value = res.json().await.unwrap();
    assert_eq!(paid["success"], true);
    assert_eq!(paid["message"], "Payment verified successfully");
    let invoice = paid["invoice_number"].as_str().unwrap().to_string();
    assert!(invoice.starts_with("EC/") && invoice.ends_with("/00001"), "{invoice}");
    assert_eq!(paid["order"]["status"], "pending_resources");
    assert_eq!(paid["order"]["payment_status"], "paid");
    assert_eq!(paid["order"]["razorpay_payment_id"], payment.as_str());
    assert_eq!(paid["order"]["total_paid"], json!(10498.0));
    assert_eq!(paid["order"]["payment_balance"], json!(0.0));
    assert_eq!(paid["order"]["invoice_number"], invoice.as_str());
    assert!(paid["order"]["payment_completed_at"].is_string());

    // §6: a repeat answers the same and changes nothing.
    let again: Value = app.post(&path, &good, Some(&token)).await.json().await.unwrap();
    assert_eq!(again["invoice_number"], invoice.as_str());
    assert_eq!(again["order"]["payment_completed_at"], paid["order"]["payment_completed_at"]);
    assert_eq!(count(&app, "payment_record", id).await, 1);
    assert_eq!(count(&app, "order_status_history", id).await, 2, "created + paid");
    let (method, reference): (String, String) =
        sqlx::query_as("SELECT payment_method, payment_reference FROM payment_record WHERE order_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((method.as_str(), reference.as_str()), ("razorpay", payment.as_str()));

    // Payment history and my-payments.
    let history: Value =
        app.get(&format!("/api/orders/{id}/payment-history/"), Some(&token)).await.json().await.unwrap();
    assert_eq!(history["order_id"], id);
    assert_eq!(history["order_number"], number);
    assert_eq!(history["payment_method"], "Razorpay");
    assert_eq!(history["transaction_id"], payment.as_str());
    assert_eq!(history["amount"], "10498.00");
    assert_eq!(history["currency"], "INR");
    assert_eq!(history["status"], "completed");
    assert_eq!(history["status_display"], "Completed");
    assert_eq!(history["invoice_number"], invoice.as_str());
    assert_eq!(history["metadata"]["razorpay_order_id"], rzp_order.as_str());
    let res = app.get(&format!("/api/orders/{id}/payment-history/"), Some(&other)).await;
    assert_eq!(res.status(), 404);

    let mine: Value = app.get("/api/orders/my-payments/", Some(&token)).await.json().await.unwrap();
    assert_eq!(mine["count"], 1);
    assert_eq!(mine["payments"][0]["transaction_id"], payment.as_str());
    let none: Value = app.get("/api/orders/my-payments/?status=failed", Some(&token)).await.json().await.unwrap();
    assert_eq!(none, json!({"count": 0, "payments": []}));
    let old: Value = app
        .get("/api/orders/my-payments/?start_date=2020-01-01&end_date=2020-12-31", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["count"], 0);
    let res = app.get("/api/orders/my-payments/?start_date=2020-13-01", Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Invalid start_date format. Use YYYY-MM-DD"}));
    let res = app.get("/api/orders/my-payments/?end_date=yesterday", Some(&token)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Invalid end_date format. Use YYYY-MM-DD"}));
    let other_payments: Value = app.get("/api/orders/my-payments/", Some(&other)).await.json().await.unwrap();
    assert_eq!(other_payments["count"], 0);

    let list: Value = app.get("/api/orders/my-orders/", Some(&token)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(app.get("/api/orders/my-orders/", Some(&other)).await.json::<Value>().await.unwrap(), json!([]));
    assert_eq!(app.get("/api/orders/my-orders/", None).await.status(), 401);
}

#[tokio::test]
async fn razorpay_down_or_slow_at_create_gives_502_keeps_the_cart_and_no_order() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let pkg = ProductBuilder::package("Kit").price("4999.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    add(&app, &token, "package", pkg, 1).await;

    fake.set_down(true);
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 502);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Order creation failed: payment provider unavailable"})
    );
    fake.set_down(false);
    // Slower than RAZORPAY_TIMEOUT_SECONDS (2 s in tests).
    fake.set_delay(std::time::Duration::from_secs(4));
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 502);
    fake.set_delay(std::time::Duration::ZERO);

    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 0, "no order left behind");
    let cart: Value = app.get("/api/cart/", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "cart kept");

    // Back up: the same cart checks out.
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let pkg = ProductBuilder::package("Kit").price("100.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    add(&app, &token, "package", pkg, 1).await;

    let send = |key: &'static str, body: Value| {
        let req = app.client.post(app.url("/api/orders/create/")).bearer_auth(&token).json(&body);
        async move { req.header("Idempotency-Key", key).send().await.unwrap() }
    };
    let first = send("checkout-1", json!({})).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = send("checkout-1", json!({})).await;
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    assert_eq!(fake.calls("POST /v1/orders"), 1);
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 1);

    // The same key on a different request.
    let res = send("checkout-1", json!({"billing_name": "Other"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "idempotency_key_reused");
    // A new key is a new request (the cart is empty now).
    let res = send("checkout-2", json!({})).await;
    assert_eq!(res.status(), 400);
    // An error reply is kept too.
    let res = send("checkout-2", json!({})).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let long = "k".repeat(256);
    let res = app
        .client
        .post(app.url("/api/orders/create/"))
        .bearer_auth(&token)
        .header("Idempotency-Key", long)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

/// Issue 17: a checkout whose order committed but whose answer was lost — PostgreSQL went away
/// right after the commit, so the `201` could not be read back nor the answer kept — is answered
/// with that order when the client retries under the same key, instead of "Cart is empty" (found
/// by `scripts/chaos` across a PostgreSQL restart). One order, one Razorpay order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_whose_answer_was_lost_after_the_commit_is_answered_with_its_order_on_retry() {
    let fake = FakeRazorpay::start().await;
    let db = e2e::fresh_database().await;
    let admin_url = url::Url::parse(&e2e::admin_database_url()).unwrap();
    let upstream = format!("{}:{}", admin_url.host_str().unwrap(), admin_url.port().unwrap_or(5432));
    let proxy = e2e::proxy::Proxy::start(upstream).await;
    let mut url = url::Url::parse(&e2e::database_url_of(&db)).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    // In clear, so that the proxy can see the statements.
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let app = TestAppBuilder::new()
        .razorpay(&fake)
        .database(&db)
        .var("DATABASE_URL", url.as_str())
        .var("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")
        .spawn()
        .await;
    let user_id = app.create_user("buyer", "pass-word-123", "user", "buyer@x.test").await;
    let token = app.login("buyer", "pass-word-123").await["token"].as_str().unwrap().to_string();
    let pkg = ProductBuilder::package("Kit").price("4999.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    add(&app, &token, "package", pkg, 1).await;
    let send = || {
        let req = app.client.post(app.url("/api/orders/create/")).bearer_auth(&token).json(&json!({}));
        async move { req.header("Idempotency-Key", "checkout-lost").send().await.unwrap() }
    };

    proxy.cut_after_commit_of(b"DELETE FROM cart_item");
    let first = send().await;
    assert!(!proxy.is_up(), "the cut happened");
    assert!(first.status().is_server_error(), "no answer without the database: {}", first.status());
    let (order_id, rzp_order): (i64, String) =
        sqlx::query_as("SELECT id, razorpay_order_id FROM orders WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&app.pool)
            .await
            .expect("the order committed");

    proxy.up();
    let retry = send().await;
    assert_eq!(retry.status(), 201);
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body["order_id"], order_id);
    assert_eq!(body["order"]["id"], order_id);
    assert_eq!(body["razorpay_order_id"], rzp_order.as_str());
    assert_eq!(body["amount"], 499_900);
    assert_eq!(body["currency"], "INR");
    assert_eq!(body["order"]["status"], "pending_payment");
    // Kept now: replayed as given.
    let again = send().await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), body);

    assert_eq!(fake.calls("POST /v1/orders"), 1, "one Razorpay order");
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 1);
    let placed: i64 = sqlx::query_scalar("SELECT count(*) FROM job WHERE dedupe_key = $1")
        .bind(format!("order_placed:{order_id}"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(placed, 1, "one order-placed email");
    drop(app);
    e2e::drop_database(&db).await;
}

#[tokio::test]
async fn gst_is_split_per_line_half_up_intra_and_inter_state() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).var("SELLER_STATE_CODE", "29").spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    // ₹100.00 at 18 % incl.: taxable 10000×100/118 = 8474.58 → 8475, tax 1525, CGST 762.5 → 763, SGST 762.
    let a = ProductBuilder::package("A").price("100.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    // ₹0.50 × 3 at 5 % incl.: taxable 150×100/105 = 142.857 → 143, tax 7, CGST 3.5 → 4, SGST 3.
    let b = ProductBuilder::campaign("B").price("0.50").gst_rate("5").hsn_sac(SAC).create(&app).await;

    add(&app, &token, "package", a, 1).await;
    add(&app, &token, "campaign", b, 3).await;
    let res = app.post("/api/orders/create/", &json!({"billing_name": "Asha Traders"}), Some(&token)).await;
    assert_eq!(res.status(), 201);
    let order = res.json::<Value>().await.unwrap()["order"].clone();
    assert_eq!(order["billing_name"], "Asha Traders");
    assert_eq!(order["billing_state_code"], "29");
    assert_eq!(order["billing_gstin"], Value::Null);
    assert_eq!(order["place_of_supply"], "29-Karnataka");
    assert_eq!(order["total_amount"], "101.50");
    assert_eq!(order["taxable_amount"], "86.18");
    assert_eq!(order["tax_amount"], "15.32");
    assert_eq!(order["cgst_amount"], "7.67");
    assert_eq!(order["sgst_amount"], "7.65");
    assert_eq!(order["igst_amount"], "0.00");
    assert_eq!(order["items"][0]["taxable_amount"], "84.75");
    assert_eq!(order["items"][0]["tax_amount"], "15.25");
    assert_eq!(order["items"][1]["taxable_amount"], "1.43");
    assert_eq!(order["items"][1]["tax_amount"], "0.07");
    assert_eq!(order["items"][1]["gst_rate"], "5.00");

    // Inter-state by GSTIN (Maharashtra): all IGST; the state code comes from the GSTIN.
    add(&app, &token, "package", a, 1).await;
    let res = app
        .post(
            "/api/orders/create/",
            &json!({"billing_gstin": "27abcde1234f1z5", "billing_address": "Pune"}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order = res.json::<Value>().await.unwrap()["order"].clone();
    assert_eq!(order["billing_gstin"], "27ABCDE1234F1Z5");
    assert_eq!(order["billing_state_code"], "27");
    assert_eq!(order["place_of_supply"], "27-Maharashtra");
    assert_eq!(order["billing_name"], "buyer", "defaults to the user's name");
    assert_eq!(order["igst_amount"], "15.25");
    assert_eq!((order["cgst_amount"].as_str(), order["sgst_amount"].as_str()), (Some("0.00"), Some("0.00")));

    // Bad billing: 422 in the §9 shape with details per field; the cart is kept.
    add(&app, &token, "package", a, 1).await;
    for (body, field) in [
        (json!({"billing_gstin": "27ABCDE1234F1Z5", "billing_state_code": "29"}), "billing_gstin"),
        (json!({"billing_gstin": "27ABCDE1234F1Y5"}), "billing_gstin"),
        (json!({"billing_state_code": "40"}), "billing_state_code"),
        (json!({"billing_name": "n".repeat(201)}), "billing_name"),
        (json!({"billing_address": ["x"]}), "billing_address"),
    ] {
        let res = app.post("/api/orders/create/", &body, Some(&token)).await;
        assert_eq!(res.status(), 422, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "validation_error");
        assert!(err["error"]["details"][field].is_array(), "{err}");
    }
    let cart: Value = app.get("/api/cart/", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(fake.calls("POST /v1/orders"), 2);
}

#[tokio::test]
async fn prices_before_gst_add_the_tax_on_top() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).var("PRICES_INCLUDE_GST", "false").spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    // ₹0.10 × 1 at 5 %: tax 0.5 paise → 1 (half-up); ₹100.00 at 18 %: 1800.
    let a = ProductBuilder::campaign("A").price("0.10").gst_rate("5").hsn_sac(SAC).create(&app).await;
    let b = ProductBuilder::package("B").price("100.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    add(&app, &token, "campaign", a, 1).await;
    add(&app, &token, "package", b, 1).await;
    let body: Value = app.post("/api/orders/create/", &json!({}), Some(&token)).await.json().await.unwrap();
    let order = &body["order"];
    assert_eq!(order["taxable_amount"], "100.10");
    assert_eq!(order["tax_amount"], "18.01");
    assert_eq!(order["total_amount"], "118.11");
    assert_eq!(body["amount"], 11_811, "Razorpay charges taxable + tax");
    assert_eq!(order["items"][0]["tax_amount"], "0.01");
}

#[tokio::test]
async fn the_eleventh_order_in_an_hour_is_rate_limited() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let pkg = ProductBuilder::package("Kit").price("10.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    for n in 0..10 {
        add(&app, &token, "package", pkg, 1).await;
        let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
        assert_eq!(res.status(), 201, "order {n}");
        // Without Razorpay the order is placed for offline payment.
        assert_eq!(res.json::<Value>().await.unwrap()["razorpay_order_id"], "");
    }
    add(&app, &token, "package", pkg, 1).await;
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Too many requests. Please try again later.", "detail": "Rate limit exceeded"})
    );
    // Another user is not limited.
    let (_, other) = app.user_token("other", "user").await;
    add(&app, &other, "package", pkg, 1).await;
    assert_eq!(app.post("/api/orders/create/", &json!({}), Some(&other)).await.status(), 201);
}

#[tokio::test]
async fn placing_an_order_needs_a_signed_in_user() {
    let app = TestAppBuilder::new().spawn().await;
    let res = app.post("/api/orders/create/", &json!({}), None).await;
    assert_eq!(res.status(), 401);
    let (_, token) = app.user_token("buyer", "user").await;
    let body = place(&app, &token).await;
    assert_eq!(body["order"]["status"], "pending_payment");
    // Without Razorpay a callback cannot be verified.
    let id = body["order_id"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/api/orders/{id}/payment-success/"),
            &json!({"razorpay_order_id": "order_x", "razorpay_payment_id": "pay_x", "razorpay_signature": "00"}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 400);
}

/// One order's lines (read by every checkout, payment and order page) keep a generic plan: the
/// `= ANY($1)` form was planned again on every execution, which cost more than the read.
#[tokio::test]
async fn one_orders_lines_are_not_planned_again_on_every_read() {
    use common::catalog::ProductType;
    let app = TestAppBuilder::new().spawn().await;
    let buyer = app.create_user("planned", "pass-word-123", "user", "").await;
    let pkg = ProductBuilder::package("Kit").price("499.00").create(&app).await;
    let camp = ProductBuilder::campaign("SMS").price("0.50").create(&app).await;
    let first = e2e::builders::OrderBuilder::for_user(buyer)
        .item(ProductType::Package, pkg, 2)
        .item(ProductType::Campaign, camp, 100)
        .build(&app)
        .await;
    let second = e2e::builders::OrderBuilder::for_user(buyer).item(ProductType::Package, pkg, 1).build(&app).await;
    // One connection: its prepared statements are the ones counted below.
    let pool = app.one_connection_pool().await;
    for _ in 0..12 {
        let lines = common::orders::items(&pool, &[first.id]).await.unwrap();
        assert_eq!(lines.iter().map(|l| l.id).collect::<Vec<_>>(), first.item_ids);
        assert_eq!(lines[0].product_name.as_deref(), Some("Kit"));
    }
    // Several orders: one query, by order then line.
    let both = common::orders::items(&pool, &[second.id, first.id]).await.unwrap();
    let ids: Vec<i64> = both.iter().map(|l| l.id).collect();
    assert_eq!(ids, [first.item_ids.clone(), second.item_ids.clone()].concat());
    // The statement the twelve one-order reads ran (the several-order read ran once).
    let plans: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements
         WHERE statement LIKE '%FROM order_item i WHERE%' AND statement NOT LIKE '%pg_prepared_statements%'
           AND generic_plans + custom_plans >= 12",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(plans.len(), 1, "the one-order statement is prepared on this connection: {plans:?}");
    let (generic, custom) = plans[0];
    // PostgreSQL tries custom plans for the first five executions at most.
    assert!(custom <= 5 && generic >= 7, "planned again on executions: {generic} generic, {custom} custom plans");
}
