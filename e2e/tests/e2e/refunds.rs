//! Refunds (API.md §9.4): Razorpay (settled by webhook or sweep) and offline, partial and full.

use std::time::Duration;

use common::orders::admin::records::PaymentMethod;
use common::orders::reconcile;
use common::razorpay::Razorpay;
use e2e::builders::PaymentBuilder;
use e2e::razorpay::FakeRazorpay;
use e2e::{TestApp, TestAppBuilder};
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

    pay_at_checkout(&app, &fake, &token, id, rzp_order).await;

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
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        std::time::Duration::ZERO,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        chrono::Utc::now(),
    )
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
    PaymentBuilder::for_order(id).amount("4999.00").method(PaymentMethod::Cash).by(admin_id).create(&app).await;

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

const WEBHOOK: &str = "/api/orders/razorpay/webhook/";

/// The stored refunds of an order, oldest first: (method, status, Razorpay payment id, paise).
/// Captures a payment of the order in the fake and verifies it through the checkout callback.
async fn pay_at_checkout(app: &TestApp, fake: &FakeRazorpay, token: &str, id: i64, rzp_order: &str) -> String {
    let payment = fake.capture_payment(rzp_order, None);
    let res = app
        .post(&format!("/api/orders/{id}/payment-success/"), &callback(fake, rzp_order, &payment), Some(token))
        .await;
    assert_eq!(res.status(), 200);
    payment
}

async fn stored_refunds(app: &TestApp, order_id: i64) -> Vec<(String, String, Option<String>, i64)> {
    sqlx::query_as(
        "SELECT method, status, razorpay_payment_id, (amount * 100)::bigint FROM refund WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

fn rzp(app: &TestApp) -> Razorpay {
    Razorpay::from_config(&app.cfg).unwrap().unwrap()
}

/// Review item 7: a payment on a cancelled order is recorded as an issue and never sets
/// `orders.razorpay_payment_id`; its refund must still go to Razorpay, against that payment.
#[tokio::test]
async fn a_payment_recorded_as_an_issue_is_refunded_through_razorpay_against_its_own_id() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let body = place(&app, &token).await;
    let id = body["order_id"].as_i64().unwrap();
    let rzp_order = body["razorpay_order_id"].as_str().unwrap();
    sqlx::query("UPDATE orders SET status = 'cancelled' WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();

    // The customer pays anyway; the sweep finds the payment and records it as an issue.
    let payment = fake.capture_payment(rzp_order, None);
    let report = reconcile::sweep(
        &app.pool,
        &rzp(&app),
        Duration::ZERO,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((report.checked, report.paid, report.issues), (1, 0, 1), "{report:?}");
    let (status, payment_status, order_payment): (String, String, Option<String>) =
        sqlx::query_as("SELECT status, payment_status, razorpay_payment_id FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), payment_status.as_str()), ("cancelled", "paid"));
    assert_eq!(order_payment, None, "an issue payment is not the order's payment");

    let path = format!("/api/admin/orders/{id}/refund/");
    let res = app.post(&path, &json!({"reason": "order was cancelled"}), Some(&admin)).await;
    assert_eq!(res.status(), 202, "a Razorpay refund, not an offline one");
    let refund = res.json::<Value>().await.unwrap()["refund"].clone();
    assert_eq!(refund["method"], "razorpay");
    assert_eq!(refund["status"], "pending");
    assert_eq!(refund["amount"], "4999.00");
    let rfnd = refund["razorpay_refund_id"].as_str().unwrap().to_string();
    assert_eq!(
        stored_refunds(&app, id).await,
        vec![("razorpay".into(), "pending".into(), Some(payment.clone()), 499_900)]
    );
    let sent = fake.refunds();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["payment_id"], payment.as_str());
    assert_eq!(sent[0]["amount"], 499_900);
    assert_eq!(fake.payment(&payment).unwrap()["refund_status"], "full");

    let res = app.post(&path, &json!({}), Some(&admin)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "nothing_to_refund");

    // Razorpay settles it: the order is refunded and stays cancelled.
    fake.set_refund_state(&rfnd, "processed");
    let event = fake.event("refund.processed", None, Some(&rfnd));
    let res = fake.deliver(&app.client, &app.url(WEBHOOK), &event.0, &event.1, &event.2).await;
    assert_eq!(res.status(), 200);
    let (status, payment_status): (String, String) =
        sqlx::query_as("SELECT status, payment_status FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), payment_status.as_str()), ("cancelled", "refunded"));
}

/// Review item 7: a second payment of a paid order (a duplicate, recorded as an issue) and the
/// order's own payment are each refunded against their own id, newest first, never more than
/// one payment holds.
#[tokio::test]
async fn each_razorpay_payment_of_an_order_is_refunded_against_its_own_id() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let body = place(&app, &token).await;
    let id = body["order_id"].as_i64().unwrap();
    let rzp_order = body["razorpay_order_id"].as_str().unwrap();
    let first = pay_at_checkout(&app, &fake, &token, id, rzp_order).await;
    // The customer pays a second time, in another tab.
    let second = fake.capture_payment(rzp_order, None);
    let event = fake.event("payment.captured", Some(&second), None);
    let res = fake.deliver(&app.client, &app.url(WEBHOOK), &event.0, &event.1, &event.2).await;
    assert_eq!(res.status(), 200);
    let kind: String = sqlx::query_scalar("SELECT kind FROM payment_issue WHERE razorpay_payment_id = $1")
        .bind(&second)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(kind, "duplicate_payment");

    let path = format!("/api/admin/orders/{id}/refund/");
    // 9998.00 was paid, but one refund goes against one payment of 4999.00.
    let res = app.post(&path, &json!({"amount": "6000.00"}), Some(&admin)).await;
    assert_eq!(res.status(), 409);
    let err = res.json::<Value>().await.unwrap();
    assert_eq!(err["error"]["code"], "amount_exceeds_refundable");
    assert_eq!(err["error"]["details"]["refundable"], "4999.00");
    let res = app.post(&path, &json!({"amount": "10000.00"}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["details"]["refundable"], "9998.00", "order bound");

    // No amount: the newest payment in full; then the older one, partly and the rest.
    for (amount, expected) in [(None, "4999.00"), (Some("100.00"), "100.00"), (None, "4899.00")] {
        let body = match amount {
            Some(a) => json!({"amount": a, "reason": "double payment"}),
            None => json!({"reason": "double payment"}),
        };
        let res = app.post(&path, &body, Some(&admin)).await;
        assert_eq!(res.status(), 202);
        let refund = res.json::<Value>().await.unwrap()["refund"].clone();
        assert_eq!(refund["method"], "razorpay");
        assert_eq!(refund["amount"], expected);
    }
    let pending = |p: &str, paise| ("razorpay".to_string(), "pending".to_string(), Some(p.to_string()), paise);
    assert_eq!(
        stored_refunds(&app, id).await,
        vec![pending(&second, 499_900), pending(&first, 10_000), pending(&first, 489_900)]
    );
    let sent: Vec<(String, i64)> = fake
        .refunds()
        .iter()
        .map(|r| (r["payment_id"].as_str().unwrap().to_string(), r["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(sent, vec![(second.clone(), 499_900), (first.clone(), 10_000), (first.clone(), 489_900)]);
    let res = app.post(&path, &json!({}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "nothing_to_refund");
}

/// Review item 7: without Razorpay configured, a Razorpay payment is not refunded "offline"
/// unless the admin says so; the explicit `manual` method still works.
#[tokio::test]
async fn without_razorpay_a_razorpay_payment_is_never_silently_refunded_offline() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let id = place(&app, &token).await["order_id"].as_i64().unwrap();
    // A Razorpay payment recorded while Razorpay was configured.
    PaymentBuilder::for_order(id)
        .amount("4999.00")
        .method(PaymentMethod::Razorpay)
        .reference("pay_E2E00000000007")
        .notes("Razorpay payment (webhook)")
        .by(admin_id)
        .create(&app)
        .await;

    let path = format!("/api/admin/orders/{id}/refund/");
    for body in [json!({"reason": "cancelled"}), json!({"method": "razorpay"}), json!({"amount": "10.00"})] {
        let res = app.post(&path, &body, Some(&admin)).await;
        assert_eq!(res.status(), 422, "{body}");
        let err = res.json::<Value>().await.unwrap();
        assert_eq!(err["error"]["code"], "validation_error");
        assert!(err["error"]["details"]["method"].is_array(), "{err}");
    }
    assert!(stored_refunds(&app, id).await.is_empty(), "no refund recorded as done");
    let status: String = sqlx::query_scalar("SELECT payment_status FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "paid");

    let res = app.post(&path, &json!({"method": "manual", "reason": "paid back in cash"}), Some(&admin)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(stored_refunds(&app, id).await, vec![("manual".into(), "processed".into(), None, 499_900)]);
}

/// Review item 8: the refund phase of the sweep shares its time budget and starts no Razorpay
/// call once it is spent; what is left goes out on the next sweep.
#[tokio::test]
async fn the_refund_phase_of_the_sweep_stops_when_the_time_budget_is_spent() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let body = place(&app, &token).await;
    let id = body["order_id"].as_i64().unwrap();
    let rzp_order = body["razorpay_order_id"].as_str().unwrap();
    pay_at_checkout(&app, &fake, &token, id, rzp_order).await;

    // Razorpay is down: three refunds stay pending, never sent.
    fake.set_down(true);
    for n in 0..3 {
        let res = app.post(&format!("/api/admin/orders/{id}/refund/"), &json!({"amount": "10.00"}), Some(&admin)).await;
        assert_eq!(res.status(), 202, "refund {n}");
        assert_eq!(res.json::<Value>().await.unwrap()["refund"]["razorpay_refund_id"], Value::Null);
    }
    fake.set_down(false);
    const SEND: &str = "POST /v1/payments/{id}/refund";
    let tried = fake.calls(SEND);
    assert_eq!(tried, 3);
    let rzp = rzp(&app);
    let inv = common::orders::invoices::InvoiceSettings::of(&app.cfg);
    let sweep =
        |budget| reconcile::sweep_with_budget(&app.pool, &rzp, Duration::ZERO, &inv, chrono::Utc::now(), budget);

    // A spent budget: nothing at all.
    let report = sweep(Duration::ZERO).await.unwrap();
    assert_eq!((report.skipped, report.refunds), (false, 0));
    assert_eq!(fake.calls(SEND), tried);

    // Each answer takes 1.5 s and the budget is 1 s: one refund is sent, then the sweep stops.
    fake.set_delay(Duration::from_millis(1500));
    let report = sweep(Duration::from_secs(1)).await.unwrap();
    assert_eq!(report.refunds, 1);
    assert_eq!(fake.calls(SEND), tried + 1, "no call started after the budget was spent");
    assert_eq!(fake.refunds().len(), 1);

    // The next sweep sends the rest.
    fake.set_delay(Duration::ZERO);
    let report = reconcile::sweep(
        &app.pool,
        &rzp,
        Duration::ZERO,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(report.refunds, 2);
    assert_eq!(fake.calls(SEND), tried + 3);
    assert_eq!(fake.refunds().len(), 3);
    let unsent: i64 = sqlx::query_scalar("SELECT count(*) FROM refund WHERE razorpay_refund_id IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(unsent, 0);
}
