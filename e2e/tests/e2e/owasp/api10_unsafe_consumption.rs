//! OWASP API10:2023 Unsafe Consumption of APIs. What Razorpay and Cloudinary send is checked
//! before it is believed: webhook deliveries with a bad or missing signature, no event id, a
//! body that is not JSON, over the size limit, of an unknown event, or a signed `payment.captured`
//! without an integer amount, in another currency or for less than the total change no order
//! (clear 4xx, or 200 without effect); a Razorpay Orders API answering garbage, HTML, an error
//! page, a wrong amount, a wrong currency or an id that is not an order id gives the §6 502 and
//! leaves no payable order (the cart kept); a Cloudinary upload answered with garbage, HTML, a
//! foreign or non-HTTPS URL or another public id is an error and nothing is stored.

use std::time::Duration;

use common::media::{Cloudinary, CloudinaryCredentials};
use e2e::builders::ProductBuilder;
use e2e::cloudinary::FakeCloudinary;
use e2e::fixtures::png;
use e2e::razorpay::{FakeRazorpay, hmac_hex};
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};

use super::{answer, token_for};

const WEBHOOK: &str = "/api/orders/razorpay/webhook/";

async fn shop(rzp: &FakeRazorpay) -> (TestApp, i64, String) {
    let app = TestAppBuilder::new().razorpay(rzp).var("MAX_BODY_BYTES", "65536").spawn().await;
    let package = ProductBuilder::package("Rally Kit").price("4999.00").create(&app).await;
    let buyer = e2e::builders::UserBuilder::new("buyer").create(&app).await;
    (app, package, token_for(buyer))
}

async fn fill_cart(app: &TestApp, token: &str, package: i64) {
    let res = app.post("/api/cart/add/", &json!({"item_type": "package", "item_id": package}), Some(token)).await;
    assert_eq!(res.status(), 200);
}

/// Orders, paid orders and payment records in the database.
async fn state(app: &TestApp) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM orders WHERE payment_completed_at IS NOT NULL),
                (SELECT count(*) FROM payment_record)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn deliver(app: &TestApp, rzp: &FakeRazorpay, id: &str, body: &[u8], signature: &str) -> (u16, Value) {
    answer(rzp.deliver(&app.client, &app.url(WEBHOOK), id, body, signature).await).await
}

#[tokio::test]
async fn owasp_api10_webhook_deliveries_are_verified_before_anything_changes() {
    let rzp = FakeRazorpay::start().await;
    let (app, package, token) = shop(&rzp).await;
    fill_cart(&app, &token, package).await;
    let created: Value = app.post("/api/orders/create/", &json!({}), Some(&token)).await.json().await.unwrap();
    let rzp_order = created["razorpay_order_id"].as_str().unwrap().to_string();
    let payment = rzp.capture_payment(&rzp_order, None);
    let (_, good_body, _) = rzp.event("payment.captured", Some(&payment), None);
    let event: Value = serde_json::from_slice(&good_body).unwrap();
    let before = state(&app).await;
    assert_eq!(before, (1, 0, 0));

    let signed = |body: &[u8]| hmac_hex(&rzp.webhook_secret, body);
    let bad_signature = (400, "invalid_signature");
    let code = |r: (u16, Value)| (r.0, r.1["error"]["code"].as_str().unwrap_or("").to_string());

    // Unsigned, wrongly signed, signed with the key secret instead of the webhook secret.
    for sig in ["", "00", &"ab".repeat(32), &hmac_hex(&rzp.key_secret, &good_body), "not hex at all"] {
        let got = code(deliver(&app, &rzp, "evt_sig", &good_body, sig).await);
        assert_eq!((got.0, got.1.as_str()), bad_signature, "signature {sig:?}");
    }
    // Signed, but no event id; not JSON; over the body limit.
    let got = code(deliver(&app, &rzp, "", &good_body, &signed(&good_body)).await);
    assert_eq!((got.0, got.1.as_str()), (400, "missing_event_id"));
    for body in [b"<html>hi</html>".to_vec(), b"{\"event\":".to_vec(), vec![0xff, 0xfe, 0x00]] {
        let got = code(deliver(&app, &rzp, "evt_bad_json", &body, &signed(&body)).await);
        assert_eq!((got.0, got.1.as_str()), (400, "malformed"), "{body:?}");
    }
    let huge = format!("{{\"event\":\"payment.captured\",\"pad\":\"{}\"}}", "x".repeat(100_000)).into_bytes();
    let (status, _) = deliver(&app, &rzp, "evt_huge", &huge, &signed(&huge)).await;
    assert_eq!(status, 413);
    assert_eq!(state(&app).await, before, "nothing changed");

    // Signed and well-formed, but not to be believed.
    let tampered = |f: &dyn Fn(&mut Value)| {
        let mut e = event.clone();
        f(&mut e["payload"]["payment"]["entity"]);
        serde_json::to_vec(&e).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown event", {
            let mut e = event.clone();
            e["event"] = json!("payment.teleported");
            serde_json::to_vec(&e).unwrap()
        }),
        (
            "no amount",
            tampered(&|p| {
                p.as_object_mut().unwrap().remove("amount");
            }),
        ),
        ("amount as a string", tampered(&|p| p["amount"] = json!("499900"))),
        ("amount null", tampered(&|p| p["amount"] = Value::Null)),
        ("another currency", tampered(&|p| p["currency"] = json!("USD"))),
        (
            "no currency",
            tampered(&|p| {
                p.as_object_mut().unwrap().remove("currency");
            }),
        ),
        ("an order we never made", tampered(&|p| p["order_id"] = json!("order_Unknown000000"))),
    ];
    for (i, (what, body)) in cases.iter().enumerate() {
        let (status, ack) = deliver(&app, &rzp, &format!("evt_case_{i}"), body, &signed(body)).await;
        assert!(status == 200 || status == 400, "{what}: {status} {ack}");
        assert_eq!(state(&app).await, before, "{what}: nothing recorded ({ack})");
        let order: (String, String) =
            sqlx::query_as("SELECT status, payment_status FROM orders").fetch_one(&app.pool).await.unwrap();
        assert_eq!(order, ("pending_payment".to_string(), "unpaid".to_string()), "{what}");
    }
    // Less than the total: the money Razorpay took is recorded, as an issue, and the order is
    // not fulfilled.
    let less = tampered(&|p| p["amount"] = json!(100));
    let (status, ack) = deliver(&app, &rzp, "evt_less", &less, &signed(&less)).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["outcome"], "issue: amount_mismatch");
    let order: (String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT status, payment_completed_at FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(order, ("pending_payment".to_string(), None));
}

#[tokio::test]
async fn owasp_api10_razorpay_answers_that_are_not_a_good_order_give_502_and_no_order() {
    let rzp = FakeRazorpay::start().await;
    let (app, package, _) = shop(&rzp).await;
    let order = |id: &str, amount: i64, currency: &str| {
        json!({"id": id, "entity": "order", "amount": amount, "amount_paid": 0, "amount_due": amount,
               "currency": currency, "receipt": "r", "status": "created", "attempts": 0, "notes": [],
               "created_at": 1_700_000_000})
        .to_string()
    };
    let cases = [
        ("garbage", 200, "application/json", "\u{1}\u{2}garbage".to_string()),
        ("HTML", 200, "text/html", "<html><body>Bad gateway</body></html>".to_string()),
        ("an HTML error page", 502, "text/html", "<html>502</html>".to_string()),
        ("an empty body", 200, "application/json", String::new()),
        ("a JSON array", 200, "application/json", "[]".to_string()),
        ("a wrong amount", 200, "application/json", order("order_Wrong0000000001", 100, "INR")),
        ("a wrong currency", 200, "application/json", order("order_Wrong0000000002", 499_900, "USD")),
        ("no currency", 200, "application/json", {
            let mut o: Value = serde_json::from_str(&order("order_Wrong0000000003", 499_900, "INR")).unwrap();
            o.as_object_mut().unwrap().remove("currency");
            o.to_string()
        }),
        ("an empty id", 200, "application/json", order("", 499_900, "INR")),
        ("an id that is not an order id", 200, "application/json", order("pay_NotAnOrder00001", 499_900, "INR")),
        ("an id with a path in it", 200, "application/json", order("order_../../x", 499_900, "INR")),
    ];
    let mut token = String::new();
    for (i, (what, status, content_type, body)) in cases.into_iter().enumerate() {
        // A buyer per case: order creation is limited per user.
        token = token_for(e2e::builders::UserBuilder::new(&format!("buyer{i}")).create(&app).await);
        fill_cart(&app, &token, package).await;
        rzp.answer_next("POST /v1/orders", status, content_type, &body);
        let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
        assert_eq!(
            answer(res).await,
            (502, json!({"error": "Order creation failed: payment provider unavailable"})),
            "Razorpay answering {what}"
        );
        assert_eq!(state(&app).await.0, 0, "{what}: no order left behind");
        let cart: Value = app.get("/api/cart/", Some(&token)).await.json().await.unwrap();
        assert_eq!(cart["item_count"], 1, "{what}: the cart is kept");
    }
    let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 201, "a good answer still makes the order");
}

#[tokio::test]
async fn owasp_api10_cloudinary_answers_are_checked_before_anything_is_stored() {
    let fake = FakeCloudinary::start("demo", "key", "secret").await;
    let client = Cloudinary::new(
        CloudinaryCredentials::parse("cloudinary://key:secret@demo").unwrap(),
        &fake.base,
        Duration::from_secs(10),
    )
    .unwrap();
    let uploaded = |public_id: &str, url: &str| {
        json!({"public_id": public_id, "version": 1, "format": "png", "resource_type": "image", "type": "upload",
               "secure_url": url, "url": url})
        .to_string()
    };
    let cases = [
        ("garbage", "application/json", "\u{1}garbage".to_string()),
        ("HTML", "text/html", "<html>ok</html>".to_string()),
        ("an empty object", "application/json", "{}".to_string()),
        (
            "a plain-HTTP URL",
            "application/json",
            uploaded("products/a", "http://res.cloudinary.com/demo/image/upload/v1/products/a.png"),
        ),
        ("a script URL", "application/json", uploaded("products/a", "javascript:alert(1)")),
        (
            "a foreign host",
            "application/json",
            uploaded("products/a", "https://evil.example/demo/image/upload/v1/products/a.png"),
        ),
        (
            "another public id",
            "application/json",
            uploaded(
                "products/someone-else",
                "https://res.cloudinary.com/demo/image/upload/v1/products/someone-else.png",
            ),
        ),
    ];
    for (what, content_type, body) in &cases {
        fake.answer_next_upload(200, content_type, body);
        let got = client.upload(png(2, 2), "a.png", "products/a").await;
        assert!(got.is_err(), "a public upload answered with {what} was believed: {got:?}");
    }
    for (what, content_type, body) in &cases[..3] {
        fake.answer_next_upload(200, content_type, body);
        let got = client.upload_private("image", png(2, 2), "a.png", "resources/a").await;
        assert!(got.is_err(), "a private upload answered with {what} was believed: {got:?}");
    }
    fake.answer_next_upload(
        200,
        "application/json",
        &json!({"public_id": "resources/other", "format": "png"}).to_string(),
    );
    let got = client.upload_private("image", png(2, 2), "a.png", "resources/a").await;
    assert!(got.is_err(), "a private upload stored under another public id was believed: {got:?}");
    assert!(fake.public_ids().is_empty(), "nothing stored");
    // A good answer is still believed.
    let up = client.upload(png(2, 2), "a.png", "products/a").await.unwrap();
    assert_eq!(up.public_id, "products/a");
}
