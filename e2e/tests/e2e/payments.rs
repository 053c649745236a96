//! Payments applied exactly once (DESIGN.md, API.md §9.3, §9.5): the checkout callback, webhook
//! deliveries in any order and number, the reconciliation sweep, the invoice series.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::time::Clock;
use e2e::razorpay::FakeRazorpay;
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};

use crate::shop::{callback, count, place};

const WEBHOOK: &str = "/api/orders/razorpay/webhook/";

async fn deliver(app: &TestApp, fake: &FakeRazorpay, event: &(String, Vec<u8>, String)) -> reqwest::Response {
    fake.deliver(&app.client, &app.url(WEBHOOK), &event.0, &event.1, &event.2).await
}

async fn order_state(app: &TestApp, id: i64) -> (String, String, Option<String>) {
    sqlx::query_as("SELECT status, payment_status, invoice_number FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn ids(body: &Value) -> (i64, String) {
    (body["order_id"].as_i64().unwrap(), body["razorpay_order_id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn callback_and_three_concurrent_duplicate_webhooks_apply_once() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let payment = fake.capture_payment(&rzp_order, None);
    let captured = fake.event("payment.captured", Some(&payment), None);
    let order_paid = fake.event("order.paid", Some(&payment), None);

    let path = format!("/api/orders/{id}/payment-success/");
    let body = callback(&fake, &rzp_order, &payment);
    let (cb, w1, w2, w3, w4) = tokio::join!(
        app.post(&path, &body, Some(&token)),
        deliver(&app, &fake, &captured),
        deliver(&app, &fake, &captured),
        deliver(&app, &fake, &captured),
        deliver(&app, &fake, &order_paid),
    );
    assert_eq!(cb.status(), 200);
    for w in [w1, w2, w3, w4] {
        assert_eq!(w.status(), 200);
    }
    assert_eq!(count(&app, "payment_record", id).await, 1);
    assert_eq!(count(&app, "payment_history", id).await, 1);
    let changes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM order_status_history WHERE order_id = $1 AND new_status = 'pending_resources'",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(changes, 1, "one status change");
    let (status, payment_status, invoice) = order_state(&app, id).await;
    assert_eq!((status.as_str(), payment_status.as_str()), ("pending_resources", "paid"));
    let issued: i64 = sqlx::query_scalar("SELECT last_seq FROM invoice_counter").fetch_one(&app.pool).await.unwrap();
    assert_eq!(issued, 1, "one invoice number allocated");
    assert!(invoice.unwrap().ends_with("/00001"));
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_event").fetch_one(&app.pool).await.unwrap();
    assert_eq!(events, 2, "duplicate event ids are stored once");
    // A later redelivery is a no-op.
    let res = deliver(&app, &fake, &captured).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "duplicate"}));
}

#[tokio::test]
async fn webhooks_in_any_order_end_paid() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;

    // payment.failed, then payment.captured (a retry that worked) → paid.
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let failed = fake.fail_payment(&rzp_order);
    let res = deliver(&app, &fake, &fake.event("payment.failed", Some(&failed), None)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(order_state(&app, id).await.0, "pending_payment");
    let ok = fake.capture_payment(&rzp_order, None);
    deliver(&app, &fake, &fake.event("payment.captured", Some(&ok), None)).await;
    assert_eq!(order_state(&app, id).await.1, "paid");

    // payment.captured, then a late payment.failed of an earlier attempt → stays paid.
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let failed = fake.fail_payment(&rzp_order);
    let ok = fake.capture_payment(&rzp_order, None);
    deliver(&app, &fake, &fake.event("payment.captured", Some(&ok), None)).await;
    deliver(&app, &fake, &fake.event("payment.failed", Some(&failed), None)).await;
    let (status, payment_status, _) = order_state(&app, id).await;
    assert_eq!((status.as_str(), payment_status.as_str()), ("pending_resources", "paid"));
    assert_eq!(count(&app, "payment_record", id).await, 1);
    let outcome: String =
        sqlx::query_scalar("SELECT outcome FROM payment_event WHERE event = 'payment.failed' ORDER BY id DESC LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(outcome.starts_with("payment failed"), "{outcome}");
}

#[tokio::test]
async fn webhook_checks_signature_and_is_off_without_a_secret() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let payment = fake.capture_payment(&rzp_order, None);
    let (event_id, body, signature) = fake.event("payment.captured", Some(&payment), None);
    // One byte of the body changed, the signature of another secret, no signature.
    let mut tampered = body.clone();
    let pos = tampered.iter().position(|b| *b == b'1').unwrap();
    tampered[pos] = b'2';
    let foreign = e2e::razorpay::hmac_hex("another-secret", &body);
    for (b, s) in [(&tampered, signature.as_str()), (&body, foreign.as_str()), (&body, "")] {
        let res = fake.deliver(&app.client, &app.url(WEBHOOK), &event_id, b, s).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "invalid_signature");
    }
    assert_eq!(order_state(&app, id).await.1, "unpaid");
    let res = deliver(&app, &fake, &(event_id.clone(), body.clone(), signature.clone())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(order_state(&app, id).await.1, "paid");

    // Without RAZORPAY_WEBHOOK_SECRET the route answers 404.
    let no_secret = TestAppBuilder::new()
        .var("RAZORPAY_KEY_ID", &fake.key_id)
        .var("RAZORPAY_KEY_SECRET", &fake.key_secret)
        .var("RAZORPAY_API_BASE", &fake.base)
        .spawn()
        .await;
    let res = fake.deliver(&no_secret.client, &no_secret.url(WEBHOOK), &event_id, &body, &signature).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_sweep_recovers_a_payment_whose_callback_and_webhook_never_came() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).var("RECONCILE_AFTER_SECONDS", "0").with_worker().spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let (unpaid_id, _) = ids(&place(&app, &token).await);
    let payment = fake.capture_payment(&rzp_order, None);

    // Two scheduler processes fire the same minute: one job.
    let now = Utc::now();
    let first = worker::scheduler::fire(&app.pool, now).await.unwrap();
    let second = worker::scheduler::fire(&app.pool, now).await.unwrap();
    assert!(first >= 1);
    assert_eq!(second, 0, "once per tick across processes");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM job WHERE kind = 'reconcile_payments'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);

    let paid = app
        .eventually(Duration::from_secs(10), || async {
            let (_, p, inv) = order_state(&app, id).await;
            (p == "paid").then_some(inv)
        })
        .await;
    assert!(paid.expect("the sweep applied the payment").is_some());
    let (method, reference): (String, String) =
        sqlx::query_as("SELECT payment_method, payment_reference FROM payment_record WHERE order_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((method.as_str(), reference.as_str()), ("razorpay", payment.as_str()));
    let source: Value = sqlx::query_scalar("SELECT metadata FROM payment_history WHERE order_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(source["source"], "sweep");
    assert_eq!(order_state(&app, unpaid_id).await.1, "unpaid", "nothing captured there");
    // The late callback afterwards changes nothing.
    let res = app
        .post(&format!("/api/orders/{id}/payment-success/"), &callback(&fake, &rzp_order, &payment), Some(&token))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(count(&app, "payment_record", id).await, 1);
}

#[tokio::test]
async fn payments_for_cancelled_orders_or_wrong_amounts_are_recorded_and_flagged() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let admin = app.create_user("boss", "pass-word-123", "admin", "").await;

    let (cancelled, rzp_cancelled) = ids(&place(&app, &token).await);
    sqlx::query("UPDATE orders SET status = 'cancelled' WHERE id = $1")
        .bind(cancelled)
        .execute(&app.pool)
        .await
        .unwrap();
    let p1 = fake.capture_payment(&rzp_cancelled, None);
    deliver(&app, &fake, &fake.event("payment.captured", Some(&p1), None)).await;
    let (status, payment_status, invoice) = order_state(&app, cancelled).await;
    assert_eq!(status, "cancelled", "never fulfilled");
    assert_eq!(payment_status, "paid", "the money is recorded");
    assert_eq!(invoice, None);

    let (short, rzp_short) = ids(&place(&app, &token).await);
    let p2 = fake.capture_payment(&rzp_short, Some(100_000));
    deliver(&app, &fake, &fake.event("payment.captured", Some(&p2), None)).await;
    let (status, payment_status, _) = order_state(&app, short).await;
    assert_eq!((status.as_str(), payment_status.as_str()), ("pending_payment", "partial"));

    let issues: Vec<(i64, String)> =
        sqlx::query_as("SELECT order_id, kind FROM payment_issue ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(issues, vec![(cancelled, "cancelled_order".to_string()), (short, "amount_mismatch".to_string())]);
    let notes: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT notification_type, order_id FROM notification WHERE user_id = $1 ORDER BY id")
            .bind(admin)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(notes, vec![("payment_issue".into(), Some(cancelled)), ("payment_issue".into(), Some(short))]);
    // Redelivery notifies no one again.
    deliver(&app, &fake, &fake.event("payment.captured", Some(&p1), None)).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM notification").fetch_one(&app.pool).await.unwrap();
    assert_eq!(total, 2);
    // The customer's callback for the cancelled order: 409, nothing more recorded.
    let res = app
        .post(&format!("/api/orders/{cancelled}/payment-success/"), &callback(&fake, &rzp_cancelled, &p1), Some(&token))
        .await;
    assert_eq!(res.status(), 200, "the payment was already handled");
    assert_eq!(count(&app, "payment_record", cancelled).await, 1);
}

#[tokio::test]
async fn twenty_concurrent_payments_get_consecutive_invoice_numbers_and_the_series_restarts_in_april() {
    let fake = FakeRazorpay::start().await;
    // 31 March 2027, 23:00 IST: financial year 2026-27.
    let clock = Clock::fixed(Utc.with_ymd_and_hms(2027, 3, 31, 17, 30, 0).unwrap());
    let app = TestAppBuilder::new()
        .razorpay(&fake)
        .var("INVOICE_PREFIX", "ECT")
        .var("RATE_LIMITS_ENABLED", "false")
        .clock(clock.clone())
        .spawn()
        .await;
    let mut orders = Vec::new();
    for n in 0..20 {
        let (_, token) = app.user_token(&format!("buyer{n}"), "user").await;
        let (id, rzp_order) = ids(&place(&app, &token).await);
        let payment = fake.capture_payment(&rzp_order, None);
        orders.push((id, rzp_order, payment, token));
    }
    let calls = orders.iter().map(|(id, rzp_order, payment, token)| {
        let body = callback(&fake, rzp_order, payment);
        let path = format!("/api/orders/{id}/payment-success/");
        let app = &app;
        async move {
            let res = app.post(&path, &body, Some(token)).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()["invoice_number"].as_str().unwrap().to_string()
        }
    });
    let mut numbers = futures::future::join_all(calls).await;
    numbers.sort();
    let expected: Vec<String> = (1..=20).map(|n| format!("ECT/26-27/{n:05}")).collect();
    assert_eq!(numbers, expected);

    // 1 April 2027, 00:00 IST: a new series.
    clock.set(Utc.with_ymd_and_hms(2027, 3, 31, 18, 30, 0).unwrap());
    let (_, token) = app.user_token("april", "user").await;
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let payment = fake.capture_payment(&rzp_order, None);
    let body: Value = app
        .post(&format!("/api/orders/{id}/payment-success/"), &callback(&fake, &rzp_order, &payment), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["invoice_number"], "ECT/27-28/00001");

    // Past five digits the sequence keeps all its digits.
    sqlx::query("UPDATE invoice_counter SET last_seq = 99999 WHERE fy_start_year = 2027")
        .execute(&app.pool)
        .await
        .unwrap();
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let payment = fake.capture_payment(&rzp_order, None);
    let body: Value = app
        .post(&format!("/api/orders/{id}/payment-success/"), &callback(&fake, &rzp_order, &payment), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["invoice_number"], "ECT/27-28/100000");
}

fn rzp(app: &TestApp) -> common::razorpay::Razorpay {
    common::razorpay::Razorpay::from_config(&app.cfg).unwrap().unwrap()
}

/// (reconcile_checks, seconds from `now` to reconcile_due_at) of an order.
async fn backoff_state(app: &TestApp, id: i64, now: chrono::DateTime<Utc>) -> (i32, Option<i64>) {
    let (checks, due): (i32, Option<chrono::DateTime<Utc>>) =
        sqlx::query_as("SELECT reconcile_checks, reconcile_due_at FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // Stored to the microsecond: rounded to whole seconds.
    (checks, due.map(|d| ((d - now).num_milliseconds() + 500).div_euclid(1000)))
}

/// Review item 8: sweeps started together (a slow Razorpay makes the ticks overlap) run one at a
/// time: the second returns at once, skipped, and each order's payments are fetched once. The
/// lock goes with the sweep, even when the sweep is abandoned midway.
#[tokio::test]
async fn overlapping_sweeps_run_one_at_a_time() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (_, first) = ids(&place(&app, &token).await);
    let (_, second) = ids(&place(&app, &token).await);
    let rzp = rzp(&app);
    let inv = common::orders::invoices::InvoiceSettings::of(&app.cfg);
    let sweep = || common::orders::reconcile::sweep(&app.pool, &rzp, Duration::ZERO, &inv, Utc::now());

    // Each answer takes 500 ms: the first sweep holds the lock for a second at least.
    fake.set_delay(Duration::from_millis(500));
    let (a, b) = tokio::join!(sweep(), sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    let (ran, skipped) = if a.skipped { (b, a) } else { (a, b) };
    assert!(!ran.skipped && skipped.skipped, "exactly one ran: {ran:?} {skipped:?}");
    assert_eq!(ran.checked, 2);
    assert_eq!(skipped, common::orders::reconcile::Report { skipped: true, ..Default::default() });
    assert_eq!(fake.calls("GET /v1/orders/{id}/payments"), 2);
    assert_eq!(fake.calls(&format!("GET /v1/orders/{first}/payments")), 1);
    assert_eq!(fake.calls(&format!("GET /v1/orders/{second}/payments")), 1);

    // The lock was released: the next sweep runs (and has nothing due yet).
    fake.set_delay(Duration::ZERO);
    let next = sweep().await.unwrap();
    assert!(!next.skipped);
    assert_eq!(next.checked, 0);

    // A sweep abandoned midway (its task dropped) leaves no lock behind.
    sqlx::query("UPDATE orders SET reconcile_due_at = NULL").execute(&app.pool).await.unwrap();
    fake.set_delay(Duration::from_secs(1));
    assert!(tokio::time::timeout(Duration::from_millis(200), sweep()).await.is_err(), "still running");
    fake.set_delay(Duration::ZERO);
    let after = app
        .eventually(Duration::from_secs(10), || async {
            let report = sweep().await.unwrap();
            (!report.skipped).then_some(report)
        })
        .await;
    assert_eq!(after.expect("the abandoned sweep's lock was released").checked, 2);
}

/// Review item 8: an unpaid order is asked about again only after a back-off that doubles from
/// RECONCILE_AFTER_SECONDS (at least a minute) up to 6 h; a failed call postpones it without
/// counting; past the 30-day horizon it is never due again.
#[tokio::test]
async fn the_sweep_backs_off_from_orders_it_has_checked() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new().razorpay(&fake).spawn().await;
    let (_, token) = app.user_token("buyer", "user").await;
    let (id, rzp_order) = ids(&place(&app, &token).await);
    let rzp = rzp(&app);
    let fetches = || fake.calls(&format!("GET /v1/orders/{rzp_order}/payments"));
    let base = Duration::from_secs(300);
    // The sweep's clock is 10 minutes ahead, so the new order is past RECONCILE_AFTER.
    let at = |minutes| Utc::now() + chrono::Duration::minutes(minutes);

    let now = at(10);
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        base,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.checked, 1);
    assert_eq!(backoff_state(&app, id, now).await, (1, Some(300)), "due again in 5 minutes");

    // The next tick (one minute later): not due, not asked.
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        base,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        at(11),
    )
    .await
    .unwrap();
    assert_eq!(report.checked, 0);
    assert_eq!(fetches(), 1);

    // Once due (moved into the past rather than waiting), checked again, and the wait doubles.
    sqlx::query("UPDATE orders SET reconcile_due_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at(9))
        .execute(&app.pool)
        .await
        .unwrap();
    let now = at(11);
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        base,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.checked, 1);
    assert_eq!(fetches(), 2);
    assert_eq!(backoff_state(&app, id, now).await, (2, Some(600)));

    // Many checks later the wait stays at 6 hours.
    sqlx::query("UPDATE orders SET reconcile_checks = 12, reconcile_due_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        base,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.checked, 1);
    assert_eq!(backoff_state(&app, id, now).await, (13, Some(6 * 3600)));

    // Razorpay down: postponed by the base wait, not counted as a check.
    sqlx::query("UPDATE orders SET reconcile_due_at = NULL WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();
    fake.set_down(true);
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        base,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        now,
    )
    .await
    .unwrap();
    assert_eq!((report.checked, report.errors), (1, 1));
    assert_eq!(backoff_state(&app, id, now).await, (13, Some(300)));
    fake.set_down(false);

    // A payment captured meanwhile is found on the next due check.
    let payment = fake.capture_payment(&rzp_order, None);
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        base,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        at(16),
    )
    .await
    .unwrap();
    assert_eq!(report.paid, 1);
    assert_eq!(order_state(&app, id).await.1, "paid");
    let reference: String = sqlx::query_scalar("SELECT payment_reference FROM payment_record WHERE order_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(reference, payment);

    // An order whose next check (in 5 minutes) would fall past the 30-day horizon (in 2) is
    // never due again.
    let (old, _) = ids(&place(&app, &token).await);
    sqlx::query("UPDATE orders SET created_at = $2 WHERE id = $1")
        .bind(old)
        .bind(Utc::now() - chrono::Duration::days(30) + chrono::Duration::minutes(2))
        .execute(&app.pool)
        .await
        .unwrap();
    let report = common::orders::reconcile::sweep(
        &app.pool,
        &rzp,
        base,
        &common::orders::invoices::InvoiceSettings::of(&app.cfg),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(report.checked, 1);
    let never: bool = sqlx::query_scalar("SELECT reconcile_due_at = 'infinity' FROM orders WHERE id = $1")
        .bind(old)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(never);
}
