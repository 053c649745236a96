//! Refunds (API.md §9.4): Razorpay (settled by webhook or sweep) and offline, partial and full.

use e2e::TestAppBuilder;
use e2e::razorpay::FakeRazorpay;
use reqwest::Method;
use serde_json::{Value, json};

use crate::shop::{callback, place};

#[tokio::test]
async fn razorpay_refunds_partial_then_full_settled_by_webhook_and_sweep() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let body = place(&app, &token).await;
    let id = body["order_id"].as_i64().unwrap();
    let rzp_order = body["razorpay_order_id"].as_str().unwrap();
    let refund_path = format!("/api/admin/orders/{id}/refund/");

    // Nothing paid yet.
    let res = app.post(&refund_path, &json!({"reason": "early"}), Some(&admin)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "nothing_to_refund");

    let payment = fake.capture_payment(rzp_order, None);
    let res = app
        .post(&format!("/api/orders/{id}/payment-success/"), &callback(&fake, rzp_order, &payment), Some(&token))
        .await;
    assert_eq!(res.status(), 200);

    // Customers may not refund; bad input is a 422.
    assert_eq!(app.post(&refund_path, &json!({}), Some(&token)).await.status(), 403);
    for bad in
        [json!({"amount": "abc"}), json!({"amount": 0}), json!({"reason": "r".repeat(501)}), json!({"method": "cash"})]
    {
        let res = app.post(&refund_path, &bad, Some(&admin)).await;
        assert_eq!(res.status(), 422, "{bad}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "validation_error");
    }
    let res = app.post(&refund_path, &json!({"amount": "5000.00"}), Some(&admin)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "amount_exceeds_refundable");

    // Partial refund: 202 pending, sent with X-Refund-Idempotency.
    let res = app.post(&refund_path, &json!({"amount": "999.00", "reason": "one banner dropped"}), Some(&admin)).await;
    assert_eq!(res.status(), 202);
    let refund = res.json::<Value>().await.unwrap()["refund"].clone();
    assert_eq!(refund["amount"], "999.00");
    assert_eq!(refund["method"], "razorpay");
    assert_eq!(refund["status"], "pending");
    assert_eq!(refund["order"], id);
    assert_eq!(refund["reason"], "one banner dropped");
    assert_eq!(refund["created_by"]["username"], "boss");
    assert_eq!(refund["processed_at"], Value::Null);
    let rfnd = refund["razorpay_refund_id"].as_str().unwrap().to_string();
    assert_eq!(fake.refund(&rfnd).unwrap()["amount"], 99_900);

    // Pending counts against the refundable amount.
    let res = app.post(&refund_path, &json!({"amount": "4000.01"}), Some(&admin)).await;
    assert_eq!(res.status(), 409);

    // refund.processed by webhook.
    fake.set_refund_state(&rfnd, "processed");
    let event = fake.event("refund.processed", None, Some(&rfnd));
    let res = fake.deliver(&app.client, &app.url("/api/orders/razorpay/webhook/"), &event.0, &event.1, &event.2).await;
    assert_eq!(res.status(), 200);
    let list: Value = app.get(&format!("/api/admin/orders/{id}/refunds/"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(list[0]["status"], "processed");
    assert!(list[0]["processed_at"].is_string());
    let status: String = sqlx::query_scalar("SELECT payment_status FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "paid", "a partial refund keeps paid");

    // The rest, settled by the sweep.
    let res = app.post(&refund_path, &json!({"reason": "cancelled"}), Some(&admin)).await;
    assert_eq!(res.status(), 202);
    let rest = res.json::<Value>().await.unwrap()["refund"].clone();
    assert_eq!(rest["amount"], "4000.00");
    let rest_id = rest["razorpay_refund_id"].as_str().unwrap().to_string();
    fake.set_refund_state(&rest_id, "processed");
    let rzp = common::razorpay::Razorpay::from_config(&app.cfg).unwrap().unwrap();
    let report = common::orders::reconcile::sweep(&app.pool, &rzp, std::time::Duration::ZERO, "EC", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(report.refunds, 1);
    let (payment_status, order_status): (String, String) =
        sqlx::query_as("SELECT payment_status, status FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((payment_status.as_str(), order_status.as_str()), ("refunded", "pending_resources"));
    let list: Value = app.get(&format!("/api/admin/orders/{id}/refunds/"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["amount"], "4000.00", "newest first");
    let res = app.post(&refund_path, &json!({}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "nothing_to_refund");
    assert_eq!(app.get("/api/admin/orders/999999/refunds/", Some(&admin)).await.status(), 404);
}

#[tokio::test]
async fn offline_refunds_are_processed_at_once_and_replayed_by_key() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let id = place(&app, &token).await["order_id"].as_i64().unwrap();
    // Paid in cash at the counter.
    sqlx::query(
        "INSERT INTO payment_record (order_id, amount, payment_method, recorded_by_id) VALUES ($1, 4999.00, 'cash', $2)",
    )
    .bind(id)
    .bind(admin_id)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE orders SET payment_status = 'paid' WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();

    let path = format!("/api/admin/orders/{id}/refund/");
    let res = app.post(&path, &json!({"method": "razorpay"}), Some(&admin)).await;
    assert_eq!(res.status(), 422, "no Razorpay payment to refund");
    let send = || {
        app.client
            .request(Method::POST, app.url(&path))
            .bearer_auth(&admin)
            .header("Idempotency-Key", "refund-cash-1")
            .json(&json!({"amount": 4999, "reason": "customer withdrew"}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["refund"]["method"], "manual");
    assert_eq!(first["refund"]["status"], "processed");
    assert_eq!(first["refund"]["razorpay_refund_id"], Value::Null);
    let again = send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let refunds: i64 = sqlx::query_scalar("SELECT count(*) FROM refund").fetch_one(&app.pool).await.unwrap();
    assert_eq!(refunds, 1);
    let status: String = sqlx::query_scalar("SELECT payment_status FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "refunded");
}
