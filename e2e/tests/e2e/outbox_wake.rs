//! The dispatcher's wake-up for checkouts and payments comes after their commit (the doorbell,
//! `common::jobs::doorbell`), never from inside it: a notifying commit holds a lock of the whole
//! PostgreSQL server to the end of its WAL flush, so notifying checkouts and payments would
//! commit one at a time (`scripts/bench-pg`).

use std::time::Duration;

use common::jobs;
use e2e::razorpay::FakeRazorpay;
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};
use sqlx::postgres::PgListener;

use crate::shop::{add, callback};

async fn jobs_written(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM job").fetch_one(&app.pool).await.unwrap()
}

async fn buyer(app: &TestApp, name: &str) -> String {
    app.create_user(name, "pass-word-123", "user", &format!("{name}@example.com")).await;
    app.login(name, "pass-word-123").await["token"].as_str().unwrap().to_string()
}

async fn fill_cart(app: &TestApp, token: &str) {
    let name = format!("Kit {}", uuid::Uuid::new_v4().simple());
    let pkg = e2e::builders::ProductBuilder::package(&name)
        .price("4999.00")
        .gst_rate("18")
        .hsn_sac(crate::shop::SAC)
        .create(app)
        .await;
    add(app, token, "package", pkg, 1).await;
}

fn ids(body: &Value) -> (i64, String) {
    (body["order_id"].as_i64().unwrap(), body["razorpay_order_id"].as_str().unwrap().to_string())
}

/// Notices heard on the outbox channel until `quiet` passes without one.
async fn notices(listener: &mut PgListener, quiet: Duration) -> Vec<String> {
    let mut heard = Vec::new();
    while let Ok(notice) = tokio::time::timeout(quiet, listener.recv()).await {
        heard.push(notice.unwrap().payload().to_string());
    }
    heard
}

/// After a checkout or a payment that wrote `written` jobs or more since there were `before`:
/// they leave `pending` (the dispatcher's poll is an hour away in these tests) and the only
/// notice heard is the doorbell's `ring`.
async fn assert_woken(app: &TestApp, listener: &mut PgListener, before: i64, written: i64, what: &str) {
    assert!(jobs_written(app).await >= before + written, "{what}: {written} jobs written");
    let dispatched = app
        .eventually(Duration::from_secs(5), || async {
            let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM job WHERE status = 'pending'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            (pending == 0).then_some(())
        })
        .await;
    assert!(dispatched.is_some(), "{what}: the jobs were dispatched");
    assert_eq!(notices(listener, Duration::from_millis(500)).await, ["ring"], "{what}");
}

/// The jobs of a checkout, of its payment (callback, webhook or the worker's sweep) are written
/// without a notice in their transaction (which would carry the job's queue, as `jobs::enqueue`'s
/// does) and the dispatcher is woken after the commit by the doorbell's `ring`: with the
/// dispatcher's poll an hour away, they still leave `pending` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_and_payments_wake_the_dispatcher_after_their_commit() {
    let fake = FakeRazorpay::start().await;
    let app = TestAppBuilder::new()
        .razorpay(&fake)
        .var("OUTBOX_POLL_MS", "3600000")
        .var("RECONCILE_AFTER_SECONDS", "0")
        .spawn()
        .await;
    let token = buyer(&app, "ringer").await;
    let mut listener = PgListener::connect_with(&app.pool).await.unwrap();
    listener.listen(jobs::NOTIFY_CHANNEL).await.unwrap();
    let quiet = Duration::from_millis(500);
    let place = || async {
        fill_cart(&app, &token).await;
        let res = app.post("/api/orders/create/", &json!({}), Some(&token)).await;
        assert_eq!(res.status(), 201);
        ids(&res.json().await.unwrap())
    };

    // The control: a job written by `jobs::enqueue` notifies in its transaction, with its queue.
    let job = jobs::SendEmail {
        message_key: "control".into(),
        to: "ringer@example.com".into(),
        template: "password_reset".into(),
        context: json!({"reset_url": "http://x/"}),
        attachments: Vec::new(),
    };
    let mut tx = common::db::begin(&app.pool).await.unwrap();
    jobs::enqueue(&mut tx, &job, None).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(notices(&mut listener, quiet).await, ["emails"]);

    // The checkout's "order placed" email, then its payment's invoice and email.
    let before = jobs_written(&app).await;
    let (id, rzp_order) = place().await;
    assert_woken(&app, &mut listener, before, 1, "checkout").await;
    let before = jobs_written(&app).await;
    let payment = fake.capture_payment(&rzp_order, None);
    let res = app
        .post(&format!("/api/orders/{id}/payment-success/"), &callback(&fake, &rzp_order, &payment), Some(&token))
        .await;
    assert_eq!(res.status(), 200);
    assert_woken(&app, &mut listener, before, 2, "payment").await;

    // A payment reported by a webhook.
    let (_, rzp_order) = place().await;
    notices(&mut listener, quiet).await;
    let before = jobs_written(&app).await;
    let event = fake.event("payment.captured", Some(&fake.capture_payment(&rzp_order, None)), None);
    let res = fake.deliver(&app.client, &app.url("/api/orders/razorpay/webhook/"), &event.0, &event.1, &event.2).await;
    assert_eq!(res.status(), 200);
    assert_woken(&app, &mut listener, before, 2, "webhook").await;

    // A payment nobody reported, found by the payment sweep (the worker's).
    let (_, rzp_order) = place().await;
    notices(&mut listener, quiet).await;
    let before = jobs_written(&app).await;
    fake.capture_payment(&rzp_order, None);
    let rzp = common::razorpay::Razorpay::from_config(&app.cfg).unwrap().unwrap();
    let inv = common::orders::invoices::InvoiceSettings::of(&app.cfg);
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    let report = common::orders::reconcile::sweep(&app.pool, &rzp, Duration::ZERO, &inv, later).await.unwrap();
    assert_eq!(report.paid, 1, "{report:?}");
    assert_woken(&app, &mut listener, before, 2, "sweep").await;
}
